/**
 * Deciding stage changes from a model's rules. Event rules are tried after each applied touchpoint;
 * inactivity rules fire when stream time passes the customer's deadline, which is judged against the
 * customer's own purchase cadence: deadline = last purchase + max(minDays, multiple x cadence), so a monthly
 * buyer is at risk after about two months and a yearly buyer only after about two years.
 */
import type { StageChanged } from '../../schemas/outputs';
import type { TouchpointType } from '../../schemas/touchpoint';
import { purchaseCadenceDays, purchaseDayCount, type CustomerState } from './customer';
import type { Rule, StageModel } from './model';

const DAY_MS = 86_400_000;

function appliesFrom(rule: Rule, stage: string): boolean {
  return rule.to !== stage && (rule.from === '*' || rule.from.includes(stage));
}

/**
 * A condition with every field present (undefined when the model leaves it out), so that the hot path reads
 * conditions of one shape only; `eventTypes` is resolved by the index instead.
 */
interface StateCondition {
  readonly minOrders: number | undefined;
  readonly minPurchaseDays: number | undefined;
  readonly minNetRevenueMinor: number | undefined;
  readonly minPageViews: number | undefined;
  readonly minEmailsEngaged: number | undefined;
  readonly minReferrals: number | undefined;
  readonly minOpenTickets: number | undefined;
  readonly npsAtLeast: number | undefined;
  readonly npsAtMost: number | undefined;
  readonly csatAtMost: number | undefined;
  readonly pAliveBelow: number | undefined;
}

interface IndexedRule {
  readonly rule: Rule;
  /** Undefined when the rule has no condition on the state (most event and inactivity rules): it holds. */
  readonly state: StateCondition | undefined;
  /** An inactivity rule's threshold (the model's `inactivity[rule.when.inactivity]`), looked up once here. */
  readonly threshold: InactivityThreshold | undefined;
}

type InactivityThreshold = StageModel['inactivity']['atRisk'];

/** The rules that can fire from one stage: event rules per touchpoint type, and inactivity rules. */
interface StageRules {
  /** For each type some rule names: the rules that name it or no type, in file order. */
  readonly byType: ReadonlyMap<TouchpointType, readonly IndexedRule[]>;
  /** For any other type: the rules that name no type. */
  readonly anyType: readonly IndexedRule[];
  readonly inactivity: readonly IndexedRule[];
}

/** Every condition except `inactivity` (handled by the deadline) and `eventTypes` (matched by the index). */
function stateHolds(c: StateCondition, s: CustomerState): boolean {
  if (c.minOrders !== undefined && s.orders < c.minOrders) return false;
  if (c.minPurchaseDays !== undefined && purchaseDayCount(s) < c.minPurchaseDays) return false;
  if (c.minNetRevenueMinor !== undefined && s.netRevenueMinor < c.minNetRevenueMinor) return false;
  if (c.minPageViews !== undefined && s.pageViews < c.minPageViews) return false;
  if (c.minEmailsEngaged !== undefined && s.emailsOpened + s.emailsClicked < c.minEmailsEngaged) return false;
  if (c.minReferrals !== undefined && s.referralsMade < c.minReferrals) return false;
  if (c.minOpenTickets !== undefined && s.openTickets.length < c.minOpenTickets) return false;
  if (c.npsAtLeast !== undefined && (s.latestNps === undefined || s.latestNps < c.npsAtLeast)) return false;
  if (c.npsAtMost !== undefined && (s.latestNps === undefined || s.latestNps > c.npsAtMost)) return false;
  if (c.csatAtMost !== undefined && (s.latestCsat === undefined || s.latestCsat > c.csatAtMost)) return false;
  if (
    c.pAliveBelow !== undefined &&
    (s.probabilityAlive === undefined || s.probabilityAlive >= c.pAliveBelow)
  )
    return false;
  return true;
}

/**
 * A model's rules indexed by the customer's stage and the touchpoint's type, in file order, so a touchpoint
 * only tries the rules that could fire for it (most touchpoints have none). The decisions are exactly those
 * of trying every rule in file order (see model.ts).
 */
export class RuleIndex {
  private readonly stages: string[] = [];
  private readonly stageRules: StageRules[] = [];

  /** Whether an inactivity rule's conditions read P(alive), which changes outside the fold. */
  readonly inactivityReadsPAlive: boolean;

  constructor(readonly model: StageModel) {
    this.inactivityReadsPAlive = model.rules.some(
      (r) => r.when.inactivity !== undefined && r.when.pAliveBelow !== undefined,
    );
  }

  /** The first event rule that fires for the state after a touchpoint of this type, if any. */
  decideOnEvent(s: CustomerState, eventType: TouchpointType): Rule | undefined {
    const stage = this.forStage(s.stage);
    const rules = stage.byType.get(eventType) ?? stage.anyType;
    for (let i = 0; i < rules.length; i++) {
      const r = rules[i]!;
      if (r.state === undefined || stateHolds(r.state, s)) return r.rule;
    }
    return undefined;
  }

  /** The inactivity rule whose deadline is next for this customer in its current stage, if any. */
  private inactivityRule(s: CustomerState): IndexedRule | undefined {
    if (s.lastPurchaseAt === undefined) return undefined;
    const rules = this.forStage(s.stage).inactivity;
    for (let i = 0; i < rules.length; i++) {
      const r = rules[i]!;
      if (r.state === undefined || stateHolds(r.state, s)) return r;
    }
    return undefined;
  }

  /** When the next inactivity change is due (`nextInactivityDeadline(...).at`), without building it. */
  deadlineAt(s: CustomerState): number | undefined {
    const r = this.inactivityRule(s);
    if (r === undefined) return undefined;
    const threshold = r.threshold!;
    const cadenceDays = purchaseCadenceDays(s) ?? this.model.inactivity.defaultCadenceDays;
    return (
      s.lastPurchaseAt! + Math.round(Math.max(threshold.minDays, threshold.multiple * cadenceDays) * DAY_MS)
    );
  }

  /** The next inactivity change due for this customer in its current stage, if any. */
  nextInactivityDeadline(s: CustomerState): InactivityDeadline | undefined {
    const r = this.inactivityRule(s);
    if (r === undefined) return undefined;
    const cadence = purchaseCadenceDays(s);
    const cadenceDays = cadence ?? this.model.inactivity.defaultCadenceDays;
    const threshold = r.threshold!;
    const days = Math.max(threshold.minDays, threshold.multiple * cadenceDays);
    return {
      rule: r.rule,
      at: s.lastPurchaseAt! + Math.round(days * DAY_MS),
      days,
      cadenceDays,
      usualCadence: cadence !== undefined,
    };
  }

  private forStage(stage: string): StageRules {
    // A model has a handful of stages: a scan of their (usually identical) strings beats hashing.
    const stages = this.stages;
    for (let i = 0; i < stages.length; i++) if (stages[i] === stage) return this.stageRules[i]!;
    const rules = indexStage(this.model, stage);
    this.stages.push(stage);
    this.stageRules.push(rules);
    return rules;
  }
}

function indexStage(model: StageModel, stage: string): StageRules {
  const onEvent: IndexedRule[] = [];
  const inactivity: IndexedRule[] = [];
  for (const rule of model.rules) {
    if (!appliesFrom(rule, stage)) continue;
    const c = rule.when;
    const state: StateCondition = {
      minOrders: c.minOrders,
      minPurchaseDays: c.minPurchaseDays,
      minNetRevenueMinor: c.minNetRevenueMinor,
      minPageViews: c.minPageViews,
      minEmailsEngaged: c.minEmailsEngaged,
      minReferrals: c.minReferrals,
      minOpenTickets: c.minOpenTickets,
      npsAtLeast: c.npsAtLeast,
      npsAtMost: c.npsAtMost,
      csatAtMost: c.csatAtMost,
      pAliveBelow: c.pAliveBelow,
    };
    const indexed: IndexedRule = {
      rule,
      state: Object.values(state).every((v) => v === undefined) ? undefined : state,
      threshold: c.inactivity === undefined ? undefined : model.inactivity[c.inactivity],
    };
    // An inactivity rule never fires on a touchpoint; one that also asks for an event type never holds.
    if (c.inactivity) {
      if (!c.eventTypes) inactivity.push(indexed);
    } else onEvent.push(indexed);
  }
  const byType = new Map<TouchpointType, readonly IndexedRule[]>();
  for (const type of new Set(onEvent.flatMap((r) => r.rule.when.eventTypes ?? [])))
    byType.set(
      type,
      onEvent.filter((r) => r.rule.when.eventTypes?.includes(type) ?? true),
    );
  return { byType, anyType: onEvent.filter((r) => !r.rule.when.eventTypes), inactivity };
}

const indexes = new WeakMap<StageModel, RuleIndex>();

/** The rule index of a model, built once per model object. */
export function ruleIndexOf(model: StageModel): RuleIndex {
  let index = indexes.get(model);
  if (index === undefined) {
    index = new RuleIndex(model);
    indexes.set(model, index);
  }
  return index;
}

/** The first event rule that fires for the state after a touchpoint of this type, if any. */
export function decideOnEvent(
  model: StageModel,
  s: CustomerState,
  eventType: TouchpointType,
): Rule | undefined {
  return ruleIndexOf(model).decideOnEvent(s, eventType);
}

export interface InactivityDeadline {
  readonly rule: Rule;
  readonly at: number;
  readonly days: number;
  readonly cadenceDays: number;
  readonly usualCadence: boolean;
}

/** The next inactivity change due for this customer in its current stage, if any. */
export function nextInactivityDeadline(model: StageModel, s: CustomerState): InactivityDeadline | undefined {
  return ruleIndexOf(model).nextInactivityDeadline(s);
}

export function inactivityReason(d: InactivityDeadline, model: StageModel): string {
  const kind = d.rule.when.inactivity!;
  const multiple = model.inactivity[kind].multiple;
  const cadence = Math.round(d.cadenceDays);
  return `no purchase for ${Math.round(d.days)} days (${multiple}x the ${d.usualCadence ? 'usual' : 'assumed'} ${cadence}-day cadence)`;
}

/** Moves the customer to a stage (in place): the next sequence number and the entry time. */
export function enterStage(s: CustomerState, to: string, at: number): void {
  s.sequence += 1;
  s.stage = to;
  s.stageEnteredAt = at;
}

/** The StageChanged record of a customer's `sequence`-th change (`from` is absent on the first). */
export function stageChanged(
  model: StageModel,
  customerId: string,
  sequence: number,
  from: string | undefined,
  to: string,
  ruleId: string,
  at: number,
  triggeringEventIds: string[],
  reason: string,
): StageChanged {
  const eventId = `${model.id}:${customerId}:${sequence}`;
  // Two literals rather than a spread: the same fields in the same order, without the spread's copying.
  return from === undefined
    ? {
        eventId,
        customerId,
        modelId: model.id,
        modelVersion: model.version,
        toStage: to,
        ruleId,
        triggeringEventIds,
        occurredAt: at,
        sequence,
        reason,
      }
    : {
        eventId,
        customerId,
        modelId: model.id,
        modelVersion: model.version,
        fromStage: from,
        toStage: to,
        ruleId,
        triggeringEventIds,
        occurredAt: at,
        sequence,
        reason,
      };
}

export function ruleReason(rule: Rule): string {
  return rule.description ?? `rule ${rule.id}`;
}
