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
import type { NativeService, ServiceHealth, ServiceKind } from './service';
import {
  layoutOf,
  readStackShape,
  STACK_CLICKHOUSE_CLUSTER,
  writeStackShape,
  type StackShape,
} from './shape';
import { zookeeperService } from './zookeeper-service';

export interface ServiceReport {
  readonly name: string;
  readonly kind: ServiceKind;
  /** Where it answers, without a password (redactUrl): reports are printed. */
  readonly address: string;
  readonly managed: boolean;
  readonly running: boolean;
  readonly health: ServiceHealth;
}

export interface Stack {
  readonly shape: StackShape;
  up(say: (line: string) => void): Promise<ServiceReport[]>;
  down(say: (line: string) => void): Promise<void>;
  status(): Promise<ServiceReport[]>;
  /** Services whose name or kind is `name` (all when undefined): `logs kafka` shows every broker's. */
  logs(name: string | undefined, lines: number): string;
  /** Every managed service by name, for tests that stop and start one member of a cluster. */
  readonly services: readonly NativeService[];
}

interface Member {
  readonly service: NativeService;
  readonly external: boolean;
}

/**
 * The stack of `shape` (default: the one recorded in the home by the last `up`, else one node). Order
 * matters: ZooKeeper before the ClickHouse replicas that need it, and the registry keeps its schemas in
 * PostgreSQL, which is part of the stack only when the registry is (a registry of one's own brings its
 * own storage). Services of one kind start together: a Kafka node cannot be healthy before a quorum of
 * its peers runs.
 */
export function createStack(config: CicloConfig, requested?: StackShape): Stack {
  const ep = config.endpoints;
  const recorded = readStackShape(config.home);
  const shape = requested ?? recorded;
  const layout = layoutOf(shape);
  const home = config.home;
  const kafkaNodes = layout.kafka.map((node) =>
    kafkaService(home, shape.brokers > 1 ? { cluster: { nodeId: node.nodeId, nodes: layout.kafka } } : {}),
  );
  const clickhouseReplicas = layout.clickhouse.map((replica) =>
    layout.zookeeperPort === undefined
      ? clickhouseService(home, { ports: replica })
      : clickhouseService(home, {
          ports: replica,
          replica: {
            index: replica.index,
            replicas: layout.clickhouse,
            zookeeperPort: layout.zookeeperPort,
            cluster: STACK_CLICKHOUSE_CLUSTER,
          },
        }),
  );
  const postgresql = postgresqlService(home, { port: layout.postgresqlPort });
  const registry = schemaRegistryService(home, postgresql, {
    port: layout.schemaRegistryPort,
    adminPort: layout.schemaRegistryAdminPort,
  });
  // An external kind is one member, probed at its configured endpoint.
  const ofKind = (services: NativeService[], external: boolean): Member[] =>
    (external ? services.slice(0, 1) : services).map((service) => ({ service, external }));
  const steps: Member[][] = [
    ofKind(kafkaNodes, ep.kafka.external),
    ...(layout.zookeeperPort !== undefined && !ep.clickhouse.external
      ? [[{ service: zookeeperService(home, { port: layout.zookeeperPort }), external: false }]]
      : []),
    ofKind(clickhouseReplicas, ep.clickhouse.external),
    ...(ep.schemaRegistry.external ? [] : [[{ service: postgresql, external: false }]]),
    [{ service: registry, external: ep.schemaRegistry.external }],
  ];
  const members = steps.flat();

  /** PostgreSQL and ZooKeeper are never external: they come with the registry and the replicas. */
  const externalProbe: Record<'kafka' | 'schema-registry' | 'clickhouse', () => Promise<ServiceHealth>> = {
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
    if (s.kind === 'kafka') return ep.kafka.brokers.join(',');
    return redactUrl(s.kind === 'clickhouse' ? ep.clickhouse.urls.join(',') : ep.schemaRegistry.url);
  };

  async function report(s: NativeService, external: boolean): Promise<ServiceReport> {
    const health =
      external && (s.kind === 'kafka' || s.kind === 'clickhouse' || s.kind === 'schema-registry')
        ? await externalProbe[s.kind]()
        : await s.probe();
    const pid = readPid(s.pidFile);
    return {
      name: external ? s.kind : s.name,
      kind: s.kind,
      address: addressOf(s, external),
      managed: !external,
      running: external ? health.healthy : pid !== undefined && isAlive(pid),
      health,
    };
  }

  const isRunning = (s: NativeService): boolean => {
    const pid = readPid(s.pidFile);
    return pid !== undefined && isAlive(pid);
  };

  /** Another shape's services still running would hold the ports and data this shape needs. */
  function refuseShapeChange(): void {
    if (requested === undefined || sameShape(requested, recorded)) return;
    const running = createStack(config, recorded)
      .services.filter(isRunning)
      .map((s) => s.name);
    if (running.length > 0)
      throw new CicloError(
        'CONFIG_INVALID',
        `the stack runs as ${describeShape(recorded)} (${running.join(', ')}): run \`ciclo stack down\` before \`ciclo stack up\` as ${describeShape(requested)}`,
      );
  }

  async function startStep(step: Member[], say: (line: string) => void): Promise<void> {
    const starting: { s: NativeService; started: number; pid: number | undefined }[] = [];
    for (const { service: s } of step) {
      if ((await s.probe()).healthy && isRunning(s)) {
        say(`${s.name}: already healthy at ${s.address}`);
        continue;
      }
      if (!isRunning(s)) {
        for (const port of s.ports) {
          if (!(await isPortFree(port))) {
            throw new CicloError(
              'PORT_TAKEN',
              `${s.name}: port ${port} is taken by another process: stop it, or point ciclo at it with ${envVarFor(s.kind)}`,
            );
          }
        }
        await s.install(say);
        const started = Date.now();
        await s.start(say);
        say(`${s.name}: starting`);
        starting.push({ s, started, pid: readPid(s.pidFile) });
      } else {
        // Our process is alive but not answering yet: it is still starting.
        starting.push({ s, started: Date.now(), pid: readPid(s.pidFile) });
      }
    }
    for (const { s, started, pid } of starting) {
      await waitFor(
        `${s.name} (log: ${s.logFile})`,
        async () => ((await s.probe()).healthy ? true : undefined),
        {
          timeoutMs: s.startTimeoutMs,
          isDead: () => pid === undefined || !isAlive(pid),
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
    }
  }

  return {
    shape,
    services: members.filter((m) => !m.external).map((m) => m.service),

    async up(say) {
      fs.mkdirSync(home, { recursive: true });
      refuseShapeChange();
      writeStackShape(home, shape);
      for (const step of steps) {
        const external = step.filter((m) => m.external);
        for (const { service: s } of external) {
          const r = await report(s, true);
          say(
            `${r.name}: external at ${r.address} (${r.health.healthy ? 'healthy' : `not answering: ${r.health.detail ?? ''}`})`,
          );
        }
        await startStep(
          step.filter((m) => !m.external),
          say,
        );
      }
      return Promise.all(members.map(({ service, external }) => report(service, external)));
    },

    async down(say) {
      for (const { service: s, external } of [...members].reverse()) {
        if (external) {
          say(`${s.kind}: external, left running`);
          continue;
        }
        const wasRunning = isRunning(s);
        if (wasRunning) await s.stop?.();
        await stopProcessGroup(s.pidFile);
        say(`${s.name}: ${wasRunning ? 'stopped' : 'not running'}`);
      }
    },

    async status() {
      return Promise.all(members.map(({ service, external }) => report(service, external)));
    },

    logs(name, lines) {
      return members
        .filter(({ service }) => name === undefined || service.name === name || service.kind === name)
        .map(
          ({ service }) =>
            `==> ${service.name} (${service.logFile}) <==\n${tailFile(service.logFile, lines)}`,
        )
        .join('\n');
    },
  };
}

function sameShape(a: StackShape, b: StackShape): boolean {
  return (
    a.brokers === b.brokers && a.clickhouseReplicas === b.clickhouseReplicas && a.portOffset === b.portOffset
  );
}

export function describeShape(shape: StackShape): string {
  const parts = [
    `${shape.brokers} broker${shape.brokers === 1 ? '' : 's'}`,
    `${shape.clickhouseReplicas} ClickHouse replica${shape.clickhouseReplicas === 1 ? '' : 's'}`,
  ];
  if (shape.portOffset > 0) parts.push(`ports +${shape.portOffset}`);
  return parts.join(', ');
}

function envVarFor(kind: ServiceKind): string {
  switch (kind) {
    case 'kafka':
      return 'KAFKA_BROKERS';
    case 'schema-registry':
      return 'SCHEMA_REGISTRY_URL';
    case 'clickhouse':
      return 'CLICKHOUSE_URL';
    case 'postgresql':
      return 'SCHEMA_REGISTRY_URL (a registry of your own brings its own storage)';
    case 'zookeeper':
      return 'CLICKHOUSE_URL (a ClickHouse cluster of your own brings its own ZooKeeper)';
    default: {
      const never: never = kind;
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
