//! Recovering from a process that died mid-job: its jobs become `interrupted`, their
//! backups and restores are journaled as such and audited, and leftover temporary files
//! are removed — for every database no live process holds the lock of.

use super::Engine;
use crate::databases;
use crate::storage;
use crate::store::audit::{self, Entry, Origin};
use crate::store::jobs::{self as rows, JobKind, JobStatus};
use crate::store::restores::Swap;
use crate::store::{backups, restores, test_restores};
use crate::target::TargetUrl;
use app::api::{audit_action, outcome};
use sqlx::SqlitePool;
use std::path::PathBuf;
use tokio_postgres::Client;

/// At start-up: interrupted jobs of every unlocked database are journaled and audited,
/// and leftover temporary files removed.
pub async fn recover_at_startup(engine: &Engine) -> anyhow::Result<usize> {
    let data_dir = engine.data_dir.clone();
    let lock_free =
        move |db: &str| matches!(storage::try_lock_database(&data_dir, db), Ok(Some(_)));
    // First the swaps of names a crash cut in two: the live database back in service.
    if let Some(target) = engine.target.as_ref() {
        if let Err(e) = recover_swaps(engine, target, &lock_free).await {
            tracing::error!("cannot finish an interrupted swap of databases: {e:#}");
        }
    }
    let n = recover_interrupted(engine, &lock_free).await?;
    for p in storage::remove_leftover_temp_files(&engine.data_dir, |component| {
        matches!(
            storage::try_lock_database(&engine.data_dir, component),
            Ok(Some(_))
        )
    }) {
        tracing::info!("removed leftover temporary file {}", p.display());
    }
    Ok(n)
}

/// Journals and audits the interrupted jobs of the databases `is_dead` accepts.
pub async fn recover_interrupted(
    engine: &Engine,
    is_dead: impl Fn(&str) -> bool,
) -> anyhow::Result<usize> {
    // First the complete files whose end was never journaled: their rows become
    // succeeded (and their jobs too), so they are not swept as interrupted.
    for id in super::adopt::adopt_stored(engine, &is_dead).await? {
        tracing::info!("adopted backup {id}, stored but not recorded before");
    }
    let interrupted = sweep_interrupted(&engine.db, is_dead).await?;
    for i in &interrupted {
        let restore = i.kind == JobKind::Restore;
        if i.kind == JobKind::TestRestore {
            clean_up_test_restore(engine, i.job_id).await?;
            continue;
        }
        let message = if restore {
            "interrupted: Lifeboat stopped while this restore was running; with a single transaction PostgreSQL rolled it back, otherwise roll back with its safety backup"
        } else {
            "interrupted: Lifeboat stopped while this backup was running; its temporary file was removed"
        };
        if let Some(bid) = i.backup_id {
            backups::mark_interrupted(&engine.db, bid, message).await?;
            alert_if_scheduled(engine, bid).await?;
        }
        if restore {
            restores::mark_interrupted(&engine.db, i.job_id, message).await?;
            clean_up_restore(engine, i.job_id).await?;
        }
        let origin = Origin {
            actor: i.actor.clone(),
            ..Origin::default()
        };
        audit::record(
            &engine.db,
            &origin,
            Entry {
                action: if restore {
                    audit_action::RESTORE
                } else {
                    audit_action::BACKUP
                },
                target: Some(&i.database),
                outcome: outcome::FAILURE,
                details: serde_json::json!({
                    "backup_id": i.backup_id,
                    "job_id": i.job_id,
                    "status": JobStatus::Interrupted.as_str(),
                    "message": message,
                }),
            },
        )
        .await?;
    }
    if !interrupted.is_empty() {
        tracing::warn!(
            "{} job(s) were interrupted by the last shutdown",
            interrupted.len()
        );
    }
    Ok(interrupted.len())
}

/// A scheduled backup cut short by a stop is not run again by itself (its slot is caught
/// up once at the next start when catch-up is on): it is alerted, never silent.
async fn alert_if_scheduled(engine: &Engine, backup_id: i64) -> anyhow::Result<()> {
    let Some(b) = backups::get(&engine.db, backup_id).await? else {
        return Ok(());
    };
    if b.kind != backups::BackupKind::Scheduled {
        return Ok(());
    }
    engine.alerts.send(crate::alerts::Alert {
        event: crate::alerts::event::BACKUP_INTERRUPTED,
        database: Some(b.database.clone()),
        title: format!("Scheduled backup {} of {} was interrupted", b.id, b.database),
        text: format!(
            "Lifeboat stopped while the scheduled backup {} of {} (started {}) was running. Its slot is caught up once at this start when LIFEBOAT_SCHEDULE_CATCH_UP is on; otherwise the next slot runs as planned.",
            b.id, b.database, b.started_at
        ),
    });
    Ok(())
}

/// An interrupted test restore: journaled as such, its scratch database dropped (on the
/// server it went to).
async fn clean_up_test_restore(engine: &Engine, job_id: i64) -> anyhow::Result<()> {
    let message = "interrupted: Lifeboat stopped while this test restore was running";
    test_restores::mark_interrupted(&engine.db, job_id, message).await?;
    let scratch = test_restores::scratch_of_job(&engine.db, job_id).await?;
    let server = engine.verify_url.as_ref().or(engine.target.as_ref());
    if let (Some(scratch), Some(server)) = (scratch, server) {
        let dropped = match databases::maintenance(server).await {
            Ok(client) => databases::drop_database(&client, &scratch).await,
            Err(e) => Err(e),
        };
        match dropped {
            Ok(()) => tracing::info!("dropped {scratch}, left by an interrupted test restore"),
            Err(e) => tracing::warn!("{scratch}, left by an interrupted test restore: {e}"),
        }
    }
    Ok(())
}

/// What an interrupted restore left on the database server: the rights to connect an
/// in-place restore took away are given back, a new database never swapped in is dropped.
async fn clean_up_restore(engine: &Engine, job_id: i64) -> anyhow::Result<()> {
    let Some(left) = restores::leftovers(&engine.db, job_id).await? else {
        return Ok(());
    };
    let Some(target) = engine
        .target
        .as_ref()
        .filter(|t| t.database() == left.database)
    else {
        return Ok(());
    };
    if !left.gate.is_empty() {
        let gate = crate::databases::Gate { grants: left.gate };
        match crate::databases::let_in(target, &gate).await {
            Ok(()) => {
                restores::set_gate(&engine.db, left.id, None).await?;
                tracing::info!(
                    "gave the right to connect to {} back after restore {}",
                    left.database,
                    left.id
                );
            }
            Err(e) => tracing::error!(
                "restore {} kept the application out of {} and it cannot be let back in: {e}",
                left.id,
                left.database
            ),
        }
    }
    if let Some(new) = left.new_database {
        let dropped = match crate::databases::maintenance(target).await {
            Ok(client) => crate::databases::drop_database(&client, &new).await,
            Err(e) => Err(e),
        };
        match dropped {
            Ok(()) => tracing::info!("dropped {new}, left by the interrupted restore {}", left.id),
            Err(e) => tracing::warn!("{new}, left by the interrupted restore {}: {e}", left.id),
        }
    }
    Ok(())
}

/// What recovery found for one interrupted swap.
#[derive(Debug, PartialEq, Eq)]
pub enum Recovered {
    /// Nothing had been renamed: the live database accepts connections again.
    NotStarted,
    /// The live database had been set aside: it has its name back.
    Undone,
    /// Both renames were done: recorded as the job would have.
    Completed,
}

/// Finishes the swaps of database names a crash interrupted on the target's server (see
/// `restore::swapping`), for the live databases `is_dead` says no running process holds.
/// What the server holds says how far each got:
///
/// | live name | aside name | what happened                | what is done                  |
/// |-----------|------------|------------------------------|-------------------------------|
/// | present   | absent     | nothing renamed yet          | connections allowed again     |
/// | absent    | present    | live set aside, nothing in   | set-aside database named back |
/// | present   | present    | both renames done            | recorded as done              |
///
/// In every case the live name ends up accepting connections. Returns what became of each.
pub async fn recover_swaps(
    engine: &Engine,
    target: &TargetUrl,
    is_dead: impl Fn(&str) -> bool,
) -> anyhow::Result<Vec<(Swap, Recovered)>> {
    let mut out = vec![];
    for s in restores::unfinished_swaps(&engine.db).await? {
        if s.live != target.database() || !is_dead(&s.live) {
            continue;
        }
        let maintenance = databases::maintenance(target)
            .await
            .map_err(anyhow::Error::msg)?;
        let recovered = recover_one(&maintenance, &s)
            .await
            .map_err(anyhow::Error::msg)?;
        if recovered == Recovered::Completed {
            restores::swap_completed(&engine.db, &s).await?;
        }
        restores::swap_ended(&engine.db, s.id).await?;
        tracing::warn!(
            "the swap of {} into {} (restore {}) was interrupted: {recovered:?}",
            s.incoming,
            s.live,
            s.restore_id
        );
        out.push((s, recovered));
    }
    Ok(out)
}

async fn recover_one(client: &Client, s: &Swap) -> Result<Recovered, String> {
    let live = databases::exists(client, &s.live).await?;
    let aside = databases::exists(client, &s.aside).await?;
    let recovered = match (live, aside) {
        (true, false) => Recovered::NotStarted,
        (false, true) => {
            databases::rename(client, &s.aside, &s.live).await?;
            Recovered::Undone
        }
        (true, true) => Recovered::Completed,
        (false, false) => {
            return Err(format!(
                "neither {} nor {} exists on the server: look for the database by hand (SELECT datname FROM pg_database)",
                s.live, s.aside
            ))
        }
    };
    databases::allow_connections(client, &s.live, true).await?;
    Ok(recovered)
}

/// Removes a temporary file, saying so in the log. It is emptied first: a child process
/// that still has it open (a `pg_restore` reading a dump being killed) would otherwise
/// keep its blocks taken until it exits, and on a full disk the journal write that
/// follows needs them.
pub fn remove_quietly(p: &std::path::Path) {
    if let Ok(f) = std::fs::OpenOptions::new().write(true).open(p) {
        let _ = f.set_len(0);
    }
    match std::fs::remove_file(p) {
        Ok(()) => tracing::info!("removed temporary file {}", p.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!("could not remove temporary file {}: {e}", p.display()),
    }
}

/// A job found `running` at start-up, now marked interrupted.
pub struct Interrupted {
    pub job_id: i64,
    pub kind: JobKind,
    pub backup_id: Option<i64>,
    pub database: String,
    pub actor: Option<String>,
}

/// Jobs left `running` by a process that died become `interrupted`, with their temporary
/// files removed. `is_dead(database)` says whether nothing can still be running jobs for
/// that database (its lock is free, or held by the caller). Returns the jobs so their
/// backups can be journaled and audited.
pub async fn sweep_interrupted(
    db: &SqlitePool,
    is_dead: impl Fn(&str) -> bool,
) -> sqlx::Result<Vec<Interrupted>> {
    let mut out = vec![];
    for row in rows::left_running(db).await? {
        if !is_dead(&row.database) {
            continue;
        }
        // Only a row still running changes: one that ended meanwhile keeps its outcome.
        if !rows::mark_interrupted(db, row.id).await? {
            continue;
        }
        if let Some(p) = row.temp_path {
            remove_quietly(&PathBuf::from(p));
        }
        out.push(Interrupted {
            job_id: row.id,
            kind: row.kind,
            backup_id: row.backup_id,
            database: row.database,
            actor: row.actor,
        });
    }
    Ok(out)
}
