/** A customer's state as its changelog record holds it (docs/changelog-format.md, format 13). */
import { hashesOf, tokensOf } from './applied-archive';
import type { CustomerState } from './customer';

/**
 * The fields of a customer's changelog record, in the order it holds them (changelog format 12 and 13): a
 * JSON array of their values, undefined as null. Named, the fields took half of each record (about 580 bytes
 * of JSON for a customer of the simulator against 270) and of the time JSON.stringify took to write it, at
 * every batch the customer changed in. `appliedArchive` is a record of its own, written only when it changed
 * (processors/runtime/changelog/writer.ts). A field added later is a new format.
 *
 * `applied` is written as the archive's tokens (format 13), not as a list of numbers (format 12): V8 writes a
 * number to JSON at about 50 ns, and half of these hashes are past 2^31, doubles rather than small integers.
 * A customer's 0 to 63 hashes took more than half of JSON.stringify's time for its record (3.8 against 1.7 µs
 * without them, in a microbenchmark of 20,000 simulated customers on Node 20) and 335 of its 548 bytes; as
 * tokens they take 6 bytes a hash and about 0.4 µs.
 */
export const CHANGELOG_STATE_FIELDS = [
  'id',
  'mergedIds',
  'firstSeenAt',
  'lastSeenAt',
  'lastAppliedAt',
  'acquisitionChannel',
  'acquisitionCampaign',
  'lastTouchChannel',
  'lastTouchCampaign',
  'convertingChannel',
  'orders',
  'purchaseDays',
  'earlierPurchaseDays',
  'firstPurchaseAt',
  'lastPurchaseAt',
  'netRevenueMinor',
  'currency',
  'otherCurrencyRevenueMinor',
  'pageViews',
  'emailsOpened',
  'emailsClicked',
  'unsubscribed',
  'latestNps',
  'latestCsat',
  'openTickets',
  'referralsMade',
  'probabilityAlive',
  'stage',
  'stageEnteredAt',
  'sequence',
  'applied',
] as const satisfies readonly Exclude<keyof CustomerState, 'appliedArchive'>[];

const APPLIED_AT = CHANGELOG_STATE_FIELDS.indexOf('applied');

/** The state as its changelog record holds it (see CHANGELOG_STATE_FIELDS). */
export function changelogJson(s: CustomerState): string {
  const fields = CHANGELOG_STATE_FIELDS;
  const values: unknown[] = new Array(fields.length);
  for (let i = 0; i < fields.length; i++) values[i] = i === APPLIED_AT ? tokensOf(s.applied) : s[fields[i]!];
  return JSON.stringify(values);
}

export type ChangelogStateField = (typeof CHANGELOG_STATE_FIELDS)[number];

const orUndefined = <T>(v: T | null): T | undefined => (v === null ? undefined : v);

/**
 * The state a record's values hold (CHANGELOG_STATE_FIELDS), null as undefined, `applied` as tokens (format
 * 13) or numbers (format 12); the archive is a record of its own. The values are not checked here: the
 * changelog's reader does that. Written out field by field, as initialState makes a state, rather than
 * assigned by name in a loop, which built each object in dictionary mode and took twice as long as parsing
 * the record's JSON.
 */
export function stateOfChangelogValues(v: readonly unknown[]): CustomerState {
  return {
    id: v[0] as string,
    mergedIds: v[1] as string[],
    firstSeenAt: v[2] as number,
    lastSeenAt: v[3] as number,
    lastAppliedAt: v[4] as number,
    acquisitionChannel: orUndefined(v[5] as string | null),
    acquisitionCampaign: orUndefined(v[6] as string | null),
    lastTouchChannel: orUndefined(v[7] as string | null),
    lastTouchCampaign: orUndefined(v[8] as string | null),
    convertingChannel: orUndefined(v[9] as string | null),
    orders: v[10] as number,
    purchaseDays: v[11] as number[],
    earlierPurchaseDays: orUndefined(v[12] as number | null),
    firstPurchaseAt: orUndefined(v[13] as number | null),
    lastPurchaseAt: orUndefined(v[14] as number | null),
    netRevenueMinor: v[15] as number,
    currency: orUndefined(v[16] as string | null),
    otherCurrencyRevenueMinor: v[17] as number,
    pageViews: v[18] as number,
    emailsOpened: v[19] as number,
    emailsClicked: v[20] as number,
    unsubscribed: v[21] as boolean,
    latestNps: orUndefined(v[22] as number | null),
    latestCsat: orUndefined(v[23] as number | null),
    openTickets: v[24] as string[],
    referralsMade: v[25] as number,
    probabilityAlive: orUndefined(v[26] as number | null),
    stage: v[27] as string,
    stageEnteredAt: v[28] as number,
    sequence: v[29] as number,
    applied: typeof v[30] === 'string' ? hashesOf(v[30]) : (v[30] as number[]),
    appliedArchive: undefined,
  };
}
