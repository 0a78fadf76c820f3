//! The backup job: preflight → dump → verify → store → done.
//!
//! A backup is only recorded as succeeded when `pg_dump` exited 0, every byte it wrote
//! was decoded (as the file grew, by Lifeboat or by `pg_restore`; its rows counted per
//! table on the way, for the proof of a later restore), the file was fsynced by Lifeboat
//! (pg_dump runs with `--no-sync`), read back in full and hashed (and found exactly as
//! long as what was decoded), its final table of contents listed by `pg_restore`, then
//! renamed into place, the directory fsynced, and the `.json` sidecar written the same
//! way. Every outcome — success, failure, cancel,
//! invalid configuration, interruption — ends with one journal row and one audit entry.

use super::dump_progress::{dump_percent, Sizes, DUMP_SPAN};
use super::preflight::{self, Ready};
use super::read_back::ReadBack;
use super::run::{self, AbortOnDrop, JobHandle, Outcome};
use super::watchdog::{self, Watchdog};
use super::Engine;
use crate::pgtools::child::Step;
use crate::pgtools::dump::dumped_table;
use crate::pgtools::rows::{self, RowCounts};
use crate::pgtools::{self, ChildError};
use crate::storage::{self, human_bytes, DatabaseLock};
use crate::store::audit::{self, Entry, Origin};
use crate::store::backups::{self as journal, BackupKind, BackupStatus, NewBackup, StoredFile};
use crate::store::jobs::{JobKind, JobStatus};
use crate::target::TargetUrl;
use app::api::{audit_action, outcome, phase, Job, PhaseTiming, StartedJob};
use chrono::{DateTime, Utc};
use std::path::Path;
use std::time::{Duration, Instant};
use tracing::Instrument;

/// Share of the overall percentage the verify phase covers (the dump's: [`DUMP_SPAN`]).
const VERIFY_SPAN: (f64, f64) = (85.0, 98.0);

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Busy(#[from] run::Busy),
    /// The preflight failed: journaled as a failed attempt and audited.
    #[error("invalid configuration: {message}")]
    InvalidConfiguration { job: Box<Job>, message: String },
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

run::job_error_conversions!(StartError);

/// Starts a backup of `target`: checks the configuration first (refusing with the
/// reason when it is wrong), then runs the job in the background. The returned task
/// resolves to the finished job.
pub async fn start(
    engine: &Engine,
    target: Option<&TargetUrl>,
    kind: BackupKind,
    origin: &Origin,
) -> Result<(StartedJob, tokio::task::JoinHandle<Job>), StartError> {
    let database = target
        .map(TargetUrl::database)
        .unwrap_or_else(|| "(none)".into());
    let lock = run::lock(engine, &database).await?;
    let actor = origin.actor.as_deref();
    let mut handle =
        run::create(engine, JobKind::Backup, &database, phase::PREFLIGHT, actor).await?;
    let inserted = journal::insert(
        &engine.db,
        &NewBackup {
            job_id: handle.id,
            database: &database,
            kind,
            started_at: handle.snapshot().started_at,
            actor,
            // A safety backup is a recovery point: retention never removes it.
            pinned: kind == BackupKind::Safety,
        },
    )
    .await;
    let backup_id = match inserted {
        Ok(id) => id,
        Err(e) => {
            // The job row is there (the database filled or locked in between): it ends
            // too, rather than stay `running` until the next start.
            let message = format!("cannot record the backup in the journal: {e}");
            let _ = run::finish_job(
                handle,
                Outcome {
                    status: JobStatus::Failed,
                    message,
                },
            )
            .await;
            return Err(e.into());
        }
    };
    let mut run = Run::new(engine, origin, kind, backup_id, database);
    let checked = run.preflight(&mut handle, target).await;
    let (ready, target) = match (checked, target) {
        (Ok(r), Some(t)) => (r, t.clone()),
        (Err(problems), _) => {
            let message = format!("invalid configuration: {problems}");
            let job = run
                .conclude(handle, JobStatus::Failed, message.clone(), None)
                .await?;
            return Err(StartError::InvalidConfiguration {
                job: Box::new(job),
                message: problems,
            });
        }
        (Ok(_), None) => return Err(anyhow::anyhow!("a preflight without a target").into()),
    };
    let job_id = handle.id;
    let span = handle.tracing_span();
    let task = engine
        .jobs
        .spawn(async move { run.execute(handle, ready, target, lock).await }.instrument(span));
    Ok((
        StartedJob {
            job_id,
            backup_id: Some(backup_id),
        },
        task,
    ))
}

/// Everything one backup run accumulates for its journal row.
struct Run {
    engine: Engine,
    origin: Origin,
    kind: BackupKind,
    backup_id: i64,
    database: String,
    started: Instant,
    timings: Vec<PhaseTiming>,
    tool_output: Option<String>,
    exit_status: Option<String>,
    server_version: Option<String>,
    pg_dump_version: Option<String>,
    /// Which pg_dump made it and why, and the compression it used (`gzip:1`).
    dump_client: Option<String>,
    compression: Option<String>,
    archive_version: Option<String>,
    /// The rows per table, counted while the archive was decoded.
    row_counts: Option<RowCounts>,
}

/// How a step failed: a message for people and, for cancellation, the status.
struct Stop {
    status: JobStatus,
    message: String,
}

impl Stop {
    fn failed(message: impl Into<String>) -> Stop {
        Stop {
            status: JobStatus::Failed,
            message: message.into(),
        }
    }
    fn cancelled() -> Stop {
        Stop {
            status: JobStatus::Cancelled,
            message: "Backup cancelled; its temporary file was removed.".into(),
        }
    }
}

/// The journal's status for a job's end.
fn journal_status(s: JobStatus) -> BackupStatus {
    match s {
        JobStatus::Succeeded => BackupStatus::Succeeded,
        JobStatus::Cancelled => BackupStatus::Cancelled,
        JobStatus::Interrupted => BackupStatus::Interrupted,
        JobStatus::Queued | JobStatus::Running => BackupStatus::Running,
        JobStatus::Failed => BackupStatus::Failed,
    }
}

impl Run {
    fn new(
        engine: &Engine,
        origin: &Origin,
        kind: BackupKind,
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
            dump_client: None,
            compression: None,
            archive_version: None,
            row_counts: None,
        }
    }

    /// Shows the job checking the configuration, runs the preflight, and notes its time
    /// and the versions it found.
    async fn preflight(
        &mut self,
        handle: &mut JobHandle,
        target: Option<&TargetUrl>,
    ) -> Result<Ready, String> {
        let backup_id = self.backup_id;
        handle
            .update(|j| {
                j.backup_id = Some(backup_id);
                j.current_item = Some("checking the configuration".into());
            })
            .await;
        let t0 = Instant::now();
        let checked = preflight::check(
            &self.engine.db,
            &self.engine.data_dir,
            self.engine.pg_bin_dir.as_deref(),
            target,
        )
        .await;
        self.timings.push(run::timing(phase::PREFLIGHT, t0));
        if let Ok(ready) = &checked {
            self.server_version = Some(ready.server.version.clone());
            self.pg_dump_version = Some(ready.pg_dump.version.clone());
            self.dump_client = Some(ready.dump_client.clone());
            self.compression = Some(self.engine.compression.to_string());
        }
        checked
    }

    async fn execute(
        mut self,
        mut handle: JobHandle,
        ready: Ready,
        target: TargetUrl,
        _lock: DatabaseLock,
    ) -> Job {
        let result = self.pipeline(&mut handle, &ready, &target).await;
        if result.is_ok() {
            // The crash-safety tests stop the process here: file and sidecar in place,
            // journal not yet updated (`recovery` adopts the file at the next start).
            super::fault::point(super::fault::AFTER_BACKUP_MOVE);
        }
        let (status, message, stored) = match result {
            Ok(stored) => (JobStatus::Succeeded, verified(&stored), Some(stored)),
            Err(stop) => (stop.status, stop.message, None),
        };
        if stored.is_none() {
            // The partial file goes before the journal is written: on a disk shared with
            // Lifeboat's database and filled by this dump, the space it held is what the
            // journal's write needs.
            if let Err(e) = handle.discard_temp_file().await {
                tracing::warn!(job = handle.id, "cannot clear the temporary file: {e}");
            }
        }
        let id = handle.id;
        match self.conclude(handle, status, message, stored).await {
            Ok(job) => job,
            Err(e) => {
                tracing::error!(job = id, "could not record the end of backup job: {e:#}");
                crate::store::jobs::load(&self.engine.db, id)
                    .await
                    .ok()
                    .flatten()
                    .unwrap_or_else(|| run::unrecorded(id, JobKind::Backup, ""))
            }
        }
    }

    async fn pipeline(
        &mut self,
        handle: &mut JobHandle,
        ready: &Ready,
        target: &TargetUrl,
    ) -> Result<StoredFile, Stop> {
        let started_at = handle.snapshot().started_at;
        let dir = storage::database_dir(&self.engine.data_dir, &self.database);
        // Two backups within one second must not share a name (a rename would replace
        // the first): add -2, -3, … when the name is taken.
        let mut file_name = storage::backup_file_name(started_at, self.kind.as_str());
        let mut n = 1;
        while dir.join(&file_name).exists() || storage::temp_path(&dir.join(&file_name)).exists() {
            n += 1;
            file_name = storage::backup_file_name(started_at, self.kind.as_str())
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
                j.location = Some(storage::relative(&self.engine.data_dir, &final_path));
                j.current_item = None;
            })
            .await;
        let dumped = self.dump(handle, ready, target, &tmp).await;
        self.timings.push(run::timing(phase::DUMP, t));
        let (decoded, read_back) = dumped?;
        // pg_dump created the archive with whatever umask Lifeboat runs with: private now,
        // before anything else happens to it.
        storage::private::make_private(&tmp)
            .map_err(|e| Stop::failed(format!("cannot make the backup file private: {e}")))?;

        // -- verify ----------------------------------------------------------------------
        let t = Instant::now();
        handle
            .update(|j| {
                j.phase = phase::VERIFY.into();
                j.percent = VERIFY_SPAN.0;
                j.current_item = Some("reading the archive back".into());
            })
            .await;
        let verified = self.verify(handle, decoded, read_back).await;
        self.timings.push(run::timing(phase::VERIFY, t));
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
                storage::private::shown(&self.engine.data_dir, &dir)
            )));
        }
        self.timings.push(run::timing(phase::STORE, t));
        let stored = StoredFile {
            file_name,
            location: storage::relative(&self.engine.data_dir, &final_path),
            size,
            sha256,
        };
        if let Err(e) = self.write_sidecar(handle.id, &final_path, &stored, started_at, target) {
            let _ = std::fs::remove_file(&final_path);
            let _ = std::fs::remove_file(storage::sidecar_path(&final_path));
            return Err(Stop::failed(format!("cannot write the metadata file: {e}")));
        }
        Ok(stored)
    }

    /// Runs `pg_dump -Fc` into `tmp`, following its `--verbose` output for progress, while
    /// `decode_while_written` reads the file as it grows and decodes every entry and
    /// data block. Returns how many bytes were decoded, and the read-back of the file
    /// (started when pg_dump closed it, or at its end).
    async fn dump(
        &mut self,
        handle: &mut JobHandle,
        ready: &Ready,
        target: &TargetUrl,
        tmp: &Path,
    ) -> Result<(u64, ReadBack), Stop> {
        let timeouts = self.engine.timeouts;
        let app_name = watchdog::application_name(handle.id, "pg_dump");
        // The password goes through a 0600 password file, never the command line.
        let compress = self.engine.compression.argument(ready.pg_dump.major);
        let running = pgtools::dump::start(
            &ready.pg_dump,
            target,
            tmp,
            tmp.with_extension("pgpass"),
            &pgtools::dump::Waiting {
                lock_wait: timeouts.lock_wait,
                application_name: &app_name,
            },
            &compress,
        )
        .map_err(|e| Stop::failed(e.to_string()))?;
        let mut watchdog = Watchdog::new(timeouts.stall);
        let (written, written_rx) = tokio::sync::watch::channel(false);
        // The read-back (with the fsync pg_dump leaves to Lifeboat, and `pg_restore
        // --list`) starts when pg_dump has closed the complete file, while the decoder
        // finishes its last blocks.
        let read_back = ReadBack::start(tmp, &ready.pg_restore.path, written_rx.clone());
        // Aborted if the dump fails or is cancelled: its pg_restore is killed, and its
        // decoding thread ends when `written` is dropped.
        let decoder = AbortOnDrop(tokio::spawn(pgtools::dump::decode_while_written(
            tmp.to_path_buf(),
            ready.pg_restore.path.clone(),
            written_rx,
            pgtools::custom::decodes(ready.pg_dump.major, self.engine.compression.method),
        )));
        // What advances the bar is learnt while pg_dump connects and reads the catalog.
        let mut sizing = AbortOnDrop(tokio::spawn(Sizes::learn(
            target.clone(),
            handle.cancel_signal(),
            self.engine.db.clone(),
            self.database.clone(),
        )));
        let mut sizes: Option<Sizes> = None;
        let unknown = Sizes::default();
        let mut done_tables: Vec<String> = Vec::new();
        let mut done_weight: i64 = 0;
        let mut current: Option<String> = None;
        let mut bytes_at_table_start: u64 = 0;
        let mut percent = DUMP_SPAN.0;
        let mut running = running
            .cancelled_by(handle.cancel_signal())
            .ticking(Duration::from_millis(250));
        let finished = loop {
            let step = match running.next().await {
                Ok(step) => step,
                Err(ChildError::Cancelled { stderr }) => {
                    self.tool_output = Some(stderr);
                    watchdog::end_session(target, &app_name).await;
                    return Err(Stop::cancelled());
                }
                Err(e) => return Err(Stop::failed(e.to_string())),
            };
            if sizes.is_none() && sizing.0.is_finished() {
                let known = (&mut sizing.0).await.unwrap_or_default();
                done_weight = done_tables.iter().map(|t| known.weight(t)).sum();
                sizes = Some(known);
            }
            let Sizes {
                total,
                expected_bytes,
                ..
            } = *sizes.as_ref().unwrap_or(&unknown);
            let weight = |table: &str| sizes.as_ref().map_or(0, |s| s.weight(table));
            match step {
                Step::Exited(f) => break f,
                Step::Line(line) => {
                    watchdog.line();
                    if let Some(table) = dumped_table(&line) {
                        if let Some(prev) = current.take() {
                            done_weight += weight(&prev);
                            done_tables.push(prev);
                        }
                        bytes_at_table_start = std::fs::metadata(tmp).map(|m| m.len()).unwrap_or(0);
                        percent = percent.max(dump_percent(done_weight, 0, total, 0.0));
                        current = Some(table.clone());
                        let pct = percent;
                        handle
                            .update(|j| {
                                j.current_item = Some(table);
                                j.percent = pct;
                            })
                            .await;
                    }
                }
                Step::Tick => {
                    let bytes = std::fs::metadata(tmp).map(|m| m.len()).unwrap_or(0);
                    watchdog.bytes(bytes);
                    if watchdog.stalled() {
                        let message = watchdog::stalled(target, &app_name, timeouts.stall).await;
                        self.tool_output = Some(running.kill().await);
                        watchdog::end_session(target, &app_name).await;
                        return Err(Stop::failed(message));
                    }
                    if let Some(cur) = &current {
                        // Inside the current table: its expected share of the archive,
                        // never past 95 % of it (the next table's start moves on).
                        let weight = weight(cur);
                        let share = expected_bytes * weight as f64 / total as f64;
                        let within = ((bytes - bytes_at_table_start.min(bytes)) as f64
                            / share.max(1.0))
                        .min(0.95);
                        percent = percent.max(dump_percent(done_weight, weight, total, within));
                    }
                    let pct = percent;
                    handle
                        .update(|j| {
                            j.bytes_written = bytes as i64;
                            j.percent = pct;
                        })
                        .await;
                }
            }
        };
        self.tool_output = Some(finished.stderr.clone());
        self.exit_status = Some(finished.described());
        if let Some(failure) = finished.failure() {
            let failure = watchdog::dump_failure(failure, &finished.stderr, timeouts.lock_wait);
            return Err(Stop::failed(failure));
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
        let mut cancel = handle.cancel_signal();
        // A cancel drops the decoder, which kills its pg_restore.
        let decoding = tokio::select! {
            decoding = &mut decoder.0 => decoding,
            () = cancel_requested(&mut cancel) => return Err(Stop::cancelled()),
        };
        let (decoded, counts) = decoding
            .map_err(|e| Stop::failed(format!("verification failed: {e}")))?
            .map_err(|e| Stop::failed(format!("verification failed: {e}")))?;
        self.row_counts = Some(counts);
        Ok((decoded, read_back))
    }

    /// The read-back awaited (one read of the stored bytes that hashes them with SHA-256
    /// and checks the header, an fsync, and `pg_restore --list` of the table of contents
    /// pg_dump rewrote at the end; see [`ReadBack`]), and the file found exactly as long as
    /// what was decoded while it was written (so nothing was cut off or appended since).
    async fn verify(
        &mut self,
        handle: &mut JobHandle,
        decoded: u64,
        mut read_back: ReadBack,
    ) -> Result<(i64, String), Stop> {
        let mut cancel = handle.cancel_signal();
        let mut every = tokio::time::interval(Duration::from_millis(250));
        let read = loop {
            tokio::select! {
                read = &mut read_back.task.0 => break read,
                () = cancel_requested(&mut cancel) => return Err(Stop::cancelled()),
                _ = every.tick() => {
                    let (done, size) = read_back.progress();
                    let pct = VERIFY_SPAN.0
                        + (VERIFY_SPAN.1 - VERIFY_SPAN.0) * (done as f64 / size.max(1) as f64);
                    handle.update(|j| j.percent = pct).await;
                }
            }
        };
        let done = read
            .map_err(|e| Stop::failed(format!("reading the dump back stopped: {e}")))?
            .map_err(Stop::failed)?;
        self.archive_version = Some(done.version);
        if done.digest.size != done.size || done.digest.size != decoded {
            return Err(Stop::failed(format!(
                "verification failed: the file has {} bytes, but {decoded} were decoded while it was written",
                done.digest.size
            )));
        }
        done.listed
            .map_err(|e| Stop::failed(format!("verification failed: {e}")))?;
        Ok((done.digest.size as i64, done.digest.sha256))
    }

    /// The sidecar names the journal row and job it belongs to: a file whose end was never
    /// journaled is adopted by them at the next start (`engine::adopt`).
    fn write_sidecar(
        &self,
        job_id: i64,
        dump: &Path,
        stored: &StoredFile,
        started_at: DateTime<Utc>,
        target: &TargetUrl,
    ) -> std::io::Result<()> {
        let sidecar = serde_json::json!({
            "format": "lifeboat-backup/1",
            "backup_id": self.backup_id,
            "job_id": job_id,
            "file": stored.file_name,
            "database": self.database,
            "kind": self.kind.as_str(),
            "source": { "host": target.host(), "port": target.port(), "user": target.user() },
            "server_version": self.server_version,
            "pg_dump_version": self.pg_dump_version,
            "client": self.dump_client,
            "compression": self.compression,
            "archive_version": self.archive_version,
            "size_bytes": stored.size,
            "sha256": stored.sha256,
            "started_at": started_at.to_rfc3339(),
            "finished_at": Utc::now().to_rfc3339(),
            "timings_ms": self.timings,
            "rows": self.row_counts.as_ref().map(rows::to_json),
            "lifeboat_version": env!("CARGO_PKG_VERSION"),
        });
        let text = serde_json::to_vec_pretty(&sidecar).map_err(std::io::Error::other)?;
        storage::write_durably(&storage::sidecar_path(dump), &text)
    }

    /// Ends the job and its journal row together, and audits the outcome.
    async fn conclude(
        &self,
        mut handle: JobHandle,
        status: JobStatus,
        message: String,
        stored: Option<StoredFile>,
    ) -> anyhow::Result<Job> {
        if message != storage::private::shown_text(&self.engine.data_dir, &message) {
            tracing::info!(job = handle.id, "backup ended: {message}");
        }
        let message = storage::private::shown_text(&self.engine.data_dir, &message);
        let journaled = self.journal(status, &message, stored.as_ref()).await;
        // The journal write failed (metadata disk full, database locked): the job still
        // ends, failed, with an alert; a stored file is adopted at the next start.
        let (status, message) = match &journaled {
            Ok(()) => (status, message),
            Err(e) => self.journal_failed(e, message, stored.as_ref()),
        };
        if stored.is_some() && journaled.is_ok() {
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
        let job = run::finish_job(
            handle,
            Outcome {
                status,
                message: message.clone(),
            },
        )
        .await?;
        let stored = stored.filter(|_| journaled.is_ok());
        let audited = self.audit(job.id, status, &message, stored.as_ref()).await;
        if journaled.is_err() {
            if let Err(e) = audited {
                tracing::error!(job = job.id, "could not audit the backup either: {e:#}");
            }
            return Ok(job);
        }
        audited?;
        super::checks::after_backup(&self.engine, &self.database, self.backup_id);
        if status == JobStatus::Succeeded {
            super::offsite_sync::after_backup(&self.engine, self.backup_id);
        }
        Ok(job)
    }

    /// The journal could not record how the backup ended: logged, alerted, and the job's
    /// status and message say so (failed; a stored file is adopted at the next start).
    fn journal_failed(
        &self,
        e: &anyhow::Error,
        message: String,
        stored: Option<&StoredFile>,
    ) -> (JobStatus, String) {
        tracing::error!(
            backup = self.backup_id,
            "cannot record the end of backup {} in the journal: {e:#}",
            self.backup_id
        );
        let message = match stored {
            Some(s) => format!(
                "The backup file {} is stored and verified, but Lifeboat's database could not record it ({e}). It is recorded at the next start of Lifeboat.",
                s.file_name
            ),
            None => format!("{message}; Lifeboat's database could not record this ({e})"),
        };
        self.engine.alerts.send(crate::alerts::Alert {
            event: crate::alerts::event::JOURNAL_FAILED,
            database: Some(self.database.clone()),
            title: format!(
                "Backup {} of {} could not be recorded",
                self.backup_id, self.database
            ),
            text: format!(
                "{message} Check the space and health of Lifeboat's data directory (its SQLite database)."
            ),
        });
        (JobStatus::Failed, message)
    }

    /// Writes the outcome into the backup's journal row.
    async fn journal(
        &self,
        status: JobStatus,
        message: &str,
        stored: Option<&StoredFile>,
    ) -> anyhow::Result<()> {
        let row_counts = stored
            .and(self.row_counts.as_ref())
            .map(|c| rows::to_json(c).to_string());
        journal::finish(
            &self.engine.db,
            self.backup_id,
            &journal::Outcome {
                status: journal_status(status),
                message,
                duration_ms: self.started.elapsed().as_millis() as i64,
                stored,
                tool_output: self
                    .tool_output
                    .as_deref()
                    .map(|o| storage::private::shown_text(&self.engine.data_dir, o))
                    .as_deref(),
                exit_status: self.exit_status.as_deref(),
                server_version: self.server_version.as_deref(),
                pg_dump_version: self.pg_dump_version.as_deref(),
                client: self.dump_client.as_deref(),
                compression: self.compression.as_deref(),
                archive_version: self.archive_version.as_deref(),
                timings: &self.timings,
                row_counts: row_counts.as_deref(),
            },
        )
        .await?;
        Ok(())
    }

    async fn audit(
        &self,
        job_id: i64,
        status: JobStatus,
        message: &str,
        stored: Option<&StoredFile>,
    ) -> anyhow::Result<()> {
        audit::record(
            &self.engine.db,
            &self.origin,
            Entry {
                action: audit_action::BACKUP,
                target: Some(&self.database),
                outcome: if status == JobStatus::Succeeded {
                    outcome::SUCCESS
                } else {
                    outcome::FAILURE
                },
                details: serde_json::json!({
                    "backup_id": self.backup_id,
                    "job_id": job_id,
                    "kind": self.kind.as_str(),
                    "status": status.as_str(),
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
    target: &TargetUrl,
    origin: &Origin,
    handle: &mut JobHandle,
    lo: f64,
    hi: f64,
) -> Result<i64, (i64, String)> {
    let database = target.database();
    let kind = BackupKind::Safety;
    let backup_id = journal::insert(
        &engine.db,
        &NewBackup {
            job_id: handle.id,
            database: &database,
            kind,
            started_at: Utc::now(),
            actor: origin.actor.as_deref(),
            pinned: true,
        },
    )
    .await
    .map_err(|e| (0, format!("journal: {e}")))?;
    handle.begin_span(phase::SAFETY_BACKUP, lo, hi).await;
    let mut run = Run::new(engine, origin, kind, backup_id, database);
    let result = match run.preflight(handle, Some(target)).await {
        Err(problems) => Err(Stop::failed(format!("invalid configuration: {problems}"))),
        Ok(ready) => run.pipeline(handle, &ready, target).await,
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
            JobStatus::Succeeded,
            format!("safety backup before a restore, {}", verified(&stored)),
            Some(stored),
        ),
        Err(stop) if stop.status == JobStatus::Cancelled => (
            JobStatus::Cancelled,
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

/// The journal's words for a stored, verified file.
fn verified(stored: &StoredFile) -> String {
    format!(
        "verified: {} ({}), sha256 {}",
        stored.file_name,
        human_bytes(stored.size as u64),
        &stored.sha256[..12]
    )
}

/// Resolves once the job's cancellation is asked for (never if its switch is gone).
async fn cancel_requested(cancel: &mut tokio::sync::watch::Receiver<bool>) {
    if cancel.wait_for(|c| *c).await.is_err() {
        std::future::pending::<()>().await;
    }
}
