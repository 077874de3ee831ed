// Access to the real API server for integration tests: the one test/run.mjs started (KUBECONFIG and
// HARDWAY_KUBECTL set), or a private one when a file runs on its own.
import { startCluster, kubectlPath, runKubectl, type TestCluster } from '../env/cluster.ts';
import { ClientNodeKube, loadKubeConfig } from '../../src/kube/adapter.ts';


export interface KubeEnv {
  kubeconfig: string;
  kube: ClientNodeKube;
  /** Runs kubectl; rejects with stderr in the message on a non-zero exit. */
  kubectl(...args: string[]): Promise<string>;
  /** kubectl with a manifest on stdin (`-f -`). */
  kubectlInput(input: string, ...args: string[]): Promise<string>;
  close(): Promise<void>;
}

export async function kubeEnv(): Promise<KubeEnv> {
  let own: TestCluster | undefined;
  let kubeconfig = process.env.HARDWAY_TEST_KUBECONFIG;
  if (!kubeconfig) {
    own = await startCluster({ controllerManager: true });
    kubeconfig = own.kubeconfig;
  }
  const kubectlInput = (input: string | undefined, ...args: string[]) => runKubectl(process.env.HARDWAY_KUBECTL ?? kubectlPath, kubeconfig!, args, input);

  const kubectl = (...args: string[]) => kubectlInput(undefined, ...args);
  if (own) {
    await kubectl('apply', '--validate=false', '-f', 'crds/');
    await kubectl('wait', '--for=condition=Established', '--timeout=60s', 'crd', '--all');
  }
  const kube = new ClientNodeKube(loadKubeConfig({ kubeconfig }));
  return {
    kubeconfig,
    kube,
    kubectl,
    kubectlInput,
    close: async () => {
      kube.close();
      await own?.stop();
    },
  };
}

let counter = 0;
/** A fresh namespace per test, so tests sharing one API server never see each other's objects. */
export async function freshNamespace(env: KubeEnv, prefix: string): Promise<string> {
  const ns = `${prefix}-${process.pid}-${++counter}`;
  await env.kubectl('create', 'namespace', ns);
  return ns;
}
