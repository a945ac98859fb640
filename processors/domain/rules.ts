/**
 * Deciding stage changes from a model's rules. Event rules are tried after each applied touchpoint;
 * inactivity rules fire when stream time passes the customer's deadline, which is judged against the
 * customer's own purchase cadence: deadline = last purchase + max(minDays, multiple x cadence), so a monthly
 * buyer is at risk after about two months and a yearly buyer only after about two years.
 */
import type { StageChanged } from '../../schemas/outputs';
import type { TouchpointType } from '../../schemas/touchpoint';
import { purchaseCadenceDays, STAGE_HISTORY_LIMIT, type CustomerState } from './customer';
import type { Condition, Rule, StageModel } from './model';

const DAY_MS = 86_400_000;

function appliesFrom(rule: Rule, stage: string): boolean {
  return rule.to !== stage && (rule.from === '*' || rule.from.includes(stage));
}

/** Every condition except `inactivity` (handled by the deadline). */
export function conditionsHold(
  c: Condition,
  s: CustomerState,
  eventType: TouchpointType | undefined,
): boolean {
  if (c.eventTypes && (eventType === undefined || !c.eventTypes.includes(eventType))) return false;
  if (c.minOrders !== undefined && s.orders < c.minOrders) return false;
  if (c.minPurchaseDays !== undefined && s.purchaseDays.length < c.minPurchaseDays) return false;
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

/** The first event rule that fires for the state after a touchpoint of this type, if any. */
export function decideOnEvent(
  model: StageModel,
  s: CustomerState,
  eventType: TouchpointType,
): Rule | undefined {
  for (const rule of model.rules) {
    if (rule.when.inactivity || !appliesFrom(rule, s.stage)) continue;
    if (conditionsHold(rule.when, s, eventType)) return rule;
  }
  return undefined;
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
  if (s.lastPurchaseAt === undefined) return undefined;
  const cadence = purchaseCadenceDays(s);
  const cadenceDays = cadence ?? model.inactivity.defaultCadenceDays;
  for (const rule of model.rules) {
    const kind = rule.when.inactivity;
    if (!kind || !appliesFrom(rule, s.stage) || !conditionsHold(rule.when, s, undefined)) continue;
    const threshold = model.inactivity[kind];
    const days = Math.max(threshold.minDays, threshold.multiple * cadenceDays);
    return {
      rule,
      at: s.lastPurchaseAt + Math.round(days * DAY_MS),
      days,
      cadenceDays,
      usualCadence: cadence !== undefined,
    };
  }
  return undefined;
}

export function inactivityReason(d: InactivityDeadline, model: StageModel): string {
  const kind = d.rule.when.inactivity!;
  const multiple = model.inactivity[kind].multiple;
  const cadence = Math.round(d.cadenceDays);
  return `no purchase for ${Math.round(d.days)} days (${multiple}x the ${d.usualCadence ? 'usual' : 'assumed'} ${cadence}-day cadence)`;
}

/** Moves the customer to the rule's stage (in place) and describes the change. */
export function changeStage(
  s: CustomerState,
  model: StageModel,
  to: string,
  ruleId: string,
  at: number,
  triggeringEventIds: string[],
  reason: string,
): StageChanged {
  const from = s.sequence === 0 ? undefined : s.stage;
  s.sequence += 1;
  s.stage = to;
  s.stageEnteredAt = at;
  s.history.push({ stage: to, at, ruleId });
  if (s.history.length > STAGE_HISTORY_LIMIT) s.history.splice(0, s.history.length - STAGE_HISTORY_LIMIT);
  return {
    eventId: `${model.id}:${s.id}:${s.sequence}`,
    customerId: s.id,
    modelId: model.id,
    modelVersion: model.version,
    ...(from !== undefined ? { fromStage: from } : {}),
    toStage: to,
    ruleId,
    triggeringEventIds,
    occurredAt: at,
    sequence: s.sequence,
    reason,
  };
}

export function ruleReason(rule: Rule): string {
  return rule.description ?? `rule ${rule.id}`;
}
