//! Undoing a swap restore by swapping back (seconds, whatever the size). The restored
//! database is set aside (see [`super::kept`]), never dropped here.

use super::RestoreError;
use crate::databases::{self, Kept};
use crate::engine::run::{self, Outcome};
use crate::engine::Engine;
use crate::store::audit::{self, Entry, Origin};
use crate::store::jobs::{JobKind, JobStatus};
use crate::store::restores::{self as journal, SwapKind};
use crate::target::TargetUrl;
use app::api::{audit_action, outcome, phase, Job, RestoreStrategy, StartedRollback};
use chrono::Utc;
use tracing::Instrument;

fn no_target() -> RestoreError {
    RestoreError::Refused(
        "No target database is configured (set LIFEBOAT_TARGET_URL): there is nothing to roll back."
            .into(),
    )
}

/// Starts the roll back of swap restore `restore_id`: the database kept before it is
/// swapped back in; the restored one (with any writes made since) is set aside under a
/// `__lifeboat_rolledback_` name, never dropped here.
pub async fn start(
    engine: &Engine,
    target: Option<&TargetUrl>,
    origin: &Origin,
    restore_id: i64,
) -> Result<(StartedRollback, tokio::task::JoinHandle<Job>), RestoreError> {
    let target = target.cloned().ok_or_else(no_target)?;
    let database = target.database();
    let r = journal::get(&engine.db, restore_id)
        .await?
        .ok_or_else(|| RestoreError::NotFound(format!("There is no restore {restore_id}.")))?;
    let kept = match (&r.kept_database, r.strategy.as_deref()) {
        (Some(kept), Some(s)) if s == RestoreStrategy::Swap.as_str() => kept.clone(),
        _ => {
            return Err(RestoreError::Refused(format!(
                "Restore {restore_id} did not swap databases, so there is nothing to swap back: restore its safety backup instead."
            )))
        }
    };
    if r.database != database {
        return Err(RestoreError::Refused(format!(
            "Restore {restore_id} replaced {}, not {database}.",
            r.database
        )));
    }
    if let Some(aside) = &r.rolled_back_database {
        return Err(RestoreError::Refused(format!(
            "Restore {restore_id} was already rolled back (the restored database is kept as {aside})."
        )));
    }
    let maintenance = databases::maintenance(&target)
        .await
        .map_err(RestoreError::Refused)?;
    if !databases::exists(&maintenance, &kept)
        .await
        .map_err(RestoreError::Refused)?
    {
        return Err(RestoreError::Refused(format!(
            "The database kept before restore {restore_id}, {kept}, no longer exists: restore its safety backup instead."
        )));
    }
    let lock = run::lock(engine, &database).await?;
    let actor = origin.actor.as_deref();
    let mut handle =
        run::create(engine, JobKind::Restore, &database, phase::PREFLIGHT, actor).await?;
    handle
        .update(|j| {
            j.restore_id = Some(restore_id);
            j.phase = phase::RESTORE.into();
            j.current_item = Some(format!("swapping {kept} back in as {database}"));
        })
        .await;
    let job_id = handle.id;
    let span = handle.tracing_span();
    let engine = engine.clone();
    let origin = origin.clone();
    let task = engine.jobs.clone().spawn(
        async move {
            let aside = databases::kept_name(&database, Kept::RolledBack, Utc::now());
            let swapped = super::swapping::swap(
                &engine,
                &maintenance,
                restore_id,
                SwapKind::Rollback,
                &database,
                &kept,
                &aside,
            )
            .await;
            let (status, message, offline_ms) = match &swapped {
                Ok(ms) => (
                    JobStatus::Succeeded,
                    format!(
                        "rolled back restore {restore_id}: {database} holds its contents from before the restore again ({ms} ms offline); the restored database, with any writes made to it since the swap, is kept as {aside}"
                    ),
                    Some(*ms),
                ),
                Err(e) => (
                    JobStatus::Failed,
                    format!("the roll back of restore {restore_id} failed: {e}"),
                    None,
                ),
            };
            if let Some(ms) = offline_ms {
                if let Err(e) = journal::rolled_back(&engine.db, restore_id, &aside, ms).await {
                    tracing::error!("cannot record the roll back of restore {restore_id}: {e}");
                }
            }
            let _ = audit::record(
                &engine.db,
                &origin,
                Entry {
                    action: audit_action::RESTORE_ROLLBACK,
                    target: Some(&database),
                    outcome: if offline_ms.is_some() {
                        outcome::SUCCESS
                    } else {
                        outcome::FAILURE
                    },
                    details: serde_json::json!({
                        "restore_id": restore_id,
                        "job_id": job_id,
                        "swapped_in": kept,
                        "set_aside": offline_ms.map(|_| aside.clone()),
                        "offline_ms": offline_ms,
                        "message": message,
                    }),
                },
            )
            .await;
            let job = match run::finish_job(handle, Outcome { status, message }).await {
                Ok(job) => job,
                Err(e) => {
                    tracing::error!(job = job_id, "could not record the end of the roll back: {e}");
                    run::unrecorded(job_id, JobKind::Restore, &database)
                }
            };
            drop(lock);
            // The restored database, with whatever was written to it since the swap, is
            // now the only copy of that state: back it up.
            if offline_ms.is_some() {
                super::kept::start_final_backup(&engine, &target, &origin, &aside).await;
            }
            job
        }
        .instrument(span),
    );
    Ok((StartedRollback { job_id }, task))
}
