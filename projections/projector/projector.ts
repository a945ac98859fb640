/**
 * The ClickHouse projector. Consumes touchpoints, stage changes and customer snapshots and inserts them
 * into the tables of projections/migrations. Delivery: at least once into ClickHouse, exactly once in
 * every query, because the tables are ReplacingMergeTree keyed by the event's identity and read through
 * FINAL: a redelivered event replaces itself.
 *
 * Batching: the broker batches fetches by size and time (minBytes, maxWaitTimeMs); the rows of the batches
 * handled at once are coalesced into one insert per table. Offsets are committed only after the insert succeeded. When ClickHouse is down,
 * the batch is held and retried with backoff (consumption pauses, the group membership is kept alive) and
 * resumes where it stopped. Undecodable or invalid messages, and rows ClickHouse rejects as bad data (never
 * retried), go to the projector's dead-letter topic with the reason in headers.
 */
import { connectClickHouseServer, type ClickHouseEngine } from '../../infra/clickhouse/engine';
import type { ServiceEndpoints } from '../../infra/config';
import { CicloError } from '../../infra/errors';
import { connectConsumer, type BatchControl, type MessageConsumer } from '../../infra/kafka/consumer';
import { connectProducer, type MessageProducer } from '../../infra/kafka/producer';
import type { IncomingMessage, OutgoingMessage } from '../../infra/kafka/types';
import type { Logger } from '../../infra/log';
import { createAvroRegistry } from '../../infra/registry/schema-registry';
import { pendingMigrations } from '../migrations/migrate';
import { CONTRACTS } from '../../schemas/contracts';
import { deadLetterOf, type DeadLetterReason } from '../../schemas/outputs';
import { isLaneControl } from '../../schemas/lanes';
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

export function isBadDataError(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && BAD_DATA_CODES.has(code);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

type Target = { table: string; toRow: (value: never, now: number) => Row; serde: ContractSerde<unknown> };

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
  const targets = new Map<string, Target>([
    [
      topics.touchpoints,
      {
        table: `${db}.touchpoints`,
        toRow: toTouchpointRow,
        serde: await createSerde(registry, CONTRACTS.touchpoint, valueSubject(topics.touchpoints)),
      },
    ],
    [
      topics.stageChanges,
      {
        table: `${db}.stage_changes`,
        toRow: toStageChangeRow,
        serde: await createSerde(registry, CONTRACTS.stageChanged, valueSubject(topics.stageChanges)),
      },
    ],
    [
      topics.customerSnapshots,
      {
        table: `${db}.customer_state`,
        toRow: toCustomerStateRow,
        serde: await createSerde(
          registry,
          CONTRACTS.customerSnapshot,
          valueSubject(topics.customerSnapshots),
        ),
      },
    ],
  ]);
  const engine: ClickHouseEngine = connectClickHouseServer({
    url: endpoints.clickhouse.url,
    requestTimeoutMs: 10_000,
  });
  const pending = await pendingMigrations(engine, endpoints.clickhouse.database).catch(
    async (err: unknown) => {
      await engine.close();
      throw err;
    },
  );
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
  };
  const maxBackoffMs = options.maxBackoffMs ?? 5000;

  const deadLetter = (m: IncomingMessage, reason: DeadLetterReason, error: string): OutgoingMessage =>
    deadLetterOf(m, { reason, error, stage: 'projector', failedAt: now() });

  let stopping = false;

  /** One insert, retried with backoff while ClickHouse is unavailable; bad data is never retried. */
  async function insertWithRetry(table: string, rows: Row[]): Promise<'inserted' | 'rejected'> {
    let backoff = 250;
    for (;;) {
      try {
        await engine.insert(table, rows);
        return 'inserted';
      } catch (err) {
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

  /**
   * Batches of several partitions are handled at once; their rows for one table are coalesced into the
   * next insert while one is in flight, so ClickHouse gets a few large inserts (which it likes: one part
   * each) instead of one per partition batch. Each batch still learns its own outcome: when a combined
   * insert is refused as bad data, its batches are inserted one by one to find whose rows are bad.
   */
  const tableQueues = new Map<string, { waiting: InsertRequest[]; busy: boolean }>();
  interface InsertRequest {
    readonly rows: Row[];
    resolve(outcome: 'inserted' | 'rejected'): void;
    reject(err: unknown): void;
  }

  async function drainTable(table: string): Promise<void> {
    const queue = tableQueues.get(table)!;
    if (queue.busy) return;
    queue.busy = true;
    try {
      while (queue.waiting.length > 0) {
        const taken = queue.waiting.splice(0, queue.waiting.length);
        try {
          const outcome = await insertWithRetry(
            table,
            taken.flatMap((t) => t.rows),
          );
          if (outcome === 'inserted' || taken.length === 1) for (const t of taken) t.resolve(outcome);
          else for (const t of taken) t.resolve(await insertWithRetry(table, t.rows));
        } catch (err) {
          for (const t of taken) t.reject(err);
        }
      }
    } finally {
      queue.busy = false;
    }
  }

  async function insertRows(
    table: string,
    rows: Row[],
    control: BatchControl,
  ): Promise<'inserted' | 'rejected'> {
    let queue = tableQueues.get(table);
    if (!queue) tableQueues.set(table, (queue = { waiting: [], busy: false }));
    const result = new Promise<'inserted' | 'rejected'>((resolve, reject) => {
      queue.waiting.push({ rows, resolve, reject });
    });
    void drainTable(table);
    // Keep the group membership alive while the insert waits (a ClickHouse outage can hold it for long).
    for (;;) {
      const outcome = await Promise.race([result, sleep(3000).then(() => undefined)]);
      if (outcome !== undefined) return outcome;
      await control.heartbeat();
    }
  }

  async function project(batch: readonly IncomingMessage[], control: BatchControl): Promise<void> {
    const target = targets.get(batch[0]?.topic ?? '');
    if (!target) return;
    // An import run's lane control records (schemas/lanes.ts) tell the processor where a run starts and
    // ends; they carry no touchpoint, so they are neither decoded, projected nor counted as received.
    const messages =
      batch[0]!.topic === topics.touchpoints && batch.some((m) => isLaneControl(m.headers))
        ? batch.filter((m) => !isLaneControl(m.headers))
        : batch;
    if (messages.length === 0) return;
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
      rows.push(target.toRow(decoded.value as never, projectedAt));
      accepted.push(m);
    }
    if (rows.length > 0) {
      const outcome = await insertRows(target.table, rows, control);
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

  const consumer: MessageConsumer = await connectConsumer({
    brokers: endpoints.kafka.brokers,
    groupId: options.groupId ?? 'ciclo-projector',
    topics: [topics.touchpoints, topics.stageChanges, topics.customerSnapshots],
    fromBeginning: true,
    minBytes: options.minBytes ?? 64 * 1024,
    maxWaitTimeMs: options.maxWaitTimeMs ?? 250,
    // A batch is one partition's messages; batches of all partitions of a fetch are handled at once and
    // their rows coalesced per table (insertRows). They share nothing else but the counters.
    partitionsConsumedConcurrently: 16,
    log,
  });
  await consumer.run(project);
  log.info({ topics }, 'projector started');

  return {
    counters,
    async stop() {
      stopping = true; // an insert retrying through an outage gives up, so its batch is not committed
      await consumer.stop();
      await deadLetters.close();
      await engine.close();
    },
  };
}
