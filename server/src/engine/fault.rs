//! Fault injection, for the crash-safety tests only (an engineering aid, not a setting):
//! `LIFEBOAT_FAULT=<point>` makes the process abort at that named point, as `kill -9`
//! would stop it there. Inert unless the variable names the point; never set it on an
//! instance that protects anything.

/// After a backup's file and sidecar are in place, before its journal row is updated.
pub const AFTER_BACKUP_MOVE: &str = "after-backup-move";

/// The variable that names the point to abort at.
const VAR: &str = "LIFEBOAT_FAULT";

/// Aborts the process here when `LIFEBOAT_FAULT` names `point`; does nothing otherwise.
pub fn point(point: &str) {
    if std::env::var(VAR).is_ok_and(|v| v == point) {
        tracing::error!("{VAR}={point}: fault injection, aborting the process here on purpose");
        std::process::abort();
    }
}
