/**
 * `--metrics-port` and `--metrics-host`, shared by `ciclo process` and `ciclo project`: without a port no
 * metrics are kept; with one, GET /metrics serves them (infra/metrics/server.ts), on loopback by default.
 */
import type { Command } from 'commander';
import type { Logger } from '../infra/log';
import { createMetrics, type Metrics } from '../infra/metrics/registry';
import { serveMetrics, type MetricsEndpoint } from '../infra/metrics/server';
import { parsePort } from './serve';

export interface MetricsOptions {
  metricsPort?: string;
  metricsHost: string;
}

export function withMetricsOptions(command: Command): Command {
  return command
    .option(
      '--metrics-port <port>',
      'serve Prometheus metrics on GET /metrics at this port (0: any free port)',
    )
    .option('--metrics-host <host>', 'interface the metrics endpoint listens on', '127.0.0.1');
}

/** The registry and its endpoint when a port was given (the port checked before anything starts). */
export async function startMetricsEndpoint(
  opts: MetricsOptions,
  log: Logger,
): Promise<{ metrics?: Metrics; endpoint?: MetricsEndpoint }> {
  if (opts.metricsPort === undefined) return {};
  const port = parsePort(opts.metricsPort, '--metrics-port');
  const metrics = createMetrics({ processMetrics: true });
  const endpoint = await serveMetrics(metrics, { port, host: opts.metricsHost, log });
  log.info({ url: endpoint.url }, 'serving metrics');
  return { metrics, endpoint };
}
