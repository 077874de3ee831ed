import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { BUILT_IN_CLUSTER_ROLES, renderAddons, DEFAULT_COREDNS_VERSION } from './addons.ts';
import { RELEASES } from './manifest.ts';
import { manifestPath } from '../workload/adapter.ts';
import type { Manifest } from '../workload/port.ts';
import { repoRoot } from '../../test/helpers/samples.ts';

const base = { clusterDNS: '10.32.0.10', clusterDomain: 'cluster.local', podCIDR: '10.200.0.0/16' };
const find = (ms: Manifest[], kind: string, name: string) => ms.find((m) => m.kind === kind && m.metadata.name === name) as any;

test('golden: addons (UPDATE_GOLDEN=1 rewrites)', () => {
  const file = path.join(repoRoot, 'test/golden/addons/addons.yaml');
  const got = renderAddons({ ...base, coreDNSVersion: '1.12.1' })
    .map((m) => stringify(m, { lineWidth: 0 }))
    .join('---\n');
  if (process.env.UPDATE_GOLDEN || !existsSync(file)) {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, got);
  }
  assert.equal(got, readFileSync(file, 'utf8'));
});

test('cluster DNS IP, domain and CoreDNS version land where kubelets and pods look for them', () => {
  const table = [
    { clusterDNS: '10.32.0.10', clusterDomain: 'cluster.local', coreDNSVersion: undefined, image: `v${DEFAULT_COREDNS_VERSION}` },
    { clusterDNS: '172.20.0.10', clusterDomain: 'corp.internal', coreDNSVersion: 'v1.13.1', image: 'v1.13.1' },
    { clusterDNS: '10.96.0.10', clusterDomain: 'k8s.example', coreDNSVersion: '1.11.3', image: 'v1.11.3' },
  ];
  for (const row of table) {
    const ms = renderAddons({ ...base, ...row });
    const svc = find(ms, 'Service', 'kube-dns');
    assert.equal(svc.spec.clusterIP, row.clusterDNS);
    assert.deepEqual(svc.spec.ports.map((p: any) => `${p.port}/${p.protocol}`), ['53/UDP', '53/TCP', '9153/TCP']);
    const corefile = find(ms, 'ConfigMap', 'coredns').data.Corefile as string;
    assert.match(corefile, new RegExp(`^\\s+kubernetes ${row.clusterDomain.replace('.', '\\.')} in-addr\\.arpa ip6\\.arpa \\{$`, 'm'));
    const pod = find(ms, 'Deployment', 'coredns').spec.template.spec;
    assert.equal(pod.containers[0].image, `registry.k8s.io/coredns/coredns:${row.image}`);
    assert.ok(pod.tolerations.some((t: any) => t.key === 'node-role.kubernetes.io/control-plane' && t.effect === 'NoSchedule'));
    assert.equal(find(ms, 'Deployment', 'coredns').spec.replicas, 2);
  }
});

test('RBAC: the apiserver kubelet client reaches kubelets; nodes (flanneld) may read nodes and patch their status', () => {
  const ms = renderAddons(base);
  const binding = find(ms, 'ClusterRoleBinding', 'system:kube-apiserver');
  assert.deepEqual(binding.subjects, [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'kube-apiserver-kubelet-client' }]);
  assert.deepEqual(find(ms, 'ClusterRole', binding.roleRef.name).rules[0].resources, ['nodes/proxy', 'nodes/stats', 'nodes/log', 'nodes/spec', 'nodes/metrics']);
  const flannel = find(ms, 'ClusterRoleBinding', 'flannel');
  assert.deepEqual(flannel.subjects, [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'system:nodes' }]);
  assert.deepEqual(find(ms, 'ClusterRole', 'flannel').rules.map((r: any) => `${r.resources}:${r.verbs}`), ['pods:get', 'nodes:get,list,watch', 'nodes/status:patch']);
});

test('every addon is a kind the workload adapter can apply, each binding refers to a rendered role, names are unique', () => {
  const ms = renderAddons(base);
  for (const m of ms) assert.doesNotThrow(() => manifestPath(m), `${m.kind} ${m.metadata.name}`);
  for (const b of ms.filter((m) => m.kind === 'ClusterRoleBinding')) assert.ok(find(ms, 'ClusterRole', (b as any).roleRef.name) || BUILT_IN_CLUSTER_ROLES.includes((b as any).roleRef.name), b.metadata.name);
  const ids = ms.map((m) => `${m.kind}/${m.metadata.namespace ?? ''}/${m.metadata.name}`);
  assert.equal(new Set(ids).size, ids.length);
  // Each supported minor's pinned CoreDNS renders as an image tag.
  for (const r of Object.values(RELEASES)) {
    assert.match(find(renderAddons({ ...base, coreDNSVersion: r.coredns }), 'Deployment', 'coredns').spec.template.spec.containers[0].image, /:v\d+\.\d+\.\d+$/);
  }
});
