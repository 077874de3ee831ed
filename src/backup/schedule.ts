// When snapshots are due and whether backups are healthy. Pure: the clock comes in.
import { CronExpressionParser } from 'cron-parser';

/** Throws with the parser's message when the expression is not five valid cron fields. */
export function checkSchedule(schedule: string): void {
  if (schedule.trim().split(/\s+/).length !== 5) throw new Error(`"${schedule}" is not five cron fields (minute hour day-of-month month day-of-week)`);
  CronExpressionParser.parse(schedule, { tz: 'UTC' });
}

/** The first scheduled time strictly after `after`. */
export function nextRun(schedule: string, after: Date): Date {
  return CronExpressionParser.parse(schedule, { currentDate: after, tz: 'UTC' }).next().toDate();
}

/** The schedule's interval around `at` (the gap between the two runs that follow it). */
export function interval(schedule: string, at: Date): number {
  const it = CronExpressionParser.parse(schedule, { currentDate: at, tz: 'UTC' });
  const a = it.next().getTime();
  return it.next().getTime() - a;
}

export interface DueInput {
  schedule: string;
  now: Date;
  /** When the last attempt (good or failed) ended; undefined: never. */
  lastAttempt?: Date;
  /** When the newest good snapshot was taken. */
  lastSnapshot?: Date;
  /** The snapshot-request annotation and the value last acted upon. */
  request?: string;
  handledRequest?: string;
  /** Wait after a failed attempt before the next. */
  retryMs: number;
  lastFailed: boolean;
}

/** Whether to take a snapshot now, and why (for the log and the event). */
export function snapshotDue(p: DueInput): { due: true; why: string } | { due: false; next: Date } {
  if (p.request && p.request !== p.handledRequest) return { due: true, why: `requested (${p.request})` };
  if (p.lastFailed && p.lastAttempt && p.now.getTime() - p.lastAttempt.getTime() < p.retryMs) return { due: false, next: new Date(p.lastAttempt.getTime() + p.retryMs) };
  if (p.lastFailed && p.lastAttempt) return { due: true, why: 'the last attempt failed' };
  if (!p.lastSnapshot) return { due: true, why: 'no snapshot yet' };
  const next = nextRun(p.schedule, p.lastSnapshot);
  return p.now >= next ? { due: true, why: `scheduled (${next.toISOString()})` } : { due: false, next };
}

/** Healthy while the newest snapshot is younger than twice the schedule's interval and the last attempt succeeded. */
export function backupHealth(p: { schedule: string; now: Date; lastSnapshot?: Date; lastFailed: boolean; failure?: string }): { healthy: boolean; reason: 'SnapshotTaken' | 'SnapshotFailed' | 'SnapshotOutdated' | 'NoSnapshotYet'; message: string } {
  if (p.lastFailed) return { healthy: false, reason: 'SnapshotFailed', message: `the last snapshot failed: ${p.failure ?? 'unknown error'}` };
  if (!p.lastSnapshot) return { healthy: false, reason: 'NoSnapshotYet', message: 'no snapshot has been taken yet' };
  const limit = 2 * interval(p.schedule, p.lastSnapshot);
  const age = p.now.getTime() - p.lastSnapshot.getTime();
  if (age > limit) return { healthy: false, reason: 'SnapshotOutdated', message: `the newest snapshot is ${Math.round(age / 60_000)} min old, more than twice the schedule's interval (${Math.round(limit / 60_000)} min)` };
  return { healthy: true, reason: 'SnapshotTaken', message: '' };
}

/** "168h", "30d", "90m" in milliseconds. */
export function parseAge(s: string): number {
  const m = /^(\d+)(m|h|d)$/.exec(s);
  if (!m) throw new Error(`"${s}" is not a duration such as 168h or 30d`);
  return Number(m[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'm' | 'h' | 'd'];
}
