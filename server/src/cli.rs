//! The `lifeboat` command line: `serve` (the default) and the automation/recovery
//! subcommands. Each prints human text, or JSON with `--json`.

use crate::config::{Config, Sources};
use crate::dev::demo::DemoDatabase;
use crate::engine::{backup, pruning, recovery, restore, upload, verify, Engine};
use crate::storage::human_bytes;
use crate::store::audit::Origin;
use crate::store::backups::BackupKind;
use crate::target::TargetUrl;
use crate::{startup, store};

mod people;
use clap::{Parser, Subcommand};
pub use people::UserCommand;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "lifeboat",
    version,
    about = "PostgreSQL backups and restores you can watch, trust and audit"
)]
pub struct Cli {
    /// A TOML configuration file (environment variables override it). Also LIFEBOAT_CONFIG.
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the web console (the default).
    Serve,
    /// Back up the target database now (the same job as "Back up now"); exit status 0
    /// only when the backup succeeded and was verified.
    Backup,
    /// Restore the target database from a custom-format dump FILE, or from a stored
    /// backup with --backup ID: validation, a safety backup of the current state, then
    /// (strategy swap) pg_restore into a new database, proof of the row counts and a swap
    /// of names, or (in_place) pg_restore in one transaction over the live database, or
    /// (copy) pg_restore into a new database of another name (the same job as the web
    /// console's).
    Restore {
        /// A `pg_dump -Fc` file.
        #[arg(required_unless_present = "backup", conflicts_with = "backup")]
        file: Option<PathBuf>,
        /// Restore a backup of the history instead of a file.
        #[arg(long, value_name = "ID")]
        backup: Option<i64>,
        /// Do not ask to type the database name (for scripts).
        #[arg(long)]
        yes: bool,
        /// Leave objects owned by the restoring user (pg_restore --no-owner).
        #[arg(long)]
        no_owner: bool,
        /// Skip privileges (pg_restore --no-acl).
        #[arg(long)]
        no_acl: bool,
        /// Restore outside a single transaction (a failure then leaves it half done).
        #[arg(long)]
        no_single_transaction: bool,
        /// Do not end other sessions connected to the database first.
        #[arg(long)]
        keep_sessions: bool,
        /// swap, in_place or copy; by default swap when the role may create databases,
        /// else in_place.
        #[arg(long, value_parser = ["swap", "in_place", "copy"])]
        strategy: Option<String>,
        /// The database a copy is restored into (with --strategy copy).
        #[arg(long, value_name = "NAME")]
        new_database: Option<String>,
    },
    /// Undo a swap restore: swap the database kept before it back in (seconds); the
    /// restored database is kept aside, not dropped.
    Rollback {
        /// The restore to undo.
        restore_id: i64,
    },
    /// The backup history, newest first.
    List {
        /// How many rows.
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Re-check stored backups: hash and full read of the local file, and the offsite
    /// copy's size and hash. Corrupted ones are marked and an alert is sent.
    Verify {
        /// One backup; without it, --all (or --restore) is needed.
        id: Option<i64>,
        /// Every stored backup of the target.
        #[arg(long, conflicts_with = "id")]
        all: bool,
        /// Test-restore backup ID: restore it into a scratch database (on the target's
        /// server, or LIFEBOAT_VERIFY_URL's), prove its row counts, drop it.
        #[arg(long, value_name = "ID", conflicts_with_all = ["id", "all"])]
        restore: Option<i64>,
    },
    /// Apply the retention policy (LIFEBOAT_RETENTION_KEEP, LIFEBOAT_RETENTION_MAX_AGE)
    /// to the target's backups now.
    Prune {
        /// Only say what would be deleted.
        #[arg(long)]
        dry_run: bool,
    },
    /// Manage people: add, list, set-role, disable, enable, delete, reset-password.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage personal API tokens (for automation).
    Token {
        #[command(subcommand)]
        command: crate::cli_tokens::TokenCommand,
    },
}

fn load_config(cli: &Cli) -> Result<Config, ExitCode> {
    let loaded = Sources::from_process(cli.config.as_deref()).and_then(|s| Config::load(&s));
    loaded.map_err(|errors| {
        eprintln!("{errors}");
        ExitCode::from(2)
    })
}

pub async fn run(cli: Cli) -> ExitCode {
    let config = match load_config(&cli) {
        Ok(c) => c,
        Err(code) => return code,
    };
    crate::telemetry::init(&config.log);
    let result = match &cli.command {
        None | Some(Command::Serve) => serve(config).await,
        Some(Command::Backup) => backup(config, cli.json).await,
        Some(Command::Restore {
            file,
            backup,
            yes,
            no_owner,
            no_acl,
            no_single_transaction,
            keep_sessions,
            strategy,
            new_database,
        }) => {
            let options = app::api::RestoreOptions {
                single_transaction: !no_single_transaction,
                no_owner: *no_owner,
                no_acl: *no_acl,
                terminate_sessions: !keep_sessions,
            };
            let how = How {
                strategy: strategy
                    .as_deref()
                    .and_then(app::api::RestoreStrategy::parse),
                new_database: new_database.clone(),
            };
            restore(
                config,
                file.as_deref(),
                *backup,
                *yes,
                options,
                how,
                cli.json,
            )
            .await
        }
        Some(Command::Rollback { restore_id }) => rollback(config, *restore_id, cli.json).await,
        Some(Command::List { limit }) => list(config, *limit, cli.json).await,
        Some(Command::Prune { dry_run }) => prune(config, *dry_run, cli.json).await,
        Some(Command::Verify {
            restore: Some(id), ..
        }) => test_restore(config, *id, cli.json).await,
        Some(Command::Verify { id, all, .. }) => verify(config, *id, *all, cli.json).await,
        Some(Command::User { command }) => people::run(config, command, cli.json).await,
        Some(Command::Token { command }) => crate::cli_tokens::run(config, command, cli.json).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // Already said on standard output (as JSON with --json).
        Err(e) if e.is::<Reported>() => ExitCode::FAILURE,
        Err(e) if e.is::<FollowUpsFailed>() => {
            if cli.json {
                println!("{}", serde_json::json!({ "error": format!("{e:#}") }));
            } else {
                eprintln!("error: {e:#}");
            }
            ExitCode::from(FOLLOW_UPS_FAILED)
        }
        Err(e) => {
            if cli.json {
                println!("{}", serde_json::json!({ "error": format!("{e:#}") }));
            } else {
                eprintln!("error: {e:#}");
            }
            ExitCode::FAILURE
        }
    }
}

async fn backup(config: Config, json: bool) -> anyhow::Result<()> {
    use app::api::job_status;
    let Some(target) = startup::resolve_target(&config) else {
        anyhow::bail!("no database to back up: set LIFEBOAT_TARGET_URL (postgres://USER:PASSWORD@HOST:PORT/DATABASE)");
    };
    let engine = startup::open_engine(&config, Some(target)).await?;
    recovery::recover_at_startup(&engine).await?;
    let started = backup::start(&engine, engine.target(), BackupKind::Manual, &Origin::cli()).await;
    let (started, task) = match started {
        Ok(s) => s,
        Err(backup::StartError::InvalidConfiguration { job, message }) => {
            if json {
                println!("{}", serde_json::to_string(&job)?);
            }
            anyhow::bail!("invalid configuration: {message}");
        }
        Err(e) => return Err(e.into()),
    };
    let job = follow(&engine, started.job_id, task, json).await?;
    let followed_up = finish_followups(&engine, json).await;
    if json {
        println!("{}", serde_json::to_string(&job)?);
    } else if job.status == job_status::SUCCEEDED {
        println!(
            "backup {} succeeded: {} ({} bytes, sha256 {})",
            job.backup_id.unwrap_or_default(),
            job.location.clone().unwrap_or_default(),
            job.size_bytes.unwrap_or_default(),
            job.sha256.clone().unwrap_or_default()
        );
    }
    if job.status == job_status::SUCCEEDED {
        followed_up
    } else {
        anyhow::bail!("backup {}: {}", job.status, job.message.unwrap_or_default())
    }
}

/// Exit status of a command whose job succeeded while its follow-up work (the offsite
/// copy, an alert) failed.
const FOLLOW_UPS_FAILED: u8 = 3;

/// The follow-up work that failed after a command's job (see [`finish_followups`]).
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.join("; "))]
struct FollowUpsFailed(Vec<String>);

/// Waits for the work the command's job left running (the offsite copy of a new backup,
/// alert deliveries), its progress on standard error at most once a second; an error
/// lists what failed.
async fn finish_followups(engine: &Engine, json: bool) -> anyhow::Result<()> {
    let followups = engine.followups();
    let mut last: Option<std::time::Instant> = None;
    let failures = followups
        .wait(|text| {
            let due = last.is_none_or(|t| t.elapsed() >= std::time::Duration::from_secs(1));
            if !json && due {
                eprintln!("{text}");
                last = Some(std::time::Instant::now());
            }
        })
        .await;
    if failures.is_empty() {
        Ok(())
    } else {
        Err(FollowUpsFailed(failures).into())
    }
}

/// Follows a job to its end: a progress bar on a terminal, phase names otherwise; Ctrl+C
/// (or SIGTERM) cancels it.
async fn follow(
    engine: &Engine,
    job_id: i64,
    mut task: tokio::task::JoinHandle<app::api::Job>,
    json: bool,
) -> anyhow::Result<app::api::Job> {
    use std::io::IsTerminal;
    let tty = !json && std::io::stderr().is_terminal();
    // A bar on a terminal (indicatif draws on stderr and hides itself elsewhere); the
    // phase names, one per line, when stderr is a file or a pipe.
    let bar = tty.then(|| {
        let bar = indicatif::ProgressBar::new(1000);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{prefix:<13} [{bar:30}] {percent:>3}%  {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("#> "),
        );
        bar
    });
    let mut progress = engine.jobs().subscribe(job_id);
    let mut last_phase = String::new();
    let interrupt = shutdown_signal();
    tokio::pin!(interrupt);
    let mut cancelled = false;
    let job = loop {
        tokio::select! {
            done = &mut task => break done?,
            _ = &mut interrupt, if !cancelled => {
                cancelled = true;
                match &bar {
                    Some(bar) => bar.println("cancelling…"),
                    None => eprintln!("cancelling…"),
                }
                engine.jobs().cancel(job_id);
            }
            _ = tokio::time::sleep(std::time::Duration::from_millis(200)) => {
                let Some(rx) = progress.as_mut() else { continue };
                let j = rx.borrow_and_update().clone();
                if let Some(bar) = &bar {
                    bar.set_prefix(j.phase.clone());
                    bar.set_position((j.percent.clamp(0.0, 100.0) * 10.0) as u64);
                    bar.set_message(j.current_item.unwrap_or_default());
                } else if !json && j.phase != last_phase {
                    eprintln!("{}…", j.phase);
                }
                last_phase = j.phase;
            }
        }
    };
    if let Some(bar) = bar {
        bar.finish();
    }
    Ok(job)
}

/// How a restore is carried out (`--strategy`, `--new-database`).
struct How {
    strategy: Option<app::api::RestoreStrategy>,
    new_database: Option<String>,
}

async fn restore(
    config: Config,
    file: Option<&std::path::Path>,
    backup_id: Option<i64>,
    yes: bool,
    options: app::api::RestoreOptions,
    how: How,
    json: bool,
) -> anyhow::Result<()> {
    use app::api::{job_status, RestoreRequest, RestoreStart};
    use std::io::IsTerminal;
    let Some(target) = startup::resolve_target(&config) else {
        anyhow::bail!("no database to restore into: set LIFEBOAT_TARGET_URL (postgres://USER:PASSWORD@HOST:PORT/DATABASE)");
    };
    let database = target.database();
    let engine = startup::open_engine(&config, Some(target)).await?;
    recovery::recover_at_startup(&engine).await?;
    let origin = Origin::cli();
    // A file goes through exactly the validation of an upload (and is journaled as one).
    let upload_id = match file {
        None => None,
        Some(path) => {
            let f = tokio::fs::File::open(path)
                .await
                .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", path.display()))?;
            let len = f.metadata().await?.len();
            let stream = tokio_util::io::ReaderStream::with_capacity(f, 1 << 20);
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_else(|| "dump".into());
            if !json {
                eprintln!("validating {}…", path.display());
            }
            let up = upload::receive(&engine, engine.target(), &origin, &name, Some(len), stream)
                .await
                .map_err(|e| anyhow::anyhow!("{} refused: {e}", path.display()))?;
            if !json {
                let s = &up.summary;
                eprintln!(
                    "  {} from database {} (PostgreSQL {}), archive {}: {} tables, {} indexes, {} functions, {} other objects",
                    up.file_name,
                    s.source_database.as_deref().unwrap_or("?"),
                    s.server_version.as_deref().unwrap_or("?"),
                    s.archive_version,
                    s.tables,
                    s.indexes,
                    s.functions,
                    s.other
                );
                for note in &s.compatibility {
                    eprintln!("  {note}");
                }
            }
            Some(up.upload_id)
        }
    };
    let confirmed = how.new_database.clone().unwrap_or_else(|| database.clone());
    let confirm = if yes {
        confirmed
    } else {
        if !std::io::stdin().is_terminal() {
            anyhow::bail!("restoring replaces the contents of {confirmed}: pass --yes, or run it in a terminal to confirm by typing the name");
        }
        if how.new_database.is_some() {
            eprintln!("This creates the database {confirmed} and restores into it.");
        } else {
            eprintln!("This replaces the contents of the database {database} (a safety backup is taken first).");
        }
        eprint!("Type the database name to confirm: ");
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        line.trim_end_matches(['\n', '\r']).to_string()
    };
    let req = RestoreStart {
        request: RestoreRequest {
            upload_id,
            backup_id,
            confirm,
            options,
        },
        strategy: how.strategy,
        new_database: how.new_database,
    };
    let (started, task) = restore::start(&engine, engine.target(), &origin, &req).await?;
    if !json {
        eprintln!(
            "strategy: {} ({})",
            started.strategy.as_deref().unwrap_or("?"),
            started.strategy_reason.as_deref().unwrap_or("")
        );
    }
    let job = follow(&engine, started.job_id, task, json).await?;
    let followed_up = finish_followups(&engine, json).await;
    let restore = store::restores::get(engine.db(), started.restore_id).await?;
    if json {
        println!("{}", serde_json::json!({ "job": job, "restore": restore }));
    } else {
        if let Some(r) = &restore {
            if job.status != job_status::SUCCEEDED {
                if let Some(out) = &r.tool_output {
                    eprintln!("{out}");
                }
            }
            if r.kept_database.is_some() {
                eprintln!("roll back in seconds with `lifeboat rollback {}`", r.id);
            }
            if let Some(id) = r.safety_backup_id {
                eprintln!(
                    "safety backup: {id} (or restore it with `lifeboat restore --backup {id}`)"
                );
            }
        }
        if job.status == job_status::SUCCEEDED {
            println!("{}", job.message.clone().unwrap_or_default());
        }
    }
    if job.status == job_status::SUCCEEDED {
        followed_up
    } else {
        anyhow::bail!(
            "restore {}: {}",
            job.status,
            job.message.unwrap_or_default()
        )
    }
}

async fn rollback(config: Config, restore_id: i64, json: bool) -> anyhow::Result<()> {
    use app::api::job_status;
    let Some(target) = startup::resolve_target(&config) else {
        anyhow::bail!("no database to roll back: set LIFEBOAT_TARGET_URL (postgres://USER:PASSWORD@HOST:PORT/DATABASE)");
    };
    let engine = startup::open_engine(&config, Some(target)).await?;
    recovery::recover_at_startup(&engine).await?;
    let (started, task) =
        restore::rollback::start(&engine, engine.target(), &Origin::cli(), restore_id).await?;
    let job = follow(&engine, started.job_id, task, json).await?;
    let followed_up = finish_followups(&engine, json).await;
    let restore = store::restores::get(engine.db(), restore_id).await?;
    if json {
        println!("{}", serde_json::json!({ "job": job, "restore": restore }));
    } else if job.status == job_status::SUCCEEDED {
        println!("{}", job.message.clone().unwrap_or_default());
    }
    if job.status == job_status::SUCCEEDED {
        followed_up
    } else {
        anyhow::bail!(
            "roll back {}: {}",
            job.status,
            job.message.unwrap_or_default()
        )
    }
}

async fn list(config: Config, limit: i64, json: bool) -> anyhow::Result<()> {
    let db = store::open_with(&config.data_dir, config.db_busy_timeout).await?;
    let page = store::backups::list(&db, limit, 0).await?;
    if json {
        println!("{}", serde_json::to_string(&page)?);
        return Ok(());
    }
    println!(
        "{:>5}  {:<20}  {:<9}  {:<11}  {:>10}  {:<1}  FILE",
        "ID", "FINISHED (UTC)", "KIND", "STATUS", "SIZE", "P"
    );
    for b in &page.items {
        println!(
            "{:>5}  {:<20}  {:<9}  {:<11}  {:>10}  {:<1}  {}",
            b.id,
            b.finished_at
                .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                .unwrap_or_else(|| "-".into()),
            b.kind,
            b.status,
            b.size_bytes
                .map(|s| human_bytes(s as u64))
                .unwrap_or_default(),
            if b.pinned { "*" } else { "" },
            b.file_name.clone().unwrap_or_default()
        );
    }
    println!("{} of {} shown (* = pinned)", page.items.len(), page.total);
    Ok(())
}

async fn test_restore(config: Config, id: i64, json: bool) -> anyhow::Result<()> {
    let engine = startup::open_engine(&config, startup::resolve_target(&config)).await?;
    let (started, task) =
        crate::engine::test_restore::start(&engine, Some(id), &Origin::cli()).await?;
    if !json {
        eprintln!(
            "test restore {} of backup {id} started",
            started.test_restore_id
        );
    }
    task.await?;
    let t = store::test_restores::get(engine.db(), started.test_restore_id)
        .await?
        .ok_or_else(|| {
            anyhow::anyhow!(
                "test restore {} is not in the journal",
                started.test_restore_id
            )
        })?;
    let ok = t.status == "succeeded";
    let followed_up = finish_followups(&engine, json).await;
    if json {
        println!("{}", serde_json::to_string(&t)?);
    } else {
        println!(
            "backup {id}: {} — {}",
            if ok { "RESTORABLE" } else { "NOT PROVEN" },
            t.message.clone().unwrap_or_default()
        );
    }
    if !ok {
        return Err(Reported.into());
    }
    followed_up
}

async fn verify(config: Config, id: Option<i64>, all: bool, json: bool) -> anyhow::Result<()> {
    if id.is_none() && !all {
        anyhow::bail!("say which backup: `lifeboat verify ID`, `lifeboat verify --all`, or `lifeboat verify --restore ID`");
    }
    let engine = startup::open_engine(&config, startup::resolve_target(&config)).await?;
    let ids: Vec<i64> = match id {
        Some(id) => vec![id],
        None => store::backups::succeeded_ids(engine.db()).await?,
    };
    let mut bad = 0;
    let mut results = vec![];
    for id in ids {
        let r = verify::backup(&engine, id, &Origin::cli()).await?;
        if !r.ok {
            bad += 1;
        }
        if !json {
            println!(
                "backup {id}: {} — {}",
                if r.ok { "OK" } else { "CORRUPTED" },
                r.checks.join("; ")
            );
        }
        results.push(r);
    }
    let followed_up = finish_followups(&engine, json).await;
    if json {
        println!(
            "{}",
            serde_json::json!({ "results": results, "failed": bad })
        );
    } else {
        println!("{} backup(s) verified, {bad} failed", results.len());
    }
    if bad > 0 {
        return Err(Reported.into());
    }
    followed_up
}

/// A failure the command already reported in its output.
#[derive(Debug, thiserror::Error)]
#[error("reported")]
struct Reported;

async fn prune(config: Config, dry_run: bool, json: bool) -> anyhow::Result<()> {
    let Some(target) = startup::resolve_target(&config) else {
        anyhow::bail!(
            "no target database: set LIFEBOAT_TARGET_URL (retention applies to its backups)"
        );
    };
    let engine = startup::open_engine(&config, Some(target)).await?;
    let policy = config.scheduler.retention.clone();
    let deleted =
        pruning::prune(&engine, engine.target(), &policy, &Origin::cli(), dry_run).await?;
    if json {
        println!(
            "{}",
            serde_json::json!({ "dry_run": dry_run, "deleted": deleted })
        );
        return Ok(());
    }
    let verb = if dry_run { "would delete" } else { "deleted" };
    for d in &deleted {
        println!(
            "{verb} backup {} {} ({}): {}",
            d.id,
            d.file_name.clone().unwrap_or_default(),
            d.size_bytes
                .map(|s| human_bytes(s as u64))
                .unwrap_or_default(),
            d.reason
        );
    }
    println!(
        "{} backup(s) {verb} (policy: keep the last {}{})",
        deleted.len(),
        policy.keep_last,
        policy
            .max_age
            .map(|a| format!(", at most {} s old", a.as_secs()))
            .unwrap_or_default()
    );
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

async fn serve(config: Config) -> anyhow::Result<()> {
    crate::storage::private::warn_if_exposed(&config.data_dir);
    let (target, demo) = match &config.target_url {
        Some(t) => (t.clone(), None),
        None => {
            tracing::info!(
                "no LIFEBOAT_TARGET_URL configured: starting the demo PostgreSQL in {}",
                config.data_dir.join("demo-postgres").display()
            );
            let demo = DemoDatabase::start(&config.data_dir).await?;
            let url = TargetUrl::parse(demo.url())
                .map_err(|e| anyhow::anyhow!("demo database URL: {e}"))?;
            (url, Some(demo))
        }
    };
    tracing::info!("protecting {target}");
    let started = startup::start(config, Some(target)).await;
    let server = match started {
        Ok(s) => s,
        Err(e) => {
            if let Some(demo) = demo {
                let _ = demo.stop().await;
            }
            return Err(e);
        }
    };
    let url = server.state.config.base_url();
    eprintln!("Lifeboat is listening on {url}");
    if let Some(link) = &server.setup_url {
        eprintln!();
        eprintln!("  No administrator exists yet. Create the first one with this one-time link:");
        eprintln!("    {link}");
        eprintln!(
            "  It works for {}; after that, restart Lifeboat for a new one.",
            humantime::format_duration(server.state.config.setup_link_ttl)
        );
        eprintln!();
    }
    shutdown_signal().await;
    tracing::info!("shutting down");
    let stopped = server.stop().await;
    if let Some(demo) = demo {
        tracing::info!("stopping the demo PostgreSQL");
        demo.stop().await?;
    }
    stopped
}
