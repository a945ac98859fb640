-- Revenue, cohorts and the CLV refit per person, not per id. A purchase made as a guest (an anonymous id) or
-- under an id that was later merged into another customer (a browser that identified, an aliased id)
-- belonged to one customer only as the processor knows it: customer_state's removal rows (merged_into, 003)
-- say which. Before this, such a customer counted twice in cohorts, and guest purchases were one customer
-- with no id.

-- Each merged id and the customer it is now: the survivor named by its removal row, followed through up to
-- three merges (an id merged into a customer that was itself merged later). Removal rows of every stage model
-- agree, since identity is resolved the same way for each.
CREATE VIEW IF NOT EXISTS {{db}}.identity_map AS
SELECT id, if(to3 != '', to3, if(to2 != '', to2, to1)) AS customer_id
FROM (
  SELECT id, to1, to2, to3
  FROM (
    SELECT id, to1, to2
    FROM (
      SELECT customer_id AS id, any(merged_into) AS to1
      FROM {{db}}.customer_state FINAL WHERE merged_into != '' GROUP BY customer_id
    ) AS m1
    ANY LEFT JOIN (
      SELECT customer_id AS to1, any(merged_into) AS to2
      FROM {{db}}.customer_state FINAL WHERE merged_into != '' GROUP BY customer_id
    ) AS m2 USING to1
  ) AS m12
  ANY LEFT JOIN (
    SELECT customer_id AS to2, any(merged_into) AS to3
    FROM {{db}}.customer_state FINAL WHERE merged_into != '' GROUP BY customer_id
  ) AS m3 USING to2
) AS chain;

-- Two views of 002, over people: dropped (they hold no data) and made again. cohort_retention, over these
-- two by name, is read through them as they are now.
DROP TABLE IF EXISTS {{db}}.customer_cohorts;
DROP TABLE IF EXISTS {{db}}.revenue_events;

-- One row per purchase, and one negative row per refund dated at the month of the order it refunds, each
-- under the customer the purchase's id is now (a guest's anonymous id until it identifies).
CREATE VIEW {{db}}.revenue_events AS
SELECT if(resolved != '', resolved, id) AS customer_id, order_id, revenue_at, amount_minor, currency, kind
FROM (
  SELECT if(customer_id != '', customer_id, anonymous_id) AS id, order_id, occurred_at AS revenue_at,
         amount_minor, currency, 'purchase' AS kind
  FROM {{db}}.touchpoints FINAL
  WHERE type = 'PurchaseCompleted'
  UNION ALL
  SELECT r.id AS id, r.order_id AS order_id, if(o.order_at = toDateTime(0), r.refund_at, o.order_at) AS revenue_at,
         -r.amount_minor AS amount_minor, r.currency AS currency, 'refund' AS kind
  FROM (
    SELECT if(customer_id != '', customer_id, anonymous_id) AS id, order_id, occurred_at AS refund_at, amount_minor, currency
    FROM {{db}}.touchpoints FINAL
    WHERE type = 'RefundIssued'
  ) AS r
  ANY LEFT JOIN (
    SELECT order_id, min(occurred_at) AS order_at
    FROM {{db}}.touchpoints FINAL
    WHERE type = 'PurchaseCompleted'
    GROUP BY order_id
  ) AS o USING order_id
) AS e
ANY LEFT JOIN (SELECT id, customer_id AS resolved FROM {{db}}.identity_map) AS m USING id;

-- A customer's acquisition cohort is the month of their first purchase, whichever of their ids made it.
CREATE VIEW {{db}}.customer_cohorts AS
SELECT customer_id, toStartOfMonth(min(revenue_at)) AS cohort_month, min(revenue_at) AS first_purchase_at
FROM {{db}}.revenue_events
WHERE kind = 'purchase'
GROUP BY customer_id;
