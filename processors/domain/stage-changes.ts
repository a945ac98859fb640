/**
 * The stage changes a partition emits, kept as columns until the runtime takes them (partition.ts
 * `takeOutput`).
 */
import type { StageChanged } from '../../schemas/outputs';
import type { CustomerState } from './customer';
import type { StageModel } from './model';
import { enterStage, inactivityReason, stageChanged, type InactivityDeadline } from './rules';

/**
 * Stage changes since the last takeOutput(), kept as columns and made into StageChanged records only when
 * taken. A partition can emit many changes between takes (a whole batch, or a replay); a few flat arrays
 * cost the garbage collector far less than as many records, each with its id string and arrays.
 */
export class StageChangeColumns {
  private readonly customerIds: string[] = [];
  private readonly sequences: number[] = [];
  private readonly fromStages: (string | undefined)[] = [];
  private readonly toStages: string[] = [];
  private readonly ruleIds: string[] = [];
  private readonly occurredAts: number[] = [];
  /** The triggering touchpoint's id; undefined for an inactivity change, which none triggered. */
  private readonly triggers: (string | undefined)[] = [];
  /** The reason, or the inactivity deadline it is worded from (only if it is ever taken). */
  private readonly reasons: (string | InactivityDeadline)[] = [];

  /** Moves the customer to `to` (in place) and records the change. */
  record(
    s: CustomerState,
    to: string,
    ruleId: string,
    at: number,
    trigger: string | undefined,
    reason: string | InactivityDeadline,
  ): void {
    this.fromStages.push(s.sequence === 0 ? undefined : s.stage);
    enterStage(s, to, at);
    this.customerIds.push(s.id);
    this.sequences.push(s.sequence);
    this.toStages.push(to);
    this.ruleIds.push(ruleId);
    this.occurredAts.push(at);
    this.triggers.push(trigger);
    this.reasons.push(reason);
  }

  /** Drops the changes recorded for these customers (a forget, forget.ts): they are not emitted. */
  dropCustomers(ids: ReadonlySet<string>): number {
    const keep = this.customerIds.map((id) => !ids.has(id));
    const dropped = keep.filter((k) => !k).length;
    if (dropped === 0) return 0;
    const kept = <T>(column: T[]): void => {
      let to = 0;
      for (let i = 0; i < column.length; i++) if (keep[i]) column[to++] = column[i]!;
      column.length = to;
    };
    kept(this.customerIds);
    kept(this.sequences);
    kept(this.fromStages);
    kept(this.toStages);
    kept(this.ruleIds);
    kept(this.occurredAts);
    kept(this.triggers);
    kept(this.reasons);
    return dropped;
  }

  /** The recorded changes, in order, as StageChanged records; the columns start over. */
  take(model: StageModel): StageChanged[] {
    const n = this.customerIds.length;
    const out = new Array<StageChanged>(n);
    for (let i = 0; i < n; i++) {
      const trigger = this.triggers[i];
      const reason = this.reasons[i]!;
      out[i] = stageChanged(
        model,
        this.customerIds[i]!,
        this.sequences[i]!,
        this.fromStages[i],
        this.toStages[i]!,
        this.ruleIds[i]!,
        this.occurredAts[i]!,
        trigger === undefined ? [] : [trigger],
        typeof reason === 'string' ? reason : inactivityReason(reason, model),
      );
    }
    if (n > 0) {
      this.customerIds.length = 0;
      this.sequences.length = 0;
      this.fromStages.length = 0;
      this.toStages.length = 0;
      this.ruleIds.length = 0;
      this.occurredAts.length = 0;
      this.triggers.length = 0;
      this.reasons.length = 0;
    }
    return out;
  }
}
