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

use crate::audit::{self, Entry, Origin};
use crate::backups::{self, human_bytes, RemoveOnDrop, MAX_TOOL_OUTPUT};
use crate::config::TargetUrl;
use crate::engine::Engine;
use crate::jobs::{self, JobHandle, Outcome};
use crate::pgtools;
use crate::storage::{self, DatabaseLock};
use crate::target;
use crate::uploads;
use app::api::{
    audit_action, job_status, outcome, phase, Job, PhaseTiming, Restore, RestoreOptions,
    RestoreRequest, StartedRestore,
};
use chrono::Utc;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::Command;

const RESTORE_COLUMNS: &str = "id, job_id, database, source, upload_id, backup_id, file_name, sha256, safety_backup_id, status, message, tool_output, started_at, finished_at, duration_ms, actor, timings";

/// Shares of the overall percentage.
const CHECK_SPAN: (f64, f64) = (0.0, 3.0);
const SAFETY_SPAN: (f64, f64) = (3.0, 45.0);
const RESTORE_SPAN: (f64, f64) = (45.0, 96.0);

#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    NotFound(String),
    #[error("A backup or restore of {database} is already running.")]
    Busy {
        database: String,
        job_id: Option<i64>,
    },
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for RestoreError {
    fn from(e: sqlx::Error) -> Self {
        RestoreError::Internal(e.into())
    }
}

pub async fn get(db: &sqlx::SqlitePool, id: i64) -> sqlx::Result<Option<Restore>> {
    sqlx::query_as::<_, Restore>(&format!(
        "SELECT {RESTORE_COLUMNS} FROM restores WHERE id = ?"
    ))
    .bind(id)
    .fetch_optional(db)
    .await
}

/// What is restored.
struct Source {
    kind: &'static str,
    upload_id: Option<String>,
    backup_id: Option<i64>,
    file_name: String,
    path: PathBuf,
    sha256: String,
    size: i64,
}

async fn resolve(engine: &Engine, req: &RestoreRequest) -> Result<Source, RestoreError> {
    match (&req.upload_id, req.backup_id) {
        (Some(id), None) => {
            let up = uploads::ready(engine, id).await?.ok_or_else(|| {
                RestoreError::NotFound(format!(
                    "There is no validated upload {id}: it was refused, already restored, or it expired. Upload the file again."
                ))
            })?;
            Ok(Source {
                kind: "upload",
                upload_id: Some(up.id),
                backup_id: None,
                file_name: up.file_name,
                path: up.path,
                sha256: up.sha256,
                size: up.size,
            })
        }
        (None, Some(id)) => {
            let b = backups::get(&engine.db, id)
                .await?
                .ok_or_else(|| RestoreError::NotFound(format!("There is no backup {id}.")))?;
            let (Some(path), Some(sha256), Some(file_name), Some(size)) = (
                backups::file_path(engine, &b),
                b.sha256.clone(),
                b.file_name.clone(),
                b.size_bytes,
            ) else {
                return Err(RestoreError::Refused(format!(
                    "Backup {id} did not succeed ({}): there is no file to restore.",
                    b.status
                )));
            };
            if b.status != job_status::SUCCEEDED {
                return Err(RestoreError::Refused(format!(
                    "Backup {id} is {}: only successful backups can be restored.",
                    b.status
                )));
            }
            Ok(Source {
                kind: "backup",
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

/// Starts a restore: checks the request (the confirmation must be the target database's
/// name), takes the database's lock, then runs the job in the background. The returned
/// task resolves to the finished job.
pub async fn start(
    engine: &Engine,
    origin: &Origin,
    req: &RestoreRequest,
) -> Result<(StartedRestore, tokio::task::JoinHandle<Job>), RestoreError> {
    let Some(target) = engine.target.clone() else {
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
    let lock = match storage::try_lock_database(&engine.data_dir, &database) {
        Ok(Some(lock)) => lock,
        Ok(None) => {
            return Err(RestoreError::Busy {
                job_id: jobs::running_for(&engine.db, &database).await?,
                database,
            })
        }
        Err(e) => {
            return Err(RestoreError::Internal(anyhow::anyhow!(
                "cannot take the lock for {database}: {e}"
            )))
        }
    };
    let actor = origin.actor.as_deref();
    let mut handle = jobs::create(
        &engine.db,
        &engine.jobs,
        "restore",
        &database,
        phase::PREFLIGHT,
        actor,
    )
    .await?;
    let restore_id: i64 = sqlx::query_scalar(
        "INSERT INTO restores (job_id, database, source, upload_id, backup_id, file_name, sha256, status, options, started_at, actor) VALUES (?, ?, ?, ?, ?, ?, ?, 'running', ?, ?, ?) RETURNING id",
    )
    .bind(handle.id)
    .bind(&database)
    .bind(source.kind)
    .bind(&source.upload_id)
    .bind(source.backup_id)
    .bind(&source.file_name)
    .bind(&source.sha256)
    .bind(serde_json::to_string(&req.options).unwrap_or_else(|_| "{}".into()))
    .bind(handle.snapshot().started_at)
    .bind(actor)
    .fetch_one(&engine.db)
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
    let task = tokio::spawn(run.execute(handle, lock));
    Ok((StartedRestore { job_id, restore_id }, task))
}

struct Run {
    engine: Engine,
    origin: Origin,
    restore_id: i64,
    database: String,
    target: TargetUrl,
    source: Source,
    options: RestoreOptions,
    started: Instant,
    safety_backup_id: Option<i64>,
    tool_output: Option<String>,
    timings: Vec<PhaseTiming>,
}

struct Stop {
    status: &'static str,
    message: String,
}

impl Stop {
    fn failed(m: impl Into<String>) -> Stop {
        Stop {
            status: job_status::FAILED,
            message: m.into(),
        }
    }
}

impl Run {
    async fn execute(mut self, mut handle: JobHandle, _lock: DatabaseLock) -> Job {
        let result = self.pipeline(&mut handle).await;
        let (status, message) = match result {
            Ok(m) => (job_status::SUCCEEDED, m),
            Err(stop) => (stop.status, stop.message),
        };
        let id = handle.id;
        match self.conclude(handle, status, message).await {
            Ok(job) => job,
            Err(e) => {
                tracing::error!(job = id, "could not record the end of restore job: {e:#}");
                jobs::load(&self.engine.db, id)
                    .await
                    .ok()
                    .flatten()
                    .unwrap_or_else(|| Job {
                        id,
                        kind: "restore".into(),
                        status: job_status::FAILED.into(),
                        phase: phase::PREFLIGHT.into(),
                        percent: 0.0,
                        current_item: None,
                        bytes_written: 0,
                        started_at: Utc::now(),
                        finished_at: Some(Utc::now()),
                        elapsed_ms: 0,
                        database: self.database.clone(),
                        backup_id: self.safety_backup_id,
                        restore_id: Some(self.restore_id),
                        file_name: None,
                        location: None,
                        size_bytes: None,
                        sha256: None,
                        message: Some(
                            "the outcome could not be recorded; see the server log".into(),
                        ),
                        actor: self.origin.actor.clone(),
                    })
            }
        }
    }

    async fn pipeline(&mut self, handle: &mut JobHandle) -> Result<String, Stop> {
        // -- the file is still what was validated ------------------------------------------
        let t = Instant::now();
        let (sha, size) = hash_file(&self.source.path, handle).await.map_err(|e| {
            Stop::failed(format!(
                "cannot read {}: {e}; nothing was restored",
                self.source.file_name
            ))
        })?;
        if sha != self.source.sha256 || size != self.source.size as u64 {
            return Err(Stop::failed(format!(
                "{} has changed since it was recorded (sha256 {} expected, {} found): nothing was restored",
                self.source.file_name,
                short(&self.source.sha256),
                short(&sha)
            )));
        }
        let tool = pgtools::find("pg_restore", self.engine.pg_bin_dir.as_deref())
            .await
            .map_err(|e| Stop::failed(format!("{e}; nothing was restored")))?;
        let entries = count_entries(&tool.path, &self.source.path)
            .await
            .map_err(|e| Stop::failed(format!("{e}; nothing was restored")))?;
        self.timings.push(backups::timing(phase::PREFLIGHT, t));
        if handle.is_cancelled() {
            return Err(self.cancelled_before());
        }

        // -- safety backup ---------------------------------------------------------------
        let t = Instant::now();
        let safety = backups::safety_backup(
            &self.engine,
            &self.origin,
            handle,
            SAFETY_SPAN.0,
            SAFETY_SPAN.1,
        )
        .await;
        self.timings.push(backups::timing(phase::SAFETY_BACKUP, t));
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
        let _ = sqlx::query("UPDATE restores SET safety_backup_id = ? WHERE id = ?")
            .bind(self.safety_backup_id)
            .bind(self.restore_id)
            .execute(&self.engine.db)
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
        self.timings.push(backups::timing(phase::RESTORE, t));
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
        self.timings.push(backups::timing(phase::ANALYZE, t));
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
            status: job_status::CANCELLED,
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
        backups::write_passfile(&passfile, &self.target)
            .map_err(|e| Stop::failed(format!("cannot write the password file: {e}")))?;
        let _cleanup = RemoveOnDrop(passfile.clone());
        let mut cmd = Command::new(pg_restore);
        cmd.args(restore_args(&self.options))
            .arg(format!("--host={}", self.target.host()))
            .arg(format!("--port={}", self.target.port()))
            .arg(format!("--username={}", self.target.user()))
            .arg(format!("--dbname={}", self.target.database()))
            .arg(&self.source.path)
            .env_remove("PGPASSWORD")
            .env("PGPASSFILE", &passfile)
            .env("PGAPPNAME", "lifeboat")
            .env("LC_MESSAGES", "C")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .map_err(|e| Stop::failed(format!("cannot start {}: {e}", pg_restore.display())))?;
        let Some(stderr) = child.stderr.take() else {
            return Err(Stop::failed("pg_restore's error output is not readable"));
        };
        let mut lines = BufReader::new(stderr).lines();
        let mut output = String::new();
        let mut steps: u64 = 0;
        let total = entries.expected_steps().max(1);
        let mut cancel = handle.cancel_signal();
        let mut stderr_open = true;
        let status = loop {
            tokio::select! {
                line = lines.next_line(), if stderr_open => match line {
                    Ok(Some(line)) => {
                        if output.len() < MAX_TOOL_OUTPUT {
                            output.push_str(&line);
                            output.push('\n');
                        }
                        if let Some(item) = restore_step(&line) {
                            steps += 1;
                            let share = (steps as f64 / total as f64).min(0.99);
                            let pct = RESTORE_SPAN.0 + (RESTORE_SPAN.1 - RESTORE_SPAN.0) * share;
                            handle.update(|j| {
                                j.percent = pct;
                                j.current_item = Some(item);
                            }).await;
                        }
                    }
                    _ => stderr_open = false,
                },
                _ = cancel.changed() => {
                    if *cancel.borrow() {
                        let _ = child.kill().await;
                        self.tool_output = Some(output);
                        return Err(Stop {
                            status: job_status::CANCELLED,
                            message: if self.options.single_transaction {
                                "Restore cancelled during pg_restore: its transaction was rolled back and the database is as it was.".into()
                            } else {
                                "Restore cancelled during pg_restore, outside a single transaction: the database may be partly restored; roll back with the safety backup.".into()
                            },
                        });
                    }
                }
                status = child.wait(), if !stderr_open => break status,
            }
        };
        self.tool_output = Some(output.clone());
        let status =
            status.map_err(|e| Stop::failed(format!("waiting for pg_restore failed: {e}")))?;
        if !status.success() {
            let why = pgtools::error_lines(&output);
            let state = if self.options.single_transaction {
                "its transaction was rolled back: the database is as it was before"
            } else {
                "it ran outside a single transaction: the database may be partly restored; roll back with the safety backup"
            };
            return Err(Stop::failed(format!(
                "pg_restore {}: {why} — {state}",
                pgtools::describe_exit(status)
            )));
        }
        Ok(())
    }

    /// Ends the job and the journal row together, and audits the outcome.
    async fn conclude(
        &self,
        handle: JobHandle,
        status: &'static str,
        message: String,
    ) -> anyhow::Result<Job> {
        let duration_ms = self.started.elapsed().as_millis() as i64;
        sqlx::query(
            "UPDATE restores SET status = ?, message = ?, tool_output = ?, safety_backup_id = ?, finished_at = ?, duration_ms = ?, timings = ? WHERE id = ?",
        )
        .bind(status)
        .bind(&message)
        .bind(&self.tool_output)
        .bind(self.safety_backup_id)
        .bind(Utc::now())
        .bind(duration_ms)
        .bind(serde_json::to_string(&self.timings).unwrap_or_else(|_| "[]".into()))
        .bind(self.restore_id)
        .execute(&self.engine.db)
        .await?;
        if status == job_status::SUCCEEDED {
            if let Some(id) = &self.source.upload_id {
                uploads::mark_restored(&self.engine, id).await?;
            }
        }
        let job = jobs::finish_job(
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
                outcome: if status == job_status::SUCCEEDED {
                    outcome::SUCCESS
                } else {
                    outcome::FAILURE
                },
                details: serde_json::json!({
                    "restore_id": self.restore_id,
                    "job_id": job.id,
                    "source": self.source.kind,
                    "upload_id": self.source.upload_id,
                    "backup_id": self.source.backup_id,
                    "file": self.source.file_name,
                    "sha256": self.source.sha256,
                    "safety_backup_id": self.safety_backup_id,
                    "options": self.options,
                    "status": status,
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

/// The pg_restore options for these choices (connection options aside).
pub fn restore_args(o: &RestoreOptions) -> Vec<&'static str> {
    let mut args = vec!["--clean", "--if-exists", "--exit-on-error", "--verbose"];
    if o.single_transaction {
        args.push("--single-transaction");
    }
    if o.no_owner {
        args.push("--no-owner");
    }
    if o.no_acl {
        args.push("--no-acl");
    }
    args
}

/// How much pg_restore will report: with `--clean` every object is dropped, then created;
/// data entries are only loaded.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Entries {
    pub objects: u64,
    pub data: u64,
}

impl Entries {
    pub fn expected_steps(&self) -> u64 {
        2 * self.objects + self.data
    }
}

async fn count_entries(pg_restore: &Path, path: &Path) -> Result<Entries, String> {
    Ok(entries_of(&pgtools::list_archive(pg_restore, path).await?))
}

pub fn entries_of(list: &str) -> Entries {
    let mut e = Entries::default();
    for line in list.lines() {
        if let Some(entry) = crate::archive::toc_entry(line) {
            match entry.desc {
                "TABLE DATA"
                | "SEQUENCE SET"
                | "BLOBS"
                | "LARGE OBJECT"
                | "BLOB METADATA"
                | "MATERIALIZED VIEW DATA" => e.data += 1,
                _ => e.objects += 1,
            }
        }
    }
    e
}

/// A progress line of `pg_restore --verbose` → the object it names.
pub fn restore_step(line: &str) -> Option<String> {
    let rest = line.strip_prefix("pg_restore: ")?;
    for verb in [
        "dropping ",
        "creating ",
        "processing data for table ",
        "executing ",
    ] {
        if let Some(obj) = rest.strip_prefix(verb) {
            let what = match verb {
                "dropping " => "dropping",
                "processing data for table " => "loading",
                "executing " => "setting",
                _ => "creating",
            };
            return Some(format!("{what} {}", obj.trim()));
        }
    }
    None
}

/// Reads the file through, hashing it (and keeping the job alive on screen).
async fn hash_file(path: &Path, handle: &mut JobHandle) -> std::io::Result<(String, u64)> {
    let mut f = tokio::fs::File::open(path).await?;
    let total = f.metadata().await?.len().max(1);
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut read: u64 = 0;
    let mut last = Instant::now();
    loop {
        let n = f.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        read += n as u64;
        if last.elapsed() >= Duration::from_millis(250) {
            last = Instant::now();
            let pct = CHECK_SPAN.0 + (CHECK_SPAN.1 - CHECK_SPAN.0) * read as f64 / total as f64;
            handle.update(|j| j.percent = pct).await;
        }
    }
    Ok((hex::encode(hasher.finalize()), read))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_map_to_pg_restore_flags() {
        let d = restore_args(&RestoreOptions::default());
        assert!(d.contains(&"--single-transaction") && d.contains(&"--clean"));
        assert!(d.contains(&"--if-exists") && d.contains(&"--exit-on-error"));
        assert!(!d.contains(&"--no-owner"));
        let o = restore_args(&RestoreOptions {
            single_transaction: false,
            no_owner: true,
            no_acl: true,
            terminate_sessions: false,
        });
        assert!(!o.contains(&"--single-transaction"));
        assert!(o.contains(&"--no-owner") && o.contains(&"--no-acl"));
    }

    #[test]
    fn verbose_lines_name_the_object() {
        assert_eq!(
            restore_step("pg_restore: processing data for table \"public.orders\""),
            Some("loading \"public.orders\"".into())
        );
        assert_eq!(
            restore_step("pg_restore: creating INDEX \"public.orders_by_customer\""),
            Some("creating INDEX \"public.orders_by_customer\"".into())
        );
        assert_eq!(
            restore_step("pg_restore: connecting to database for restore"),
            None
        );
    }

    #[test]
    fn entries_split_objects_and_data() {
        let list = "; header\n215; 1259 16385 TABLE public customers postgres\n3350; 0 16385 TABLE DATA public customers postgres\n3351; 0 0 SEQUENCE SET public customers_id_seq postgres\n";
        let e = entries_of(list);
        assert_eq!(
            e,
            Entries {
                objects: 1,
                data: 2
            }
        );
        assert_eq!(e.expected_steps(), 4);
    }
}
