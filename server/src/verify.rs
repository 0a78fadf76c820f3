//! Re-checking stored backups (`lifeboat verify`): the local file is hashed and read in
//! full by pg_restore, and the offsite copy's size and hash are checked. A corrupted
//! local file marks the backup `corrupted` (it is no longer a restore point); a bad
//! offsite copy marks the copy failed (copied again on the next run). Both raise an alert;
//! every verification is audited.

use crate::audit::{self, Entry, Origin};
use crate::engine::Engine;
use app::api::{audit_action, job_status, outcome};
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

#[derive(Clone, Debug, serde::Serialize)]
pub struct Verified {
    pub id: i64,
    pub ok: bool,
    pub checks: Vec<String>,
}

async fn hash(path: &std::path::Path) -> std::io::Result<(String, u64)> {
    let mut f = tokio::fs::File::open(path).await?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut n_total = 0u64;
    loop {
        let n = f.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        n_total += n as u64;
    }
    Ok((hex::encode(h.finalize()), n_total))
}

pub async fn backup(engine: &Engine, id: i64, origin: &Origin) -> anyhow::Result<Verified> {
    let Some(b) = crate::backups::get(&engine.db, id).await? else {
        anyhow::bail!("there is no backup {id}");
    };
    if b.status != job_status::SUCCEEDED {
        return Ok(Verified {
            id,
            ok: b.status != "corrupted",
            checks: vec![format!("not checked: the backup is {}", b.status)],
        });
    }
    let mut checks = vec![];
    let mut local_ok = true;
    let expected = b.sha256.clone().unwrap_or_default();
    match crate::backups::file_path(engine, &b) {
        None => {
            local_ok = false;
            checks.push("no local file recorded".into());
        }
        Some(path) => match hash(&path).await {
            Err(e) => {
                local_ok = false;
                checks.push(format!("cannot read {}: {e}", path.display()));
            }
            Ok((sha, size)) if sha != expected || Some(size as i64) != b.size_bytes => {
                local_ok = false;
                checks.push(format!(
                    "local file changed: sha256 {} ({size} bytes), journal says {} ({} bytes)",
                    &sha[..12],
                    &expected[..expected.len().min(12)],
                    b.size_bytes.unwrap_or(0)
                ));
            }
            Ok(_) => {
                checks.push("local sha256 matches".into());
                let tool = crate::pgtools::find("pg_restore", engine.pg_bin_dir.as_deref())
                    .await
                    .map_err(|e| anyhow::anyhow!(e))?;
                match crate::uploads::full_read(&tool.path, &path).await {
                    Ok(()) => checks.push("pg_restore reads it in full".into()),
                    Err(e) => {
                        local_ok = false;
                        checks.push(format!("pg_restore cannot read it: {e}"));
                    }
                }
            }
        },
    }
    let mut offsite_ok = true;
    if let (Some(offsite), Some("copied")) = (&engine.offsite, b.offsite_status.as_deref()) {
        let key: Option<String> =
            sqlx::query_scalar("SELECT offsite_key FROM backups WHERE id = ?")
                .bind(id)
                .fetch_one(&engine.db)
                .await?;
        if let Some(key) = key {
            match offsite
                .verify(&key, b.size_bytes.unwrap_or(0) as u64, &expected)
                .await
            {
                Ok(()) => checks.push("offsite copy matches".into()),
                Err(e) => {
                    offsite_ok = false;
                    checks.push(format!("offsite copy: {e}"));
                    sqlx::query("UPDATE backups SET offsite_status = 'failed', offsite_message = ? WHERE id = ?")
                        .bind(format!("verify: {e}"))
                        .bind(id)
                        .execute(&engine.db)
                        .await?;
                }
            }
        }
    }
    if !local_ok {
        sqlx::query("UPDATE backups SET status = 'corrupted', message = ? WHERE id = ?")
            .bind(format!("corrupted: {}", checks.join("; ")))
            .bind(id)
            .execute(&engine.db)
            .await?;
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
