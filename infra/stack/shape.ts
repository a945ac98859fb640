/**
 * The shape of the stack `ciclo stack up` runs: how many Kafka brokers, how many ClickHouse replicas, and a
 * port offset so a second stack (a test cluster) can run beside the first. `stack up` records the shape in
 * `<home>/stack.json`; every later command reads it there, so `stack status`, `stack down` and the
 * pipeline's default endpoints follow the stack that runs. Pure: ports and endpoints come from the shape.
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { CicloError } from '../errors';
import { STACK_PORTS } from './versions';

export interface StackShape {
  readonly brokers: number;
  readonly clickhouseReplicas: number;
  /** Added to every port of the stack (0: the documented ports). */
  readonly portOffset: number;
}

export const SINGLE_NODE: StackShape = Object.freeze({ brokers: 1, clickhouseReplicas: 1, portOffset: 0 });

/** The name of the ClickHouse cluster (remote_servers) the stack's replicas form. */
export const STACK_CLICKHOUSE_CLUSTER = 'ciclo';

export const MAX_BROKERS = 5;
export const MAX_CLICKHOUSE_REPLICAS = 3;
/** The highest offset that keeps every port (PostgreSQL's 15432 is the highest base) below 65536. */
export const MAX_PORT_OFFSET = 65535 - 15432 - MAX_BROKERS * 2;

const ShapeSchema = z.object({
  brokers: z.number().int().min(1).max(MAX_BROKERS),
  clickhouseReplicas: z.number().int().min(1).max(MAX_CLICKHOUSE_REPLICAS),
  portOffset: z.number().int().min(0).max(MAX_PORT_OFFSET),
});

/** Checks a shape asked for on the command line; the error names the flag that is wrong. */
export function validShape(shape: StackShape): StackShape {
  const parsed = ShapeSchema.safeParse(shape);
  if (parsed.success) return Object.freeze(parsed.data);
  const flag: Record<string, string> = {
    brokers: `--brokers must be a whole number from 1 to ${MAX_BROKERS}`,
    clickhouseReplicas: `--clickhouse-replicas must be a whole number from 1 to ${MAX_CLICKHOUSE_REPLICAS}`,
    portOffset: `--port-offset must be a whole number from 0 to ${MAX_PORT_OFFSET}`,
  };
  const lines = parsed.error.issues.map((i) => flag[String(i.path[0])] ?? i.message);
  throw new CicloError('CONFIG_INVALID', [...new Set(lines)].join('; '));
}

export function isCluster(shape: StackShape): boolean {
  return shape.brokers > 1 || shape.clickhouseReplicas > 1;
}

export interface KafkaNodePorts {
  readonly nodeId: number;
  readonly port: number;
  readonly controllerPort: number;
}

export interface ClickHouseReplicaPorts {
  /** 1-based: the replica's macro is `r<index>`. */
  readonly index: number;
  readonly httpPort: number;
  readonly tcpPort: number;
  readonly interserverPort: number;
}

export interface StackLayout {
  readonly kafka: readonly KafkaNodePorts[];
  readonly clickhouse: readonly ClickHouseReplicaPorts[];
  /** Only when ClickHouse is replicated: the replicas coordinate through it. */
  readonly zookeeperPort?: number;
  readonly schemaRegistryPort: number;
  readonly schemaRegistryAdminPort: number;
  readonly postgresqlPort: number;
}

/** Node n's broker and controller ports follow the single node's, two apart: 9092/9093, 9094/9095, ... */
export function layoutOf(shape: StackShape): StackLayout {
  const o = shape.portOffset;
  const kafka = Array.from({ length: shape.brokers }, (_, i) => ({
    nodeId: i + 1,
    port: STACK_PORTS.kafka + 2 * i + o,
    controllerPort: STACK_PORTS.kafkaController + 2 * i + o,
  }));
  const clickhouse = Array.from({ length: shape.clickhouseReplicas }, (_, i) => ({
    index: i + 1,
    httpPort: STACK_PORTS.clickhouseHttp + i + o,
    tcpPort: STACK_PORTS.clickhouseNative + i + o,
    interserverPort: STACK_PORTS.clickhouseInterserver + i + o,
  }));
  return {
    kafka,
    clickhouse,
    ...(shape.clickhouseReplicas > 1 ? { zookeeperPort: STACK_PORTS.zookeeper + o } : {}),
    schemaRegistryPort: STACK_PORTS.schemaRegistry + o,
    schemaRegistryAdminPort: STACK_PORTS.schemaRegistryAdmin + o,
    postgresqlPort: STACK_PORTS.postgresql + o,
  };
}

/** What clients of a stack of this shape connect to. */
export interface StackEndpoints {
  readonly kafkaBrokers: readonly string[];
  readonly schemaRegistryUrl: string;
  /** Every replica; clients fail over from one to the next. */
  readonly clickhouseUrls: readonly string[];
  /** Set when ClickHouse is replicated: migrations run ON CLUSTER and tables are Distributed. */
  readonly clickhouseCluster?: string;
}

export function endpointsOf(shape: StackShape): StackEndpoints {
  const layout = layoutOf(shape);
  return {
    kafkaBrokers: layout.kafka.map((n) => `127.0.0.1:${n.port}`),
    schemaRegistryUrl: `http://127.0.0.1:${layout.schemaRegistryPort}/api/v1/confluent`,
    clickhouseUrls: layout.clickhouse.map((r) => `http://127.0.0.1:${r.httpPort}`),
    ...(shape.clickhouseReplicas > 1 ? { clickhouseCluster: STACK_CLICKHOUSE_CLUSTER } : {}),
  };
}

export function stackShapeFile(home: string): string {
  return path.join(home, 'stack.json');
}

/** The shape the stack in `home` was last brought up with; one node when it never was. */
export function readStackShape(home: string): StackShape {
  const file = stackShapeFile(home);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return SINGLE_NODE;
    throw err;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new CicloError('CONFIG_INVALID', `${file} is not JSON: remove it, and run ciclo stack up again`);
  }
  const parsed = ShapeSchema.safeParse(json);
  if (!parsed.success)
    throw new CicloError(
      'CONFIG_INVALID',
      `${file}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  return Object.freeze(parsed.data);
}

export function writeStackShape(home: string, shape: StackShape): void {
  const file = stackShapeFile(home);
  const tmp = `${file}.${process.pid}.tmp`;
  fs.mkdirSync(home, { recursive: true });
  fs.writeFileSync(tmp, `${JSON.stringify(shape, null, 2)}\n`);
  fs.renameSync(tmp, file); // a reader sees the old shape or the new one, never half of one
}
