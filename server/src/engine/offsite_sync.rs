//! Offsite synchronisation: every successful backup and its sidecar copied to the
//! offsite store (`storage::offsite`) and verified there, and offsite retention. A failed
//! copy never turns a good local backup into a failure: the row says `failed` with the
//! reason, an alert is raised, and the copy is retried on the next run.

use super::Engine;
use crate::retention::{offsite_plan, Deletion, OffsiteCopy};
use crate::storage::offsite::{CopyError, Offsite};
use crate::store::backups as journal;

/// Copies the backups of `database` that are not offsite yet (the newest, and any whose
/// earlier copy failed), then applies offsite retention. Returns the backup ids copied.
pub async fn sync(engine: &Engine, offsite: &Offsite, database: &str) -> anyhow::Result<Vec<i64>> {
    let _one_at_a_time = offsite.exclusive().await;
    let pending = journal::pending_copies(&engine.db, database, offsite.keep() as i64).await?;
    let mut copied = vec![];
    for journal::PendingCopy {
        id,
        file_name: file,
        location,
        sha256,
    } in pending
    {
        let path = engine.data_dir.join(&location);
        let key = offsite.key(database, &file);
        let result = async {
            let size = offsite.upload_verified(&path, &key, &sha256).await?;
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
            Ok::<u64, CopyError>(size)
        }
        .await;
        match result {
            Ok(size) => {
                let message = format!(
                    "copied to {} and verified ({size} bytes, sha256 {})",
                    offsite.describe(),
                    &sha256[..12]
                );
                journal::offsite_copied(&engine.db, id, &key, &message).await?;
                copied.push(id);
            }
            Err(CopyError::LocalChanged(why)) => {
                // Not a restore point any more; the offsite object (maybe the last good
                // copy) was not touched.
                tracing::error!(backup = id, "offsite copy refused: {why}");
                journal::mark_corrupted(&engine.db, id, &format!("corrupted: {why}")).await?;
                journal::offsite_failed(&engine.db, id, &why).await?;
                engine.alerts.send(crate::alerts::Alert {
                    event: crate::alerts::event::VERIFY_FAILED,
                    database: Some(database.to_string()),
                    title: format!("Backup {id} is damaged"),
                    text: format!(
                        "{why}. Back up again; the offsite copy, if there is one, may still restore."
                    ),
                });
            }
            Err(CopyError::Failed(why)) => {
                tracing::warn!(backup = id, "offsite copy failed: {why}");
                journal::offsite_failed(&engine.db, id, &why).await?;
                engine.alerts.send(crate::alerts::Alert {
                    event: crate::alerts::event::OFFSITE_FAILED,
                    database: Some(database.to_string()),
                    title: format!("Offsite copy of backup {id} failed"),
                    text: format!(
                        "{file} could not be copied to {}: {why}. The local backup is fine; the copy is retried on the next run.",
                        offsite.describe()
                    ),
                });
            }
        }
    }
    prune(engine, offsite, database).await?;
    Ok(copied)
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

/// After each successful backup: copies in the background (the job is already over).
pub fn after_backup(engine: &Engine, backup_id: i64) {
    let (Some(offsite), Some(database)) = (engine.offsite.clone(), engine.database()) else {
        return;
    };
    let engine = engine.clone();
    tokio::spawn(async move {
        let _ = journal::offsite_pending(&engine.db, backup_id).await;
        if let Err(e) = sync(&engine, &offsite, &database).await {
            tracing::warn!("offsite copies: {e:#}");
        }
    });
}
