//! The `/api/v1` wire types, shared by the server (which produces them) and the SPA (which
//! consumes them), so the two cannot drift apart.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The header every state-changing request must carry (CSRF defence: a browser will not
/// add a custom header to a cross-site request without a CORS preflight we never grant).
pub const CSRF_HEADER: &str = "x-requested-with";
/// The value the SPA sends in [`CSRF_HEADER`]; the server accepts any non-empty value.
pub const CSRF_HEADER_VALUE: &str = "lifeboat";

/// Every error response body: a stable machine code and a sentence for a person.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub error: String,
    pub message: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

/// The signed-in user, as `GET /api/v1/auth/me` and a successful login return it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Me {
    pub username: String,
    pub role: String,
    pub signed_in_at: DateTime<Utc>,
}

/// `GET /api/v1/setup`: whether the first administrator still has to be created.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct SetupStatus {
    pub needed: bool,
}

/// `POST /api/v1/setup`: creates the first administrator with the one-time token printed
/// in the server's log.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct SetupRequest {
    pub token: String,
    pub username: String,
    pub password: String,
}

/// Minimum length of an administrator's password.
pub const MIN_PASSWORD_LEN: usize = 12;

/// One row of the append-only audit log.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct AuditEvent {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: Option<String>,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    pub action: String,
    pub target: Option<String>,
    pub outcome: String,
    #[cfg_attr(feature = "ssr", sqlx(json))]
    pub details: serde_json::Value,
}

/// `GET /api/v1/audit`: one page of events, newest first, and how many match in all.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct AuditPage {
    pub items: Vec<AuditEvent>,
    pub total: i64,
}

/// The audit actions Lifeboat writes. Shared so the Audit page's filter offers exactly
/// what the server records.
pub mod audit_action {
    pub const SETUP_COMPLETED: &str = "setup.completed";
    pub const USER_CREATED: &str = "user.created";
    pub const LOGIN: &str = "auth.login";
    pub const LOGOUT: &str = "auth.logout";
    pub const SESSION_EXPIRED: &str = "session.expired";

    pub const ALL: &[&str] = &[
        SETUP_COMPLETED,
        USER_CREATED,
        LOGIN,
        LOGOUT,
        SESSION_EXPIRED,
    ];
}

/// Audit outcomes.
pub mod outcome {
    pub const SUCCESS: &str = "success";
    pub const FAILURE: &str = "failure";

    pub const ALL: &[&str] = &[SUCCESS, FAILURE];
}

/// One readiness check of `GET /readyz`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ReadyCheck {
    /// Stable name: `metadata_db`, `data_dir`, `target`, `pg_dump`, `pg_restore`.
    pub name: String,
    pub ok: bool,
    /// What was found, or what is wrong and how to fix it.
    pub detail: String,
}

/// `GET /readyz` (200 when `ready`, 503 otherwise).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ReadyReport {
    pub ready: bool,
    pub checks: Vec<ReadyCheck>,
}

impl ReadyReport {
    pub fn failed(&self) -> impl Iterator<Item = &ReadyCheck> {
        self.checks.iter().filter(|c| !c.ok)
    }
}
