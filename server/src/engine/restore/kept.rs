//! The databases swap restores (and their roll backs) keep aside on the database server.
//!
//! Each one gets a **final backup** as soon as it is set aside: a backup of kind `safety`,
//! pinned, journaled under the kept database's own name, so that its exact last state is
//! on the backup volume too. Kept databases are listed, dropped by hand, and dropped once
//! older than the keep period — never while they are the only copy of their state, that
//! is, before their final backup has succeeded (a failed one is taken again).

use super::RestoreError;
use crate::databases::{self, KeptDatabase as Found};
use crate::engine::backup::{self, StartError};
use crate::engine::{run, Engine};
use crate::store::audit::{self, Entry, Origin};
use crate::store::backups::{self, BackupKind, BackupStatus};
use crate::store::restores as journal;
use crate::target::TargetUrl;
use app::api::{audit_action, outcome, KeptDatabase, StartedJob};
use chrono::Utc;

fn no_target() -> RestoreError {
    RestoreError::Refused(
        "No target database is configured (set LIFEBOAT_TARGET_URL): no database is kept aside."
            .into(),
    )
}

fn internal(e: String) -> RestoreError {
    RestoreError::Internal(anyhow::anyhow!(e))
}

/// Where the final backup of `name` stands: its newest successful attempt if there is
/// one, else its newest attempt.
async fn final_backup_of(engine: &Engine, name: &str) -> sqlx::Result<Option<backups::Backup>> {
    match backups::last_success(&engine.db, name).await? {
        Some(b) => Ok(Some(b)),
        None => backups::newest(&engine.db, name).await,
    }
}

/// Why `name` may not be dropped yet, given its final backup; `None` when it may.
fn drop_refusal(name: &str, last: Option<&backups::Backup>) -> Option<String> {
    let Some(b) = last else {
        return Some(format!(
            "{name} is the only copy of its state: its final backup has not been taken yet"
        ));
    };
    match b.status {
        BackupStatus::Succeeded => None,
        BackupStatus::Running => Some(format!(
            "{name} is the only copy of its state until its final backup (backup {}, running now) has succeeded",
            b.id
        )),
        other => Some(format!(
            "{name} is the only copy of its state: its final backup (backup {}) {}{}; take it again first",
            b.id,
            other.as_str(),
            b.message
                .as_deref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default()
        )),
    }
}

/// The kept databases Lifeboat set aside for the target database.
async fn found(target: &TargetUrl) -> Result<Vec<Found>, RestoreError> {
    let maintenance = databases::maintenance(target).await.map_err(internal)?;
    databases::kept(&maintenance, &target.database())
        .await
        .map_err(internal)
}

/// The databases kept aside for the target database, with the restore each belongs to
/// and its final backup.
pub async fn kept_databases(
    engine: &Engine,
    target: Option<&TargetUrl>,
) -> Result<Vec<KeptDatabase>, RestoreError> {
    let Some(target) = target else {
        return Ok(vec![]);
    };
    let keep = chrono::Duration::from_std(engine.keep_old_databases).unwrap_or_default();
    let now = Utc::now();
    let mut out = vec![];
    for k in found(target).await? {
        let restore = journal::by_kept_database(&engine.db, &k.name).await?;
        let last = final_backup_of(engine, &k.name).await?;
        out.push(KeptDatabase {
            role: k.kind.as_str().into(),
            restore_id: restore.map(|r| r.id),
            created_at: Some(k.at),
            age_seconds: Some((now - k.at).num_seconds()),
            drop_after: Some(k.at + keep),
            size_bytes: k.size_bytes,
            final_backup_id: last.as_ref().map(|b| b.id),
            final_backup_status: last.as_ref().map(|b| b.status.as_str().into()),
            drop_refusal: drop_refusal(&k.name, last.as_ref()),
            name: k.name,
        });
    }
    Ok(out)
}

/// Starts the final backup of kept database `name` (one Lifeboat kept for the target).
/// A kept database refuses connections; they are allowed for the dump's time — nothing
/// but Lifeboat uses that name, the application connects to the live one — and refused
/// again when it ends.
pub async fn final_backup(
    engine: &Engine,
    target: Option<&TargetUrl>,
    origin: &Origin,
    name: &str,
) -> Result<StartedJob, RestoreError> {
    let target = target.ok_or_else(no_target)?;
    if !found(target).await?.iter().any(|k| k.name == name) {
        return Err(RestoreError::NotFound(format!(
            "There is no database {name} kept aside for {}.",
            target.database()
        )));
    }
    let maintenance = databases::maintenance(target).await.map_err(internal)?;
    databases::allow_connections(&maintenance, name, true)
        .await
        .map_err(internal)?;
    let refuse_again = |maintenance: tokio_postgres::Client, name: String| async move {
        // After a roll back swapped it in, nothing has this name any more: nothing to do.
        if databases::exists(&maintenance, &name).await == Ok(true) {
            if let Err(e) = databases::allow_connections(&maintenance, &name, false).await {
                tracing::warn!("{e}");
            }
        }
    };
    let started = backup::start(
        engine,
        Some(&target.with_database(name)),
        BackupKind::Safety,
        origin,
    )
    .await;
    match started {
        Ok((job, task)) => {
            let name = name.to_string();
            tokio::spawn(async move {
                let _ = task.await;
                refuse_again(maintenance, name).await;
            });
            Ok(job)
        }
        Err(e) => {
            refuse_again(maintenance, name.to_string()).await;
            Err(match e {
                StartError::Busy(b) => RestoreError::Busy(b),
                StartError::InvalidConfiguration { message, .. } => RestoreError::Refused(format!(
                    "The final backup of {name} cannot start: {message}"
                )),
                StartError::Internal(e) => RestoreError::Internal(e),
            })
        }
    }
}

/// Starts the final backup of a database just set aside; a failure is logged (the kept
/// database then shows it, is not dropped, and the backup is taken again later).
pub async fn start_final_backup(engine: &Engine, target: &TargetUrl, origin: &Origin, name: &str) {
    match final_backup(engine, Some(target), origin, name).await {
        Ok(job) => tracing::info!(job = job.job_id, "final backup of {name} started"),
        Err(e) => tracing::warn!("the final backup of {name} did not start: {e}"),
    }
}

/// Drops one kept database (only one Lifeboat kept for the target, and only once its
/// final backup has succeeded), audited.
pub async fn drop_kept(
    engine: &Engine,
    target: Option<&TargetUrl>,
    origin: &Origin,
    name: &str,
    reason: &str,
) -> Result<(), RestoreError> {
    let target = target.ok_or_else(no_target)?;
    let database = target.database();
    let Some(k) = found(target).await?.into_iter().find(|k| k.name == name) else {
        return Err(RestoreError::NotFound(format!(
            "There is no database {name} kept aside for {database}."
        )));
    };
    if let Some(why) = drop_refusal(name, final_backup_of(engine, name).await?.as_ref()) {
        return Err(RestoreError::Refused(format!(
            "{name} was not dropped: {why}."
        )));
    }
    // Neither while a restore or roll back of the target runs, nor during a backup of it.
    let _lock = run::lock(engine, &database).await?;
    let _own = run::lock(engine, name).await?;
    let maintenance = databases::maintenance(target).await.map_err(internal)?;
    let dropped = databases::drop_database(&maintenance, name).await;
    audit::record(
        &engine.db,
        origin,
        Entry {
            action: audit_action::KEPT_DATABASE_DROP,
            target: Some(&database),
            outcome: if dropped.is_ok() {
                outcome::SUCCESS
            } else {
                outcome::FAILURE
            },
            details: serde_json::json!({
                "database": name,
                "size_bytes": k.size_bytes,
                "kept_as": k.kind.as_str(),
                "reason": reason,
                "error": dropped.as_ref().err(),
            }),
        },
    )
    .await?;
    dropped.map_err(internal)
}

/// Starts the final backup of every kept database that is the only copy of its state and
/// is not being backed up now (its last attempt failed, or a crash came first). Returns
/// how many were started.
pub async fn protect_all(
    engine: &Engine,
    target: Option<&TargetUrl>,
    origin: &Origin,
) -> Result<usize, RestoreError> {
    let Some(target) = target else { return Ok(0) };
    let mut started = 0;
    for k in kept_databases(engine, Some(target)).await? {
        let running = k.final_backup_status.as_deref() == Some(BackupStatus::Running.as_str());
        if k.drop_refusal.is_some() && !running {
            start_final_backup(engine, target, origin, &k.name).await;
            started += 1;
        }
    }
    Ok(started)
}

/// Drops the kept databases older than the keep period (`LIFEBOAT_KEEP_OLD_DATABASES`)
/// whose final backup has succeeded, and takes the final backup again of those whose
/// last attempt failed. Returns the names dropped.
pub async fn prune_kept(
    engine: &Engine,
    target: Option<&TargetUrl>,
    origin: &Origin,
) -> Result<Vec<String>, RestoreError> {
    protect_all(engine, target, origin).await?;
    let mut dropped = vec![];
    for k in kept_databases(engine, target).await? {
        if k.drop_refusal.is_some() {
            continue;
        }
        if k.drop_after.is_some_and(|at| at <= Utc::now()) {
            drop_kept(
                engine,
                target,
                origin,
                &k.name,
                "older than the keep period",
            )
            .await?;
            dropped.push(k.name);
        }
    }
    Ok(dropped)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backup(status: BackupStatus, message: Option<&str>) -> backups::Backup {
        backups::Backup {
            id: 7,
            job_id: None,
            database: "shop__lifeboat_before_20261201T030405Z".into(),
            kind: BackupKind::Safety,
            status,
            file_name: None,
            location: None,
            size_bytes: None,
            sha256: None,
            started_at: Utc::now(),
            finished_at: None,
            duration_ms: None,
            actor: None,
            message: message.map(str::to_string),
            pinned: true,
            offsite_status: None,
            offsite_message: None,
            client: None,
            compression: None,
        }
    }

    #[test]
    fn a_kept_database_may_be_dropped_only_after_its_final_backup_succeeded() {
        let n = "shop__lifeboat_before_20261201T030405Z";
        assert!(drop_refusal(n, None)
            .is_some_and(|w| w.contains("only copy") && w.contains("not been taken")));
        assert!(drop_refusal(n, Some(&backup(BackupStatus::Running, None)))
            .is_some_and(|w| w.contains("backup 7, running now")));
        let failed = drop_refusal(
            n,
            Some(&backup(BackupStatus::Failed, Some("pg_dump exited with 1"))),
        );
        assert!(
            failed.as_deref().is_some_and(
                |w| w.contains("failed: pg_dump exited with 1") && w.contains("take it again")
            ),
            "{failed:?}"
        );
        assert_eq!(
            drop_refusal(n, Some(&backup(BackupStatus::Succeeded, None))),
            None
        );
    }
}
