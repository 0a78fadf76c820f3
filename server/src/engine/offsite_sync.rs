//! Offsite synchronisation: every successful backup and its sidecar copied to the
//! offsite store (`storage::offsite`) and verified there, and offsite retention. A failed
//! copy never turns a good local backup into a failure: the row says `failed` with the
//! reason, an alert is raised, and the copy is retried on the next run.

use super::Engine;
use crate::retention::{offsite_plan, Deletion, OffsiteCopy};
use crate::storage::offsite::{CopyError, Offsite};
use crate::store::backups as journal;

/// What one synchronisation did.
#[derive(Debug, Default)]
pub struct Synced {
    /// The backups copied and verified offsite.
    pub copied: Vec<i64>,
    /// The copies that did not end offsite, and why (a damaged local file, the store
    /// failing, or not tried because the store had just failed).
    pub failed: Vec<(i64, String)>,
}

/// Copies the backups of `database` that are not offsite yet (the newest, and any whose
/// earlier copy failed), then applies offsite retention.
///
/// One alert per problem per run: when the store fails, the copies left are not tried
/// (they wait for the next run) and a single alert lists them all; damaged local files
/// are listed in a single alert too.
pub async fn sync(engine: &Engine, offsite: &Offsite, database: &str) -> anyhow::Result<Synced> {
    let _one_at_a_time = offsite.exclusive().await;
    let pending = journal::pending_copies(&engine.db, database, offsite.keep() as i64).await?;
    let mut out = Synced::default();
    let mut damaged: Vec<(i64, String)> = vec![];
    let mut store_failed: Option<(i64, String)> = None;
    let mut not_tried: Vec<i64> = vec![];
    for copy in pending {
        if store_failed.is_some() {
            not_tried.push(copy.id);
            continue;
        }
        let key = offsite.key(database, &copy.file_name);
        match copy_one(engine, offsite, &copy, &key).await {
            Ok(size) => {
                let message = format!(
                    "copied to {} and verified ({size} bytes, sha256 {})",
                    offsite.describe(),
                    &copy.sha256[..copy.sha256.len().min(12)]
                );
                journal::offsite_copied(&engine.db, copy.id, &key, &message).await?;
                out.copied.push(copy.id);
            }
            Err(CopyError::LocalChanged(why)) => {
                // Not a restore point any more; the offsite object (maybe the last good
                // copy) was not touched.
                tracing::error!(backup = copy.id, "offsite copy refused: {why}");
                journal::mark_corrupted(&engine.db, copy.id, &format!("corrupted: {why}")).await?;
                journal::offsite_failed(&engine.db, copy.id, &why).await?;
                out.failed.push((copy.id, why.clone()));
                damaged.push((copy.id, why));
            }
            Err(CopyError::Failed(why)) => {
                tracing::warn!(backup = copy.id, "offsite copy failed: {why}");
                journal::offsite_failed(&engine.db, copy.id, &why).await?;
                out.failed.push((copy.id, why.clone()));
                store_failed = Some((copy.id, why));
            }
        }
    }
    if !damaged.is_empty() {
        let ids = id_list(damaged.iter().map(|(id, _)| *id));
        let reasons: Vec<String> = damaged
            .iter()
            .map(|(id, why)| format!("backup {id}: {why}"))
            .collect();
        engine.alerts.send(crate::alerts::Alert {
            event: crate::alerts::event::VERIFY_FAILED,
            database: Some(database.to_string()),
            title: format!("Damaged backup(s) of {database}: {ids}"),
            text: format!(
                "{}. Back up again; the offsite copy, if there is one, may still restore.",
                reasons.join("; ")
            ),
        });
    }
    if let Some((id, why)) = store_failed {
        for other in &not_tried {
            out.failed.push((
                *other,
                format!("not tried: the copy of backup {id} had just failed ({why})"),
            ));
        }
        let waiting = id_list(std::iter::once(id).chain(not_tried.iter().copied()));
        engine.alerts.send(crate::alerts::Alert {
            event: crate::alerts::event::OFFSITE_FAILED,
            database: Some(database.to_string()),
            title: format!("Offsite copies of {database} failed"),
            text: format!(
                "Copying to {} failed: {why}. Waiting for their offsite copy: {waiting}. The local backups are fine; the copies are retried on the next run.",
                offsite.describe()
            ),
        });
        // The store is failing: retention waits for the next run too.
        return Ok(out);
    }
    prune(engine, offsite, database).await?;
    Ok(out)
}

/// "backup 4" or "backups 4, 5, 6".
fn id_list(ids: impl Iterator<Item = i64>) -> String {
    let ids: Vec<String> = ids.map(|i| i.to_string()).collect();
    match ids.len() {
        1 => format!("backup {}", ids[0]),
        _ => format!("backups {}", ids.join(", ")),
    }
}

/// Copies one backup and its sidecar. A copy that failed before is re-hashed first: a
/// local file that no longer matches the journal is never sent again.
async fn copy_one(
    engine: &Engine,
    offsite: &Offsite,
    copy: &journal::PendingCopy,
    key: &str,
) -> Result<u64, CopyError> {
    let path = engine.data_dir.join(&copy.location);
    let followups = engine.followups().clone();
    let file = &copy.file_name;
    if copy.offsite_status.as_deref() == Some("failed") {
        followups.progress(format!("checking {file} before copying it again…"));
        let local = crate::storage::digest::hash_file(&path)
            .await
            .map_err(|e| CopyError::Failed(format!("cannot read {file}: {e}")))?;
        if local.sha256 != copy.sha256 {
            return Err(CopyError::LocalChanged(format!(
                "{file} has changed since it was backed up (sha256 {}, the journal says {}): it was not copied again, and what is offsite was left as it was",
                &local.sha256[..12],
                &copy.sha256[..copy.sha256.len().min(12)]
            )));
        }
    }
    let progress = move |text: String| followups.progress(text);
    let size = offsite
        .upload_verified(&path, key, &copy.sha256, &progress)
        .await?;
    let sidecar = crate::storage::sidecar_path(&path);
    let bytes = tokio::fs::read(&sidecar).await.map_err(|e| {
        CopyError::Failed(format!(
            "cannot read {}: {e}",
            crate::storage::private::shown(&engine.data_dir, &sidecar)
        ))
    })?;
    offsite
        .put_small(&format!("{key}.json"), bytes)
        .await
        .map_err(CopyError::Failed)?;
    Ok(size)
}

/// Offsite retention (the rules are [`crate::retention::offsite_plan`]).
pub async fn prune(engine: &Engine, offsite: &Offsite, database: &str) -> anyhow::Result<()> {
    let copies = journal::offsite_copies(&engine.db, database).await?;
    let weighed: Vec<OffsiteCopy> = copies
        .iter()
        .map(|c| OffsiteCopy {
            id: c.id,
            kind: c.kind,
            pinned: c.pinned,
        })
        .collect();
    for Deletion { id, reason } in offsite_plan(&weighed, offsite.keep()) {
        let Some(key) = copies.iter().find(|c| c.id == id).map(|c| &c.offsite_key) else {
            continue;
        };
        let deleted = async {
            offsite.delete(&format!("{key}.json")).await?;
            offsite.delete(key).await
        }
        .await;
        match deleted {
            Ok(()) => {
                let message = format!("offsite copy deleted by {reason}");
                journal::offsite_deleted(&engine.db, id, &message).await?;
            }
            Err(e) => tracing::warn!(backup = id, "offsite retention: {e}"),
        }
    }
    Ok(())
}

/// After each successful backup: copies in the background (the job is already over), as
/// follow-up work a command-line run waits for; it fails when this backup's copy did.
pub fn after_backup(engine: &Engine, backup_id: i64) {
    let (Some(offsite), Some(database)) = (engine.offsite.clone(), engine.database()) else {
        return;
    };
    let engine = engine.clone();
    let what = format!("offsite copy of backup {backup_id}");
    engine.followups().clone().spawn(what, async move {
        journal::offsite_pending(&engine.db, backup_id)
            .await
            .map_err(|e| e.to_string())?;
        let synced = sync(&engine, &offsite, &database).await.map_err(|e| {
            tracing::warn!("offsite copies: {e:#}");
            format!("{e:#}")
        })?;
        match synced.failed.into_iter().find(|(id, _)| *id == backup_id) {
            Some((_, why)) => Err(why),
            None => Ok(()),
        }
    });
}
