// The Helm chart rendered by Go's text/template + sprig (test/env/helm-render): what it installs, the
// restricted security context, least-privilege RBAC identical to config/rbac, values checked by
// values.schema.json, and flags the operator really accepts. Applying it to a real API server and starting
// the operator from it: test/integration/install.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { Ajv } from 'ajv';
import { renderChart, renderChartError, renderNotes, mergedValues, find, chartDir, type Manifest } from '../helpers/chart.ts';
import { repoRoot } from '../helpers/samples.ts';
import { parseConfig } from '../../src/runtime/config.ts';
import { leaseName } from '../../src/operator.ts';
import { renderCrds } from '../../src/api/render.ts';

type Container = {
  name: string;
  image: string;
  args: string[];
  env: { name: string; value?: string; valueFrom?: unknown }[];
  livenessProbe: { httpGet: { path: string; port: string }; periodSeconds: number };
  readinessProbe: { httpGet: { path: string; port: string }; periodSeconds: number };
  resources: { requests: Record<string, string>; limits: Record<string, string> };
  securityContext: Record<string, unknown>;
};
type PodSpec = { serviceAccountName: string; securityContext: Record<string, unknown>; containers: Container[] };
const podSpec = (d: Manifest) => (d.spec as { template: { spec: PodSpec } }).template.spec;
type Rule = { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] };

const yamlDocs = (file: string) => parseAllDocuments(readFileSync(path.join(repoRoot, file), 'utf8')).map((d) => d.toJS() as Manifest);

test('the default render: CRDs (verbatim from crds/), ServiceAccount, RBAC, metrics Service, Deployment; nothing else', async () => {
  const { docs, text } = await renderChart();
  assert.deepEqual(
    docs.map((d) => `${d.kind}/${d.metadata.name}`),
    [
      'CustomResourceDefinition/controlplanes.hardway.dev',
      'CustomResourceDefinition/etcdclusters.hardway.dev',
      'CustomResourceDefinition/workerpools.hardway.dev',
      'ServiceAccount/hardway-hardway-operator',
      'ClusterRole/hardway-hardway-operator',
      'ClusterRoleBinding/hardway-hardway-operator',
      'Role/hardway-hardway-operator-leader-election',
      'RoleBinding/hardway-hardway-operator-leader-election',
      'Service/hardway-hardway-operator-metrics',
      'Deployment/hardway-hardway-operator',
    ],
  );
  for (const { file, text: crd } of renderCrds()) assert.ok(text.includes(`# Source: hardway-operator/crds/${file}\n${crd}`), `${file} is in the output verbatim`);
  for (const d of docs.filter((x) => x.kind !== 'CustomResourceDefinition' && !x.kind.startsWith('Cluster'))) assert.equal(d.metadata.namespace, 'hardway-system', `${d.kind} in the release namespace`);
});

test('Deployment: restricted security context, probes on /healthz and /readyz, resources, flags the operator accepts', async () => {
  const { docs } = await renderChart({ set: { logLevel: 'debug', logFormat: 'text', 'probes.readiness.periodSeconds': 7 } });
  const pod = podSpec(find(docs, 'Deployment'));
  assert.equal(pod.serviceAccountName, 'hardway-hardway-operator');
  assert.equal(pod.securityContext.runAsNonRoot, true);
  assert.deepEqual(pod.securityContext.seccompProfile, { type: 'RuntimeDefault' });
  const [c] = pod.containers;
  assert.equal(pod.containers.length, 1);
  assert.equal(c!.image, `ghcr.io/hardway-dev/hardway-operator:${JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')).version}`);
  assert.deepEqual(c!.securityContext, { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } });
  assert.equal(c!.livenessProbe.httpGet.path, '/healthz');
  assert.equal(c!.readinessProbe.httpGet.path, '/readyz');
  assert.equal(c!.readinessProbe.periodSeconds, 7);
  assert.ok(c!.resources.requests.cpu && c!.resources.requests.memory && c!.resources.limits.memory);
  // Every argument is a flag the operator knows (parseConfig throws on unknown flags and bad values).
  const cfg = parseConfig(c!.args, { POD_NAMESPACE: 'hardway-system' });
  assert.equal(cfg.logLevel, 'debug');
  assert.equal(cfg.logFormat, 'text');
  assert.equal(cfg.leaderElect, true);
  assert.equal(cfg.namespace, '');
  assert.equal(cfg.leaderElectionNamespace, 'hardway-system');
  assert.equal(cfg.metricsPort, 8080);
  assert.ok(c!.env.some((e) => e.name === 'POD_NAMESPACE' && e.valueFrom));
});

test('RBAC: least privilege, no wildcards, and the same rules as config/rbac', async () => {
  const { docs } = await renderChart();
  const rules = (find(docs, 'ClusterRole') as unknown as { rules: Rule[] }).rules;
  const allowed: Record<string, string[]> = {
    'hardway.dev/etcdclusters': ['get', 'list', 'watch', 'patch'],
    'hardway.dev/controlplanes': ['get', 'list', 'watch', 'patch'],
    'hardway.dev/workerpools': ['get', 'list', 'watch', 'patch'],
    'hardway.dev/etcdclusters/status': ['patch'],
    'hardway.dev/controlplanes/status': ['patch'],
    'hardway.dev/workerpools/status': ['patch'],
    'hardway.dev/etcdclusters/finalizers': ['update'],
    'hardway.dev/controlplanes/finalizers': ['update'],
    'hardway.dev/workerpools/finalizers': ['update'],
    '/secrets': ['get', 'list', 'create', 'update', 'delete'],
    '/events': ['create', 'patch'],
  };
  const granted: Record<string, string[]> = {};
  for (const r of rules) for (const g of r.apiGroups) for (const res of r.resources) granted[`${g}/${res}`] = [...(granted[`${g}/${res}`] ?? []), ...r.verbs];
  assert.deepEqual(granted, allowed);
  assert.ok(!JSON.stringify(docs.filter((d) => d.kind.includes('Role'))).includes('"*"'), 'no wildcard');
  const lease = (find(docs, 'Role') as unknown as { rules: Rule[] }).rules;
  assert.deepEqual(lease, [
    { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
    { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: ['hardway-operator'], verbs: ['get', 'update'] },
  ]);
  const kustomizeRules = (yamlDocs('config/rbac/role.yaml')[0] as unknown as { rules: Rule[] }).rules;
  assert.deepEqual(kustomizeRules, rules, 'config/rbac/role.yaml and the chart grant the same');
  const kustomizeLease = (yamlDocs('config/rbac/leader_election_role.yaml')[0] as unknown as { rules: Rule[] }).rules;
  assert.deepEqual(kustomizeLease, lease);
});

test('watchNamespace: a Role in that namespace instead of a ClusterRole, and --namespace', async () => {
  const { docs } = await renderChart({ set: { watchNamespace: 'team-a' } });
  assert.ok(!docs.some((d) => d.kind === 'ClusterRole' || d.kind === 'ClusterRoleBinding'));
  const role = docs.find((d) => d.kind === 'Role' && d.metadata.namespace === 'team-a');
  assert.ok(role, 'a Role in team-a');
  const binding = docs.find((d) => d.kind === 'RoleBinding' && d.metadata.namespace === 'team-a') as unknown as { subjects: { name: string; namespace: string }[] };
  assert.deepEqual(binding.subjects[0], { kind: 'ServiceAccount', name: 'hardway-hardway-operator', namespace: 'hardway-system' });
  assert.equal(parseConfig(podSpec(find(docs, 'Deployment')).containers[0]!.args, {}).namespace, 'team-a');
});

test('shard: --shard, and the Lease it elects in is the one RBAC lets it renew', async () => {
  const { docs } = await renderChart({ set: { shard: 'blue' } });
  const cfg = parseConfig(podSpec(find(docs, 'Deployment')).containers[0]!.args, {});
  assert.equal(cfg.shard, 'blue');
  const role = docs.find((d) => d.kind === 'Role' && d.metadata.name.endsWith('-leader-election')) as unknown as { rules: { resourceNames?: string[] }[] };
  assert.deepEqual(role.rules.flatMap((r) => r.resourceNames ?? []), [leaseName(cfg)]);
  assert.equal(leaseName(cfg), 'hardway-operator-blue');
});

test('options: ServiceMonitor, no leader election, no Service, an existing ServiceAccount', async () => {
  const monitor = find((await renderChart({ set: { 'metrics.serviceMonitor.enabled': true } })).docs, 'ServiceMonitor');
  assert.equal(monitor.apiVersion, 'monitoring.coreos.com/v1');
  const single = (await renderChart({ set: { 'leaderElection.enabled': false } })).docs;
  assert.ok(!single.some((d) => d.metadata.name.endsWith('-leader-election')));
  assert.equal(parseConfig(podSpec(find(single, 'Deployment')).containers[0]!.args, {}).leaderElect, false);
  const own = (await renderChart({ set: { 'serviceAccount.create': false, 'serviceAccount.name': 'mine', 'metrics.service.enabled': false } })).docs;
  assert.ok(!own.some((d) => d.kind === 'ServiceAccount' || d.kind === 'Service'));
  assert.equal(podSpec(find(own, 'Deployment')).serviceAccountName, 'mine');
});

test('refusals: two replicas without leader election; a ServiceMonitor without the Service; no ServiceAccount name', async () => {
  assert.match(await renderChartError({ set: { replicas: 2, 'leaderElection.enabled': false } }), /replicas > 1 needs leaderElection.enabled/);
  assert.match(await renderChartError({ set: { 'metrics.serviceMonitor.enabled': true, 'metrics.service.enabled': false } }), /needs metrics.service.enabled/);
  assert.match(await renderChartError({ set: { 'serviceAccount.create': false } }), /serviceAccount.name is required/);
});

test('values.schema.json accepts values.yaml and the documented options, and refuses mistakes', async () => {
  const ajv = new Ajv({ allErrors: true, strict: false });
  const validate = ajv.compile(JSON.parse(readFileSync(path.join(chartDir, 'values.schema.json'), 'utf8')));
  const ok = async (set: RenderOptions['set']) => {
    const v = await mergedValues({ set });
    assert.ok(validate(v), `${JSON.stringify(set)}: ${ajv.errorsText(validate.errors)}`);
  };
  const bad = async (set: RenderOptions['set'], pattern: RegExp) => {
    assert.equal(validate(await mergedValues({ set })), false, JSON.stringify(set));
    assert.match(ajv.errorsText(validate.errors), pattern);
  };
  await ok({});
  await ok({ watchNamespace: 'team-a', replicas: 3, logLevel: 'debug', 'metrics.serviceMonitor.enabled': true, 'probes.liveness.periodSeconds': 30 });
  await bad({ logLevel: 'loud' }, /logLevel/);
  await bad({ logFormat: 'pretty' }, /logFormat/);
  await bad({ replicas: -1 }, /replicas/);
  await bad({ watchNamespace: 'Team_A' }, /watchNamespace/);
  await ok({ shard: 'blue.2' });
  await bad({ shard: 'blue team' }, /shard/);
  await bad({ 'securityContext.readOnlyRootFilesystem': false }, /readOnlyRootFilesystem/);
  await bad({ 'securityContext.allowPrivilegeEscalation': true }, /allowPrivilegeEscalation/);
  await bad({ replica: 2 }, /additional properties/);
  await bad({ 'probes.readiness.periodSeconds': 0 }, /periodSeconds/);
});
type RenderOptions = Parameters<typeof renderChart>[0] & {};

test('NOTES.txt tells what to do next', async () => {
  const all = await renderNotes();
  assert.match(all, /rollout status deployment\/hardway-hardway-operator/);
  assert.match(all, /watches all namespaces/);
  assert.match(all, /create secret generic demo-credentials/);
  assert.match(all, /digitalocean-token=/);
  assert.match(all, /argocd-cm/);
  const one = await renderNotes({ set: { watchNamespace: 'team-a' } });
  assert.match(one, /watches namespace team-a/);
  assert.match(one, /kubectl -n team-a apply -f cluster.yaml/);
  assert.ok(!/<no value>|\{\{/.test(all + one));
});

test('Chart.yaml: appVersion is the package version; kubeVersion admits 1.20', () => {
  const chart = parse(readFileSync(path.join(chartDir, 'Chart.yaml'), 'utf8'));
  assert.equal(chart.appVersion, JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')).version);
  assert.equal(chart.apiVersion, 'v2');
  assert.equal(chart.kubeVersion, '>=1.20.0-0');
});

test('config/manager runs the operator exactly as the chart does by default (same security context, probes, flags)', async () => {
  const chartPod = podSpec(find((await renderChart()).docs, 'Deployment'));
  const kustomizePod = podSpec(yamlDocs('config/manager/manager.yaml').find((d) => d.kind === 'Deployment')!);
  assert.deepEqual(kustomizePod.securityContext, chartPod.securityContext);
  const [k, c] = [kustomizePod.containers[0]!, chartPod.containers[0]!];
  assert.deepEqual(k.securityContext, c.securityContext);
  assert.deepEqual(k.livenessProbe, c.livenessProbe);
  assert.deepEqual(k.readinessProbe, c.readinessProbe);
  assert.deepEqual(k.resources, c.resources);
  assert.equal(k.image, c.image);
  const { identity: _a, ...kc } = parseConfig(k.args, {});
  const { identity: _b, ...cc } = parseConfig(c.args, {});
  assert.deepEqual(kc, cc);
});

test('docs/install.md: every YAML example parses (the Argo CD Applications among them)', () => {
  const md = readFileSync(path.join(repoRoot, 'docs/install.md'), 'utf8');
  const blocks = [...md.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);
  assert.ok(blocks.length >= 2);
  const apps = blocks.map((b) => parse(b) as Manifest).filter((d) => d.kind === 'Application');
  assert.deepEqual(apps.map((a) => a.metadata.name), ['cluster-demo', 'hardway-operator']);
  for (const a of apps) assert.equal(a.apiVersion, 'argoproj.io/v1alpha1');
});
