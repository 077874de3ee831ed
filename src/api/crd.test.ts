import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { Ajv } from 'ajv';
import { evaluate } from '@marcbachmann/cel-js';
import { renderCrds, CRD_DIRS } from './render.ts';
import { buildCrd } from './crd.ts';
import { KINDS, validateObject, applyDefaults, type KindDefinition } from './v1alpha1/index.ts';
import type { SchemaNode } from './v1alpha1/schema.ts';
import { loadSamples, sampleOf, repoRoot } from '../../test/helpers/samples.ts';

const schemaOf = (def: KindDefinition) => buildCrd(def).spec.versions[0]!.schema.openAPIV3Schema;

test('crds/, the chart\'s crds/ and config/crd/ are up to date with src/api (run npm run generate)', () => {
  for (const dir of CRD_DIRS) {
    for (const { file, text } of renderCrds()) {
      const committed = readFileSync(path.join(repoRoot, dir, file), 'utf8');
      assert.equal(committed, text, `${dir}/${file} is stale`);
    }
  }
});

/** Walks a schema, yielding every node with its path. */
function* walk(n: SchemaNode, at: string): Generator<[string, SchemaNode]> {
  yield [at, n];
  for (const [k, v] of Object.entries(n.properties ?? {})) yield* walk(v, `${at}.${k}`);
  if (n.items) yield* walk(n.items, `${at}[]`);
  if (typeof n.additionalProperties === 'object') yield* walk(n.additionalProperties, `${at}{}`);
}

describe('CRD schemas are structural and explained', () => {
  for (const def of KINDS) {
    test(def.kind, () => {
      const crd = parseYaml(readFileSync(path.join(repoRoot, 'crds', `${def.plural}.hardway.dev.yaml`), 'utf8'));
      const version = crd.spec.versions[0];
      for (const [at, n] of walk(version.schema.openAPIV3Schema, def.kind)) {
        if (n['x-kubernetes-int-or-string']) {
          assert.deepEqual(n.anyOf, [{ type: 'integer' }, { type: 'string' }], `${at}: int-or-string shape`);
          assert.equal(n.type, undefined, `${at}: int-or-string has no type`);
        } else {
          assert.ok(n.type, `${at} has no type`);
          assert.equal(n.anyOf, undefined, `${at}: anyOf outside int-or-string is not structural`);
        }
        if (!at.endsWith('.metadata')) assert.ok(n.description && n.description.length > 10, `${at} needs a description for kubectl explain`);
        else assert.deepEqual({ ...n }, { type: 'object' }, 'the API server forbids anything but type on metadata');
        assert.ok(!(n.properties && n.additionalProperties), `${at}: properties and additionalProperties are exclusive`);
        if (n.type === 'object' && !n.properties && !n.additionalProperties && !at.endsWith('.metadata')) {
          assert.ok(n['x-kubernetes-preserve-unknown-fields'], `${at}: untyped object outside preserve-unknown-fields`);
        }
        for (const key of n.required ?? []) {
          assert.ok(n.properties?.[key], `${at}: required field ${key} is not declared`);
          assert.equal(n.properties[key]!.default, undefined, `${at}.${key}: a defaulted field must not be required`);
        }
        if (n['x-kubernetes-list-type'] === 'map') {
          for (const key of n['x-kubernetes-list-map-keys'] ?? []) {
            assert.ok(n.items?.required?.includes(key), `${at}: list-map key ${key} must be required`);
          }
        }
      }
      assert.deepEqual(crd.spec.names.categories, ['hardway']);
      assert.ok(crd.spec.names.shortNames.length > 0);
      assert.deepEqual(version.subresources.status, {});
      assert.equal(version.subresources.scale.specReplicasPath, '.spec.replicas');
      const columns = version.additionalPrinterColumns.map((c: { name: string }) => c.name);
      for (const c of ['Ready', 'Replicas', 'Version', 'Endpoint', 'Age']) assert.ok(columns.includes(c), `printer column ${c}`);
    });
  }
});

function ajvFor(def: KindDefinition) {
  const ajv = new Ajv({ allErrors: true, strict: true, useDefaults: true });
  for (const keyword of ['x-kubernetes-int-or-string', 'x-kubernetes-list-type', 'x-kubernetes-list-map-keys', 'x-kubernetes-validations', 'x-kubernetes-preserve-unknown-fields']) {
    ajv.addKeyword({ keyword });
  }
  ajv.addFormat('date-time', /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/);
  return ajv.compile(schemaOf(def));
}

describe('samples validate against the CRD schemas (ajv)', () => {
  const samples = loadSamples().filter((s) => s.object.apiVersion === 'hardway.dev/v1alpha1');
  for (const def of KINDS) {
    test(def.kind, () => {
      const validate = ajvFor(def);
      const mine = samples.filter((s) => s.object.kind === def.kind);
      assert.ok(mine.length > 0);
      for (const { object } of mine) assert.ok(validate(structuredClone(object)), JSON.stringify(validate.errors));
    });
  }

  test('and the schema rejects what it should, independently of our validator', () => {
    const validate = ajvFor(KINDS[0]);
    const bad = sampleOf('EtcdCluster');
    bad.spec.replicas = 4;
    (bad.spec.machine as Record<string, unknown>).region = 'Frankfurt';
    assert.equal(validate(bad), false);
    const paths = validate.errors!.map((e) => e.instancePath).sort();
    assert.deepEqual(paths, ['/spec/machine/region', '/spec/replicas']);
  });
});

/** For each CEL rule in the CRDs: a change that breaks it, and the path our own validation must report. */
const CEL_CASES: { kind: string; rule: RegExp; change: (o: Record<string, any>) => void; path: string }[] = [
  { kind: 'EtcdCluster', rule: /metadata\.name\.size/, change: (o) => (o.metadata.name = 'e'.repeat(53)), path: 'metadata.name' },
  { kind: 'ControlPlane', rule: /metadata\.name\.size/, change: (o) => (o.metadata.name = 'c'.repeat(55)), path: 'metadata.name' },
  { kind: 'WorkerPool', rule: /metadata\.name\.size/, change: (o) => (o.metadata.name = 'w'.repeat(51)), path: 'metadata.name' },
  { kind: 'EtcdCluster', rule: /startsWith\('3\.5\.'\)/, change: (o) => (o.spec.version = '3.4.30'), path: 'spec.version' },
  { kind: 'ControlPlane', rule: /endpoint\.host/, change: (o) => (o.spec.endpoint.host = 'api.example.org'), path: 'spec.endpoint.host' },
  { kind: 'ControlPlane', rule: /podCIDR != /, change: (o) => (o.spec.network.serviceCIDR = o.spec.network.podCIDR), path: 'spec.network.serviceCIDR' },
];

/** Every x-kubernetes-validations rule with the JSON path of the node it sits on. */
function celRules(def: KindDefinition): { at: string; rule: string }[] {
  const out: { at: string; rule: string }[] = [];
  for (const [at, n] of walk(schemaOf(def), '')) for (const v of n['x-kubernetes-validations'] ?? []) out.push({ at, rule: v.rule });
  return out;
}

function evalRule(at: string, rule: string, object: Record<string, unknown>): unknown {
  const self = at.split('.').filter(Boolean).reduce<any>((o, k) => o?.[k], object);
  return evaluate(rule, { self });
}

describe('CEL rules (for 1.25+ API servers) agree with the operator validation (for all servers)', () => {
  for (const def of KINDS) {
    for (const { at, rule } of celRules(def)) {
      test(`${def.kind}${at || ' (root)'}: ${rule}`, () => {
        const cases = CEL_CASES.filter((c) => c.kind === def.kind && c.rule.test(rule));
        assert.ok(cases.length > 0, 'every CEL rule needs a case here, so the operator is proven to catch it too');
        const sample = sampleOf(def.kind) as Record<string, any>;
        sample.spec = applyDefaults(def.spec as SchemaNode, sample.spec);
        assert.equal(evalRule(at, rule, sample), true, 'the sample satisfies the rule');
        for (const c of cases) {
          const broken = structuredClone(sample);
          c.change(broken);
          assert.equal(evalRule(at, rule, broken), false, 'the change breaks the rule');
          const paths = validateObject(broken).problems.map((p) => p.path);
          assert.ok(paths.includes(c.path), `operator validation reports ${c.path}; got ${paths.join(', ')}`);
        }
      });
    }
  }
});
