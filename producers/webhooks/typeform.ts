/**
 * Typeform `form_response` webhooks (https://www.typeform.com/developers/webhooks/example-payload/) to
 * SurveyAnswered. Pure.
 *
 * - nps: the answer to Typeform's Net Promoter Score question (field type `nps`) or to a field whose ref is
 *   `nps`; csat: the answer to a field whose ref is `csat` (1-5); comment: a field with ref `comment`, else
 *   the first long-text answer. A response with none of them is not a survey ciclo records and is ignored.
 * - surveyId is the form id; occurredAt is `submitted_at`.
 * - The eventId is `typeform:<response token>`: one per response, the same on every redelivery.
 * - The customer is the hidden field `customer_id` (or `customerId`, `user_id`, `userId`), which the survey
 *   link carries (https://example.typeform.com/to/abc#customer_id=cus_1); else `anonymous_id`; else an
 *   anonymous id from a hidden or answered email; else one for the response itself, so anonymous answers
 *   still count in NPS reports.
 * - `form_response_partial` and other event types are ignored.
 */
import { z } from 'zod';
import { problemsOf } from '../../schemas/validation';
import { checkTouchpoint } from '../edge/check';
import { providerEventId } from '../../schemas/event-id';
import { emailAnonymousId } from '../../schemas/pseudonym';
import { isRecord, text, type WebhookContext, type WebhookMapping } from './outcome';

const Answer = z.looseObject({
  type: z.string(),
  field: z.looseObject({ id: z.string(), type: z.string(), ref: z.string().nullish() }),
});

const TypeformEvent = z.looseObject({
  event_id: z.string().min(1),
  event_type: z.string().min(1),
  form_response: z.looseObject({
    form_id: z.string().min(1),
    token: z.string().min(1),
    submitted_at: z.iso.datetime({ offset: true }),
    hidden: z.record(z.string(), z.unknown()).nullish(),
    answers: z.array(Answer).nullish(),
  }),
});

const CUSTOMER_FIELDS = ['customer_id', 'customerId', 'user_id', 'userId'] as const;
const ANONYMOUS_FIELDS = ['anonymous_id', 'anonymousId'] as const;

function hiddenField(
  hidden: Readonly<Record<string, unknown>>,
  names: readonly string[],
): { name: string; value: string } | undefined {
  for (const name of names) {
    const value = text(hidden[name]);
    if (value) return { name, value };
  }
  return undefined;
}

export function mapTypeformEvent(body: unknown, ctx: WebhookContext): WebhookMapping {
  if (isRecord(body) && typeof body.event_type === 'string' && body.event_type !== 'form_response') {
    const id = text(body.event_id) ?? '';
    return {
      ok: true,
      touchpoints: [],
      ignored: [{ id, reason: `event type ${body.event_type} is not mapped` }],
    };
  }
  const parsed = TypeformEvent.safeParse(body);
  if (!parsed.success) return { ok: false, problems: problemsOf(parsed.error) };
  const response = parsed.data.form_response;
  const answers = response.answers ?? [];
  const R = 'form_response';

  const origins: Record<string, string> = {
    eventId: `${R}.token`,
    occurredAt: `${R}.submitted_at`,
    'payload.surveyId': `${R}.form_id`,
  };
  const payload: Record<string, unknown> = { surveyId: response.form_id };
  const npsAt = answers.findIndex((a) => a.field.type === 'nps' || a.field.ref === 'nps');
  if (npsAt >= 0) {
    payload.nps = answers[npsAt]?.number;
    origins['payload.nps'] = `${R}.answers.${npsAt}.number`;
  }
  const csatAt = answers.findIndex((a) => a.field.ref === 'csat');
  if (csatAt >= 0) {
    payload.csat = answers[csatAt]?.number;
    origins['payload.csat'] = `${R}.answers.${csatAt}.number`;
  }
  let commentAt = answers.findIndex((a) => a.field.ref === 'comment');
  if (commentAt < 0) commentAt = answers.findIndex((a) => a.field.type === 'long_text');
  if (commentAt >= 0) {
    payload.comment = answers[commentAt]?.text;
    origins['payload.comment'] = `${R}.answers.${commentAt}.text`;
  }
  if (payload.nps === undefined && payload.csat === undefined && payload.comment === undefined) {
    return {
      ok: true,
      touchpoints: [],
      ignored: [{ id: response.token, reason: 'no NPS, CSAT or comment answer' }],
    };
  }

  const hidden = response.hidden ?? {};
  const customer = hiddenField(hidden, CUSTOMER_FIELDS);
  const anonymous = hiddenField(hidden, ANONYMOUS_FIELDS);
  const emailAnswer = answers.find((a) => a.type === 'email');
  const email = text(hidden.email) ?? text(emailAnswer?.email);
  const identity = customer
    ? { customerId: customer.value }
    : anonymous
      ? { anonymousId: anonymous.value }
      : {
          anonymousId: email
            ? emailAnonymousId(ctx.pseudonymSecret, email)
            : providerEventId('typeform-response', response.token),
        };
  if (customer) origins.customerId = `${R}.hidden.${customer.name}`;
  if (anonymous) origins.anonymousId = `${R}.hidden.${anonymous.name}`;

  const checked = checkTouchpoint(
    {
      eventId: providerEventId('typeform', response.token),
      type: 'SurveyAnswered',
      ...identity,
      occurredAt: Date.parse(response.submitted_at),
      receivedAt: ctx.receivedAt,
      source: { kind: 'webhook', name: 'typeform' },
      payload,
    },
    origins,
  );
  return checked.ok ? { ok: true, touchpoints: [checked.value], ignored: [] } : checked;
}
