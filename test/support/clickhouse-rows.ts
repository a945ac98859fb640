/** Rows of ciclo's ClickHouse tables as a test writes them directly, bypassing the projector. */

/** A day as ClickHouse's DateTime text, at midnight. */
export const day = (d: string): string => `${d} 00:00:00`;

/** A `touchpoints` row of a purchase in US dollars (`amount` in cents). */
export const purchase = (id: string, customer: string, order: string, d: string, amount: number) => ({
  event_id: id,
  type: 'PurchaseCompleted',
  customer_id: customer,
  order_id: order,
  occurred_at: day(d),
  amount_minor: amount,
  currency: 'USD',
});
