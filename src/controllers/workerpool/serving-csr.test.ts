import { test } from 'node:test';
import assert from 'node:assert/strict';
import { opensslCsr } from '../../../test/helpers/csr.ts';
import { parseCsr } from '../../pki/csr.ts';
import { servingVerdict, KUBELET_SERVING_SIGNER, type ServingRequest } from './serving-csr.ts';

const csr = opensslCsr;

const machine = { name: 'demo-general-worker-abcde', addresses: ['10.10.0.5', '203.0.113.5'] };
const user = `system:node:${machine.name}`;
const good = csr(`/O=system:nodes/CN=${user}`, `DNS:${machine.name},IP:10.10.0.5,IP:203.0.113.5`);
const base: ServingRequest = { name: 'csr-1', signerName: KUBELET_SERVING_SIGNER, username: user, groups: ['system:nodes', 'system:authenticated'], usages: ['digital signature', 'key encipherment', 'server auth'], request: good };

test('the CSR reader finds subject and names in a kubelet-style ECDSA request', () => {
  assert.deepEqual(parseCsr(good), { commonName: user, organizations: ['system:nodes'], dnsNames: [machine.name], ipAddresses: ['10.10.0.5', '203.0.113.5'], otherNames: 0 });
  assert.throws(() => parseCsr('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'), /not a PEM certificate request/);
});

test('serving certificates: approved only for a node of the pool asking for its own name and addresses', () => {
  const cases: [string, Partial<ServingRequest>, typeof machine | undefined, RegExp | true][] = [
    ['its own name and addresses', {}, machine, true],
    ['a subset of them', { request: csr(`/O=system:nodes/CN=${user}`, 'IP:10.10.0.5') }, machine, true],
    ['another node’s name', { request: csr(`/O=system:nodes/CN=${user}`, `DNS:demo-cp-xxxxx,IP:10.10.0.5`) }, machine, /names not of .*: demo-cp-xxxxx/],
    ['another node’s address', { request: csr(`/O=system:nodes/CN=${user}`, `DNS:${machine.name},IP:10.10.0.9`) }, machine, /10\.10\.0\.9/],
    ['an email name', { request: csr(`/O=system:nodes/CN=${user}`, `DNS:${machine.name},email:a@b.c`) }, machine, /other than DNS/],
    ['no name at all', { request: csr(`/O=system:nodes/CN=${user}`) }, machine, /no name/],
    ['a subject for another node', { request: csr(`/O=system:nodes/CN=system:node:other`, `DNS:${machine.name}`) }, machine, /subject CN=system:node:other/],
    ['a request made by someone else', { username: 'system:node:other' }, machine, /requested by system:node:other/],
    ['a user outside system:nodes', { groups: ['system:authenticated'] }, machine, /requested by/],
    ['a machine not in the pool', {}, undefined, /not a node of this pool/],
    ['another signer', { signerName: 'kubernetes.io/kube-apiserver-client-kubelet' }, machine, /signer/],
    ['client auth usage', { usages: ['digital signature', 'client auth', 'server auth'] }, machine, /usages/],
    ['garbage', { request: 'nope' }, machine, /unreadable/],
  ];
  for (const [what, change, m, want] of cases) {
    const v = servingVerdict({ ...base, ...change }, m);
    if (want === true) assert.deepEqual(v, { approve: true }, what);
    else assert.ok(!v.approve && want.test(v.why), `${what}: ${JSON.stringify(v)}`);
  }
});
