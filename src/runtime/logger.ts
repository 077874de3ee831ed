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
  return cfg.destination ? pino(opts, cfg.destination as pino.DestinationStream) : pino(opts);
}
