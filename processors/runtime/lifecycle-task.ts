/**
 * The lifecycle processor's StreamTask: decodes touchpoints, folds them per partition with the pure
 * PartitionLifecycle, and returns what the exactly-once runner writes in one transaction: stage changes,
 * customer snapshots (tombstones for merged-away profiles), the changelog (each changed customer's state
 * and the partition's watermark + reorder buffer) and dead letters for undecodable or invalid input.
 */
import type { OutputRecord, StreamTask } from '../../infra/kafka/transactional-processor';
import type { IncomingMessage } from '../../infra/kafka/types';
import type { Logger } from '../../infra/log';
import { deadLetterOf, type DeadLetterReason, type LifecycleStateRecord } from '../../schemas/outputs';
import type { ContractSerde } from '../../schemas/serde';
import type { CustomerSnapshot, StageChanged } from '../../schemas/outputs';
import type { Touchpoint } from '../../schemas/touchpoint';
import { toSnapshot, type CustomerState } from '../domain/customer';
import type { StageModel } from '../domain/model';
import { PartitionLifecycle, type PartitionCheckpoint } from '../domain/partition';

export const CHANGELOG_FORMAT_VERSION = 1;
const PARTITION_KEY = '__partition__';

export interface LifecycleTaskDeps {
  readonly model: StageModel;
  readonly gracePeriodMs: number;
  readonly topics: { stageChanges: string; customerSnapshots: string; changelog: string; deadLetter: string };
  readonly serdes: {
    touchpoint: ContractSerde<Touchpoint>;
    stageChanged: ContractSerde<StageChanged>;
    customerSnapshot: ContractSerde<CustomerSnapshot>;
    lifecycleState: ContractSerde<LifecycleStateRecord>;
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
    const { stageChanges, changed, removed } = p.takeOutput();
    const records: OutputRecord[] = [];
    for (const change of stageChanges) {
      records.push({
        topic: topics.stageChanges,
        key: change.customerId,
        value: await serdes.stageChanged.encode(change),
      });
    }
    const stateRecord = async (kind: LifecycleStateRecord['kind'], state: unknown): Promise<Buffer> =>
      serdes.lifecycleState.encode({
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
      records.push({ topic: topics.changelog, partition, key: changelogKey(model.id, id), value: null });
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
      for (const record of changelog) {
        if (!record.key?.startsWith(prefix)) continue; // another model's state
        const id = record.key.slice(prefix.length);
        if (!record.value) {
          customers.delete(id);
          continue;
        }
        const decoded = await serdes.lifecycleState.decode(record.value);
        if (!decoded.ok) throw new Error(`changelog record ${record.key} cannot be read: ${decoded.error}`);
        if (decoded.value.formatVersion !== CHANGELOG_FORMAT_VERSION)
          throw new Error(`changelog format ${decoded.value.formatVersion} is not supported`);
        if (decoded.value.kind === 'partition')
          checkpoint = JSON.parse(decoded.value.state) as PartitionCheckpoint;
        else customers.set(id, JSON.parse(decoded.value.state) as CustomerState);
      }
      partitions.set(
        partition,
        new PartitionLifecycle(
          model,
          { gracePeriodMs: deps.gracePeriodMs },
          { ...(checkpoint ? { checkpoint } : {}), customers: customers.values() },
        ),
      );
    },

    async process(partition, messages) {
      const p = partitions.get(partition);
      if (!p) throw new Error(`partition ${partition} was not opened`);
      const dead: OutputRecord[] = [];
      for (const m of messages) {
        if (!m.value) {
          dead.push(deadLetter(m, 'undecodable', 'empty message value'));
          continue;
        }
        const decoded = await serdes.touchpoint.decode(m.value);
        if (!decoded.ok) {
          dead.push(deadLetter(m, decoded.reason, decoded.error));
          continue;
        }
        p.ingest(decoded.value);
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
