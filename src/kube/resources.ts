import type { Resource } from './port.ts';
import { GROUP, VERSION } from '../api/v1alpha1/kind.ts';

const hardway = (kind: string, plural: string): Resource => ({
  group: GROUP,
  version: VERSION,
  kind,
  plural,
  namespaced: true,
  statusSubresource: true,
});

export const EtcdClusters = hardway('EtcdCluster', 'etcdclusters');
export const ControlPlanes = hardway('ControlPlane', 'controlplanes');
export const WorkerPools = hardway('WorkerPool', 'workerpools');

export const Secrets: Resource = { group: '', version: 'v1', kind: 'Secret', plural: 'secrets', namespaced: true };
export const Events: Resource = { group: '', version: 'v1', kind: 'Event', plural: 'events', namespaced: true };
export const Namespaces: Resource = { group: '', version: 'v1', kind: 'Namespace', plural: 'namespaces', namespaced: false };
export const Leases: Resource = {
  group: 'coordination.k8s.io',
  version: 'v1',
  kind: 'Lease',
  plural: 'leases',
  namespaced: true,
};
export const CustomResourceDefinitions: Resource = {
  group: 'apiextensions.k8s.io',
  version: 'v1',
  kind: 'CustomResourceDefinition',
  plural: 'customresourcedefinitions',
  namespaced: false,
};

/** URL path of a collection or one object, optionally a subresource. */
export function resourcePath(r: Resource, namespace?: string, name?: string, subresource?: string): string {
  let p = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
  if (r.namespaced && namespace) p += `/namespaces/${encodeURIComponent(namespace)}`;
  p += `/${r.plural}`;
  if (name) p += `/${encodeURIComponent(name)}`;
  if (subresource) p += `/${subresource}`;
  return p;
}
