//! The PostgreSQL database Lifeboat protects: its URL (password redacted wherever it is
//! printed, TLS settings read from its query), connecting to it, and asking its version.

pub mod tls;

use std::fmt;
use std::time::Duration;
use tls::TlsSettings;

/// A PostgreSQL connection URL for the database Lifeboat protects. Its password never
/// appears in `Debug`/`Display` output.
#[derive(Clone, PartialEq, Eq)]
pub struct TargetUrl {
    url: url::Url,
    tls: TlsSettings,
    /// The `statement_timeout` of Lifeboat's own sessions (see [`connect`]).
    statement_timeout: Duration,
}

/// How long one of Lifeboat's own queries may run on the target before the server
/// cancels it (`LIFEBOAT_STATEMENT_TIMEOUT`): a query waiting on a lock someone holds
/// fails with a message instead of hanging a job.
pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(5 * 60);

impl TargetUrl {
    pub fn parse(s: &str) -> Result<TargetUrl, String> {
        let url = url::Url::parse(s.trim()).map_err(|e| {
            format!("not a URL ({e}); use postgres://USER:PASSWORD@HOST:PORT/DATABASE")
        })?;
        if url.scheme() != "postgres" && url.scheme() != "postgresql" {
            return Err(format!(
                "scheme `{}` is not postgres:// or postgresql://",
                url.scheme()
            ));
        }
        let db = url.path().trim_start_matches('/');
        if db.is_empty() || db.contains('/') {
            return Err("names no database; end the URL with /DATABASE".into());
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err("names no host; use postgres://USER:PASSWORD@HOST:PORT/DATABASE".into());
        }
        let tls = TlsSettings::from_url(&url)?;
        Ok(TargetUrl {
            url,
            tls,
            statement_timeout: DEFAULT_STATEMENT_TIMEOUT,
        })
    }

    /// The same URL, its sessions' statements limited to `limit`.
    pub fn with_statement_timeout(mut self, limit: Duration) -> TargetUrl {
        self.statement_timeout = limit;
        self
    }

    pub fn statement_timeout(&self) -> Duration {
        self.statement_timeout
    }

    /// The same server and credentials, another database.
    pub fn with_database(&self, database: &str) -> TargetUrl {
        let mut url = self.url.clone();
        let encoded: String = url::form_urlencoded::byte_serialize(database.as_bytes()).collect();
        url.set_path(&format!("/{}", encoded.replace('+', "%20")));
        TargetUrl {
            url,
            tls: self.tls.clone(),
            statement_timeout: self.statement_timeout,
        }
    }

    /// The URL for tokio-postgres, password included (only for building a connection):
    /// without the TLS parameters, which [`TlsSettings`] handles and tokio-postgres only
    /// partly knows.
    fn for_driver(&self) -> String {
        let mut url = self.url.clone();
        let rest: Vec<(String, String)> = self
            .url
            .query_pairs()
            .filter(|(k, _)| !tls::PARAMS.contains(&k.as_ref()))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        if rest.is_empty() {
            url.set_query(None);
        } else {
            url.query_pairs_mut().clear().extend_pairs(rest);
        }
        url.to_string()
    }

    /// `sslmode` and the certificate files, as the URL gives them.
    pub fn tls(&self) -> &TlsSettings {
        &self.tls
    }

    pub fn database(&self) -> String {
        let raw = self.url.path().trim_start_matches('/');
        urlencoding_decode(raw)
    }
    pub fn host(&self) -> String {
        self.url.host_str().unwrap_or_default().to_string()
    }
    pub fn port(&self) -> u16 {
        self.url.port().unwrap_or(5432)
    }
    pub fn user(&self) -> String {
        let u = self.url.username();
        if u.is_empty() {
            std::env::var("USER").unwrap_or_else(|_| "postgres".into())
        } else {
            urlencoding_decode(u)
        }
    }
    pub fn password(&self) -> Option<String> {
        self.url.password().map(urlencoding_decode)
    }
    /// The URL with its password replaced by `***`, safe for logs and the UI.
    pub fn redacted(&self) -> String {
        let mut u = self.url.clone();
        if u.password().is_some() {
            let _ = u.set_password(Some("***"));
        }
        u.to_string()
    }
}

fn urlencoding_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| s.to_string())
}

impl fmt::Debug for TargetUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}
impl fmt::Display for TargetUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// What the target server says about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerInfo {
    /// e.g. "15.18"
    pub version: String,
    pub major: u32,
    pub database_size: i64,
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The `application_name` of Lifeboat's own sessions; its tools' sessions start with it.
pub const APPLICATION_NAME: &str = "lifeboat";

/// Connects (5 s limit, TLS as the URL's `sslmode` says) and spawns the connection task.
/// Errors name the host and say what failed, never the password. The session is named
/// `lifeboat` (`application_name`, so it can be found in `pg_stat_activity`) and its
/// statements time out after the URL's statement timeout; a caller with legitimately
/// long work (ANALYZE) lifts it for that statement.
pub async fn connect(url: &TargetUrl) -> Result<tokio_postgres::Client, String> {
    let where_ = format!("{}:{}/{}", url.host(), url.port(), url.database());
    let mut config: tokio_postgres::Config = url
        .for_driver()
        .parse()
        .map_err(|e| format!("cannot connect to {where_}: the URL is not usable: {e}"))?;
    config.ssl_mode(url.tls.driver_mode());
    config.application_name(APPLICATION_NAME);
    config.options(format!(
        "-c statement_timeout={}",
        url.statement_timeout.as_millis().max(1)
    ));
    let tls = url
        .tls
        .client()
        .map_err(|e| format!("cannot connect to {where_}: {e}"))?;
    let attempt = async {
        match tls {
            Some(tls) => start(&config, tls).await,
            None => start(&config, tokio_postgres::NoTls).await,
        }
    };
    match tokio::time::timeout(CONNECT_TIMEOUT, attempt).await {
        Err(_) => Err(format!(
            "cannot connect to {where_}: no answer within {} s",
            CONNECT_TIMEOUT.as_secs()
        )),
        Ok(Err(e)) => {
            let why = url
                .tls
                .explain(&e, &url.host())
                .unwrap_or_else(|| describe(&e));
            Err(format!("cannot connect to {where_}: {why}"))
        }
        Ok(Ok(client)) => Ok(client),
    }
}

/// Connects and spawns the connection task (one function for the TLS and the plain kind).
async fn start<T>(
    config: &tokio_postgres::Config,
    tls: T,
) -> Result<tokio_postgres::Client, tokio_postgres::Error>
where
    T: tokio_postgres::tls::MakeTlsConnect<tokio_postgres::Socket>,
    T::Stream: Send + 'static,
{
    let (client, connection) = config.connect(tls).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!("target connection closed: {e}");
        }
    });
    Ok(client)
}

/// The error with its cause chain (tokio-postgres puts the useful part in the source).
pub fn describe(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{}: {}", db.severity(), db.message());
    }
    let mut text = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        text.push_str(": ");
        text.push_str(&s.to_string());
        src = s.source();
    }
    text
}

/// Runs `work` (a query on `client`) unless `cancel` turns `true` first: then the server
/// is asked to stop the statement `client` is running (a cancel request, as `psql` sends
/// on Ctrl+C), so that no query of a cancelled job goes on holding or waiting for a lock.
/// `None` when cancelled.
pub async fn unless_cancelled<T>(
    url: &TargetUrl,
    client: &tokio_postgres::Client,
    cancel: &mut tokio::sync::watch::Receiver<bool>,
    work: impl std::future::Future<Output = T>,
) -> Option<T> {
    let cancelled = async {
        if cancel.wait_for(|c| *c).await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        done = work => Some(done),
        () = cancelled => {
            cancel_statement(url, client).await;
            None
        }
    }
}

/// Asks the server to cancel what `client` is running (at most a few seconds' wait).
pub async fn cancel_statement(url: &TargetUrl, client: &tokio_postgres::Client) {
    let token = client.cancel_token();
    let request = async {
        match url.tls.client() {
            Ok(Some(tls)) => token.cancel_query(tls).await.map_err(|e| describe(&e)),
            Ok(None) => token
                .cancel_query(tokio_postgres::NoTls)
                .await
                .map_err(|e| describe(&e)),
            Err(e) => Err(e),
        }
    };
    match tokio::time::timeout(CONNECT_TIMEOUT, request).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!("cannot cancel a query on the target: {e}"),
        Err(_) => tracing::warn!("cannot cancel a query on the target: no answer"),
    }
}

/// Ends the sessions named `application_name` connected to the URL's database (a tool
/// Lifeboat killed may leave its server session waiting for a lock: it would hold its
/// place in the lock queue until then). Returns how many were ended.
pub async fn end_sessions_named(url: &TargetUrl, application_name: &str) -> Result<i64, String> {
    let client = connect(url).await?;
    let row = client
        .query_one(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database() AND pid <> pg_backend_pid()",
            &[&application_name],
        )
        .await
        .map_err(|e| describe(&e))?;
    Ok(row.get::<_, i64>(0))
}

/// Connects and reads the server's version and the database's size.
pub async fn server_info(url: &TargetUrl) -> Result<ServerInfo, String> {
    let client = connect(url).await?;
    let row = client
        .query_one(
            "SELECT current_setting('server_version'), current_setting('server_version_num')::int, pg_database_size(current_database())",
            &[],
        )
        .await
        .map_err(|e| format!("the target answered with an error: {}", describe(&e)))?;
    let version: String = row.get(0);
    let num: i32 = row.get(1);
    let size: i64 = row.get(2);
    // 150018 → 15; 90624 → 9.
    let major = (num / 10_000) as u32;
    Ok(ServerInfo {
        version: version
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string(),
        major,
        database_size: size,
    })
}
