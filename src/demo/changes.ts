/**
 * What happens to the demo shop between cycles. Deterministic SQL that runs on PGlite and on
 * PostgreSQL alike, so the demo and the end-to-end test drive the same story.
 */
import type { SourceDb } from '../local/source/db';

export interface SourceChange {
  name: string;
  description: string;
  sql: string;
}

/** Inserts, updates and deletes in every synced table (events only grows: it is incremental). */
export const ROW_CHANGES: SourceChange = {
  name: 'rows',
  description: '20 new customers, 10 updated, 5 deleted; 5 price changes; a new order and a cancelled one; 50 page views; 100 events',
  sql: `
INSERT INTO customers
SELECT i, 'Customer ' || i, 'customer' || i || '@example.com', 'silver', DATE '2024-06-01', 10.00,
       '{"newsletter": true}', ARRAY['new'], TIMESTAMPTZ '2024-06-01 00:00:00+00' + i * INTERVAL '1 minute'
FROM generate_series(201, 220) AS i;
UPDATE customers SET tier = 'gold', balance = balance + 100.05, updated_at = updated_at + INTERVAL '30 days' WHERE id % 20 = 1;
DELETE FROM customers WHERE id IN (5, 15, 25, 35, 45);
UPDATE products SET price = round(price * 1.1, 2), active = NOT active WHERE sku IN ('SKU-0001', 'SKU-0002', 'SKU-0003', 'SKU-0004', 'SKU-0005');
INSERT INTO order_items
SELECT 201, l, 'SKU-0007', l, 19.99, INTERVAL '2 days', TIME '10:30', TIMESTAMP '2024-06-02 09:00:00' FROM generate_series(1, 3) AS l;
DELETE FROM order_items WHERE order_id = 3;
INSERT INTO page_views
SELECT '/checkout', TIMESTAMPTZ '2024-06-01 12:00:00+00' + i * INTERVAL '7 seconds', 250 + i, NULL FROM generate_series(1, 50) AS i;
INSERT INTO events
SELECT i, 'purchase', jsonb_build_object('n', i, 'ok', true), TIMESTAMPTZ '2024-06-01 00:00:00+00' + i * INTERVAL '1 minute', TIMETZ '12:00:00+00'
FROM generate_series(501, 600) AS i;
`,
};

/** A new column, filled for a third of the rows: the merge must evolve the lake table's schema. */
export const NEW_COLUMN: SourceChange = {
  name: 'column',
  description: 'customers gets a new column loyalty_points (filled for every third customer)',
  sql: `
ALTER TABLE customers ADD COLUMN loyalty_points integer;
UPDATE customers SET loyalty_points = id * 10, updated_at = updated_at + INTERVAL '1 hour' WHERE id % 3 = 0;
`,
};

/** Most order lines vanish at once (a bad cleanup job): the delete guard must refuse that merge. */
export const MASS_DELETE: SourceChange = {
  name: 'mass-delete',
  description: 'a cleanup job deletes 80% of order_items; customers, events and page_views change a little',
  sql: `
DELETE FROM order_items WHERE order_id > 40;
UPDATE customers SET balance = balance + 1 WHERE id = 2;
INSERT INTO events
SELECT i, 'view', jsonb_build_object('n', i), TIMESTAMPTZ '2024-07-01 00:00:00+00' + i * INTERVAL '1 minute', NULL
FROM generate_series(601, 620) AS i;
INSERT INTO page_views VALUES ('/help', TIMESTAMPTZ '2024-07-01 08:00:00+00', 90, 'https://search.example/?q=help');
`,
};

export async function applyChange(db: SourceDb, change: SourceChange): Promise<void> {
  try {
    await db.exec(change.sql);
  } catch (err) {
    throw new Error(`applying the "${change.name}" change to ${db.description} failed: ${(err as Error).message}`, { cause: err });
  }
}
