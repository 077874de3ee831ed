import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCidr, overlaps, hasHostBits, canonicalCidr, nthAddress, type Cidr } from './cidr.ts';

const ok = (t: string) => {
  const c = parseCidr(t);
  assert.equal(typeof c, 'object', `${t}: ${String(c)}`);
  return c as Cidr;
};

test('parseCidr accepts and refuses', () => {
  const table: [string, string | null][] = [
    ['10.0.0.0/8', null],
    ['0.0.0.0/0', null],
    ['255.255.255.255/32', null],
    ['::/0', null],
    ['2001:db8::/32', null],
    ['::ffff:10.0.0.0/104', null],
    ['fe80::1:2:3:4:5/64', null],
    ['10.0.0.0', 'needs a prefix length'],
    ['10.0.0/8', 'invalid IPv4 address'],
    ['10.0.0.256/8', 'invalid IPv4 address'],
    ['010.0.0.0/8', 'invalid IPv4 address'],
    ['10.0.0.0/33', 'invalid prefix length'],
    ['10.0.0.0/08', 'invalid prefix length'],
    ['10.0.0.0/', 'invalid prefix length'],
    ['2001:db8::/129', 'invalid prefix length'],
    ['2001:db8:::/32', 'invalid IPv6 address'],
    ['1:2:3:4:5:6:7:8:9/64', 'invalid IPv6 address'],
    ['1::2::3/64', 'invalid IPv6 address'],
    ['gggg::/16', 'invalid IPv6 address'],
  ];
  for (const [text, error] of table) {
    const c = parseCidr(text);
    if (error === null) assert.equal(typeof c, 'object', `${text} should parse: ${String(c)}`);
    else assert.match(String(c), new RegExp(error), text);
  }
});

test('overlaps', () => {
  const table: [string, string, boolean][] = [
    ['10.200.0.0/16', '10.32.0.0/24', false],
    ['10.200.0.0/16', '10.200.16.0/24', true],
    ['10.0.0.0/8', '10.200.0.0/16', true],
    ['10.200.0.0/16', '10.201.0.0/16', false],
    ['0.0.0.0/0', '192.168.0.0/16', true],
    ['10.0.0.0/8', '::/0', false],
    ['2001:db8::/32', '2001:db8:1::/48', true],
  ];
  for (const [a, b, want] of table) {
    assert.equal(overlaps(ok(a), ok(b)), want, `${a} vs ${b}`);
    assert.equal(overlaps(ok(b), ok(a)), want, `${b} vs ${a}`);
  }
});

test('host bits and canonical form', () => {
  assert.equal(hasHostBits(ok('10.0.0.5/16')), true);
  assert.equal(canonicalCidr(ok('10.0.0.5/16')), '10.0.0.0/16');
  assert.equal(hasHostBits(ok('10.0.0.0/16')), false);
  assert.equal(hasHostBits(ok('2001:db8::1/32')), true);
  assert.equal(canonicalCidr(ok('2001:db8::1/32')), '2001:db8::/32');
});

test('nthAddress gives the kubernetes service and cluster DNS addresses', () => {
  assert.equal(nthAddress(ok('10.32.0.0/24'), 1), '10.32.0.1');
  assert.equal(nthAddress(ok('10.32.0.0/24'), 10), '10.32.0.10');
  assert.throws(() => nthAddress(ok('10.32.0.0/30'), 10), RangeError);
});
