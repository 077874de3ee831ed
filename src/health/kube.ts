// Health of Kubernetes components on one node, probed from the management cluster (BRIEF section 4).
// Implemented over HTTPS/HTTP (probes.ts) and in memory for converge tests (fake-kube-health in test/helpers).

export interface NodeAddress {
  /** Where to connect. */
  ip: string;
  /** The name the component's certificate is issued for (verified). */
  dnsName: string;
}

export interface ProbeResult {
  ok: boolean;
  /** Why not (HTTP status and body, TLS error, timeout); empty when ok. */
  message?: string;
}

export interface ControlPlaneHealth {
  /** kube-apiserver /readyz (6443). */
  apiserverReady: ProbeResult;
  /** kube-apiserver /livez (6443). */
  apiserverLive: ProbeResult;
  /** kube-controller-manager /healthz (10257). */
  controllerManager: ProbeResult;
  /** kube-scheduler /healthz (10259). */
  scheduler: ProbeResult;
}

export interface WorkerHealth {
  /** kubelet /healthz (10250), with the apiserver-kubelet-client certificate. */
  kubelet: ProbeResult;
  /** kube-proxy /healthz (10256, plain HTTP). */
  kubeProxy: ProbeResult;
}

/** Credentials the probes use: the cluster CA and a client certificate (admin or apiserver-kubelet-client). */
export interface ProbeCredentials {
  ca: string;
  cert: string;
  key: string;
}

export interface KubeHealth {
  controlPlane(node: NodeAddress, creds: ProbeCredentials): Promise<ControlPlaneHealth>;
  worker(node: NodeAddress, creds: ProbeCredentials): Promise<WorkerHealth>;
}
