// `npm run bench`: prints figures for the project's speed and memory goals. Not a test: nothing here fails
// on a slow machine; the numbers go into closing notes and docs.
import { validateObject } from '../../src/api/v1alpha1/index.ts';
import { loadSamples } from '../helpers/samples.ts';

export interface Figure {
  name: string;
  value: number;
  unit: string;
}

function rate(name: string, iterations: number, fn: () => void): Figure {
  for (let i = 0; i < Math.min(1000, iterations); i++) fn(); // warm up the JIT
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) fn();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { name, value: Math.round(iterations / seconds), unit: 'per second' };
}

const samples = loadSamples().filter((s) => s.object.apiVersion === 'hardway.dev/v1alpha1');
const figures: Figure[] = [
  rate('validate one sample object (defaults + schema + rules)', 20_000, () => {
    for (const s of samples) validateObject(s.object);
  }),
];
figures[0]!.value *= samples.length;

const benches = (process.env.HARDWAY_BENCH ?? '').split(',').filter(Boolean);
for (const extra of await import('./suites.ts').then((m) => m.suites)) {
  if (benches.length && !benches.includes(extra.id)) continue;
  figures.push(...(await extra.run()));
}

const width = Math.max(...figures.map((f) => f.name.length));
for (const f of figures) console.log(`${f.name.padEnd(width)}  ${f.value.toLocaleString('en-US')} ${f.unit}`);
