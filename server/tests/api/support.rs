//! Test helpers: a real Lifeboat on port 0 with a fresh data directory, pointed at the
//! PostgreSQL cluster that `scripts/with-test-postgres.sh` started for this test run.
#![allow(dead_code)]

use server::config::{Config, Sources, TargetUrl};
use server::startup::{self, Server};
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
            &server::audit::Origin::default().with_actor("test"),
            name,
            server::config::Secret::new(password.to_string()),
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
        let page = server::audit::list(
            &self.server.state.db,
            &server::audit::Query {
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
