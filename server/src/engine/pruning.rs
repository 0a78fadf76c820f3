//! Deleting stored backups: by the retention policy (rules in `retention`), or one by
//! hand with its rules (never the newest successful one, never a pinned one); and
//! pinning, which keeps a backup out of retention.

use super::Engine;
use crate::retention::{plan, Policy};
use crate::storage;
use crate::store::audit::{self, Entry, Origin};
use crate::store::backups::{self as journal, Backup, BackupStatus};
use crate::target::TargetUrl;
use app::api::{audit_action, outcome};
use chrono::Utc;

pub use app::api::Pruned as Deleted;

/// Why a backup cannot be deleted or pinned as asked.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0}")]
    NotFound(String),
    /// Refused by a rule; the reason says what to do.
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for BackupError {
    fn from(e: sqlx::Error) -> Self {
        BackupError::Internal(e.into())
    }
}

fn no_backup(id: i64) -> BackupError {
    BackupError::NotFound(format!("There is no backup {id}."))
}

/// Applies the policy to `target`'s backups (or, with `dry_run`, only says what it would
/// delete). Nothing to do without a target.
pub async fn prune(
    engine: &Engine,
    target: Option<&TargetUrl>,
    policy: &Policy,
    origin: &Origin,
    dry_run: bool,
) -> anyhow::Result<Vec<Deleted>> {
    let Some(target) = target else {
        return Ok(vec![]);
    };
    let database = target.database();
    let history = journal::retention_candidates(&engine.db, &database).await?;
    let now = Utc::now();
    if let Some(b) = history.iter().find(|b| {
        let t = b.finished_at.unwrap_or(now);
        t > now + journal::CLOCK_TOLERANCE
    }) {
        tracing::warn!(
            backup = b.id,
            "backup {} of {database} is stamped in the future ({:?}): the clock was or is wrong; retention orders backups by the journal's sequence",
            b.id,
            b.finished_at
        );
    }
    // The newest successful backup by sequence, read again now: nothing newer is deleted
    // (one that finished since the plan was made is not in it either).
    let newest = journal::last_success(&engine.db, &database)
        .await?
        .map(|b| b.id);
    let mut out = vec![];
    for d in plan(&history, policy, now) {
        if newest.is_none_or(|n| d.id >= n) {
            tracing::warn!(
                backup = d.id,
                "retention refuses to delete a backup not older by sequence than the newest"
            );
            continue;
        }
        let Some(b) = journal::get(&engine.db, d.id).await? else {
            continue;
        };
        // A backup a restore is reading waits for the next run of retention.
        if let Some(job) = journal::reading_job(&engine.db, d.id).await? {
            tracing::info!(backup = d.id, job, "retention skips a backup being read");
            continue;
        }
        if engine.downloads.active(d.id) {
            tracing::info!(backup = d.id, "retention skips a backup being downloaded");
            continue;
        }
        if !dry_run {
            delete(engine, &b, &d.reason, origin).await?;
        }
        out.push(Deleted {
            id: b.id,
            file_name: b.file_name.clone(),
            size_bytes: b.size_bytes,
            reason: d.reason,
        });
    }
    Ok(out)
}

/// The backups being downloaded from this server right now: neither deleted by hand nor
/// by retention until their downloads have ended.
#[derive(Default)]
pub struct Downloads(std::sync::Mutex<std::collections::HashMap<i64, usize>>);

/// Held while a download of a backup is being sent.
pub struct Downloading {
    downloads: std::sync::Arc<Downloads>,
    id: i64,
}

impl Downloads {
    /// A download of backup `id` starts; it ends when the guard is dropped.
    pub fn start(self: &std::sync::Arc<Self>, id: i64) -> Downloading {
        *self.lock().entry(id).or_insert(0) += 1;
        Downloading {
            downloads: self.clone(),
            id,
        }
    }

    pub fn active(&self, id: i64) -> bool {
        self.lock().get(&id).is_some_and(|n| *n > 0)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<i64, usize>> {
        // A panic elsewhere cannot leave the counts half-updated.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for Downloading {
    fn drop(&mut self) {
        let mut map = self.downloads.lock();
        if let Some(n) = map.get_mut(&self.id) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(&self.id);
            }
        }
    }
}

/// Deletes a stored backup by hand. Refused for the newest successful backup (the last
/// good restore point), for pinned backups (unpin first), and for anything not stored.
pub async fn delete_by_hand(engine: &Engine, id: i64, origin: &Origin) -> Result<(), BackupError> {
    let b = journal::get(&engine.db, id)
        .await?
        .ok_or_else(|| no_backup(id))?;
    if b.status != BackupStatus::Succeeded {
        return Err(BackupError::Refused(format!(
            "Backup {id} is {}: there is no stored file to delete.",
            b.status
        )));
    }
    if b.pinned {
        return Err(BackupError::Refused(format!(
            "Backup {id} is pinned: unpin it first."
        )));
    }
    if let Some(job) = journal::reading_job(&engine.db, id).await? {
        return Err(BackupError::Refused(format!(
            "Backup {id} is being read by job {job} (a restore from it): it can be deleted once that job has ended."
        )));
    }
    if engine.downloads.active(id) {
        return Err(BackupError::Refused(format!(
            "Backup {id} is being downloaded: it can be deleted once the download has ended."
        )));
    }
    let newest = journal::last_success(&engine.db, &b.database).await?;
    if newest.is_some_and(|n| n.id == id) {
        return Err(BackupError::Refused(format!(
            "Backup {id} is the newest successful backup of {}: it cannot be deleted.",
            b.database
        )));
    }
    delete(engine, &b, "deleted by hand", origin).await?;
    Ok(())
}

/// Pins or unpins a backup (audited). Returns it as it is now.
pub async fn pin(
    engine: &Engine,
    id: i64,
    pinned: bool,
    origin: &Origin,
) -> Result<Backup, BackupError> {
    let b = journal::get(&engine.db, id)
        .await?
        .ok_or_else(|| no_backup(id))?;
    journal::set_pinned(&engine.db, id, pinned).await?;
    audit::record(
        &engine.db,
        origin,
        Entry {
            action: audit_action::BACKUP_PIN,
            target: Some(&b.database),
            outcome: outcome::SUCCESS,
            details: serde_json::json!({ "backup_id": id, "pinned": pinned, "file": b.file_name }),
        },
    )
    .await?;
    journal::get(&engine.db, id)
        .await?
        .ok_or_else(|| no_backup(id))
}

/// Deletes one stored backup's file and sidecar, marks its row `deleted` with the
/// reason, and audits it.
pub async fn delete(
    engine: &Engine,
    b: &Backup,
    reason: &str,
    origin: &Origin,
) -> anyhow::Result<()> {
    if let Some(path) = engine.backup_path(b.location.as_deref()) {
        for p in [storage::sidecar_path(&path), path.clone()] {
            match std::fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => anyhow::bail!("cannot delete {}: {e}", p.display()),
            }
        }
        if let Some(dir) = path.parent() {
            let _ = storage::fsync_dir(dir);
        }
    }
    journal::mark_deleted(&engine.db, b.id, reason).await?;
    audit::record(
        &engine.db,
        origin,
        Entry {
            action: audit_action::BACKUP_DELETE,
            target: Some(&b.database),
            outcome: outcome::SUCCESS,
            details: serde_json::json!({
                "backup_id": b.id,
                "file": b.file_name,
                "size_bytes": b.size_bytes,
                "sha256": b.sha256,
                "reason": reason,
            }),
        },
    )
    .await?;
    Ok(())
}
