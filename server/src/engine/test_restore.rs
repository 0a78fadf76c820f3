//! Test restores: the proof that a backup restores, taken before anyone needs it.
//!
//! A backup (by default the newest successful one of the target database) is checked
//! against its recorded SHA-256, its rows counted per table, restored with
//! `pg_restore --jobs N --no-owner --no-acl` into a scratch database — on the target's
//! server, or on a separate verification server (`LIFEBOAT_VERIFY_URL`) — `ANALYZE`d and
//! its row counts compared with the archive's; the scratch database is dropped whatever
//! happened. The time it all took is the measured recovery time. Each test restore is
//! journaled (`test_restores`) and audited; a failed one raises an alert. They run on a
//! schedule (`LIFEBOAT_TEST_RESTORE_EVERY`, [`spawn_schedule`]), from the backup's page,
//! and from `lifeboat verify --restore ID`.

use super::restore::{follow_pg_restore, Followed, RestoreError};
use super::run::{self, JobHandle, Outcome};
use super::Engine;
use crate::databases;
use crate::pgtools::{self, restore::count_entries, rows, rows::count_rows};
use crate::storage::digest::hash_file;
use crate::storage::human_bytes;
use crate::store::audit::{self, Entry, Origin};
use crate::store::backups::{self, BackupStatus};
use crate::store::jobs::{JobKind, JobStatus};
use crate::store::test_restores::{self as journal, NewTestRestore, TestStatus};
use crate::target::TargetUrl;
use app::api::{audit_action, outcome, phase, Job, RestoreOptions, StartedTestRestore, TableProof};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tracing::Instrument;

/// Shares of the overall percentage.
const COUNT_SPAN: (f64, f64) = (0.0, 25.0);
const RESTORE_SPAN: (f64, f64) = (25.0, 92.0);

/// Starts a test restore of backup `backup_id` (`None`: the newest successful backup of
/// the target database) in the background. The returned task resolves to the finished job.
pub async fn start(
    engine: &Engine,
    backup_id: Option<i64>,
    origin: &Origin,
) -> Result<(StartedTestRestore, tokio::task::JoinHandle<Job>), RestoreError> {
    let Some(target) = engine.target.clone() else {
        return Err(RestoreError::Refused(
            "No target database is configured (set LIFEBOAT_TARGET_URL): there is no backup to test.".into(),
        ));
    };
    let database = target.database();
    let backup = match backup_id {
        Some(id) => backups::get(&engine.db, id)
            .await?
            .ok_or_else(|| RestoreError::NotFound(format!("There is no backup {id}.")))?,
        None => backups::last_success(&engine.db, &database)
            .await?
            .ok_or_else(|| {
                RestoreError::Refused(format!(
                    "There is no successful backup of {database} to test yet."
                ))
            })?,
    };
    if backup.status != BackupStatus::Succeeded {
        return Err(RestoreError::Refused(format!(
            "Backup {} is {}: only successful backups can be test-restored.",
            backup.id,
            backup.status.as_str()
        )));
    }
    let Some(file) = engine.backup_path(backup.location.as_deref()) else {
        return Err(RestoreError::Refused(format!(
            "Backup {} has no file recorded.",
            backup.id
        )));
    };
    let server = engine.verify_url.clone().unwrap_or(target);
    let actor = origin.actor.as_deref();
    // One test restore of a database at a time; the job is known by the lock's name (not
    // the live database's: backups and restores of it go on meanwhile).
    let lock_name = databases::tests_name(&backup.database);
    let lock = run::lock(engine, &lock_name).await?;
    let mut handle = run::create(
        engine,
        JobKind::TestRestore,
        &lock_name,
        phase::PREFLIGHT,
        actor,
    )
    .await?;
    // The scratch name holds the row's id: the row is written with a placeholder first.
    let id = journal::insert(
        &engine.db,
        &NewTestRestore {
            backup_id: backup.id,
            job_id: handle.id,
            database: &backup.database,
            server: &format!("{}:{}", server.host(), server.port()),
            scratch_database: "",
            started_at: handle.snapshot().started_at,
            actor,
        },
    )
    .await?;
    let scratch = databases::test_name(&backup.database, id);
    journal::set_scratch(&engine.db, id, &scratch).await?;
    handle
        .update(|j| {
            j.current_item = Some(format!("checking backup {}", backup.id));
        })
        .await;
    let trial = Trial {
        engine: engine.clone(),
        origin: origin.clone(),
        id,
        backup_id: backup.id,
        database: backup.database.clone(),
        file,
        sha256: backup.sha256.clone().unwrap_or_default(),
        server,
        scratch,
        started: Instant::now(),
        proof: vec![],
    };
    let job_id = handle.id;
    let span = handle.tracing_span();
    let task = engine.jobs.spawn(
        async move {
            let _lock = lock;
            trial.execute(handle).await
        }
        .instrument(span),
    );
    Ok((
        StartedTestRestore {
            job_id,
            test_restore_id: id,
        },
        task,
    ))
}

struct Trial {
    engine: Engine,
    origin: Origin,
    id: i64,
    backup_id: i64,
    database: String,
    file: PathBuf,
    sha256: String,
    /// The server restored on (its maintenance database is used).
    server: TargetUrl,
    scratch: String,
    started: Instant,
    proof: Vec<TableProof>,
}

impl Trial {
    async fn execute(mut self, mut handle: JobHandle) -> Job {
        let result = self.run(&mut handle).await;
        // Whatever happened, the scratch database goes.
        let dropped = match databases::maintenance(&self.server).await {
            Ok(client) => databases::drop_database(&client, &self.scratch).await,
            Err(e) => Err(e),
        };
        let (status, mut message) = match result {
            Ok(m) => (JobStatus::Succeeded, m),
            Err((status, m)) => (status, m),
        };
        if let Err(e) = dropped {
            message.push_str(&format!(" — {e}: drop {} by hand", self.scratch));
        }
        let id = handle.id;
        match self.conclude(handle, status, message).await {
            Ok(job) => job,
            Err(e) => {
                tracing::error!(
                    job = id,
                    "could not record the end of a test restore: {e:#}"
                );
                run::unrecorded(
                    id,
                    JobKind::TestRestore,
                    &databases::tests_name(&self.database),
                )
            }
        }
    }

    async fn run(&mut self, handle: &mut JobHandle) -> Result<String, (JobStatus, String)> {
        let failed = |m: String| (JobStatus::Failed, m);
        let cancelled = || (JobStatus::Cancelled, "Test restore cancelled.".to_string());
        // -- the file, its rows -----------------------------------------------------------
        let digest = hash_file(&self.file).await.map_err(|e| {
            failed(format!(
                "cannot read {}: {e}",
                crate::storage::private::shown(&self.engine.data_dir, &self.file)
            ))
        })?;
        if digest.sha256 != self.sha256 {
            return Err(failed(format!(
                "backup {} has changed since it was recorded (sha256 {} expected, {} found): it is not a restore point",
                self.backup_id,
                &self.sha256[..self.sha256.len().min(12)],
                &digest.sha256[..12]
            )));
        }
        let chosen =
            pgtools::choose::restorer(self.engine.pg_bin_dir.as_deref(), &self.file, &self.server)
                .await
                .map_err(failed)?;
        tracing::info!(test_restore = self.id, "{}", chosen.describe());
        let tool = chosen.chosen.tool.clone();
        let entries = count_entries(&tool.path, &self.file)
            .await
            .map_err(failed)?;
        handle
            .update(|j| {
                j.percent = COUNT_SPAN.0;
                j.current_item = Some("counting the archive's rows".into());
            })
            .await;
        // The rows its backup counted while decoding it; else decoded and counted now.
        let stored = backups::row_counts(&self.engine.db, self.backup_id)
            .await
            .map_err(|e| failed(format!("journal: {e}")))?
            .as_deref()
            .and_then(rows::from_json);
        let counts = match stored {
            Some(c) => c,
            None => count_rows(&tool.path, &self.file, handle.cancel_signal())
                .await
                .map_err(|e| {
                    if handle.is_cancelled() {
                        cancelled()
                    } else {
                        failed(format!("cannot count the archive's rows: {e}"))
                    }
                })?,
        };

        // -- restore into the scratch database -----------------------------------------------
        let maintenance = databases::maintenance(&self.server).await.map_err(failed)?;
        databases::drop_database(&maintenance, &self.scratch)
            .await
            .map_err(failed)?;
        databases::create_empty(&maintenance, &self.scratch)
            .await
            .map_err(|e| {
                failed(format!(
                    "{e} — test restores need a role that may create databases on {}:{}: grant it CREATEDB, set LIFEBOAT_VERIFY_URL to a server where it may, or set LIFEBOAT_TEST_RESTORE_EVERY=off",
                    self.server.host(),
                    self.server.port()
                ))
            })?;
        let into = self.server.with_database(&self.scratch);
        handle
            .update(|j| {
                j.phase = phase::RESTORE.into();
                j.percent = COUNT_SPAN.1;
                j.current_item = Some(format!("restoring into {}", self.scratch));
            })
            .await;
        let dir = crate::storage::database_dir(&self.engine.data_dir, &self.database);
        crate::storage::private::create_dir_all(&dir).map_err(|e| {
            failed(format!(
                "cannot create {}: {e}",
                crate::storage::private::shown(&self.engine.data_dir, &dir)
            ))
        })?;
        let options = RestoreOptions {
            no_owner: true,
            no_acl: true,
            ..RestoreOptions::default()
        };
        let running = pgtools::restore::restore_into_new(
            chosen.as_restorer(),
            &options,
            self.engine.restore_jobs,
            &into,
            &self.file,
            dir.join(format!("test-restore-{}.pgpass", self.id)),
            handle.cancel_signal(),
        )
        .map_err(|e| failed(e.to_string()))?;
        let (followed, _output) = follow_pg_restore(
            handle,
            running,
            entries.expected_steps_without_clean(),
            RESTORE_SPAN,
        )
        .await;
        match followed {
            Ok(()) => {}
            Err(Followed::Cancelled) => return Err(cancelled()),
            Err(Followed::Failed(why)) => {
                return Err(failed(format!(
                    "backup {} does not restore: {why}",
                    self.backup_id
                )))
            }
        }

        // -- the proof --------------------------------------------------------------------
        handle
            .update(|j| {
                j.phase = phase::ANALYZE.into();
                j.percent = RESTORE_SPAN.1;
                j.current_item = Some(format!("ANALYZE and counting the rows of {}", self.scratch));
            })
            .await;
        let proven = databases::prove(
            &into,
            &counts,
            self.engine.restore_jobs,
            &handle.cancel_signal(),
        )
        .await;
        if handle.is_cancelled() {
            return Err(cancelled());
        }
        self.proof = proven.map_err(failed)?;
        if let Some(d) = databases::differences(&self.proof) {
            return Err(failed(format!(
                "backup {} restored, but not as it was backed up: {d}",
                self.backup_id
            )));
        }
        let rows: i64 = self.proof.iter().map(|p| p.archive_rows).sum();
        Ok(format!(
            "backup {} restores: {} tables, {rows} rows as in the archive ({}), restored on {}:{} in {:.1} s",
            self.backup_id,
            self.proof.len(),
            human_bytes(digest.size),
            self.server.host(),
            self.server.port(),
            self.started.elapsed().as_secs_f64()
        ))
    }

    /// Ends the job and the journal row together, audits it, and alerts on a failure.
    async fn conclude(
        &self,
        handle: JobHandle,
        status: JobStatus,
        message: String,
    ) -> anyhow::Result<Job> {
        // The journal row and the audit log name files relative to the data directory,
        // like the job's message; the log keeps the message as it was.
        let shown = crate::storage::private::shown_text(&self.engine.data_dir, &message);
        if shown != message {
            tracing::info!(job = handle.id, "test restore ended: {message}");
        }
        let message = shown;
        let test_status = match status {
            JobStatus::Succeeded => TestStatus::Succeeded,
            JobStatus::Cancelled => TestStatus::Cancelled,
            JobStatus::Interrupted => TestStatus::Interrupted,
            _ => TestStatus::Failed,
        };
        let duration_ms = self.started.elapsed().as_millis() as i64;
        journal::finish(
            &self.engine.db,
            self.id,
            &journal::Outcome {
                status: test_status,
                message: &message,
                duration_ms,
                proof: &self.proof,
            },
        )
        .await?;
        // Audited before the job ends: whoever sees it end finds it in the log.
        let job_id = handle.id;
        let ok = status == JobStatus::Succeeded;
        audit::record(
            &self.engine.db,
            &self.origin,
            Entry {
                action: audit_action::TEST_RESTORE,
                target: Some(&self.database),
                outcome: if ok {
                    outcome::SUCCESS
                } else {
                    outcome::FAILURE
                },
                details: serde_json::json!({
                    "test_restore_id": self.id,
                    "backup_id": self.backup_id,
                    "job_id": job_id,
                    "server": format!("{}:{}", self.server.host(), self.server.port()),
                    "duration_ms": duration_ms,
                    "tables": self.proof.len(),
                    "rows": self.proof.iter().map(|p| p.archive_rows).sum::<i64>(),
                    "status": status.as_str(),
                    "message": message,
                }),
            },
        )
        .await?;
        let job = run::finish_job(
            handle,
            Outcome {
                status,
                message: message.clone(),
            },
        )
        .await?;
        if status == JobStatus::Failed {
            self.engine.alerts.send(crate::alerts::Alert {
                event: crate::alerts::event::TEST_RESTORE_FAILED,
                database: Some(self.database.clone()),
                title: format!("Test restore of a backup of {} failed", self.database),
                text: format!(
                    "Backup {} of {} could not be proven restorable: {message}",
                    self.backup_id, self.database
                ),
            });
        }
        Ok(job)
    }
}

/// Test-restores the newest successful backup of the target database whenever the last
/// test restore of one started longer than `LIFEBOAT_TEST_RESTORE_EVERY` ago (checked
/// often enough to be on time, at most every 10 minutes).
pub fn spawn_schedule(engine: Engine) -> Option<tokio::task::JoinHandle<()>> {
    let every = engine.test_restore_every?;
    let database = engine.database()?;
    let check = (every / 4).clamp(Duration::from_secs(1), Duration::from_secs(600));
    Some(tokio::spawn(async move {
        let origin = Origin::default().with_actor("scheduler");
        loop {
            tokio::time::sleep(check).await;
            if let Err(e) = due_run(&engine, &database, every, &origin).await {
                tracing::warn!("scheduled test restore: {e}");
            }
        }
    }))
}

/// Runs one test restore if one is due; waits for it to end.
async fn due_run(
    engine: &Engine,
    database: &str,
    every: Duration,
    origin: &Origin,
) -> Result<(), String> {
    let last = journal::newest_for_database(&engine.db, database)
        .await
        .map_err(|e| e.to_string())?;
    let due = match &last {
        None => true,
        Some(t) => {
            let age = chrono::Utc::now() - t.started_at;
            age.to_std().unwrap_or_default() >= every && t.status != TestStatus::Running.as_str()
        }
    };
    let newest = backups::last_success(&engine.db, database)
        .await
        .map_err(|e| e.to_string())?;
    if !due || newest.is_none() {
        return Ok(());
    }
    match start(engine, None, origin).await {
        Ok((_, task)) => {
            let _ = task.await;
            Ok(())
        }
        // A job of the same scratch name already runs: the next check sees it.
        Err(RestoreError::Busy(_)) => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}
