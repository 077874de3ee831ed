// Builds the apiextensions.k8s.io/v1 CustomResourceDefinitions from the kind definitions in v1alpha1.
import { GROUP, VERSION, CATEGORY, type KindDefinition } from './v1alpha1/kind.ts';
import type { SchemaNode } from './v1alpha1/schema.ts';
import type { TSchema } from '@sinclair/typebox';

/**
 * A plain-JSON copy of a schema as the API server should see it: symbols dropped, and fields that have a
 * default left out of `required` (the server defaults before it validates, but clients such as
 * `kubectl --validate` read `required` literally and would demand fields the user may omit).
 */
export function toCrdSchema(schema: TSchema): SchemaNode {
  const clean = (n: SchemaNode): SchemaNode => {
    const out: SchemaNode = { ...n };
    if (n.properties) {
      out.properties = Object.fromEntries(Object.entries(n.properties).map(([k, v]) => [k, clean(v)]));
      const required = (n.required ?? []).filter((k) => n.properties?.[k]?.default === undefined);
      if (required.length) out.required = required;
      else delete out.required;
    }
    if (n.items) out.items = clean(n.items);
    if (typeof n.additionalProperties === 'object') out.additionalProperties = clean(n.additionalProperties);
    return out;
  };
  return clean(JSON.parse(JSON.stringify(schema)) as SchemaNode);
}

export function buildCrd(def: KindDefinition) {
  const root: SchemaNode = {
    type: 'object',
    description: def.description,
    properties: {
      apiVersion: {
        type: 'string',
        description: 'Versioned schema of this representation of an object: hardway.dev/v1alpha1.',
      },
      kind: { type: 'string', description: `Kind of this object: ${def.kind}.` },
      // The API server refuses anything but `type` here: metadata's schema is built in.
      metadata: { type: 'object' },
      spec: toCrdSchema(def.spec),
      status: toCrdSchema(def.status),
    },
    required: ['spec'],
    'x-kubernetes-validations': [
      {
        rule: `self.metadata.name.size() <= ${def.maxNameLength}`,
        message: `metadata.name must be at most ${def.maxNameLength} characters: droplet and DNS names are derived from it`,
      },
    ],
  };
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${def.plural}.${GROUP}`,
      labels: { 'app.kubernetes.io/name': 'hardway-operator', 'app.kubernetes.io/part-of': 'hardway' },
    },
    spec: {
      group: GROUP,
      scope: 'Namespaced',
      names: {
        kind: def.kind,
        listKind: `${def.kind}List`,
        plural: def.plural,
        singular: def.singular,
        shortNames: def.shortNames,
        categories: [CATEGORY],
      },
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          schema: { openAPIV3Schema: root },
          subresources: {
            status: {},
            ...(def.scale
              ? {
                  scale: {
                    specReplicasPath: '.spec.replicas',
                    statusReplicasPath: '.status.replicas',
                    labelSelectorPath: '.status.selector',
                  },
                }
              : {}),
          },
          additionalPrinterColumns: def.printerColumns,
        },
      ],
    },
  };
}

export type Crd = ReturnType<typeof buildCrd>;
