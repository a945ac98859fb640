-- Views for analysts (docs/analytics.md): one row per entity, no FINAL to remember, merged profiles left
-- out or resolved to the customer they became, NULL instead of the tables' sentinels ('' for none, -1 for
-- no answer, 1970-01-01 00:00:00 for no time). Plain views, as in 002: read through FINAL at query time,
-- so a redelivered event never counts twice.
-- Portable to 18.16: one JOIN per SELECT (a second one goes in an outer SELECT), joined subqueries have
-- aliases (26.x wants them), no window functions, no ASOF JOIN, no arrayMax (arrayReduce('max', ...)), and
-- no column read inside a lambda: 18.16 does not see it there, drops it when the outer query does not
-- select it too, and fails with "Unknown identifier" (replicate() hands it to the lambda as an array). A
-- LEFT JOIN fills a missing right row with defaults on both versions (join_use_nulls is off by default),
-- so each right side carries a constant 1 that says whether it matched.
-- Minor units: amount_minor / 10^minor_digits is the amount in the currency's major unit, with the ISO 4217
-- digits of producers/edge/money.ts (producers/edge/minor-units-sql.unit.spec.ts keeps them equal).
-- Each view's columns get their comments right after it is made (ALTER TABLE ... COMMENT COLUMN), so the
-- view keeps the types each engine infers: a column list in CREATE VIEW would declare them, and 18.16 shows
-- declared view types without applying them.

-- Exchange rates analysts fill, for purchases_in_reporting_currency.
CREATE TABLE IF NOT EXISTS {{db}}.currency_rates (
  currency String COMMENT 'ISO 4217 code converted from, e.g. EUR',
  valid_from Date COMMENT 'First day (UTC date of the purchase) the rate applies to, until the next valid_from of the same currency. A rate that always applies: 1990-01-01',
  rate Float64 COMMENT 'Reporting-currency units one major unit of currency is worth, e.g. 1.08 for EUR when reporting in USD. The reporting currency itself needs a row with rate 1',
  note String DEFAULT '' COMMENT 'Free text, e.g. where the rate comes from',
  entered_at DateTime DEFAULT now() COMMENT 'When the row was inserted: for one currency and valid_from the newest row wins'
) ENGINE = ReplacingMergeTree(entered_at)
ORDER BY (currency, valid_from);

-- Each current customer per stage model: customer_state's latest snapshot (FINAL) without the rows of
-- profiles merged into another customer (their history is the survivor's now), with the newest CLV fit.
CREATE VIEW IF NOT EXISTS {{db}}.customers AS
SELECT
  customer_id,
  model_id,
  model_version,
  stage,
  stage_entered_at,
  sequence,
  first_seen_at,
  last_seen_at,
  nullIf(acquisition_channel, '') AS acquisition_channel,
  nullIf(acquisition_campaign, '') AS acquisition_campaign,
  nullIf(converting_channel, '') AS converting_channel,
  if(first_purchase_at = toDateTime(0), NULL, first_purchase_at) AS first_purchase_at,
  if(last_purchase_at = toDateTime(0), NULL, last_purchase_at) AS last_purchase_at,
  orders,
  net_revenue_minor,
  nullIf(currency, '') AS currency,
  if(purchase_cadence_days = 0, NULL, purchase_cadence_days) AS purchase_cadence_days,
  emails_opened,
  emails_clicked,
  unsubscribed,
  if(latest_nps < 0, NULL, latest_nps) AS latest_nps,
  if(latest_csat < 0, NULL, latest_csat) AS latest_csat,
  open_tickets,
  referrals_made,
  if(clv_known = 1, probability_alive, NULL) AS probability_alive,
  if(clv_known = 1, expected_purchases_12m, NULL) AS expected_purchases_12m,
  if(clv_known = 1, predicted_clv_minor, NULL) AS predicted_clv_minor,
  if(clv_known = 1, fitted_at, NULL) AS clv_fitted_at
FROM (
  SELECT *
  FROM {{db}}.customer_state FINAL
  WHERE merged_into = ''
) AS s
ANY LEFT JOIN (
  SELECT customer_id, probability_alive, expected_purchases_12m, predicted_clv_minor, fitted_at, toUInt8(1) AS clv_known
  FROM {{db}}.customer_clv FINAL
) AS c USING customer_id;

ALTER TABLE {{db}}.customers
  COMMENT COLUMN customer_id 'Customer id. One row per customer_id and model_id. Profiles merged into another customer are not rows of their own',
  COMMENT COLUMN model_id 'Stage model, e.g. five-stage. Filter on it: each customer has a row per model',
  COMMENT COLUMN model_version 'Version of the stage model',
  COMMENT COLUMN stage 'Current stage, e.g. reach, acquisition, conversion, retention, loyalty, at_risk, lapsed, reactivated (five-stage)',
  COMMENT COLUMN stage_entered_at 'When the customer entered the current stage (UTC)',
  COMMENT COLUMN sequence 'Stage changes so far: the sequence of the current stage in stage_history',
  COMMENT COLUMN first_seen_at 'Event time of the first touchpoint (UTC)',
  COMMENT COLUMN last_seen_at 'Event time of the latest customer activity (UTC)',
  COMMENT COLUMN acquisition_channel 'Channel of the first touch (UTM source, referrer host or direct). NULL if unknown',
  COMMENT COLUMN acquisition_campaign 'Campaign of the first touch. NULL if none',
  COMMENT COLUMN converting_channel 'Channel of the last touch before the first purchase. NULL if none',
  COMMENT COLUMN first_purchase_at 'First purchase (UTC). NULL before any purchase',
  COMMENT COLUMN last_purchase_at 'Latest purchase (UTC). NULL before any purchase',
  COMMENT COLUMN orders 'Purchases made, merged profiles included',
  COMMENT COLUMN net_revenue_minor 'Purchases minus refunds in minor units of currency, counting only money in that currency. Per currency: purchases',
  COMMENT COLUMN currency 'ISO 4217 currency of the first purchase, which net_revenue_minor is in. NULL before any purchase',
  COMMENT COLUMN purchase_cadence_days 'Mean days between distinct purchase days. NULL until a second purchase day',
  COMMENT COLUMN emails_opened 'Emails opened',
  COMMENT COLUMN emails_clicked 'Emails clicked',
  COMMENT COLUMN unsubscribed '1 if the customer unsubscribed from email, else 0',
  COMMENT COLUMN latest_nps 'Latest NPS answer 0-10. NULL if never answered',
  COMMENT COLUMN latest_csat 'Latest satisfaction answer 1-5. NULL if never answered',
  COMMENT COLUMN open_tickets 'Support tickets opened and not yet resolved (counted up to 1000)',
  COMMENT COLUMN referrals_made 'Referrals made',
  COMMENT COLUMN probability_alive 'P(alive) 0-1 of the newest CLV fit (ciclo clv refit, BG/NBD). NULL if not fitted',
  COMMENT COLUMN expected_purchases_12m 'Expected purchase days in the next 12 months (BG/NBD). NULL if not fitted',
  COMMENT COLUMN predicted_clv_minor 'Predicted value over the next 12 months in minor units (currencies not told apart). NULL if not fitted',
  COMMENT COLUMN clv_fitted_at 'When the CLV fit ran (UTC). NULL if not fitted';

-- Every stage a current customer has been in, one row per stage change, with when it was left (the next
-- change: sequences are 1, 2, 3 ... per customer and model). Changes of profiles merged into another
-- customer are left out, as in the funnel report: they are the survivor's history now.
CREATE VIEW IF NOT EXISTS {{db}}.stage_history AS
SELECT
  customer_id,
  model_id,
  sequence,
  nullIf(from_stage, '') AS from_stage,
  to_stage AS stage,
  entered_at,
  if(has_next = 1, next_at, NULL) AS left_at,
  toUInt8(has_next = 0) AS is_current,
  rule_id,
  nullIf(reason, '') AS reason,
  triggering_event_ids,
  model_version,
  event_id
FROM (
  SELECT customer_id, model_id, sequence, from_stage, to_stage, occurred_at AS entered_at, rule_id, reason,
         triggering_event_ids, model_version, event_id
  FROM {{db}}.stage_changes FINAL
  WHERE (model_id, customer_id) NOT IN (
    SELECT model_id, customer_id FROM {{db}}.customer_state FINAL WHERE merged_into != ''
  )
) AS c
ANY LEFT JOIN (
  SELECT customer_id, model_id, toUInt64(sequence - 1) AS sequence, occurred_at AS next_at, toUInt8(1) AS has_next
  FROM {{db}}.stage_changes FINAL
) AS n USING (model_id, customer_id, sequence);

ALTER TABLE {{db}}.stage_history
  COMMENT COLUMN customer_id 'Customer id. One row per customer_id, model_id and sequence',
  COMMENT COLUMN model_id 'Stage model, e.g. five-stage. Filter on it: each model has its own history',
  COMMENT COLUMN sequence 'The change number for this customer and model: 1, 2, 3 ... with no gaps',
  COMMENT COLUMN from_stage 'Stage before. NULL for the first stage',
  COMMENT COLUMN stage 'Stage entered',
  COMMENT COLUMN entered_at 'When the stage was entered: the triggering touchpoint time or the inactivity deadline (UTC)',
  COMMENT COLUMN left_at 'When the next change left it (UTC). NULL while it is the current stage',
  COMMENT COLUMN is_current '1 for the customer current stage in this model, else 0',
  COMMENT COLUMN rule_id 'Rule of the model that fired, e.g. first-purchase, second-purchase, inactive-lapsed',
  COMMENT COLUMN reason 'Readable reason. NULL if none',
  COMMENT COLUMN triggering_event_ids 'Touchpoints (touchpoints.event_id) that caused the change. Empty for a change fired by inactivity',
  COMMENT COLUMN model_version 'Version of the stage model that decided the change',
  COMMENT COLUMN event_id 'Id of the stage change (stage_changes.event_id)';

-- One row per purchase, with the refunds of its order, under the customer its id is now (identity_map): a
-- guest stays under its anonymous id until it identifies.
CREATE VIEW IF NOT EXISTS {{db}}.purchases AS
SELECT
  event_id,
  order_id,
  if(resolved != '', resolved, purchased_as) AS customer_id,
  purchased_as,
  purchased_at,
  currency,
  minor_digits,
  amount_minor,
  refunded_minor,
  amount_minor - refunded_minor AS net_amount_minor,
  amount_minor / intExp10(minor_digits) AS amount,
  (amount_minor - refunded_minor) / intExp10(minor_digits) AS net_amount,
  channel,
  nullIf(campaign, '') AS campaign,
  source_kind,
  source_name
FROM (
  SELECT event_id, order_id, purchased_as, purchased_at, currency, minor_digits, amount_minor,
         refunded_minor, channel, campaign, source_kind, source_name
  FROM (
    SELECT event_id, order_id, if(customer_id != '', customer_id, anonymous_id) AS purchased_as,
           occurred_at AS purchased_at, currency,
           transform(currency,
             ['BIF', 'CLP', 'DJF', 'GNF', 'ISK', 'JPY', 'KMF', 'KRW', 'PYG', 'RWF', 'UGX', 'UYI', 'VND', 'VUV', 'XAF', 'XOF', 'XPF', 'BHD', 'IQD', 'JOD', 'KWD', 'LYD', 'OMR', 'TND', 'CLF', 'UYW'],
             [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 3, 3, 3, 3, 3, 3, 4, 4],
             2) AS minor_digits,
           amount_minor, channel, campaign, source_kind, source_name
    FROM {{db}}.touchpoints FINAL
    WHERE type = 'PurchaseCompleted'
  ) AS p
  ANY LEFT JOIN (
    SELECT order_id, sum(amount_minor) AS refunded_minor
    FROM {{db}}.touchpoints FINAL
    WHERE type = 'RefundIssued' AND order_id != ''
    GROUP BY order_id
  ) AS r USING order_id
) AS pr
ANY LEFT JOIN (SELECT id AS purchased_as, customer_id AS resolved FROM {{db}}.identity_map) AS m USING purchased_as;

ALTER TABLE {{db}}.purchases
  COMMENT COLUMN event_id 'Id of the PurchaseCompleted touchpoint. One row per purchase',
  COMMENT COLUMN order_id 'Order id',
  COMMENT COLUMN customer_id 'Customer as now: the purchase id resolved through identity_map (a guest stays under its anonymous id until it identifies)',
  COMMENT COLUMN purchased_as 'Id the purchase was made under: the customer id sent, else the anonymous id of a guest',
  COMMENT COLUMN purchased_at 'When the purchase happened (UTC)',
  COMMENT COLUMN currency 'ISO 4217 code of the amounts. Sum per currency, or use purchases_in_reporting_currency',
  COMMENT COLUMN minor_digits 'Digits of the currency minor unit (ISO 4217): 2 for USD and EUR, 0 for JPY, 3 for KWD',
  COMMENT COLUMN amount_minor 'Amount paid in minor units of currency',
  COMMENT COLUMN refunded_minor 'Refunds of this order so far in minor units (RefundIssued with its order_id), 0 if none',
  COMMENT COLUMN net_amount_minor 'amount_minor - refunded_minor',
  COMMENT COLUMN amount 'Amount paid in the currency major unit (amount_minor / 10^minor_digits)',
  COMMENT COLUMN net_amount 'Amount net of refunds in the currency major unit',
  COMMENT COLUMN channel 'Channel of the purchase touch (UTM source, referrer host or direct). For the acquisition channel see customers',
  COMMENT COLUMN campaign 'UTM campaign of the purchase touch. NULL if none',
  COMMENT COLUMN source_kind 'What sent it: snippet, api, webhook, import or simulator',
  COMMENT COLUMN source_name 'Which snippet, provider or file, e.g. stripe, cdnow';

-- purchases in one reporting currency, at the rate of currency_rates in effect on the purchase day (the latest
-- valid_from on or before it). A purchase whose currency has no rate in effect keeps its row, with NULL rate
-- and NULL reporting amounts: sum() leaves it out, so check for rate IS NULL (docs/analytics.md).
CREATE VIEW IF NOT EXISTS {{db}}.purchases_in_reporting_currency AS
SELECT
  event_id,
  order_id,
  customer_id,
  purchased_at,
  currency,
  amount,
  net_amount,
  if(has_rate, rates[rate_index], NULL) AS rate,
  if(has_rate, valid_froms[rate_index], NULL) AS rate_valid_from,
  amount * rate AS reporting_amount,
  net_amount * rate AS reporting_net_amount
FROM (
  SELECT event_id, order_id, customer_id, purchased_at, currency, amount, net_amount, valid_froms, rates,
         arrayFilter((f, day) -> f <= day, valid_froms, replicate(toDate(purchased_at), valid_froms)) AS applicable,
         notEmpty(applicable) AS has_rate,
         indexOf(valid_froms, arrayReduce('max', applicable)) AS rate_index
  FROM {{db}}.purchases AS p
  ANY LEFT JOIN (
    SELECT currency, groupArray(valid_from) AS valid_froms, groupArray(rate) AS rates
    FROM {{db}}.currency_rates FINAL
    GROUP BY currency
  ) AS r USING currency
) AS pr;

ALTER TABLE {{db}}.purchases_in_reporting_currency
  COMMENT COLUMN event_id 'Id of the PurchaseCompleted touchpoint. One row per purchase, as in purchases',
  COMMENT COLUMN order_id 'Order id',
  COMMENT COLUMN customer_id 'Customer as now (identity_map resolved), as in purchases',
  COMMENT COLUMN purchased_at 'When the purchase happened (UTC)',
  COMMENT COLUMN currency 'ISO 4217 code the purchase was paid in',
  COMMENT COLUMN amount 'Amount paid in the major unit of currency',
  COMMENT COLUMN net_amount 'Amount net of refunds in the major unit of currency',
  COMMENT COLUMN rate 'currency_rates.rate in effect on the purchase day. NULL if currency has none: then the reporting amounts are NULL too',
  COMMENT COLUMN rate_valid_from 'valid_from of that rate. NULL if none',
  COMMENT COLUMN reporting_amount 'amount * rate, in the reporting currency. NULL without a rate',
  COMMENT COLUMN reporting_net_amount 'net_amount * rate, in the reporting currency. NULL without a rate';

-- One row per marketing spend record (MarketingSpendRecorded), for CAC and ROI per channel.
CREATE VIEW IF NOT EXISTS {{db}}.marketing_spend AS
SELECT
  event_id,
  channel,
  nullIf(campaign, '') AS campaign,
  period_start,
  period_end,
  currency,
  minor_digits,
  amount_minor,
  amount_minor / intExp10(minor_digits) AS amount,
  source_name
FROM (
  SELECT event_id, channel, campaign, period_start, period_end, currency, amount_minor, source_name,
         transform(currency,
           ['BIF', 'CLP', 'DJF', 'GNF', 'ISK', 'JPY', 'KMF', 'KRW', 'PYG', 'RWF', 'UGX', 'UYI', 'VND', 'VUV', 'XAF', 'XOF', 'XPF', 'BHD', 'IQD', 'JOD', 'KWD', 'LYD', 'OMR', 'TND', 'CLF', 'UYW'],
           [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 3, 3, 3, 3, 3, 3, 4, 4],
           2) AS minor_digits
  FROM {{db}}.touchpoints FINAL
  WHERE type = 'MarketingSpendRecorded'
) AS s;

ALTER TABLE {{db}}.marketing_spend
  COMMENT COLUMN event_id 'Id of the MarketingSpendRecorded touchpoint. One row per spend record',
  COMMENT COLUMN channel 'Channel paid for, as in customers.acquisition_channel',
  COMMENT COLUMN campaign 'Campaign paid for. NULL if none',
  COMMENT COLUMN period_start 'Start of the period the spend pays for (UTC)',
  COMMENT COLUMN period_end 'End of the period the spend pays for (UTC)',
  COMMENT COLUMN currency 'ISO 4217 code of the amounts',
  COMMENT COLUMN minor_digits 'Digits of the currency minor unit (ISO 4217)',
  COMMENT COLUMN amount_minor 'Spend in minor units of currency',
  COMMENT COLUMN amount 'Spend in the currency major unit',
  COMMENT COLUMN source_name 'Which provider or file recorded it';
