// What the operator applies through the workload API once it answers (BRIEF section 7): RBAC for the
// apiserver to reach kubelets, CoreDNS serving the cluster domain at the cluster DNS IP, and the RBAC
// flanneld needs. Pure.
import type { Manifest } from '../workload/port.ts';
import { BOOTSTRAP_GROUP } from '../pki/bootstrap-token.ts';

/** Used when the caller gives none; callers pass componentsFor(version).coredns (manifest.ts). */
export const DEFAULT_COREDNS_VERSION = '1.12.1';

export interface AddonOptions {
  /** The kube-dns Service's ClusterIP (what kubelets hand pods as nameserver). */
  clusterDNS: string;
  clusterDomain: string;
  /**
   * The pod network. Nothing rendered here depends on it yet: flanneld reads net-conf.json from a file on
   * each node (roles.ts); kept so a cluster-side flannel configuration can be added without new plumbing.
   */
  podCIDR: string;
  /** CoreDNS release, with or without a leading "v". */
  coreDNSVersion?: string;
}

const NS = 'kube-system';
const RBAC = 'rbac.authorization.k8s.io/v1';
const labels = (extra: Record<string, string> = {}) => ({ 'app.kubernetes.io/managed-by': 'hardway', ...extra });

function apiServerToKubelet(): Manifest[] {
  return [
    {
      apiVersion: RBAC,
      kind: 'ClusterRole',
      metadata: { name: 'system:kube-apiserver-to-kubelet', labels: labels() },
      rules: [{ apiGroups: [''], resources: ['nodes/proxy', 'nodes/stats', 'nodes/log', 'nodes/spec', 'nodes/metrics'], verbs: ['*'] }],
    },
    {
      apiVersion: RBAC,
      kind: 'ClusterRoleBinding',
      metadata: { name: 'system:kube-apiserver', labels: labels() },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:kube-apiserver-to-kubelet' },
      // The CN of the apiserver's kubelet client certificate (pki/profiles.ts). That certificate is in
      // system:masters too; this binding keeps logs/exec working should that group be dropped.
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'kube-apiserver-kubelet-client' }],
    },
  ];
}

/** flanneld runs as a systemd unit with the kubelet's kubeconfig: it is system:node:<name>, group system:nodes. */
function flannel(): Manifest[] {
  return [
    {
      apiVersion: RBAC,
      kind: 'ClusterRole',
      metadata: { name: 'flannel', labels: labels() },
      rules: [
        { apiGroups: [''], resources: ['pods'], verbs: ['get'] },
        { apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: [''], resources: ['nodes/status'], verbs: ['patch'] },
      ],
    },
    {
      apiVersion: RBAC,
      kind: 'ClusterRoleBinding',
      metadata: { name: 'flannel', labels: labels() },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'flannel' },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'system:nodes' }],
    },
  ];
}

export function corefile(clusterDomain: string): string {
  // Upstream CoreDNS's Kubernetes default. forward uses the pod's resolv.conf, which (dnsPolicy Default) is
  // the kubelet's resolvConf: the host's real upstreams, so the loop plugin finds no loop.
  return `.:53 {
    errors
    health {
        lameduck 5s
    }
    ready
    kubernetes ${clusterDomain} in-addr.arpa ip6.arpa {
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 30
    }
    prometheus :9153
    forward . /etc/resolv.conf {
        max_concurrent 1000
    }
    cache 30
    loop
    reload
    loadbalance
}
`;
}

function coreDNS(o: AddonOptions): Manifest[] {
  const app = { 'k8s-app': 'kube-dns' };
  const version = (o.coreDNSVersion ?? DEFAULT_COREDNS_VERSION).replace(/^v?/, 'v');
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'coredns', namespace: NS, labels: labels() } },
    {
      apiVersion: RBAC,
      kind: 'ClusterRole',
      metadata: { name: 'system:coredns', labels: labels() },
      rules: [
        { apiGroups: [''], resources: ['endpoints', 'services', 'pods', 'namespaces'], verbs: ['list', 'watch'] },
        { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['list', 'watch'] },
      ],
    },
    {
      apiVersion: RBAC,
      kind: 'ClusterRoleBinding',
      metadata: { name: 'system:coredns', labels: labels() },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:coredns' },
      subjects: [{ kind: 'ServiceAccount', name: 'coredns', namespace: NS }],
    },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'coredns', namespace: NS, labels: labels() }, data: { Corefile: corefile(o.clusterDomain) } },
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'coredns', namespace: NS, labels: labels(app) },
      spec: {
        replicas: 2,
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } },
        selector: { matchLabels: app },
        template: {
          metadata: { labels: app },
          spec: {
            priorityClassName: 'system-cluster-critical',
            serviceAccountName: 'coredns',
            nodeSelector: { 'kubernetes.io/os': 'linux' },
            tolerations: [
              { key: 'CriticalAddonsOnly', operator: 'Exists' },
              { key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' },
            ],
            // Two replicas on two nodes where possible, so one node going away keeps DNS up.
            affinity: {
              podAntiAffinity: {
                preferredDuringSchedulingIgnoredDuringExecution: [
                  { weight: 100, podAffinityTerm: { labelSelector: { matchLabels: app }, topologyKey: 'kubernetes.io/hostname' } },
                ],
              },
            },
            securityContext: { seccompProfile: { type: 'RuntimeDefault' } },
            dnsPolicy: 'Default',
            containers: [
              {
                name: 'coredns',
                image: `registry.k8s.io/coredns/coredns:${version}`,
                imagePullPolicy: 'IfNotPresent',
                args: ['-conf', '/etc/coredns/Corefile'],
                resources: { limits: { memory: '170Mi' }, requests: { cpu: '100m', memory: '70Mi' } },
                ports: [
                  { name: 'dns', containerPort: 53, protocol: 'UDP' },
                  { name: 'dns-tcp', containerPort: 53, protocol: 'TCP' },
                  { name: 'metrics', containerPort: 9153, protocol: 'TCP' },
                ],
                volumeMounts: [{ name: 'config-volume', mountPath: '/etc/coredns', readOnly: true }],
                livenessProbe: { httpGet: { path: '/health', port: 8080, scheme: 'HTTP' }, initialDelaySeconds: 60, timeoutSeconds: 5, successThreshold: 1, failureThreshold: 5 },
                readinessProbe: { httpGet: { path: '/ready', port: 8181, scheme: 'HTTP' } },
                securityContext: {
                  allowPrivilegeEscalation: false,
                  capabilities: { add: ['NET_BIND_SERVICE'], drop: ['ALL'] },
                  readOnlyRootFilesystem: true,
                },
              },
            ],
            volumes: [{ name: 'config-volume', configMap: { name: 'coredns', items: [{ key: 'Corefile', path: 'Corefile' }] } }],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {
        name: 'kube-dns',
        namespace: NS,
        labels: labels({ ...app, 'kubernetes.io/cluster-service': 'true', 'kubernetes.io/name': 'CoreDNS' }),
        annotations: { 'prometheus.io/port': '9153', 'prometheus.io/scrape': 'true' },
      },
      spec: {
        selector: app,
        clusterIP: o.clusterDNS,
        ports: [
          { name: 'dns', port: 53, protocol: 'UDP' },
          { name: 'dns-tcp', port: 53, protocol: 'TCP' },
          { name: 'metrics', port: 9153, protocol: 'TCP' },
        ],
      },
    },
  ];
}

/**
 * Kubernetes' own ClusterRoles for kubelet TLS bootstrapping (kubernetes/website
 * content/en/docs/reference/access-authn-authz/kubelet-tls-bootstrapping.md, "Authorize kubelet to create
 * CSR" and "Approval"; the roles are bootstrap policy since v1.8) and kube-proxy's.
 */
export const BUILT_IN_CLUSTER_ROLES = [
  'system:node-bootstrapper',
  'system:certificates.k8s.io:certificatesigningrequests:nodeclient',
  'system:certificates.k8s.io:certificatesigningrequests:selfnodeclient',
  'system:node-proxier',
];

/**
 * Workers join by TLS bootstrap: a bootstrap token (group BOOTSTRAP_GROUP) may ask for a node client
 * certificate, which the controller manager's approver signs off; nodes renew their own. kube-proxy runs
 * with its node's credential (nothing shared between nodes), so nodes get the proxier role.
 */
function tlsBootstrap(): Manifest[] {
  const bind = (name: string, role: string, group: string): Manifest => ({
    apiVersion: RBAC,
    kind: 'ClusterRoleBinding',
    metadata: { name, labels: labels() },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
    subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: group }],
  });
  return [
    bind('hardway:kubelet-bootstrap', 'system:node-bootstrapper', BOOTSTRAP_GROUP),
    bind('hardway:node-autoapprove-bootstrap', 'system:certificates.k8s.io:certificatesigningrequests:nodeclient', BOOTSTRAP_GROUP),
    bind('hardway:node-autoapprove-certificate-rotation', 'system:certificates.k8s.io:certificatesigningrequests:selfnodeclient', 'system:nodes'),
    bind('hardway:node-proxier', 'system:node-proxier', 'system:nodes'),
  ];
}

/** Every addon object, in an order that applies cleanly (roles before bindings, config before workloads). */
export function renderAddons(o: AddonOptions): Manifest[] {
  return [...apiServerToKubelet(), ...flannel(), ...tlsBootstrap(), ...coreDNS(o)];
}
