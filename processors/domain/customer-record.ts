/** A customer's state as its changelog record holds it (docs/changelog-format.md, format 12). */
import type { CustomerState } from './customer';

/**
 * The fields of a customer's changelog record, in the order it holds them (changelog format 12): a JSON
 * array of their values, undefined as null. Named, the fields took half of each record (about 580 bytes of
 * JSON for a customer of the simulator against 270) and of the time JSON.stringify took to write it, at every
 * batch the customer changed in. `appliedArchive` is a record of its own, written only when it changed
 * (processors/runtime/changelog/writer.ts). A field added later is a new format.
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

/** The state as its changelog record holds it (see CHANGELOG_STATE_FIELDS). */
export function changelogJson(s: CustomerState): string {
  const fields = CHANGELOG_STATE_FIELDS;
  const values: unknown[] = new Array(fields.length);
  for (let i = 0; i < fields.length; i++) values[i] = s[fields[i]!];
  return JSON.stringify(values);
}

/**
 * The named fields of a changelog record's values (CHANGELOG_STATE_FIELDS), null as undefined; undefined
 * when it has another number of values. Not checked otherwise: the changelog's reader does that.
 */
export function changelogFields(values: readonly unknown[]): Record<string, unknown> | undefined {
  const fields = CHANGELOG_STATE_FIELDS;
  if (values.length !== fields.length) return undefined;
  const named: Record<string, unknown> = {};
  for (let i = 0; i < fields.length; i++) named[fields[i]!] = values[i] === null ? undefined : values[i];
  return named;
}
