/**
 * The ClickHouse projector. Consumes touchpoints, stage changes and customer snapshots and inserts them
 * into the tables of projections/migrations. Delivery: at least once into ClickHouse, exactly once in
 * every query, because the tables are ReplacingMergeTree keyed by the event's identity and read through
 * FINAL: a redelivered event replaces itself.
 *
 * Batching: the broker batches fetches by size and time (minBytes, maxWaitTimeMs); the rows of the batches
 * handled while an insert runs are coalesced into the next insert per table, sent in blocks of at most as
 * many month partitions as the server takes in one insert (partitions.ts). The next fetch does not wait for
 * the inserts; a partition's offsets are committed only once its batches up to them are inserted
 * (MessageConsumer.runHandedOver). When ClickHouse is down, inserts are retried with backoff; once
 * MAX_WAITING_ROWS (table-queues.ts) wait for a table, consumption pauses (the group membership is kept
 * alive) and resumes where it stopped. Undecodable or invalid messages, and rows ClickHouse rejects as
 * bad data (never retried), go to the projector's dead-letter topic with the reason in headers.
 */
import { connectClickHouseServer, type ClickHouseEngine } from '../../infra/clickhouse/engine';
import type { ServiceEndpoints } from '../../infra/config';
import { CicloError } from '../../infra/errors';
import {
  connectConsumer,
  type BatchControl,
  type HandedOver,
  type MessageConsumer,
} from '../../infra/kafka/consumer';
import { connectProducer, type MessageProducer } from '../../infra/kafka/producer';
import type { IncomingMessage, OutgoingMessage } from '../../infra/kafka/types';
import type { Logger } from '../../infra/log';
import { observeConsumerLag } from '../../infra/metrics/consumer-lag';
import type { Metrics } from '../../infra/metrics/registry';
import { createAvroRegistry } from '../../infra/registry/schema-registry';
import { pendingMigrations } from '../migrations/migrate';
import { CONTRACTS } from '../../schemas/contracts';
import { deadLetterOf, type DeadLetterReason } from '../../schemas/outputs';
import { isLaneControl } from '../../schemas/lanes';
import { forgetMarkerOf, isForgetMarker } from '../../schemas/forget';
import { connectPrivacy } from '../../infra/privacy/connect';
import { privateSerde } from '../../infra/privacy/personal-data';
import { forgottenIds, idsOfRecord, idsOfValue } from './forgotten';
import { createSerde, type ContractSerde, type Decoded } from '../../infra/registry/serde';
import {
  isLinkCopy,
  MERGED_INTO_HEADER,
  parseSnapshotKey,
  SEQUENCE_HEADER,
  TOPICS,
  valueSubject,
} from '../../schemas/topics';
import { identifier } from '../sql';
import { registerProjectorMetrics } from './metrics';
import { insertByPartition, occurredMonthOf, type BlockOutcome } from './partitions';
import { tableQueues } from './table-queues';
import {
  toCustomerStateRow,
  toRemovedCustomerRow,
  type CustomerRemoval,
  toStageChangeRow,
  toTouchpointRow,
  type Row,
} from './rows';

export interface ProjectorCounters {
  received: number;
  inserted: number;
  /** Snapshots not projected because a later one of the same customer came in the same batch. */
  superseded: number;
  deadLettered: number;
  insertRetries: number;
  /** Inserts whose rows spanned more partitions than one insert may hold, so were sent in several blocks. */
  splitInserts: number;
  /** Messages of forgotten ids, not projected (`ciclo forget`). */
  suppressed: number;
  /**
   * Touchpoints projected without their personal fields because their key was gone although no forget
   * names them: a writer that sealed with a key it did not keep, or a person-key topic that lost records.
   */
  unopened: number;
}

export interface RunningProjector {
  readonly counters: Readonly<ProjectorCounters>;
  stop(): Promise<void>;
}

export interface ProjectorOptions {
  readonly endpoints: ServiceEndpoints;
  readonly groupId?: string;
  readonly log: Logger;
  readonly now?: () => number;
  readonly minBytes?: number;
  readonly maxWaitTimeMs?: number;
  readonly maxBackoffMs?: number;
  /**
   * At most this many partitions in one insert, below the server's own limit (read at start); for tests that
   * split inserts on a server without a limit (18.16).
   */
  readonly maxPartitionsPerInsert?: number;
  /** Where to report the projector's metrics (metrics.ts) and its consumer lag; none when absent. */
  readonly metrics?: Metrics;
  /**
   * The installation's secret (infra/privacy/installation-secret.ts): with it, the projector opens sealed
   * personal fields (infra/privacy/personal-data.ts) and drops what it reads of forgotten ids (the suppression
   * list, and forget markers on the touchpoint topic). The CLI always passes it; tests of other concerns
   * may leave it out.
   */
  readonly secret?: Buffer;
  /** Topic names, overridable so tests can run on their own topics. */
  readonly topics?: {
    touchpoints: string;
    stageChanges: string;
    customerSnapshots: string;
    deadLetter: string;
  };
}

/** ClickHouse error codes that mean "this data is wrong": retrying cannot help (cf. Vector's sink). */
const BAD_DATA_CODES = new Set([
  '6',
  '26',
  '27',
  '38',
  '41',
  '53',
  '69',
  '70',
  '72',
  '117',
  '130',
  '131',
  '241',
]);

/**
 * The ClickHouse error code of an error: `code` as the HTTP client (@clickhouse/client) sets it, else the
 * 'Code: 252.' that the server's message starts with (what chdb throws, with a code of its own).
 */
function clickHouseCodeOf(err: unknown): string | undefined {
  const { code, message } = (err ?? {}) as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && /^\d+$/.test(code)) return code;
  return typeof message === 'string' ? /\bCode: (\d+)/.exec(message)?.[1] : undefined;
}

export function isBadDataError(err: unknown): boolean {
  const code = clickHouseCodeOf(err);
  return code !== undefined && BAD_DATA_CODES.has(code);
}

/**
 * An insert refused because its rows span more partitions than `max_partitions_per_insert_block`: never
 * transient, the same rows are refused again (partitions.ts). TOO_MANY_PARTS (252) also names a partition
 * with more active parts than merges keep up with ('Too many parts (300)...'), which is transient: ClickHouse
 * asks the writer to slow down. Only the message tells them apart: 'Too many partitions for single INSERT
 * block (more than 100)' as 26.7 words it, 'for a single INSERT block' as the settings' docs quote it.
 */
export function isTooManyPartitionsError(err: unknown): boolean {
  const message = (err as { message?: unknown } | undefined)?.message;
  return (
    clickHouseCodeOf(err) === '252' &&
    typeof message === 'string' &&
    /too many partitions for (a )?single insert block/i.test(message)
  );
}

/**
 * The most partitions one insert may hold on this server: its `max_partitions_per_insert_block` (0 is no
 * limit), as this connection's profile sets it. Debian's 18.16 has no such setting (its library holds no
 * such name) and no limit.
 */
export async function partitionLimitOf(engine: ClickHouseEngine): Promise<number> {
  const rows = await engine.query<{ value: string }>(
    "SELECT value FROM system.settings WHERE name = 'max_partitions_per_insert_block'",
  );
  const limit = Number(rows[0]?.value);
  return Number.isSafeInteger(limit) && limit > 0 ? limit : Infinity;
}

/**
 * The projector's ClickHouse settings on a cluster, where it writes into Distributed tables (migrations/
 * cluster.ts). `insert_distributed_sync`: an insert returns once a replica of the shard has written the rows,
 * so an offset is committed only for rows a replica holds, and that replica's ZooKeeper log copies them to
 * the others (internal_replication). Without it, a server writes its own replica at once (18.16 checked) but
 * queues rows for a shard it is not a replica of on its disk, to send later: the setting keeps the guarantee
 * whichever server the projector reaches, and with prefer_localhost_replica off.
 */
export const CLUSTER_WRITE_SETTINGS: Readonly<Record<string, string>> = { insert_distributed_sync: '1' };

/**
 * The server's URL with settings for every query of a client made from it: @clickhouse/client takes
 * `clickhouse_setting_<name>` parameters of its URL as settings, and sends them with each request.
 */
export function withClickHouseSettings(url: string, settings: Readonly<Record<string, string>>): string {
  const u = new URL(url);
  for (const [name, value] of Object.entries(settings))
    u.searchParams.set(`clickhouse_setting_${name}`, value);
  return u.toString();
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A batch with nothing to insert or dead-letter. */
const NOTHING_TO_DO: HandedOver = { done: Promise.resolve() };

type Target = {
  table: string;
  toRow: (value: never, now: number) => Row;
  serde: ContractSerde<unknown>;
  /** The table's PARTITION BY, computed from a row (migrations/sql); one partition for a table without. */
  partitionOf: (row: Row) => string;
};
const ONE_PARTITION = (): string => '';

const isControl = (headers: IncomingMessage['headers']): boolean =>
  isLaneControl(headers) || isForgetMarker(headers);

/**
 * A snapshot tombstone that says where the profile went (the processor's merge of a profile into another
 * customer): projected as a removal row. A tombstone without these headers only deletes (the form before).
 */
export function removalOf(m: IncomingMessage): CustomerRemoval | undefined {
  if (m.value !== null || m.key === null) return undefined;
  const mergedInto = m.headers[MERGED_INTO_HEADER];
  const sequence = Number(m.headers[SEQUENCE_HEADER]);
  const key = parseSnapshotKey(m.key);
  if (mergedInto === undefined || !Number.isSafeInteger(sequence) || sequence < 0 || key === undefined)
    return undefined;
  return { ...key, sequence, mergedInto };
}

/**
 * Which of one partition's snapshot messages to project: for each key (model and customer), only the last
 * one with a value or a removal. customer_state keeps one row per customer, the highest sequence and, among
 * equal ones, the last inserted (ReplacingMergeTree(sequence)); a customer's snapshots come in order with a
 * nondecreasing sequence, and a removal carries the last one, so the last of a batch is the row its
 * predecessors would have lost to anyway. A backlog holds many snapshots of the same customers (the
 * processor writes one per customer per batch it folds), and each one skipped is a decode, a row and
 * ClickHouse's work saved. Messages without a key are all kept.
 */
export function latestSnapshots(messages: readonly IncomingMessage[]): boolean[] {
  const keep = new Array<boolean>(messages.length).fill(false);
  const seen = new Set<string>();
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i]!;
    if (!m.value && removalOf(m) === undefined) continue;
    if (m.key === null) keep[i] = true;
    else if (!seen.has(m.key)) {
      seen.add(m.key);
      keep[i] = true;
    }
  }
  return keep;
}

export async function startProjector(options: ProjectorOptions): Promise<RunningProjector> {
  const { endpoints, log } = options;
  const now = options.now ?? Date.now;
  const topics = options.topics ?? {
    touchpoints: TOPICS.touchpoints.name,
    stageChanges: TOPICS.stageChanges.name,
    customerSnapshots: TOPICS.customerSnapshots.name,
    deadLetter: TOPICS.projectorDeadLetter.name,
  };
  const db = identifier(endpoints.clickhouse.database);
  const registry = createAvroRegistry(endpoints.schemaRegistry.url);
  const privacy =
    options.secret &&
    (await connectPrivacy({
      brokers: endpoints.kafka.brokers,
      touchpointTopic: topics.touchpoints,
      secret: options.secret,
      clientId: 'ciclo-projector',
      writable: false,
      log,
    }));
  const forgotten = forgottenIds(options.secret, privacy?.suppression);
  const touchpointSerde = await createSerde(registry, CONTRACTS.touchpoint, valueSubject(topics.touchpoints));
  const targets = new Map<string, Target>([
    [
      topics.touchpoints,
      {
        table: `${db}.touchpoints`,
        toRow: toTouchpointRow,
        partitionOf: occurredMonthOf,
        serde: privacy
          ? privateSerde(touchpointSerde, privacy.privacy, () => (counters.unopened += 1))
          : touchpointSerde,
      },
    ],
    [
      topics.stageChanges,
      {
        table: `${db}.stage_changes`,
        toRow: toStageChangeRow,
        partitionOf: occurredMonthOf,
        serde: await createSerde(registry, CONTRACTS.stageChanged, valueSubject(topics.stageChanges)),
      },
    ],
    [
      topics.customerSnapshots,
      {
        table: `${db}.customer_state`,
        toRow: toCustomerStateRow,
        partitionOf: ONE_PARTITION,
        serde: await createSerde(
          registry,
          CONTRACTS.customerSnapshot,
          valueSubject(topics.customerSnapshots),
        ),
      },
    ],
  ]);
  const { cluster } = endpoints.clickhouse;
  const clickhouseUrls = endpoints.clickhouse.urls.map((url) =>
    cluster === undefined ? url : withClickHouseSettings(url, CLUSTER_WRITE_SETTINGS),
  );
  const engine: ClickHouseEngine = connectClickHouseServer({
    url: clickhouseUrls[0]!,
    urls: clickhouseUrls,
    requestTimeoutMs: 10_000,
  });
  const [pending, serverPartitionLimit] = await Promise.all([
    pendingMigrations(engine, endpoints.clickhouse.database, cluster === undefined ? {} : { cluster }),
    partitionLimitOf(engine),
  ]).catch(async (err: unknown) => {
    await engine.close();
    throw err;
  });
  const partitionLimit = Math.min(serverPartitionLimit, options.maxPartitionsPerInsert ?? Infinity);
  if (pending.length > 0) {
    await engine.close();
    throw new CicloError(
      'CONFIG_INVALID',
      `ClickHouse database ${endpoints.clickhouse.database} lacks migrations ${pending.join(', ')}: run ciclo migrate`,
    );
  }
  const deadLetters: MessageProducer = await connectProducer({
    brokers: endpoints.kafka.brokers,
    clientId: 'ciclo-projector-dlq',
    log,
  });
  const counters: ProjectorCounters = {
    received: 0,
    inserted: 0,
    superseded: 0,
    deadLettered: 0,
    insertRetries: 0,
    splitInserts: 0,
    suppressed: 0,
    unopened: 0,
  };
  const maxBackoffMs = options.maxBackoffMs ?? 5000;
  const observeInsert = options.metrics && registerProjectorMetrics(options.metrics, counters);

  const deadLetter = (m: IncomingMessage, reason: DeadLetterReason, error: string): OutgoingMessage =>
    deadLetterOf(m, { reason, error, stage: 'projector', failedAt: now() });

  let stopping = false;

  /**
   * One insert, in blocks of at most `partitionLimit` partitions (partitions.ts), each retried with backoff
   * while ClickHouse is unavailable; bad data is never retried.
   */
  async function insertWithRetry(target: Target, rows: Row[]): Promise<'inserted' | 'rejected'> {
    let blocks = 0;
    const outcome = await insertByPartition(rows, target.partitionOf, partitionLimit, (block) => {
      blocks += 1;
      return insertBlockWithRetry(target.table, block);
    });
    if (blocks > 1) counters.splitInserts += 1;
    return outcome;
  }

  async function insertBlockWithRetry(table: string, rows: readonly Row[]): Promise<BlockOutcome> {
    let backoff = 250;
    for (;;) {
      try {
        const began = performance.now();
        await engine.insert(table, rows);
        observeInsert?.({ table, durationMs: performance.now() - began });
        return 'inserted';
      } catch (err) {
        if (isTooManyPartitionsError(err)) {
          log.warn(
            { table, rows: rows.length, partitionLimit, error: (err as Error).message },
            'ClickHouse refused the insert for its partitions: sending it one partition per insert',
          );
          return 'too-many-partitions';
        }
        if (isBadDataError(err)) {
          log.error(
            { err, table, rows: rows.length },
            'ClickHouse rejected the rows as bad data: dead-lettering them',
          );
          return 'rejected';
        }
        if (stopping) throw err;
        counters.insertRetries += 1;
        log.warn(
          { table, backoffMs: backoff, error: (err as Error).message },
          'ClickHouse unavailable: holding the batch and pausing consumption',
        );
        await sleep(backoff);
        backoff = Math.min(maxBackoffMs, backoff * 2);
      }
    }
  }

  const queues = tableQueues(insertWithRetry, () => stopping);

  /** The batch's rows inserted (or dead-lettered as bad data), and the messages it could not use dead-lettered. */
  async function finish(
    target: Target,
    rows: Row[],
    accepted: readonly IncomingMessage[],
    rejected: OutgoingMessage[],
  ): Promise<void> {
    if (rows.length > 0) {
      const outcome = await queues.insertRows(target, rows);
      if (outcome === 'inserted') counters.inserted += rows.length;
      else
        for (const m of accepted)
          rejected.push(deadLetter(m, 'sink-rejected', 'ClickHouse rejected the batch as bad data'));
    }
    if (rejected.length > 0) {
      await deadLetters.send(topics.deadLetter, rejected);
      counters.deadLettered += rejected.length;
    }
  }

  async function project(batch: readonly IncomingMessage[], control: BatchControl): Promise<HandedOver> {
    const target = targets.get(batch[0]?.topic ?? '');
    if (!target) return NOTHING_TO_DO;
    // An import run's lane control records (schemas/lanes.ts) tell the processor where a run starts and
    // ends, and forget markers (schemas/forget.ts) whom to erase; they carry no touchpoint, so they are
    // neither decoded, projected nor counted as received. A marker's ids are dropped from here on.
    const controls = batch[0]!.topic === topics.touchpoints && batch.some((m) => isControl(m.headers));
    if (controls)
      for (const m of batch) {
        const marker = forgetMarkerOf(m.headers);
        if (typeof marker === 'object') forgotten.add(marker.pseudonyms);
      }
    const messages = controls ? batch.filter((m) => !isControl(m.headers)) : batch;
    if (messages.length === 0) return NOTHING_TO_DO;
    counters.received += messages.length;
    const projectedAt = now();
    const rows: Row[] = [];
    const accepted: IncomingMessage[] = [];
    const rejected: OutgoingMessage[] = [];
    const latest = messages[0]!.topic === topics.customerSnapshots ? latestSnapshots(messages) : undefined;
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i]!;
      if (latest !== undefined && !latest[i]) {
        if (m.value) counters.superseded += 1;
        continue;
      }
      if (forgotten.any() && forgotten.hasAny(idsOfRecord(m, latest !== undefined))) {
        counters.suppressed += 1;
        continue;
      }
      if (!m.value) {
        // A tombstone on the compacted snapshot topic: a merged profile's removal row, else nothing.
        const removal = latest !== undefined ? removalOf(m) : undefined;
        if (removal !== undefined) {
          rows.push(toRemovedCustomerRow(removal, projectedAt));
          accepted.push(m);
        }
        continue;
      }
      // A link's copy is not a fact of its own (schemas/topics.ts touchpointRecords): the link is projected
      // once, from the fact.
      if (m.topic === topics.touchpoints && isLinkCopy(m.headers)) continue;
      const decoded: Decoded<unknown> = await target.serde.decode(m.value);
      if (!decoded.ok) {
        rejected.push(deadLetter(m, decoded.reason, decoded.error));
        continue;
      }
      if (forgotten.any() && forgotten.hasAny(idsOfValue(decoded.value))) {
        counters.suppressed += 1;
        continue;
      }
      rows.push(target.toRow(decoded.value as never, projectedAt));
      accepted.push(m);
    }
    const done = finish(target, rows, accepted, rejected);
    await queues.heldBack(target, control);
    return { done };
  }

  const groupId = options.groupId ?? 'ciclo-projector';
  const consumedTopics = [topics.touchpoints, topics.stageChanges, topics.customerSnapshots];
  const lag =
    options.metrics &&
    observeConsumerLag(options.metrics, {
      brokers: endpoints.kafka.brokers,
      groups: [{ group: groupId, topics: consumedTopics }],
      log,
    });
  const consumer: MessageConsumer = await connectConsumer({
    brokers: endpoints.kafka.brokers,
    groupId,
    topics: consumedTopics,
    fromBeginning: true,
    minBytes: options.minBytes ?? 64 * 1024,
    maxWaitTimeMs: options.maxWaitTimeMs ?? 250,
    // A batch is one partition's messages; batches of all partitions of a fetch are handled at once and
    // their rows coalesced per table (insertRows). They share nothing else but the counters.
    partitionsConsumedConcurrently: 16,
    log,
  });
  await consumer.runHandedOver(project);
  log.info({ topics }, 'projector started');

  return {
    counters,
    async stop() {
      stopping = true; // an insert retrying through an outage gives up, so its batch is not committed
      await consumer.stop();
      await privacy?.close();
      await deadLetters.close();
      await engine.close();
      await lag?.close();
    },
  };
}
