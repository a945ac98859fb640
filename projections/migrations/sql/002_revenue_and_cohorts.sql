-- Revenue and acquisition cohorts, as views over the deduplicated facts (FINAL), so redelivered events and
-- late refunds are always counted once and in the right place.
-- Old/new note: 18.16 needs an explicit join strictness (ANY/ALL). ANY INNER JOIN changed meaning in
-- ClickHouse 20.x (each right row matches at most once), so inner joins here are ALL INNER JOIN against a
-- side with unique keys, and ANY is used only for LEFT joins, where both versions agree. Views are plain (not materialized): materialized views fire per insert,
-- before ReplacingMergeTree removes duplicates, and would count a redelivered event twice.

-- One row per purchase, and one negative row per refund dated at the month of the order it refunds
-- (a refund restates the revenue of the month and cohort its order belongs to).
CREATE VIEW IF NOT EXISTS {{db}}.revenue_events AS
SELECT customer_id, order_id, occurred_at AS revenue_at, amount_minor, currency, 'purchase' AS kind
FROM {{db}}.touchpoints FINAL
WHERE type = 'PurchaseCompleted'
UNION ALL
SELECT r.customer_id AS customer_id, r.order_id AS order_id, if(o.order_at = toDateTime(0), r.refund_at, o.order_at) AS revenue_at,
       -r.amount_minor AS amount_minor, r.currency AS currency, 'refund' AS kind
FROM (
  SELECT customer_id, order_id, occurred_at AS refund_at, amount_minor, currency
  FROM {{db}}.touchpoints FINAL
  WHERE type = 'RefundIssued'
) AS r
ANY LEFT JOIN (
  SELECT order_id, min(occurred_at) AS order_at
  FROM {{db}}.touchpoints FINAL
  WHERE type = 'PurchaseCompleted'
  GROUP BY order_id
) AS o USING order_id;

-- A customer's acquisition cohort is the month of their first purchase.
CREATE VIEW IF NOT EXISTS {{db}}.customer_cohorts AS
SELECT customer_id, toStartOfMonth(min(occurred_at)) AS cohort_month, min(occurred_at) AS first_purchase_at
FROM {{db}}.touchpoints FINAL
WHERE type = 'PurchaseCompleted'
GROUP BY customer_id;

-- Cohort month x months since acquisition: cohort size, customers who purchased in that month, and net
-- revenue (minor units) booked in that month by the cohort.
CREATE VIEW IF NOT EXISTS {{db}}.cohort_retention AS
SELECT
  a.cohort_month AS cohort_month,
  a.months_since AS months_since,
  s.customers AS customers,
  a.active_customers AS active_customers,
  a.revenue_minor AS revenue_minor
FROM (
  SELECT
    c.cohort_month AS cohort_month,
    toUInt32(dateDiff('month', c.cohort_month, toStartOfMonth(e.revenue_at))) AS months_since,
    uniqExactIf(e.customer_id, e.kind = 'purchase') AS active_customers,
    sum(e.amount_minor) AS revenue_minor
  FROM {{db}}.revenue_events AS e
  ALL INNER JOIN {{db}}.customer_cohorts AS c USING customer_id
  GROUP BY cohort_month, months_since
) AS a
ANY LEFT JOIN (
  SELECT cohort_month, count() AS customers FROM {{db}}.customer_cohorts GROUP BY cohort_month
) AS s USING cohort_month;
