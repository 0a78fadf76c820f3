//! Uploads: a `.dump` received for a restore. The body is streamed straight to a file in
//! `<data dir>/uploads/` (never held in memory) and hashed on the way. The first bytes
//! decide at once whether it can be a custom-format archive this `pg_restore` reads; once
//! complete, the whole archive is decoded (a truncated or damaged file is refused: its
//! table of contents alone would not tell) and its table of contents summarised. Every
//! upload is journaled (`uploads`) and audited, and expires if never restored.

use crate::archive::{self, Header};
use crate::audit::{self, Entry, Origin};
use crate::backups::human_bytes;
use crate::engine::Engine;
use crate::pgtools::{self, Tool};
use crate::storage;
use crate::target;
use app::api::{audit_action, outcome, ArchiveSummary, Upload};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

/// How many bytes are looked at before anything is written.
const HEAD_BYTES: usize = 4096;
/// Free space kept on the volume beyond the upload itself.
const SPACE_MARGIN: u64 = 64 << 20;

#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// Not something that can be restored here; the reason is for the admin.
    #[error("{0}")]
    Refused(String),
    #[error("the file is larger than the upload limit of {}", human_bytes(*.limit))]
    TooLarge { limit: u64 },
    #[error("{0}")]
    NoSpace(String),
    #[error("the upload was interrupted: {0}")]
    Interrupted(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for UploadError {
    fn from(e: sqlx::Error) -> Self {
        UploadError::Internal(e.into())
    }
}

pub fn uploads_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("uploads")
}

/// Keeps what a person would recognise of a file name: no folders, no control
/// characters, at most 200 characters.
pub fn clean_file_name(name: &str) -> Result<String, UploadError> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = base.chars().filter(|c| !c.is_control()).take(200).collect();
    let cleaned = cleaned.trim().to_string();
    if cleaned.is_empty() || cleaned == "." || cleaned == ".." {
        return Err(UploadError::Refused(
            "the file name is missing: send it as ?filename=NAME".into(),
        ));
    }
    Ok(cleaned)
}

/// Receives one upload. `declared` is the Content-Length when the client sent one.
pub async fn receive<S, E>(
    engine: &Engine,
    origin: &Origin,
    file_name: &str,
    declared: Option<u64>,
    body: S,
) -> Result<Upload, UploadError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let file_name = clean_file_name(file_name)?;
    if let Some(len) = declared {
        if len > engine.upload_max_bytes {
            return Err(UploadError::TooLarge {
                limit: engine.upload_max_bytes,
            });
        }
    }
    let dir = uploads_dir(&engine.data_dir);
    std::fs::create_dir_all(&dir)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    check_space(&dir, declared.unwrap_or(0))?;

    let id = hex::encode(rand::random::<[u8; 16]>());
    let now = Utc::now();
    let expires_at = now + chrono::Duration::from_std(engine.upload_ttl).unwrap_or_default();
    let part = dir.join(format!("{id}.part"));
    sqlx::query(
        "INSERT INTO uploads (id, file_name, status, database, path, actor, created_at, expires_at) VALUES (?, ?, 'receiving', ?, ?, ?, ?, ?)",
    )
    .bind(&id)
    .bind(&file_name)
    .bind(engine.target.as_ref().map(|t| t.database()))
    .bind(relative(&engine.data_dir, &part))
    .bind(&origin.actor)
    .bind(now)
    .bind(expires_at)
    .execute(&engine.db)
    .await?;

    let guard = RemoveOnDrop(Some(part.clone()));
    let result = receive_into(engine, &part, declared, body).await;
    let (size, sha256, header, tool) = match result {
        Ok(r) => r,
        Err(e) => return Err(refuse(engine, origin, &id, &file_name, 0, None, e).await),
    };
    let checked = check_contents(engine, &part, &header, &tool).await;
    let summary = match checked {
        Ok(s) => s,
        Err(e) => {
            return Err(refuse(engine, origin, &id, &file_name, size, Some(&sha256), e).await)
        }
    };
    let stored = dir.join(format!("{id}.dump"));
    std::fs::rename(&part, &stored)
        .and_then(|_| storage::fsync_dir(&dir))
        .map_err(|e| anyhow::anyhow!("cannot keep the upload in {}: {e}", dir.display()))?;
    guard.disarm();
    let summary_json = serde_json::to_string(&summary).unwrap_or_else(|_| "{}".into());
    sqlx::query(
        "UPDATE uploads SET status = 'validated', size_bytes = ?, sha256 = ?, path = ?, summary = ? WHERE id = ?",
    )
    .bind(size as i64)
    .bind(&sha256)
    .bind(relative(&engine.data_dir, &stored))
    .bind(&summary_json)
    .bind(&id)
    .execute(&engine.db)
    .await?;
    audit::record(
        &engine.db,
        origin,
        Entry {
            action: audit_action::UPLOAD,
            target: engine.target.as_ref().map(|t| t.database()).as_deref(),
            outcome: outcome::SUCCESS,
            details: serde_json::json!({
                "upload_id": id,
                "file": file_name,
                "size_bytes": size,
                "sha256": sha256,
                "source_database": summary.source_database,
                "archive_version": summary.archive_version,
                "tables": summary.tables,
            }),
        },
    )
    .await?;
    Ok(Upload {
        upload_id: id,
        database: engine.target.as_ref().map(|t| t.database()),
        file_name,
        size_bytes: size as i64,
        sha256,
        summary,
        expires_at,
    })
}

fn check_space(dir: &Path, needed: u64) -> Result<(), UploadError> {
    match storage::volume_space(dir) {
        Ok((free, _)) if free < needed.saturating_add(SPACE_MARGIN) => {
            Err(UploadError::NoSpace(format!(
                "not enough free space in {}: {} free, {} needed",
                dir.display(),
                human_bytes(free),
                human_bytes(needed.saturating_add(SPACE_MARGIN))
            )))
        }
        Ok(_) => Ok(()),
        Err(e) => Err(UploadError::Internal(anyhow::anyhow!(
            "cannot read the free space of {}: {e}",
            dir.display()
        ))),
    }
}

/// Journals and audits a refused or interrupted upload (its file is already gone or goes
/// with the caller's guard) and hands the error back.
async fn refuse(
    engine: &Engine,
    origin: &Origin,
    id: &str,
    file_name: &str,
    size: u64,
    sha256: Option<&str>,
    e: UploadError,
) -> UploadError {
    let status = match e {
        UploadError::Interrupted(_) => "cancelled",
        _ => "refused",
    };
    let message = e.to_string();
    let journaled = sqlx::query(
        "UPDATE uploads SET status = ?, message = ?, size_bytes = ?, sha256 = ?, path = NULL WHERE id = ?",
    )
    .bind(status)
    .bind(&message)
    .bind(size as i64)
    .bind(sha256)
    .bind(id)
    .execute(&engine.db)
    .await;
    let audited = audit::record(
        &engine.db,
        origin,
        Entry {
            action: audit_action::UPLOAD,
            target: engine.target.as_ref().map(|t| t.database()).as_deref(),
            outcome: outcome::FAILURE,
            details: serde_json::json!({
                "upload_id": id,
                "file": file_name,
                "size_bytes": size,
                "sha256": sha256,
                "status": status,
                "message": message,
            }),
        },
    )
    .await;
    if let Err(err) = journaled.map(|_| ()).and(audited.map(|_| ())) {
        return UploadError::Internal(anyhow::anyhow!("could not journal a refused upload: {err}"));
    }
    e
}

/// Streams the body into `part`: checks the first bytes, then writes and hashes the rest,
/// enforcing the size limit. Returns the size, the SHA-256, the header and the pg_restore
/// that will read it.
async fn receive_into<S, E>(
    engine: &Engine,
    part: &Path,
    declared: Option<u64>,
    mut body: S,
) -> Result<(u64, String, Header, Tool), UploadError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let interrupted = |e: E| UploadError::Interrupted(e.to_string());
    // The first bytes, before anything touches the disk.
    let mut head: Vec<u8> = Vec::with_capacity(HEAD_BYTES);
    let mut pending: Option<Bytes> = None;
    while head.len() < HEAD_BYTES {
        match body.next().await {
            None => break,
            Some(Err(e)) => return Err(interrupted(e)),
            Some(Ok(chunk)) => {
                let take = (HEAD_BYTES - head.len()).min(chunk.len());
                head.extend_from_slice(&chunk[..take]);
                if take < chunk.len() {
                    pending = Some(chunk.slice(take..));
                }
            }
        }
    }
    let (header, tool) = check_head(engine, &head).await?;

    let file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(part)
        .await
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", part.display()))?;
    let mut out = tokio::io::BufWriter::with_capacity(1 << 20, file);
    let mut hasher = Sha256::new();
    let mut size: u64 = 0;
    let limit = engine.upload_max_bytes;
    let write_err = |e: std::io::Error| -> UploadError {
        if e.raw_os_error() == Some(28) {
            UploadError::NoSpace(format!(
                "the disk filled up while receiving the upload: {e}"
            ))
        } else {
            UploadError::Internal(anyhow::anyhow!("writing the upload failed: {e}"))
        }
    };
    let mut chunk = Some(Bytes::from(head));
    loop {
        let Some(bytes) = chunk.take() else {
            if let Some(p) = pending.take() {
                chunk = Some(p);
                continue;
            }
            match body.next().await {
                None => break,
                Some(Err(e)) => return Err(interrupted(e)),
                Some(Ok(b)) => {
                    chunk = Some(b);
                    continue;
                }
            }
        };
        size += bytes.len() as u64;
        if size > limit {
            return Err(UploadError::TooLarge { limit });
        }
        hasher.update(&bytes);
        out.write_all(&bytes).await.map_err(write_err)?;
    }
    out.flush().await.map_err(write_err)?;
    let file = out.into_inner();
    file.sync_all().await.map_err(write_err)?;
    if let Some(len) = declared {
        if size != len {
            return Err(UploadError::Interrupted(format!(
                "{size} of {len} bytes arrived"
            )));
        }
    }
    Ok((size, hex::encode(hasher.finalize()), header, tool))
}

/// The first bytes: a PostgreSQL archive, in custom format, of a version this pg_restore
/// reads. The reasons say what the file is and what to do.
pub async fn check_head(engine: &Engine, head: &[u8]) -> Result<(Header, Tool), UploadError> {
    let header = match archive::parse_header(head) {
        Ok(h) => h,
        Err(_) => return Err(UploadError::Refused(describe_foreign(head))),
    };
    if !header.is_custom() {
        let kind = match header.format {
            3 => "tar-format",
            5 => "directory-format",
            _ => "non-custom-format",
        };
        return Err(UploadError::Refused(format!(
            "this is a {kind} PostgreSQL archive; only custom-format dumps are accepted: export with `pg_dump -Fc`"
        )));
    }
    let tool = pgtools::find("pg_restore", engine.pg_bin_dir.as_deref())
        .await
        .map_err(|e| UploadError::Internal(anyhow::anyhow!(e)))?;
    if (header.major, header.minor) > archive::max_readable(tool.major) {
        let origin = archive::parse_origin(head, &header);
        let made_by = match origin.as_ref().and_then(|o| o.pg_dump_version.clone()) {
            Some(v) => format!("pg_dump {v}"),
            None => archive::written_by(&header),
        };
        return Err(UploadError::Refused(format!(
            "this archive (format {}) was made by {made_by}, newer than the pg_restore here (PostgreSQL {}), which reads archives up to format {}.{}: install the PostgreSQL {} client tools or newer and point LIFEBOAT_PG_BIN_DIR at them, or dump again with a pg_dump of version {} or older",
            header.version(),
            tool.version,
            archive::max_readable(tool.major).0,
            archive::max_readable(tool.major).1,
            archive::needed_major(&header),
            tool.major,
        )));
    }
    Ok((header, tool))
}

/// What a file that is not a PostgreSQL archive looks like, in words.
fn describe_foreign(head: &[u8]) -> String {
    let sample = &head[..head.len().min(512)];
    let text = !sample.contains(&0)
        && (std::str::from_utf8(sample).is_ok() || sample.iter().all(|b| b.is_ascii()));
    if head.is_empty() {
        "the file is empty".into()
    } else if head.get(257..262) == Some(b"ustar".as_slice()) {
        "this is a tar archive (a tar-format dump, pg_dump -Ft?): only custom-format dumps are accepted: export with `pg_dump -Fc`".into()
    } else if head.starts_with(b"PK\x03\x04") {
        "this is a zip archive, not a PostgreSQL dump: unzip it first, or export with `pg_dump -Fc`"
            .into()
    } else if head.starts_with(&[0x1f, 0x8b]) {
        "this is a gzip-compressed file, not a custom-format dump: if it holds an SQL script, restore it with psql; otherwise export with `pg_dump -Fc`".into()
    } else if text {
        ".sql text files are not accepted: this looks like an SQL script (plain-format dump); export with `pg_dump -Fc` and upload the .dump".into()
    } else {
        "not a PostgreSQL custom-format archive (it does not start with PGDMP): export with `pg_dump -Fc`".into()
    }
}

/// The whole archive decoded, then its table of contents summarised and checked against
/// the target server.
pub async fn check_contents(
    engine: &Engine,
    path: &Path,
    header: &Header,
    tool: &Tool,
) -> Result<ArchiveSummary, UploadError> {
    full_read(&tool.path, path)
        .await
        .map_err(|e| UploadError::Refused(format!("the archive is damaged or truncated: {e}")))?;
    let list = pgtools::list_archive(&tool.path, path)
        .await
        .map_err(|e| UploadError::Refused(format!("pg_restore cannot list the archive: {e}")))?;
    let mut summary = archive::summarize_list(&list, header);
    let mut head = vec![0u8; HEAD_BYTES];
    if let Ok(mut f) = tokio::fs::File::open(path).await {
        let n = f.read(&mut head).await.unwrap_or(0);
        head.truncate(n);
        if let Some(o) = archive::parse_origin(&head, header) {
            summary.source_database = summary.source_database.or(o.database);
            summary.server_version = summary.server_version.or(o.server_version);
            summary.pg_dump_version = summary.pg_dump_version.or(o.pg_dump_version);
            summary.compression = summary.compression.or(o.compression);
        }
    }
    compatibility(engine, &mut summary, tool).await;
    Ok(summary)
}

/// Decodes every byte of the archive (fed through a pipe, so pg_restore reads it from the
/// first byte to the last, data blocks included).
pub async fn full_read(pg_restore: &Path, path: &Path) -> Result<(), String> {
    let input = std::fs::File::open(path).map_err(|e| format!("cannot open it: {e}"))?;
    let out = Command::new(pg_restore)
        .arg("--file=/dev/null")
        .env("LC_MESSAGES", "C")
        .stdin(Stdio::from(input))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| format!("cannot start pg_restore: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "pg_restore {}: {}",
            pgtools::describe_exit(out.status),
            pgtools::error_lines(&String::from_utf8_lossy(&out.stderr))
        ))
    }
}

/// Notes on versions: the target server against the one the dump came from.
async fn compatibility(engine: &Engine, s: &mut ArchiveSummary, tool: &Tool) {
    s.compatible = true;
    s.compatibility.push(format!(
        "pg_restore {} reads this archive (format {}).",
        tool.version, s.archive_version
    ));
    let Some(t) = &engine.target else {
        s.compatible = false;
        s.compatibility
            .push("No target database is configured: there is nothing to restore into.".into());
        return;
    };
    match target::server_info(t).await {
        Err(e) => {
            s.compatible = false;
            s.compatibility
                .push(format!("The target server cannot be checked: {e}"));
        }
        Ok(info) => {
            let source_major = s
                .server_version
                .as_deref()
                .and_then(|v| v.split(['.', ' ']).next()?.parse::<u32>().ok());
            match source_major {
                Some(m) if m > info.major => s.compatibility.push(format!(
                    "Warning: the dump comes from PostgreSQL {m}, the target runs PostgreSQL {}: objects using newer features may fail to restore (the restore then rolls back and the database stays as it was).",
                    info.version
                )),
                Some(m) => s.compatibility.push(format!(
                    "The dump comes from PostgreSQL {m}; the target runs PostgreSQL {}: compatible.",
                    info.version
                )),
                None => s.compatibility.push(format!(
                    "The dump does not say which server it came from; the target runs PostgreSQL {}.",
                    info.version
                )),
            }
            if !pgtools::compatible(tool.major, info.major) {
                s.compatible = false;
                s.compatibility.push(format!(
                    "pg_restore {} is older than the target server (PostgreSQL {}): install the PostgreSQL {} client tools or newer.",
                    tool.version, info.version, info.major
                ));
            }
        }
    }
}

/// A validated upload, ready to restore.
pub struct Ready {
    pub id: String,
    pub file_name: String,
    pub path: PathBuf,
    pub sha256: String,
    pub size: i64,
}

/// Finds a validated, unexpired upload.
pub async fn ready(engine: &Engine, id: &str) -> Result<Option<Ready>, sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Row {
        file_name: String,
        status: String,
        path: Option<String>,
        sha256: Option<String>,
        size_bytes: i64,
        expires_at: DateTime<Utc>,
    }
    let row: Option<Row> = sqlx::query_as(
        "SELECT file_name, status, path, sha256, size_bytes, expires_at FROM uploads WHERE id = ?",
    )
    .bind(id)
    .fetch_optional(&engine.db)
    .await?;
    Ok(match row {
        Some(Row {
            file_name,
            status,
            path: Some(path),
            sha256: Some(sha256),
            size_bytes,
            expires_at,
        }) if status == "validated" && expires_at > Utc::now() => Some(Ready {
            id: id.to_string(),
            file_name,
            path: engine.data_dir.join(path),
            sha256,
            size: size_bytes,
        }),
        _ => None,
    })
}

/// After a successful restore the file is no longer needed: the journal keeps its name
/// and checksum.
pub async fn mark_restored(engine: &Engine, id: &str) -> sqlx::Result<()> {
    let path: Option<Option<String>> = sqlx::query_scalar("SELECT path FROM uploads WHERE id = ?")
        .bind(id)
        .fetch_optional(&engine.db)
        .await?;
    if let Some(Some(p)) = path {
        let _ = std::fs::remove_file(engine.data_dir.join(p));
    }
    sqlx::query("UPDATE uploads SET status = 'restored', path = NULL WHERE id = ?")
        .bind(id)
        .execute(&engine.db)
        .await?;
    Ok(())
}

/// Removes expired uploads (journaled as `expired`) and, at start-up (`at_startup`),
/// uploads a stopped process was still receiving. Returns how many were removed.
pub async fn sweep(engine: &Engine, at_startup: bool) -> anyhow::Result<usize> {
    let now = Utc::now();
    let rows: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT id, status, path FROM uploads WHERE (status = 'validated' AND expires_at <= ?) OR (status = 'receiving' AND ?)",
    )
    .bind(now)
    .bind(at_startup)
    .fetch_all(&engine.db)
    .await?;
    for (id, status, path) in &rows {
        if let Some(p) = path {
            let _ = std::fs::remove_file(engine.data_dir.join(p));
        }
        let (new, message) = if status == "validated" {
            ("expired", "expired: never restored; the file was deleted")
        } else {
            (
                "cancelled",
                "interrupted: Lifeboat stopped while receiving it",
            )
        };
        sqlx::query("UPDATE uploads SET status = ?, message = ?, path = NULL WHERE id = ?")
            .bind(new)
            .bind(message)
            .bind(id)
            .execute(&engine.db)
            .await?;
        tracing::info!(upload = %id, "upload {new}");
    }
    Ok(rows.len())
}

/// Removes expired uploads every ten minutes.
pub fn spawn_sweeper(engine: Engine) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(600));
        tick.tick().await;
        loop {
            tick.tick().await;
            if let Err(e) = sweep(&engine, false).await {
                tracing::warn!("could not remove expired uploads: {e:#}");
            }
        }
    });
}

fn relative(data_dir: &Path, p: &Path) -> String {
    p.strip_prefix(data_dir)
        .unwrap_or(p)
        .to_string_lossy()
        .to_string()
}

/// Removes a file unless disarmed: an upload whose request was dropped mid-way leaves
/// nothing behind.
struct RemoveOnDrop(Option<PathBuf>);
impl RemoveOnDrop {
    fn disarm(mut self) {
        self.0 = None;
    }
}
impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_lose_their_folders() {
        assert_eq!(
            clean_file_name("../../etc/shop.dump").expect("name"),
            "shop.dump"
        );
        assert_eq!(clean_file_name("C:\\x\\a.dump").expect("name"), "a.dump");
        assert!(clean_file_name("").is_err());
        assert!(clean_file_name("dir/").is_err());
    }

    #[test]
    fn foreign_files_are_named() {
        assert!(describe_foreign(b"-- PostgreSQL database dump\nSET x;").starts_with(".sql"));
        assert!(describe_foreign(b"PK\x03\x04rest").contains("zip"));
        assert!(describe_foreign(&[0x00, 0xff, 0x80, 0x13, 0x9c]).contains("PGDMP"));
        assert_eq!(describe_foreign(b""), "the file is empty");
    }
}
