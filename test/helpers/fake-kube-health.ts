// KubeHealth in memory for controller tests. Every component of every node is healthy unless a test says
// otherwise. A node is named by the first label of NodeAddress.dnsName (droplet name = node name, see
// docs/architecture.md); a setting made under an IP address applies to the node at that IP instead, which
// suits tests whose addresses are bare IPs. When both exist, the setting under the name wins.
import { isIP } from 'node:net';
import type { ControlPlaneHealth, KubeHealth, NodeAddress, ProbeCredentials, ProbeResult, WorkerHealth } from '../../src/health/kube.ts';

export type KubeComponent = keyof ControlPlaneHealth | keyof WorkerHealth;
export const CONTROL_PLANE_COMPONENTS: (keyof ControlPlaneHealth)[] = ['apiserverReady', 'apiserverLive', 'controllerManager', 'scheduler'];
export const WORKER_COMPONENTS: (keyof WorkerHealth)[] = ['kubelet', 'kubeProxy'];
const ALL: KubeComponent[] = [...CONTROL_PLANE_COMPONENTS, ...WORKER_COMPONENTS];

export const nodeNameOf = (a: NodeAddress): string => (isIP(a.dnsName) ? a.dnsName : a.dnsName.split('.')[0]!);

export class FakeKubeHealth implements KubeHealth {
  /** Every probe call in order, with the credentials it was given. */
  readonly calls: { kind: 'controlPlane' | 'worker'; node: NodeAddress; creds: ProbeCredentials }[] = [];
  private readonly answers = new Map<string, Partial<Record<KubeComponent, ProbeResult>>>();

  /** What one component of a node (name or IP) answers from now on. */
  set(node: string, component: KubeComponent, result: ProbeResult): this {
    this.answers.set(node, { ...this.answers.get(node), [component]: { ...result } });
    return this;
  }

  /** The components (default: all) answer HTTP 500. */
  unhealthy(node: string, components: KubeComponent[] = ALL, message = 'HTTP 500: unhealthy (fake)'): this {
    for (const c of components) this.set(node, c, { ok: false, message });
    return this;
  }

  /** Nothing on the node answers, as when the machine is down. */
  unreachable(node: string, message = 'connect ECONNREFUSED'): this {
    return this.unhealthy(node, ALL, message);
  }

  /** Back to all healthy. */
  healthy(node: string): this {
    this.answers.delete(node);
    return this;
  }

  /**
   * What the whole node answers before any setting applies (a harness's rule, e.g. nothing runs until the
   * node has its keys); undefined: the settings apply.
   */
  gate: (node: string) => ProbeResult | undefined = () => undefined;

  private answer(node: NodeAddress, c: KubeComponent): ProbeResult {
    const gated = this.gate(nodeNameOf(node));
    if (gated) return { ...gated };
    const byName = this.answers.get(nodeNameOf(node))?.[c];
    const byIp = this.answers.get(node.ip)?.[c];
    return { ...(byName ?? byIp ?? { ok: true }) };
  }

  async controlPlane(node: NodeAddress, creds: ProbeCredentials): Promise<ControlPlaneHealth> {
    this.calls.push({ kind: 'controlPlane', node: { ...node }, creds });
    return Object.fromEntries(CONTROL_PLANE_COMPONENTS.map((c) => [c, this.answer(node, c)])) as unknown as ControlPlaneHealth;
  }

  async worker(node: NodeAddress, creds: ProbeCredentials): Promise<WorkerHealth> {
    this.calls.push({ kind: 'worker', node: { ...node }, creds });
    return Object.fromEntries(WORKER_COMPONENTS.map((c) => [c, this.answer(node, c)])) as unknown as WorkerHealth;
  }
}
