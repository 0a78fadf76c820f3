//! `in_place`: `pg_restore --clean` over the live database, in one transaction by
//! default, with the application kept out from before the safety backup to the end.

use super::{Followed, Run, Stop, RESTORE_SPAN};
use crate::databases;
use crate::engine::run::{self, JobHandle};
use crate::pgtools;
use crate::pgtools::restore::Entries;
use crate::storage::human_bytes;
use crate::store::jobs::JobStatus;
use crate::store::restores as journal;
use crate::target::{self, TargetUrl};
use app::api::phase;
use std::path::Path;
use std::time::Instant;

impl Run {
    /// In place: the application is kept out from before the safety backup to the end
    /// of the restore (whatever its outcome), so that no write is made after the safety
    /// snapshot and then wiped by the restore.
    pub(super) async fn in_place_kept_out(
        &mut self,
        handle: &mut JobHandle,
        pg_restore: &Path,
        entries: &Entries,
    ) -> Result<String, Stop> {
        if !self.options.terminate_sessions {
            self.safety(handle).await?;
            return self.in_place(handle, pg_restore, entries).await;
        }
        handle
            .update(|j| {
                j.current_item = Some(format!("keeping other sessions out of {}", self.database))
            })
            .await;
        let gate = databases::keep_out(&self.target).await.map_err(|e| {
            Stop::failed(format!(
                "{e}; nothing was restored (untick \u{201c}end other sessions\u{201d} to restore without keeping the application out)"
            ))
        })?;
        // Journaled, so that a restart after a crash gives the rights back too.
        let _ = journal::set_gate(&self.engine.db, self.restore_id, Some(&gate.grants)).await;
        let result = match self.safety(handle).await {
            Ok(()) => self.in_place(handle, pg_restore, entries).await,
            Err(stop) => Err(stop),
        };
        match databases::let_in(&self.target, &gate).await {
            Ok(()) => {
                let _ = journal::set_gate(&self.engine.db, self.restore_id, None).await;
                result
            }
            Err(e) => {
                let (status, done) = match result {
                    Ok(m) => (JobStatus::Failed, m),
                    Err(stop) => (stop.status, stop.message),
                };
                Err(Stop {
                    status,
                    message: format!(
                        "{done}; but the application could not be let back in: {e} (give CONNECT on {} back by hand)",
                        self.database
                    ),
                })
            }
        }
    }

    /// `pg_restore --clean` over the live database, then `ANALYZE`.
    async fn in_place(
        &mut self,
        handle: &mut JobHandle,
        pg_restore: &Path,
        entries: &Entries,
    ) -> Result<String, Stop> {
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
        let restored = self.pg_restore(handle, pg_restore, entries).await;
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
        let analyzed = analyze(&self.target, &mut handle.cancel_signal()).await;
        self.timings.push(run::timing(phase::ANALYZE, t));
        let mut message = format!(
            "restored {} ({}, sha256 {}) into {}",
            self.source.file_name,
            human_bytes(self.source.size as u64),
            super::short(&self.source.sha256),
            self.database
        );
        if let Err(e) = analyzed {
            message.push_str(&format!(
                "; ANALYZE failed ({e}): run it by hand for good query plans"
            ));
        }
        Ok(message)
    }

    /// Runs pg_restore over the live database, following `--verbose` for progress against
    /// the entry counts.
    async fn pg_restore(
        &mut self,
        handle: &mut JobHandle,
        pg_restore: &Path,
        entries: &Entries,
    ) -> Result<(), Stop> {
        let passfile = self.passfile()?;
        let running = pgtools::restore::restore(
            pgtools::restore::Restorer {
                pg_restore,
                psql: self.psql.as_deref(),
            },
            &self.options,
            &self.target,
            &self.source.path,
            passfile,
            handle.cancel_signal(),
        )
        .map_err(|e| Stop::failed(e.to_string()))?;
        match self.follow(handle, running, entries.expected_steps()).await {
            Ok(()) => Ok(()),
            Err(Followed::Cancelled) => Err(Stop {
                status: JobStatus::Cancelled,
                message: if self.options.single_transaction {
                    "Restore cancelled during pg_restore: its transaction was rolled back and the database is as it was.".into()
                } else {
                    "Restore cancelled during pg_restore, outside a single transaction: the database may be partly restored; roll back with the safety backup.".into()
                },
            }),
            Err(Followed::Failed(failure)) => {
                let state = if self.options.single_transaction {
                    "its transaction was rolled back: the database is as it was before"
                } else {
                    "it ran outside a single transaction: the database may be partly restored; roll back with the safety backup"
                };
                Err(Stop::failed(format!("{failure} — {state}")))
            }
        }
    }
}

/// Ends every other session connected to the target database. Returns how many.
async fn terminate_sessions(target: &TargetUrl) -> Result<i64, String> {
    let client = target::connect(target).await?;
    let row = client
        .query_one(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND usename IS NOT NULL",
            &[],
        )
        .await
        .map_err(|e| target::describe(&e))?;
    Ok(row.get::<_, i64>(0))
}

/// `ANALYZE` without the statement timeout (a big database takes long), cancelled on the
/// server when the job is: the restore itself is done by then, so a cancelled ANALYZE only
/// leaves the planner's statistics to be gathered later (autovacuum or by hand).
async fn analyze(
    target: &TargetUrl,
    cancel: &mut tokio::sync::watch::Receiver<bool>,
) -> Result<(), String> {
    let client = target::connect(target).await?;
    let work = client.batch_execute("SET statement_timeout = 0; ANALYZE");
    target::unless_cancelled(target, &client, cancel, work)
        .await
        .ok_or("cancelled with its job")?
        .map_err(|e| target::describe(&e))
}
