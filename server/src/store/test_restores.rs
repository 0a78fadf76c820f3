//! The `test_restores` table: one row per test restore of a backup (restored into a
//! scratch database, proven, dropped).

use app::api::{TableProof, TestRestore};
use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::SqlitePool;
use std::collections::HashMap;

/// Where a test restore stands (the `status` column; a CHECK keeps it to these).
#[derive(Clone, Copy, Debug, PartialEq, Eq, sqlx::Type)]
#[sqlx(rename_all = "lowercase")]
pub enum TestStatus {
    Running,
    Succeeded,
    Failed,
    Cancelled,
    Interrupted,
}

impl TestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TestStatus::Running => "running",
            TestStatus::Succeeded => "succeeded",
            TestStatus::Failed => "failed",
            TestStatus::Cancelled => "cancelled",
            TestStatus::Interrupted => "interrupted",
        }
    }
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    backup_id: i64,
    job_id: Option<i64>,
    status: TestStatus,
    server: String,
    started_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
    duration_ms: Option<i64>,
    tables: Option<i64>,
    rows: Option<i64>,
    message: Option<String>,
}

impl Row {
    fn to_wire(&self) -> TestRestore {
        TestRestore {
            id: self.id,
            backup_id: self.backup_id,
            job_id: self.job_id,
            status: self.status.as_str().into(),
            server: self.server.clone(),
            started_at: self.started_at,
            finished_at: self.finished_at,
            duration_ms: self.duration_ms,
            tables: self.tables,
            rows: self.rows,
            message: self.message.clone(),
        }
    }
}

const COLUMNS: &str = "SELECT id, backup_id, job_id, status, server, started_at, finished_at, duration_ms, tables, rows, message FROM test_restores";

/// A test restore about to start.
pub struct NewTestRestore<'a> {
    pub backup_id: i64,
    pub job_id: i64,
    pub database: &'a str,
    pub server: &'a str,
    pub scratch_database: &'a str,
    pub started_at: DateTime<Utc>,
    pub actor: Option<&'a str>,
}

pub async fn insert(db: &SqlitePool, t: &NewTestRestore<'_>) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO test_restores (backup_id, job_id, database, server, scratch_database, status, started_at, actor) VALUES (?, ?, ?, ?, ?, 'running', ?, ?) RETURNING id",
    )
    .bind(t.backup_id)
    .bind(t.job_id)
    .bind(t.database)
    .bind(t.server)
    .bind(t.scratch_database)
    .bind(t.started_at)
    .bind(t.actor)
    .fetch_all(db)
    .await
    .and_then(super::first)
}

/// Records the scratch database of test restore `id` (its name holds the id).
pub async fn set_scratch(db: &SqlitePool, id: i64, scratch: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE test_restores SET scratch_database = ? WHERE id = ?")
        .bind(scratch)
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// How a test restore ended.
pub struct Outcome<'a> {
    pub status: TestStatus,
    pub message: &'a str,
    pub duration_ms: i64,
    pub proof: &'a [TableProof],
}

pub async fn finish(db: &SqlitePool, id: i64, o: &Outcome<'_>) -> sqlx::Result<()> {
    let proven = o.status == TestStatus::Succeeded;
    let rows: i64 = o.proof.iter().map(|p| p.archive_rows).sum();
    sqlx::query(
        "UPDATE test_restores SET status = ?, message = ?, finished_at = ?, duration_ms = ?, tables = ?, rows = ?, proof = ? WHERE id = ?",
    )
    .bind(o.status)
    .bind(o.message)
    .bind(Utc::now())
    .bind(o.duration_ms)
    .bind(proven.then_some(o.proof.len() as i64))
    .bind(proven.then_some(rows))
    .bind(Json(o.proof))
    .bind(id)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn get(db: &SqlitePool, id: i64) -> sqlx::Result<Option<TestRestore>> {
    let row: Option<Row> = sqlx::query_as(&format!("{COLUMNS} WHERE id = ?"))
        .bind(id)
        .fetch_optional(db)
        .await?;
    Ok(row.map(|r| r.to_wire()))
}

/// The newest test restore of each of `backup_ids`.
pub async fn newest_of(
    db: &SqlitePool,
    backup_ids: &[i64],
) -> sqlx::Result<HashMap<i64, TestRestore>> {
    if backup_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let ids = Json(backup_ids);
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "{COLUMNS} WHERE id IN (SELECT max(id) FROM test_restores WHERE backup_id IN (SELECT value FROM json_each(?)) GROUP BY backup_id)"
    ))
    .bind(ids)
    .fetch_all(db)
    .await?;
    Ok(rows.iter().map(|r| (r.backup_id, r.to_wire())).collect())
}

/// The newest test restore of a backup of `database`.
pub async fn newest_for_database(
    db: &SqlitePool,
    database: &str,
) -> sqlx::Result<Option<TestRestore>> {
    let row: Option<Row> = sqlx::query_as(&format!(
        "{COLUMNS} WHERE database = ? ORDER BY id DESC LIMIT 1"
    ))
    .bind(database)
    .fetch_optional(db)
    .await?;
    Ok(row.map(|r| r.to_wire()))
}

/// The running test restore of a job whose process died.
pub async fn mark_interrupted(db: &SqlitePool, job_id: i64, message: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE test_restores SET status = 'interrupted', message = ?, finished_at = ? WHERE job_id = ? AND status = 'running'")
        .bind(message)
        .bind(Utc::now())
        .bind(job_id)
        .execute(db)
        .await?;
    Ok(())
}

/// The scratch database of job `job_id`'s test restore (to drop after a crash).
pub async fn scratch_of_job(db: &SqlitePool, job_id: i64) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT scratch_database FROM test_restores WHERE job_id = ?")
        .bind(job_id)
        .fetch_optional(db)
        .await
}
