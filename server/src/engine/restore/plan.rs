//! What a restore would do before it is confirmed: the strategy Lifeboat would choose and
//! why, what a swap keeps aside on the server and for how long, and how long an in-place
//! restore would keep the application out — estimated from what this database's own
//! backups and restores took.

use super::{choose, resolve, RestoreError};
use crate::databases;
use crate::engine::Engine;
use crate::store::{backups, restores};
use crate::target::TargetUrl;
use app::api::{RestorePlan, RestoreRequest};

/// The plan of a restore into `target`, of `source` when given (its size makes the
/// in-place estimate).
pub async fn plan(
    engine: &Engine,
    target: Option<&TargetUrl>,
    source: Option<&RestoreRequest>,
) -> Result<RestorePlan, RestoreError> {
    let Some(target) = target else {
        return Err(RestoreError::Refused(
            "No target database is configured (set LIFEBOAT_TARGET_URL): there is nothing to restore into.".into(),
        ));
    };
    let database = target.database();
    let (strategy, reason) = choose(target, None, None).await?;
    let database_size_bytes = match databases::maintenance(target).await {
        Ok(client) => databases::size(&client, &database).await.ok(),
        Err(_) => None,
    };
    let archive_bytes = match source {
        Some(req) => Some(resolve(engine, req).await?.size),
        None => None,
    };
    let estimate = match archive_bytes {
        Some(bytes) => in_place_offline(engine, &database, bytes).await?,
        None => None,
    };
    Ok(RestorePlan {
        database,
        strategy: strategy.as_str().into(),
        reason,
        database_size_bytes,
        keep_old_databases_secs: engine.keep_old_databases.as_secs(),
        in_place_offline_ms: estimate.as_ref().map(|e| e.0),
        in_place_offline_basis: estimate.map(|e| e.1),
    })
}

/// How long an in-place restore of an archive of `archive_bytes` would keep the
/// application out of `database`: its safety backup (as long as the last successful
/// backup took) plus the restore (the archive at the speed of the last restore here,
/// else at the last backup's). `None` before any backup.
async fn in_place_offline(
    engine: &Engine,
    database: &str,
    archive_bytes: i64,
) -> Result<Option<(i64, String)>, RestoreError> {
    let Some(last) = backups::last_success(&engine.db, database).await? else {
        return Ok(None);
    };
    let (Some(backup_ms), Some(backup_bytes)) = (last.duration_ms, last.size_bytes) else {
        return Ok(None);
    };
    let (restore_ms, how) = match restores::last_restore_speed(&engine.db, database).await? {
        Some((bytes, ms)) if bytes > 0 && ms > 0 => (
            archive_bytes as f64 * ms as f64 / bytes as f64,
            format!("the last restore here went at {}/s", per_second(bytes, ms)),
        ),
        _ => (
            archive_bytes as f64 * backup_ms as f64 / backup_bytes.max(1) as f64,
            format!(
                "no restore measured here yet, taken as fast as the last backup ({}/s)",
                per_second(backup_bytes, backup_ms)
            ),
        ),
    };
    let total = backup_ms + restore_ms.round() as i64;
    Ok(Some((
        total,
        format!(
            "the safety backup as long as the last backup ({} s), then the restore of {} ({how})",
            backup_ms / 1000,
            crate::storage::human_bytes(archive_bytes.max(0) as u64)
        ),
    )))
}

fn per_second(bytes: i64, ms: i64) -> String {
    crate::storage::human_bytes((bytes as f64 * 1000.0 / ms.max(1) as f64) as u64)
}
