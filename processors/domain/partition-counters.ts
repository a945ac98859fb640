/** What a partition counts of its input: every outcome of ingesting a record, and of the identity protocol. */
export interface PartitionCounters {
  accepted: number;
  applied: number;
  duplicates: number;
  ignored: number;
  /**
   * Touchpoints applied out of their customer's order (the sum of the two below): the one case where the
   * outcome can differ from the truth (docs/event-time.md).
   */
  late: number;
  /** Older than a touchpoint already applied to the same customer. */
  lateBehindCustomer: number;
  /** Older than an inactivity change that already fired for the customer (it was not inactive then). */
  lateBehindInactivity: number;
  /** Event times that ran ahead of their record's timestamp and were bounded (event-time.ts). */
  clamped: number;
  /** Records of an import lane that is not open here (never opened, or closed): taken as live traffic. */
  unopenedLane: number;
  /** Import lanes closed here because they carried nothing for their lease (an import that died). */
  lanesExpired: number;
  merges: number;
  stageChanges: number;
  /** Links to an id that already belonged to another customer: re-pointed, not merged. */
  identityConflicts: number;
  /** Touchpoints sent on to the partition of the customer their id now belongs to. */
  forwarded: number;
  /**
   * Links applied without the profile they waited for: the source's partition decided the link otherwise
   * (it applied a late link at another point than this partition). Zero unless links come late.
   */
  handoffsMissing: number;
  /**
   * Touchpoints, links, handoffs and forwards dropped because they name a person forgotten here (forget.ts):
   * those that came after the forget, and those still waiting when it came. Absent until the partition first
   * drops one, so that the counters of a partition that never forgot anybody read as they always have.
   */
  suppressed?: number;
}

export function emptyCounters(): PartitionCounters {
  return {
    accepted: 0,
    applied: 0,
    duplicates: 0,
    ignored: 0,
    late: 0,
    lateBehindCustomer: 0,
    lateBehindInactivity: 0,
    clamped: 0,
    unopenedLane: 0,
    lanesExpired: 0,
    merges: 0,
    stageChanges: 0,
    identityConflicts: 0,
    forwarded: 0,
    handoffsMissing: 0,
  };
}

/** Every counter's key, `suppressed` included. */
export const COUNTER_KEYS: readonly (keyof PartitionCounters)[] = [
  ...(Object.keys(emptyCounters()) as (keyof PartitionCounters)[]),
  'suppressed',
];

/** Adds `from`'s counts to `into`'s (`suppressed` only where there is any). */
export function addCounters(into: PartitionCounters, from: Readonly<PartitionCounters>): void {
  for (const k of COUNTER_KEYS) {
    const n = from[k];
    if (n !== undefined && (n > 0 || into[k] !== undefined)) into[k] = (into[k] ?? 0) + n;
  }
}
