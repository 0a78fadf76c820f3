//! `swap` and `copy`: restore into a new database created like the live one, prove it,
//! and (swap) exchange the names. Until the exchange the live database is never touched;
//! any failure before it drops the new database.

use super::{Followed, Run, Stop, RESTORE_SPAN};
use crate::databases::{self, Kept};
use crate::pgtools::restore::Entries;
use crate::pgtools::rows::RowCounts;
use crate::storage::human_bytes;
use crate::store::jobs::JobStatus;
use crate::store::restores::SwapKind;
use app::api::{phase, RestoreStrategy};
use std::path::Path;
use std::time::Instant;

use super::super::run::{self, JobHandle};

/// How the swap shows in the restore's timings.
const SWAP_TIMING: &str = "swap";
/// How the proof shows in the restore's timings.
const PROOF_TIMING: &str = "proof";

impl Run {
    pub(super) async fn restore_into_new_database(
        &mut self,
        handle: &mut JobHandle,
        pg_restore: &Path,
        entries: &Entries,
        counts: &RowCounts,
    ) -> Result<String, Stop> {
        let Some(new) = self.new_database.clone() else {
            return Err(Stop::failed(
                "no new database was named; nothing was restored",
            ));
        };
        let maintenance = databases::maintenance(&self.target)
            .await
            .map_err(|e| Stop::failed(format!("{e}; nothing was restored")))?;

        // -- a new database like the live one --------------------------------------------
        let t = Instant::now();
        handle
            .update(|j| {
                j.phase = phase::RESTORE.into();
                j.percent = RESTORE_SPAN.0;
                j.current_item = Some(format!("creating the database {new}"));
                j.backup_id = self.safety_backup_id;
            })
            .await;
        let not_copied = databases::create_like(&maintenance, &self.database, &new)
            .await
            .map_err(|e| Stop::failed(format!("{e}; {} was not touched", self.database)))?;
        for n in &not_copied {
            tracing::warn!("not copied to {new}: {n}");
        }
        let passfile = self.passfile()?;
        let jobs = self.engine.restore_jobs;
        let into = self.target.with_database(&new);
        let started = crate::pgtools::restore::restore_into_new(
            crate::pgtools::restore::Restorer {
                pg_restore,
                psql: self.psql.as_deref(),
            },
            &self.options,
            jobs,
            &into,
            &self.source.path,
            passfile,
            handle.cancel_signal(),
        );
        let followed = match started {
            Ok(running) => {
                self.follow(handle, running, entries.expected_steps_without_clean())
                    .await
            }
            Err(e) => Err(Followed::Failed(e.to_string())),
        };
        self.timings.push(run::timing(phase::RESTORE, t));
        if let Err(f) = followed {
            let dropped = self.drop_new(&maintenance, &new).await;
            return Err(match f {
                Followed::Cancelled => Stop {
                    status: JobStatus::Cancelled,
                    message: format!(
                        "Restore cancelled during pg_restore: {dropped}; {} was not touched.",
                        self.database
                    ),
                },
                Followed::Failed(why) => Stop::failed(format!(
                    "{why} — {dropped}; {} was not touched",
                    self.database
                )),
            });
        }

        // -- ANALYZE and the proof ---------------------------------------------------------
        handle
            .update(|j| {
                j.phase = phase::ANALYZE.into();
                j.percent = RESTORE_SPAN.1;
                j.current_item = Some(format!("ANALYZE and counting the rows of {new}"));
            })
            .await;
        let t = Instant::now();
        let proven = databases::prove(&into, counts, jobs, &handle.cancel_signal()).await;
        self.timings.push(run::timing(PROOF_TIMING, t));
        if handle.is_cancelled() {
            let dropped = self.drop_new(&maintenance, &new).await;
            return Err(Stop {
                status: JobStatus::Cancelled,
                message: format!(
                    "Restore cancelled during ANALYZE and the proof: {dropped}; {} was not touched.",
                    self.database
                ),
            });
        }
        let failed = match proven {
            Ok(proof) => {
                let diff = databases::differences(&proof);
                self.proof = proof;
                diff.map(|d| {
                    format!("the restored database does not hold what the archive holds: {d}")
                })
            }
            Err(e) => Some(e),
        };
        if let Some(why) = failed {
            let dropped = self.drop_new(&maintenance, &new).await;
            return Err(Stop::failed(format!(
                "{why} — {dropped}; {} was not touched",
                self.database
            )));
        }
        let rows: i64 = self.proof.iter().map(|p| p.archive_rows).sum();
        let what = format!(
            "{} ({}, sha256 {}); proven: {} tables, {rows} rows as in the archive",
            self.source.file_name,
            human_bytes(self.source.size as u64),
            super::short(&self.source.sha256),
            self.proof.len()
        );
        if self.strategy == RestoreStrategy::Copy {
            return Ok(format!("restored {what} into the new database {new}"));
        }
        if handle.is_cancelled() {
            let dropped = self.drop_new(&maintenance, &new).await;
            return Err(Stop {
                status: JobStatus::Cancelled,
                message: format!(
                    "Restore cancelled before the swap: {dropped}; {} was not touched.",
                    self.database
                ),
            });
        }

        // -- the swap: the only moment the application is offline ---------------------------
        handle
            .update(|j| j.current_item = Some(format!("swapping {new} in as {}", self.database)))
            .await;
        let t = Instant::now();
        let kept = databases::kept_name(&self.database, Kept::Before, chrono::Utc::now());
        let swapped = super::swapping::swap(
            &self.engine,
            &maintenance,
            self.restore_id,
            SwapKind::Restore,
            &self.database,
            &new,
            &kept,
        )
        .await;
        self.timings.push(run::timing(SWAP_TIMING, t));
        match swapped {
            Ok(offline_ms) => {
                self.offline_ms = Some(offline_ms);
                self.kept_database = Some(kept.clone());
                Ok(format!(
                    "restored {what}, then swapped it in as {} ({offline_ms} ms offline); the earlier database is kept as {kept}",
                    self.database
                ))
            }
            Err(e) => {
                let dropped = self.drop_new(&maintenance, &new).await;
                Err(Stop::failed(format!(
                    "the swap failed: {e} — {dropped}; {} keeps its earlier contents",
                    self.database
                )))
            }
        }
    }

    /// Drops the new database after a failure; says what became of it.
    async fn drop_new(&self, maintenance: &tokio_postgres::Client, new: &str) -> String {
        match databases::drop_database(maintenance, new).await {
            Ok(()) => format!("the new database {new} was dropped"),
            Err(e) => format!("{e}: drop {new} by hand"),
        }
    }
}
