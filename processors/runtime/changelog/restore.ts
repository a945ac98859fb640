/**
 * Reads a partition's changelog back (in offset order, as the compacted topic holds it) into what the pure
 * PartitionLifecycle is restored from, and what the writer must know of the records that exist already.
 * Every record is checked (records.ts); one that does not fit stops the restore with CHANGELOG_CORRUPT.
 */
import type { IncomingMessage } from '../../../infra/kafka/types';
import type { LifecycleStateRecord } from '../../../schemas/outputs';
import type { ContractSerde } from '../../../infra/registry/serde';
import type { CustomerState } from '../../domain/customer';
import type { ProfileHandoff } from '../../domain/identity';
import type { BufferedItem, HeldCustomer, HeldItem, PartitionCheckpoint } from '../../domain/partition';
import { isAppliedArchive } from '../../domain/applied-archive';
import type { RecentEventsRecord } from '../../domain/recent-events';
import { BREATHE_EVERY_MS, eventLoopBreather } from '../event-loop-breather';
import { parseChangelogKey } from './keys';
import {
  changelogCorrupt,
  LAST_FORMAT_WITH_CLAIMS,
  readCheckpoint,
  readCustomerState,
  readHandoff,
  readHeld,
  readHeldItem,
  readPendingItem,
  readRecentEvents,
  readRedirect,
  READABLE_FORMAT_VERSIONS,
  type RecordPlace,
} from './records';

export interface RestoredChangelog {
  readonly checkpoint?: PartitionCheckpoint;
  readonly customers: Map<string, CustomerState>;
  readonly redirects: Map<string, string>;
  /** Customers that ids homed elsewhere lead to. */
  readonly fedFromElsewhere: Set<string>;
  /** Pseudonyms of the people forgotten here (format 10). */
  readonly forgotten: Set<string>;
  /** Held customers that have records of their own, with how many queued items those records hold. */
  readonly heldInline: Map<string, number>;
  /** Early handoffs that have records of their own, by link event id. */
  readonly arrivedInRecords: Set<string>;
  /** Buffered items that have records of their own (the same objects as in the checkpoint's buffer). */
  readonly pendingInRecords: Set<BufferedItem>;
  /** Customers' applied-hash archives as their records hold them. */
  readonly archives: Map<string, string>;
  /** The input events remembered (format 11). */
  readonly recentEvents: RecentEventsRecord[];
}

export async function restoreChangelog(
  partition: number,
  modelId: string,
  changelog: Iterable<IncomingMessage>,
  serde: ContractSerde<LifecycleStateRecord>,
): Promise<RestoredChangelog> {
  const prefix = `${modelId}/`;
  let checkpoint: PartitionCheckpoint | undefined;
  const customers = new Map<string, CustomerState>();
  const redirects = new Map<string, string>();
  const fedFromElsewhere = new Set<string>();
  const forgotten = new Set<string>();
  /** Redirects of format 7 and older, in the record keyed by the id itself (which a customer's replaces). */
  const redirectsInIdRecords = new Map<string, string>();
  const held = new Map<string, HeldCustomer>();
  const arrived = new Map<string, ProfileHandoff>();
  const archives = new Map<string, string>();
  const recent = new Map<number, RecentEventsRecord>();
  const pending = new Map<string, BufferedItem>();
  /** Items queued for held customers past those their own records hold (format 6), by place. */
  const heldItems = new Map<string, Map<number, HeldItem>>();

  /** The record's envelope, checked: this model's, a format this version reads. */
  const envelopeOf = async (record: IncomingMessage, place: RecordPlace): Promise<LifecycleStateRecord> => {
    const decoded = serde.decodeKnown?.(record.value!) ?? (await serde.decode(record.value!));
    if (!decoded.ok)
      throw changelogCorrupt(partition, place.key, `its envelope cannot be read: ${decoded.error}`);
    if (!READABLE_FORMAT_VERSIONS.has(decoded.value.formatVersion))
      throw changelogCorrupt(
        partition,
        place.key,
        `it is of changelog format ${decoded.value.formatVersion}, which this version does not read ` +
          '(a newer version wrote it: upgrade every processor of the model)',
      );
    return decoded.value;
  };
  /**
   * Links in flight of a format before 8 were claims between partitions, which this version no longer
   * sends or answers: a customer held for one would wait for ever.
   */
  const refuseLinkInFlight = (envelope: LifecycleStateRecord, place: RecordPlace, what: string): void => {
    if (envelope.formatVersion <= LAST_FORMAT_WITH_CLAIMS)
      throw changelogCorrupt(
        partition,
        place.key,
        `it holds ${what} of changelog format ${envelope.formatVersion}, an identity link in flight that this ` +
          'version cannot finish: run the previous version until the processor logs no held customers, ' +
          'then upgrade, or rebuild the state (docs/changelog-format.md, "Format 8")',
      );
  };
  const expectKind = (envelope: LifecycleStateRecord, place: RecordPlace, kind: string): void => {
    if (envelope.kind !== kind)
      throw changelogCorrupt(partition, place.key, `it has kind ${envelope.kind} where ${kind} belongs`);
  };

  const breathe = eventLoopBreather({ everyMs: BREATHE_EVERY_MS, checkEvery: 256 });
  for (const record of changelog) {
    await breathe();
    if (!record.key?.startsWith(prefix)) continue; // another model's state
    const place: RecordPlace = { partition, key: record.key };
    const key = parseChangelogKey(record.key.slice(prefix.length));
    if (typeof key === 'string') throw changelogCorrupt(partition, record.key, key);
    const value = record.value;
    switch (key.kind) {
      case 'held-item': {
        const items = heldItems.get(key.customerId) ?? new Map<number, HeldItem>();
        heldItems.set(key.customerId, items);
        items.delete(key.place);
        if (!value) continue;
        const envelope = await envelopeOf(record, place);
        expectKind(envelope, place, 'partition');
        refuseLinkInFlight(envelope, place, "a held customer's item");
        items.set(key.place, readHeldItem(envelope.state, place));
        continue;
      }
      case 'pending': {
        pending.delete(key.key);
        if (!value) continue;
        const envelope = await envelopeOf(record, place);
        expectKind(envelope, place, 'partition');
        const item = readPendingItem(envelope.state, place);
        if ('kind' in item && item.kind === 'claim') refuseLinkInFlight(envelope, place, 'a claim');
        else pending.set(key.key, item);
        continue;
      }
      case 'applied': {
        archives.delete(key.customerId);
        if (!value) continue;
        const envelope = await envelopeOf(record, place);
        if (!isAppliedArchive(envelope.state))
          throw changelogCorrupt(partition, record.key, 'it is not a list of applied-event hashes');
        archives.set(key.customerId, envelope.state);
        continue;
      }
      case 'claim': {
        // A link's first claim (format 7 and older): nothing waits on it in this version's protocol.
        continue;
      }
      case 'redirect': {
        redirects.delete(key.id);
        if (!value) continue;
        const envelope = await envelopeOf(record, place);
        expectKind(envelope, place, 'redirect');
        redirects.set(key.id, readRedirect(envelope.state, place).into);
        continue;
      }
      case 'fed': {
        fedFromElsewhere.delete(key.customerId);
        if (value) fedFromElsewhere.add(key.customerId);
        continue;
      }
      case 'recent': {
        recent.delete(key.seq);
        if (!value) continue;
        const envelope = await envelopeOf(record, place);
        expectKind(envelope, place, 'partition');
        recent.set(key.seq, readRecentEvents(envelope.state, place, key.seq));
        continue;
      }
      case 'forgotten': {
        forgotten.delete(key.pseudonym);
        if (!value) continue;
        const envelope = await envelopeOf(record, place);
        expectKind(envelope, place, 'partition');
        forgotten.add(key.pseudonym);
        continue;
      }
      case 'arrived': {
        arrived.delete(key.linkEventId);
        if (!value) continue;
        const envelope = await envelopeOf(record, place);
        expectKind(envelope, place, 'partition');
        const h = readHandoff(envelope.state, place);
        arrived.set(h.linkEventId, h);
        continue;
      }
      case 'held': {
        held.delete(key.customerId);
        if (!value) continue;
        const envelope = await envelopeOf(record, place);
        expectKind(envelope, place, 'partition');
        refuseLinkInFlight(envelope, place, 'a held customer');
        const h = readHeld(envelope.state, place);
        held.set(h.id, h);
        continue;
      }
      case 'checkpoint':
      case 'customer': {
        const id = key.kind === 'customer' ? key.id : record.key.slice(prefix.length);
        if (!value) {
          customers.delete(id);
          redirectsInIdRecords.delete(id);
          continue;
        }
        const envelope = await envelopeOf(record, place);
        if (envelope.kind === 'partition' && key.kind === 'checkpoint') {
          checkpoint = readCheckpoint(envelope.state, place);
          if ((checkpoint.held?.length ?? 0) > 0) refuseLinkInFlight(envelope, place, 'held customers');
          if (checkpoint.pending?.some((item) => (item as { kind?: string }).kind === 'claim'))
            refuseLinkInFlight(envelope, place, 'a claim');
        } else if (envelope.kind === 'customer') {
          customers.set(id, readCustomerState(envelope.state, place));
          redirectsInIdRecords.delete(id);
        } else if (envelope.kind === 'redirect') {
          redirectsInIdRecords.set(id, readRedirect(envelope.state, place).into);
          customers.delete(id);
        } else
          throw changelogCorrupt(
            partition,
            record.key,
            `it has kind ${envelope.kind}, which belongs elsewhere`,
          );
        continue;
      }
      default: {
        const never: never = key;
        return never;
      }
    }
  }

  // Each held customer's queue: the items its record holds, then those at the places after them (format
  // 6), which must follow on without a gap. Formats 2-5 held the whole queue in the record.
  const heldInline = new Map<string, number>();
  for (const h of held.values()) {
    heldInline.set(h.id, h.queue.length);
    const items = heldItems.get(h.id);
    if (!items || items.size === 0) continue;
    const queue = [...h.queue];
    for (let item = items.get(queue.length); item !== undefined; item = items.get(queue.length))
      queue.push(item);
    if (queue.length !== h.queue.length + items.size)
      throw changelogCorrupt(partition, `held customer ${h.id}`, 'its queue has a gap');
    held.set(h.id, { ...h, queue });
  }
  // Format 1 kept held customers (and early handoffs) in the partition's record; those are written as
  // records of their own at the next commit (they are not in `heldInline` or `arrivedInRecords`).
  const arrivedInRecords = new Set(arrived.keys());
  for (const h of checkpoint?.held ?? []) if (!held.has(h.id)) held.set(h.id, h);
  for (const h of checkpoint?.arrived ?? []) if (!arrived.has(h.linkEventId)) arrived.set(h.linkEventId, h);
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
    throw changelogCorrupt(
      partition,
      '__partition__',
      'it is missing, though held customers, handoffs or buffered items are there',
    );
  for (const [id, into] of redirectsInIdRecords) if (!redirects.has(id)) redirects.set(id, into);
  for (const [id, archive] of archives) {
    const s = customers.get(id);
    if (s) s.appliedArchive = archive;
  }
  return {
    ...(checkpoint ? { checkpoint } : {}),
    customers,
    redirects,
    fedFromElsewhere,
    forgotten,
    heldInline,
    arrivedInRecords,
    pendingInRecords: new Set(pending.values()),
    archives,
    recentEvents: [...recent.values()],
  };
}
