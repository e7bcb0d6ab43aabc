/**
 * The demo shop: the schema and rows an empty embedded source starts with (`source.demo: true`).
 * It covers every export encoding (numeric, date, time, timestamps with and without zone,
 * interval, json/jsonb, uuid, arrays, enums, integers, real, double, boolean, bytea) and every
 * load action: a composite key, a table without key, an incremental table and a PII table
 * the demo config excludes. Deterministic: the same rows on every machine.
 */
import type { SourceDb } from './db';

export const DEMO_TABLES = {
  customers: 'public.customers',
  customerPii: 'public.customer_pii',
  products: 'public.products',
  orderItems: 'public.order_items',
  pageViews: 'public.page_views',
  events: 'public.events',
} as const;

export const DEMO_SCHEMA_SQL = `
CREATE TYPE customer_tier AS ENUM ('bronze', 'silver', 'gold');

CREATE TABLE customers (
  id bigint PRIMARY KEY,
  name text NOT NULL,
  email varchar(120),
  tier customer_tier NOT NULL,
  signup_date date,
  balance numeric(12, 2),
  preferences jsonb,
  tags text[],
  updated_at timestamptz NOT NULL
);

CREATE TABLE customer_pii (
  customer_id bigint PRIMARY KEY,
  tax_id text NOT NULL,
  birth_date date,
  phone text
);

CREATE TABLE products (
  sku text PRIMARY KEY,
  title text NOT NULL,
  price numeric(10, 2) NOT NULL,
  weight_kg real,
  rating double precision,
  active boolean NOT NULL,
  thumbnail bytea,
  external_id uuid,
  attributes json,
  created_at timestamp(3)
);

CREATE TABLE order_items (
  order_id integer NOT NULL,
  line_no smallint NOT NULL,
  sku text NOT NULL,
  quantity integer NOT NULL,
  unit_price numeric(10, 2) NOT NULL,
  delivery_window interval,
  pickup_time time,
  shipped_at timestamp,
  PRIMARY KEY (order_id, line_no)
);

CREATE TABLE page_views (
  path text NOT NULL,
  viewed_at timestamptz NOT NULL,
  duration_ms integer,
  referrer text
);

CREATE TABLE events (
  id bigint PRIMARY KEY,
  kind text NOT NULL,
  payload jsonb,
  created_at timestamptz NOT NULL,
  local_time timetz
);
`;

export const DEMO_ROWS_SQL = `
INSERT INTO customers
SELECT i,
       'Customer ' || i,
       CASE WHEN i % 10 = 0 THEN NULL ELSE 'customer' || i || '@example.com' END,
       (ARRAY['bronze', 'silver', 'gold'])[1 + i % 3]::customer_tier,
       DATE '2020-01-01' + i * 3,
       round((i * 37.25) % 5000, 2),
       jsonb_build_object('newsletter', i % 2 = 0, 'language', (ARRAY['en', 'de', 'fr'])[1 + i % 3]),
       ARRAY['tag' || (i % 4), 'group ' || (i % 7)],
       TIMESTAMPTZ '2024-01-01 00:00:00+00' + i * INTERVAL '17 minutes 3.25 seconds'
FROM generate_series(1, 200) AS i;

INSERT INTO customer_pii
SELECT i, 'TAX-' || lpad(i::text, 8, '0'), DATE '1960-01-01' + i * 97, '+1-555-' || lpad(i::text, 4, '0')
FROM generate_series(1, 200) AS i;

INSERT INTO products
SELECT 'SKU-' || lpad(i::text, 4, '0'),
       'Product "' || i || '" – édition ' || i,
       round(5 + (i * 13.37) % 200, 2),
       (i % 17) / 4.0,
       CASE WHEN i % 9 = 0 THEN NULL ELSE 1 + (i % 40) / 10.0 + 1.0 / 3 END,
       i % 5 <> 0,
       decode(md5('sku' || i), 'hex'),
       md5('product' || i)::uuid,
       json_build_object('colour', (ARRAY['red', 'green', 'blue'])[1 + i % 3], 'sizes', json_build_array(i % 3, i % 5)),
       TIMESTAMP '2023-06-01 08:00:00' + i * INTERVAL '1 day 1 hour 0.123 seconds'
FROM generate_series(1, 50) AS i;

INSERT INTO order_items
SELECT o, l,
       'SKU-' || lpad((1 + (o * 7 + l) % 50)::text, 4, '0'),
       1 + (o + l) % 4,
       round(5 + ((o * 7 + l) * 13.37) % 200, 2),
       make_interval(days => (o + l) % 5, hours => l),
       TIME '09:00' + (o % 8) * INTERVAL '1 hour 15 minutes',
       CASE WHEN o % 6 = 0 THEN NULL ELSE TIMESTAMP '2024-02-01 10:00:00' + o * INTERVAL '3 hours' END
FROM generate_series(1, 200) AS o, generate_series(1, 3) AS l;

INSERT INTO page_views
SELECT '/products/' || (1 + i % 50),
       TIMESTAMPTZ '2024-03-01 12:00:00+00' + i * INTERVAL '41 seconds',
       100 + (i * 37) % 5000,
       CASE WHEN i % 4 = 0 THEN NULL ELSE 'https://search.example/?q=' || i END
FROM generate_series(1, 300) AS i;

INSERT INTO events
SELECT i,
       (ARRAY['click', 'view', 'purchase'])[1 + i % 3],
       jsonb_build_object('n', i, 'ok', i % 7 <> 0),
       TIMESTAMPTZ '2024-04-01 00:00:00+00' + i * INTERVAL '5 minutes',
       TIMETZ '08:30:00+02' + i * INTERVAL '1 minute'
FROM generate_series(1, 500) AS i;
`;

/** Creates and fills the demo tables. */
export async function seedDemo(db: SourceDb): Promise<void> {
  await db.exec(DEMO_SCHEMA_SQL);
  await db.exec(DEMO_ROWS_SQL);
}

/** Whether the database has no table of its own yet (only then is the demo seeded). */
export async function hasNoUserTables(db: SourceDb): Promise<boolean> {
  const rows = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'`,
  );
  return (rows[0]?.n ?? 0) === 0;
}
