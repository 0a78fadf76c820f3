//! Re-checking stored backups (`lifeboat verify`): the local file is hashed and read in
//! full by pg_restore, and the offsite copy's size and hash are checked. A corrupted
//! local file marks the backup `corrupted` (it is no longer a restore point); a bad
//! offsite copy marks the copy failed (copied again on the next run). Both raise an alert;
//! every verification is audited.

use super::Engine;
use crate::storage::digest::hash_file;
use crate::store::audit::{self, Entry, Origin};
use crate::store::backups::{self as journal, BackupStatus, OffsiteStatus};
use app::api::{audit_action, outcome};

#[derive(Clone, Debug, serde::Serialize)]
pub struct Verified {
    pub id: i64,
    pub ok: bool,
    pub checks: Vec<String>,
}

/// Re-checks one stored backup (see the module comment).
pub async fn backup(engine: &Engine, id: i64, origin: &Origin) -> anyhow::Result<Verified> {
    let Some(b) = journal::get(&engine.db, id).await? else {
        anyhow::bail!("there is no backup {id}");
    };
    if b.status != BackupStatus::Succeeded {
        return Ok(Verified {
            id,
            ok: b.status != BackupStatus::Corrupted,
            checks: vec![format!("not checked: the backup is {}", b.status)],
        });
    }
    let mut checks = vec![];
    let expected = b.sha256.clone().unwrap_or_default();
    let local = match engine.backup_path(b.location.as_deref()) {
        None => Err("no local file recorded".to_string()),
        Some(path) => match check_local(engine, &path, &expected, b.size_bytes).await? {
            Ok(()) => Ok(()),
            // A mismatch is confirmed by a second, independent read before the backup
            // stops being a restore point (a transient read error must not discard it).
            Err(first) => match check_local(engine, &path, &expected, b.size_bytes).await? {
                Ok(()) => {
                    checks.push(format!(
                        "a first read failed ({first}), a second one matched: not corrupted"
                    ));
                    Ok(())
                }
                Err(second) => Err(second),
            },
        },
    };
    let local_ok = match local {
        Ok(()) => {
            checks.push("local sha256 matches".into());
            checks.push("pg_restore reads it in full".into());
            true
        }
        Err(why) => {
            checks.push(why);
            false
        }
    };
    let mut offsite_ok = true;
    if let (Some(offsite), Some(OffsiteStatus::Copied)) = (&engine.offsite, b.offsite_status) {
        if let Some(key) = journal::offsite_key(&engine.db, id).await? {
            match offsite
                .verify(&key, b.size_bytes.unwrap_or(0) as u64, &expected)
                .await
            {
                Ok(()) => checks.push("offsite copy matches".into()),
                Err(e) => {
                    offsite_ok = false;
                    checks.push(format!("offsite copy: {e}"));
                    journal::offsite_failed(&engine.db, id, &format!("verify: {e}")).await?;
                }
            }
        }
    }
    if !local_ok {
        let marked =
            journal::mark_corrupted(&engine.db, id, &format!("corrupted: {}", checks.join("; ")))
                .await?;
        if !marked {
            // Deleted (or marked) meanwhile: its row keeps what happened to it.
            checks.push("the backup is no longer stored as succeeded: its row is unchanged".into());
        }
    }
    let ok = local_ok && offsite_ok;
    audit::record(
        &engine.db,
        origin,
        Entry {
            action: audit_action::BACKUP_VERIFY,
            target: Some(&b.database),
            outcome: if ok {
                outcome::SUCCESS
            } else {
                outcome::FAILURE
            },
            details: serde_json::json!({ "backup_id": id, "file": b.file_name, "checks": checks }),
        },
    )
    .await?;
    if !ok {
        engine.alerts.send(crate::alerts::Alert {
            event: crate::alerts::event::VERIFY_FAILED,
            database: Some(b.database.clone()),
            title: format!("Backup {id} of {} failed verification", b.database),
            text: checks.join("; "),
        });
    }
    Ok(Verified { id, ok, checks })
}

/// One read of the stored file: its SHA-256 and size against the journal's, then
/// `pg_restore` reading it in full. `Err` with why it does not match.
async fn check_local(
    engine: &Engine,
    path: &std::path::Path,
    expected: &str,
    size_bytes: Option<i64>,
) -> anyhow::Result<Result<(), String>> {
    match hash_file(path).await.map(|d| (d.sha256, d.size)) {
        Err(e) => Ok(Err(format!(
            "cannot read {}: {e}",
            crate::storage::private::shown(&engine.data_dir, path)
        ))),
        Ok((sha, size)) if sha != expected || Some(size as i64) != size_bytes => Ok(Err(format!(
            "local file changed: sha256 {} ({size} bytes), journal says {} ({} bytes)",
            &sha[..12],
            &expected[..expected.len().min(12)],
            size_bytes.unwrap_or(0)
        ))),
        Ok(_) => {
            let tool = crate::pgtools::find("pg_restore", engine.pg_bin_dir.as_deref())
                .await
                .map_err(|e| anyhow::anyhow!(e))?;
            Ok(crate::pgtools::restore::full_read(&tool.path, path)
                .await
                .map(|_| ())
                .map_err(|e| format!("pg_restore cannot read it: {e}")))
        }
    }
}
