export * from './kind.ts';
export * from './condition-types.ts';
export * from './conditions.ts';
export * from './shared.ts';
export * from './etcdcluster.ts';
export * from './controlplane.ts';
export * from './workerpool.ts';
export * from './validation.ts';
export { applyDefaults, checkSchema } from './schema-walk.ts';
export { DROPLET_ROLE, maxObjectNameLength, RESERVED_TAG_PREFIX } from './names.ts';

import { etcdClusterKind } from './etcdcluster.ts';
import { controlPlaneKind } from './controlplane.ts';
import { workerPoolKind } from './workerpool.ts';

export const KINDS = [etcdClusterKind, controlPlaneKind, workerPoolKind] as const;
