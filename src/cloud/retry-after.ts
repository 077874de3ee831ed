// The Retry-After header (RFC 9110 §10.2.3): `delay-seconds` or an `HTTP-date`. Both forms are allowed
// to any server, so a client that only does `Number(value)` turns a date into NaN (and a 2 ms requeue).

const DAYS = 'Mon|Tue|Wed|Thu|Fri|Sat|Sun';
const LONG_DAYS = 'Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday';
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const MON = MONTHS.join('|');
// The three HTTP-date forms a recipient must accept (RFC 9110 §5.6.7); all are GMT and case-sensitive.
const IMF_FIXDATE = new RegExp(`^(?:${DAYS}), (\\d{2}) (${MON}) (\\d{4}) (\\d{2}):(\\d{2}):(\\d{2}) GMT$`);
const RFC850 = new RegExp(`^(?:${LONG_DAYS}), (\\d{2})-(${MON})-(\\d{2}) (\\d{2}):(\\d{2}):(\\d{2}) GMT$`);
const ASCTIME = new RegExp(`^(?:${DAYS}) (${MON}) ([ \\d]\\d) (\\d{2}):(\\d{2}):(\\d{2}) (\\d{4})$`);

function utc(year: number, month: string, day: number, h: number, m: number, s: number): number | undefined {
  const mon = MONTHS.indexOf(month);
  // 23:59:60 is a leap second (RFC 9110 §5.6.7); an impossible day (31 Feb) is not a date.
  if (h > 23 || m > 59 || s > 60 || day < 1) return undefined;
  const ms = Date.UTC(year, mon, day, h, m, s);
  return new Date(Date.UTC(year, mon, day)).getUTCDate() === day ? ms : undefined;
}

function parseHttpDate(v: string, nowMs: number): number | undefined {
  let m = IMF_FIXDATE.exec(v);
  if (m) return utc(Number(m[3]), m[2]!, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]));
  if ((m = RFC850.exec(v))) {
    // A two-digit year more than 50 years ahead is the latest past year with those digits (RFC 9110 §5.6.7).
    const nowYear = new Date(nowMs).getUTCFullYear();
    let year = nowYear - (nowYear % 100) + Number(m[3]);
    if (year > nowYear + 50) year -= 100;
    return utc(year, m[2]!, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]));
  }
  if ((m = ASCTIME.exec(v))) return utc(Number(m[6]), m[1]!, Number(m[2]!.trim()), Number(m[3]), Number(m[4]), Number(m[5]));
  return undefined;
}

/**
 * Seconds to wait from a Retry-After value received at `nowMs`, rounded up; 0 for a date already past;
 * undefined when absent or unreadable. Beyond the RFC's `1*DIGIT`, a signed or fractional number is read
 * too (negative → 0, fraction → rounded up): waiting about as long as asked beats ignoring the answer.
 */
export function parseRetryAfter(value: string | null | undefined, nowMs: number): number | undefined {
  const v = value?.trim();
  if (!v) return undefined;
  if (/^[+-]?\d+(?:\.\d+)?$/.test(v)) return Math.max(0, Math.ceil(Number(v)));
  const at = parseHttpDate(v, nowMs);
  return at === undefined ? undefined : Math.max(0, Math.ceil((at - nowMs) / 1000));
}
