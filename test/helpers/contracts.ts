// Checks HTTP requests and responses against the providers' OpenAPI operator subsets in
// ../shared/contracts (read from there, never copied). Handles the quirks documented beside them:
// OpenAPI 3.0 `nullable`/readOnly/writeOnly, DigitalOcean's tag pattern, Cloudflare's create-body and
// error-body schemas.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { repoRoot } from './samples.ts';
import type { ContractCheck } from '../../src/cloud/fake/contract.ts';

// ajv-formats is CommonJS; its default export arrives wrapped under ESM.
const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule) as unknown as (ajv: Ajv) => void;

export const contractsDir = process.env.HARDWAY_CONTRACTS_DIR ?? path.resolve(repoRoot, '../shared/contracts');

type Json = Record<string, any>;
type Mode = 'request' | 'response';

/** A deep copy of the document where each schema drops the properties the other direction owns. */
function forMode(doc: Json, mode: Mode): Json {
  const drop = mode === 'request' ? 'readOnly' : 'writeOnly';
  const walk = (v: any): any => {
    if (Array.isArray(v)) return v.map(walk);
    if (!v || typeof v !== 'object') return v;
    const out: Json = {};
    for (const [k, x] of Object.entries(v)) out[k] = walk(x);
    if (out.properties && typeof out.properties === 'object') {
      const removed = Object.keys(out.properties).filter((k) => out.properties[k]?.[drop] === true);
      for (const k of removed) delete out.properties[k];
      if (Array.isArray(out.required)) out.required = out.required.filter((k: string) => !removed.includes(k));
    }
    return out;
  };
  return walk(doc);
}

const escape = (s: string) => s.replace(/~/g, '~0').replace(/\//g, '~1');

interface Operation {
  method: string;
  template: string;
  regex: RegExp;
  op: Json;
}

export class OpenApiContract implements ContractCheck {
  private readonly ajv: Ajv;
  private readonly ops: Operation[] = [];
  private readonly compiled = new Map<string, ValidateFunction>();

  constructor(
    private readonly doc: Json,
    private readonly basePath: string,
    private readonly quirks: {
      requestSchemaPointer?: (op: Operation, body: Json) => string | undefined;
      errorSchemaPointer?: (op: Operation, status: number) => string | undefined;
      bodyOptional?: (op: Operation) => boolean;
      /** Adjusts a response body before validation, for documented differences of the live API. */
      normalizeResponse?: (status: number, body: unknown) => unknown;
    } = {},
  ) {
    this.ajv = new Ajv({ strict: false, allErrors: true, unicodeRegExp: false, validateFormats: true });
    addFormats(this.ajv);
    this.ajv.addSchema(forMode(doc, 'request'), 'request');
    this.ajv.addSchema(forMode(doc, 'response'), 'response');
    for (const [template, item] of Object.entries(doc.paths as Json)) {
      for (const [method, op] of Object.entries(item as Json)) {
        if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
        const regex = new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`);
        this.ops.push({ method: method.toUpperCase(), template, regex, op: op as Json });
      }
    }
    // Literal paths win over templated ones (/v2/droplets/actions before /v2/droplets/{id}).
    this.ops.sort((a, b) => (a.template.match(/\{/g)?.length ?? 0) - (b.template.match(/\{/g)?.length ?? 0));
  }

  private find(method: string, urlPath: string): Operation | undefined {
    const p = urlPath.startsWith(this.basePath) ? urlPath.slice(this.basePath.length) : urlPath;
    return this.ops.find((o) => o.method === method && o.regex.test(p));
  }

  private validator(mode: Mode, pointer: string): ValidateFunction {
    const key = `${mode}#${pointer}`;
    let v = this.compiled.get(key);
    if (!v) this.compiled.set(key, (v = this.ajv.compile({ $ref: `${mode}#${pointer}` })));
    return v;
  }

  private errors(v: ValidateFunction, data: unknown, what: string): string[] {
    if (v(data)) return [];
    return (v.errors ?? []).slice(0, 5).map((e) => `${what}: ${e.instancePath || '(root)'} ${e.message}${e.params && 'allowedValues' in e.params ? ` ${JSON.stringify(e.params.allowedValues)}` : ''}`);
  }

  private resolve(obj: Json): { value: Json; pointer?: string } {
    if (obj?.$ref) {
      const pointer = String(obj.$ref).slice(1);
      const value = pointer.split('/').slice(1).reduce((o: Json, k) => o[k.replace(/~1/g, '/').replace(/~0/g, '~')], this.doc);
      return { value, pointer };
    }
    return { value: obj };
  }

  checkRequest(method: string, urlPath: string, query: URLSearchParams, body: unknown): string[] {
    const op = this.find(method, urlPath);
    if (!op) return [`${method} ${urlPath}: no such operation in the contract`];
    const problems: string[] = [];
    const where = `${method} ${op.template}`;
    for (const raw of (op.op.parameters ?? []) as Json[]) {
      const { value: param, pointer } = this.resolve(raw);
      if (param.in !== 'query' || !query.has(param.name)) continue;
      const text = query.get(param.name)!;
      const type = param.schema?.type ?? this.resolve(param.schema ?? {}).value.type;
      const value = type === 'integer' || type === 'number' ? Number(text) : type === 'boolean' ? text === 'true' : text;
      const schemaPointer = pointer
        ? `${pointer}/schema`
        : `/paths/${escape(op.template)}/${method.toLowerCase()}/parameters/${(op.op.parameters as Json[]).indexOf(raw)}/schema`;
      problems.push(...this.errors(this.validator('request', schemaPointer), value, `${where} query ${param.name}`));
    }
    if (op.op.requestBody) {
      const quirk = this.quirks.requestSchemaPointer?.(op, body as Json);
      const { value: rb, pointer } = this.resolve(op.op.requestBody);
      const base = pointer ?? `/paths/${escape(op.template)}/${method.toLowerCase()}/requestBody`;
      const schemaPointer = quirk ?? (rb.content?.['application/json'] ? `${base}/content/application~1json/schema` : undefined);
      if (schemaPointer && body !== undefined) problems.push(...this.errors(this.validator('request', schemaPointer), body, `${where} request body`));
      else if (rb.required && body === undefined && !this.quirks.bodyOptional?.(op)) problems.push(`${where}: request body is required`);
    }
    return problems;
  }

  checkResponse(method: string, urlPath: string, status: number, body: unknown): string[] {
    const op = this.find(method, urlPath);
    if (!op) return [`${method} ${urlPath}: no such operation in the contract`];
    const where = `${method} ${op.template} → ${status}`;
    const data = this.quirks.normalizeResponse ? this.quirks.normalizeResponse(status, body) : body;
    const quirk = this.quirks.errorSchemaPointer?.(op, status);
    if (quirk) return this.errors(this.validator('response', quirk), data, `${where} body`);
    const responses = op.op.responses as Json;
    const key = [String(status), `${String(status)[0]}XX`, 'default'].find((k) => responses[k]);
    if (!key) return [`${where}: status not declared by the contract`];
    const { value: resp, pointer } = this.resolve(responses[key]);
    const content = resp.content?.['application/json'];
    if (!content) return body === undefined || body === '' ? [] : [`${where}: the contract declares no body`];
    const base = pointer ?? `/paths/${escape(op.template)}/${method.toLowerCase()}/responses/${key}`;
    return this.errors(this.validator('response', `${base}/content/application~1json/schema`), data, `${where} body`);
  }
}

function readContract(file: string): Json {
  const full = path.join(contractsDir, file);
  try {
    return JSON.parse(readFileSync(full, 'utf8'));
  } catch (e) {
    throw new Error(`cannot read the provider contract ${full}: the contracts live in ../shared/contracts beside the checkout (or set HARDWAY_CONTRACTS_DIR). ${(e as Error).message}`);
  }
}

let digitalocean: OpenApiContract | undefined;
let cloudflare: OpenApiContract | undefined;

export function digitalOceanContract(): OpenApiContract {
  return (digitalocean ??= new OpenApiContract(readContract('digitalocean/digitalocean-v2.operator.json'), ''));
}

export function cloudflareContract(): OpenApiContract {
  return (cloudflare ??= new OpenApiContract(readContract('cloudflare/cloudflare-v4.operator.json'), '/client/v4', {
    // Quirk 1: the create/PUT body schema demands response-only fields; validate against the per-type schema.
    requestSchemaPointer: (op, body) =>
      /dns_records/.test(op.template) && ['POST', 'PUT', 'PATCH'].includes(op.method) && typeof body?.type === 'string'
        ? `/components/schemas/dns-records_${body.type}Record`
        : undefined,
    // Quirk 2: the 4XX schema can never be satisfied; error bodies use the common failure schema. It also
    // covers 5xx, which the live API sends but the 2024 spec leaves undeclared on these operations.
    errorSchemaPointer: (_op, status) => (status >= 400 ? '/components/schemas/dns-records_api-response-common-failure' : undefined),
    // The live API's rate-limit body uses code 971 (FACTS §3.2), below the spec's minimum of 1000.
    normalizeResponse: (status, body) => {
      const b = body as { errors?: { code: number }[] } | undefined;
      if (status !== 429 || !b?.errors) return body;
      return { ...b, errors: b.errors.map((e) => (e.code === 971 ? { ...e, code: 1000 } : e)) };
    },
    // The 2024 spec marks DELETE's (empty) body required; the live API and the official SDK send none.
    bodyOptional: (op) => op.method === 'DELETE',
  }));
}
