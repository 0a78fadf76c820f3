//! Test helpers: a real Lifeboat on port 0 with a fresh data directory, pointed at the
//! PostgreSQL cluster that `scripts/with-test-postgres.sh` started for this test run.
#![allow(dead_code)]

use server::config::{Config, Sources};
use server::startup::{self, Server};
use server::target::TargetUrl;
use std::collections::BTreeMap;

/// The throwaway cluster's URL. Tests need a real server; run them through
/// `make test` (or `scripts/with-test-postgres.sh cargo test`).
pub fn pg_url() -> String {
    std::env::var("LIFEBOAT_TEST_PG_URL").unwrap_or_else(|_| {
        panic!("LIFEBOAT_TEST_PG_URL is not set: run the tests with `make test` or `scripts/with-test-postgres.sh cargo test`")
    })
}

pub fn pg_bin_dir() -> Option<String> {
    std::env::var("LIFEBOAT_TEST_PG_BIN_DIR").ok()
}

pub struct TestApp {
    pub base: String,
    pub server: Server,
    pub data_dir: tempfile::TempDir,
    /// A client with a cookie jar, sending the CSRF header and our Origin like the SPA.
    pub client: reqwest::Client,
}

pub struct Options {
    pub env: Vec<(&'static str, String)>,
    /// `None` uses the test cluster.
    pub target: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            env: vec![],
            target: Some(pg_url()),
        }
    }
}

pub fn config_for(data_dir: &std::path::Path, opts: &Options) -> Config {
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    env.insert("LIFEBOAT_DATA_DIR".into(), data_dir.display().to_string());
    env.insert("LIFEBOAT_ADDR".into(), "127.0.0.1:0".into());
    // Scheduled backups would start at 02:00 in the middle of a test run.
    env.insert("LIFEBOAT_SCHEDULE".into(), "off".into());
    // ...which is on purpose here (a test of the warning says otherwise).
    env.insert("LIFEBOAT_SCHEDULE_OFF_OK".into(), "true".into());
    if let Some(t) = &opts.target {
        env.insert("LIFEBOAT_TARGET_URL".into(), t.clone());
    }
    if let Some(b) = pg_bin_dir() {
        env.insert("LIFEBOAT_PG_BIN_DIR".into(), b);
    }
    for (k, v) in &opts.env {
        env.insert(k.to_string(), v.clone());
    }
    let sources = Sources::new(env, None).expect("test config sources");
    Config::load(&sources).expect("test config")
}

pub async fn spawn_app(opts: Options) -> TestApp {
    let data_dir = tempfile::tempdir().expect("tempdir");
    let config = config_for(data_dir.path(), &opts);
    let target = config.target_url.clone();
    let server = startup::start(config, target).await.expect("server starts");
    let base = format!("http://{}", server.addr);
    let client = client_for(&base);
    TestApp {
        base,
        server,
        data_dir,
        client,
    }
}

pub fn client_for(base: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("x-requested-with", "lifeboat".parse().expect("header"));
    headers.insert("origin", base.parse().expect("origin"));
    reqwest::Client::builder()
        .cookie_store(true)
        .default_headers(headers)
        .build()
        .expect("client")
}

pub const PASSWORD: &str = "correct horse battery staple";

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Creates an administrator directly in the store.
    pub async fn add_user(&self, name: &str, password: &str) {
        server::users::create(
            &self.server.state.db,
            &server::store::audit::Origin::default().with_actor("test"),
            name,
            server::secret::Secret::new(password.to_string()),
        )
        .await
        .expect("create user");
    }

    pub async fn login_with(
        &self,
        client: &reqwest::Client,
        user: &str,
        password: &str,
    ) -> reqwest::Response {
        client
            .post(self.url("/api/v1/auth/login"))
            .json(&serde_json::json!({ "username": user, "password": password }))
            .send()
            .await
            .expect("login request")
    }

    pub async fn login(&self, user: &str, password: &str) -> reqwest::Response {
        self.login_with(&self.client, user, password).await
    }

    /// All audit events, oldest first, straight from the store.
    pub async fn audit(&self) -> Vec<app::api::AuditEvent> {
        let page = server::store::audit::list(
            &self.server.state.db,
            &server::store::audit::Query {
                limit: 500,
                offset: 0,
                action: None,
                outcome: None,
            },
        )
        .await
        .expect("audit list");
        page.items.into_iter().rev().collect()
    }

    pub async fn audit_with(&self, action: &str) -> Vec<app::api::AuditEvent> {
        self.audit()
            .await
            .into_iter()
            .filter(|e| e.action == action)
            .collect()
    }
}

pub fn target(url: &str) -> TargetUrl {
    TargetUrl::parse(url).expect("target url")
}

// ---------------------------------------------------------------------------------------
// Backups
// ---------------------------------------------------------------------------------------

/// Creates a fresh database on the test cluster and returns its URL.
pub async fn create_database(name: &str) -> String {
    let admin = pg_url();
    let (client, conn) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
        .await
        .expect("connect to the test cluster");
    tokio::spawn(conn);
    client
        .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .await
        .expect("drop database");
    client
        .batch_execute(&format!("CREATE DATABASE \"{name}\""))
        .await
        .expect("create database");
    let mut url = url::Url::parse(&admin).expect("url");
    url.set_path(&format!("/{name}"));
    url.to_string()
}

pub async fn sql(url: &str, statements: &str) {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    client.batch_execute(statements).await.expect("sql");
}

/// A database with a few tables and `rows` rows of hard-to-compress data.
pub async fn sample_database(name: &str, rows: i64) -> String {
    let url = create_database(name).await;
    sql(
        &url,
        &format!(
            "CREATE TABLE customers (id bigint PRIMARY KEY, name text NOT NULL);
             INSERT INTO customers SELECT g, 'customer ' || g FROM generate_series(1, 1000) g;
             CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint REFERENCES customers, note text);
             INSERT INTO orders SELECT g, 1 + g % 1000, md5(g::text) || md5((g * 7)::text) FROM generate_series(1, {rows}) g;
             CREATE TABLE marker (v text); INSERT INTO marker VALUES ('lifeboat-test-marker');"
        ),
    )
    .await;
    url
}

/// md5 of each table's rows, for comparing a restored database with its source.
pub async fn table_checksums(url: &str) -> Vec<(String, String)> {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    let tables = client
        .query(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
            &[],
        )
        .await
        .expect("tables");
    let mut out = vec![];
    for t in tables {
        let name: String = t.get(0);
        let row = client
            .query_one(
                &format!("SELECT md5(COALESCE(string_agg(x::text, ',' ORDER BY x::text), '')) FROM \"{name}\" x"),
                &[],
            )
            .await
            .expect("checksum");
        out.push((name, row.get::<_, String>(0)));
    }
    out
}

/// A folder to use as LIFEBOAT_PG_BIN_DIR: the real tools, with `pg_dump` replaced by a
/// script whose body runs after `--version` is answered truthfully. `$REAL` is the real
/// pg_dump, `$OUT` the --file argument.
pub fn fake_pg_dump(body: &str) -> tempfile::TempDir {
    let real = std::path::PathBuf::from(pg_bin_dir().expect("LIFEBOAT_TEST_PG_BIN_DIR"));
    let dir = tempfile::tempdir().expect("tmp");
    for tool in ["pg_restore", "psql"] {
        std::os::unix::fs::symlink(real.join(tool), dir.path().join(tool)).expect("symlink");
    }
    let script = format!(
        "#!/bin/bash\nREAL='{}'\nif [ \"$1\" = --version ]; then exec \"$REAL\" --version; fi\nOUT=''\nfor a in \"$@\"; do case \"$a\" in --file=*) OUT=\"${{a#--file=}}\";; esac; done\n{body}\n",
        real.join("pg_dump").display()
    );
    let p = dir.path().join("pg_dump");
    std::fs::write(&p, script).expect("write fake");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    dir
}

impl TestApp {
    pub async fn signed_in(opts: Options) -> TestApp {
        let app = spawn_app(opts).await;
        app.add_user("admin", PASSWORD).await;
        assert_eq!(app.login("admin", PASSWORD).await.status(), 200);
        app
    }

    /// `GET /api/v1/backups/status`: what the status strip shows.
    /// `/readyz?refresh=1`'s `schedule` check: (ok, detail).
    pub async fn schedule_check(&self) -> (bool, String) {
        let ready: app::api::ReadyReport = self
            .client
            .get(self.url("/readyz?refresh=1"))
            .send()
            .await
            .expect("readyz")
            .json()
            .await
            .expect("json");
        let c = ready
            .checks
            .into_iter()
            .find(|c| c.name == "schedule")
            .expect("a schedule check");
        (c.ok, c.detail)
    }

    pub async fn backup_status(&self) -> app::api::BackupStatus {
        self.client
            .get(self.url("/api/v1/backups/status"))
            .send()
            .await
            .expect("status")
            .json()
            .await
            .expect("status json")
    }

    pub async fn start_backup(&self) -> reqwest::Response {
        self.client
            .post(self.url("/api/v1/backups"))
            .json(&serde_json::json!({}))
            .send()
            .await
            .expect("start backup")
    }

    pub async fn job(&self, id: i64) -> app::api::Job {
        self.client
            .get(self.url(&format!("/api/v1/jobs/{id}")))
            .send()
            .await
            .expect("job")
            .json()
            .await
            .expect("job json")
    }

    /// Reads `/api/v1/jobs/{id}/events` to its end; returns every job state it carried.
    pub async fn follow(&self, id: i64) -> Vec<app::api::Job> {
        let mut resp = self
            .client
            .get(self.url(&format!("/api/v1/jobs/{id}/events")))
            .send()
            .await
            .expect("events");
        assert_eq!(resp.status(), 200);
        assert_eq!(
            resp.headers()["content-type"].to_str().unwrap_or_default(),
            "text/event-stream"
        );
        assert_eq!(resp.headers()["x-accel-buffering"], "no");
        let mut buf = String::new();
        let mut jobs = vec![];
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        while let Some(chunk) = tokio::time::timeout_at(deadline.into(), resp.chunk())
            .await
            .expect("the event stream ends within 2 minutes")
            .expect("chunk")
        {
            buf.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buf.find("\n\n") {
                let block: String = buf.drain(..end + 2).collect();
                for line in block.lines() {
                    if let Some(data) = line
                        .strip_prefix("data: ")
                        .or_else(|| line.strip_prefix("data:"))
                    {
                        jobs.push(serde_json::from_str(data).expect("job event"));
                    }
                }
            }
        }
        jobs
    }

    /// Waits until the job is over and returns its final state.
    pub async fn wait(&self, id: i64) -> app::api::Job {
        for _ in 0..600 {
            let j = self.job(id).await;
            if app::api::job_status::is_terminal(&j.status) {
                return j;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("job {id} did not end within a minute");
    }

    pub async fn backup_detail(&self, id: i64) -> app::api::BackupDetail {
        self.client
            .get(self.url(&format!("/api/v1/backups/{id}")))
            .send()
            .await
            .expect("detail")
            .json()
            .await
            .expect("detail json")
    }

    /// Every file under the data directory's backups folder.
    pub fn backup_files(&self) -> Vec<std::path::PathBuf> {
        fn walk(d: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            if let Ok(rd) = std::fs::read_dir(d) {
                for e in rd.flatten() {
                    let p = e.path();
                    if p.is_dir() {
                        walk(&p, out);
                    } else {
                        out.push(p);
                    }
                }
            }
        }
        let mut out = vec![];
        walk(&self.data_dir.path().join("backups"), &mut out);
        out.sort();
        out
    }
}

pub fn sha256_file(p: &std::path::Path) -> String {
    use sha2::Digest;
    let bytes = std::fs::read(p).expect("read");
    hex::encode(sha2::Sha256::digest(bytes))
}

/// The settings of one scheduled slot with a single attempt, for `scheduler::run_slot`.
pub fn one_attempt_slot() -> server::schedule::Settings {
    server::schedule::Settings {
        schedule: None,
        attempts: 1,
        retry_delay: std::time::Duration::from_millis(100),
        catch_up: false,
        retention: server::retention::Policy::default(),
    }
}

/// A TCP proxy on loopback to `upstream` (`host:port`) whose link moves about
/// `bytes_per_second` in each direction, shared by all its connections (as parts sent
/// at once share a real link). Returns its `host:port`.
pub async fn throttled_proxy(upstream: String, bytes_per_second: u64) -> String {
    use std::sync::{Arc, Mutex};
    use tokio::time::Instant;
    /// When each direction of the link is free again.
    type Link = Arc<Mutex<Instant>>;
    async fn pump(
        mut from: tokio::net::tcp::OwnedReadHalf,
        mut to: tokio::net::tcp::OwnedWriteHalf,
        link: Link,
        rate: u64,
    ) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut buf = vec![0u8; 16 << 10];
        loop {
            let n = match from.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let done = {
                let mut free = link.lock().expect("link");
                let start = (*free).max(Instant::now());
                *free = start + std::time::Duration::from_secs_f64(n as f64 / rate as f64);
                *free
            };
            tokio::time::sleep_until(done).await;
            if to.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
        let _ = to.shutdown().await;
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind proxy");
    let addr = listener.local_addr().expect("proxy addr");
    let up: Link = Arc::new(Mutex::new(Instant::now()));
    let down: Link = Arc::new(Mutex::new(Instant::now()));
    tokio::spawn(async move {
        while let Ok((inbound, _)) = listener.accept().await {
            let Ok(outbound) = tokio::net::TcpStream::connect(&upstream).await else {
                continue;
            };
            let (ri, wi) = inbound.into_split();
            let (ro, wo) = outbound.into_split();
            tokio::spawn(pump(ri, wo, up.clone(), bytes_per_second));
            tokio::spawn(pump(ro, wi, down.clone(), bytes_per_second));
        }
    });
    addr.to_string()
}
