/**
 * What each changelog record holds (docs/changelog-format.md), checked when it is read back: a record that
 * does not fit stops the restore with CHANGELOG_CORRUPT naming the partition, the key and what is wrong,
 * rather than restoring a state the fold would trip over later, far from the cause.
 *
 * The checks are of shape, not of business rules: what was written passed those when it was ingested. Objects
 * keep fields they do not name (a newer version's), as the domain's `restoredState` does.
 */
import { z } from 'zod';
import { CicloError } from '../../../infra/errors';
import type { BufferedItem, HeldCustomer, HeldItem, PartitionCheckpoint } from '../../domain/partition';
import type { CustomerState } from '../../domain/customer';
import {
  CHANGELOG_STATE_FIELDS,
  stateOfChangelogValues,
  type ChangelogStateField,
} from '../../domain/customer-record';
import type { IdentityMessage, ProfileHandoff } from '../../domain/identity';
import { formatProblems, problemsOf } from '../../../schemas/validation';
import { APPLIED_TOKEN, isAppliedArchive } from '../../domain/applied-archive';
import type { RecentEventsRecord } from '../../domain/recent-events';

export const CHANGELOG_FORMAT_VERSION = 13;
/** Every format this version reads (docs/changelog-format.md); a newer one is refused. */
export const READABLE_FORMAT_VERSIONS: ReadonlySet<number> = new Set([
  1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13,
]);
/** The formats before identity became a replicated table (format 8): their links in flight cannot be finished. */
export const LAST_FORMAT_WITH_CLAIMS = 7;

const time = z.number();
const lanes = z.record(z.string(), z.number()).optional();

const customerState = z.looseObject({
  id: z.string(),
  mergedIds: z.array(z.string()),
  firstSeenAt: time,
  lastSeenAt: time,
  lastAppliedAt: time,
  orders: z.number(),
  purchaseDays: z.array(z.number()),
  earlierPurchaseDays: z.number().int().min(1).optional(),
  netRevenueMinor: z.number(),
  openTickets: z.array(z.string()),
  stage: z.string(),
  stageEnteredAt: time,
  sequence: z.number().optional(),
  applied: z.array(z.number()).optional(),
});

/** A touchpoint as the buffer keeps it: checked in full when it was ingested. */
const touchpoint = z.looseObject({
  eventId: z.string(),
  type: z.string(),
  occurredAt: time,
  receivedAt: time,
});

const claim = z.looseObject({
  kind: z.literal('claim'),
  eventId: z.string(),
  occurredAt: time,
  linkEventId: z.string(),
  from: z.string(),
  into: z.string(),
  insteadOf: z.string().optional(),
  listed: z.array(z.string()).optional(),
  toHomeOf: z.string().optional(),
  hops: z.number().optional(),
  lanes,
});

const forward = z.looseObject({
  kind: z.literal('forward'),
  eventId: z.string(),
  occurredAt: time,
  to: z.string(),
  hops: z.number(),
  touchpoint,
  lanes,
});

const customerTouchpoint = z.looseObject({
  kind: z.literal('touchpoint'),
  eventId: z.string(),
  occurredAt: time,
  customer: z.string(),
  tp: touchpoint,
  link: z.enum(['merge', 'repoint', 'none']).optional(),
});

const handover = z.looseObject({
  kind: z.literal('handover'),
  eventId: z.string(),
  occurredAt: time,
  customer: z.string(),
  into: z.string(),
});

const customerItem = z.union([customerTouchpoint, handover, forward]);

/** `claim`: format 7 and older, read to be refused (restore.ts). */
const pendingItem = z.union([
  customerItem,
  claim,
  touchpoint.refine((v) => !('kind' in v), 'an unknown kind'),
]);

const handoff = z.looseObject({
  kind: z.literal('handoff'),
  linkEventId: z.string(),
  occurredAt: time,
  from: z.string(),
  into: z.string(),
  state: customerState.nullable(),
  hops: z.number().optional(),
  lanes,
});

const heldItem = z.looseObject({ item: customerItem, deadlinesBefore: z.number().nullable() });

const held = z.looseObject({ id: z.string(), linkEventId: z.string(), queue: z.array(heldItem) });

const redirect = z.looseObject({ into: z.string(), at: time.optional() });

const checkpoint = z.looseObject({
  watermark: z.number().nullable(),
  lanes: z
    .looseObject({
      live: z.number().nullable(),
      open: z.record(z.string(), z.number()),
      closed: z.number().nullable(),
      starts: z.record(z.string(), z.number()).optional(),
      closedIds: z.array(z.string()).optional(),
      seen: z.record(z.string(), z.number()).optional(),
    })
    .optional(),
  pending: z.array(pendingItem).optional(),
  held: z.array(held).optional(),
  arrived: z.array(handoff).optional(),
  deadlineLimit: z.number().nullable().optional(),
  fedDeadlineLimit: z.number().optional(),
  fedDrainedTo: z.number().optional(),
  peers: z.array(z.number().nullable()).optional(),
  peerImports: z
    .looseObject({
      awaiting: z.record(z.string(), z.tuple([z.number(), z.array(z.number())])),
      named: z.array(z.array(z.string()).nullable()),
    })
    .optional(),
  announcedLanes: z.string().optional(),
  announcedHanded: z.number().optional(),
  announced: z.number().optional(),
  othersNewest: z.number().optional(),
});

const recentEvents = z.looseObject({
  generation: z.number().int().min(0),
  oldest: time,
  newest: time,
  events: z
    .string()
    .refine((v) => v.length % (2 * APPLIED_TOKEN) === 0 && isAppliedArchive(v), 'pairs of event hashes'),
});

const progress = z.looseObject({
  kind: z.literal('progress'),
  partition: z.number().int().min(0),
  to: z.number().int().min(0),
  upTo: z.number().nullable(),
  newest: z.number().nullable(),
  closed: z.array(z.string()).optional(),
  handedUpTo: z.number().nullable().optional(),
  lanes,
});

const identityMessage = z.union([forward, handoff, progress]);

/** The changelog of `partition` holds a record that cannot be read. */
export function changelogCorrupt(partition: number, key: string, what: string, cause?: unknown): CicloError {
  return new CicloError(
    'CHANGELOG_CORRUPT',
    `changelog of partition ${partition}, record ${key}: ${what}. The processor cannot restore this ` +
      'partition; see docs/changelog-format.md',
    cause === undefined ? {} : { cause },
  );
}

/** Where a record is read: for the error, should it not fit. */
export interface RecordPlace {
  readonly partition: number;
  readonly key: string;
}

function parsed<T>(schema: z.ZodType, json: string, place: RecordPlace, what: string): T {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (err) {
    throw changelogCorrupt(place.partition, place.key, `${what} is not JSON`, err);
  }
  return checked<T>(schema, value, place, what);
}

function checked<T>(schema: z.ZodType, value: unknown, place: RecordPlace, what: string): T {
  // JSON has no -Infinity: a clock not yet set was written as null (JSON.stringify's choice).
  const result = schema.safeParse(value);
  if (!result.success)
    throw changelogCorrupt(
      place.partition,
      place.key,
      `not ${what}: ${formatProblems(problemsOf(result.error))}`,
    );
  return result.data as T;
}

const orMinusInfinity = (t: number | null | undefined): number | undefined => (t === null ? -Infinity : t);

/**
 * A message between the processor's partitions (the identity topic is the processor's own, as the changelog
 * is): `place` names the identity topic's partition and the offset.
 */
export function readIdentityMessage(json: string, place: RecordPlace): IdentityMessage {
  const message = parsed<IdentityMessage>(identityMessage, json, place, 'an identity message');
  // A progress's times are -Infinity (written as null) while its sender has carried (or handed) nothing.
  if (message.kind !== 'progress') return message;
  const orMinus = (t: number | null | undefined): number | undefined => (t === null ? -Infinity : t);
  const handedUpTo = orMinus(message.handedUpTo);
  return {
    ...message,
    upTo: orMinus(message.upTo)!,
    newest: orMinus(message.newest)!,
    ...(handedUpTo !== undefined ? { handedUpTo } : {}),
  };
}

/** A check of one value of a customer's record, and what it wants (for the error). */
type ValueKind = readonly [check: (v: unknown) => boolean, wanted: string];

const STRING: ValueKind = [(v) => typeof v === 'string', 'a string'];
const NUMBER: ValueKind = [(v) => typeof v === 'number', 'a number'];
const BOOLEAN: ValueKind = [(v) => typeof v === 'boolean', 'true or false'];
const STRINGS: ValueKind = [
  (v) => Array.isArray(v) && v.every((x) => typeof x === 'string'),
  'a list of strings',
];
const NUMBERS: ValueKind = [
  (v) => Array.isArray(v) && v.every((x) => typeof x === 'number'),
  'a list of numbers',
];
/** A customer's latest applied hashes: tokens (format 13), or numbers (format 12). */
const APPLIED_HASHES: ValueKind = [
  (v) => isAppliedArchive(v) || NUMBERS[0](v),
  'applied-event tokens or a list of numbers',
];
const orNull = ([check, wanted]: ValueKind): ValueKind => [
  (v) => v === null || check(v),
  `${wanted} or null`,
];
const COUNT_OF_DAYS: ValueKind = [
  (v) => v === null || (Number.isInteger(v) && (v as number) >= 1),
  'null or a count',
];

/**
 * What each value of a customer's record (formats 12 and 13) must be: the domain's type (CustomerState), null for
 * undefined. Checked without zod: a customer is most of what a restore reads, and zod's check of the named
 * fields (with the object built to give it) took three quarters of the time of reading one.
 */
const CUSTOMER_VALUE_KINDS: { readonly [F in ChangelogStateField]: ValueKind } = {
  id: STRING,
  mergedIds: STRINGS,
  firstSeenAt: NUMBER,
  lastSeenAt: NUMBER,
  lastAppliedAt: NUMBER,
  acquisitionChannel: orNull(STRING),
  acquisitionCampaign: orNull(STRING),
  lastTouchChannel: orNull(STRING),
  lastTouchCampaign: orNull(STRING),
  convertingChannel: orNull(STRING),
  orders: NUMBER,
  purchaseDays: NUMBERS,
  earlierPurchaseDays: COUNT_OF_DAYS,
  firstPurchaseAt: orNull(NUMBER),
  lastPurchaseAt: orNull(NUMBER),
  netRevenueMinor: NUMBER,
  currency: orNull(STRING),
  otherCurrencyRevenueMinor: NUMBER,
  pageViews: NUMBER,
  emailsOpened: NUMBER,
  emailsClicked: NUMBER,
  unsubscribed: BOOLEAN,
  latestNps: orNull(NUMBER),
  latestCsat: orNull(NUMBER),
  openTickets: STRINGS,
  referralsMade: NUMBER,
  probabilityAlive: orNull(NUMBER),
  stage: STRING,
  stageEnteredAt: NUMBER,
  sequence: NUMBER,
  applied: APPLIED_HASHES,
};
const VALUE_KINDS = CHANGELOG_STATE_FIELDS.map((field) => CUSTOMER_VALUE_KINDS[field]);

/**
 * A customer's state: the values of CHANGELOG_STATE_FIELDS in a JSON array (formats 12 and 13), or an
 * object of them named (formats 1 to 11).
 */
export function readCustomerState(json: string, place: RecordPlace): CustomerState {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (err) {
    throw changelogCorrupt(place.partition, place.key, "a customer's state is not JSON", err);
  }
  if (!Array.isArray(value)) return checked<CustomerState>(customerState, value, place, "a customer's state");
  if (value.length !== VALUE_KINDS.length)
    throw changelogCorrupt(
      place.partition,
      place.key,
      `not a customer's state: ${value.length} values where ${VALUE_KINDS.length} belong`,
    );
  for (let i = 0; i < VALUE_KINDS.length; i++) {
    const [check, wanted] = VALUE_KINDS[i]!;
    if (!check(value[i]))
      throw changelogCorrupt(
        place.partition,
        place.key,
        `not a customer's state: its ${CHANGELOG_STATE_FIELDS[i]} is ${JSON.stringify(value[i])?.slice(0, 40)}, not ${wanted}`,
      );
  }
  return stateOfChangelogValues(value);
}

export const readRedirect = (json: string, place: RecordPlace): { into: string; at?: number } =>
  parsed(redirect, json, place, 'a redirect');

export const readHandoff = (json: string, place: RecordPlace): ProfileHandoff =>
  parsed(handoff, json, place, 'a handoff');

export const readHeld = (json: string, place: RecordPlace): HeldCustomer =>
  parsed(held, json, place, 'a held customer');

export const readHeldItem = (json: string, place: RecordPlace): HeldItem =>
  parsed(heldItem, json, place, "a held customer's item");

/** A record of recent events (format 11), its place taken from its key. */
export const readRecentEvents = (json: string, place: RecordPlace, seq: number): RecentEventsRecord => ({
  ...parsed<Omit<RecentEventsRecord, 'seq'>>(recentEvents, json, place, 'a record of recent events'),
  seq,
});

export const readPendingItem = (json: string, place: RecordPlace): BufferedItem | { kind: 'claim' } =>
  parsed(pendingItem, json, place, 'a buffered item');

/** The partition's checkpoint; clocks written as null (never set) come back as -Infinity. */
export function readCheckpoint(json: string, place: RecordPlace): PartitionCheckpoint {
  const c = parsed<PartitionCheckpoint & { watermark: number | null; deadlineLimit?: number | null }>(
    checkpoint,
    json,
    place,
    "the partition's checkpoint",
  );
  const deadlineLimit = orMinusInfinity(c.deadlineLimit);
  return {
    ...c,
    watermark: orMinusInfinity(c.watermark)!,
    ...(deadlineLimit !== undefined ? { deadlineLimit } : {}),
  };
}
