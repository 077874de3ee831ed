// Composition root and process lifecycle: configuration → operator; SIGTERM/SIGINT stop it gracefully
// (exit 0), losing leadership or a fatal error exits non-zero so the pod restarts as a standby.
import { parseConfig, ConfigError, usage } from './runtime/config.ts';
import { createLogger } from './runtime/logger.ts';
import { startOperator } from './operator.ts';

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(usage());
    return;
  }
  let cfg;
  try {
    cfg = parseConfig(argv, process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger({ level: cfg.logLevel, format: cfg.logFormat });
  process.on('unhandledRejection', (err) => {
    log.fatal({ err }, 'unhandled promise rejection');
    process.exit(1);
  });

  let stopping = false;
  const operator = await startOperator(cfg, {
    log,
    onFatal: (reason) => {
      log.fatal({ reason }, 'stopping');
      process.exit(1);
    },
  }).catch((err: unknown) => {
    log.fatal({ err }, 'operator failed to start');
    process.exit(1);
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'shutting down');
      // A stuck stop must not keep the pod in Terminating forever.
      setTimeout(() => process.exit(1), 20_000).unref();
      operator.stop().then(
        () => process.exit(0),
        (err: unknown) => {
          log.error({ err }, 'error during shutdown');
          process.exit(1);
        },
      );
    });
  }
}

await main();
