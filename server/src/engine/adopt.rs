//! Adopting stored backups the journal never recorded. A backup's file and its `.json`
//! sidecar are moved into place before its journal row says `succeeded`; when the
//! process dies in between, or the journal write fails (metadata disk full, database
//! locked), the row is left `running` (or was swept to `interrupted`) while a complete,
//! verified file sits on disk. At start-up each such file is found by its sidecar, which
//! names its journal row and job: when the row is still `running` or `interrupted`, for
//! the same database and job, and the file hashes to the SHA-256 and size the sidecar
//! recorded, the row becomes `succeeded` (audited as recovered). Anything else is left
//! alone and shows among the unknown files.

use super::Engine;
use crate::storage::{self, digest::hash_file, human_bytes};
use crate::store::audit::{self, Entry, Origin};
use crate::store::backups::{self as journal, Adopted, BackupStatus, StoredFile};
use crate::store::jobs;
use app::api::{audit_action, outcome};
use chrono::{DateTime, Utc};
use std::path::{Path, PathBuf};

/// What a sidecar says of its backup.
struct Sidecar {
    backup_id: i64,
    job_id: i64,
    database: String,
    file: String,
    sha256: String,
    size: i64,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
    json: serde_json::Value,
}

impl Sidecar {
    fn read(path: &Path) -> Option<Sidecar> {
        let json: serde_json::Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
        let text = |k: &str| json.get(k).and_then(|v| v.as_str()).map(str::to_string);
        let time = |k: &str| {
            text(k)
                .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
                .map(|t| t.with_timezone(&Utc))
        };
        Some(Sidecar {
            backup_id: json.get("backup_id")?.as_i64()?,
            job_id: json.get("job_id")?.as_i64()?,
            database: text("database")?,
            file: text("file")?,
            sha256: text("sha256")?,
            size: json.get("size_bytes")?.as_i64()?,
            started_at: time("started_at"),
            finished_at: time("finished_at"),
            json,
        })
    }

    fn text(&self, k: &str) -> Option<&str> {
        self.json.get(k).and_then(|v| v.as_str())
    }
}

/// Every `*.dump.json` sidecar under the backups folder.
fn sidecars(data_dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![];
    let Ok(dbs) = std::fs::read_dir(storage::backups_root(data_dir)) else {
        return out;
    };
    for db in dbs.flatten() {
        let Ok(files) = std::fs::read_dir(db.path()) else {
            continue;
        };
        for f in files.flatten() {
            let p = f.path();
            if p.to_string_lossy().ends_with(".dump.json") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Adopts the stored backups of the databases `is_dead` accepts whose end was never
/// journaled (see the module comment). Returns the backup ids adopted.
pub async fn adopt_stored(
    engine: &Engine,
    is_dead: impl Fn(&str) -> bool,
) -> anyhow::Result<Vec<i64>> {
    let mut adopted = vec![];
    for sidecar_path in sidecars(&engine.data_dir) {
        let Some(side) = Sidecar::read(&sidecar_path) else {
            continue;
        };
        if !is_dead(&side.database) {
            continue;
        }
        let Some(row) = journal::get(&engine.db, side.backup_id).await? else {
            continue;
        };
        let unrecorded = matches!(
            row.status,
            BackupStatus::Running | BackupStatus::Interrupted
        );
        if !unrecorded || row.database != side.database || row.job_id != Some(side.job_id) {
            continue;
        }
        let dump = sidecar_path.with_extension("");
        if dump.file_name().and_then(|n| n.to_str()) != Some(side.file.as_str()) {
            continue;
        }
        let shown = storage::private::shown(&engine.data_dir, &dump);
        let digest = match hash_file(&dump).await {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!("backup {}: cannot read {shown}: {e}", side.backup_id);
                continue;
            }
        };
        if digest.sha256 != side.sha256 || digest.size as i64 != side.size {
            tracing::warn!(
                "backup {}: {shown} does not match its sidecar (sha256 or size): not adopted",
                side.backup_id
            );
            continue;
        }
        if adopt_one(engine, &row, &side, &dump).await? {
            adopted.push(side.backup_id);
        }
    }
    Ok(adopted)
}

async fn adopt_one(
    engine: &Engine,
    row: &journal::Backup,
    side: &Sidecar,
    dump: &Path,
) -> anyhow::Result<bool> {
    let stored = StoredFile {
        file_name: side.file.clone(),
        location: storage::relative(&engine.data_dir, dump),
        size: side.size,
        sha256: side.sha256.clone(),
    };
    let message = format!(
        "recovered at start-up: verified: {} ({}), sha256 {}; its end was not recorded when it was stored (Lifeboat stopped, or could not write its database), the file was found complete and hashed again",
        stored.file_name,
        human_bytes(stored.size as u64),
        &stored.sha256[..stored.sha256.len().min(12)]
    );
    let finished_at = side.finished_at.unwrap_or_else(Utc::now);
    let timings = side
        .json
        .get("timings_ms")
        .map(|t| t.to_string())
        .unwrap_or_else(|| "[]".into());
    let rows = side
        .json
        .get("rows")
        .filter(|r| !r.is_null())
        .map(|r| r.to_string());
    let changed = journal::adopt(
        &engine.db,
        row.id,
        &Adopted {
            stored: &stored,
            message: &message,
            finished_at,
            duration_ms: side
                .started_at
                .map(|s| (finished_at - s).num_milliseconds().max(0)),
            server_version: side.text("server_version"),
            pg_dump_version: side.text("pg_dump_version"),
            archive_version: side.text("archive_version"),
            timings: &timings,
            row_counts: rows.as_deref(),
        },
    )
    .await?;
    if !changed {
        return Ok(false);
    }
    jobs::mark_recovered(&engine.db, side.job_id, &message).await?;
    let origin = Origin {
        actor: row.actor.clone(),
        ..Origin::default()
    };
    audit::record(
        &engine.db,
        &origin,
        Entry {
            action: audit_action::BACKUP,
            target: Some(&row.database),
            outcome: outcome::SUCCESS,
            details: serde_json::json!({
                "backup_id": row.id,
                "job_id": side.job_id,
                "kind": row.kind.as_str(),
                "status": BackupStatus::Succeeded.as_str(),
                "recovered": true,
                "file": stored.file_name,
                "size_bytes": stored.size,
                "sha256": stored.sha256,
                "message": message,
            }),
        },
    )
    .await?;
    tracing::warn!("backup {} of {}: {message}", row.id, row.database);
    super::offsite_sync::after_backup(engine, row.id);
    Ok(true)
}
