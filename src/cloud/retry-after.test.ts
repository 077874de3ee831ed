// parseRetryAfter: both forms of RFC 9110 §10.2.3 (delay-seconds, HTTP-date in its three §5.6.7 spellings).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRetryAfter } from './retry-after.ts';

// 1994-11-06T08:49:37Z, the RFC's own example instant.
const NOW = Date.UTC(1994, 10, 6, 8, 49, 37);

const cases: [string, string | null | undefined, number | undefined][] = [
  ['delay-seconds', '120', 120],
  ['zero', '0', 0],
  ['surrounding whitespace', ' 5 ', 5],
  ['fraction rounds up (not RFC grammar, read anyway)', '1.2', 2],
  ['negative number is no wait', '-5', 0],
  ['IMF-fixdate 60 s ahead', 'Sun, 06 Nov 1994 08:50:37 GMT', 60],
  ['IMF-fixdate, now', 'Sun, 06 Nov 1994 08:49:37 GMT', 0],
  ['IMF-fixdate in the past is no wait', 'Sun, 06 Nov 1994 08:00:00 GMT', 0],
  ['IMF-fixdate a day ahead', 'Mon, 07 Nov 1994 08:49:37 GMT', 86_400],
  ['obsolete RFC 850 date', 'Sunday, 06-Nov-94 08:49:47 GMT', 10],
  ['obsolete asctime date', 'Sun Nov  6 08:49:57 1994', 20],
  ['leap second', 'Sun, 06 Nov 1994 23:59:60 GMT', 54_623],
  ['absent', undefined, undefined],
  ['null', null, undefined],
  ['empty', '', undefined],
  ['garbage', 'soon', undefined],
  ['number with unit', '10s', undefined],
  ['date without GMT', 'Sun, 06 Nov 1994 08:50:37', undefined],
  ['lower-case date (HTTP-date is case-sensitive)', 'sun, 06 nov 1994 08:50:37 gmt', undefined],
  ['impossible day', 'Wed, 31 Feb 1994 08:50:37 GMT', undefined],
  ['impossible hour', 'Sun, 06 Nov 1994 24:00:00 GMT', undefined],
  ['ISO 8601 is not an HTTP-date', '1994-11-06T08:50:37Z', undefined],
];

for (const [name, value, want] of cases) {
  test(`retry-after: ${name}`, () => assert.equal(parseRetryAfter(value, NOW), want));
}

test('retry-after: a milliseconds-late clock still rounds a date up to whole seconds', () => {
  assert.equal(parseRetryAfter('Sun, 06 Nov 1994 08:50:37 GMT', NOW + 1), 60);
  assert.equal(parseRetryAfter('Sun, 06 Nov 1994 08:50:37 GMT', NOW + 999), 60);
  assert.equal(parseRetryAfter('Sun, 06 Nov 1994 08:50:37 GMT', NOW + 1000), 59);
});

test('retry-after: an RFC 850 two-digit year more than 50 years ahead means the past century', () => {
  const in2030 = Date.UTC(2030, 0, 1);
  assert.equal(parseRetryAfter('Thursday, 01-Jan-81 00:00:00 GMT', in2030), 0, '1981, not 2081');
  assert.equal(parseRetryAfter('Monday, 01-Jan-80 00:00:00 GMT', in2030), Date.UTC(2080, 0, 1) / 1000 - in2030 / 1000, 'exactly 50 years ahead stays ahead');
  assert.equal(parseRetryAfter('Wednesday, 01-Jan-31 00:00:10 GMT', Date.UTC(2031, 0, 1)), 10, '2031');
});
