// pino, JSON by default. Secrets never reach a log line: redaction covers tokens, keys, Secret data and
// cloud-init user-data wherever they sit in the first levels of a logged object.
import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

const SECRET_FIELDS = [
  'token',
  'authorization',
  'password',
  'privateKey',
  'privateKeyPem',
  'tlsKey',
  'caKey',
  'data',
  'stringData',
  'userData',
  'user_data',
  'digitalocean-token',
  'cloudflare-api-token',
  'apiToken',
  'clientKey',
  'client-key-data',
  'token-data',
];

/** fast-redact paths for each field at the top level and up to three levels down. */
export const REDACT_PATHS = SECRET_FIELDS.flatMap((f) => {
  const k = /^[A-Za-z_$][\w$]*$/.test(f) ? f : `["${f}"]`;
  const dot = (p: string) => (k.startsWith('[') ? `${p}${k}` : `${p}.${k}`);
  return [k, dot('*'), dot('*.*'), dot('*.*.*'), dot('headers')];
});

export interface LoggerConfig {
  level?: string;
  /** json (default): one JSON object per line; text: one human-readable line per entry. */
  format?: 'json' | 'text';
  /** Extra bindings on every line (component, version). */
  base?: Record<string, unknown>;
  /** Destination stream (tests capture lines); stdout by default. */
  destination?: NodeJS.WritableStream;
}

export function createLogger(cfg: LoggerConfig = {}): Logger {
  const opts: LoggerOptions = {
    level: cfg.level ?? 'info',
    base: { component: 'hardway-operator', ...cfg.base },
    redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    serializers: { err: pino.stdSerializers.err },
  };
  if (cfg.format === 'text') return pino(opts, textDestination(cfg.destination ?? process.stdout));
  return cfg.destination ? pino(opts, cfg.destination as pino.DestinationStream) : pino(opts);
}

const bare = /^[^\s"=]+$/;

/**
 * One entry as a human-readable line: time, level, component, message, then the other fields as key=value
 * (JSON where a value is not a bare word), and an error's stack on the lines after. pino redacts before it
 * serializes, so the JSON this reads is already redacted.
 */
export function textLine(entry: Record<string, unknown>): string {
  const { time, level, component, msg, err, ...rest } = entry;
  const fields = Object.entries(rest).map(([k, v]) => `${k}=${typeof v === 'string' && bare.test(v) ? v : JSON.stringify(v)}`);
  const e = err as { message?: string; stack?: string } | undefined;
  if (e) fields.push(`err=${JSON.stringify(e.message ?? e)}`);
  const head = [time, String(level ?? '').toUpperCase().padEnd(5), component ? `[${String(component)}]` : '', msg ?? ''].filter((x) => x !== '').join(' ');
  const line = [head, ...fields].join(' ');
  return e?.stack ? `${line}\n${e.stack.replace(/^/gm, '    ')}` : line;
}

function textDestination(out: NodeJS.WritableStream): pino.DestinationStream {
  return {
    write(chunk: string) {
      for (const line of chunk.split('\n')) {
        if (!line) continue;
        let entry: Record<string, unknown>;
        try {
          entry = JSON.parse(line);
        } catch {
          out.write(`${line}\n`);
          continue;
        }
        out.write(`${textLine(entry)}\n`);
      }
    },
  };
}
