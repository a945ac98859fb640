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
import { partitionFor } from '../../schemas/partitioner';
import {
  isLinkCopy,
  LINK_COPY_HEADER,
  MERGED_INTO_HEADER,
  SEQUENCE_HEADER,
  snapshotKey,
} from '../../schemas/topics';
import { laneControlOf, laneOf } from '../../schemas/lanes';
import { noteNotable } from './outcomes';
import type { Touchpoint } from '../../schemas/touchpoint';
import { changelogJson, isAppliedArchive, toSnapshot, type CustomerState } from '../domain/customer';
import { addresseeOf, homePartitionOf, type IdentityMessage, type ProfileHandoff } from '../domain/identity';
import type { StageModel } from '../domain/model';
import {
  PartitionLifecycle,
  type AppliedClaim,
  type HeldCustomer,
  type HeldItem,
  type PartitionCheckpoint,
} from '../domain/partition';
import type { PendingItem } from '../domain/reorder-buffer';

/**
 * 2: a held customer (waiting for a handoff) is a changelog record of its own, kind 'partition' under
 * HELD_KEY_PREFIX + its id, instead of a part of the partition's record, which with many customers held at
 * once grew past the broker's message.max.bytes. Format 1 changelogs (held inline) are still read.
 * 3: a customer's state has no stage history (customer.ts, `sequence`). Format 1 and 2 states are read, their
 * history dropped; a version before this one refuses format 3, rather than failing on the missing history.
 * 4: the first claim of a link whose other claim has not come is a record of its own (CLAIM_KEY_PREFIX),
 * and a redirect record carries the event time of the claim or notice that made it (`at`). A version before
 * this one would read a claim record as the partition's checkpoint, so it refuses format 4.
 * 5: a customer's older applied-event hashes (`appliedArchive`, customer.ts) are a record of their own
 * (APPLIED_KEY_PREFIX), written when they change; the customer's record holds the latest few. A version before
 * this one would read that record as a customer, so it refuses format 5. Older states are read, and their
 * hashes moved to the archive.
 * 6: a large reorder buffer (touchpoints waiting out the grace period, claims and forwards waiting for their
 * time) is a record per item (PENDING_KEY_PREFIX, PENDING_INLINE_BYTES), a tombstone once it leaves the buffer,
 * instead of a list in the partition's record. With `--grace 60000` a partition receiving a hundred
 * touchpoints a second held ~6,000 of them, a record of several MB: past the broker's message.max.bytes, so
 * the transaction failed and the processor stopped; and the whole list was serialized at every batch. A
 * version before this one would read an item's record as the partition's checkpoint, so it refuses format 6.
 * Also in 6: a held customer's record holds its link and the first items queued for it (HELD_INLINE), and
 * each item after those is a record of its own (HELD_ITEM_KEY_PREFIX), written once: the whole queue was
 * written again each time it grew, which for a busy customer waiting out a long grace was quadratic, and
 * past ~3,000 queued touchpoints over the limit. A held record of formats 2-5 is one with every item inline.
 */
export const CHANGELOG_FORMAT_VERSION = 7;
const READABLE_FORMAT_VERSIONS: ReadonlySet<number> = new Set([1, 2, 3, 4, 5, 6, 7]);
const PARTITION_KEY = '__partition__';
const HELD_KEY_PREFIX = '__partition__/held/';
/**
 * An item queued for a held customer: HELD_ITEM_KEY_PREFIX, its place in the queue, '/', the customer's id.
 * The place comes first: ids can hold any character, digits and '/' never end a place.
 */
const HELD_ITEM_KEY_PREFIX = '__partition__/held-item/';
const heldItemKey = (id: string, place: number): string => `${HELD_ITEM_KEY_PREFIX}${place}/${id}`;
/**
 * How many queued items a held customer's own record holds at most, and in how many bytes of JSON (the link
 * always: it is the queue's first): most holds queue one to a few. A touchpoint can be large (up to 1,000
 * line items), so the bytes bound the record, not the count.
 */
export const HELD_INLINE = 16;
const HELD_INLINE_BYTES = 64 * 1024;
/** A handoff that came before its link was applied, by link event id: also a record of its own. */
const ARRIVED_KEY_PREFIX = '__partition__/arrived/';
/** The first claim of a link whose other claim has not come, by source id (PartitionOutput.claims). */
const CLAIM_KEY_PREFIX = '__partition__/claim/';
/** A customer's older applied-event hashes, by customer id (customer.ts `appliedArchive`). */
export const APPLIED_KEY_PREFIX = '__partition__/applied/';
/** An item of the reorder buffer (`pendingKeyOf`). */
export const PENDING_KEY_PREFIX = '__partition__/pending/';
/**
 * Past this many bytes of JSON, the partition's record no longer holds the reorder buffer: each item is a
 * record of its own. Back in the partition's record once the buffer holds at most PENDING_INLINE_MIN items in
 * a quarter of the bytes (the gap keeps a buffer near the limit from switching at every batch). Inline, a
 * small buffer costs one record per batch; as records, two per item (the item, and its tombstone once
 * applied), which with no grace period, where only claims and forwards from other partitions wait, doubled
 * the changelog's records per touchpoint. A large buffer inline passed the broker's message limit (1 MB).
 */
export const PENDING_INLINE_BYTES = 256 * 1024;
const PENDING_INLINE_MIN = 64;

/**
 * The changelog key of a reorder-buffer item: its kind and event id, and for a forward the customer it goes
 * to (a touchpoint can be forwarded to two customers while a chain of redirects settles). The buffer holds
 * one touchpoint and one claim per event id (partition.ts `pendingIds`); two forwards of one touchpoint to
 * one customer are a redelivery, of which one is applied either way. The id's length comes first, so no
 * two (customer, event) pairs make the same key whatever characters the ids hold.
 */
export function pendingKeyOf(item: PendingItem): string {
  if (!('kind' in item)) return `${PENDING_KEY_PREFIX}touchpoint/${item.eventId}`;
  if (item.kind === 'claim') return `${PENDING_KEY_PREFIX}claim/${item.eventId}`;
  return `${PENDING_KEY_PREFIX}forward/${item.to.length}:${item.to}/${item.eventId}`;
}

export interface LifecycleTaskDeps {
  readonly model: StageModel;
  readonly gracePeriodMs: number;
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
}

interface HeldVersion {
  readonly entry: HeldCustomer;
  readonly linkEventId: string;
  readonly length: number;
  /** How many of the queue's items the customer's own record holds; the rest are records of their own. */
  readonly inline: number;
}

const versionOf = (h: HeldCustomer, inline: number): HeldVersion => ({
  entry: h,
  linkEventId: h.linkEventId,
  length: h.queue.length,
  inline,
});

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

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
    const { stageChanges, changed, removed, redirected, messages, claims, pendingEntered, pendingLeft } =
      p.takeOutput();
    const archives = archivesWritten.get(partition) ?? new Map<string, string>();
    archivesWritten.set(partition, archives);
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
    const stateRecord = (
      record: Omit<OutputRecord, 'value'>,
      kind: LifecycleStateRecord['kind'],
      json: string,
      serde: ContractSerde<LifecycleStateRecord> = serdes.lifecycleState,
    ): void => out.push(record, serde, envelope(kind, json));
    const pendingRecord = (item: PendingItem): void =>
      stateRecord(
        { topic: topics.changelog, partition, key: changelogKey(model.id, pendingKeyOf(item)) },
        'partition',
        JSON.stringify(item),
      );
    /** A changelog tombstone for `id` (a customer id, or a prefixed key of the partition's own records). */
    const deleteState = (id: string): void =>
      void records.push({ topic: topics.changelog, partition, key: changelogKey(model.id, id), value: null });
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
      stateRecord(
        { topic: topics.changelog, partition, key: changelogKey(model.id, id) },
        'customer',
        changelogJson(s),
      );
      const archive = s.appliedArchive;
      if (archive !== undefined && archive !== archives.get(id)) {
        archives.set(id, archive);
        stateRecord(
          { topic: topics.changelog, partition, key: changelogKey(model.id, APPLIED_KEY_PREFIX + id) },
          'customer',
          archive,
        );
      }
    }
    for (const [id, sequence] of removed) {
      if (archives.delete(id)) deleteState(APPLIED_KEY_PREFIX + id);
      // A removal, not only a deletion: whoever loads the topic (the projector too) learns where the id went.
      const into = redirected.get(id);
      records.push({
        topic: topics.customerSnapshots,
        partition: partitionFor(id, snapshotPartitions),
        key: snapshotKey(model.id, id),
        value: null,
        ...(into !== undefined
          ? { headers: { [MERGED_INTO_HEADER]: into, [SEQUENCE_HEADER]: String(sequence) } }
          : {}),
      });
      if (!redirected.has(id)) deleteState(id);
    }
    for (const [id, into] of redirected) {
      const at = p.redirectTimeOf(id);
      stateRecord(
        { topic: topics.changelog, partition, key: changelogKey(model.id, id) },
        'redirect',
        JSON.stringify(at === undefined ? { into } : { into, at }),
      );
    }
    for (const [from, claim] of claims) {
      if (claim === null) deleteState(CLAIM_KEY_PREFIX + from);
      else
        stateRecord(
          { topic: topics.changelog, partition, key: changelogKey(model.id, CLAIM_KEY_PREFIX + from) },
          'partition',
          JSON.stringify(claim),
        );
    }
    for (const message of messages) {
      const to = addresseeOf(message);
      stateRecord(
        { topic: topics.identity, partition: homePartitionOf(to, deps.partitions), key: to },
        message.kind,
        JSON.stringify(message),
        serdes.identity,
      );
    }
    const { held, arrived, ...checkpoint } = p.checkpoint({ pending: false });
    // Early handoffs (each holds a whole profile, and a backlog can pile up many) are records of their own
    // too: written once, as they never change, and a tombstone once their link took them.
    const arrivedNow = new Set<string>();
    const arrivedDone = arrivedWritten.get(partition) ?? new Set<string>();
    arrivedWritten.set(partition, arrivedDone);
    for (const h of arrived ?? []) {
      arrivedNow.add(h.linkEventId);
      if (arrivedDone.has(h.linkEventId)) continue;
      arrivedDone.add(h.linkEventId);
      stateRecord(
        {
          topic: topics.changelog,
          partition,
          key: changelogKey(model.id, ARRIVED_KEY_PREFIX + h.linkEventId),
        },
        'partition',
        JSON.stringify(h),
      );
    }
    for (const id of arrivedDone) {
      if (arrivedNow.has(id)) continue;
      arrivedDone.delete(id);
      deleteState(ARRIVED_KEY_PREFIX + id);
    }
    // Held customers: a record with the link and the first items queued (HELD_INLINE, rewritten while the
    // queue is that short, as most are), and past them one record per item, each written once (the queue
    // only grows while the customer waits; a new link replaces the entry and its queue). Tombstones once
    // released.
    const written = heldWritten.get(partition) ?? new Map<string, HeldVersion>();
    heldWritten.set(partition, written);
    const current = new Set<string>();
    const itemRecord = (h: HeldCustomer, place: number): void =>
      stateRecord(
        { topic: topics.changelog, partition, key: changelogKey(model.id, heldItemKey(h.id, place)) },
        'partition',
        JSON.stringify(h.queue[place]),
      );
    for (const h of held ?? []) {
      current.add(h.id);
      const before = written.get(h.id);
      const same = before !== undefined && before.entry === h && before.linkEventId === h.linkEventId;
      if (same && before.length === h.queue.length) continue;
      const length = h.queue.length;
      let inline = same ? before.inline : 0;
      let from = same ? before.length : 0; // the first place written as a record of its own
      if (!same || before.inline === before.length) {
        // As many of the first items as fit; rewritten while more fit than it holds.
        const parts: string[] = [];
        let bytes = 0;
        for (let place = 0; place < length && place < HELD_INLINE; place++) {
          const json = JSON.stringify(h.queue[place]);
          if (place > 0 && bytes + json.length > HELD_INLINE_BYTES) break;
          parts.push(json);
          bytes += json.length;
        }
        if (!same || parts.length > before.inline) {
          inline = from = parts.length;
          stateRecord(
            { topic: topics.changelog, partition, key: changelogKey(model.id, HELD_KEY_PREFIX + h.id) },
            'partition',
            `{"id":${JSON.stringify(h.id)},"linkEventId":${JSON.stringify(h.linkEventId)},"queue":[${parts.join(',')}]}`,
          );
        }
      }
      for (let place = from; place < length; place++) itemRecord(h, place);
      // A new link's entry: the last one's item records that this one does not overwrite are gone.
      if (before !== undefined && !same)
        for (let place = before.inline; place < before.length; place++)
          if (place < inline || place >= length) deleteState(heldItemKey(h.id, place));
      written.set(h.id, versionOf(h, inline));
    }
    for (const [id, version] of written) {
      if (current.has(id)) continue;
      written.delete(id);
      deleteState(HELD_KEY_PREFIX + id);
      for (let place = version.inline; place < version.length; place++) deleteState(heldItemKey(id, place));
    }
    // The reorder buffer: in the partition's record while that stays small (PENDING_INLINE_BYTES), each item
    // a record of its own otherwise. Removals first, as an item can leave and another with its key (a claim
    // of the same link, delivered again) enter within one batch.
    const pendingWritten = pendingRecordsOf(partition);
    for (const item of pendingLeft) if (pendingWritten.delete(item)) deleteState(pendingKeyOf(item));
    const wasInRecords = pendingInRecords.has(partition);
    let signature: string | undefined;
    let buffered: PendingItem[] | undefined; // in order, taken once: only when it may be inline or just left it
    if (!wasInRecords || p.bufferedItems <= PENDING_INLINE_MIN) {
      buffered = p.bufferedInOrder();
      const inline = JSON.stringify({ ...checkpoint, pending: buffered });
      if (inline.length <= (wasInRecords ? pendingInlineBytes / 4 : pendingInlineBytes)) signature = inline;
    }
    if (signature !== undefined) {
      pendingInRecords.delete(partition);
      for (const item of pendingWritten) deleteState(pendingKeyOf(item));
      pendingWritten.clear();
    } else {
      pendingInRecords.add(partition);
      // Once it grew past the limit (or after a restore), every item not yet written; then the new ones.
      const unwritten = wasInRecords ? pendingEntered : (buffered ?? p.bufferedInOrder());
      for (const item of unwritten) {
        if (pendingWritten.has(item)) continue;
        pendingWritten.add(item);
        pendingRecord(item);
      }
      signature = JSON.stringify(checkpoint);
    }
    // The partition checkpoint only when it changed: an idle partition would otherwise append the same
    // record to the changelog at every idle flush, forever. Serialized once, for the comparison and the record.
    if (records.length > 0 || lastCheckpoint.get(partition) !== signature) {
      lastCheckpoint.set(partition, signature);
      stateRecord(
        { topic: topics.changelog, partition, key: changelogKey(model.id, PARTITION_KEY) },
        'partition',
        signature,
      );
    }
    return out.encoded();
  }

  /** Per partition, the checkpoint last handed out for commit (a failed commit closes the partition). */
  const lastCheckpoint = new Map<number, string>();
  /**
   * Per partition, the held customers as last handed out for commit. A held customer only ever grows (its
   * queue is appended to while it waits; a new link replaces the entry), so the entry, its link and its
   * queue length tell whether it changed, without serializing every held customer at every batch.
   */
  const heldWritten = new Map<number, Map<string, HeldVersion>>();
  /** Per partition, the buffered items that are records of their own (`pendingKeyOf`) as last handed out. */
  const pendingWrittenByPartition = new Map<number, Set<PendingItem>>();
  const pendingRecordsOf = (partition: number): Set<PendingItem> => {
    let written = pendingWrittenByPartition.get(partition);
    if (!written) pendingWrittenByPartition.set(partition, (written = new Set()));
    return written;
  };
  /** The partitions whose buffer is in records of their own (large), not in the partition's record. */
  const pendingInRecords = new Set<number>();
  /** Per partition, the early handoffs (by link event id) written to the changelog and not yet removed. */
  const arrivedWritten = new Map<number, Set<string>>();
  /**
   * Per partition, each customer's applied-hash archive as last handed out for commit. An archive is a new
   * string whenever it changes (customer.ts), so comparing the string the state holds with this one is
   * usually a pointer comparison.
   */
  const archivesWritten = new Map<number, Map<string, string>>();

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
      const redirectTimes = new Map<string, number>();
      // In the order last written, as the partition kept them (it forgets the oldest first).
      const claims = new Map<string, AppliedClaim>();
      const held = new Map<string, HeldCustomer>();
      const arrived = new Map<string, ProfileHandoff>();
      const archives = new Map<string, string>();
      const pending = new Map<string, PendingItem>();
      /** Items queued for held customers past those their own records hold (format 6), by place. */
      const heldItems = new Map<string, Map<number, HeldItem>>();
      for (const record of changelog) {
        if (!record.key?.startsWith(prefix)) continue; // another model's state
        const id = record.key.slice(prefix.length);
        if (id.startsWith(HELD_ITEM_KEY_PREFIX)) {
          const rest = id.slice(HELD_ITEM_KEY_PREFIX.length);
          const slash = rest.indexOf('/');
          const place = Number(rest.slice(0, slash));
          const heldId = rest.slice(slash + 1);
          if (slash < 1 || !Number.isInteger(place))
            throw new Error(
              `changelog record ${record.key} does not name a place in a held customer's queue`,
            );
          const items = heldItems.get(heldId) ?? new Map<number, HeldItem>();
          heldItems.set(heldId, items);
          items.delete(place);
          if (!record.value) continue;
          const decoded = await serdes.lifecycleState.decode(record.value);
          if (!decoded.ok || decoded.value.kind !== 'partition')
            throw new Error(`changelog record ${record.key} cannot be read as a held customer's item`);
          items.set(place, JSON.parse(decoded.value.state) as HeldItem);
          continue;
        }
        if (id.startsWith(PENDING_KEY_PREFIX)) {
          pending.delete(id);
          if (!record.value) continue;
          const decoded = await serdes.lifecycleState.decode(record.value);
          if (!decoded.ok || decoded.value.kind !== 'partition')
            throw new Error(`changelog record ${record.key} cannot be read as a buffered item`);
          pending.set(id, JSON.parse(decoded.value.state) as PendingItem);
          continue;
        }
        if (id.startsWith(APPLIED_KEY_PREFIX)) {
          const customerId = id.slice(APPLIED_KEY_PREFIX.length);
          archives.delete(customerId);
          if (!record.value) continue;
          const decoded = await serdes.lifecycleState.decode(record.value);
          if (!decoded.ok || !isAppliedArchive(decoded.value.state))
            throw new Error(`changelog record ${record.key} cannot be read as applied-event hashes`);
          archives.set(customerId, decoded.value.state);
          continue;
        }
        if (id.startsWith(CLAIM_KEY_PREFIX)) {
          const from = id.slice(CLAIM_KEY_PREFIX.length);
          claims.delete(from);
          if (!record.value) continue;
        } else if (id.startsWith(ARRIVED_KEY_PREFIX)) {
          if (!record.value) {
            arrived.delete(id.slice(ARRIVED_KEY_PREFIX.length));
            continue;
          }
        } else if (id.startsWith(HELD_KEY_PREFIX)) {
          const heldId = id.slice(HELD_KEY_PREFIX.length);
          if (!record.value) {
            held.delete(heldId);
            continue;
          }
        } else if (!record.value) {
          customers.delete(id);
          redirects.delete(id);
          redirectTimes.delete(id);
          continue;
        }
        const decoded = await serdes.lifecycleState.decode(record.value);
        if (!decoded.ok) throw new Error(`changelog record ${record.key} cannot be read: ${decoded.error}`);
        if (!READABLE_FORMAT_VERSIONS.has(decoded.value.formatVersion))
          throw new Error(`changelog format ${decoded.value.formatVersion} is not supported`);
        const { kind, state } = decoded.value;
        if (kind === 'partition' && id.startsWith(CLAIM_KEY_PREFIX))
          claims.set(id.slice(CLAIM_KEY_PREFIX.length), JSON.parse(state) as AppliedClaim);
        else if (kind === 'partition' && id.startsWith(ARRIVED_KEY_PREFIX)) {
          const h = JSON.parse(state) as ProfileHandoff;
          arrived.set(h.linkEventId, h);
        } else if (kind === 'partition' && id.startsWith(HELD_KEY_PREFIX)) {
          const h = JSON.parse(state) as HeldCustomer;
          held.set(h.id, h);
        } else if (kind === 'partition') checkpoint = JSON.parse(state) as PartitionCheckpoint;
        else if (kind === 'customer') {
          customers.set(id, JSON.parse(state) as CustomerState);
          redirects.delete(id);
          redirectTimes.delete(id);
        } else if (kind === 'redirect') {
          const { into, at } = JSON.parse(state) as { into: string; at?: number };
          redirects.set(id, into);
          if (at === undefined) redirectTimes.delete(id);
          else redirectTimes.set(id, at);
          customers.delete(id);
        } else throw new Error(`changelog record ${record.key} has kind ${kind}, which belongs elsewhere`);
      }
      // Each held customer's queue: the items its record holds, then those at the places after them (format
      // 6), which must follow on without a gap. Formats 2-5 held the whole queue in the record.
      const inlineCounts = new Map<string, number>();
      for (const h of held.values()) {
        inlineCounts.set(h.id, h.queue.length);
        const items = heldItems.get(h.id);
        if (!items || items.size === 0) continue;
        const queue = [...h.queue];
        for (let item = items.get(queue.length); item !== undefined; item = items.get(queue.length))
          queue.push(item);
        if (queue.length !== h.queue.length + items.size)
          throw new Error(
            `changelog of partition ${partition}: the queue of held customer ${h.id} has a gap`,
          );
        held.set(h.id, { ...h, queue });
      }
      // Format 1 kept held customers in the partition's record; those are written as records of their own
      // at the next commit (they are not in `written` below).
      const fromRecords = new Set(held.keys());
      for (const h of checkpoint?.held ?? []) if (!held.has(h.id)) held.set(h.id, h);
      const arrivedFromRecords = new Set(arrived.keys());
      for (const h of checkpoint?.arrived ?? [])
        if (!arrived.has(h.linkEventId)) arrived.set(h.linkEventId, h);
      const inline = checkpoint?.pending ?? [];
      if (checkpoint) {
        const { held: _inline, arrived: _early, pending: _buffered, ...rest } = checkpoint;
        checkpoint = {
          ...rest,
          pending: [...inline, ...pending.values()],
          ...(held.size > 0 ? { held: [...held.values()] } : {}),
          ...(arrived.size > 0 ? { arrived: [...arrived.values()] } : {}),
        };
      } else if (held.size > 0 || arrived.size > 0 || pending.size > 0)
        throw new Error(
          `changelog of partition ${partition} has held customers, handoffs or buffered items but no checkpoint`,
        );
      // The restored items that have records (the same objects go into the partition's buffer); those that
      // were inline are written as records at the next commit if the buffer is large then.
      pendingWrittenByPartition.set(partition, new Set(pending.values()));
      pendingInRecords.delete(partition);
      for (const [id, archive] of archives) {
        const s = customers.get(id);
        if (s) s.appliedArchive = archive;
      }
      const p = new PartitionLifecycle(
        model,
        { gracePeriodMs: deps.gracePeriodMs, route: { partition, partitions: deps.partitions } },
        {
          ...(checkpoint ? { checkpoint } : {}),
          customers: customers.values(),
          redirects,
          redirectTimes,
          claims,
        },
      );
      const written = new Map<string, HeldVersion>();
      for (const h of p.checkpoint().held ?? [])
        if (fromRecords.has(h.id)) written.set(h.id, versionOf(h, inlineCounts.get(h.id)!));
      heldWritten.set(partition, written);
      arrivedWritten.set(partition, arrivedFromRecords);
      // Archives as their records hold them; one moved out of an older format's state is written when its
      // customer next changes.
      const archivesNow = new Map<string, string>();
      for (const s of p.customers.values())
        if (s.appliedArchive !== undefined && s.appliedArchive === archives.get(s.id))
          archivesNow.set(s.id, s.appliedArchive);
      archivesWritten.set(partition, archivesNow);
      partitions.set(partition, p);
    },

    async process(partition, messages) {
      const p = partitions.get(partition);
      if (!p) throw new Error(`partition ${partition} was not opened`);
      const dead: OutputRecord[] = [];
      const noted = noteNotable(deps.log, partition, p);
      for (const m of messages) {
        if (m.topic === topics.identity) {
          // Written by this processor, so it decodes; a record that does not is a bug worth stopping on.
          const decoded = m.value ? await serdes.identity.decode(m.value) : undefined;
          if (!decoded?.ok) throw new Error(`identity message at offset ${m.offset} cannot be read`);
          if (decoded.value.modelId !== model.id) continue; // another model's processor
          p.receive(JSON.parse(decoded.value.state) as IdentityMessage);
          continue;
        }
        const marker = laneControlOf(m.headers);
        if (marker !== undefined) {
          if (typeof marker === 'string') dead.push(deadLetter(m, 'invalid', marker));
          else {
            p.mark(marker);
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
        const decoded = await serdes.touchpoint.decode(m.value);
        if (!decoded.ok) {
          // A link's routing copy is dead-lettered at the link itself; one letter per fact.
          if (m.headers[LINK_COPY_HEADER] === undefined)
            dead.push(deadLetter(m, decoded.reason, decoded.error));
          continue;
        }
        const source = { lane: laneOf(m.headers), recordTimestamp: m.timestamp };
        if (isLinkCopy(m.key, decoded.value)) p.ingestLinkCopy(decoded.value, source);
        else p.ingest(decoded.value, source);
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
      lastCheckpoint.delete(partition);
      pendingWrittenByPartition.delete(partition);
      pendingInRecords.delete(partition);
      heldWritten.delete(partition);
      arrivedWritten.delete(partition);
      archivesWritten.delete(partition);
    },
  };
}
