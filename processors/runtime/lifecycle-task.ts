/**
 * The lifecycle processor's StreamTask: decodes touchpoints, folds them per partition with the pure
 * PartitionLifecycle, and returns what the exactly-once runner writes in one transaction: stage changes,
 * customer snapshots (tombstones for merged-away profiles), the changelog (each changed customer's state,
 * redirects of ids that now belong to another customer, and the partition's watermark, reorder buffer and
 * held customers), identity messages for other partitions (processors/domain/identity.ts) and dead letters
 * for undecodable or invalid input. It reads the touchpoint topic and the identity topic, co-partitioned.
 */
import type { OutputRecord, StreamTask } from '../../infra/kafka/transactional-processor';
import type { IncomingMessage } from '../../infra/kafka/types';
import type { Logger } from '../../infra/log';
import { deadLetterOf, type DeadLetterReason, type LifecycleStateRecord } from '../../schemas/outputs';
import type { ContractSerde } from '../../schemas/serde';
import type { CustomerSnapshot, StageChanged } from '../../schemas/outputs';
import { isLinkCopy, LINK_COPY_HEADER } from '../../schemas/topics';
import type { Touchpoint } from '../../schemas/touchpoint';
import { toSnapshot, type CustomerState } from '../domain/customer';
import { addresseeOf, homePartitionOf, type IdentityMessage } from '../domain/identity';
import type { StageModel } from '../domain/model';
import { PartitionLifecycle, type PartitionCheckpoint } from '../domain/partition';

export const CHANGELOG_FORMAT_VERSION = 1;
const PARTITION_KEY = '__partition__';

export interface LifecycleTaskDeps {
  readonly model: StageModel;
  readonly gracePeriodMs: number;
  /** The touchpoint topic's partition count: where each id lives (the identity topic has as many). */
  readonly partitions: number;
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
}

export function changelogKey(modelId: string, id: string): string {
  return `${modelId}/${id}`;
}

export function createLifecycleTask(
  deps: LifecycleTaskDeps,
): StreamTask & { partitions: Map<number, PartitionLifecycle> } {
  const { model, topics, serdes } = deps;
  const now = deps.now ?? Date.now;
  const partitions = new Map<number, PartitionLifecycle>();
  const prefix = `${model.id}/`;

  async function outputsOf(partition: number, p: PartitionLifecycle): Promise<OutputRecord[]> {
    const { stageChanges, changed, removed, redirected, messages } = p.takeOutput();
    const records: OutputRecord[] = [];
    for (const change of stageChanges) {
      records.push({
        topic: topics.stageChanges,
        key: change.customerId,
        value: await serdes.stageChanged.encode(change),
      });
    }
    const stateRecord = async (
      kind: LifecycleStateRecord['kind'],
      state: unknown,
      serde = serdes.lifecycleState,
    ): Promise<Buffer> =>
      serde.encode({
        kind,
        modelId: model.id,
        modelVersion: model.version,
        formatVersion: CHANGELOG_FORMAT_VERSION,
        state: JSON.stringify(state),
      });
    for (const id of changed) {
      const s = p.customers.get(id);
      if (!s) continue;
      records.push({
        topic: topics.customerSnapshots,
        key: id,
        value: await serdes.customerSnapshot.encode(toSnapshot(s, model)),
      });
      records.push({
        topic: topics.changelog,
        partition,
        key: changelogKey(model.id, id),
        value: await stateRecord('customer', s),
      });
    }
    for (const id of removed) {
      records.push({ topic: topics.customerSnapshots, key: id, value: null });
      if (!redirected.has(id))
        records.push({ topic: topics.changelog, partition, key: changelogKey(model.id, id), value: null });
    }
    for (const [id, into] of redirected) {
      records.push({
        topic: topics.changelog,
        partition,
        key: changelogKey(model.id, id),
        value: await stateRecord('redirect', { into }),
      });
    }
    for (const message of messages) {
      const to = addresseeOf(message);
      records.push({
        topic: topics.identity,
        partition: homePartitionOf(to, deps.partitions),
        key: to,
        value: await stateRecord(message.kind, message, serdes.identity),
      });
    }
    // The partition checkpoint only when it changed: an idle partition would otherwise append the same
    // record to the changelog at every idle flush, forever.
    const checkpoint = p.checkpoint();
    const signature = JSON.stringify(checkpoint);
    if (records.length > 0 || lastCheckpoint.get(partition) !== signature) {
      lastCheckpoint.set(partition, signature);
      records.push({
        topic: topics.changelog,
        partition,
        key: changelogKey(model.id, PARTITION_KEY),
        value: await stateRecord('partition', checkpoint),
      });
    }
    return records;
  }

  /** Per partition, the checkpoint last handed out for commit (a failed commit closes the partition). */
  const lastCheckpoint = new Map<number, string>();

  function deadLetter(m: IncomingMessage, reason: DeadLetterReason, error: string): OutputRecord {
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
    async open(partition, changelog) {
      let checkpoint: PartitionCheckpoint | undefined;
      const customers = new Map<string, CustomerState>();
      const redirects = new Map<string, string>();
      for (const record of changelog) {
        if (!record.key?.startsWith(prefix)) continue; // another model's state
        const id = record.key.slice(prefix.length);
        if (!record.value) {
          customers.delete(id);
          redirects.delete(id);
          continue;
        }
        const decoded = await serdes.lifecycleState.decode(record.value);
        if (!decoded.ok) throw new Error(`changelog record ${record.key} cannot be read: ${decoded.error}`);
        if (decoded.value.formatVersion !== CHANGELOG_FORMAT_VERSION)
          throw new Error(`changelog format ${decoded.value.formatVersion} is not supported`);
        const { kind, state } = decoded.value;
        if (kind === 'partition') checkpoint = JSON.parse(state) as PartitionCheckpoint;
        else if (kind === 'customer') {
          customers.set(id, JSON.parse(state) as CustomerState);
          redirects.delete(id);
        } else if (kind === 'redirect') {
          redirects.set(id, (JSON.parse(state) as { into: string }).into);
          customers.delete(id);
        } else throw new Error(`changelog record ${record.key} has kind ${kind}, which belongs elsewhere`);
      }
      partitions.set(
        partition,
        new PartitionLifecycle(
          model,
          { gracePeriodMs: deps.gracePeriodMs, route: { partition, partitions: deps.partitions } },
          { ...(checkpoint ? { checkpoint } : {}), customers: customers.values(), redirects },
        ),
      );
    },

    async process(partition, messages) {
      const p = partitions.get(partition);
      if (!p) throw new Error(`partition ${partition} was not opened`);
      const dead: OutputRecord[] = [];
      for (const m of messages) {
        if (m.topic === topics.identity) {
          // Written by this processor, so it decodes; a record that does not is a bug worth stopping on.
          const decoded = m.value ? await serdes.identity.decode(m.value) : undefined;
          if (!decoded?.ok) throw new Error(`identity message at offset ${m.offset} cannot be read`);
          if (decoded.value.modelId !== model.id) continue; // another model's processor
          p.receive(JSON.parse(decoded.value.state) as IdentityMessage);
          continue;
        }
        if (!m.value) {
          dead.push(deadLetter(m, 'undecodable', 'empty message value'));
          continue;
        }
        const decoded = await serdes.touchpoint.decode(m.value);
        if (!decoded.ok) {
          // A link's routing copy is dead-lettered at the link itself; one letter per fact.
          if (m.headers[LINK_COPY_HEADER] === undefined)
            dead.push(deadLetter(m, decoded.reason, decoded.error));
          continue;
        }
        if (isLinkCopy(m.key, decoded.value)) p.ingestLinkCopy(decoded.value);
        else p.ingest(decoded.value);
      }
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
      lastCheckpoint.delete(partition);
    },
  };
}
