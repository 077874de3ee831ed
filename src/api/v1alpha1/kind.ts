import type { TObject } from './schema.ts';
import type { ConditionType } from './condition-types.ts';

export const GROUP = 'hardway.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const CATEGORY = 'hardway';

import type { ObjectMeta } from '../meta.ts';
export type { ObjectMeta };

export interface KubeObject<K extends string, Spec, Status> {
  apiVersion: typeof API_VERSION;
  kind: K;
  metadata: ObjectMeta;
  spec: Spec;
  status?: Status;
}

export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  description?: string;
  priority?: number;
}

/** Everything the CRD generator and the validators need to know about one kind. */
export interface KindDefinition {
  kind: 'EtcdCluster' | 'ControlPlane' | 'WorkerPool';
  plural: string;
  singular: string;
  shortNames: string[];
  description: string;
  spec: TObject;
  status: TObject;
  conditions: readonly ConditionType[];
  /** Whether the kind has spec.replicas and a scale subresource. */
  scale: boolean;
  /** Longest metadata.name whose derived droplet and DNS names still fit in a 63-character DNS label. */
  maxNameLength: number;
  printerColumns: PrinterColumn[];
}
