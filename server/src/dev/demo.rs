//! The demo database `make run` starts when no target is configured: a PostgreSQL cluster
//! Lifeboat runs itself in `DATA_DIR/demo-postgres`, with a database `demo` holding a small
//! shop (customers, products, orders, order items, JSONB events) worth backing up.
//!
//! The superuser password is random, generated once and kept in
//! `DATA_DIR/demo-postgres.password` (0600, outside the cluster directory); the port is
//! remembered in `DATA_DIR/demo-postgres.port` so the URL stays the same across restarts when
//! it can. Seeding runs in one transaction that also creates the marker table
//! `lifeboat_demo_seeded`, so a database is either fully seeded or not at all, and a seeded
//! database (including one a restore brought back) is never seeded twice.

use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use rand::distributions::{Alphanumeric, DistString};
use tokio_postgres::NoTls;

use super::pgcluster::{free_port, let_server_user_pass, percent_encode, Cluster, PgBin};

const SUPERUSER: &str = "lifeboat";
const DEMO_DB: &str = "demo";
const CLUSTER_DIR: &str = "demo-postgres";
const PASSWORD_FILE: &str = "demo-postgres.password";
const PORT_FILE: &str = "demo-postgres.port";
/// Bumped when the seed changes; recorded in the marker table for whoever looks.
const SEED_VERSION: i32 = 1;
/// Attempts to start when the chosen port is taken between choosing and binding it.
const START_ATTEMPTS: usize = 3;

/// The running demo cluster and the URL of its `demo` database.
pub struct DemoDatabase {
    cluster: Cluster,
    url: String,
}

impl std::fmt::Debug for DemoDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL holds the password.
        f.debug_struct("DemoDatabase")
            .field("cluster", &self.cluster)
            .finish_non_exhaustive()
    }
}

impl DemoDatabase {
    /// Opens (or creates) the cluster in `data_dir/demo-postgres`, starts it on the remembered
    /// port (or a free one), creates the `demo` database if missing and seeds it if not yet
    /// seeded.
    pub async fn start(data_dir: &Path) -> Result<DemoDatabase> {
        crate::storage::private::create_dir_all(data_dir).with_context(|| {
            format!("could not create the data directory {}", data_dir.display())
        })?;
        // The private data directory holds the cluster's: PostgreSQL's OS user (when
        // Lifeboat runs as root) may pass through it, nothing more.
        let_server_user_pass(data_dir).await?;
        let cluster_dir = data_dir.join(CLUSTER_DIR);
        let password = demo_password(data_dir, &cluster_dir)?;
        let bin = PgBin::discover()?;
        let mut cluster = Cluster::open_or_init(&bin, &cluster_dir, SUPERUSER, &password, false)
            .await
            .context("could not prepare the demo PostgreSQL cluster")?;
        // A server left running by an earlier Lifeboat process still holds the remembered port;
        // stopping it first lets the demo come back on the same URL.
        cluster
            .stop()
            .await
            .context("could not stop the demo PostgreSQL left running earlier")?;
        start_on_remembered_port(&mut cluster, data_dir).await?;

        let url = cluster.url(DEMO_DB);
        if let Err(err) = prepare_demo_database(&cluster).await {
            if let Err(stop_err) = cluster.stop().await {
                tracing::warn!(error = %format!("{stop_err:#}"), "could not stop the demo PostgreSQL after a failure");
            }
            return Err(err);
        }
        tracing::info!(
            port = cluster.port(),
            database = DEMO_DB,
            "demo database ready"
        );
        Ok(DemoDatabase { cluster, url })
    }

    /// `postgres://lifeboat:PASSWORD@127.0.0.1:PORT/demo`. Contains the password: never log it.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Stops the demo cluster (fast shutdown).
    pub async fn stop(self) -> Result<()> {
        self.cluster
            .stop()
            .await
            .context("could not stop the demo PostgreSQL")
    }
}

/// The URL of the demo database that `lifeboat serve` runs (or ran) in this data
/// directory, read from what it remembered — nothing is started: `None` when there is no
/// demo cluster here. The command-line tools resolve the target with it, as `serve` does.
pub fn remembered_url(data_dir: &Path) -> Option<String> {
    if !data_dir.join(CLUSTER_DIR).join("PG_VERSION").exists() {
        return None;
    }
    let password = fs::read_to_string(data_dir.join(PASSWORD_FILE)).ok()?;
    let password = password.trim_end_matches(['\n', '\r']);
    let port: u16 = fs::read_to_string(data_dir.join(PORT_FILE))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(format!(
        "postgres://{}:{}@127.0.0.1:{port}/{}",
        percent_encode(SUPERUSER),
        percent_encode(password),
        percent_encode(DEMO_DB)
    ))
}

/// Reads the demo superuser's password, generating it on first use.
fn demo_password(data_dir: &Path, cluster_dir: &Path) -> Result<String> {
    let path = data_dir.join(PASSWORD_FILE);
    match fs::read_to_string(&path) {
        Ok(text) => {
            let password = text.trim_end_matches(['\n', '\r']).to_owned();
            if password.is_empty() {
                bail!(
                    "{} is empty; delete it together with {} to recreate the demo database",
                    path.display(),
                    cluster_dir.display()
                );
            }
            let mode = fs::metadata(&path)
                .with_context(|| format!("could not read {}", path.display()))?
                .permissions()
                .mode();
            if mode & 0o077 != 0 {
                tracing::warn!(path = %path.display(), "the demo password file was readable by others; restricting it to 0600");
                fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).with_context(
                    || format!("could not restrict permissions of {}", path.display()),
                )?;
            }
            Ok(password)
        }
        Err(err) if err.kind() == ErrorKind::NotFound => {
            if cluster_dir.join("PG_VERSION").exists() {
                bail!(
                    "the demo cluster {} exists but its password file {} is gone; delete the \
                     cluster directory to recreate the demo database",
                    cluster_dir.display(),
                    path.display()
                );
            }
            let password = Alphanumeric.sample_string(&mut rand::thread_rng(), 32);
            write_private_file(&path, &format!("{password}\n"))?;
            Ok(password)
        }
        Err(err) => Err(err).with_context(|| format!("could not read {}", path.display())),
    }
}

/// Starts on the port remembered from the last run if it is free, else on a free one, and
/// remembers the port used.
async fn start_on_remembered_port(cluster: &mut Cluster, data_dir: &Path) -> Result<()> {
    let port_path = data_dir.join(PORT_FILE);
    let remembered = fs::read_to_string(&port_path)
        .ok()
        .and_then(|text| text.trim().parse::<u16>().ok())
        .filter(|p| *p != 0);
    let mut port = match remembered {
        Some(port) if port_is_free(port) => port,
        Some(port) => {
            tracing::info!(
                port,
                "the demo database's previous port is taken; choosing another"
            );
            free_port()?
        }
        None => free_port()?,
    };
    let mut attempt = 1;
    loop {
        match cluster.start(port).await {
            Ok(()) => break,
            Err(err) if attempt < START_ATTEMPTS && is_port_conflict(&err) => {
                tracing::info!(
                    port,
                    "port taken while starting the demo database; trying another"
                );
                attempt += 1;
                port = free_port()?;
            }
            Err(err) => return Err(err).context("could not start the demo PostgreSQL"),
        }
    }
    if remembered != Some(port) {
        write_private_file(&port_path, &format!("{port}\n"))?;
    }
    Ok(())
}

fn port_is_free(port: u16) -> bool {
    std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
}

fn is_port_conflict(err: &anyhow::Error) -> bool {
    let text = format!("{err:#}");
    text.contains("Address already in use") || text.contains("could not bind")
}

/// Creates the `demo` database if missing and seeds it if not yet seeded.
async fn prepare_demo_database(cluster: &Cluster) -> Result<()> {
    let admin = connect(&cluster.url("postgres")).await?;
    let exists = admin
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&DEMO_DB])
        .await
        .context("could not look for the demo database")?
        .is_some();
    if !exists {
        tracing::info!(database = DEMO_DB, "creating the demo database");
        admin
            .batch_execute(&format!("CREATE DATABASE {DEMO_DB}"))
            .await
            .context("could not create the demo database")?;
    }
    drop(admin);

    let mut client = connect(&cluster.url(DEMO_DB)).await?;
    let seeded: bool = client
        .query_one(
            "SELECT to_regclass('public.lifeboat_demo_seeded') IS NOT NULL",
            &[],
        )
        .await
        .context("could not check whether the demo database is seeded")?
        .get(0);
    if seeded {
        tracing::info!(database = DEMO_DB, "demo database already seeded");
        return Ok(());
    }

    let started = Instant::now();
    tracing::info!(database = DEMO_DB, "seeding the demo database");
    let tx = client
        .transaction()
        .await
        .context("could not begin the seeding transaction")?;
    for (label, sql) in SEED_STEPS {
        let step = Instant::now();
        tx.batch_execute(sql)
            .await
            .with_context(|| format!("seeding the demo database failed while {label}"))?;
        tracing::info!(
            step = label,
            elapsed_ms = step.elapsed().as_millis() as u64,
            "demo seed step done"
        );
    }
    tx.execute(
        "INSERT INTO lifeboat_demo_seeded (version, seeded_at) VALUES ($1, now())",
        &[&SEED_VERSION],
    )
    .await
    .context("could not mark the demo database as seeded")?;
    tx.commit()
        .await
        .context("could not commit the demo seed")?;
    // Outside the transaction: sets hint bits and statistics once, so the first backup does
    // not pay for them.
    client
        .batch_execute("VACUUM ANALYZE")
        .await
        .context("could not vacuum the demo database")?;

    let size: i64 = client
        .query_one("SELECT pg_database_size(current_database())", &[])
        .await
        .context("could not measure the demo database")?
        .get(0);
    tracing::info!(
        database = DEMO_DB,
        size_mb = size / (1024 * 1024),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "demo database seeded"
    );
    Ok(())
}

async fn connect(url: &str) -> Result<tokio_postgres::Client> {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .context("could not connect to the demo PostgreSQL")?;
    tokio::spawn(async move {
        if let Err(err) = connection.await {
            tracing::warn!(error = %err, "demo PostgreSQL connection ended with an error");
        }
    });
    Ok(client)
}

/// Writes `path` atomically with mode 0600: a temporary file, fsync, rename, fsync the
/// directory.
fn write_private_file(path: &Path, contents: &str) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(".tmp");
    let tmp = dir.join(tmp_name);
    match fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(err) if err.kind() == ErrorKind::NotFound => {}
        Err(err) => {
            return Err(err)
                .with_context(|| format!("could not remove the stale {}", tmp.display()))
        }
    }
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("could not create {}", tmp.display()))?;
    file.write_all(contents.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("could not write {}", tmp.display()))?;
    drop(file);
    fs::rename(&tmp, path)
        .with_context(|| format!("could not rename {} to {}", tmp.display(), path.display()))?;
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("could not sync the directory {}", dir.display()))?;
    Ok(())
}

/// The seed, step by step (each step is logged). Plain SQL with generate_series and a fixed
/// random seed, so every demo database holds the same data. Constraints and indexes come after
/// the bulk inserts: validating a foreign key once is much faster than row by row.
const SEED_STEPS: &[(&str, &str)] = &[
    (
        "creating the schema",
        r#"
SELECT setseed(0.42);

CREATE TABLE lifeboat_demo_seeded (
    version integer PRIMARY KEY,
    seeded_at timestamptz NOT NULL
);
COMMENT ON TABLE lifeboat_demo_seeded IS
    'Written by Lifeboat when it seeded this demo database; while it exists, Lifeboat does not seed again.';

CREATE TYPE order_status AS ENUM ('pending', 'paid', 'shipped', 'delivered', 'cancelled', 'refunded');

CREATE TABLE customers (
    id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    email text NOT NULL,
    full_name text NOT NULL,
    country char(2) NOT NULL,
    marketing_opt_in boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE customers IS 'People who can place orders.';

CREATE TABLE products (
    id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    sku text NOT NULL UNIQUE,
    name text NOT NULL,
    category text NOT NULL,
    price numeric(10, 2) NOT NULL CHECK (price >= 0),
    stock integer NOT NULL DEFAULT 0 CHECK (stock >= 0),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE orders (
    id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    customer_id bigint NOT NULL,
    status order_status NOT NULL DEFAULT 'pending',
    shipping_country char(2) NOT NULL,
    ordered_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE order_items (
    order_id bigint NOT NULL,
    line_no smallint NOT NULL,
    product_id bigint NOT NULL,
    quantity integer NOT NULL CHECK (quantity > 0),
    unit_price numeric(10, 2) NOT NULL,
    PRIMARY KEY (order_id, line_no)
);

CREATE TABLE events (
    id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    customer_id bigint,
    kind text NOT NULL,
    occurred_at timestamptz NOT NULL DEFAULT now(),
    payload jsonb NOT NULL
);
COMMENT ON TABLE events IS 'Storefront analytics events; customer_id is NULL for anonymous visitors.';
"#,
    ),
    (
        "inserting 50000 customers and 2000 products",
        r#"
INSERT INTO customers (id, email, full_name, country, marketing_opt_in, created_at)
SELECT g,
       'customer' || g || '@example.com',
       (ARRAY['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Donald', 'Margaret', 'Ken',
              'Frances', 'Niklaus', 'Radia', 'Linus'])[1 + g % 12]
         || ' ' ||
       (ARRAY['Lovelace', 'Hopper', 'Turing', 'Dijkstra', 'Liskov', 'Knuth', 'Hamilton',
              'Thompson', 'Allen', 'Wirth', 'Perlman', 'Torvalds', 'Ritchie'])[1 + (g / 12) % 13],
       (ARRAY['DE', 'FR', 'NL', 'US', 'GB', 'ES', 'IT', 'SE', 'PL', 'BR', 'JP', 'CA'])[1 + floor(random() * 12)::int],
       random() < 0.35,
       timestamptz '2021-01-01 00:00:00+00' + random() * interval '1400 days'
FROM generate_series(1, 50000) AS g;

INSERT INTO products (id, sku, name, category, price, stock, created_at)
SELECT g,
       'SKU-' || lpad(g::text, 6, '0'),
       (ARRAY['Classic', 'Deluxe', 'Compact', 'Eco', 'Pro', 'Travel', 'Vintage', 'Smart'])[1 + g % 8]
         || ' ' ||
       (ARRAY['mug', 'lamp', 'backpack', 'notebook', 'kettle', 'chair', 'headphones', 'jacket',
              'teapot', 'bicycle bell'])[1 + (g / 8) % 10]
         || ' #' || g,
       (ARRAY['kitchen', 'home', 'outdoor', 'office', 'audio', 'clothing'])[1 + g % 6],
       round((2 + random() * 250)::numeric, 2),
       floor(random() * 500)::int,
       timestamptz '2020-06-01 00:00:00+00' + random() * interval '1500 days'
FROM generate_series(1, 2000) AS g;
"#,
    ),
    (
        "inserting 150000 orders",
        r#"
INSERT INTO orders (id, customer_id, status, shipping_country, ordered_at)
SELECT g,
       1 + floor(random() * 50000)::bigint,
       (ARRAY['pending', 'paid', 'shipped', 'delivered', 'delivered', 'delivered', 'cancelled',
              'refunded']::order_status[])[1 + floor(random() * 8)::int],
       (ARRAY['DE', 'FR', 'NL', 'US', 'GB', 'ES', 'IT', 'SE', 'PL', 'BR', 'JP', 'CA'])[1 + floor(random() * 12)::int],
       timestamptz '2022-01-01 00:00:00+00' + random() * interval '1000 days'
FROM generate_series(1, 150000) AS g;
"#,
    ),
    (
        "inserting about 400000 order items",
        // random() in the subquery's target list keeps it from being flattened, so every
        // order gets its own number of lines (1 to 4, about 2.7 on average).
        r#"
INSERT INTO order_items (order_id, line_no, product_id, quantity, unit_price)
SELECT i.order_id, i.line_no, i.product_id, i.quantity, p.price
FROM (
    SELECT o.id AS order_id,
           l.line_no::smallint AS line_no,
           1 + floor(random() * 2000)::bigint AS product_id,
           1 + floor(random() * random() * 5)::int AS quantity
    FROM (SELECT id, 1 + (random() * 3.4)::int AS lines FROM orders) AS o
    CROSS JOIN LATERAL generate_series(1, o.lines) AS l(line_no)
) AS i
JOIN products AS p ON p.id = i.product_id;
"#,
    ),
    (
        "inserting 100000 events",
        r#"
INSERT INTO events (id, customer_id, kind, occurred_at, payload)
SELECT g,
       CASE WHEN random() < 0.8 THEN 1 + floor(random() * 50000)::bigint END,
       (ARRAY['page_view', 'page_view', 'page_view', 'search', 'add_to_cart', 'checkout_started'])[1 + g % 6],
       timestamptz '2024-01-01 00:00:00+00' + random() * interval '300 days',
       jsonb_build_object(
           'session', md5(g::text),
           'path', (ARRAY['/', '/search', '/cart', '/checkout', '/account', '/products'])[1 + g % 6],
           'user_agent', (ARRAY['Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0',
                                'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 Safari/605.1.15',
                                'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36'])[1 + g % 3],
           'duration_ms', floor(random() * 3000)::int,
           'product_ids', jsonb_build_array(1 + floor(random() * 2000)::int, 1 + floor(random() * 2000)::int),
           'referrer', CASE WHEN random() < 0.5 THEN 'https://www.example.org/ref/' || (g % 97) END
       )
FROM generate_series(1, 100000) AS g;
"#,
    ),
    (
        "adding constraints and indexes",
        r#"
SELECT setval(pg_get_serial_sequence('customers', 'id'), 50000);
SELECT setval(pg_get_serial_sequence('products', 'id'), 2000);
SELECT setval(pg_get_serial_sequence('orders', 'id'), 150000);
SELECT setval(pg_get_serial_sequence('events', 'id'), 100000);

ALTER TABLE customers ADD CONSTRAINT customers_email_key UNIQUE (email);
ALTER TABLE orders ADD CONSTRAINT orders_customer_id_fkey
    FOREIGN KEY (customer_id) REFERENCES customers (id);
ALTER TABLE order_items ADD CONSTRAINT order_items_order_id_fkey
    FOREIGN KEY (order_id) REFERENCES orders (id) ON DELETE CASCADE;
ALTER TABLE order_items ADD CONSTRAINT order_items_product_id_fkey
    FOREIGN KEY (product_id) REFERENCES products (id);
ALTER TABLE events ADD CONSTRAINT events_customer_id_fkey
    FOREIGN KEY (customer_id) REFERENCES customers (id) ON DELETE SET NULL;

CREATE INDEX orders_customer_id_idx ON orders (customer_id);
CREATE INDEX orders_ordered_at_idx ON orders (ordered_at);
CREATE INDEX order_items_product_id_idx ON order_items (product_id);
CREATE INDEX events_occurred_at_idx ON events (occurred_at);
CREATE INDEX events_payload_idx ON events USING gin (payload jsonb_path_ops);
"#,
    ),
    (
        "creating views and functions",
        r#"
CREATE VIEW order_summaries AS
SELECT o.id AS order_id,
       o.customer_id,
       o.status,
       o.ordered_at,
       count(i.line_no) AS line_count,
       coalesce(sum(i.quantity * i.unit_price), 0)::numeric(12, 2) AS total
FROM orders AS o
LEFT JOIN order_items AS i ON i.order_id = o.id
GROUP BY o.id;
COMMENT ON VIEW order_summaries IS 'One row per order with its number of lines and total.';

CREATE FUNCTION customer_lifetime_value(p_customer_id bigint) RETURNS numeric
LANGUAGE sql STABLE
AS $$
    SELECT coalesce(sum(i.quantity * i.unit_price), 0)
    FROM orders AS o
    JOIN order_items AS i ON i.order_id = o.id
    WHERE o.customer_id = p_customer_id
      AND o.status NOT IN ('cancelled', 'refunded')
$$;
COMMENT ON FUNCTION customer_lifetime_value(bigint) IS
    'Revenue from a customer''s orders that were neither cancelled nor refunded.';

CREATE MATERIALIZED VIEW daily_revenue AS
SELECT date_trunc('day', o.ordered_at) AS day,
       count(DISTINCT o.id) AS orders,
       sum(i.quantity * i.unit_price)::numeric(14, 2) AS revenue
FROM orders AS o
JOIN order_items AS i ON i.order_id = o.id
WHERE o.status NOT IN ('cancelled', 'refunded')
GROUP BY 1;
CREATE UNIQUE INDEX daily_revenue_day_idx ON daily_revenue (day);
"#,
    ),
];
