/**
 * The lifecycle processor's StreamTask: decodes touchpoints, folds them per partition with the pure
 * PartitionLifecycle, and returns what the exactly-once runner writes in one transaction: stage changes,
 * customer snapshots (tombstones for merged-away profiles), the changelog (changelog/: what a restore needs),
 * identity messages for other partitions (processors/domain/identity.ts) and dead letters for undecodable or
 * invalid input. It reads the touchpoint topic and the identity topic, co-partitioned. Lane markers of import
 * runs (schemas/lanes.ts) move the partition's clock; every record's lane and timestamp go with it. A forget
 * marker (schemas/forget.ts) erases a person at once (processors/domain/forget.ts): the tombstones of their
 * changelog records and snapshots go in the transaction that commits the marker.
 */
import type { OutputRecord, StreamTask } from '../../infra/kafka/transactional-processor';
import type { IncomingMessage } from '../../infra/kafka/types';
import type { Logger } from '../../infra/log';
import { CicloError } from '../../infra/errors';
import { forgetMarkerOf } from '../../schemas/forget';
import { laneControlOf, laneOf } from '../../schemas/lanes';
import { deadLetterOf, type DeadLetterReason, type LifecycleStateRecord } from '../../schemas/outputs';
import type { ContractSerde } from '../../infra/registry/serde';
import type { CustomerSnapshot, StageChanged } from '../../schemas/outputs';
import { partitionFor } from '../../schemas/partitioner';
import { LINK_COPY_HEADER, MERGED_INTO_HEADER, SEQUENCE_HEADER, snapshotKey } from '../../schemas/topics';
import type { Touchpoint } from '../../schemas/touchpoint';
import { toSnapshot } from '../domain/customer';
import { partitionOfMessage, type IdentityMessage } from '../domain/identity';
import type { StageModel } from '../domain/model';
import type { PseudonymOf } from '../domain/forget';
import { PartitionLifecycle } from '../domain/partition';
import { changelogKey } from './changelog/keys';
import { CHANGELOG_FORMAT_VERSION, changelogCorrupt, readIdentityMessage } from './changelog/records';
import { restoreChangelog } from './changelog/restore';
import { ChangelogWriter, PENDING_INLINE_BYTES } from './changelog/writer';
import { BREATHE_EVERY_MS, eventLoopBreather } from './event-loop-breather';
import { noteNotable } from './outcomes';
import type { RecentEventsOptions } from '../domain/recent-events';

/**
 * Customers built between two looks at the clock when a partition is restored: a slice takes about 3 ms
 * (bench/restore.ts built 167,000 customers in 0.44 to 0.64 s), well under the breather's 50 ms.
 */
const RESTORE_SLICE_CUSTOMERS = 1_000;

export {
  APPLIED_KEY_PREFIX,
  changelogKey,
  PENDING_KEY_PREFIX,
  pendingKeyOf,
  RECENT_KEY_PREFIX,
} from './changelog/keys';
export { CHANGELOG_FORMAT_VERSION } from './changelog/records';
export { HELD_INLINE, PENDING_INLINE_BYTES } from './changelog/writer';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** The key of a message on the identity topic: the id it is for, or its sender's for a progress. */
function keyOf(message: IdentityMessage): string {
  switch (message.kind) {
    case 'handoff':
      return message.into;
    case 'forward':
      return message.to;
    case 'progress':
      return `progress/${message.partition}`;
  }
}

export interface LifecycleTaskDeps {
  readonly model: StageModel;
  readonly gracePeriodMs: number;
  /** How long an import lane may carry nothing before it is closed as abandoned (partition.ts). */
  readonly laneLeaseMs?: number;
  /** How long and how many input events each partition remembers to drop their copies (recent-events.ts). */
  readonly recentEvents?: RecentEventsOptions;
  /** The touchpoint topic's partition count: where each id lives (the identity topic has as many). */
  readonly partitions: number;
  /**
   * The snapshot topic's partition count (default: `partitions`): a snapshot goes to its customer's
   * partition of that topic, so that it stays co-partitioned with the touchpoints although its key names
   * the model too.
   */
  readonly snapshotPartitions?: number;
  readonly topics: {
    touchpoints: string;
    identity: string;
    stageChanges: string;
    customerSnapshots: string;
    changelog: string;
    deadLetter: string;
  };
  readonly serdes: {
    touchpoint: ContractSerde<Touchpoint>;
    stageChanged: ContractSerde<StageChanged>;
    customerSnapshot: ContractSerde<CustomerSnapshot>;
    lifecycleState: ContractSerde<LifecycleStateRecord>;
    /** The same contract, registered under the identity topic's subject. */
    identity: ContractSerde<LifecycleStateRecord>;
  };
  readonly log?: Logger;
  readonly now?: () => number;
  /** PENDING_INLINE_BYTES unless given (tests make it small, to try both ways on small inputs). */
  readonly pendingInlineBytes?: number;
  /**
   * The keyed pseudonym of an id under the installation's secret (schemas/pseudonym.ts), which forget
   * markers name people by. Without it, a forget marker (or a partition that forgot people before) stops
   * the processor: it cannot tell whom to erase, and must not go on as if it had.
   */
  readonly pseudonymOf?: PseudonymOf;
}

/**
 * What the task counts of a partition's input beside the fold's own counters (partition-counters.ts):
 * like those, since the partition was opened (restored) here, and gone with it.
 */
export interface IntakeCounters {
  /** Touchpoints decoded and handed to the fold (a link's copy on every partition it reaches). */
  touchpoints: number;
  /** Input records written to the dead-letter topic, by reason. */
  deadLetters: Partial<Record<DeadLetterReason, number>>;
}

export function createLifecycleTask(deps: LifecycleTaskDeps): StreamTask & {
  partitions: Map<number, PartitionLifecycle>;
  intake: Map<number, IntakeCounters>;
} {
  const { model, topics, serdes } = deps;
  const now = deps.now ?? Date.now;
  const partitions = new Map<number, PartitionLifecycle>();
  const intake = new Map<number, IntakeCounters>();
  const writers = new Map<number, ChangelogWriter>();
  const snapshotPartitions = deps.snapshotPartitions ?? deps.partitions;
  const pendingInlineBytes = deps.pendingInlineBytes ?? PENDING_INLINE_BYTES;

  /**
   * Values to encode for one batch's records, per serde, encoded together at the end (serde.encodeAll: one
   * buffer, no promise per value) and put into their records' places.
   */
  class Pending {
    readonly records: OutputRecord[] = [];
    private readonly jobs = new Map<ContractSerde<unknown>, { values: unknown[]; at: number[] }>();
    /** `record` becomes the output record itself (its value set when encoded): callers pass a fresh one. */
    push<T>(record: Omit<OutputRecord, 'value'>, typed: ContractSerde<T>, value: T): void {
      const serde = typed as unknown as ContractSerde<unknown>;
      let job = this.jobs.get(serde);
      if (!job) this.jobs.set(serde, (job = { values: [], at: [] }));
      job.values.push(value);
      job.at.push(this.records.length);
      (record as Mutable<OutputRecord>).value = null;
      this.records.push(record as OutputRecord);
    }
    async encoded(): Promise<OutputRecord[]> {
      for (const [serde, job] of this.jobs) {
        const state = serde === (serdes.lifecycleState as unknown) || serde === (serdes.identity as unknown);
        const buffers =
          typeof serde.encodeAll === 'function'
            ? await serde.encodeAll(job.values, state ? envelopeValid() : undefined)
            : // A serde that encodes one value at a time (a test double may be one).
              await Promise.all(job.values.map((v) => serde.encode(v)));
        if (state) envelopeChecked = true;
        for (let i = 0; i < buffers.length; i++)
          (this.records[job.at[i]!] as Mutable<OutputRecord>).value = buffers[i]!;
      }
      return this.records;
    }
  }
  /**
   * A changelog or identity envelope holds this model's id and version, the format version and a JSON
   * string, set here for every record; only `kind` (typed as the contract's enum) and `state` (a string)
   * vary. Once one envelope passed the contract's validation, every other one would too: the rest skip it.
   */
  let envelopeChecked = false;
  /** Skips all but the first envelope of a call, and all of them once one call succeeded. */
  const envelopeValid = (): ((value: unknown) => boolean) => {
    let first = !envelopeChecked;
    return () => {
      const skip = !first;
      first = false;
      return skip;
    };
  };

  async function outputsOf(partition: number, p: PartitionLifecycle): Promise<OutputRecord[]> {
    const output = p.takeOutput();
    const { stageChanges, changed, removed, messages } = output;
    const out = new Pending();
    const records = out.records;
    for (const change of stageChanges)
      out.push({ topic: topics.stageChanges, key: change.customerId }, serdes.stageChanged, change);
    const envelope = (kind: LifecycleStateRecord['kind'], json: string): LifecycleStateRecord => ({
      kind,
      modelId: model.id,
      modelVersion: model.version,
      formatVersion: CHANGELOG_FORMAT_VERSION,
      state: json,
    });
    for (const id of changed) {
      const s = p.customers.get(id);
      if (!s) continue;
      out.push(
        {
          topic: topics.customerSnapshots,
          partition: partitionFor(id, snapshotPartitions),
          key: snapshotKey(model.id, id),
        },
        serdes.customerSnapshot,
        toSnapshot(s, model),
      );
    }
    for (const id of output.erased) {
      // A forget: the snapshot goes with no word of where the id went, at the id's own partition (where its
      // customer, or the profile merged away from it, lived), unless a customer of that id is here still.
      if (partitionFor(id, deps.partitions) !== partition || p.customers.has(id)) continue;
      records.push({
        topic: topics.customerSnapshots,
        partition: partitionFor(id, snapshotPartitions),
        key: snapshotKey(model.id, id),
        value: null,
      });
    }
    for (const [id, sequence] of removed) {
      // A removal, not only a deletion: whoever loads the topic (the projector too) learns where the id went.
      const into = p.customerOf(id);
      records.push({
        topic: topics.customerSnapshots,
        partition: partitionFor(id, snapshotPartitions),
        key: snapshotKey(model.id, id),
        value: null,
        ...(into !== id
          ? { headers: { [MERGED_INTO_HEADER]: into, [SEQUENCE_HEADER]: String(sequence) } }
          : {}),
      });
    }
    for (const message of messages) {
      out.push(
        {
          topic: topics.identity,
          partition: partitionOfMessage(message, deps.partitions),
          key: keyOf(message),
        },
        serdes.identity,
        envelope(message.kind, JSON.stringify(message)),
      );
    }
    const others = records.length > 0;
    writers.get(partition)!.write(
      p,
      output,
      {
        state: (key, kind, json) =>
          out.push(
            { topic: topics.changelog, partition, key: changelogKey(model.id, key) },
            serdes.lifecycleState,
            envelope(kind, json),
          ),
        tombstone: (key) =>
          void records.push({
            topic: topics.changelog,
            partition,
            key: changelogKey(model.id, key),
            value: null,
          }),
      },
      others,
    );
    return out.encoded();
  }

  function deadLetter(m: IncomingMessage, reason: DeadLetterReason, error: string): OutputRecord {
    const counted = intake.get(m.partition)?.deadLetters;
    if (counted) counted[reason] = (counted[reason] ?? 0) + 1;
    const { timestamp: _t, ...record } = deadLetterOf(m, {
      reason,
      error,
      stage: 'processor',
      failedAt: now(),
    });
    return { topic: topics.deadLetter, ...record };
  }

  return {
    partitions,
    intake,
    async open(partition, changelog) {
      const restored = await restoreChangelog(partition, model.id, changelog, serdes.lifecycleState);
      if (restored.forgotten.size > 0 && deps.pseudonymOf === undefined)
        throw withoutSecret(`partition ${partition} has forgotten people, and must drop what names them`);
      const building = PartitionLifecycle.restoredInSlices(
        model,
        {
          gracePeriodMs: deps.gracePeriodMs,
          route: { partition, partitions: deps.partitions },
          ...(deps.laneLeaseMs !== undefined ? { laneLeaseMs: deps.laneLeaseMs } : {}),
          ...(deps.recentEvents !== undefined ? { recentEvents: deps.recentEvents } : {}),
          ...(deps.pseudonymOf !== undefined ? { pseudonymOf: deps.pseudonymOf } : {}),
        },
        {
          ...(restored.checkpoint ? { checkpoint: restored.checkpoint } : {}),
          customers: restored.customers.values(),
          redirects: restored.redirects,
          fedFromElsewhere: restored.fedFromElsewhere,
          forgotten: restored.forgotten,
          recentEvents: restored.recentEvents,
        },
        RESTORE_SLICE_CUSTOMERS,
      );
      const breathe = eventLoopBreather({ everyMs: BREATHE_EVERY_MS });
      let step = building.next();
      for (; !step.done; step = building.next()) await breathe();
      const p = step.value;
      writers.set(partition, new ChangelogWriter(pendingInlineBytes, p, restored));
      partitions.set(partition, p);
      intake.set(partition, { touchpoints: 0, deadLetters: {} });
    },

    async process(partition, messages) {
      const p = partitions.get(partition);
      if (!p) throw new Error(`partition ${partition} was not opened`);
      const dead: OutputRecord[] = [];
      const counted = intake.get(partition)!;
      const noted = noteNotable(deps.log, partition, p);
      for (const m of messages) {
        if (m.topic === topics.identity) {
          // Written by this processor, so it decodes; a record that does not is a bug worth stopping on.
          const place = { partition, key: `${m.topic}@${m.offset}` };
          const decoded = m.value ? await serdes.identity.decode(m.value) : undefined;
          if (!decoded?.ok)
            throw changelogCorrupt(
              partition,
              place.key,
              `its envelope cannot be read${decoded ? `: ${decoded.error}` : ''}`,
            );
          if (decoded.value.modelId !== model.id) continue; // another model's processor
          p.receive(readIdentityMessage(decoded.value.state, place));
          continue;
        }
        const forget = forgetMarkerOf(m.headers);
        if (forget !== undefined) {
          if (typeof forget === 'string') dead.push(deadLetter(m, 'invalid', forget));
          else {
            if (deps.pseudonymOf === undefined)
              throw withoutSecret(`a forget marker came to partition ${partition} at offset ${m.offset}`);
            // At once, whatever the clock: a control action, committed with what it erased.
            const done = p.forget(forget.pseudonyms);
            deps.log?.info({ partition, request: forget.request, ...done }, 'person forgotten');
          }
          continue;
        }
        const marker = laneControlOf(m.headers);
        if (marker !== undefined) {
          if (typeof marker === 'string') dead.push(deadLetter(m, 'invalid', marker));
          else {
            p.mark(marker, m.timestamp);
            deps.log?.info(
              { partition, lane: marker.lane, eventTimeLimit: p.eventTimeLimit, openLanes: p.openLanes },
              marker.kind === 'open' ? 'import lane opened' : 'import lane closed',
            );
          }
          continue;
        }
        if (!m.value) {
          dead.push(deadLetter(m, 'undecodable', 'empty message value'));
          continue;
        }
        const decoded = serdes.touchpoint.decodeKnown?.(m.value) ?? (await serdes.touchpoint.decode(m.value));
        if (!decoded.ok) {
          // A link's copy is dead-lettered at the link itself; one letter per fact.
          if (m.headers[LINK_COPY_HEADER] === undefined)
            dead.push(deadLetter(m, decoded.reason, decoded.error));
          continue;
        }
        // A link's copy too: every partition applies every link to its identity table.
        counted.touchpoints += 1;
        p.ingest(decoded.value, { lane: laneOf(m.headers), recordTimestamp: m.timestamp });
      }
      noted();
      return [...dead, ...(await outputsOf(partition, p))];
    },

    async idle(partition) {
      const p = partitions.get(partition);
      if (!p) return [];
      p.flush();
      return outputsOf(partition, p);
    },

    close(partition) {
      partitions.delete(partition);
      intake.delete(partition);
      writers.delete(partition);
    },
  };
}

/** The processor was started without the installation's secret, and needs it (LifecycleTaskDeps.pseudonymOf). */
function withoutSecret(what: string): CicloError {
  return new CicloError(
    'CONFIG_INVALID',
    `${what}, but the processor was started without the installation's secret (CICLO_PSEUDONYM_SECRET or ` +
      '<CICLO_HOME>/secrets/pseudonym.key): start it with the secret `ciclo forget` uses',
  );
}
