// Builders for the CRD schemas. Every builder takes the field's description first, so no field can be
// written without one (`kubectl explain` prints it). The same schema objects give the TypeScript types
// (TypeBox's Static), the CRD YAML, defaulting and the operator's structural validation.
import { Type, type TSchema, type TObject, type TProperties, type Static } from '@sinclair/typebox';

export type { Static, TSchema, TObject };

/** A person-readable explanation of a pattern, used in validation messages; symbols never reach the YAML. */
export const HINT = Symbol('hardway.hint');

export interface Hinted {
  [HINT]?: string;
}

function withHint<T extends TSchema>(schema: T, hint: string | undefined): T {
  if (hint) (schema as Hinted)[HINT] = hint; // enumerable, so TypeBox's clones (Optional) keep it; JSON ignores symbols
  return schema;
}

export interface StringOptions {
  pattern?: string;
  /** What the pattern means, for error messages: "a DigitalOcean region slug such as nyc3". */
  hint?: string;
  minLength?: number;
  maxLength?: number;
  default?: string;
  format?: string;
}

export function str(description: string, o: StringOptions = {}) {
  const { hint, ...rest } = o;
  return withHint(Type.String({ description, ...rest }), hint);
}

export function strEnum<const V extends readonly string[]>(description: string, values: V, def?: V[number]) {
  return Type.Unsafe<V[number]>({
    type: 'string',
    description,
    enum: [...values],
    ...(def !== undefined ? { default: def } : {}),
  });
}

export interface IntegerOptions {
  minimum?: number;
  maximum?: number;
  default?: number;
  enum?: number[];
  format?: 'int32' | 'int64';
}

export function int(description: string, o: IntegerOptions = {}) {
  return Type.Integer({ description, ...o });
}

export function bool(description: string, def?: boolean) {
  return Type.Boolean({ description, ...(def !== undefined ? { default: def } : {}) });
}

export interface ObjectOptions {
  /** CEL rules for API servers that know x-kubernetes-validations (1.25+); older ones ignore them. */
  rules?: CelRule[];
  default?: Record<string, unknown>;
}

export interface CelRule {
  rule: string;
  message: string;
  /** Field path our own validation reports for the same problem; tests check both agree. */
  fieldPath?: string;
}

export function obj<P extends TProperties>(description: string, properties: P, o: ObjectOptions = {}) {
  return Type.Object(properties, {
    description,
    ...(o.default ? { default: o.default } : {}),
    ...(o.rules?.length
      ? { 'x-kubernetes-validations': o.rules.map(({ rule, message }) => ({ rule, message })) }
      : {}),
  });
}

export interface ArrayOptions {
  minItems?: number;
  maxItems?: number;
  /** `set` for scalar lists without duplicates, `map` (with mapKeys) for lists of objects keyed by a field. */
  listType?: 'atomic' | 'set' | 'map';
  mapKeys?: string[];
  default?: unknown[];
}

export function arr<T extends TSchema>(description: string, items: T, o: ArrayOptions = {}) {
  const { listType, mapKeys, ...rest } = o;
  return Type.Array(items, {
    description,
    ...rest,
    ...(listType ? { 'x-kubernetes-list-type': listType } : {}),
    ...(mapKeys ? { 'x-kubernetes-list-map-keys': mapKeys } : {}),
  });
}

/** A string-to-string map (labels and the like). */
export function stringMap(description: string, valueDescription: string) {
  return Type.Unsafe<Record<string, string>>({
    type: 'object',
    description,
    additionalProperties: { type: 'string', description: valueDescription },
  });
}

/** An integer or a percentage string such as "25%" (Kubernetes' IntOrString). */
export function intOrPercent(description: string, def: number | string) {
  return Type.Unsafe<number | string>({
    description,
    'x-kubernetes-int-or-string': true,
    anyOf: [{ type: 'integer' }, { type: 'string' }],
    default: def,
  });
}

export const opt = Type.Optional;

/** A JSON-schema node as the generator and validators walk it. */
export interface SchemaNode {
  type?: string;
  description?: string;
  properties?: Record<string, SchemaNode>;
  required?: string[];
  items?: SchemaNode;
  additionalProperties?: SchemaNode | boolean;
  enum?: unknown[];
  default?: unknown;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
  format?: string;
  anyOf?: SchemaNode[];
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-list-type'?: string;
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-validations'?: { rule: string; message: string }[];
  [HINT]?: string;
}

export function node(schema: TSchema): SchemaNode {
  return schema as unknown as SchemaNode;
}
