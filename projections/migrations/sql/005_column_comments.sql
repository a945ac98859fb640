-- A comment on every column of the tables and views of 001-004, for analysts who read the schema in their
-- client (system.columns, DESCRIBE TABLE). Views take them too: ALTER TABLE ... COMMENT COLUMN works on a
-- view on 18.16 as on 26.x, and both keep it in the view's stored definition. A view dropped and made again
-- by a later migration loses its comments, so such a migration comments it again (test/analytics.int.spec.ts
-- fails on any column without one). Sentinels ('' for none, -1 for no answer, 1970-01-01 00:00:00, shown as
-- 0000-00-00 00:00:00 on 18.16, for no time) are named here: the views of 006 turn them into NULL.

ALTER TABLE {{db}}.schema_migrations
  COMMENT COLUMN version 'Migration number: the NNN of projections/migrations/sql/NNN_name.sql',
  COMMENT COLUMN name 'Migration file name without number and .sql',
  COMMENT COLUMN checksum 'First 16 hex digits of the SHA-256 of the file as applied: a file changed after it was applied is refused',
  COMMENT COLUMN applied_at 'When ciclo migrate applied it (UTC)';

ALTER TABLE {{db}}.touchpoints
  COMMENT COLUMN event_id 'Id of the event, stable across retries. ReplacingMergeTree: a redelivered event replaces itself, so read with FINAL (or the views)',
  COMMENT COLUMN type 'Touchpoint type, e.g. PageViewed, Identified, PurchaseCompleted, RefundIssued, EmailOpened, SurveyAnswered, MarketingSpendRecorded (schemas/touchpoint.ts)',
  COMMENT COLUMN customer_id 'Customer id as sent, not resolved through merges (see identity_map). Empty for an anonymous visitor and for MarketingSpendRecorded',
  COMMENT COLUMN anonymous_id 'Browser or device id of a visitor before it identified, empty if none',
  COMMENT COLUMN occurred_at 'Event time at the source (UTC, seconds). Partition key by month',
  COMMENT COLUMN occurred_at_ms 'Event time in milliseconds since 1970 (UTC), for exact ordering',
  COMMENT COLUMN received_at 'When ciclo accepted the event: collector or import (UTC)',
  COMMENT COLUMN source_kind 'What sent it: snippet, api, webhook, import, simulator or model (ciclo clv refit)',
  COMMENT COLUMN source_name 'Which snippet, provider or file, e.g. web, stripe, sendgrid, cdnow',
  COMMENT COLUMN channel 'Marketing channel of the touch: UTM source, else the referrer host, else direct. For MarketingSpendRecorded the channel paid for',
  COMMENT COLUMN campaign 'UTM campaign, the campaign id of an email event, or the campaign of a spend. Empty if none',
  COMMENT COLUMN referrer 'Referrer URL of a web touch, empty if none',
  COMMENT COLUMN page_url 'Page URL of a web touch, empty if none',
  COMMENT COLUMN order_id 'Order of a PurchaseCompleted or RefundIssued (a refund names the order it refunds). Empty for other types',
  COMMENT COLUMN amount_minor 'Money of a purchase, refund or marketing spend in minor units of currency (ISO 4217: cents for USD, yen for JPY). 0 for other types',
  COMMENT COLUMN currency 'ISO 4217 code of amount_minor. Empty for types without money',
  COMMENT COLUMN nps 'Net Promoter answer 0-10 of a SurveyAnswered. -1 when not answered or not a survey',
  COMMENT COLUMN csat 'Satisfaction 1-5 of a SurveyAnswered (csat) or SupportTicketResolved (satisfaction). -1 when none',
  COMMENT COLUMN period_start 'Start of the period a MarketingSpendRecorded pays for (UTC). 1970-01-01 00:00:00 (0000-00-00 on 18.16) for other types',
  COMMENT COLUMN period_end 'End of the period a MarketingSpendRecorded pays for (UTC). 1970-01-01 00:00:00 (0000-00-00 on 18.16) for other types',
  COMMENT COLUMN payload 'The type-specific payload as JSON (fields in schemas/touchpoint.ts)',
  COMMENT COLUMN projected_at 'When the projector wrote the row (UTC)';

ALTER TABLE {{db}}.stage_changes
  COMMENT COLUMN event_id 'Id of the change: model, customer and sequence, so a replay yields the same id. ReplacingMergeTree: read with FINAL (or stage_history)',
  COMMENT COLUMN customer_id 'Customer whose stage changed, as the processor knew it then. A profile later merged into another keeps its changes under its own id',
  COMMENT COLUMN model_id 'Stage model, e.g. five-stage, six-stage, four-stage or your own',
  COMMENT COLUMN model_version 'Version of the stage model that decided the change',
  COMMENT COLUMN from_stage 'Stage before the change. Empty for a customer first stage',
  COMMENT COLUMN to_stage 'Stage after the change',
  COMMENT COLUMN rule_id 'Rule of the model that fired, e.g. first-purchase, inactive-lapsed',
  COMMENT COLUMN triggering_event_ids 'Touchpoints (event_id) that caused the change. Empty for a change fired by inactivity',
  COMMENT COLUMN occurred_at 'Event time of the change: the triggering touchpoint time or the inactivity deadline (UTC). Partition key by month',
  COMMENT COLUMN occurred_at_ms 'The same in milliseconds since 1970 (UTC)',
  COMMENT COLUMN sequence 'Per customer and model 1, 2, 3 ... with no gaps',
  COMMENT COLUMN reason 'Readable reason, e.g. no purchase for 94 days (3x the usual 31-day cadence). Empty if none',
  COMMENT COLUMN projected_at 'When the projector wrote the row (UTC)';

ALTER TABLE {{db}}.customer_state
  COMMENT COLUMN customer_id 'Customer id. With model_id the key: ReplacingMergeTree(sequence), so read with FINAL and merged_into = empty (or the customers view)',
  COMMENT COLUMN model_id 'Stage model of this state',
  COMMENT COLUMN model_version 'Version of the stage model. 0 on the row of a merged profile',
  COMMENT COLUMN stage 'Current stage. Empty on the row of a merged profile',
  COMMENT COLUMN stage_entered_at 'When the customer entered the current stage (UTC)',
  COMMENT COLUMN sequence 'Stage changes so far: the sequence of the latest stage change. The highest wins',
  COMMENT COLUMN first_seen_at 'Event time of the first touchpoint (UTC)',
  COMMENT COLUMN last_seen_at 'Event time of the latest customer activity (UTC)',
  COMMENT COLUMN acquisition_channel 'Channel of the first touch. Empty if unknown',
  COMMENT COLUMN acquisition_campaign 'Campaign of the first touch. Empty if none',
  COMMENT COLUMN converting_channel 'Channel of the last touch before the first purchase. Empty if none',
  COMMENT COLUMN first_purchase_at 'First purchase (UTC). 1970-01-01 00:00:00 (0000-00-00 on 18.16) before any purchase',
  COMMENT COLUMN last_purchase_at 'Latest purchase (UTC). 1970-01-01 00:00:00 (0000-00-00 on 18.16) before any purchase',
  COMMENT COLUMN orders 'Purchases made, merged profiles included',
  COMMENT COLUMN net_revenue_minor 'Purchases minus refunds in minor units of currency, counting only money in that currency (ciclo does not convert)',
  COMMENT COLUMN currency 'ISO 4217 currency of the first purchase, which net_revenue_minor is in. Empty before any purchase',
  COMMENT COLUMN purchase_cadence_days 'Mean days between distinct purchase days. 0 until a second purchase day',
  COMMENT COLUMN emails_opened 'Emails opened',
  COMMENT COLUMN emails_clicked 'Emails clicked',
  COMMENT COLUMN unsubscribed '1 if the customer unsubscribed from email, else 0',
  COMMENT COLUMN latest_nps 'Latest NPS answer 0-10. -1 if never answered',
  COMMENT COLUMN latest_csat 'Latest satisfaction answer 1-5. -1 if never answered',
  COMMENT COLUMN open_tickets 'Support tickets opened and not yet resolved (counted up to 1000)',
  COMMENT COLUMN referrals_made 'Referrals made',
  COMMENT COLUMN updated_at_ms 'Event time of the latest touchpoint folded in, milliseconds since 1970 (UTC). 0 on the row of a merged profile',
  COMMENT COLUMN merged_into 'Customer this profile was merged into (a browser that identified, an aliased id). Empty for a current customer',
  COMMENT COLUMN projected_at 'When the projector wrote the row (UTC)';

ALTER TABLE {{db}}.customer_clv
  COMMENT COLUMN customer_id 'Customer id as now (merged ids resolved through identity_map). ReplacingMergeTree(fitted_at): the newest fit wins, read with FINAL (or the customers view)',
  COMMENT COLUMN fitted_at 'When ciclo clv refit ran (UTC)',
  COMMENT COLUMN frequency 'Repeat purchase days in the fitted history (BG/NBD x)',
  COMMENT COLUMN recency_weeks 'Weeks from the first to the last purchase day (BG/NBD t_x)',
  COMMENT COLUMN age_weeks 'Weeks from the first purchase day to the end of the history (BG/NBD T)',
  COMMENT COLUMN expected_purchases_12m 'Expected purchase days in the next 12 months (BG/NBD)',
  COMMENT COLUMN probability_alive 'Probability the customer is still active, 0-1 (BG/NBD)',
  COMMENT COLUMN expected_spend_minor 'Expected mean spend per purchase day, minor units (Gamma-Gamma). Currencies are not told apart',
  COMMENT COLUMN predicted_clv_minor 'Predicted value over the next 12 months, minor units. Currencies are not told apart',
  COMMENT COLUMN historic_clv_minor 'Net revenue to date, minor units. Currencies are not told apart';

ALTER TABLE {{db}}.identity_map
  COMMENT COLUMN id 'An id merged into another customer: an anonymous id that identified, or an aliased customer id',
  COMMENT COLUMN customer_id 'The customer that id is now part of, followed through up to three merges';

ALTER TABLE {{db}}.revenue_events
  COMMENT COLUMN customer_id 'Customer as now: the purchase id resolved through identity_map (a guest stays under its anonymous id until it identifies)',
  COMMENT COLUMN order_id 'Order purchased or refunded',
  COMMENT COLUMN revenue_at 'When the revenue counts: the purchase time, and for a refund the time of the order it refunds (UTC)',
  COMMENT COLUMN amount_minor 'Minor units of currency: positive for a purchase, negative for a refund',
  COMMENT COLUMN currency 'ISO 4217 code of amount_minor. Sum per currency, or convert with purchases_in_reporting_currency',
  COMMENT COLUMN kind 'purchase or refund';

ALTER TABLE {{db}}.customer_cohorts
  COMMENT COLUMN customer_id 'Customer as now (identity_map resolved), one row per customer with a purchase',
  COMMENT COLUMN cohort_month 'Month of the first purchase: the acquisition cohort',
  COMMENT COLUMN first_purchase_at 'First purchase, whichever of the customer ids made it (UTC)';

ALTER TABLE {{db}}.cohort_retention
  COMMENT COLUMN cohort_month 'Acquisition cohort: month of the first purchase',
  COMMENT COLUMN months_since 'Months from the cohort month to the month of activity (0 = the cohort month)',
  COMMENT COLUMN customers 'Customers in the cohort',
  COMMENT COLUMN active_customers 'Customers of the cohort who purchased in that month',
  COMMENT COLUMN revenue_minor 'Net revenue the cohort booked in that month (refunds at their order month), minor units, currencies added as they are';
