//! Uploads: a `.dump` received for a restore. The body is streamed straight to a file in
//! `<data dir>/uploads/` (never held in memory) and hashed on the way. The first bytes
//! decide at once whether it can be a custom-format archive this `pg_restore` reads; once
//! complete, the whole archive is decoded (a truncated or damaged file is refused: its
//! table of contents alone would not tell) and its table of contents summarised. Every
//! upload is journaled (`uploads`) and audited, and expires if never restored.

use super::Engine;
use crate::pgtools::archive::{self, Header};
use crate::pgtools::rows::RowCounts;
use crate::pgtools::{self, Tool};
use crate::storage::digest::Hashing;
use crate::storage::{self, human_bytes, relative, RemoveOnDrop};
use crate::store::audit::{self, Entry, Origin};
use crate::store::uploads::{self as journal, NewUpload, UploadStatus};
use crate::target::{self, TargetUrl};
use app::api::{audit_action, outcome, ArchiveSummary, Upload};
use bytes::Bytes;
use chrono::Utc;
use futures::{Stream, StreamExt};
use std::path::{Path, PathBuf};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

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

/// Receives one upload, to be restored into `target`. `declared` is the Content-Length
/// when the client sent one.
pub async fn receive<S, E>(
    engine: &Engine,
    target: Option<&TargetUrl>,
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
    storage::private::create_dir_all(&dir)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    check_space(&engine.data_dir, &dir, declared.unwrap_or(0))?;

    let id = hex::encode(rand::random::<[u8; 16]>());
    let now = Utc::now();
    let expires_at = now + chrono::Duration::from_std(engine.upload_ttl).unwrap_or_default();
    let part = dir.join(format!("{id}.part"));
    let database = target.map(TargetUrl::database);
    journal::insert_receiving(
        &engine.db,
        &NewUpload {
            id: &id,
            file_name: &file_name,
            database: database.as_deref(),
            path: &relative(&engine.data_dir, &part),
            actor: origin.actor.as_deref(),
            created_at: now,
            expires_at,
        },
    )
    .await?;

    let refused = Refused {
        engine,
        origin,
        database: database.as_deref(),
        id: &id,
        file_name: &file_name,
    };
    let guard = RemoveOnDrop::new(part.clone());
    let result = receive_into(engine, &part, declared, body).await;
    let (size, sha256, header, tool) = match result {
        Ok(r) => r,
        Err(e) => return Err(refused.record(0, None, e).await),
    };
    let checked = check_contents(target, &part, &header, &tool).await;
    let (summary, counts) = match checked {
        Ok(s) => s,
        Err(e) => return Err(refused.record(size, Some(&sha256), e).await),
    };
    let stored = dir.join(format!("{id}.dump"));
    std::fs::rename(&part, &stored)
        .and_then(|_| storage::fsync_dir(&dir))
        .map_err(|e| anyhow::anyhow!("cannot keep the upload in {}: {e}", dir.display()))?;
    guard.disarm();
    // Removed again if its row cannot say it is there (a file no row names would stay);
    // a crash in between is cleaned up at the next start (`sweep`).
    let kept = RemoveOnDrop::new(stored.clone());
    let summary_json = serde_json::to_string(&summary).unwrap_or_else(|_| "{}".into());
    journal::validated(
        &engine.db,
        &id,
        size as i64,
        &sha256,
        &relative(&engine.data_dir, &stored),
        &summary_json,
    )
    .await?;
    kept.disarm();
    // The rows the validation counted: a restore of this upload is proven against them.
    journal::set_row_counts(
        &engine.db,
        &id,
        &pgtools::rows::to_json(&counts).to_string(),
    )
    .await?;
    audit::record(
        &engine.db,
        origin,
        Entry {
            action: audit_action::UPLOAD,
            target: database.as_deref(),
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
        database,
        file_name,
        size_bytes: size as i64,
        sha256,
        summary,
        expires_at,
    })
}

fn check_space(data_dir: &Path, dir: &Path, needed: u64) -> Result<(), UploadError> {
    match storage::volume_space(dir) {
        Ok((free, _)) if free < needed.saturating_add(SPACE_MARGIN) => {
            Err(UploadError::NoSpace(format!(
                "not enough free space in {}: {} free, {} needed",
                storage::private::shown(data_dir, dir),
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

/// What [`Refused::record`] needs to journal a refused upload.
struct Refused<'a> {
    engine: &'a Engine,
    origin: &'a Origin,
    database: Option<&'a str>,
    id: &'a str,
    file_name: &'a str,
}

impl Refused<'_> {
    /// Journals and audits a refused or interrupted upload (its file is already gone or
    /// goes with the caller's guard) and hands the error back.
    async fn record(&self, size: u64, sha256: Option<&str>, e: UploadError) -> UploadError {
        let status = match e {
            UploadError::Interrupted(_) => UploadStatus::Cancelled,
            _ => UploadStatus::Refused,
        };
        let message = e.to_string();
        let journaled = journal::refused(
            &self.engine.db,
            self.id,
            status,
            &message,
            size as i64,
            sha256,
        )
        .await;
        let audited = audit::record(
            &self.engine.db,
            self.origin,
            Entry {
                action: audit_action::UPLOAD,
                target: self.database,
                outcome: outcome::FAILURE,
                details: serde_json::json!({
                    "upload_id": self.id,
                    "file": self.file_name,
                    "size_bytes": size,
                    "sha256": sha256,
                    "status": if status == UploadStatus::Cancelled { "cancelled" } else { "refused" },
                    "message": message,
                }),
            },
        )
        .await;
        if let Err(err) = journaled.map(|_| ()).and(audited.map(|_| ())) {
            return UploadError::Internal(anyhow::anyhow!(
                "could not journal a refused upload: {err}"
            ));
        }
        e
    }
}

/// Streams the body into `part`: checks the first bytes, then writes and hashes the rest,
/// enforcing the size limit. Returns the size, the SHA-256, the header and the pg_restore
/// that will read it.
async fn receive_into<S, E>(
    engine: &Engine,
    part: &Path,
    declared: Option<u64>,
    body: S,
) -> Result<(u64, String, Header, Tool), UploadError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let interrupted = |e: E| UploadError::Interrupted(e.to_string());
    // A body shorter than the first bytes has ended by the time the rest is read: once
    // ended, the stream is not asked again (some streams panic if they are).
    let mut body = body.fuse();
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

    let file = storage::private::async_file_options()
        .create_new(true)
        .open(part)
        .await
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", part.display()))?;
    let mut out = tokio::io::BufWriter::with_capacity(1 << 20, file);
    let mut hashing = Hashing::default();
    let limit = engine.upload_max_bytes;
    let write_err = |e: std::io::Error| -> UploadError {
        if e.kind() == std::io::ErrorKind::StorageFull {
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
        if hashing.size() + bytes.len() as u64 > limit {
            return Err(UploadError::TooLarge { limit });
        }
        hashing.update(&bytes);
        out.write_all(&bytes).await.map_err(write_err)?;
    }
    out.flush().await.map_err(write_err)?;
    let file = out.into_inner();
    file.sync_all().await.map_err(write_err)?;
    let digest = hashing.finish();
    let size = digest.size;
    if let Some(len) = declared {
        if size != len {
            return Err(UploadError::Interrupted(format!(
                "{size} of {len} bytes arrived"
            )));
        }
    }
    Ok((size, digest.sha256, header, tool))
}

/// The first bytes: a PostgreSQL archive, in custom format, of a version this pg_restore
/// reads. The reasons say what the file is and what to do.
pub async fn check_head(engine: &Engine, head: &[u8]) -> Result<(Header, Tool), UploadError> {
    let header = sniff(head).map_err(UploadError::Refused)?;
    let tool = pgtools::find("pg_restore", engine.pg_bin_dir.as_deref())
        .await
        .map_err(|e| UploadError::Internal(anyhow::anyhow!(e)))?;
    readable_by(head, &header, &tool).map_err(UploadError::Refused)?;
    Ok((header, tool))
}

/// What the first bytes of an upload are: a custom-format PostgreSQL archive's header,
/// or, in words, what the file is instead and what to do. Anyone allowed to upload
/// chooses these bytes; nothing here trusts them.
pub fn sniff(head: &[u8]) -> Result<Header, String> {
    let header = archive::parse_header(head).map_err(|_| describe_foreign(head))?;
    if header.major != 1 {
        // Every pg_dump since 7.x writes 1.x: anything else was damaged or made up.
        return Err(format!(
            "this file starts like a PostgreSQL archive but names format {}, which no pg_dump writes: the file is damaged; export again with `pg_dump -Fc`",
            header.version()
        ));
    }
    if !header.is_custom() {
        let kind = match header.format {
            3 => "tar-format",
            5 => "directory-format",
            _ => "non-custom-format",
        };
        return Err(format!(
            "this is a {kind} PostgreSQL archive; only custom-format dumps are accepted: export with `pg_dump -Fc`"
        ));
    }
    Ok(header)
}

/// Whether `tool` (a pg_restore) reads the archive whose first bytes are `head`; if not,
/// who made it and what to install.
pub fn readable_by(head: &[u8], header: &Header, tool: &Tool) -> Result<(), String> {
    if (header.major, header.minor) > archive::max_readable(tool.major) {
        let origin = archive::parse_origin(head, header);
        let made_by = match origin.as_ref().and_then(|o| o.pg_dump_version.clone()) {
            Some(v) => format!("pg_dump {v}"),
            None => archive::written_by(header),
        };
        return Err(format!(
            "this archive (format {}) was made by {made_by}, newer than the pg_restore here (PostgreSQL {}), which reads archives up to format {}.{}: install the PostgreSQL {} client tools or newer and point LIFEBOAT_PG_BIN_DIR at them, or dump again with a pg_dump of version {} or older",
            header.version(),
            tool.version,
            archive::max_readable(tool.major).0,
            archive::max_readable(tool.major).1,
            archive::needed_major(header),
            tool.major,
        ));
    }
    Ok(())
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

/// The whole archive decoded (its rows counted per table), then its table of contents
/// summarised and checked against the target server.
pub async fn check_contents(
    target: Option<&TargetUrl>,
    path: &Path,
    header: &Header,
    tool: &Tool,
) -> Result<(ArchiveSummary, RowCounts), UploadError> {
    let counts = pgtools::restore::full_read(&tool.path, path)
        .await
        .map_err(|e| UploadError::Refused(format!("the archive is damaged or truncated: {e}")))?;
    let mut listed = archive::ListSummary::new(header);
    pgtools::restore::list_archive(&tool.path, path, |line| listed.line(line))
        .await
        .map_err(|e| UploadError::Refused(format!("pg_restore cannot list the archive: {e}")))?;
    let mut summary = listed.finish();
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
    compatibility(target, &mut summary, tool).await;
    Ok((summary, counts))
}

/// Notes on versions: the target server against the one the dump came from.
async fn compatibility(target: Option<&TargetUrl>, s: &mut ArchiveSummary, tool: &Tool) {
    s.compatible = true;
    s.compatibility.push(format!(
        "pg_restore {} reads this archive (format {}).",
        tool.version, s.archive_version
    ));
    let Some(t) = target else {
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
    Ok(match journal::get(&engine.db, id).await? {
        Some(journal::Kept {
            file_name,
            status: UploadStatus::Validated,
            path: Some(path),
            sha256: Some(sha256),
            size_bytes,
            expires_at,
        }) if expires_at > Utc::now() => Some(Ready {
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
    if let Some(p) = journal::path(&engine.db, id).await? {
        let _ = std::fs::remove_file(engine.data_dir.join(p));
    }
    journal::restored(&engine.db, id).await
}

/// Removes expired uploads (journaled as `expired`) and, at start-up (`at_startup`),
/// uploads a stopped process was still receiving — including one it had already moved
/// into place but not recorded — and any file in the uploads folder no row names.
/// Returns how many uploads were removed.
pub async fn sweep(engine: &Engine, at_startup: bool) -> anyhow::Result<usize> {
    let rows = journal::to_sweep(&engine.db, Utc::now(), at_startup).await?;
    let dir = uploads_dir(&engine.data_dir);
    for (id, status, path) in &rows {
        if let Some(p) = path {
            let _ = std::fs::remove_file(engine.data_dir.join(p));
        }
        if *status == UploadStatus::Receiving {
            // Moved into place, its row not yet updated when the process stopped.
            let _ = std::fs::remove_file(dir.join(format!("{id}.dump")));
        }
        let (new, message) = if *status == UploadStatus::Validated {
            (
                UploadStatus::Expired,
                "expired: never restored; the file was deleted",
            )
        } else {
            (
                UploadStatus::Cancelled,
                "interrupted: Lifeboat stopped while receiving it",
            )
        };
        journal::swept(&engine.db, id, new, message).await?;
        tracing::info!(upload = %id, "upload {new:?}");
    }
    if at_startup {
        remove_unrecorded(engine, &dir).await?;
    }
    Ok(rows.len())
}

/// Removes the files of the uploads folder that no upload row names as its file.
async fn remove_unrecorded(engine: &Engine, dir: &Path) -> anyhow::Result<()> {
    let Ok(files) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for f in files.flatten() {
        let p = f.path();
        if !p.is_file() {
            continue;
        }
        let Some(id) = p.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        let recorded = journal::path(&engine.db, id).await?;
        if recorded.as_deref() != Some(relative(&engine.data_dir, &p).as_str()) {
            match std::fs::remove_file(&p) {
                Ok(()) => tracing::warn!(
                    "removed {}, an upload no row records (Lifeboat stopped before recording it)",
                    relative(&engine.data_dir, &p)
                ),
                Err(e) => tracing::warn!("cannot remove {}: {e}", p.display()),
            }
        }
    }
    Ok(())
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

    #[test]
    fn only_custom_format_1_x_headers_are_accepted() {
        let h = sniff(b"PGDMP\x01\x0e\x00\x04\x08\x01").expect("a pg_dump 15 header");
        assert_eq!(h.version(), "1.14");
        let tar = sniff(b"PGDMP\x01\x0e\x00\x04\x08\x03").expect_err("tar");
        assert!(tar.contains("tar-format"), "{tar}");
        // No pg_dump writes 2.x (or 0.x): it used to pass as "made by PostgreSQL 11".
        let made_up = sniff(b"PGDMP\x02\x00\x00\x04\x08\x01").expect_err("2.0");
        assert!(
            made_up.contains("format 2.0") && made_up.contains("damaged"),
            "{made_up}"
        );
    }

    #[test]
    fn a_newer_archive_names_what_reads_it() {
        let head = b"PGDMP\x01\x10\x00\x04\x08\x01";
        let h = sniff(head).expect("header");
        let tool = |major| Tool {
            path: "/usr/bin/pg_restore".into(),
            version: format!("{major}.1"),
            major,
        };
        let why = readable_by(head, &h, &tool(15)).expect_err("1.16 is too new for 15");
        assert!(
            why.contains("PostgreSQL 17 or newer") && why.contains("up to format 1.14"),
            "{why}"
        );
        assert_eq!(readable_by(head, &h, &tool(17)), Ok(()));
    }
}
