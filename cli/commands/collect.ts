/**
 * `ciclo collect [--port 8090] [--host 127.0.0.1]`: the HTTP collector (Segment-compatible /v1 API) and the
 * provider webhooks, producing touchpoints to Kafka. Reads its own variables (CICLO_WRITE_KEYS,
 * CICLO_WEBHOOK_SECRETS, CICLO_HTTP_*_TIMEOUT_MS, ...; see producers/collector/README.md) from the
 * environment here, once. Stops on SIGINT/SIGTERM: no new requests, requests in flight finish, then the
 * producer is closed.
 */
import type { Command } from 'commander';
import type { CicloConfig } from '../../infra/config';
import { loadHttpServerTimeouts } from '../../infra/http-timeouts';
import { createLogger } from '../../infra/log';
import { loadInstallationSecret } from '../../infra/privacy/installation-secret';
import { loadCollectorConfig } from '../../producers/collector/config';
import { startCollector } from '../../producers/server/start';
import { loadWebhooksConfig } from '../../producers/webhooks/config';
import { parsePort, untilSignal } from '../serve';

const say = (line: string): void => void process.stdout.write(`${line}\n`);

export function registerCollectCommand(program: Command, getConfig: () => CicloConfig): void {
  program
    .command('collect')
    .description(
      'run the HTTP collector (Segment-compatible API) and provider webhooks, producing touchpoints to Kafka',
    )
    .option('--port <port>', 'port to listen on', '8090')
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option(
      '--topic <name>',
      'touchpoint topic to produce to (it must exist, and <name>.dlq for invalid calls; default ciclo.touchpoints, which the processor reads)',
    )
    .action(async (opts: { port: string; host: string; topic?: string }) => {
      const port = parsePort(opts.port);
      const config = getConfig();
      const { endpoints, logLevel } = config;
      // The key of every pseudonym this process writes (email-derived ids): the installation's, once.
      const pseudonymSecret = loadInstallationSecret(config.home, config.pseudonymSecret);
      const collectorConfig = loadCollectorConfig(process.env);
      const webhooks = loadWebhooksConfig(process.env, pseudonymSecret);
      const timeouts = loadHttpServerTimeouts(process.env);
      const log = createLogger({ level: logLevel, name: 'ciclo-collect' });

      const collector = await startCollector({
        endpoints,
        config: collectorConfig,
        webhooks,
        log,
        port,
        host: opts.host,
        timeouts,
        ...(opts.topic !== undefined ? { topic: opts.topic } : {}),
      });
      try {
        say(
          `ciclo collector listening on ${collector.url} (POST /v1/track|identify|page|screen|alias|batch, /webhooks/*)`,
        );
        const signal = await untilSignal(['SIGINT', 'SIGTERM']);
        log.info({ signal }, 'shutting down: refusing new requests, finishing those in flight');
      } finally {
        await collector.stop();
      }
      log.info('collector stopped');
    });
}
