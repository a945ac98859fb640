/**
 * SendGrid Event Webhook deliveries (a JSON array of events,
 * https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/event) to email touchpoints. Pure.
 *
 * processed -> EmailSent, delivered -> EmailDelivered, open -> EmailOpened (machine opens, flagged
 * `sg_machine_open` by Apple Mail Privacy Protection and the like, are not engagement and are ignored),
 * click -> EmailClicked, bounce -> EmailBounced (`type: blocked` is soft, `bounce` hard), unsubscribe,
 * group_unsubscribe and spamreport -> EmailUnsubscribed (a spam report stops all further mail). deferred,
 * dropped, group_resubscribe and account events are ignored and reported as such.
 *
 * The eventId is `sendgrid:<event>:<sg_event_id>`, so a redelivered event is the same touchpoint. The
 * customer comes from a custom arg sent with the mail (`customer_id`, `customerId`, `user_id`, `userId`;
 * SendGrid adds custom args to every event as top-level fields); without one, an anonymous id derived from
 * the address. The campaign is the custom arg `campaign_id`, else the Single Send or marketing campaign id,
 * else the first category. A clicked link keeps less (../edge/url-minimization.ts): scheme, host, port, path,
 * and its `utm_*` and allowed query parameters.
 */
import { z } from 'zod';
import { UNCATEGORIZED_CAMPAIGN, type Touchpoint, type TouchpointType } from '../../schemas/touchpoint';
import { problemsOf, type ValidationProblem } from '../../schemas/validation';
import { checkTouchpoint, prefixProblems } from '../edge/check';
import { minimizeUrl } from '../edge/url-minimization';
import { providerEventId } from '../../schemas/event-id';
import { emailAnonymousId } from '../../schemas/pseudonym';
import { text, type IgnoredEvent, type WebhookContext, type WebhookMapping } from './outcome';

const SendgridEvent = z.looseObject({
  event: z.string().min(1),
  sg_event_id: z.string().min(1),
  /** Unix seconds. */
  timestamp: z.int().positive(),
  email: z.string().optional(),
  sg_message_id: z.string().optional(),
});
type SendgridEvent = z.infer<typeof SendgridEvent>;

const Delivery = z
  .array(z.unknown(), { error: 'must be a JSON array of events' })
  .min(1, 'must contain an event');

const TYPES: Readonly<Record<string, TouchpointType>> = {
  processed: 'EmailSent',
  delivered: 'EmailDelivered',
  open: 'EmailOpened',
  click: 'EmailClicked',
  bounce: 'EmailBounced',
  unsubscribe: 'EmailUnsubscribed',
  group_unsubscribe: 'EmailUnsubscribed',
  spamreport: 'EmailUnsubscribed',
};

const CUSTOMER_ARGS = ['customer_id', 'customerId', 'user_id', 'userId'] as const;
const ANONYMOUS_ARGS = ['anonymous_id', 'anonymousId'] as const;

function firstArg(e: SendgridEvent, names: readonly string[]): { name: string; value: string } | undefined {
  for (const name of names) {
    const value = e[name];
    if (typeof value === 'string' && value.trim() !== '') return { name, value };
    if (typeof value === 'number' && Number.isFinite(value)) return { name, value: String(value) };
  }
  return undefined;
}

function campaignOf(e: SendgridEvent): { value: string; origin: string } {
  const arg = firstArg(e, ['campaign_id', 'singlesend_id', 'marketing_campaign_id']);
  if (arg) return { value: arg.value, origin: arg.name };
  const category: unknown = Array.isArray(e.category) ? (e.category as unknown[])[0] : e.category;
  if (typeof category === 'string' && category !== '') return { value: category, origin: 'category' };
  return { value: UNCATEGORIZED_CAMPAIGN, origin: 'category' };
}

function mapOne(
  e: SendgridEvent,
  ctx: WebhookContext,
): { touchpoint?: Touchpoint; ignored?: IgnoredEvent; problems?: ValidationProblem[] } {
  const type = Object.prototype.hasOwnProperty.call(TYPES, e.event) ? TYPES[e.event] : undefined;
  if (!type) return { ignored: { id: e.sg_event_id, reason: `event ${e.event} is not mapped` } };
  if (e.event === 'open' && e.sg_machine_open === true) {
    return { ignored: { id: e.sg_event_id, reason: 'machine open (privacy proxy), not engagement' } };
  }
  const customer = firstArg(e, CUSTOMER_ARGS);
  const anonymous = firstArg(e, ANONYMOUS_ARGS);
  const email = text(e.email);
  const identity = customer
    ? { customerId: customer.value }
    : anonymous
      ? { anonymousId: anonymous.value }
      : email
        ? { anonymousId: emailAnonymousId(ctx.pseudonymSecret, email) }
        : {};
  const campaign = campaignOf(e);
  const payload: Record<string, unknown> = { campaignId: campaign.value };
  if (e.sg_message_id) payload.messageId = e.sg_message_id;
  if (type === 'EmailClicked' && e.url !== undefined)
    payload.url = typeof e.url === 'string' ? minimizeUrl(e.url, ctx.urlQueryAllowlist) : e.url;
  if (type === 'EmailBounced') payload.bounceType = e.type === 'blocked' ? 'soft' : 'hard';
  const checked = checkTouchpoint(
    {
      eventId: providerEventId('sendgrid', e.event, e.sg_event_id),
      type,
      ...identity,
      occurredAt: e.timestamp * 1000,
      receivedAt: ctx.receivedAt,
      source: { kind: 'webhook', name: 'sendgrid' },
      payload,
    },
    {
      eventId: 'sg_event_id',
      customerId: customer?.name ?? 'email',
      anonymousId: anonymous?.name ?? 'email',
      occurredAt: 'timestamp',
      'payload.campaignId': campaign.origin,
      'payload.messageId': 'sg_message_id',
      'payload.url': 'url',
      'payload.bounceType': 'type',
    },
  );
  return checked.ok ? { touchpoint: checked.value } : { problems: [...checked.problems] };
}

export function mapSendgridDelivery(body: unknown, ctx: WebhookContext): WebhookMapping {
  const delivery = Delivery.safeParse(body);
  if (!delivery.success) {
    return { ok: false, problems: problemsOf(delivery.error) };
  }
  const touchpoints: Touchpoint[] = [];
  const ignored: IgnoredEvent[] = [];
  const problems: ValidationProblem[] = [];
  delivery.data.forEach((raw, i) => {
    const parsed = SendgridEvent.safeParse(raw);
    if (!parsed.success) {
      problems.push(...prefixProblems(String(i), problemsOf(parsed.error)));
      return;
    }
    const one = mapOne(parsed.data, ctx);
    if (one.touchpoint) touchpoints.push(one.touchpoint);
    if (one.ignored) ignored.push(one.ignored);
    if (one.problems) problems.push(...prefixProblems(String(i), one.problems));
  });
  return problems.length > 0 ? { ok: false, problems } : { ok: true, touchpoints, ignored };
}
