import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mapLimit } from './limit.ts';

test('mapLimit keeps order and never exceeds the limit', async () => {
  let inFlight = 0;
  let most = 0;
  const out = await mapLimit([5, 1, 4, 2, 3, 0, 6], 3, async (x) => {
    most = Math.max(most, ++inFlight);
    await new Promise<void>((r) => queueMicrotask(r));
    inFlight--;
    return x * 2;
  });
  assert.deepEqual(out, [10, 2, 8, 4, 6, 0, 12]);
  assert.equal(most, 3);
  assert.deepEqual(await mapLimit([], 3, async (x) => x), []);
});
