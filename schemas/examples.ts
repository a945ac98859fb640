/**
 * One realistic example of every contract value. schemas/README.md shows them (a unit test keeps the README
 * in step with this file) and the contract tests round-trip each through zod and Avro.
 */
import type { CustomerSnapshot, StageChanged } from './outputs';
import type { Touchpoint, TouchpointType } from './touchpoint';

const t0 = Date.UTC(2026, 2, 14, 9, 30); // 2026-03-14T09:30Z
const base = {
  customerId: 'cus_8c1f2a',
  occurredAt: t0,
  receivedAt: t0 + 420,
  source: { kind: 'api' as const, name: 'web' },
};
const web = {
  ...base,
  anonymousId: 'anon_5d0e77',
  source: { kind: 'snippet' as const, name: 'web' },
  context: {
    pageUrl: 'https://shop.example/pricing?utm_source=newsletter',
    referrer: 'https://mail.example/',
    utmSource: 'newsletter',
    utmMedium: 'email',
    utmCampaign: 'spring-sale',
  },
};
const email = { ...base, source: { kind: 'webhook' as const, name: 'sendgrid' } };
const emailPayload = { campaignId: 'cmp_spring', messageId: 'msg_20260314_001' };

export const TOUCHPOINT_EXAMPLES: { readonly [T in TouchpointType]: Extract<Touchpoint, { type: T }> } = {
  PageViewed: {
    ...web,
    eventId: 'evt_pv_0001',
    customerId: undefined,
    type: 'PageViewed',
    payload: { path: '/pricing', title: 'Pricing' },
  },
  Identified: {
    ...web,
    eventId: 'evt_id_0001',
    type: 'Identified',
    payload: { email: 'ana@example.com', name: 'Ana Ruiz', plan: 'pro', traits: { company: 'Example SL' } },
  },
  Aliased: { ...base, eventId: 'evt_al_0001', type: 'Aliased', payload: { previousId: 'anon_5d0e77' } },
  EmailSent: { ...email, eventId: 'evt_es_0001', type: 'EmailSent', payload: emailPayload },
  EmailDelivered: { ...email, eventId: 'evt_ed_0001', type: 'EmailDelivered', payload: emailPayload },
  EmailOpened: { ...email, eventId: 'evt_eo_0001', type: 'EmailOpened', payload: emailPayload },
  EmailClicked: {
    ...email,
    eventId: 'evt_ec_0001',
    type: 'EmailClicked',
    payload: { ...emailPayload, url: 'https://shop.example/spring' },
  },
  EmailBounced: {
    ...email,
    eventId: 'evt_eb_0001',
    type: 'EmailBounced',
    payload: { ...emailPayload, bounceType: 'soft' },
  },
  EmailUnsubscribed: { ...email, eventId: 'evt_eu_0001', type: 'EmailUnsubscribed', payload: emailPayload },
  PurchaseCompleted: {
    ...base,
    eventId: 'evt_po_0001',
    source: { kind: 'webhook', name: 'stripe' },
    type: 'PurchaseCompleted',
    payload: {
      orderId: 'ord_1042',
      lineItems: [
        { sku: 'CD-0042', name: 'Kind of Blue', category: 'jazz', quantity: 1, unitPriceMinor: 1299 },
        { sku: 'CD-0107', name: 'Blue Train', category: 'jazz', quantity: 2, unitPriceMinor: 999 },
      ],
      amountMinor: 3297,
      currency: 'EUR',
      coupon: 'SPRING10',
    },
  },
  RefundIssued: {
    ...base,
    eventId: 'evt_rf_0001',
    source: { kind: 'webhook', name: 'stripe' },
    type: 'RefundIssued',
    payload: { orderId: 'ord_1042', refundId: 're_77', amountMinor: 999, currency: 'EUR', reason: 'damaged' },
  },
  SubscriptionStarted: {
    ...base,
    eventId: 'evt_ss_0001',
    type: 'SubscriptionStarted',
    payload: {
      subscriptionId: 'sub_9',
      plan: 'vinyl-club',
      amountMinor: 1500,
      currency: 'EUR',
      interval: 'month',
    },
  },
  SubscriptionCancelled: {
    ...base,
    eventId: 'evt_sc_0001',
    type: 'SubscriptionCancelled',
    payload: { subscriptionId: 'sub_9', reason: 'too expensive' },
  },
  SurveyAnswered: {
    ...base,
    eventId: 'evt_sv_0001',
    source: { kind: 'webhook', name: 'delighted' },
    type: 'SurveyAnswered',
    payload: { surveyId: 'nps_q1', nps: 9, comment: 'Fast delivery' },
  },
  SupportTicketOpened: {
    ...base,
    eventId: 'evt_to_0001',
    type: 'SupportTicketOpened',
    payload: { ticketId: 'tck_311', subject: 'Order arrived damaged', priority: 'high' },
  },
  SupportTicketResolved: {
    ...base,
    eventId: 'evt_tr_0001',
    type: 'SupportTicketResolved',
    payload: { ticketId: 'tck_311', satisfaction: 4 },
  },
  ReferralMade: {
    ...base,
    eventId: 'evt_rm_0001',
    type: 'ReferralMade',
    payload: { referralId: 'ref_12', refereeId: 'cus_2b9d10' },
  },
  MarketingSpendRecorded: {
    eventId: 'evt_ms_0001',
    occurredAt: Date.UTC(2026, 2, 31),
    receivedAt: Date.UTC(2026, 3, 1),
    source: { kind: 'import', name: 'ads-export' },
    type: 'MarketingSpendRecorded',
    payload: {
      channel: 'paid-search',
      campaign: 'spring-sale',
      amountMinor: 250000,
      currency: 'EUR',
      periodStart: Date.UTC(2026, 2, 1),
      periodEnd: Date.UTC(2026, 2, 31),
    },
  },
  ClvPredicted: {
    eventId: 'clv:cus_8c1f2a:2026-03-31',
    customerId: 'cus_8c1f2a',
    occurredAt: Date.UTC(2026, 2, 31, 23, 59, 59),
    receivedAt: Date.UTC(2026, 3, 1, 2, 0),
    source: { kind: 'model', name: 'clv-refit' },
    type: 'ClvPredicted',
    payload: { probabilityAlive: 0.27, expectedPurchases12m: 0.8, predictedClvMinor: 1840, currency: 'EUR' },
  },
  Tracked: {
    ...web,
    eventId: 'evt_tk_0001',
    type: 'Tracked',
    payload: { event: 'Wishlist Added', properties: { sku: 'CD-0042' } },
  },
};

export const STAGE_CHANGED_EXAMPLE: StageChanged = {
  eventId: 'sc_cus_8c1f2a_five-stage_3',
  customerId: 'cus_8c1f2a',
  modelId: 'five-stage',
  modelVersion: 1,
  fromStage: 'conversion',
  toStage: 'retention',
  ruleId: 'second-purchase',
  triggeringEventIds: ['evt_po_0002'],
  occurredAt: t0,
  sequence: 3,
  reason: 'second purchase day',
};

export const CUSTOMER_SNAPSHOT_EXAMPLE: CustomerSnapshot = {
  customerId: 'cus_8c1f2a',
  modelId: 'five-stage',
  modelVersion: 1,
  stage: 'retention',
  stageEnteredAt: t0,
  sequence: 3,
  firstSeenAt: t0 - 40 * 86_400_000,
  lastSeenAt: t0,
  mergedIds: ['anon_5d0e77'],
  acquisitionChannel: 'newsletter',
  acquisitionCampaign: 'spring-sale',
  convertingChannel: 'newsletter',
  firstPurchaseAt: t0 - 30 * 86_400_000,
  lastPurchaseAt: t0,
  orders: 2,
  netRevenueMinor: 5595,
  currency: 'EUR',
  purchaseCadenceDays: 30,
  emailsOpened: 4,
  emailsClicked: 1,
  unsubscribed: false,
  latestNps: 9,
  openTickets: 0,
  referralsMade: 1,
  updatedAt: t0,
};
