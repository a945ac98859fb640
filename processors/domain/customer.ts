/**
 * A customer's lifecycle state is a fold of its touchpoints by event time. Pure: no clock, no I/O, no
 * randomness. For speed (the fold is the processor's hot path), `evolve` updates the state object in place
 * and returns it; callers that need the old value snapshot it first (`cloneState`).
 *
 * Money: net revenue is kept in minor units of the customer's first currency; purchases in any other
 * currency are counted in `otherCurrencyRevenueMinor` (ciclo does not convert currencies).
 */
import type { CustomerSnapshot } from '../../schemas/outputs';
import type { Touchpoint } from '../../schemas/touchpoint';

import { APPLIED_TOKEN, archiveHas, fnv1a, tokensOf } from './applied-archive';

const DAY_MS = 86_400_000;

export interface CustomerState {
  id: string;
  /** Other ids folded into this customer: anonymous ids and aliased customer ids. */
  mergedIds: string[];
  firstSeenAt: number;
  lastSeenAt: number;
  /** Event time of the latest touchpoint applied; an older one arriving later is "late". */
  lastAppliedAt: number;
  acquisitionChannel?: string;
  acquisitionCampaign?: string;
  lastTouchChannel?: string;
  lastTouchCampaign?: string;
  /** Last touch before the first purchase. */
  convertingChannel?: string;
  orders: number;
  /** The latest distinct purchase days (days since 1970), ascending: every one while there are at most
   *  PURCHASE_DAYS_LIMIT (see there). */
  purchaseDays: number[];
  /** How many distinct purchase days came before `purchaseDays`: undefined while it lists them all. */
  earlierPurchaseDays: number | undefined;
  firstPurchaseAt?: number;
  lastPurchaseAt?: number;
  netRevenueMinor: number;
  currency?: string;
  otherCurrencyRevenueMinor: number;
  pageViews: number;
  emailsOpened: number;
  emailsClicked: number;
  unsubscribed: boolean;
  latestNps?: number;
  latestCsat?: number;
  openTickets: string[];
  referralsMade: number;
  /** P(alive) from the CLV model, when known. */
  probabilityAlive?: number;
  stage: string;
  stageEnteredAt: number;
  /** Number of stage changes emitted for this customer: the last StageChanged's sequence. A customer's
   *  stage history is the stage-changes topic (and ClickHouse's stage_changes); the state once kept the
   *  latest 50 entries too, which nothing read, at ~8% of the fold's time. */
  sequence: number;
  /** 32-bit FNV-1a hashes of the latest applied event ids (fewer than APPLIED_RECENT; older ones are in
   *  `appliedArchive`): a repeated event is a no-op. Two different ids colliding (about 1 in 4 billion per
   *  pair) would make the second look like a duplicate: an accepted trade-off for 4 bytes per event instead
   *  of the id itself. */
  applied: number[];
  /** The hashes before `applied`, APPLIED_TOKEN characters each, at most APPLIED_LIMIT of them (see there);
   *  undefined until a customer has had APPLIED_RECENT events. The changelog keeps it in a record of its
   *  own, written only when it changes (`changelogJson`). */
  appliedArchive: string | undefined;
}

/**
 * How many applied event ids a customer remembers, at least, for telling a redelivered event from a new one:
 * the latest APPLIED_LIMIT, and up to APPLIED_RECENT - 1 more. Redeliveries (a producer's retry, a webhook
 * sent twice) come soon after the original; a file imported again brings back whole histories, which are
 * told apart completely for customers with up to this many events. Unbounded, the list grew with every
 * touchpoint, until a customer's changelog record passed Kafka's 1 MiB message limit and stopped the
 * processor. An event older than the ids kept is applied again, as late.
 */
export const APPLIED_LIMIT = 1024;

/**
 * How many hashes `applied` collects before they move to `appliedArchive`. The changelog writes a changed
 * customer's state at every batch: when the state held all its hashes, a customer with a thousand events
 * wrote an 11-22 KB record (74-138 µs of JSON.stringify) for each new touchpoint. The archive is a record of
 * its own, written once per APPLIED_RECENT events, so a record costs the same at any age.
 */
export const APPLIED_RECENT = 64;

/** `archive` with `hashes` after it, then only the latest APPLIED_LIMIT. */
function archived(archive: string | undefined, hashes: readonly number[]): string {
  const all = (archive ?? '') + tokensOf(hashes);
  const limit = APPLIED_LIMIT * APPLIED_TOKEN;
  return all.length > limit ? all.slice(all.length - limit) : all;
}

/**
 * The applied hashes of `absorbed` merged into the survivor's: both while they fit in APPLIED_LIMIT.
 * Past that, APPLIED_LIMIT of them: the latest of each, each keeping at least half (more when the other has
 * fewer). A hash carries no time, so the latest of both together cannot be told; trimming the joined list
 * from the front, as merges once did, kept only the absorbed profile's latest when it had APPLIED_LIMIT or
 * more, and forgot every recent event of the survivor. Two short lists stay a short list; otherwise all of
 * the survivor's go to its archive.
 */
function mergeApplied(survivor: CustomerState, absorbed: CustomerState): void {
  if (
    survivor.appliedArchive === undefined &&
    absorbed.appliedArchive === undefined &&
    survivor.applied.length + absorbed.applied.length < APPLIED_RECENT
  ) {
    survivor.applied = survivor.applied.concat(absorbed.applied);
    return;
  }
  const ours = (survivor.appliedArchive ?? '') + tokensOf(survivor.applied);
  const theirs = (absorbed.appliedArchive ?? '') + tokensOf(absorbed.applied);
  const n = ours.length / APPLIED_TOKEN;
  const m = theirs.length / APPLIED_TOKEN;
  let merged = ours + theirs;
  if (n + m > APPLIED_LIMIT) {
    const fromSurvivor = Math.min(n, Math.max(APPLIED_LIMIT / 2, APPLIED_LIMIT - m));
    const fromAbsorbed = Math.min(m, APPLIED_LIMIT - fromSurvivor);
    merged =
      ours.slice((n - fromSurvivor) * APPLIED_TOKEN) + theirs.slice((m - fromAbsorbed) * APPLIED_TOKEN);
  }
  survivor.appliedArchive = merged;
  survivor.applied = NONE;
}

/**
 * The empty list every new state starts with, shared: state arrays are never changed in place while short
 * (see `appended`), so they need no copy of their own until they have an item. Frozen, so a mistake fails
 * loudly instead of changing every customer.
 */
const NONE = Object.freeze([]) as unknown as never[];

/**
 * Every state has every field, optional ones as undefined, created in the same order (here and in
 * `restoredState`): V8 then gives all states one hidden class, and the fold's property accesses stay
 * monomorphic instead of going generic over dozens of shapes. JSON leaves undefined fields out, so the
 * changelog holds the same data.
 */
export function initialState(id: string, stage: string, at: number): CustomerState {
  return {
    id,
    mergedIds: NONE,
    firstSeenAt: at,
    lastSeenAt: at,
    lastAppliedAt: at,
    acquisitionChannel: undefined,
    acquisitionCampaign: undefined,
    lastTouchChannel: undefined,
    lastTouchCampaign: undefined,
    convertingChannel: undefined,
    orders: 0,
    purchaseDays: NONE,
    earlierPurchaseDays: undefined,
    firstPurchaseAt: undefined,
    lastPurchaseAt: undefined,
    netRevenueMinor: 0,
    currency: undefined,
    otherCurrencyRevenueMinor: 0,
    pageViews: 0,
    emailsOpened: 0,
    emailsClicked: 0,
    unsubscribed: false,
    latestNps: undefined,
    latestCsat: undefined,
    openTickets: NONE,
    referralsMade: 0,
    probabilityAlive: undefined,
    stage,
    stageEnteredAt: at,
    sequence: 0,
    applied: NONE,
    appliedArchive: undefined,
  };
}

/** A field of changelog format 1 and 2 states that this version no longer keeps (see `sequence`). */
const DROPPED_FIELD = 'history';

/**
 * A state read back from JSON (the changelog), in the shape `initialState` gives: unknown fields are kept (a
 * newer version's), the field this version dropped is not.
 */
export function restoredState(json: CustomerState): CustomerState {
  const s: CustomerState = {
    id: json.id,
    mergedIds: json.mergedIds,
    firstSeenAt: json.firstSeenAt,
    lastSeenAt: json.lastSeenAt,
    lastAppliedAt: json.lastAppliedAt,
    acquisitionChannel: json.acquisitionChannel,
    acquisitionCampaign: json.acquisitionCampaign,
    lastTouchChannel: json.lastTouchChannel,
    lastTouchCampaign: json.lastTouchCampaign,
    convertingChannel: json.convertingChannel,
    orders: json.orders,
    purchaseDays: json.purchaseDays,
    earlierPurchaseDays: json.earlierPurchaseDays,
    firstPurchaseAt: json.firstPurchaseAt,
    lastPurchaseAt: json.lastPurchaseAt,
    netRevenueMinor: json.netRevenueMinor,
    currency: json.currency,
    otherCurrencyRevenueMinor: json.otherCurrencyRevenueMinor,
    pageViews: json.pageViews,
    emailsOpened: json.emailsOpened,
    emailsClicked: json.emailsClicked,
    unsubscribed: json.unsubscribed,
    latestNps: json.latestNps,
    latestCsat: json.latestCsat,
    openTickets: json.openTickets,
    referralsMade: json.referralsMade,
    probabilityAlive: json.probabilityAlive,
    stage: json.stage,
    stageEnteredAt: json.stageEnteredAt,
    sequence: json.sequence,
    applied: json.applied,
    appliedArchive: json.appliedArchive,
  };
  for (const key of Object.keys(json))
    if (!Object.hasOwn(s, key) && key !== DROPPED_FIELD)
      (s as unknown as Record<string, unknown>)[key] = (json as unknown as Record<string, unknown>)[key];
  // A state of changelog format 4 or before holds up to 2 x APPLIED_LIMIT hashes in `applied`.
  if (s.applied.length >= APPLIED_RECENT) {
    s.appliedArchive = archived(s.appliedArchive, s.applied);
    s.applied = NONE;
  }
  // A state of changelog format 8 or before lists every distinct purchase day.
  const over = s.purchaseDays.length - PURCHASE_DAYS_LIMIT;
  if (over > 0) {
    s.purchaseDays = s.purchaseDays.slice(over);
    s.earlierPurchaseDays = (s.earlierPurchaseDays ?? 0) + over;
  }
  return s;
}

/**
 * How many linked ids a customer lists (`mergedIds`, which the snapshot publishes), at most. Each anonymous
 * id a customer logs in from adds one, so a client that logs in from fresh browsers all day (a bot, a
 * monitoring script) grew the list without end, until the customer's changelog record passed Kafka's 1 MiB
 * message limit (about 25,000 UUIDs) and stopped the processor. An id dropped from the list keeps its
 * redirect (partition.ts follows chains of them), so its touchpoints still reach the customer.
 */
export const MERGED_IDS_LIMIT = 1000;

/**
 * How many open support tickets a customer lists, at most: the last listed (the latest opened, except that a
 * merge lists the absorbed profile's after the survivor's). For the same reason: tickets opened and never
 * resolved (an integration that does not send resolutions) would grow the state without end. Rules and the
 * snapshot see at most this many; resolving a ticket no longer listed changes nothing.
 */
export const OPEN_TICKETS_LIMIT = 1000;

/**
 * How many bytes of JSON a customer's linked ids take at most, and likewise its open tickets. The counts above
 * bound them for ids of usual lengths (1,000 UUIDs are 39 KB), but an id may have 256 characters of up to 6
 * bytes of JSON each (a control character is written `\u00XX`): 1,000 of them were 1.5 MB, past Kafka's 1 MiB
 * on their own. Past this, the oldest are dropped as past the count.
 */
export const LIST_BYTES_LIMIT = 128 * 1024;

/** What `text` adds to a JSON list in UTF-8 (JSON.stringify's escapes): its bytes, its quotes and a comma. */
export function jsonBytes(text: string): number {
  let bytes = 3;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20) bytes += c === 8 || c === 9 || c === 10 || c === 12 || c === 13 ? 2 : 6;
    else if (c === 0x22 || c === 0x5c) bytes += 2;
    else if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c < 0xd800 || c > 0xdfff) bytes += 3;
    else if (c <= 0xdbff && i + 1 < n && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 4; // a surrogate pair: one character of 4 bytes
      i++;
    } else bytes += 6; // a lone surrogate, escaped
  }
  return bytes;
}

/** Where the latest items of a list begin that are at most `count` and fit in `bytes` of JSON. */
function latestFrom(items: readonly string[], count: number, bytes: number): number {
  const from = Math.max(0, items.length - count);
  let chars = 0;
  for (let i = from; i < items.length; i++) chars += items[i]!.length;
  if (chars * 6 + (items.length - from) * 3 <= bytes) return from; // cannot take more, whatever they hold
  let i = items.length;
  for (let used = 0; i > from; i--) {
    used += jsonBytes(items[i - 1]!);
    if (used > bytes) break;
  }
  return i;
}

/**
 * The last `limit` items of a list (appends go to its end) that fit in LIST_BYTES_LIMIT, the list itself
 * when it is no longer.
 */
function latest(items: string[], limit: number): string[] {
  const from = latestFrom(items, limit, LIST_BYTES_LIMIT);
  return from > 0 ? items.slice(from) : items;
}

/**
 * The last of a merge's ids (`latest`), and `absorbed` (the id of the customer merged in) among them in its
 * place even when it is older. A customer's own id is the link that later renames go through: kept, it is
 * redirected along with the survivor when that is merged on in turn, so the redirects of ids dropped earlier
 * (which lead to it) stay a chain of two or three steps instead of growing by one per rename.
 */
function latestMergedIds(ids: string[], absorbed: string): string[] {
  const from = latestFrom(ids, MERGED_IDS_LIMIT, LIST_BYTES_LIMIT);
  if (from === 0) return ids;
  const at = ids.indexOf(absorbed);
  if (at === -1 || at >= from) return ids.slice(from);
  // It comes before the whole tail in `ids`, so the order stays that of `ids`.
  const tail = ids.slice(latestFrom(ids, MERGED_IDS_LIMIT - 1, LIST_BYTES_LIMIT - jsonBytes(absorbed)));
  tail.unshift(absorbed);
  return tail;
}

/** `ids` with `id` appended, the oldest dropped past MERGED_IDS_LIMIT. */
export function withMergedId(ids: string[], id: string): string[] {
  return latest(appended(ids, id), MERGED_IDS_LIMIT);
}

/** Arrays this short grow by an exact copy, longer ones by `push`. */
const SMALL_ARRAY = 8;

/**
 * `items` with `item` appended. V8's `push` reserves half the length plus 16 more slots, which for the
 * few events, purchase days and stage changes of a typical customer is most of the state's memory, kept
 * for the partition's lifetime; so short arrays are copied to the exact size instead.
 */
export function appended<T extends object | string>(items: T[], item: T): T[] {
  if (items.length >= SMALL_ARRAY) {
    items.push(item);
    return items;
  }
  const n = items.length;
  const copy = new Array<T>(n + 1);
  for (let i = 0; i < n; i++) copy[i] = items[i]!;
  copy[n] = item;
  return copy;
}

/** `appended` for numbers: its own allocation site, so V8 keeps these arrays as unboxed doubles. */
export function appendedNumber(items: number[], item: number): number[] {
  if (items.length >= SMALL_ARRAY) {
    items.push(item);
    return items;
  }
  const n = items.length;
  const copy = new Array<number>(n + 1);
  copy[n] = item;
  for (let i = 0; i < n; i++) copy[i] = items[i]!;
  return copy;
}

/** The channel a touch came from: UTM source, else the referrer's host, else undefined (no evidence). */
export function touchChannel(tp: Touchpoint): { channel: string; campaign?: string } | undefined {
  const c = tp.context;
  if (c?.utmSource)
    return { channel: c.utmSource.toLowerCase(), ...(c.utmCampaign ? { campaign: c.utmCampaign } : {}) };
  if (c?.referrer) return { channel: referrerChannel(c.referrer) };
  return undefined;
}

/** Hosts of recently seen referrers: parsing a URL costs more than folding the rest of a touchpoint, and a
 *  shop sees few distinct referrers. Bounded; forgetting only costs a parse. */
const referrerHosts = new Map<string, string>();
const REFERRER_CACHE_LIMIT = 4096;

/** The referrer's host without `www.`; `referral` when the referrer is not a URL. */
function referrerChannel(referrer: string): string {
  let channel = referrerHosts.get(referrer);
  if (channel === undefined) {
    try {
      channel = new URL(referrer).hostname.replace(/^www\./, '');
    } catch {
      channel = 'referral';
    }
    if (referrerHosts.size >= REFERRER_CACHE_LIMIT) referrerHosts.clear();
    referrerHosts.set(referrer, channel);
  }
  return channel;
}

/**
 * Whether the customer applied this event already (by id alone: a sender that retries a call without a
 * timestamp gets another receivedAt, so another event time, for the same event). With `occurredAt`, the
 * archive of older ids is searched only for an event no newer than what the customer has applied: a retry
 * comes soon after its original, among the customer's latest APPLIED_RECENT events, which are always
 * searched; a file imported again keeps its times. Searching the archive (a string of up to 6 KB) for every
 * touchpoint of a long history cost the fold a tenth of its speed.
 */
export function hasApplied(state: CustomerState, eventId: string, occurredAt?: number): boolean {
  const hash = fnv1a(eventId);
  return (
    state.applied.includes(hash) ||
    (state.appliedArchive !== undefined &&
      (occurredAt === undefined || occurredAt <= state.lastAppliedAt) &&
      archiveHas(state.appliedArchive, hash))
  );
}

/**
 * How many distinct purchase days a customer lists, at most: the latest. Rules read only how many there are
 * (`minPurchaseDays`) and the cadence (first to last over their count), so the count of the days before the
 * list (`earlierPurchaseDays`) and the first purchase (`firstPurchaseAt`) keep both exact for purchases that
 * come in event-time order, however many; CLV (projections/clv) fits on ClickHouse's purchases, not on these.
 * Unbounded, the list grew by a day for every day with a purchase, and one id with purchases on about 150,000
 * distinct days (a client can send any time from 1990 to 2999) took its changelog record past Kafka's 1 MiB
 * message limit and stopped the processor. A list of 1,000 days (five and a half years of a purchase every
 * other day) is 7 KB of JSON at most.
 *
 * What the list no longer holds is approximated, for customers past the limit only. A late purchase on a day
 * older than the list and after the first purchase day is taken as on a day counted already: the count may
 * miss such a day, but does not count the day of a purchase delivered again (its event id long forgotten, see
 * APPLIED_LIMIT) twice. A profile merged in is another id's purchases: those of its days that cannot be
 * checked (older than the survivor's list and after its first day, or before the absorbed's own list) are
 * taken as days the survivor did not buy on.
 */
export const PURCHASE_DAYS_LIMIT = 1000;

/** How many distinct days the customer made purchases on. */
export function purchaseDayCount(state: CustomerState): number {
  return (state.earlierPurchaseDays ?? 0) + state.purchaseDays.length;
}

/**
 * `day` counted among the customer's distinct purchase days (in place), before `firstPurchaseAt` takes the
 * purchase in. A day older than the list is new when it is before the first purchase day, and otherwise when
 * `uncheckedIsNew` (PURCHASE_DAYS_LIMIT).
 */
function addPurchaseDay(state: CustomerState, day: number, uncheckedIsNew: boolean): void {
  let days = state.purchaseDays;
  const earlier = state.earlierPurchaseDays;
  if (earlier !== undefined && day < days[0]!) {
    const first = state.firstPurchaseAt === undefined ? Infinity : Math.floor(state.firstPurchaseAt / DAY_MS);
    if (day < first || (uncheckedIsNew && day !== first)) state.earlierPurchaseDays = earlier + 1;
    return;
  }
  let i = days.length;
  while (i > 0 && days[i - 1]! > day) i--;
  if (days[i - 1] === day) return;
  if (i === days.length) days = appendedNumber(days, day);
  else days.splice(i, 0, day);
  if (days.length > PURCHASE_DAYS_LIMIT) {
    days.shift();
    state.earlierPurchaseDays = (earlier ?? 0) + 1;
  }
  state.purchaseDays = days;
}

function revenue(state: CustomerState, amountMinor: number, currency: string): void {
  state.currency ??= currency;
  if (currency === state.currency) state.netRevenueMinor += amountMinor;
  else state.otherCurrencyRevenueMinor += amountMinor;
}

/** Folds one touchpoint into the state (in place). Stage changes are decided separately (rules.ts). */
export function evolve(state: CustomerState, tp: Touchpoint): CustomerState {
  const at = tp.occurredAt;
  const applied = appendedNumber(state.applied, fnv1a(tp.eventId));
  if (applied.length < APPLIED_RECENT) state.applied = applied;
  else {
    state.appliedArchive = archived(state.appliedArchive, applied);
    state.applied = NONE;
  }
  if (tp.type === 'ClvPredicted') {
    // A score about the customer, not something the customer did: no "seen", no channel.
    state.lastAppliedAt = Math.max(state.lastAppliedAt, at);
    state.probabilityAlive = tp.payload.probabilityAlive;
    return state;
  }
  state.firstSeenAt = Math.min(state.firstSeenAt, at);
  state.lastSeenAt = Math.max(state.lastSeenAt, at);
  state.lastAppliedAt = Math.max(state.lastAppliedAt, at);
  // touchChannel(tp), without building its result: this runs for every touchpoint.
  const c = tp.context;
  if (c !== undefined) {
    let channel: string | undefined;
    let campaign: string | undefined;
    if (c.utmSource) {
      channel = c.utmSource.toLowerCase();
      if (c.utmCampaign) campaign = c.utmCampaign;
    } else if (c.referrer) channel = referrerChannel(c.referrer);
    if (channel !== undefined) {
      state.acquisitionChannel ??= channel;
      if (state.acquisitionCampaign === undefined && campaign) state.acquisitionCampaign = campaign;
      state.lastTouchChannel = channel;
      if (campaign) state.lastTouchCampaign = campaign;
    }
  }
  switch (tp.type) {
    case 'PageViewed':
      state.pageViews += 1;
      break;
    case 'EmailOpened':
      state.emailsOpened += 1;
      break;
    case 'EmailClicked':
      state.emailsClicked += 1;
      break;
    case 'EmailUnsubscribed':
      state.unsubscribed = true;
      break;
    case 'PurchaseCompleted': {
      if (state.orders === 0) {
        state.convertingChannel = state.lastTouchChannel ?? state.acquisitionChannel ?? 'direct';
        state.acquisitionChannel ??= 'direct';
      }
      state.orders += 1;
      addPurchaseDay(state, Math.floor(at / DAY_MS), false);
      state.firstPurchaseAt = Math.min(state.firstPurchaseAt ?? at, at);
      state.lastPurchaseAt = Math.max(state.lastPurchaseAt ?? at, at);
      revenue(state, tp.payload.amountMinor, tp.payload.currency);
      break;
    }
    case 'RefundIssued':
      revenue(state, -tp.payload.amountMinor, tp.payload.currency);
      break;
    case 'SurveyAnswered':
      if (tp.payload.nps !== undefined) state.latestNps = tp.payload.nps;
      if (tp.payload.csat !== undefined) state.latestCsat = tp.payload.csat;
      break;
    case 'SupportTicketOpened':
      if (!state.openTickets.includes(tp.payload.ticketId))
        state.openTickets = latest(appended(state.openTickets, tp.payload.ticketId), OPEN_TICKETS_LIMIT);
      break;
    case 'SupportTicketResolved':
      state.openTickets = state.openTickets.filter((t) => t !== tp.payload.ticketId);
      if (tp.payload.satisfaction !== undefined) state.latestCsat = tp.payload.satisfaction;
      break;
    case 'ReferralMade':
      state.referralsMade += 1;
      break;
    case 'Identified':
    case 'Aliased':
    case 'EmailSent':
    case 'EmailDelivered':
    case 'EmailBounced':
    case 'SubscriptionStarted':
    case 'SubscriptionCancelled':
    case 'MarketingSpendRecorded':
    case 'Tracked':
      break;
    default: {
      const never: never = tp;
      return never;
    }
  }
  return state;
}

/** Mean days between distinct purchase days; undefined until there are two. */
export function purchaseCadenceDays(state: CustomerState): number | undefined {
  const d = state.purchaseDays;
  const earlier = state.earlierPurchaseDays;
  if (earlier === undefined) return d.length >= 2 ? (d[d.length - 1]! - d[0]!) / (d.length - 1) : undefined;
  const first = Math.floor(state.firstPurchaseAt! / DAY_MS);
  return (d[d.length - 1]! - first) / (earlier + d.length - 1);
}

/**
 * `first`, then `middle` if given, then `last`, each item once and without `except`: what
 * `[...new Set([...first, middle, ...last])].filter((x) => x !== except)` gives, without the temporaries.
 */
function distinct(
  first: readonly string[],
  middle: string | undefined,
  last: readonly string[],
  except: string | undefined,
): string[] {
  // A scan of the output is cheaper than a set for the usual handful of ids.
  const seen = first.length + last.length > 16 ? new Set<string>() : undefined;
  const out: string[] = [];
  for (let i = 0; i < first.length; i++) addNew(out, seen, first[i]!, except);
  if (middle !== undefined) addNew(out, seen, middle, except);
  for (let i = 0; i < last.length; i++) addNew(out, seen, last[i]!, except);
  return out;
}

function addNew(
  out: string[],
  seen: Set<string> | undefined,
  item: string,
  except: string | undefined,
): void {
  if (item === except || (seen ? seen.has(item) : out.includes(item))) return;
  seen?.add(item);
  out.push(item);
}

/**
 * Folds `absorbed` (an anonymous profile or another customer) into `survivor`, deterministically: counts
 * add up, first-touch facts come from whichever was seen first, latest answers from whichever is newer.
 * The survivor keeps its own stage (rules are re-evaluated by the caller after a merge).
 */
export function mergeInto(survivor: CustomerState, absorbed: CustomerState): CustomerState {
  const absorbedFirst = absorbed.firstSeenAt < survivor.firstSeenAt;
  survivor.mergedIds = latestMergedIds(
    distinct(survivor.mergedIds, absorbed.id, absorbed.mergedIds, survivor.id),
    absorbed.id,
  );
  if (absorbedFirst || survivor.acquisitionChannel === undefined) {
    if (absorbed.acquisitionChannel !== undefined) survivor.acquisitionChannel = absorbed.acquisitionChannel;
    if (absorbed.acquisitionCampaign !== undefined)
      survivor.acquisitionCampaign = absorbed.acquisitionCampaign;
  }
  if (
    (absorbed.firstPurchaseAt ?? Infinity) < (survivor.firstPurchaseAt ?? Infinity) &&
    absorbed.convertingChannel
  ) {
    survivor.convertingChannel = absorbed.convertingChannel;
  }
  survivor.firstSeenAt = Math.min(survivor.firstSeenAt, absorbed.firstSeenAt);
  const absorbedNewer = absorbed.lastSeenAt > survivor.lastSeenAt;
  survivor.lastSeenAt = Math.max(survivor.lastSeenAt, absorbed.lastSeenAt);
  survivor.lastAppliedAt = Math.max(survivor.lastAppliedAt, absorbed.lastAppliedAt);
  if (absorbedNewer && absorbed.lastTouchChannel) survivor.lastTouchChannel = absorbed.lastTouchChannel;
  survivor.orders += absorbed.orders;
  mergePurchaseDays(survivor, absorbed);
  if (absorbed.firstPurchaseAt !== undefined)
    survivor.firstPurchaseAt = Math.min(survivor.firstPurchaseAt ?? Infinity, absorbed.firstPurchaseAt);
  if (absorbed.lastPurchaseAt !== undefined)
    survivor.lastPurchaseAt = Math.max(survivor.lastPurchaseAt ?? -Infinity, absorbed.lastPurchaseAt);
  if (absorbed.currency !== undefined) {
    survivor.currency ??= absorbed.currency;
    if (absorbed.currency === survivor.currency) survivor.netRevenueMinor += absorbed.netRevenueMinor;
    else survivor.otherCurrencyRevenueMinor += absorbed.netRevenueMinor;
  }
  survivor.otherCurrencyRevenueMinor += absorbed.otherCurrencyRevenueMinor;
  survivor.pageViews += absorbed.pageViews;
  survivor.emailsOpened += absorbed.emailsOpened;
  survivor.emailsClicked += absorbed.emailsClicked;
  survivor.unsubscribed ||= absorbed.unsubscribed;
  if (absorbedNewer || survivor.latestNps === undefined)
    survivor.latestNps = absorbed.latestNps ?? survivor.latestNps;
  if (absorbedNewer || survivor.latestCsat === undefined)
    survivor.latestCsat = absorbed.latestCsat ?? survivor.latestCsat;
  survivor.openTickets = latest(
    distinct(survivor.openTickets, undefined, absorbed.openTickets, undefined),
    OPEN_TICKETS_LIMIT,
  );
  survivor.referralsMade += absorbed.referralsMade;
  mergeApplied(survivor, absorbed);
  return survivor;
}

/**
 * The absorbed profile's purchase days counted into the survivor's, before the survivor's `firstPurchaseAt`
 * takes the absorbed's in. Of a profile that lists fewer than all its days, its first is counted as a day,
 * and the days between that and its list as days the survivor did not buy on (PURCHASE_DAYS_LIMIT).
 */
function mergePurchaseDays(survivor: CustomerState, absorbed: CustomerState): void {
  const unlisted = absorbed.earlierPurchaseDays;
  if (unlisted !== undefined) addPurchaseDay(survivor, Math.floor(absorbed.firstPurchaseAt! / DAY_MS), true);
  const days = absorbed.purchaseDays;
  for (let i = 0; i < days.length; i++) addPurchaseDay(survivor, days[i]!, true);
  if (unlisted !== undefined && unlisted > 1)
    survivor.earlierPurchaseDays = (survivor.earlierPurchaseDays ?? 0) + unlisted - 1;
}

export function cloneState(state: CustomerState): CustomerState {
  return structuredClone(state);
}

export function toSnapshot(state: CustomerState, model: { id: string; version: number }): CustomerSnapshot {
  const snapshot: CustomerSnapshot = {
    customerId: state.id,
    modelId: model.id,
    modelVersion: model.version,
    stage: state.stage,
    stageEnteredAt: state.stageEnteredAt,
    sequence: state.sequence,
    firstSeenAt: state.firstSeenAt,
    lastSeenAt: state.lastSeenAt,
    mergedIds: state.mergedIds,
    orders: state.orders,
    netRevenueMinor: state.netRevenueMinor,
    emailsOpened: state.emailsOpened,
    emailsClicked: state.emailsClicked,
    unsubscribed: state.unsubscribed,
    openTickets: state.openTickets.length,
    referralsMade: state.referralsMade,
    updatedAt: state.lastAppliedAt,
  };
  // Optional fields are left out when unknown (the contract's optional is "absent", not undefined); set one
  // by one rather than spread from a conditional object each, which allocated up to ten objects a snapshot.
  if (state.acquisitionChannel !== undefined) snapshot.acquisitionChannel = state.acquisitionChannel;
  if (state.acquisitionCampaign !== undefined) snapshot.acquisitionCampaign = state.acquisitionCampaign;
  if (state.convertingChannel !== undefined) snapshot.convertingChannel = state.convertingChannel;
  if (state.firstPurchaseAt !== undefined) snapshot.firstPurchaseAt = state.firstPurchaseAt;
  if (state.lastPurchaseAt !== undefined) snapshot.lastPurchaseAt = state.lastPurchaseAt;
  if (state.currency !== undefined) snapshot.currency = state.currency;
  const cadence = purchaseCadenceDays(state);
  if (cadence !== undefined) snapshot.purchaseCadenceDays = cadence;
  if (state.latestNps !== undefined) snapshot.latestNps = state.latestNps;
  if (state.latestCsat !== undefined) snapshot.latestCsat = state.latestCsat;
  return snapshot;
}
