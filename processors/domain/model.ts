/**
 * Stage models are data: a validated JSON document with an id, a version, its stages, how inactivity is
 * judged, and ordered rules. Three presets ship (five-stage, six-stage, four-stage); a custom model is a
 * JSON file of the same shape (`ciclo lifecycle replay --model ./my-model.json`).
 *
 * Rule evaluation: after each applied touchpoint, the rules are tried in file order and the first rule
 * whose `from` contains the current stage, whose `to` differs from it, and whose conditions all hold,
 * fires (one change per touchpoint). Inactivity rules (`when.inactivity`) never fire on a touchpoint: they
 * fire when stream time passes the customer's inactivity deadline (see rules.ts).
 */
import { z } from 'zod';
import fiveStage from './presets/five-stage.json';
import fourStage from './presets/four-stage.json';
import sixStage from './presets/six-stage.json';
import { TOUCHPOINT_TYPES, type TouchpointType } from '../../schemas/touchpoint';
import { formatProblems, problemsOf } from '../../schemas/validation';

const stageId = z.string().regex(/^[a-z][a-z0-9_-]*$/, 'stage ids are lowercase words, digits, - and _');

export const ConditionSchema = z
  .object({
    /** The touchpoint just applied must be one of these types. */
    eventTypes: z
      .array(z.enum(TOUCHPOINT_TYPES as [TouchpointType, ...TouchpointType[]]))
      .min(1)
      .optional(),
    minOrders: z.int().min(0).optional(),
    minPurchaseDays: z.int().min(0).optional(),
    minNetRevenueMinor: z.int().optional(),
    minPageViews: z.int().min(0).optional(),
    minEmailsEngaged: z.int().min(0).optional(),
    minReferrals: z.int().min(0).optional(),
    minOpenTickets: z.int().min(0).optional(),
    /** Latest NPS answer at least / at most (promoters 9-10, detractors 0-6). */
    npsAtLeast: z.int().min(0).max(10).optional(),
    npsAtMost: z.int().min(0).max(10).optional(),
    csatAtMost: z.int().min(1).max(5).optional(),
    /** P(alive) from the CLV model below this value (set on the state by `ciclo clv refit`). */
    pAliveBelow: z.number().min(0).max(1).optional(),
    /** Fires from stream time when the customer passed this inactivity deadline. */
    inactivity: z.enum(['atRisk', 'lapsed']).optional(),
  })
  .strict();
export type Condition = z.infer<typeof ConditionSchema>;

export const RuleSchema = z
  .object({
    id: z.string().regex(/^[a-z][a-z0-9-]*$/, 'rule ids are lowercase words and -'),
    description: z.string().optional(),
    from: z.union([z.literal('*'), z.array(stageId).min(1)]),
    to: stageId,
    when: ConditionSchema,
  })
  .strict();
export type Rule = z.infer<typeof RuleSchema>;

const InactivityThreshold = z.object({
  /** Deadline = last purchase + max(minDays, multiple x the customer's cadence in days). */
  multiple: z.number().positive(),
  minDays: z.number().min(0),
});

export const StageModelSchema = z
  .object({
    id: z.string().regex(/^[a-z][a-z0-9-]*$/, 'model ids are lowercase words and -'),
    version: z.int().min(1),
    name: z.string().min(1),
    description: z.string().optional(),
    stages: z
      .array(
        z
          .object({
            id: stageId,
            name: z.string().min(1),
            kind: z.enum(['prospect', 'active', 'loyal', 'at-risk', 'lapsed']),
          })
          .strict(),
      )
      .min(2),
    initialStage: stageId,
    inactivity: z
      .object({
        /** The cadence assumed until a customer has two purchase days. */
        defaultCadenceDays: z.number().positive(),
        atRisk: InactivityThreshold,
        lapsed: InactivityThreshold,
      })
      .strict(),
    rules: z.array(RuleSchema).min(1),
  })
  .strict()
  .superRefine((model, ctx) => {
    const stages = new Set(model.stages.map((s) => s.id));
    if (stages.size !== model.stages.length)
      ctx.addIssue({ code: 'custom', path: ['stages'], message: 'stage ids must be unique' });
    if (!stages.has(model.initialStage))
      ctx.addIssue({
        code: 'custom',
        path: ['initialStage'],
        message: `unknown stage "${model.initialStage}"`,
      });
    const ruleIds = new Set<string>();
    model.rules.forEach((rule, i) => {
      if (ruleIds.has(rule.id))
        ctx.addIssue({ code: 'custom', path: ['rules', i, 'id'], message: `duplicate rule id "${rule.id}"` });
      ruleIds.add(rule.id);
      if (!stages.has(rule.to))
        ctx.addIssue({ code: 'custom', path: ['rules', i, 'to'], message: `unknown stage "${rule.to}"` });
      if (rule.from !== '*') {
        rule.from.forEach((s, j) => {
          if (!stages.has(s))
            ctx.addIssue({ code: 'custom', path: ['rules', i, 'from', j], message: `unknown stage "${s}"` });
        });
      }
      if (rule.when.inactivity && rule.when.eventTypes) {
        ctx.addIssue({
          code: 'custom',
          path: ['rules', i, 'when'],
          message: 'an inactivity rule fires from stream time and cannot also require an event type',
        });
      }
    });
  });
export type StageModel = z.infer<typeof StageModelSchema>;

export const PRESET_IDS = ['five-stage', 'six-stage', 'four-stage'] as const;
export const DEFAULT_MODEL_ID = 'five-stage';

/** A model that does not fit the schema: `origin` names where it came from (a file, a preset). */
export class InvalidStageModel extends Error {
  constructor(origin: string, problems: string) {
    super(`invalid stage model ${origin}: ${problems}`);
    this.name = 'InvalidStageModel';
  }
}

export function parseModel(json: unknown, origin: string): StageModel {
  const parsed = StageModelSchema.safeParse(json);
  if (!parsed.success) throw new InvalidStageModel(origin, formatProblems(problemsOf(parsed.error)));
  return parsed.data;
}

export type PresetId = (typeof PRESET_IDS)[number];

const PRESET_JSON: Readonly<Record<PresetId, unknown>> = {
  'five-stage': fiveStage,
  'six-stage': sixStage,
  'four-stage': fourStage,
};

export function isPresetId(id: string): id is PresetId {
  return (PRESET_IDS as readonly string[]).includes(id);
}

/** A preset model (presets/*.json, compiled in), checked like any model. */
export function presetModel(id: PresetId): StageModel {
  return parseModel(structuredClone(PRESET_JSON[id]), `preset ${id}`);
}
