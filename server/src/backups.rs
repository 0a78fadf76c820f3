//! Backups: the journal (one row per attempt), and the backup job itself —
//! preflight → dump → verify → store → done.
//!
//! A backup is only recorded as succeeded when `pg_dump` exited 0, every byte it wrote
//! was decoded by `pg_restore` (as the file grew), the file was fsynced, read back in full
//! and hashed (and found exactly as long as what was decoded), its table of contents
//! listed, then renamed into place, the directory fsynced, and the `.json` sidecar
//! written the same way. Every outcome — success, failure, cancel,
//! invalid configuration, interruption — ends with one journal row and one audit entry.

use crate::archive;
use crate::audit::{self, Entry, Origin};
use crate::engine::Engine;
use crate::jobs::{self, JobHandle, Outcome};
use crate::pgtools::{self, Tool};
use crate::storage::{self, DatabaseLock};
use crate::target::{self, ServerInfo};
use app::api::{
    audit_action, backup_kind, job_status, outcome, phase, Backup, BackupDetail, BackupPage, Job,
    PhaseTiming, StartedJob,
};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

const BACKUP_COLUMNS: &str = "id, job_id, database, kind, status, file_name, location, size_bytes, sha256, started_at, finished_at, duration_ms, actor, message, pinned, offsite_status, offsite_message";

/// Share of the overall percentage each phase covers.
const DUMP_SPAN: (f64, f64) = (2.0, 85.0);
const VERIFY_SPAN: (f64, f64) = (85.0, 98.0);

/// The most of a tool's stderr kept in the journal.
pub(crate) const MAX_TOOL_OUTPUT: usize = 256 * 1024;

// ----------------------------------------------------------------------------------------
// Journal
// ----------------------------------------------------------------------------------------

pub async fn list(db: &sqlx::SqlitePool, limit: i64, offset: i64) -> sqlx::Result<BackupPage> {
    let items = sqlx::query_as::<_, Backup>(&format!(
        "SELECT {BACKUP_COLUMNS} FROM backups ORDER BY id DESC LIMIT ? OFFSET ?"
    ))
    .bind(limit.clamp(1, 500))
    .bind(offset.max(0))
    .fetch_all(db)
    .await?;
    let total = sqlx::query_scalar("SELECT COUNT(*) FROM backups")
        .fetch_one(db)
        .await?;
    Ok(BackupPage { items, total })
}

pub async fn get(db: &sqlx::SqlitePool, id: i64) -> sqlx::Result<Option<Backup>> {
    sqlx::query_as::<_, Backup>(&format!(
        "SELECT {BACKUP_COLUMNS} FROM backups WHERE id = ?"
    ))
    .bind(id)
    .fetch_optional(db)
    .await
}

pub async fn detail(db: &sqlx::SqlitePool, id: i64) -> sqlx::Result<Option<BackupDetail>> {
    let Some(backup) = get(db, id).await? else {
        return Ok(None);
    };
    #[allow(clippy::type_complexity)]
    let row: (
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        String,
    ) = sqlx::query_as(
        "SELECT tool_output, exit_status, server_version, pg_dump_version, archive_version, timings FROM backups WHERE id = ?",
    )
    .bind(id)
    .fetch_one(db)
    .await?;
    Ok(Some(BackupDetail {
        backup,
        tool_output: row.0,
        exit_status: row.1,
        server_version: row.2,
        pg_dump_version: row.3,
        archive_version: row.4,
        timings: serde_json::from_str(&row.5).unwrap_or_default(),
    }))
}

/// The newest successful backup of `database`, by completion time.
pub async fn last_success(db: &sqlx::SqlitePool, database: &str) -> sqlx::Result<Option<Backup>> {
    sqlx::query_as::<_, Backup>(&format!(
        "SELECT {BACKUP_COLUMNS} FROM backups WHERE database = ? AND status = 'succeeded' ORDER BY finished_at DESC, id DESC LIMIT 1"
    ))
    .bind(database)
    .fetch_optional(db)
    .await
}

/// Bytes and count of stored (succeeded) backups.
pub async fn usage(db: &sqlx::SqlitePool) -> sqlx::Result<(i64, i64)> {
    sqlx::query_as(
        "SELECT COALESCE(SUM(size_bytes), 0), COUNT(*) FROM backups WHERE status = 'succeeded'",
    )
    .fetch_one(db)
    .await
}

/// The absolute path of a stored backup's file (`location` is relative to the data dir).
pub fn file_path(engine: &Engine, b: &Backup) -> Option<PathBuf> {
    b.location.as_ref().map(|l| engine.data_dir.join(l))
}

// ----------------------------------------------------------------------------------------
// Starting a backup
// ----------------------------------------------------------------------------------------

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("A backup or restore of {database} is already running.")]
    Busy {
        database: String,
        job_id: Option<i64>,
    },
    /// The preflight failed: journaled as a failed attempt and audited.
    #[error("invalid configuration: {message}")]
    InvalidConfiguration { job: Box<Job>, message: String },
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for StartError {
    fn from(e: sqlx::Error) -> Self {
        StartError::Internal(e.into())
    }
}

/// What the preflight found.
struct Ready {
    server: ServerInfo,
    pg_dump: Tool,
    pg_restore: Tool,
}

/// Starts a backup of the target: checks the configuration first (refusing with the
/// reason when it is wrong), then runs the job in the background. The returned task
/// resolves to the finished job.
pub async fn start(
    engine: &Engine,
    kind: &'static str,
    origin: &Origin,
) -> Result<(StartedJob, tokio::task::JoinHandle<Job>), StartError> {
    let database = engine
        .target
        .as_ref()
        .map(|t| t.database())
        .unwrap_or_else(|| "(none)".into());
    let lock = match storage::try_lock_database(&engine.data_dir, &database) {
        Ok(Some(lock)) => lock,
        Ok(None) => {
            return Err(StartError::Busy {
                job_id: jobs::running_for(&engine.db, &database).await?,
                database,
            })
        }
        Err(e) => {
            return Err(StartError::Internal(anyhow::anyhow!(
                "cannot take the lock for {database} in {}: {e}",
                engine.data_dir.join("locks").display()
            )))
        }
    };
    // Holding the lock means no process is running a job for this database: a row
    // still marked running is a leftover of a process that died.
    if jobs::running_for(&engine.db, &database).await?.is_some() {
        recover_interrupted(engine, |d| d == database)
            .await
            .map_err(StartError::Internal)?;
    }

    let actor = origin.actor.as_deref();
    let mut handle = jobs::create(
        &engine.db,
        &engine.jobs,
        "backup",
        &database,
        phase::PREFLIGHT,
        actor,
    )
    .await?;
    let started_at = handle.snapshot().started_at;
    let backup_id: i64 = sqlx::query_scalar(
        "INSERT INTO backups (job_id, database, kind, status, started_at, actor) VALUES (?, ?, ?, 'running', ?, ?) RETURNING id",
    )
    .bind(handle.id)
    .bind(&database)
    .bind(kind)
    .bind(started_at)
    .bind(actor)
    .fetch_one(&engine.db)
    .await?;
    handle
        .update(|j| {
            j.backup_id = Some(backup_id);
            j.current_item = Some("checking the configuration".into());
        })
        .await;

    let mut run = Run::new(engine, origin, kind, backup_id, database);
    let t0 = Instant::now();
    let ready = match preflight(engine).await {
        Ok(r) => r,
        Err(problems) => {
            run.timings.push(timing(phase::PREFLIGHT, t0));
            let message = format!("invalid configuration: {problems}");
            let job = run
                .conclude(handle, job_status::FAILED, message.clone(), None)
                .await?;
            return Err(StartError::InvalidConfiguration {
                job: Box::new(job),
                message: problems,
            });
        }
    };
    run.timings.push(timing(phase::PREFLIGHT, t0));
    run.server_version = Some(ready.server.version.clone());
    run.pg_dump_version = Some(ready.pg_dump.version.clone());
    let job_id = handle.id;
    let task = tokio::spawn(async move { run.execute(handle, ready, lock).await });
    Ok((
        StartedJob {
            job_id,
            backup_id: Some(backup_id),
        },
        task,
    ))
}

/// The configuration check of seed 000's alternative A2. All problems, joined.
async fn preflight(engine: &Engine) -> Result<Ready, String> {
    let Some(target) = &engine.target else {
        return Err("no target database is configured (set LIFEBOAT_TARGET_URL)".into());
    };
    let bin = engine.pg_bin_dir.as_deref();
    let (server, dump, restore) = tokio::join!(
        target::server_info(target),
        pgtools::find("pg_dump", bin),
        pgtools::find("pg_restore", bin)
    );
    let mut problems = vec![];
    if let Err(e) = &server {
        problems.push(e.clone());
    }
    for (name, tool) in [("pg_dump", &dump), ("pg_restore", &restore)] {
        match (tool, &server) {
            (Err(e), _) => problems.push(e.clone()),
            (Ok(t), Ok(s)) if !pgtools::compatible(t.major, s.major) => problems.push(format!(
                "{name} {} is older than the target server (PostgreSQL {}); install the PostgreSQL {} client tools or newer",
                t.version, s.version, s.major
            )),
            _ => {}
        }
    }
    let dir = storage::database_dir(&engine.data_dir, &target.database());
    let writable = std::fs::create_dir_all(&dir).and_then(|_| {
        let probe = dir.join(".write-probe");
        std::fs::write(&probe, b"ok")?;
        std::fs::remove_file(&probe)
    });
    if let Err(e) = writable {
        problems.push(format!(
            "the backup directory {} is not writable: {e}",
            dir.display()
        ));
    } else if let Ok(info) = &server {
        // Custom-format dumps are compressed: the previous backup's size (with a margin)
        // is the best estimate; without one, half the database size.
        let previous = last_success(&engine.db, &target.database())
            .await
            .ok()
            .flatten()
            .and_then(|b| b.size_bytes);
        let estimate = match previous {
            Some(p) => p + p / 4,
            None => info.database_size / 2,
        }
        .max(0) as u64;
        match storage::volume_space(&dir) {
            Ok((free, _)) if free < estimate => problems.push(format!(
                "not enough free space in {}: {} free, about {} needed",
                dir.display(),
                human_bytes(free),
                human_bytes(estimate)
            )),
            Ok(_) => {}
            Err(e) => problems.push(format!(
                "cannot read the free space of {}: {e}",
                dir.display()
            )),
        }
    }
    match (server, dump, restore) {
        (Ok(server), Ok(pg_dump), Ok(pg_restore)) if problems.is_empty() => Ok(Ready {
            server,
            pg_dump,
            pg_restore,
        }),
        _ => Err(problems.join("; ")),
    }
}

/// Sizes in decimal units (1 MB = 1,000,000 bytes), as the web console shows them.
pub fn human_bytes(b: u64) -> String {
    if b >= 1_000_000_000 {
        format!("{:.2} GB", b as f64 / 1e9)
    } else {
        format!("{:.1} MB", b as f64 / 1e6)
    }
}

pub(crate) fn timing(phase: &str, since: Instant) -> PhaseTiming {
    PhaseTiming {
        phase: phase.into(),
        ms: since.elapsed().as_millis() as i64,
    }
}

// ----------------------------------------------------------------------------------------
// Running it
// ----------------------------------------------------------------------------------------

/// Everything one backup run accumulates for its journal row.
struct Run {
    engine: Engine,
    origin: Origin,
    kind: &'static str,
    backup_id: i64,
    database: String,
    started: Instant,
    timings: Vec<PhaseTiming>,
    tool_output: Option<String>,
    exit_status: Option<String>,
    server_version: Option<String>,
    pg_dump_version: Option<String>,
    archive_version: Option<String>,
}

/// How a step failed: a message for people and, for cancellation, the status.
struct Stop {
    status: &'static str,
    message: String,
}

impl Stop {
    fn failed(message: impl Into<String>) -> Stop {
        Stop {
            status: job_status::FAILED,
            message: message.into(),
        }
    }
    fn cancelled() -> Stop {
        Stop {
            status: job_status::CANCELLED,
            message: "Backup cancelled; its temporary file was removed.".into(),
        }
    }
}

/// The stored file, once verified.
struct Stored {
    file_name: String,
    location: String,
    size: i64,
    sha256: String,
}

impl Run {
    fn new(
        engine: &Engine,
        origin: &Origin,
        kind: &'static str,
        backup_id: i64,
        database: String,
    ) -> Run {
        Run {
            engine: engine.clone(),
            origin: origin.clone(),
            kind,
            backup_id,
            database,
            started: Instant::now(),
            timings: vec![],
            tool_output: None,
            exit_status: None,
            server_version: None,
            pg_dump_version: None,
            archive_version: None,
        }
    }

    async fn execute(mut self, mut handle: JobHandle, ready: Ready, _lock: DatabaseLock) -> Job {
        let result = self.pipeline(&mut handle, &ready).await;
        let (status, message, stored) = match result {
            Ok(stored) => (
                job_status::SUCCEEDED,
                format!(
                    "verified: {} ({}), sha256 {}",
                    stored.file_name,
                    human_bytes(stored.size as u64),
                    &stored.sha256[..12]
                ),
                Some(stored),
            ),
            Err(stop) => (stop.status, stop.message, None),
        };
        let id = handle.id;
        match self.conclude(handle, status, message, stored).await {
            Ok(job) => job,
            Err(e) => {
                tracing::error!(job = id, "could not record the end of backup job: {e:#}");
                jobs::load(&self.engine.db, id)
                    .await
                    .ok()
                    .flatten()
                    .unwrap_or_else(|| placeholder_job(id))
            }
        }
    }

    async fn pipeline(&mut self, handle: &mut JobHandle, ready: &Ready) -> Result<Stored, Stop> {
        let target = self
            .engine
            .target
            .clone()
            .ok_or_else(|| Stop::failed("no target database"))?;
        let started_at = handle.snapshot().started_at;
        let dir = storage::database_dir(&self.engine.data_dir, &self.database);
        // Two backups within one second must not share a name (a rename would replace
        // the first): add -2, -3, … when the name is taken.
        let mut file_name = storage::backup_file_name(started_at, self.kind);
        let mut n = 1;
        while dir.join(&file_name).exists() || storage::temp_path(&dir.join(&file_name)).exists() {
            n += 1;
            file_name = storage::backup_file_name(started_at, self.kind)
                .replace(".dump", &format!("-{n}.dump"));
        }
        let final_path = dir.join(&file_name);
        let tmp = storage::temp_path(&final_path);
        handle
            .set_temp_path(Some(&tmp))
            .await
            .map_err(|e| Stop::failed(format!("journal: {e}")))?;

        // -- dump ------------------------------------------------------------------------
        let t = Instant::now();
        handle
            .update(|j| {
                j.phase = phase::DUMP.into();
                j.percent = DUMP_SPAN.0;
                j.file_name = Some(file_name.clone());
                j.location = Some(relative(&self.engine.data_dir, &final_path));
                j.current_item = None;
            })
            .await;
        let weights = table_weights(&target).await.unwrap_or_default();
        // How big the archive will be, to advance the bar inside a large table: the last
        // backup's size, or a typical compression of the tables' size for a first one.
        let expected_bytes = match last_success(&self.engine.db, &self.database).await {
            Ok(Some(b)) => b.size_bytes.unwrap_or(0) as f64,
            _ => weights.values().sum::<i64>() as f64 * 0.35,
        }
        .max(1.0);
        let dumped = self
            .dump(handle, ready, &target, &tmp, &weights, expected_bytes)
            .await;
        self.timings.push(timing(phase::DUMP, t));
        let decoded = dumped?;

        // -- verify ----------------------------------------------------------------------
        let t = Instant::now();
        handle
            .update(|j| {
                j.phase = phase::VERIFY.into();
                j.percent = VERIFY_SPAN.0;
                j.current_item = Some("reading the archive back".into());
            })
            .await;
        let verified = self.verify(handle, ready, &tmp, decoded).await;
        self.timings.push(timing(phase::VERIFY, t));
        let (size, sha256) = verified?;

        // -- store -----------------------------------------------------------------------
        let t = Instant::now();
        handle
            .update(|j| {
                j.phase = phase::STORE.into();
                j.percent = VERIFY_SPAN.1;
                j.current_item = Some("moving the verified file into place".into());
            })
            .await;
        if handle.is_cancelled() {
            return Err(Stop::cancelled());
        }
        std::fs::rename(&tmp, &final_path)
            .map_err(|e| Stop::failed(format!("cannot move the backup into place: {e}")))?;
        let _ = handle.set_temp_path(None).await;
        if let Err(e) = storage::fsync_dir(&dir) {
            let _ = std::fs::remove_file(&final_path);
            return Err(Stop::failed(format!(
                "fsync of {} failed: {e}",
                dir.display()
            )));
        }
        self.timings.push(timing(phase::STORE, t));
        let stored = Stored {
            file_name,
            location: relative(&self.engine.data_dir, &final_path),
            size,
            sha256,
        };
        if let Err(e) = self.write_sidecar(&final_path, &stored, started_at, &target) {
            let _ = std::fs::remove_file(&final_path);
            let _ = std::fs::remove_file(storage::sidecar_path(&final_path));
            return Err(Stop::failed(format!("cannot write the metadata file: {e}")));
        }
        Ok(stored)
    }

    /// Runs `pg_dump -Fc` into `tmp`, following its `--verbose` output for progress, while
    /// [`decode_while_written`] reads the file as it grows and has `pg_restore` decode
    /// every entry and data block. Returns how many bytes were decoded.
    async fn dump(
        &mut self,
        handle: &mut JobHandle,
        ready: &Ready,
        target: &crate::config::TargetUrl,
        tmp: &Path,
        weights: &HashMap<String, i64>,
        expected_bytes: f64,
    ) -> Result<u64, Stop> {
        // The password goes through a 0600 password file, never the command line.
        let passfile = tmp.with_extension("pgpass");
        write_passfile(&passfile, target)
            .map_err(|e| Stop::failed(format!("cannot write the password file: {e}")))?;
        let _cleanup = RemoveOnDrop(passfile.clone());
        let mut child = Command::new(&ready.pg_dump.path)
            .arg("--format=custom")
            .arg("--verbose")
            .arg("--no-password")
            .arg(format!("--file={}", tmp.display()))
            .arg(format!("--host={}", target.host()))
            .arg(format!("--port={}", target.port()))
            .arg(format!("--username={}", target.user()))
            .arg(format!("--dbname={}", target.database()))
            .env_remove("PGPASSWORD")
            .env("PGPASSFILE", &passfile)
            .env("PGAPPNAME", "lifeboat")
            .env("LC_MESSAGES", "C")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                Stop::failed(format!(
                    "cannot start {}: {e}",
                    ready.pg_dump.path.display()
                ))
            })?;
        let Some(stderr) = child.stderr.take() else {
            return Err(Stop::failed("pg_dump's error output is not readable"));
        };
        let (written, written_rx) = tokio::sync::watch::channel(false);
        // Aborted (and its pg_restore killed) if the dump fails or is cancelled.
        let decoder = AbortOnDrop(tokio::spawn(decode_while_written(
            tmp.to_path_buf(),
            ready.pg_restore.path.clone(),
            written_rx,
        )));
        let mut lines = BufReader::new(stderr).lines();
        let mut output = String::new();
        let total: i64 = weights.values().sum::<i64>().max(1);
        let mut done_weight: i64 = 0;
        let mut current: Option<String> = None;
        let mut bytes_at_table_start: u64 = 0;
        let mut percent = DUMP_SPAN.0;
        let mut cancel = handle.cancel_signal();
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        let mut stderr_open = true;

        let status = loop {
            tokio::select! {
                line = lines.next_line(), if stderr_open => match line {
                    Ok(Some(line)) => {
                        if output.len() < MAX_TOOL_OUTPUT {
                            output.push_str(&line);
                            output.push('\n');
                        }
                        if let Some(table) = dumped_table(&line) {
                            if let Some(prev) = current.take() {
                                done_weight += weights.get(&prev).copied().unwrap_or(0);
                            }
                            bytes_at_table_start = std::fs::metadata(tmp).map(|m| m.len()).unwrap_or(0);
                            percent = percent.max(dump_percent(done_weight, 0, total, 0.0));
                            current = Some(table.clone());
                            let pct = percent;
                            handle.update(|j| { j.current_item = Some(table); j.percent = pct; }).await;
                        }
                    }
                    _ => stderr_open = false,
                },
                _ = tick.tick() => {
                    let bytes = std::fs::metadata(tmp).map(|m| m.len()).unwrap_or(0);
                    if let Some(cur) = &current {
                        // Inside the current table: its expected share of the archive,
                        // never past 95 % of it (the next table's start moves on).
                        let weight = weights.get(cur).copied().unwrap_or(0);
                        let share = expected_bytes * weight as f64 / total as f64;
                        let within = ((bytes - bytes_at_table_start.min(bytes)) as f64 / share.max(1.0)).min(0.95);
                        percent = percent.max(dump_percent(done_weight, weight, total, within));
                    }
                    let pct = percent;
                    handle.update(|j| { j.bytes_written = bytes as i64; j.percent = pct; }).await;
                }
                _ = cancel.changed() => {
                    if *cancel.borrow() {
                        let _ = child.kill().await;
                        self.tool_output = Some(output);
                        return Err(Stop::cancelled());
                    }
                }
                status = child.wait(), if !stderr_open => break status,
            }
        };
        self.tool_output = Some(output.clone());
        let status =
            status.map_err(|e| Stop::failed(format!("waiting for pg_dump failed: {e}")))?;
        let described = pgtools::describe_exit(status);
        self.exit_status = Some(described.clone());
        if !status.success() {
            let why = pgtools::error_lines(&output);
            return Err(Stop::failed(if why.is_empty() {
                format!("pg_dump {described}")
            } else {
                format!("pg_dump {described}: {why}")
            }));
        }
        let bytes = std::fs::metadata(tmp).map(|m| m.len() as i64).unwrap_or(0);
        handle
            .update(|j| {
                j.bytes_written = bytes;
                j.percent = DUMP_SPAN.1;
                j.current_item = Some("decoding the last blocks".into());
            })
            .await;
        let _ = written.send(true);
        let mut decoder = decoder;
        let decoded = (&mut decoder.0)
            .await
            .map_err(|e| Stop::failed(format!("verification failed: {e}")))?
            .map_err(|e| Stop::failed(format!("verification failed: {e}")))?;
        Ok(decoded)
    }

    /// The read-back: fsync, then one read of the stored bytes that hashes them (SHA-256),
    /// checks the header, and checks that the file is exactly as long as what was decoded
    /// while it was written (so nothing was cut off or appended since); then
    /// `pg_restore --list` checks the table of contents pg_dump rewrote at the end.
    async fn verify(
        &mut self,
        handle: &mut JobHandle,
        ready: &Ready,
        tmp: &Path,
        decoded: u64,
    ) -> Result<(i64, String), Stop> {
        storage::fsync_file(tmp)
            .map_err(|e| Stop::failed(format!("fsync of the dump failed: {e}")))?;
        let size = std::fs::metadata(tmp)
            .map_err(|e| Stop::failed(format!("the dump file is missing: {e}")))?
            .len();
        let mut file = tokio::fs::File::open(tmp)
            .await
            .map_err(|e| Stop::failed(format!("cannot read the dump back: {e}")))?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut read: u64 = 0;
        let mut last_report = Instant::now();
        loop {
            if handle.is_cancelled() {
                return Err(Stop::cancelled());
            }
            let n = file
                .read(&mut buf)
                .await
                .map_err(|e| Stop::failed(format!("reading the dump back failed: {e}")))?;
            if n == 0 {
                break;
            }
            if read == 0 {
                match archive::parse_header(&buf[..n]) {
                    Ok(h) => self.archive_version = Some(h.version()),
                    Err(e) => {
                        return Err(Stop::failed(format!(
                            "verification failed: the dump is not a valid archive: {e}"
                        )))
                    }
                }
            }
            hasher.update(&buf[..n]);
            read += n as u64;
            if last_report.elapsed() >= Duration::from_millis(250) {
                last_report = Instant::now();
                let pct = VERIFY_SPAN.0
                    + (VERIFY_SPAN.1 - VERIFY_SPAN.0) * (read as f64 / size.max(1) as f64);
                handle.update(|j| j.percent = pct).await;
            }
        }
        if read != size || read != decoded {
            return Err(Stop::failed(format!(
                "verification failed: the file has {read} bytes, but {decoded} were decoded while it was written"
            )));
        }
        pgtools::list_archive(&ready.pg_restore.path, tmp)
            .await
            .map_err(|e| Stop::failed(format!("verification failed: {e}")))?;
        Ok((size as i64, hex::encode(hasher.finalize())))
    }

    fn write_sidecar(
        &self,
        dump: &Path,
        stored: &Stored,
        started_at: DateTime<Utc>,
        target: &crate::config::TargetUrl,
    ) -> std::io::Result<()> {
        let sidecar = serde_json::json!({
            "format": "lifeboat-backup/1",
            "file": stored.file_name,
            "database": self.database,
            "kind": self.kind,
            "source": { "host": target.host(), "port": target.port(), "user": target.user() },
            "server_version": self.server_version,
            "pg_dump_version": self.pg_dump_version,
            "archive_version": self.archive_version,
            "size_bytes": stored.size,
            "sha256": stored.sha256,
            "started_at": started_at.to_rfc3339(),
            "finished_at": Utc::now().to_rfc3339(),
            "timings_ms": self.timings,
            "lifeboat_version": env!("CARGO_PKG_VERSION"),
        });
        let text = serde_json::to_vec_pretty(&sidecar).map_err(std::io::Error::other)?;
        storage::write_durably(&storage::sidecar_path(dump), &text)
    }

    /// Ends the job and its journal row together, and audits the outcome.
    async fn conclude(
        &self,
        mut handle: JobHandle,
        status: &'static str,
        message: String,
        stored: Option<Stored>,
    ) -> anyhow::Result<Job> {
        self.journal(status, &message, stored.as_ref()).await?;
        if stored.is_some() {
            handle.update(|j| j.current_item = None).await;
        } else {
            // A failed attempt leaves no file behind, and its row names none.
            handle
                .update(|j| {
                    j.file_name = None;
                    j.location = None;
                })
                .await;
        }
        let job = jobs::finish_job(
            handle,
            Outcome {
                status,
                message: message.clone(),
            },
        )
        .await?;
        self.audit(job.id, status, &message, stored.as_ref())
            .await?;
        self.check_for_alerts();
        if status == job_status::SUCCEEDED {
            crate::offsite::after_backup(&self.engine, self.backup_id);
        }
        Ok(job)
    }

    /// Consecutive failures, an abnormally small file, low space: checked in the
    /// background, never holding up the job.
    fn check_for_alerts(&self) {
        let engine = self.engine.clone();
        let database = self.database.clone();
        let backup_id = self.backup_id;
        tokio::spawn(async move {
            let dir = storage::database_dir(&engine.data_dir, &database);
            crate::alerts::after_backup(&engine.alerts, &engine.db, &database, backup_id, &dir)
                .await;
        });
    }

    /// Writes the outcome into the backup's journal row.
    async fn journal(
        &self,
        status: &str,
        message: &str,
        stored: Option<&Stored>,
    ) -> anyhow::Result<()> {
        let now = Utc::now();
        let duration_ms = self.started.elapsed().as_millis() as i64;
        sqlx::query(
            "UPDATE backups SET status = ?, message = ?, finished_at = ?, duration_ms = ?, file_name = ?, location = ?, size_bytes = ?, sha256 = ?, tool_output = ?, exit_status = ?, server_version = ?, pg_dump_version = ?, archive_version = ?, timings = ? WHERE id = ?",
        )
        .bind(status)
        .bind(message)
        .bind(now)
        .bind(duration_ms)
        .bind(stored.map(|s| s.file_name.clone()))
        .bind(stored.map(|s| s.location.clone()))
        .bind(stored.map(|s| s.size))
        .bind(stored.map(|s| s.sha256.clone()))
        .bind(&self.tool_output)
        .bind(&self.exit_status)
        .bind(&self.server_version)
        .bind(&self.pg_dump_version)
        .bind(&self.archive_version)
        .bind(serde_json::to_string(&self.timings).unwrap_or_else(|_| "[]".into()))
        .bind(self.backup_id)
        .execute(&self.engine.db)
        .await?;
        Ok(())
    }

    async fn audit(
        &self,
        job_id: i64,
        status: &str,
        message: &str,
        stored: Option<&Stored>,
    ) -> anyhow::Result<()> {
        audit::record(
            &self.engine.db,
            &self.origin,
            Entry {
                action: audit_action::BACKUP,
                target: Some(&self.database),
                outcome: if status == job_status::SUCCEEDED {
                    outcome::SUCCESS
                } else {
                    outcome::FAILURE
                },
                details: serde_json::json!({
                    "backup_id": self.backup_id,
                    "job_id": job_id,
                    "kind": self.kind,
                    "status": status,
                    "file": stored.map(|s| s.file_name.clone()),
                    "size_bytes": stored.map(|s| s.size),
                    "sha256": stored.map(|s| s.sha256.clone()),
                    "message": message,
                }),
            },
        )
        .await?;
        Ok(())
    }
}

/// The safety backup a restore takes first, inside the restore's job (shown as its
/// `safety_backup` phase between `lo` and `hi` %): the same preflight and pipeline as
/// any backup — dump while decoding, read back, hash, store, sidecar — journaled as kind
/// `safety`, pinned, and audited. The caller holds the database lock. Returns the
/// backup's id, or why it failed (a cancellation says so).
pub async fn safety_backup(
    engine: &Engine,
    origin: &Origin,
    handle: &mut JobHandle,
    lo: f64,
    hi: f64,
) -> Result<i64, (i64, String)> {
    let database = engine
        .target
        .as_ref()
        .map(|t| t.database())
        .unwrap_or_default();
    let kind = backup_kind::SAFETY;
    let started_at = Utc::now();
    let backup_id: i64 = sqlx::query_scalar(
        "INSERT INTO backups (job_id, database, kind, status, started_at, actor, pinned) VALUES (?, ?, ?, 'running', ?, ?, 1) RETURNING id",
    )
    .bind(handle.id)
    .bind(&database)
    .bind(kind)
    .bind(started_at)
    .bind(origin.actor.as_deref())
    .fetch_one(&engine.db)
    .await
    .map_err(|e| (0, format!("journal: {e}")))?;
    handle.begin_span(phase::SAFETY_BACKUP, lo, hi).await;
    handle
        .update(|j| {
            j.backup_id = Some(backup_id);
            j.current_item = Some("checking the configuration".into());
        })
        .await;
    let mut run = Run::new(engine, origin, kind, backup_id, database);
    let t0 = Instant::now();
    let result = match preflight(engine).await {
        Err(problems) => {
            run.timings.push(timing(phase::PREFLIGHT, t0));
            Err(Stop::failed(format!("invalid configuration: {problems}")))
        }
        Ok(ready) => {
            run.timings.push(timing(phase::PREFLIGHT, t0));
            run.server_version = Some(ready.server.version.clone());
            run.pg_dump_version = Some(ready.pg_dump.version.clone());
            run.pipeline(handle, &ready).await
        }
    };
    handle.end_span();
    // The pipeline registered its temporary file on the restore's job: a failed attempt
    // leaves none behind.
    if let Err(e) = handle.discard_temp_file().await {
        tracing::warn!(
            job = handle.id,
            "could not clear the safety backup's temporary file: {e}"
        );
    }
    let (status, message, stored) = match result {
        Ok(stored) => (
            job_status::SUCCEEDED,
            format!(
                "safety backup before a restore, verified: {} ({}), sha256 {}",
                stored.file_name,
                human_bytes(stored.size as u64),
                &stored.sha256[..12]
            ),
            Some(stored),
        ),
        Err(stop) if stop.status == job_status::CANCELLED => (
            job_status::CANCELLED,
            "Safety backup cancelled with its restore; its temporary file was removed.".into(),
            None,
        ),
        Err(stop) => (stop.status, stop.message, None),
    };
    let recorded = async {
        run.journal(status, &message, stored.as_ref()).await?;
        run.audit(handle.id, status, &message, stored.as_ref())
            .await
    }
    .await;
    if let Err(e) = recorded {
        return Err((
            backup_id,
            format!("could not journal the safety backup: {e:#}"),
        ));
    }
    match stored {
        Some(_) => Ok(backup_id),
        None => Err((backup_id, message)),
    }
}

fn placeholder_job(id: i64) -> Job {
    Job {
        id,
        kind: "backup".into(),
        status: job_status::FAILED.into(),
        phase: phase::PREFLIGHT.into(),
        percent: 0.0,
        current_item: None,
        bytes_written: 0,
        started_at: Utc::now(),
        finished_at: Some(Utc::now()),
        elapsed_ms: 0,
        database: String::new(),
        backup_id: None,
        restore_id: None,
        file_name: None,
        location: None,
        size_bytes: None,
        sha256: None,
        message: Some("the outcome could not be recorded; see the server log".into()),
        actor: None,
    }
}

/// Reads `tmp` while pg_dump writes it (waiting at the end of the file until `written`
/// says pg_dump is done) and feeds every byte to `pg_restore -f /dev/null`, which decodes
/// each entry and data block: a corrupt or truncated stream fails it. Returns the number
/// of bytes decoded. pg_dump writes the custom format sequentially and at the end only
/// rewrites the table of contents in place (same size), which [`Run::verify`] checks.
async fn decode_while_written(
    tmp: PathBuf,
    pg_restore: PathBuf,
    mut written: tokio::sync::watch::Receiver<bool>,
) -> Result<u64, String> {
    let mut file = loop {
        match tokio::fs::File::open(&tmp).await {
            Ok(f) => break f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if *written.borrow() {
                    return Err("pg_dump wrote no file".into());
                }
                let _ = tokio::time::timeout(Duration::from_millis(50), written.changed()).await;
            }
            Err(e) => return Err(format!("cannot read the dump while it is written: {e}")),
        }
    };
    let mut child = Command::new(&pg_restore)
        .arg("--file=/dev/null")
        .env("LC_MESSAGES", "C")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", pg_restore.display()))?;
    let (Some(mut stdin), Some(mut stderr)) = (child.stdin.take(), child.stderr.take()) else {
        return Err("pg_restore's pipes are not available".into());
    };
    let err_reader = tokio::spawn(async move {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s).await;
        s
    });
    let mut buf = vec![0u8; 1 << 20];
    let mut total: u64 = 0;
    let mut pipe_open = true;
    loop {
        // Read the flag first: an empty read after pg_dump finished is the real end.
        let finished = *written.borrow();
        let n = file
            .read(&mut buf)
            .await
            .map_err(|e| format!("reading the dump while it is written failed: {e}"))?;
        if n > 0 {
            total += n as u64;
            // pg_restore may stop early on a damaged archive: its exit status tells.
            if pipe_open && stdin.write_all(&buf[..n]).await.is_err() {
                pipe_open = false;
            }
            continue;
        }
        if finished {
            break;
        }
        if let Ok(Err(_)) =
            tokio::time::timeout(Duration::from_millis(100), written.changed()).await
        {
            return Err("the dump stopped".into());
        }
    }
    drop(stdin);
    let status = child
        .wait()
        .await
        .map_err(|e| format!("waiting for pg_restore failed: {e}"))?;
    let err = err_reader.await.unwrap_or_default();
    if !status.success() {
        return Err(format!(
            "pg_restore {}: {}",
            pgtools::describe_exit(status),
            pgtools::error_lines(&err)
        ));
    }
    Ok(total)
}

/// Aborts a task when dropped (its child processes are killed with it).
pub(crate) struct AbortOnDrop<T>(pub(crate) tokio::task::JoinHandle<T>);
impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

pub(crate) struct RemoveOnDrop(pub(crate) PathBuf);
impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

pub(crate) fn write_passfile(
    path: &Path,
    target: &crate::config::TargetUrl,
) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    let line = pgtools::passfile_line(
        &target.host(),
        target.port(),
        &target.database(),
        &target.user(),
        &target.password().unwrap_or_default(),
    );
    f.write_all(line.as_bytes())
}

fn relative(data_dir: &Path, p: &Path) -> String {
    p.strip_prefix(data_dir)
        .unwrap_or(p)
        .to_string_lossy()
        .to_string()
}

/// The overall percentage during the dump: tables done, plus `within` (0–1) of the one
/// being dumped, weighted by size.
fn dump_percent(done_weight: i64, current_weight: i64, total: i64, within: f64) -> f64 {
    let share = (done_weight as f64 + current_weight as f64 * within) / total.max(1) as f64;
    DUMP_SPAN.0 + (DUMP_SPAN.1 - DUMP_SPAN.0) * share.clamp(0.0, 1.0)
}

/// `pg_dump: dumping contents of table "public.orders"` → `public.orders`.
fn dumped_table(line: &str) -> Option<String> {
    let rest = line.split("dumping contents of table ").nth(1)?;
    Some(rest.trim().trim_matches('"').to_string())
}

/// Each table's share of the work: its size on disk (heap + TOAST), keyed like pg_dump
/// names them (`schema.table`).
async fn table_weights(target: &crate::config::TargetUrl) -> Result<HashMap<String, i64>, String> {
    let client = target::connect(target).await?;
    let rows = client
        .query(
            "SELECT n.nspname || '.' || c.relname, pg_table_size(c.oid)
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind IN ('r', 'm', 'p')
               AND n.nspname NOT IN ('pg_catalog', 'information_schema')
               AND n.nspname NOT LIKE 'pg_toast%'",
            &[],
        )
        .await
        .map_err(|e| target::describe(&e))?;
    Ok(rows
        .iter()
        .map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1).max(1)))
        .collect())
}

/// At start-up: backups whose process died mid-job are journaled as interrupted and
/// audited, and leftover temporary files removed — for every database no live process
/// holds the lock of.
pub async fn recover_at_startup(engine: &Engine) -> anyhow::Result<usize> {
    let data_dir = engine.data_dir.clone();
    let lock_free =
        move |db: &str| matches!(storage::try_lock_database(&data_dir, db), Ok(Some(_)));
    let n = recover_interrupted(engine, &lock_free).await?;
    for p in storage::remove_leftover_temp_files(&engine.data_dir, |component| {
        matches!(
            storage::try_lock_database(&engine.data_dir, component),
            Ok(Some(_))
        )
    }) {
        tracing::info!("removed leftover temporary file {}", p.display());
    }
    Ok(n)
}

/// Journals and audits the interrupted jobs of the databases `is_dead` accepts.
async fn recover_interrupted(
    engine: &Engine,
    is_dead: impl Fn(&str) -> bool,
) -> anyhow::Result<usize> {
    let interrupted = jobs::sweep_interrupted(&engine.db, is_dead).await?;
    for i in &interrupted {
        let restore = i.kind == "restore";
        let message = if restore {
            "interrupted: Lifeboat stopped while this restore was running; with a single transaction PostgreSQL rolled it back, otherwise roll back with its safety backup"
        } else {
            "interrupted: Lifeboat stopped while this backup was running; its temporary file was removed"
        };
        if let Some(bid) = i.backup_id {
            sqlx::query("UPDATE backups SET status = 'interrupted', message = ?, finished_at = ? WHERE id = ? AND status = 'running'")
                .bind(message)
                .bind(Utc::now())
                .bind(bid)
                .execute(&engine.db)
                .await?;
        }
        if restore {
            sqlx::query("UPDATE restores SET status = 'interrupted', message = ?, finished_at = ? WHERE job_id = ? AND status = 'running'")
                .bind(message)
                .bind(Utc::now())
                .bind(i.job_id)
                .execute(&engine.db)
                .await?;
        }
        let origin = Origin {
            actor: i.actor.clone(),
            ..Origin::default()
        };
        audit::record(
            &engine.db,
            &origin,
            Entry {
                action: if restore {
                    audit_action::RESTORE
                } else {
                    audit_action::BACKUP
                },
                target: Some(&i.database),
                outcome: outcome::FAILURE,
                details: serde_json::json!({
                    "backup_id": i.backup_id,
                    "job_id": i.job_id,
                    "status": job_status::INTERRUPTED,
                    "message": message,
                }),
            },
        )
        .await?;
    }
    if !interrupted.is_empty() {
        tracing::warn!(
            "{} job(s) were interrupted by the last shutdown",
            interrupted.len()
        );
    }
    Ok(interrupted.len())
}

/// Whether `kind` is one of the backup kinds.
pub fn valid_kind(kind: &str) -> bool {
    matches!(
        kind,
        backup_kind::MANUAL | backup_kind::SCHEDULED | backup_kind::SAFETY
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dump_percent_stays_within_the_dump_span_and_grows() {
        assert_eq!(dump_percent(0, 0, 100, 0.0), DUMP_SPAN.0);
        assert_eq!(dump_percent(100, 0, 100, 0.0), DUMP_SPAN.1);
        let a = dump_percent(20, 50, 100, 0.1);
        let b = dump_percent(20, 50, 100, 0.9);
        let next = dump_percent(70, 0, 100, 0.0);
        assert!(DUMP_SPAN.0 < a && a < b && b < next && next < DUMP_SPAN.1);
        assert_eq!(dump_percent(0, 0, 0, 0.0), DUMP_SPAN.0, "no tables");
    }

    #[test]
    fn table_names_come_out_of_pg_dump_verbose_lines() {
        assert_eq!(
            dumped_table("pg_dump: dumping contents of table \"public.orders\""),
            Some("public.orders".into())
        );
        assert_eq!(dumped_table("pg_dump: reading schemas"), None);
    }
}
