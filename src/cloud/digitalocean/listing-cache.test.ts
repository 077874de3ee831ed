import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ListingCache } from './listing-cache.ts';
import type { Result } from '../ports.ts';

type Item = { id: string; v: number };
const rateLimit: Result<Item[]>['rateLimit'] = { provider: 'digitalocean' };

/** A listing whose answers the test releases one at a time, so overlaps are exact rather than timed. */
function harness(ttlMs = 1_000) {
  let clock = 1_000_000;
  let world: Item[] = [{ id: 'a', v: 1 }];
  const pending: Array<{ resolve: (r: Result<Item[]>) => void; reject: (e: Error) => void; seen: Item[] }> = [];
  const cache = new ListingCache<Item>(
    () =>
      new Promise((resolve, reject) => {
        pending.push({ resolve, reject, seen: world.map((x) => ({ ...x })) });
      }),
    { ttlMs, now: () => clock },
  );
  return {
    cache,
    calls: () => pending.length,
    answer: (i = pending.length - 1) => pending[i]!.resolve({ data: pending[i]!.seen, rateLimit }),
    fail: (i = pending.length - 1) => pending[i]!.reject(new Error('503 from the provider')),
    setWorld: (w: Item[]) => (world = w),
    advance: (ms: number) => (clock += ms),
  };
}

test('callers arriving while a listing is in flight share it; within ttlMs no second call, after it one', async () => {
  const h = harness();
  const [x, y] = [h.cache.all(), h.cache.all()];
  assert.equal(h.calls(), 1);
  h.answer();
  assert.deepEqual(await x, [{ id: 'a', v: 1 }]);
  assert.equal(await y, await x);
  h.advance(999);
  await h.cache.all();
  assert.equal(h.calls(), 1, 'kept for ttlMs');
  // A caller may ask for a younger listing than the cache keeps, never an older one.
  const fresh = h.cache.all(500);
  assert.equal(h.calls(), 2);
  h.setWorld([{ id: 'a', v: 2 }]);
  h.answer();
  assert.deepEqual(await fresh, [{ id: 'a', v: 1 }], 'the answer is what the provider held when it was asked');
  h.advance(1_000);
  const later = h.cache.all(60_000);
  assert.equal(h.calls(), 3, 'a longer maxAgeMs does not stretch ttlMs');
  h.answer();
  assert.deepEqual(await later, [{ id: 'a', v: 2 }]);
});

test('this process\'s writes show at once in the kept copy (put replaces by id, remove drops); invalidate lists again', async () => {
  const h = harness();
  const first = h.cache.all();
  h.answer();
  await first;
  h.cache.put({ id: 'b', v: 1 });
  h.cache.put({ id: 'a', v: 9 });
  assert.deepEqual(await h.cache.all(), [{ id: 'b', v: 1 }, { id: 'a', v: 9 }]);
  h.cache.remove('b');
  assert.deepEqual(await h.cache.all(), [{ id: 'a', v: 9 }]);
  assert.equal(h.calls(), 1, 'no call for what this process wrote itself');
  h.cache.invalidate();
  const again = h.cache.all();
  assert.equal(h.calls(), 2, 'a write with no answer is not guessed at: the next caller lists');
  h.answer();
  assert.deepEqual(await again, [{ id: 'a', v: 1 }]);
});

test('a listing that overlapped a write is served to its callers but not kept; the next caller lists again', async () => {
  const h = harness();
  const stale = h.cache.all();
  // Listed before the create below reached the provider: keeping it would hide 'b' for ttlMs and make it twice.
  h.setWorld([{ id: 'a', v: 1 }, { id: 'b', v: 1 }]);
  h.cache.put({ id: 'b', v: 1 });
  const after = h.cache.all();
  assert.equal(h.calls(), 2, 'a caller after the write does not join the listing that started before it');
  // The older listing answers last: kept, it would replace the newer one.
  h.answer(1);
  assert.deepEqual(await after, [{ id: 'a', v: 1 }, { id: 'b', v: 1 }]);
  h.answer(0);
  assert.deepEqual(await stale, [{ id: 'a', v: 1 }]);
  assert.deepEqual(await h.cache.all(), [{ id: 'a', v: 1 }, { id: 'b', v: 1 }]);
  assert.equal(h.calls(), 2, 'the listing after the write is kept');
});

test('a failed listing reaches every caller sharing it and is not kept; the next caller lists again', async () => {
  const h = harness();
  const [x, y] = [h.cache.all(), h.cache.all()];
  h.fail();
  await assert.rejects(x, /503/);
  await assert.rejects(y, /503/);
  const next = h.cache.all();
  assert.equal(h.calls(), 2);
  h.answer();
  assert.deepEqual(await next, [{ id: 'a', v: 1 }]);
});
