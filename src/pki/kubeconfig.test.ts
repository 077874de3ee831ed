import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { renderKubeconfig } from './kubeconfig.ts';

test('node kubeconfigs reference files; the admin kubeconfig embeds its data', () => {
  const files = parse(
    renderKubeconfig({ cluster: 'demo', user: 'system:kube-proxy', server: 'https://api.demo.example.com:6443', credentials: { kind: 'files', caFile: '/p/ca.crt', certFile: '/p/kp.crt', keyFile: '/p/kp.key' } }),
  );
  assert.deepEqual(files.clusters[0].cluster, { server: 'https://api.demo.example.com:6443', 'certificate-authority': '/p/ca.crt' });
  assert.deepEqual(files.users[0].user, { 'client-certificate': '/p/kp.crt', 'client-key': '/p/kp.key' });
  assert.equal(files['current-context'], 'system:kube-proxy@demo');

  const embedded = parse(renderKubeconfig({ cluster: 'demo', user: 'admin', server: 'https://x:6443', credentials: { kind: 'embedded', caPem: 'CA', certPem: 'CERT', keyPem: 'KEY' } }));
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  assert.equal(embedded.clusters[0].cluster['certificate-authority-data'], b64('CA'));
  assert.deepEqual(embedded.users[0].user, { 'client-certificate-data': b64('CERT'), 'client-key-data': b64('KEY') });
  assert.equal(embedded.contexts[0].context.cluster, 'demo');
});
