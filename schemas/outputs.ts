/**
 * What ciclo emits for other services: stage changes (a stream) and customer lifecycle snapshots (a
 * compacted changelog, latest per customer). Both are consumed outside ciclo, so their subjects are
 * FULL_TRANSITIVE: only optional fields with defaults may ever be added. Stage names are strings, not an
 * Avro enum, because stage models are data and custom models bring their own stages.
 */
import { z } from 'zod';
import { id, minorUnits, smallInt, timestampMillis } from './fields';
import { formatProblems, type ValidationProblem } from './validation';

export const StageChangedSchema = z
  .object({
    /** Deterministic: derived from customer, model and sequence, so a replay yields the same id. */
    eventId: id('eventId'),
    customerId: id('customerId'),
    modelId: id('modelId'),
    modelVersion: smallInt().min(1),
    /** Absent for a customer's first stage. */
    fromStage: id('fromStage').optional(),
    toStage: id('toStage'),
    /** The rule of the model that fired. */
    ruleId: id('ruleId'),
    /** The touchpoints that caused the change (empty for changes fired by inactivity). */
    triggeringEventIds: z.array(z.string()),
    /** Event time of the change (the triggering event's time, or the inactivity deadline). */
    occurredAt: timestampMillis(),
    /** Per customer and model, 1, 2, 3, ... with no gaps: consumers can detect a missed change. */
    sequence: z.int().min(1).meta({ avroType: 'long' }),
    /** Human-readable reason, e.g. "no purchase for 94 days (3x the usual 31-day cadence)". */
    reason: z.string().max(1000).optional(),
  })
  .meta({ avroName: 'StageChanged' });
export type StageChanged = z.infer<typeof StageChangedSchema>;

export const CustomerSnapshotSchema = z
  .object({
    customerId: id('customerId'),
    modelId: id('modelId'),
    modelVersion: smallInt().min(1),
    stage: id('stage'),
    stageEnteredAt: timestampMillis(),
    /** Same as the latest StageChanged sequence for this customer. */
    sequence: z.int().min(0).meta({ avroType: 'long' }),
    firstSeenAt: timestampMillis(),
    lastSeenAt: timestampMillis(),
    /**
     * Other ids merged into this customer (anonymous ids, aliased customer ids): the latest 1,000
     * (MERGED_IDS_LIMIT). An id no longer listed still belongs to this customer.
     */
    mergedIds: z.array(z.string()),
    acquisitionChannel: z.string().optional(),
    acquisitionCampaign: z.string().optional(),
    /** Last touch before the first purchase. */
    convertingChannel: z.string().optional(),
    firstPurchaseAt: timestampMillis().optional(),
    lastPurchaseAt: timestampMillis().optional(),
    orders: z.int().min(0).meta({ avroType: 'int' }),
    /** Revenue net of refunds, in minor units of `currency`. */
    netRevenueMinor: minorUnits(),
    currency: z.string().optional(),
    /** Mean days between purchase days; absent until a second purchase day. */
    purchaseCadenceDays: z.number().optional(),
    emailsOpened: z.int().min(0).meta({ avroType: 'int' }),
    emailsClicked: z.int().min(0).meta({ avroType: 'int' }),
    unsubscribed: z.boolean(),
    latestNps: smallInt().optional(),
    latestCsat: smallInt().optional(),
    /** Support tickets opened and not yet resolved, counted up to 1,000 (OPEN_TICKETS_LIMIT). */
    openTickets: z.int().min(0).meta({ avroType: 'int' }),
    referralsMade: z.int().min(0).meta({ avroType: 'int' }),
    /** Event time of the latest touchpoint folded in. */
    updatedAt: timestampMillis(),
  })
  .meta({ avroName: 'CustomerSnapshot' });
export type CustomerSnapshot = z.infer<typeof CustomerSnapshotSchema>;

/**
 * Dead letters keep the original message bytes untouched (they may not even be Avro), so they are the one
 * thing on Kafka that is not registry-encoded. The why travels in these headers. A call the collector could
 * not map was never on a topic: its dead letter has no source topic, partition or offset (so `ciclo dlq
 * replay` leaves it alone), and says instead who sent it, where in the request it was, and every problem.
 */
export const DEAD_LETTER_HEADERS = {
  reason: 'ciclo-dlq-reason',
  error: 'ciclo-dlq-error',
  sourceTopic: 'ciclo-dlq-source-topic',
  sourcePartition: 'ciclo-dlq-source-partition',
  sourceOffset: 'ciclo-dlq-source-offset',
  failedAt: 'ciclo-dlq-failed-at',
  stage: 'ciclo-dlq-stage',
  /** Collector: every problem, as JSON `[{path, rule, message}]` (cut past PROBLEMS_HEADER_MAX_CHARS). */
  problems: 'ciclo-dlq-problems',
  /** Collector: the source whose write key sent the call. */
  sender: 'ciclo-dlq-sender',
  /** Collector: where the call was in its request (`batch.3`, or the route's type for a single call). */
  call: 'ciclo-dlq-call',
} as const;

export type DeadLetterStage = 'processor' | 'projector' | 'collector';

export const DEAD_LETTER_REASONS = [
  'undecodable',
  'invalid',
  'unknown-schema',
  'late-beyond-grace',
  'sink-rejected',
] as const;
export type DeadLetterReason = (typeof DEAD_LETTER_REASONS)[number];

/**
 * The processor's own changelog (compacted, internal): per model, one record per customer state and one
 * per partition (watermark and the reorder buffer). The state itself is the domain's plain JSON, versioned
 * by formatVersion, because it is private to the processor; the envelope is Avro like everything on Kafka.
 */
export const LifecycleStateRecordSchema = z
  .object({
    // customer/partition/redirect: changelog records; handoff/forward/progress: messages between the
    // processor's partitions on the identity topic (processors/domain/identity.ts); claim: no longer
    // written (changelog format 7 and older). New kinds go last.
    kind: z
      .enum(['customer', 'partition', 'redirect', 'claim', 'handoff', 'forward', 'progress'])
      .meta({ avroName: 'LifecycleStateKind' }),
    modelId: id('modelId'),
    modelVersion: smallInt().min(1),
    formatVersion: smallInt().min(1),
    state: z.string(),
  })
  .meta({ avroName: 'LifecycleStateRecord' });
export type LifecycleStateRecord = z.infer<typeof LifecycleStateRecordSchema>;

/**
 * A dead letter for a consumed message: its original key, bytes and headers, plus why and where it failed.
 * Kafka-client independent: `message` is any consumed record.
 */
export function deadLetterOf(
  message: {
    topic: string;
    partition: number;
    offset: string;
    key: string | null;
    value: Buffer | null;
    headers: Readonly<Record<string, string>>;
    timestamp?: number;
  },
  why: { reason: DeadLetterReason; error: string; stage: DeadLetterStage; failedAt: number },
): { key: string | null; value: Buffer | null; headers: Record<string, string>; timestamp?: number } {
  return {
    key: message.key,
    value: message.value,
    headers: {
      ...message.headers,
      [DEAD_LETTER_HEADERS.reason]: why.reason,
      [DEAD_LETTER_HEADERS.error]: why.error.slice(0, 2000),
      [DEAD_LETTER_HEADERS.sourceTopic]: message.topic,
      [DEAD_LETTER_HEADERS.sourcePartition]: String(message.partition),
      [DEAD_LETTER_HEADERS.sourceOffset]: message.offset,
      [DEAD_LETTER_HEADERS.failedAt]: new Date(why.failedAt).toISOString(),
      [DEAD_LETTER_HEADERS.stage]: why.stage,
    },
    ...(message.timestamp ? { timestamp: message.timestamp } : {}),
  };
}

/**
 * How much of a call's problems its dead letter's header carries. A call of half a MB can break the
 * contract thousands of times; the first problems say what is wrong, and the record must stay far below
 * Kafka's 1 MiB message limit, which a poison record would otherwise hit on every retry.
 */
export const PROBLEMS_HEADER_MAX_CHARS = 16_000;

/** The problems as JSON within `maxChars`: those that fit, then one `truncated` entry counting the rest. */
export function problemsHeader(problems: readonly ValidationProblem[], maxChars: number): string {
  const kept: ValidationProblem[] = [];
  let chars = 2;
  for (const p of problems) {
    const entry = { path: p.path, rule: p.rule, message: p.message };
    const size = JSON.stringify(entry).length + 1;
    if (chars + size > maxChars - 100) break;
    kept.push(entry);
    chars += size;
  }
  const rest = problems.length - kept.length;
  return JSON.stringify(
    rest > 0 ? [...kept, { path: '', rule: 'truncated', message: `${rest} more problem(s)` }] : kept,
  );
}

/** Ids as a Segment call carries them: strings, or whole numbers as their decimal text. */
function callId(value: unknown): string | undefined {
  if (typeof value === 'string' && value !== '') return value;
  return typeof value === 'number' && Number.isSafeInteger(value) ? String(value) : undefined;
}

/**
 * A dead letter for a call the collector could not map: the call as sent (JSON, UTF-8), keyed by its
 * userId, else its anonymousId (null without either), with every problem and who sent it in the headers.
 * `call` must be serialisable (the collector cuts calls that nest too deep before they get here).
 */
export function callDeadLetterOf(
  call: unknown,
  why: {
    problems: readonly ValidationProblem[];
    sender: string;
    at: string;
    failedAt: number;
  },
): { key: string | null; value: Buffer; headers: Record<string, string>; timestamp: number } {
  const fields =
    call !== null && typeof call === 'object' && !Array.isArray(call)
      ? (call as Record<string, unknown>)
      : {};
  return {
    key: callId(fields.userId) ?? callId(fields.anonymousId) ?? null,
    value: Buffer.from(JSON.stringify(call) ?? 'null', 'utf8'),
    headers: {
      [DEAD_LETTER_HEADERS.reason]: 'invalid',
      [DEAD_LETTER_HEADERS.error]: formatProblems(why.problems).slice(0, 2000),
      [DEAD_LETTER_HEADERS.problems]: problemsHeader(why.problems, PROBLEMS_HEADER_MAX_CHARS),
      [DEAD_LETTER_HEADERS.failedAt]: new Date(why.failedAt).toISOString(),
      [DEAD_LETTER_HEADERS.stage]: 'collector',
      [DEAD_LETTER_HEADERS.sender]: why.sender,
      [DEAD_LETTER_HEADERS.call]: why.at,
    },
    timestamp: why.failedAt,
  };
}
