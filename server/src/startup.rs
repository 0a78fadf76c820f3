//! Putting Lifeboat together: resolve the database to protect, open the metadata
//! database, build the engine from the configuration's values, bootstrap the first
//! administrator (or print the one-time setup link), build the router and serve it until
//! told to stop. The command-line tools build their engine here too, the same way.

use crate::config::Config;
use crate::engine::{self, run::AbortOnDrop, Engine};
use crate::http::limits::Limits;
use crate::http::readiness::Readiness;
use crate::http::state::{AppState, SetupToken};
use crate::http::throttle::Throttle;
use crate::store::audit::{self, Entry, Origin};
use crate::target::TargetUrl;
use crate::{http, pgtools, store, users};
use anyhow::Context;
use app::api::{audit_action, outcome};
use leptos::config::{Env, LeptosOptions};
use rand::RngCore;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::{oneshot, Mutex};
use tower_sessions_sqlx_store::SqliteStore;

/// A running server.
pub struct Server {
    pub addr: SocketAddr,
    pub state: AppState,
    /// The one-time setup link, when no administrator exists yet.
    pub setup_url: Option<String>,
    shutdown: Option<oneshot::Sender<()>>,
    join: tokio::task::JoinHandle<()>,
    /// Stopped with the server.
    _scheduler: Option<AbortOnDrop<()>>,
    _test_restores: Option<AbortOnDrop<()>>,
    _readiness_checks: AbortOnDrop<()>,
}

/// How long [`Server::stop`] takes at most: running jobs are cancelled (and their
/// outcome recorded) within [`JOBS_STOP_WITHIN`], the connections still open after the
/// rest are dropped.
pub const STOP_WITHIN: std::time::Duration = std::time::Duration::from_secs(10);

/// How long a shutdown waits for the cancelled jobs to record their outcome.
pub const JOBS_STOP_WITHIN: std::time::Duration = std::time::Duration::from_secs(8);

impl Server {
    /// Stops within [`STOP_WITHIN`]: no new slot of the schedule, no new connection;
    /// every running job is cancelled and its outcome recorded (`cancelled`, temporary
    /// files removed, child processes killed, their server sessions ended), which also
    /// ends the event streams following them; the connections still open are then
    /// given until the end of the limit to finish.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        let started = tokio::time::Instant::now();
        self._scheduler.take();
        self._test_restores.take();
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let jobs = self.state.engine.jobs();
        let running = jobs.cancel_all();
        if running > 0 {
            tracing::info!("shutting down: cancelling {running} running job(s)");
        }
        if !jobs.stop_all(started + JOBS_STOP_WITHIN).await {
            tracing::warn!(
                "shutting down: a cancelled job did not end within {} s; it is marked interrupted at the next start",
                JOBS_STOP_WITHIN.as_secs()
            );
        }
        match tokio::time::timeout_at(started + STOP_WITHIN, &mut self.join).await {
            Ok(joined) => joined.context("server task")?,
            Err(_) => {
                tracing::warn!("shutting down: closing the connections still open");
                self.join.abort();
            }
        }
        // Throttled sign-in attempts not audited yet are audited now.
        http::auth::flush_throttled(&self.state.db, &self.state.throttle).await;
        Ok(())
    }
}

/// A signed-in user's "check again" runs the readiness checks at most this often.
const READY_CHECK_MIN_SPACING: std::time::Duration = std::time::Duration::from_secs(5);

fn random_token() -> String {
    let mut bytes = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Creates the first administrator from LIFEBOAT_ADMIN_PASSWORD, or returns a one-time
/// setup token when there is no administrator and no bootstrap password.
async fn first_admin(db: &sqlx::SqlitePool, config: &Config) -> anyhow::Result<Option<String>> {
    if users::count(db).await? > 0 {
        return Ok(None);
    }
    let Some(password) = &config.admin_password else {
        return Ok(Some(random_token()));
    };
    let origin = Origin::default().with_actor("bootstrap");
    users::create(db, &origin, &config.admin_user, password.clone())
        .await
        .with_context(|| {
            format!(
                "creating the administrator `{}` from LIFEBOAT_ADMIN_PASSWORD",
                config.admin_user
            )
        })?;
    audit::record(
        db,
        &origin,
        Entry {
            action: audit_action::SETUP_COMPLETED,
            target: Some(&config.admin_user),
            outcome: outcome::SUCCESS,
            details: serde_json::json!({ "method": "LIFEBOAT_ADMIN_PASSWORD" }),
        },
    )
    .await?;
    tracing::info!(
        "created the administrator `{}` from LIFEBOAT_ADMIN_PASSWORD",
        config.admin_user
    );
    Ok(None)
}

/// The database the command-line tools work on, resolved as `serve` resolves it: the
/// configured target, else the demo database `serve` runs in this data directory.
pub fn resolve_target(config: &Config) -> Option<TargetUrl> {
    config.target_url.clone().or_else(|| {
        crate::dev::demo::remembered_url(&config.data_dir)
            .and_then(|url| TargetUrl::parse(&url).ok())
    })
}

/// What the engine is built from, taken from the configuration (the only place that
/// reads it for the engine).
pub fn engine_settings(config: &Config) -> engine::Settings {
    engine::Settings {
        data_dir: config.data_dir.clone(),
        pg_bin_dir: config.pg_bin_dir.clone(),
        compression: config
            .compression
            .clone()
            .unwrap_or(pgtools::compression::FAST_GZIP),
        compression_note: "as set".into(),
        upload_max_bytes: config.upload_max_bytes,
        upload_ttl: config.upload_ttl,
        restore_jobs: config.restore_jobs,
        keep_old_databases: config.keep_old_databases,
        test_restore_every: config.test_restore_every,
        test_restore_after_backup: config.test_restore_after_backup,
        verify_url: config.verify_url.clone(),
        timeouts: config.timeouts,
        alerts: config.alerts.clone(),
        offsite: config.offsite.clone(),
        schedule: config.scheduler.schedule.clone(),
        schedule_off_ok: config.schedule_off_ok,
    }
}

/// Opens the metadata database and builds the engine protecting `target`.
pub async fn open_engine(config: &Config, target: Option<TargetUrl>) -> anyhow::Result<Engine> {
    let mut settings = engine_settings(config);
    (settings.compression, settings.compression_note) = compression(config).await?;
    let db = store::open_with(&config.data_dir, config.db_busy_timeout).await?;
    Ok(Engine::new(db, settings, target))
}

/// LIFEBOAT_COMPRESSION checked against the pg_dump backups will use (the newest found):
/// a method it cannot do stops the start, naming the client. Without the setting, zstd
/// when the client has it, else gzip level 2. Without any pg_dump (the preflight and
/// `/readyz` say so) the setting is taken as it is.
async fn compression(
    config: &Config,
) -> anyhow::Result<(pgtools::compression::Compression, String)> {
    use pgtools::compression::{resolve, FAST_GZIP};
    let set = config.compression.as_ref();
    let pg_dump = match pgtools::find("pg_dump", config.pg_bin_dir.as_deref()).await {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!("cannot check LIFEBOAT_COMPRESSION against pg_dump: {e}");
            let c = set.cloned().unwrap_or(FAST_GZIP);
            let note = match set {
                Some(_) => "set by LIFEBOAT_COMPRESSION (not checked: no pg_dump found)",
                None => "default (no pg_dump found to check for zstd)",
            };
            return Ok((c, note.into()));
        }
    };
    let c = resolve(&pg_dump, set).await.map_err(|e| {
        anyhow::anyhow!(
            "LIFEBOAT_COMPRESSION={}: {e}",
            set.map(|c| c.to_string()).unwrap_or_default()
        )
    })?;
    let note = match (set, c.method) {
        (Some(_), _) => format!(
            "set by LIFEBOAT_COMPRESSION; pg_dump {} supports it",
            pg_dump.version
        ),
        (None, pgtools::compression::Method::Zstd) => {
            format!("default: pg_dump {} supports zstd", pg_dump.version)
        }
        (None, _) => format!(
            "default: pg_dump {} at {} has no zstd, so gzip at its fastest level",
            pg_dump.version,
            pg_dump.path.display()
        ),
    };
    Ok((c, note))
}

/// Starts Lifeboat on `config.addr` (port 0 picks a free port) protecting `target`.
pub async fn start(config: Config, target: Option<TargetUrl>) -> anyhow::Result<Server> {
    let engine = open_engine(&config, target).await?;
    let db = engine.db().clone();
    let session_store = SqliteStore::new(db.clone());
    session_store
        .migrate()
        .await
        .context("creating the session table")?;
    let token = first_admin(&db, &config).await?;
    engine::recovery::recover_at_startup(&engine).await?;
    // A kept database nothing has backed up yet (a crash came first, or its final backup
    // failed) gets its final backup now, in the background.
    let protecting = engine.clone();
    tokio::spawn(async move {
        let origin = Origin::default().with_actor("lifeboat");
        if let Err(e) =
            engine::restore::kept::protect_all(&protecting, protecting.target(), &origin).await
        {
            tracing::warn!("cannot look after the kept databases: {e}");
        }
    });
    engine::upload::sweep(&engine, true).await?;
    engine::upload::spawn_sweeper(engine.clone());
    // Alerts that could not be delivered before (the relay was down, Lifeboat stopped):
    // now, then every 10 minutes.
    engine
        .alerts()
        .spawn_pending_retries(std::time::Duration::from_secs(600));
    engine::scheduler::load_override(&db, engine.schedule()).await?;
    if engine.target().is_some() {
        engine::scheduler::alert_if_off(&engine, "Lifeboat started with scheduled backups off");
    }
    let scheduler = engine::scheduler::spawn(engine.clone(), config.scheduler.clone());
    let test_restores = engine::test_restore::spawn_schedule(engine.clone());

    if !config.site_dir.join("pkg").is_dir() {
        tracing::warn!(
            "the web assets are not at {} (no pkg/ folder): the API works, pages will not load. Build with `make build` or set LIFEBOAT_SITE_DIR",
            config.site_dir.display()
        );
    }

    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .with_context(|| format!("cannot listen on {} (LIFEBOAT_ADDR)", config.addr))?;
    let addr = listener.local_addr()?;
    let mut config = config;
    config.addr = addr;
    let leptos = LeptosOptions::builder()
        .output_name("lifeboat")
        .site_root(config.site_dir.to_string_lossy().to_string())
        .site_pkg_dir("pkg")
        .env(Env::PROD)
        .site_addr(addr)
        .build();
    let config = Arc::new(config);
    // In the fragment, not the query: browsers do not send it, so it reaches no proxy's
    // or server's access log; the page reads it and posts it.
    let setup_url = token
        .as_ref()
        .map(|t| format!("{}/setup#token={t}", config.base_url()));
    let setup_token = token.map(|token| SetupToken {
        token,
        expires: std::time::Instant::now() + config.setup_link_ttl,
    });
    let state = AppState {
        db: db.clone(),
        config: config.clone(),
        engine,
        setup_token: Arc::new(Mutex::new(setup_token)),
        throttle: Arc::new(Throttle::default()),
        readiness: Arc::new(Readiness::new(READY_CHECK_MIN_SPACING)),
        limits: Arc::new(Limits::new(config.serving.clone())),
        leptos,
    };
    http::auth::spawn_throttle_audit(db.clone(), state.throttle.clone());
    http::sessions::spawn_purger(db, config.session_purge_interval);
    // Right away, then every LIFEBOAT_READY_CHECK_INTERVAL: `/readyz` answers from it.
    let readiness_checks =
        http::health::spawn_checks(state.clone(), config.serving.ready_check_interval);

    let app = http::router(state.clone(), session_store);
    let (tx, rx) = oneshot::channel::<()>();
    let serving = config.serving.clone();
    let join = tokio::spawn(async move {
        http::serve::serve(listener, app, &serving, async {
            let _ = rx.await;
        })
        .await
    });
    Ok(Server {
        addr,
        state,
        setup_url,
        shutdown: Some(tx),
        join,
        _scheduler: scheduler.map(AbortOnDrop),
        _test_restores: test_restores.map(AbortOnDrop),
        _readiness_checks: AbortOnDrop(readiness_checks),
    })
}
