import type { Figure } from './run.ts';

/** Further benchmark suites; each prints its own figures. HARDWAY_BENCH=id,id selects some. */
export const suites: { id: string; run: () => Promise<Figure[]> }[] = [];
