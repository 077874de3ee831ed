// Defaulting and structural validation driven by the same schema the CRDs are generated from, so the
// operator applies exactly the API server's defaults and catches what an API server would reject
// (including objects written before a field gained a default, or servers that skip CEL).
import { HINT, type SchemaNode } from './schema.ts';

export interface Problem {
  /** Field path in Kubernetes notation: spec.machine.sshKeys[1], spec.nodeLabels[team]. */
  path: string;
  message: string;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Returns a copy of value with schema defaults filled in, recursively (defaults' own fields too). */
export function applyDefaults(schema: SchemaNode, value: unknown): unknown {
  let v = value === undefined && schema.default !== undefined ? structuredClone(schema.default) : value;
  if (isPlainObject(v) && schema.properties) {
    const out: Record<string, unknown> = { ...v };
    for (const [key, sub] of Object.entries(schema.properties)) {
      const d = applyDefaults(sub, out[key]);
      if (d !== undefined) out[key] = d;
    }
    v = out;
  } else if (Array.isArray(v) && schema.items) {
    const items = schema.items;
    v = v.map((item) => applyDefaults(items, item));
  }
  return v;
}

const join = (path: string, key: string) => (path ? `${path}.${key}` : key);

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function typeMatches(type: string, v: unknown): boolean {
  switch (type) {
    case 'object':
      return isPlainObject(v);
    case 'array':
      return Array.isArray(v);
    case 'integer':
      return typeof v === 'number' && Number.isInteger(v);
    case 'number':
      return typeof v === 'number' && Number.isFinite(v);
    default:
      return typeof v === type;
  }
}

/** Checks value against schema: types, required, enums, patterns, bounds, list uniqueness, unknown fields. */
export function checkSchema(schema: SchemaNode, value: unknown, path: string): Problem[] {
  const problems: Problem[] = [];
  const add = (p: string, message: string) => problems.push({ path: p, message });

  if (schema['x-kubernetes-int-or-string']) {
    if (!(typeof value === 'string' || (typeof value === 'number' && Number.isInteger(value)))) {
      add(path, `must be an integer or a string such as "25%", not ${typeName(value)}`);
    }
    return problems;
  }
  if (schema.type && !typeMatches(schema.type, value)) {
    add(path, `must be ${schema.type === 'integer' || schema.type === 'array' ? 'an' : 'a'} ${schema.type}, not ${typeName(value)}`);
    return problems;
  }
  if (schema.enum && !schema.enum.includes(value)) {
    add(path, `must be one of ${schema.enum.map((e) => JSON.stringify(e)).join(', ')}; got ${JSON.stringify(value)}`);
  }
  if (typeof value === 'string') {
    if (schema.minLength !== undefined && value.length < schema.minLength) {
      add(path, schema.minLength === 1 ? 'must not be empty' : `must be at least ${schema.minLength} characters`);
    }
    if (schema.maxLength !== undefined && value.length > schema.maxLength) {
      add(path, `must be at most ${schema.maxLength} characters; "${value.slice(0, 40)}…" has ${value.length}`);
    }
    if (schema.pattern && !new RegExp(schema.pattern).test(value)) {
      add(path, `"${value}" is not ${schema[HINT] ?? `matching ${schema.pattern}`}`);
    }
  }
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) add(path, `must be at least ${schema.minimum}; got ${value}`);
    if (schema.maximum !== undefined && value > schema.maximum) add(path, `must be at most ${schema.maximum}; got ${value}`);
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) add(path, `must have at least ${schema.minItems} items`);
    if (schema.maxItems !== undefined && value.length > schema.maxItems) add(path, `must have at most ${schema.maxItems} items; has ${value.length}`);
    const listType = schema['x-kubernetes-list-type'];
    const seen = new Map<string, number>();
    value.forEach((item, i) => {
      if (schema.items) problems.push(...checkSchema(schema.items, item, `${path}[${i}]`));
      const keys = schema['x-kubernetes-list-map-keys'];
      const identity =
        listType === 'set' ? JSON.stringify(item) : listType === 'map' && keys && isPlainObject(item) ? JSON.stringify(keys.map((k) => item[k])) : undefined;
      if (identity === undefined) return;
      const first = seen.get(identity);
      if (first !== undefined) add(`${path}[${i}]`, `duplicates ${path}[${first}]`);
      else seen.set(identity, i);
    });
  }
  if (isPlainObject(value)) {
    for (const key of schema.required ?? []) {
      if (value[key] === undefined) add(join(path, key), 'is required');
    }
    for (const [key, v] of Object.entries(value)) {
      const sub = schema.properties?.[key];
      if (sub) {
        problems.push(...checkSchema(sub, v, join(path, key)));
      } else if (isPlainObject(schema.additionalProperties)) {
        problems.push(...checkSchema(schema.additionalProperties, v, `${path}[${key}]`));
      } else if (schema.properties && !schema['x-kubernetes-preserve-unknown-fields']) {
        const known = Object.keys(schema.properties).join(', ');
        add(join(path, key), `is not a known field (known: ${known})`);
      }
    }
  }
  return problems;
}
