//! Restores: replace the target database's contents with a validated upload or a stored
//! backup, by one of three strategies ([`RestoreStrategy`]). One job, in order:
//!
//! 1. the file's SHA-256 is checked against the journal (a changed file is refused), and
//!    for a restore into a new database the archive's rows are counted per table;
//! 2. a **safety backup** of the current database, through the same pipeline as any
//!    backup (kind `safety`, pinned, verified) — if it fails, nothing is restored (a copy
//!    replaces nothing and needs none);
//! 3. `swap` and `copy` ([`new_db`]): `pg_restore --jobs N` into a new database created
//!    like the live one, `ANALYZE`, the proof (row counts against the archive's), then
//!    for `swap` the exchange of names; any failure drops the new database and the live
//!    one was never touched. `in_place`: `pg_restore --clean --if-exists
//!    --exit-on-error`, in a single transaction by default, then `ANALYZE`.
//!
//! Every restore is journaled (`restores`) and audited with the file, its checksum, the
//! strategy, the safety backup and the outcome. [`rollback`] swaps a swap restore back.

mod in_place;
pub mod kept;
mod new_db;
mod plan;
pub mod rollback;
pub mod swapping;

pub use plan::plan;

use super::run::{self, JobHandle, Outcome};
use super::{backup, upload, Engine};
use crate::databases;
use crate::pgtools::child::Step;
use crate::pgtools::restore::{count_entries, restore_step, Entries};
use crate::pgtools::rows::{self, RowCounts};
use crate::pgtools::{self, ChildError};
use crate::storage::digest::{Every, HashReader};
use crate::storage::{self, DatabaseLock};
use crate::store::audit::{self, Entry, Origin};
use crate::store::backups::BackupStatus;
use crate::store::jobs::{JobKind, JobStatus};
use crate::store::restores::{self as journal, NewRestore, RestoreStatus, Source};
use crate::target::TargetUrl;
use app::api::{
    audit_action, outcome, phase, Job, PhaseTiming, RestoreOptions, RestoreRequest, RestoreStart,
    RestoreStrategy, StartedRestore, TableProof,
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

run::job_error_conversions!(RestoreError);

/// What is restored.
struct Restored {
    source: Source,
    upload_id: Option<String>,
    backup_id: Option<i64>,
    file_name: String,
    path: PathBuf,
    sha256: String,
    size: i64,
    /// The rows per table its full decode counted (backup or upload validation), if any.
    counts: Option<RowCounts>,
}

async fn resolve(engine: &Engine, req: &RestoreRequest) -> Result<Restored, RestoreError> {
    match (&req.upload_id, req.backup_id) {
        (Some(id), None) => {
            let up = upload::ready(engine, id).await?.ok_or_else(|| {
                RestoreError::NotFound(format!(
                    "There is no validated upload {id}: it was refused, already restored, or it expired. Upload the file again."
                ))
            })?;
            let counts = crate::store::uploads::row_counts(&engine.db, &up.id)
                .await?
                .as_deref()
                .and_then(rows::from_json);
            Ok(Restored {
                counts,
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
                counts: crate::store::backups::row_counts(&engine.db, id)
                    .await?
                    .as_deref()
                    .and_then(rows::from_json),
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
    start: &RestoreStart,
) -> Result<(StartedRestore, tokio::task::JoinHandle<Job>), RestoreError> {
    let req = &start.request;
    let Some(target) = target.cloned() else {
        return Err(RestoreError::Refused(
            "No target database is configured (set LIFEBOAT_TARGET_URL): there is nothing to restore into.".into(),
        ));
    };
    let database = target.database();
    let copy_into = match (start.strategy, &start.new_database) {
        (Some(RestoreStrategy::Copy), Some(name)) => Some(name.as_str()),
        (Some(RestoreStrategy::Copy), None) => {
            return Err(RestoreError::Refused(
                "A copy needs the name of the new database: give new_database.".into(),
            ))
        }
        (_, Some(_)) => {
            return Err(RestoreError::Refused(
                "new_database is only for the copy strategy (\"strategy\": \"copy\").".into(),
            ))
        }
        _ => None,
    };
    let confirm = copy_into.unwrap_or(&database);
    if req.confirm != confirm {
        return Err(RestoreError::Refused(match copy_into {
            Some(name) => format!(
                "The confirmation does not match: type the name of the new database, {name}, exactly."
            ),
            None => format!(
                "The confirmation does not match: type the name of the database to replace, {database}, exactly."
            ),
        }));
    }
    let source = resolve(engine, req).await?;
    let (strategy, reason) = choose(&target, start.strategy, copy_into).await?;
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
            strategy: strategy.as_str(),
            strategy_reason: &reason,
            new_database: copy_into,
        },
    )
    .await?;
    let new_database = match strategy {
        RestoreStrategy::Swap => Some(databases::restore_name(&database, restore_id)),
        RestoreStrategy::Copy => copy_into.map(str::to_string),
        RestoreStrategy::InPlace => None,
    };
    if strategy == RestoreStrategy::Swap {
        journal::set_new_database(&engine.db, restore_id, new_database.as_deref()).await?;
    }
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
        strategy,
        new_database,
        started: Instant::now(),
        safety_backup_id: None,
        tool_output: None,
        timings: vec![],
        proof: vec![],
        kept_database: None,
        offline_ms: None,
        psql: None,
    };
    let job_id = handle.id;
    let span = handle.tracing_span();
    let task = engine
        .jobs
        .spawn(run.execute(handle, lock).instrument(span));
    Ok((
        StartedRestore {
            job_id,
            restore_id,
            strategy: Some(strategy.as_str().into()),
            strategy_reason: Some(reason),
        },
        task,
    ))
}

/// Which strategy runs, and why, in words: the one asked for if the server allows it,
/// else `swap` when the role may create databases and nothing ties the live one to its
/// name, else `in_place`.
async fn choose(
    target: &TargetUrl,
    asked: Option<RestoreStrategy>,
    copy_into: Option<&str>,
) -> Result<(RestoreStrategy, String), RestoreError> {
    let database = target.database();
    if asked == Some(RestoreStrategy::InPlace) {
        return Ok((RestoreStrategy::InPlace, "asked for".into()));
    }
    let caps = databases::capabilities(target).await.map_err(|e| {
        RestoreError::Refused(format!(
            "Cannot ask {database} what the restore may do ({e}); nothing was started."
        ))
    })?;
    if let Some(name) = copy_into {
        if !caps.may_create {
            return Err(RestoreError::Refused(format!(
                "The role Lifeboat connects with may not create databases (no CREATEDB): {name} cannot be created."
            )));
        }
        check_new_name(name)?;
        let maintenance = databases::maintenance(target)
            .await
            .map_err(RestoreError::Refused)?;
        if databases::exists(&maintenance, name)
            .await
            .map_err(RestoreError::Refused)?
        {
            return Err(RestoreError::Refused(format!(
                "A database {name} already exists: choose a new name (a copy never overwrites)."
            )));
        }
        return Ok((
            RestoreStrategy::Copy,
            format!("asked for: restored into the new database {name}; {database} is not touched"),
        ));
    }
    match (asked, caps.swap_refusal(&database)) {
        (Some(RestoreStrategy::Swap), Some(why)) => Err(RestoreError::Refused(format!(
            "A swap restore is not possible: {why}. A restore in place (\"strategy\": \"in_place\") is still possible."
        ))),
        (_, Some(why)) => Ok((RestoreStrategy::InPlace, format!("{why}: restoring in place"))),
        (Some(_), None) => Ok((RestoreStrategy::Swap, "asked for".into())),
        (None, None) => Ok((
            RestoreStrategy::Swap,
            "the role may create databases: restored into a new database, proven, then swapped in"
                .into(),
        )),
    }
}

/// A copy's name: a plain identifier PostgreSQL keeps whole, not one Lifeboat uses.
fn check_new_name(name: &str) -> Result<(), RestoreError> {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !plain || name.len() > 63 {
        return Err(RestoreError::Refused(format!(
            "`{name}` is not a usable database name: use lowercase letters, digits and _, starting with a letter, at most 63 characters."
        )));
    }
    if name.contains("__lifeboat_") {
        return Err(RestoreError::Refused(format!(
            "`{name}` is a name Lifeboat uses for its own databases: choose another."
        )));
    }
    Ok(())
}

struct Run {
    engine: Engine,
    origin: Origin,
    restore_id: i64,
    database: String,
    target: TargetUrl,
    source: Restored,
    options: RestoreOptions,
    strategy: RestoreStrategy,
    /// The database restored into (swap, copy).
    new_database: Option<String>,
    started: Instant,
    safety_backup_id: Option<i64>,
    tool_output: Option<String>,
    timings: Vec<PhaseTiming>,
    proof: Vec<TableProof>,
    kept_database: Option<String>,
    offline_ms: Option<i64>,
    /// The psql pg_restore's script goes through, when the server rejects what it sends
    /// first (see `pgtools::choose`).
    psql: Option<PathBuf>,
}

struct Stop {
    status: JobStatus,
    message: String,
}

/// How following pg_restore ended, when it did not succeed.
pub(crate) enum Followed {
    Cancelled,
    /// What failed, in words.
    Failed(String),
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
    async fn execute(mut self, mut handle: JobHandle, lock: DatabaseLock) -> Job {
        let result = self.pipeline(&mut handle).await;
        let (status, message) = match result {
            Ok(m) => (JobStatus::Succeeded, m),
            Err(stop) => (stop.status, stop.message),
        };
        let id = handle.id;
        let concluded = self.conclude(handle, status, message).await;
        // The restore is over: the next backup or restore of the database may start.
        drop(lock);
        if let (JobStatus::Succeeded, Some(kept)) = (status, &self.kept_database) {
            // Nobody can write to it any more: back up its last state.
            kept::start_final_backup(&self.engine, &self.target, &self.origin, kept).await;
        }
        match concluded {
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
        let t = Instant::now();
        let (tool, entries) = self.check_file(handle).await?;
        if self.strategy == RestoreStrategy::InPlace {
            self.timings.push(run::timing(phase::PREFLIGHT, t));
            if handle.is_cancelled() {
                return Err(self.cancelled_before());
            }
            return self.in_place_kept_out(handle, &tool.path, &entries).await;
        }
        // Counted when the file was decoded in full before (a backup, an upload's
        // validation); else decoded and counted now.
        let counts = match self.source.counts.take() {
            Some(c) => c,
            None => self.count_rows(handle, &tool.path).await?,
        };
        self.timings.push(run::timing(phase::PREFLIGHT, t));
        if handle.is_cancelled() {
            return Err(self.cancelled_before());
        }
        if self.strategy == RestoreStrategy::Swap {
            self.safety(handle).await?;
        }
        self.restore_into_new_database(handle, &tool.path, &entries, &counts)
            .await
    }

    /// Checks that the file is still what was validated, finds pg_restore and reads the
    /// archive's table of contents.
    async fn check_file(
        &mut self,
        handle: &mut JobHandle,
    ) -> Result<(pgtools::Tool, Entries), Stop> {
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
        let digest = reader.finish().map_err(unreadable)?;
        if digest.sha256 != self.source.sha256 || digest.size != self.source.size as u64 {
            return Err(Stop::failed(format!(
                "{} has changed since it was recorded (sha256 {} expected, {} found): nothing was restored",
                self.source.file_name,
                short(&self.source.sha256),
                short(&digest.sha256)
            )));
        }
        let chosen = pgtools::choose::restorer(
            self.engine.pg_bin_dir.as_deref(),
            &self.source.path,
            &self.target,
        )
        .await
        .map_err(|e| Stop::failed(format!("{e}; nothing was restored")))?;
        tracing::info!(restore = self.restore_id, "{}", chosen.describe());
        self.psql = chosen.psql.clone();
        let tool = chosen.chosen.tool;
        let entries = count_entries(&tool.path, &self.source.path)
            .await
            .map_err(|e| Stop::failed(format!("{e}; nothing was restored")))?;
        Ok((tool, entries))
    }

    /// Counts the archive's rows per table (a full decode), for the proof.
    async fn count_rows(
        &mut self,
        handle: &mut JobHandle,
        pg_restore: &Path,
    ) -> Result<RowCounts, Stop> {
        handle
            .update(|j| j.current_item = Some("counting the archive's rows".into()))
            .await;
        crate::pgtools::rows::count_rows(pg_restore, &self.source.path, handle.cancel_signal())
            .await
            .map_err(|e| {
                if handle.is_cancelled() {
                    self.cancelled_before()
                } else {
                    Stop::failed(format!(
                        "cannot count the rows in {}: {e}; nothing was restored",
                        self.source.file_name
                    ))
                }
            })
    }

    /// The safety backup of the live database; nothing is restored without it.
    async fn safety(&mut self, handle: &mut JobHandle) -> Result<(), Stop> {
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
        Ok(())
    }

    fn cancelled_before(&self) -> Stop {
        Stop {
            status: JobStatus::Cancelled,
            message: "Restore cancelled before pg_restore started: nothing was restored.".into(),
        }
    }

    /// Where pg_restore's password file goes for this restore.
    fn passfile(&self) -> Result<PathBuf, Stop> {
        let dir = storage::database_dir(&self.engine.data_dir, &self.database);
        storage::private::create_dir_all(&dir).map_err(|e| {
            Stop::failed(format!(
                "cannot create {}: {e}",
                storage::private::shown(&self.engine.data_dir, &dir)
            ))
        })?;
        Ok(dir.join(format!("restore-{}.pgpass", self.restore_id)))
    }

    /// Follows a running pg_restore to its end (see [`follow_pg_restore`]), keeping its
    /// output for the journal.
    async fn follow(
        &mut self,
        handle: &mut JobHandle,
        running: pgtools::child::Running,
        total: u64,
    ) -> Result<(), Followed> {
        let (followed, output) = follow_pg_restore(handle, running, total, RESTORE_SPAN).await;
        if output.is_some() {
            self.tool_output = output;
        }
        followed
    }

    /// Ends the job and the journal row together, and audits the outcome.
    async fn conclude(
        &self,
        handle: JobHandle,
        status: JobStatus,
        message: String,
    ) -> anyhow::Result<Job> {
        let shown = |text: &str| storage::private::shown_text(&self.engine.data_dir, text);
        if message != shown(&message) {
            tracing::info!(job = handle.id, "restore ended: {message}");
        }
        let message = shown(&message);
        journal::finish(
            &self.engine.db,
            self.restore_id,
            &journal::Outcome {
                status: journal_status(status),
                message: &message,
                tool_output: self.tool_output.as_deref().map(shown).as_deref(),
                safety_backup_id: self.safety_backup_id,
                duration_ms: self.started.elapsed().as_millis() as i64,
                timings: &self.timings,
                proof: &self.proof,
                kept_database: self.kept_database.as_deref(),
                offline_ms: self.offline_ms,
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
                    "strategy": self.strategy.as_str(),
                    "new_database": self.new_database,
                    "kept_database": self.kept_database,
                    "offline_ms": self.offline_ms,
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

/// Follows a running pg_restore to its end: each object it names moves the progress bar
/// through `span` (of `total` objects expected). Returns how it ended and its output.
pub(crate) async fn follow_pg_restore(
    handle: &mut JobHandle,
    mut running: pgtools::child::Running,
    total: u64,
    span: (f64, f64),
) -> (Result<(), Followed>, Option<String>) {
    let total = total.max(1);
    let mut steps: u64 = 0;
    let finished = loop {
        let step = match running.next().await {
            Ok(step) => step,
            Err(ChildError::Cancelled { stderr }) => {
                return (Err(Followed::Cancelled), Some(stderr));
            }
            Err(e) => return (Err(Followed::Failed(e.to_string())), None),
        };
        match step {
            Step::Exited(f) => break f,
            Step::Tick => {}
            Step::Line(line) => {
                if let Some(item) = restore_step(&line) {
                    steps += 1;
                    let share = (steps as f64 / total as f64).min(0.99);
                    let pct = span.0 + (span.1 - span.0) * share;
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
    let result = match finished.failure() {
        Some(failure) => Err(Followed::Failed(failure)),
        None => Ok(()),
    };
    (result, Some(finished.stderr))
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}
