//! Restores: replace the target database's contents with a validated upload or a stored
//! backup. One job, in order:
//!
//! 1. the file's SHA-256 is checked against the journal (a changed file is refused);
//! 2. a **safety backup** of the current database, through the same pipeline as any
//!    backup (kind `safety`, pinned, verified) — if it fails, nothing is restored;
//! 3. `pg_restore --clean --if-exists --exit-on-error`, in a single transaction by
//!    default, so that a failure leaves the database exactly as it was;
//! 4. `ANALYZE`, so the planner has statistics for the new contents.
//!
//! Every restore is journaled (`restores`) and audited with the file, its checksum, the
//! safety backup and the outcome.

use super::run::{self, JobHandle, LockError, Outcome};
use super::{backup, upload, Engine};
use crate::pgtools::child::Step;
use crate::pgtools::restore::{count_entries, restore_step, Entries};
use crate::pgtools::{self, ChildError};
use crate::storage::digest::{Every, HashReader};
use crate::storage::{self, human_bytes, DatabaseLock};
use crate::store::audit::{self, Entry, Origin};
use crate::store::backups::BackupStatus;
use crate::store::jobs::{JobKind, JobStatus};
use crate::store::restores::{self as journal, NewRestore, RestoreStatus, Source};
use crate::target::{self, TargetUrl};
use app::api::{
    audit_action, outcome, phase, Job, PhaseTiming, RestoreOptions, RestoreRequest, StartedRestore,
};
use std::path::{Path, PathBuf};
use std::time::Instant;
use tracing::Instrument;

/// Shares of the overall percentage.
const CHECK_SPAN: (f64, f64) = (0.0, 3.0);
const SAFETY_SPAN: (f64, f64) = (3.0, 45.0);
const RESTORE_SPAN: (f64, f64) = (45.0, 96.0);

#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    /// The request cannot be done as asked; the reason says what to do.
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    NotFound(String),
    #[error(transparent)]
    Busy(#[from] run::Busy),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for RestoreError {
    fn from(e: sqlx::Error) -> Self {
        RestoreError::Internal(e.into())
    }
}

impl From<LockError> for RestoreError {
    fn from(e: LockError) -> Self {
        e.into_job_error()
    }
}

/// What is restored.
struct Restored {
    source: Source,
    upload_id: Option<String>,
    backup_id: Option<i64>,
    file_name: String,
    path: PathBuf,
    sha256: String,
    size: i64,
}

async fn resolve(engine: &Engine, req: &RestoreRequest) -> Result<Restored, RestoreError> {
    match (&req.upload_id, req.backup_id) {
        (Some(id), None) => {
            let up = upload::ready(engine, id).await?.ok_or_else(|| {
                RestoreError::NotFound(format!(
                    "There is no validated upload {id}: it was refused, already restored, or it expired. Upload the file again."
                ))
            })?;
            Ok(Restored {
                source: Source::Upload,
                upload_id: Some(up.id),
                backup_id: None,
                file_name: up.file_name,
                path: up.path,
                sha256: up.sha256,
                size: up.size,
            })
        }
        (None, Some(id)) => {
            let b = crate::store::backups::get(&engine.db, id)
                .await?
                .ok_or_else(|| RestoreError::NotFound(format!("There is no backup {id}.")))?;
            let (Some(path), Some(sha256), Some(file_name), Some(size)) = (
                engine.backup_path(b.location.as_deref()),
                b.sha256.clone(),
                b.file_name.clone(),
                b.size_bytes,
            ) else {
                return Err(RestoreError::Refused(format!(
                    "Backup {id} did not succeed ({}): there is no file to restore.",
                    b.status
                )));
            };
            if b.status != BackupStatus::Succeeded {
                return Err(RestoreError::Refused(format!(
                    "Backup {id} is {}: only successful backups can be restored.",
                    b.status
                )));
            }
            Ok(Restored {
                source: Source::Backup,
                upload_id: None,
                backup_id: Some(id),
                file_name,
                path,
                sha256,
                size,
            })
        }
        _ => Err(RestoreError::Refused(
            "Say what to restore: either upload_id or backup_id.".into(),
        )),
    }
}

/// Starts a restore into `target`: checks the request (the confirmation must be the
/// target database's name), takes the database's lock, then runs the job in the
/// background. The returned task resolves to the finished job.
pub async fn start(
    engine: &Engine,
    target: Option<&TargetUrl>,
    origin: &Origin,
    req: &RestoreRequest,
) -> Result<(StartedRestore, tokio::task::JoinHandle<Job>), RestoreError> {
    let Some(target) = target.cloned() else {
        return Err(RestoreError::Refused(
            "No target database is configured (set LIFEBOAT_TARGET_URL): there is nothing to restore into.".into(),
        ));
    };
    let database = target.database();
    if req.confirm != database {
        return Err(RestoreError::Refused(format!(
            "The confirmation does not match: type the name of the database to replace, {database}, exactly."
        )));
    }
    let source = resolve(engine, req).await?;
    let lock = run::lock(engine, &database).await?;
    let actor = origin.actor.as_deref();
    let mut handle =
        run::create(engine, JobKind::Restore, &database, phase::PREFLIGHT, actor).await?;
    let restore_id = journal::insert(
        &engine.db,
        &NewRestore {
            job_id: handle.id,
            database: &database,
            source: source.source,
            upload_id: source.upload_id.as_deref(),
            backup_id: source.backup_id,
            file_name: &source.file_name,
            sha256: &source.sha256,
            options: &req.options,
            started_at: handle.snapshot().started_at,
            actor,
        },
    )
    .await?;
    handle
        .update(|j| {
            j.restore_id = Some(restore_id);
            j.current_item = Some(format!("checking {}", source.file_name));
        })
        .await;
    let run = Run {
        engine: engine.clone(),
        origin: origin.clone(),
        restore_id,
        database,
        target,
        source,
        options: req.options.clone(),
        started: Instant::now(),
        safety_backup_id: None,
        tool_output: None,
        timings: vec![],
    };
    let job_id = handle.id;
    let span = handle.tracing_span();
    let task = tokio::spawn(run.execute(handle, lock).instrument(span));
    Ok((StartedRestore { job_id, restore_id }, task))
}

struct Run {
    engine: Engine,
    origin: Origin,
    restore_id: i64,
    database: String,
    target: TargetUrl,
    source: Restored,
    options: RestoreOptions,
    started: Instant,
    safety_backup_id: Option<i64>,
    tool_output: Option<String>,
    timings: Vec<PhaseTiming>,
}

struct Stop {
    status: JobStatus,
    message: String,
}

impl Stop {
    fn failed(m: impl Into<String>) -> Stop {
        Stop {
            status: JobStatus::Failed,
            message: m.into(),
        }
    }
}

/// The journal's status for a job's end.
fn journal_status(s: JobStatus) -> RestoreStatus {
    match s {
        JobStatus::Succeeded => RestoreStatus::Succeeded,
        JobStatus::Cancelled => RestoreStatus::Cancelled,
        JobStatus::Interrupted => RestoreStatus::Interrupted,
        JobStatus::Queued | JobStatus::Running => RestoreStatus::Running,
        JobStatus::Failed => RestoreStatus::Failed,
    }
}

impl Run {
    async fn execute(mut self, mut handle: JobHandle, _lock: DatabaseLock) -> Job {
        let result = self.pipeline(&mut handle).await;
        let (status, message) = match result {
            Ok(m) => (JobStatus::Succeeded, m),
            Err(stop) => (stop.status, stop.message),
        };
        let id = handle.id;
        match self.conclude(handle, status, message).await {
            Ok(job) => job,
            Err(e) => {
                tracing::error!(job = id, "could not record the end of restore job: {e:#}");
                crate::store::jobs::load(&self.engine.db, id)
                    .await
                    .ok()
                    .flatten()
                    .unwrap_or_else(|| {
                        let mut job = run::unrecorded(id, JobKind::Restore, &self.database);
                        job.backup_id = self.safety_backup_id;
                        job.restore_id = Some(self.restore_id);
                        job.actor = self.origin.actor.clone();
                        job
                    })
            }
        }
    }

    async fn pipeline(&mut self, handle: &mut JobHandle) -> Result<String, Stop> {
        // -- the file is still what was validated ------------------------------------------
        let t = Instant::now();
        let unreadable = |e: std::io::Error| {
            Stop::failed(format!(
                "cannot read {}: {e}; nothing was restored",
                self.source.file_name
            ))
        };
        let mut reader = HashReader::open(&self.source.path)
            .await
            .map_err(unreadable)?;
        let mut every = Every::default();
        while reader.next_block().await.map_err(unreadable)?.is_some() {
            if every.due() {
                let pct = CHECK_SPAN.0
                    + (CHECK_SPAN.1 - CHECK_SPAN.0) * reader.read() as f64
                        / reader.total().max(1) as f64;
                handle.update(|j| j.percent = pct).await;
            }
        }
        let digest = reader.finish();
        if digest.sha256 != self.source.sha256 || digest.size != self.source.size as u64 {
            return Err(Stop::failed(format!(
                "{} has changed since it was recorded (sha256 {} expected, {} found): nothing was restored",
                self.source.file_name,
                short(&self.source.sha256),
                short(&digest.sha256)
            )));
        }
        let tool = pgtools::find("pg_restore", self.engine.pg_bin_dir.as_deref())
            .await
            .map_err(|e| Stop::failed(format!("{e}; nothing was restored")))?;
        let entries = count_entries(&tool.path, &self.source.path)
            .await
            .map_err(|e| Stop::failed(format!("{e}; nothing was restored")))?;
        self.timings.push(run::timing(phase::PREFLIGHT, t));
        if handle.is_cancelled() {
            return Err(self.cancelled_before());
        }

        // -- safety backup ---------------------------------------------------------------
        let t = Instant::now();
        let safety = backup::safety_backup(
            &self.engine,
            &self.target,
            &self.origin,
            handle,
            SAFETY_SPAN.0,
            SAFETY_SPAN.1,
        )
        .await;
        self.timings.push(run::timing(phase::SAFETY_BACKUP, t));
        match safety {
            Ok(id) => self.safety_backup_id = Some(id),
            Err((id, why)) => {
                self.safety_backup_id = (id > 0).then_some(id);
                if handle.is_cancelled() {
                    return Err(self.cancelled_before());
                }
                return Err(Stop::failed(format!(
                    "the safety backup failed, so nothing was restored: {why}"
                )));
            }
        }
        let _ = journal::set_safety_backup(&self.engine.db, self.restore_id, self.safety_backup_id)
            .await;
        if handle.is_cancelled() {
            return Err(self.cancelled_before());
        }

        // -- restore ---------------------------------------------------------------------
        let t = Instant::now();
        handle
            .update(|j| {
                j.phase = phase::RESTORE.into();
                j.percent = RESTORE_SPAN.0;
                j.current_item = Some("connecting".into());
                j.backup_id = self.safety_backup_id;
            })
            .await;
        if self.options.terminate_sessions {
            match terminate_sessions(&self.target).await {
                Ok(0) => {}
                Ok(n) => tracing::info!("ended {n} other session(s) on {}", self.database),
                Err(e) => {
                    return Err(Stop::failed(format!(
                        "cannot end the other sessions on {}: {e}; nothing was restored (untick \u{201c}end other sessions\u{201d} to restore anyway)",
                        self.database
                    )))
                }
            }
        }
        let restored = self.pg_restore(handle, &tool.path, &entries).await;
        self.timings.push(run::timing(phase::RESTORE, t));
        restored?;

        // -- analyze ---------------------------------------------------------------------
        handle
            .update(|j| {
                j.phase = phase::ANALYZE.into();
                j.percent = RESTORE_SPAN.1;
                j.current_item = Some("ANALYZE".into());
            })
            .await;
        let t = Instant::now();
        let analyzed = analyze(&self.target).await;
        self.timings.push(run::timing(phase::ANALYZE, t));
        let mut message = format!(
            "restored {} ({}, sha256 {}) into {}",
            self.source.file_name,
            human_bytes(self.source.size as u64),
            short(&self.source.sha256),
            self.database
        );
        if let Err(e) = analyzed {
            message.push_str(&format!(
                "; ANALYZE failed ({e}): run it by hand for good query plans"
            ));
        }
        Ok(message)
    }

    fn cancelled_before(&self) -> Stop {
        Stop {
            status: JobStatus::Cancelled,
            message: "Restore cancelled before pg_restore started: nothing was restored.".into(),
        }
    }

    /// Runs pg_restore, following `--verbose` for progress against the entry counts.
    async fn pg_restore(
        &mut self,
        handle: &mut JobHandle,
        pg_restore: &Path,
        entries: &Entries,
    ) -> Result<(), Stop> {
        let dir = storage::database_dir(&self.engine.data_dir, &self.database);
        std::fs::create_dir_all(&dir)
            .map_err(|e| Stop::failed(format!("cannot create {}: {e}", dir.display())))?;
        let passfile = dir.join(format!("restore-{}.pgpass", self.restore_id));
        let mut steps: u64 = 0;
        let total = entries.expected_steps().max(1);
        let mut running = pgtools::restore::restore(
            pg_restore,
            &self.options,
            &self.target,
            &self.source.path,
            passfile,
            handle.cancel_signal(),
        )
        .map_err(|e| Stop::failed(e.to_string()))?;
        let finished = loop {
            let step = match running.next().await {
                Ok(step) => step,
                Err(ChildError::Cancelled { stderr }) => {
                    self.tool_output = Some(stderr);
                    return Err(Stop {
                        status: JobStatus::Cancelled,
                        message: if self.options.single_transaction {
                            "Restore cancelled during pg_restore: its transaction was rolled back and the database is as it was.".into()
                        } else {
                            "Restore cancelled during pg_restore, outside a single transaction: the database may be partly restored; roll back with the safety backup.".into()
                        },
                    });
                }
                Err(e) => return Err(Stop::failed(e.to_string())),
            };
            match step {
                Step::Exited(f) => break f,
                Step::Tick => {}
                Step::Line(line) => {
                    if let Some(item) = restore_step(&line) {
                        steps += 1;
                        let share = (steps as f64 / total as f64).min(0.99);
                        let pct = RESTORE_SPAN.0 + (RESTORE_SPAN.1 - RESTORE_SPAN.0) * share;
                        handle
                            .update(|j| {
                                j.percent = pct;
                                j.current_item = Some(item);
                            })
                            .await;
                    }
                }
            }
        };
        self.tool_output = Some(finished.stderr.clone());
        if let Some(failure) = finished.failure() {
            let state = if self.options.single_transaction {
                "its transaction was rolled back: the database is as it was before"
            } else {
                "it ran outside a single transaction: the database may be partly restored; roll back with the safety backup"
            };
            return Err(Stop::failed(format!("{failure} — {state}")));
        }
        Ok(())
    }

    /// Ends the job and the journal row together, and audits the outcome.
    async fn conclude(
        &self,
        handle: JobHandle,
        status: JobStatus,
        message: String,
    ) -> anyhow::Result<Job> {
        journal::finish(
            &self.engine.db,
            self.restore_id,
            &journal::Outcome {
                status: journal_status(status),
                message: &message,
                tool_output: self.tool_output.as_deref(),
                safety_backup_id: self.safety_backup_id,
                duration_ms: self.started.elapsed().as_millis() as i64,
                timings: &self.timings,
            },
        )
        .await?;
        if status == JobStatus::Succeeded {
            if let Some(id) = &self.source.upload_id {
                upload::mark_restored(&self.engine, id).await?;
            }
        }
        let job = run::finish_job(
            handle,
            Outcome {
                status,
                message: message.clone(),
            },
        )
        .await?;
        audit::record(
            &self.engine.db,
            &self.origin,
            Entry {
                action: audit_action::RESTORE,
                target: Some(&self.database),
                outcome: if status == JobStatus::Succeeded {
                    outcome::SUCCESS
                } else {
                    outcome::FAILURE
                },
                details: serde_json::json!({
                    "restore_id": self.restore_id,
                    "job_id": job.id,
                    "source": self.source.source.as_str(),
                    "upload_id": self.source.upload_id,
                    "backup_id": self.source.backup_id,
                    "file": self.source.file_name,
                    "sha256": self.source.sha256,
                    "safety_backup_id": self.safety_backup_id,
                    "options": self.options,
                    "status": status.as_str(),
                    "message": message,
                }),
            },
        )
        .await?;
        self.engine.alerts.send(crate::alerts::Alert {
            event: crate::alerts::event::RESTORE,
            database: Some(self.database.clone()),
            title: format!("Restore of {} {status}", self.database),
            text: format!(
                "{} restored {} (sha256 {}) over {}: {status}. {message}{}",
                self.origin.actor.as_deref().unwrap_or("someone"),
                self.source.file_name,
                short(&self.source.sha256),
                self.database,
                self.safety_backup_id
                    .map(|id| format!(" Safety backup: {id}."))
                    .unwrap_or_default()
            ),
        });
        Ok(job)
    }
}

/// Ends every other session connected to the target database. Returns how many.
async fn terminate_sessions(target: &TargetUrl) -> Result<i64, String> {
    let client = target::connect(target).await?;
    let row = client
        .query_one(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
            &[],
        )
        .await
        .map_err(|e| target::describe(&e))?;
    Ok(row.get::<_, i64>(0))
}

async fn analyze(target: &TargetUrl) -> Result<(), String> {
    let client = target::connect(target).await?;
    client
        .batch_execute("ANALYZE")
        .await
        .map_err(|e| target::describe(&e))
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}
