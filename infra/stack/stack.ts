/**
 * `ciclo stack up | down | status | logs`: installs what is missing, starts, health-checks and stops the
 * native services. A service whose endpoint is configured (KAFKA_BROKERS, SCHEMA_REGISTRY_URL,
 * CLICKHOUSE_URL) is external: the stack never starts or stops it, only reports its health.
 */
import fs from 'node:fs';
import type { CicloConfig } from '../config';
import { CicloError } from '../errors';
import { describeKafkaCluster } from '../kafka/health';
import { redactUrl, splitUrlCredentials } from '../url-credentials';
import { clickhouseService } from './clickhouse-service';
import { kafkaService } from './kafka-service';
import { postgresqlService } from './postgresql-service';
import { isAlive, isPortFree, readPid, stopProcessGroup, tailFile, waitFor } from './processes';
import { schemaRegistryService } from './registry-service';
import type { NativeService, ServiceHealth, ServiceName } from './service';

export interface ServiceReport {
  readonly name: ServiceName;
  /** Where it answers, without a password (redactUrl): reports are printed. */
  readonly address: string;
  readonly managed: boolean;
  readonly running: boolean;
  readonly health: ServiceHealth;
}

export interface Stack {
  up(say: (line: string) => void): Promise<ServiceReport[]>;
  down(say: (line: string) => void): Promise<void>;
  status(): Promise<ServiceReport[]>;
  logs(name: ServiceName | undefined, lines: number): string;
}

/**
 * Order matters: the registry keeps its schemas in PostgreSQL, which is part of the stack only when the
 * registry is (a registry of one's own brings its own storage).
 */
export function createStack(config: CicloConfig): Stack {
  const ep = config.endpoints;
  const postgresql = postgresqlService(config.home);
  const services: { service: NativeService; external: boolean }[] = [
    { service: kafkaService(config.home), external: ep.kafka.external },
    { service: clickhouseService(config.home), external: ep.clickhouse.external },
    ...(ep.schemaRegistry.external ? [] : [{ service: postgresql, external: false }]),
    { service: schemaRegistryService(config.home, postgresql), external: ep.schemaRegistry.external },
  ];

  /** PostgreSQL is never external: with a registry of one's own it is not part of the stack at all. */
  const externalProbe: Record<Exclude<ServiceName, 'postgresql'>, () => Promise<ServiceHealth>> = {
    kafka: async () => {
      try {
        const info = await describeKafkaCluster(ep.kafka.brokers, 3000);
        return { healthy: info.brokerCount > 0, detail: `${info.brokerCount} broker(s)` };
      } catch (err) {
        return { healthy: false, detail: (err as Error).message };
      }
    },
    'schema-registry': async () => probeHttp(`${ep.schemaRegistry.url.replace(/\/$/, '')}/subjects`),
    clickhouse: async () => probeHttp(`${ep.clickhouse.url.replace(/\/$/, '')}/ping`),
  };
  const addressOf = (s: NativeService, external: boolean): string => {
    if (!external) return s.address;
    if (s.name === 'kafka') return ep.kafka.brokers.join(',');
    return redactUrl(s.name === 'clickhouse' ? ep.clickhouse.url : ep.schemaRegistry.url);
  };

  async function report(s: NativeService, external: boolean): Promise<ServiceReport> {
    const health = external && s.name !== 'postgresql' ? await externalProbe[s.name]() : await s.probe();
    const pid = readPid(s.pidFile);
    return {
      name: s.name,
      address: addressOf(s, external),
      managed: !external,
      running: external ? health.healthy : pid !== undefined && isAlive(pid),
      health,
    };
  }

  return {
    async up(say) {
      fs.mkdirSync(config.home, { recursive: true });
      const reports: ServiceReport[] = [];
      for (const { service: s, external } of services) {
        if (external) {
          const r = await report(s, true);
          say(
            `${s.name}: external at ${r.address} (${r.health.healthy ? 'healthy' : `not answering: ${r.health.detail ?? ''}`})`,
          );
          reports.push(r);
          continue;
        }
        const before = await s.probe();
        const pid = readPid(s.pidFile);
        const ours = pid !== undefined && isAlive(pid);
        if (before.healthy && ours) {
          say(`${s.name}: already healthy at ${s.address}`);
          reports.push(await report(s, false));
          continue;
        }
        if (!ours) {
          for (const port of s.ports) {
            if (!(await isPortFree(port))) {
              throw new CicloError(
                'PORT_TAKEN',
                `${s.name}: port ${port} is taken by another process: stop it, or point ciclo at it with ${envVarFor(s.name)}`,
              );
            }
          }
          await s.install(say);
          const started = Date.now();
          await s.start(say);
          say(`${s.name}: starting`);
          const newPid = readPid(s.pidFile);
          await waitFor(
            `${s.name} (log: ${s.logFile})`,
            async () => ((await s.probe()).healthy ? true : undefined),
            {
              timeoutMs: s.startTimeoutMs,
              isDead: () => newPid === undefined || !isAlive(newPid),
            },
          ).catch((err: unknown) => {
            throw new CicloError(
              'SERVICE_UNHEALTHY',
              `${s.name} did not become healthy; last log lines:\n${tailFile(s.logFile, 15)}`,
              { cause: err },
            );
          });
          say(`${s.name}: healthy at ${s.address} after ${((Date.now() - started) / 1000).toFixed(1)}s`);
          await s.afterStart?.(say);
        } else {
          // Our process is alive but not answering yet: it is still starting.
          await waitFor(s.name, async () => ((await s.probe()).healthy ? true : undefined), {
            timeoutMs: s.startTimeoutMs,
          });
          say(`${s.name}: healthy at ${s.address}`);
        }
        reports.push(await report(s, false));
      }
      return reports;
    },

    async down(say) {
      for (const { service: s, external } of [...services].reverse()) {
        if (external) {
          say(`${s.name}: external, left running`);
          continue;
        }
        const pid = readPid(s.pidFile);
        const wasRunning = pid !== undefined && isAlive(pid);
        if (wasRunning) await s.stop?.();
        await stopProcessGroup(s.pidFile);
        say(`${s.name}: ${wasRunning ? 'stopped' : 'not running'}`);
      }
    },

    async status() {
      return Promise.all(services.map(({ service, external }) => report(service, external)));
    },

    logs(name, lines) {
      return services
        .filter(({ service }) => name === undefined || service.name === name)
        .map(
          ({ service }) =>
            `==> ${service.name} (${service.logFile}) <==\n${tailFile(service.logFile, lines)}`,
        )
        .join('\n');
    },
  };
}

function envVarFor(name: ServiceName): string {
  switch (name) {
    case 'kafka':
      return 'KAFKA_BROKERS';
    case 'schema-registry':
      return 'SCHEMA_REGISTRY_URL';
    case 'clickhouse':
      return 'CLICKHOUSE_URL';
    case 'postgresql':
      return 'SCHEMA_REGISTRY_URL (a registry of your own brings its own storage)';
    default: {
      const never: never = name;
      return never;
    }
  }
}

/** An endpoint's credentials go in a header: fetch refuses them in a URL, and its error would print them. */
async function probeHttp(endpoint: string): Promise<ServiceHealth> {
  try {
    const { url, authorization } = splitUrlCredentials(endpoint);
    const res = await fetch(url, {
      signal: AbortSignal.timeout(3000),
      ...(authorization ? { headers: { authorization } } : {}),
    });
    return res.ok ? { healthy: true } : { healthy: false, detail: `HTTP ${res.status}` };
  } catch (err) {
    return { healthy: false, detail: (err as Error).message };
  }
}
