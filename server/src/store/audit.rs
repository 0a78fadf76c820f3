//! The `audit_events` table: the append-only audit log — who did what, when, from where,
//! with what result — and the `Origin` of an action.

use app::api::{AuditEvent, AuditPage};
use chrono::{DateTime, Utc};
use sqlx::SqlitePool;

/// Where a request came from, for the audit log.
#[derive(Clone, Debug, Default)]
pub struct Origin {
    pub actor: Option<String>,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    /// When the actor last gave their password, for an action that asked for it again
    /// ("confirm it's you"); recorded in the details of every event written with it.
    pub password_confirmed_at: Option<DateTime<Utc>>,
    /// The name of the personal API token the request came with; recorded in the details
    /// of every event written with it.
    pub token: Option<String>,
}

impl Origin {
    /// An action taken from the command line by the OS user running it.
    pub fn cli() -> Origin {
        let user = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_else(|_| {
                nix::unistd::User::from_uid(nix::unistd::geteuid())
                    .ok()
                    .flatten()
                    .map(|u| u.name)
                    .unwrap_or_else(|| "unknown".into())
            });
        Origin {
            actor: Some(format!("os:{user}")),
            client_ip: None,
            user_agent: Some("lifeboat-cli".into()),
            password_confirmed_at: None,
            token: None,
        }
    }

    pub fn with_actor(mut self, actor: impl Into<String>) -> Origin {
        self.actor = Some(actor.into());
        self
    }
}

/// One event to record.
pub struct Entry<'a> {
    pub action: &'a str,
    pub target: Option<&'a str>,
    pub outcome: &'a str,
    pub details: serde_json::Value,
}

/// Appends an event. Audit writes are part of the action: callers propagate the error.
pub async fn record(db: &SqlitePool, origin: &Origin, mut e: Entry<'_>) -> sqlx::Result<i64> {
    if let (Some(at), Some(details)) = (origin.password_confirmed_at, e.details.as_object_mut()) {
        details.insert(
            "password_confirmed_at".into(),
            serde_json::Value::String(at.to_rfc3339()),
        );
    }
    if let (Some(name), Some(details)) = (&origin.token, e.details.as_object_mut()) {
        details.insert("token".into(), serde_json::Value::String(name.clone()));
    }
    let id = sqlx::query_scalar::<_, i64>(
        "INSERT INTO audit_events (at, actor, client_ip, user_agent, action, target, outcome, details)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(Utc::now())
    .bind(&origin.actor)
    .bind(&origin.client_ip)
    .bind(&origin.user_agent)
    .bind(e.action)
    .bind(e.target)
    .bind(e.outcome)
    .bind(sqlx::types::Json(&e.details))
    .fetch_all(db)
    .await
    .and_then(super::first)?;
    tracing::info!(
        target: "lifeboat::audit",
        action = e.action,
        outcome = e.outcome,
        actor = origin.actor.as_deref().unwrap_or("-"),
        target_ = e.target.unwrap_or("-"),
        "audit"
    );
    Ok(id)
}

/// A filtered page of the log, newest first.
pub struct Query {
    pub limit: i64,
    pub offset: i64,
    pub action: Option<String>,
    pub outcome: Option<String>,
}

pub async fn list(db: &SqlitePool, q: &Query) -> sqlx::Result<AuditPage> {
    list_by(db, q, None).await
}

/// [`list`], of the events of one actor (who acted) when `actor` is given.
pub async fn list_by(db: &SqlitePool, q: &Query, actor: Option<&str>) -> sqlx::Result<AuditPage> {
    let limit = q.limit.clamp(1, 500);
    let offset = q.offset.max(0);
    let items = sqlx::query_as::<_, AuditEvent>(
        "SELECT id, at, actor, client_ip, user_agent, action, target, outcome, details
         FROM audit_events
         WHERE (?1 IS NULL OR action = ?1) AND (?2 IS NULL OR outcome = ?2)
           AND (?5 IS NULL OR actor = ?5)
         ORDER BY id DESC LIMIT ?3 OFFSET ?4",
    )
    .bind(&q.action)
    .bind(&q.outcome)
    .bind(limit)
    .bind(offset)
    .bind(actor)
    .fetch_all(db)
    .await?;
    let total = sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM audit_events
         WHERE (?1 IS NULL OR action = ?1) AND (?2 IS NULL OR outcome = ?2)
           AND (?3 IS NULL OR actor = ?3)",
    )
    .bind(&q.action)
    .bind(&q.outcome)
    .bind(actor)
    .fetch_one(db)
    .await?;
    Ok(AuditPage { items, total })
}

/// The title and time of the last alert sent, for the status strip.
pub async fn last_alert(db: &SqlitePool) -> sqlx::Result<Option<(String, chrono::DateTime<Utc>)>> {
    sqlx::query_as(
        "SELECT COALESCE(json_extract(details, '$.title'), ''), at FROM audit_events WHERE action = ? ORDER BY id DESC LIMIT 1",
    )
    .bind(app::api::audit_action::ALERT)
    .fetch_optional(db)
    .await
}
