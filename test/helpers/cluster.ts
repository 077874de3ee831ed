// Cluster descriptions and deterministic inputs for bootstrap tests.
import { randomBytes } from 'node:crypto';
import { validateObject, type EtcdCluster, type ControlPlane, type WorkerPool } from '../../src/api/v1alpha1/index.ts';
import { defaultPkiContext } from '../../src/pki/cluster.ts';
import type { ClusterDescription, RenderContext } from '../../src/bootstrap/cluster.ts';
import { sampleOf } from './samples.ts';

/** The samples, defaulted; names optionally lengthened to the maximum each kind allows. */
export function sampleCluster(opts: { longNames?: boolean } = {}): ClusterDescription {
  const pick = <T>(kind: string, name?: string): T => {
    const o = sampleOf(kind) as any;
    if (name) o.metadata.name = name;
    return validateObject(o).object as T;
  };
  const etcd = pick<EtcdCluster>('EtcdCluster', opts.longNames ? 'e'.repeat(52) : undefined);
  const cp = pick<ControlPlane>('ControlPlane', opts.longNames ? 'c'.repeat(54) : undefined);
  const wp = pick<WorkerPool>('WorkerPool', opts.longNames ? 'w'.repeat(50) : undefined);
  if (opts.longNames) {
    const zone = `${'z'.repeat(60)}.${'y'.repeat(60)}.example.com`;
    etcd.spec.dns.zone = zone;
    cp.spec.dns.zone = zone;
    cp.spec.endpoint.host = `api.${zone}`;
    cp.spec.etcdClusterRef.name = etcd.metadata.name;
    wp.spec.controlPlaneRef.name = cp.metadata.name;
  }
  etcd.metadata.uid = '6f1c2d3e-0000-4000-8000-000000000001';
  return { etcd, controlPlane: cp, workerPools: [wp] };
}

export function realRenderContext(now = new Date()): RenderContext {
  return { ...defaultPkiContext(now), randomBytes: (n) => randomBytes(n) };
}
