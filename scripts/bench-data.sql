-- Realistic mixed data for the benchmarks: customers, orders (numeric, timestamps, text,
-- jsonb, a bytea column), events (jsonb, double precision), with indexes. About 0.46 MB of
-- database per 1000 orders. Run with `psql -v rows=N` (N = the number of orders).
SELECT setseed(0.42);
CREATE TABLE customers (
  id bigint PRIMARY KEY, name text NOT NULL, email text NOT NULL, country char(2) NOT NULL,
  created_at timestamptz NOT NULL, credit numeric(12,2) NOT NULL, tags text[] NOT NULL);
INSERT INTO customers
SELECT g,
       (ARRAY['Anna','Bruno','Chloé','David','Emma','Farid','Greta','Hugo','Inès','Jonas'])[1 + g % 10]
         || ' ' || (ARRAY['Martin','Bernard','Dubois','Thomas','Robert','Petit','Durand','Leroy'])[1 + (g / 10) % 8],
       'user' || g || '@' || (ARRAY['example.com','mail.test','corp.example'])[1 + g % 3],
       (ARRAY['FR','DE','ES','IT','BE','NL','PT','PL'])[1 + (random() * 7)::int],
       timestamptz '2019-01-01' + random() * interval '2000 days',
       round((random() * 10000)::numeric, 2),
       ARRAY[(ARRAY['vip','new','b2b','churn-risk','newsletter'])[1 + g % 5]]
FROM generate_series(1, :rows / 20) g;
CREATE TABLE orders (
  id bigint PRIMARY KEY, customer_id bigint NOT NULL, created_at timestamptz NOT NULL,
  status text NOT NULL, amount numeric(12,2) NOT NULL, quantity int NOT NULL,
  note text, attrs jsonb NOT NULL, receipt bytea);
INSERT INTO orders
SELECT g,
       1 + (random() * (:rows / 20 - 1))::bigint,
       timestamptz '2020-01-01' + g * interval '7 seconds' + random() * interval '5 seconds',
       (ARRAY['pending','paid','shipped','delivered','refunded'])[1 + (random() * 4)::int],
       round((random() * 500)::numeric, 2),
       1 + (random() * 9)::int,
       CASE WHEN random() < 0.4 THEN
         (ARRAY['leave at the door','call before delivery','gift wrap please','fragile',
                'second floor, no lift','deliver after 6 pm'])[1 + (random() * 5)::int]
         || ' #' || (random() * 1000)::int END,
       jsonb_build_object(
         'channel', (ARRAY['web','app','phone','store'])[1 + (random() * 3)::int],
         'items', jsonb_build_array(
            jsonb_build_object('sku', 'SKU-' || (random() * 50000)::int, 'qty', 1 + (random() * 4)::int,
                               'price', round((random() * 200)::numeric, 2)),
            jsonb_build_object('sku', 'SKU-' || (random() * 50000)::int, 'qty', 1 + (random() * 4)::int,
                               'price', round((random() * 200)::numeric, 2))),
         'coupon', CASE WHEN random() < 0.2 THEN 'SAVE' || (random() * 50)::int END,
         'ip', '10.' || (random() * 255)::int || '.' || (random() * 255)::int || '.' || (random() * 255)::int),
       CASE WHEN random() < 0.5 THEN decode(md5(random()::text) || md5(random()::text), 'hex') END
FROM generate_series(1, :rows) g;
CREATE INDEX orders_customer ON orders (customer_id);
CREATE INDEX orders_created ON orders (created_at);
CREATE TABLE events (
  id bigserial PRIMARY KEY, order_id bigint NOT NULL, at timestamptz NOT NULL, kind text NOT NULL,
  latency_ms double precision NOT NULL, payload jsonb);
INSERT INTO events (order_id, at, kind, latency_ms, payload)
SELECT 1 + (random() * (:rows - 1))::bigint,
       timestamptz '2020-01-01' + random() * interval '1500 days',
       (ARRAY['created','payment','email_sent','shipped','delivered','support'])[1 + (random() * 5)::int],
       random() * 800,
       CASE WHEN random() < 0.7 THEN jsonb_build_object('attempt', 1 + (random() * 3)::int,
         'agent', 'worker-' || (random() * 40)::int, 'ok', random() < 0.95) END
FROM generate_series(1, :rows / 2) g;
CREATE INDEX events_order ON events (order_id);
VACUUM ANALYZE;
