-- Raw facts, one row per event. ReplacingMergeTree deduplicates redelivered events by their sorting key
-- (which contains event_id); queries read through FINAL or the views in 002, so a duplicate never counts.
-- Portable to ClickHouse 18.16 (Debian) and 26.x: no LowCardinality, no DateTime64, no Map, no JSON type.

CREATE TABLE IF NOT EXISTS {{db}}.touchpoints (
  event_id String,
  type String,
  customer_id String,
  anonymous_id String,
  occurred_at DateTime,
  occurred_at_ms Int64,
  received_at DateTime,
  source_kind String,
  source_name String,
  channel String,
  campaign String,
  referrer String,
  page_url String,
  order_id String,
  amount_minor Int64,
  currency String,
  nps Int8,
  csat Int8,
  period_start DateTime,
  period_end DateTime,
  payload String,
  projected_at DateTime
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (type, customer_id, event_id);

CREATE TABLE IF NOT EXISTS {{db}}.stage_changes (
  event_id String,
  customer_id String,
  model_id String,
  model_version UInt16,
  from_stage String,
  to_stage String,
  rule_id String,
  triggering_event_ids Array(String),
  occurred_at DateTime,
  occurred_at_ms Int64,
  sequence UInt64,
  reason String,
  projected_at DateTime
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (model_id, customer_id, sequence);

-- Latest lifecycle snapshot per customer and model: the highest sequence wins.
CREATE TABLE IF NOT EXISTS {{db}}.customer_state (
  customer_id String,
  model_id String,
  model_version UInt16,
  stage String,
  stage_entered_at DateTime,
  sequence UInt64,
  first_seen_at DateTime,
  last_seen_at DateTime,
  acquisition_channel String,
  acquisition_campaign String,
  converting_channel String,
  first_purchase_at DateTime,
  last_purchase_at DateTime,
  orders UInt32,
  net_revenue_minor Int64,
  currency String,
  purchase_cadence_days Float64,
  emails_opened UInt32,
  emails_clicked UInt32,
  unsubscribed UInt8,
  latest_nps Int8,
  latest_csat Int8,
  open_tickets UInt32,
  referrals_made UInt32,
  updated_at_ms Int64,
  projected_at DateTime
) ENGINE = ReplacingMergeTree(sequence)
ORDER BY (model_id, customer_id);

-- Written by `ciclo clv refit`: the newest fit per customer wins.
CREATE TABLE IF NOT EXISTS {{db}}.customer_clv (
  customer_id String,
  fitted_at DateTime,
  frequency UInt32,
  recency_weeks Float64,
  age_weeks Float64,
  expected_purchases_12m Float64,
  probability_alive Float64,
  expected_spend_minor Float64,
  predicted_clv_minor Float64,
  historic_clv_minor Int64
) ENGINE = ReplacingMergeTree(fitted_at)
ORDER BY customer_id;
