//! The SPA's calls to Lifeboat's API: one typed function per endpoint, grouped by resource
//! (`client::backups::detail(id)`), and the addresses the browser opens itself (downloads,
//! the event stream, uploads). No other module spells an `/api/v1` path.
//!
//! The calls run in the browser only (inside `LocalResource`s, actions and event
//! handlers); during server rendering nothing calls them, and the non-browser build has a
//! stand-in with the same signatures so components compile on both sides.

pub mod confirm;
mod http;

use crate::api::ApiError;

/// Where every API address starts.
const API: &str = "/api/v1";

/// What went wrong with an API call, in terms the UI can act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientError {
    /// 401: not signed in (or the session expired).
    Unauthorized,
    /// 429: too many attempts; `retry_after` seconds to wait.
    Throttled { retry_after: u64, message: String },
    /// Any other non-success status, with the server's message.
    Status { status: u16, message: String },
    /// The server could not be reached or answered something unreadable.
    Network(String),
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::Unauthorized => f.write_str("You are not signed in."),
            ClientError::Throttled { message, .. } => f.write_str(message),
            ClientError::Status { message, .. } => f.write_str(message),
            ClientError::Network(m) => write!(f, "Lifeboat could not be reached: {m}"),
        }
    }
}

/// A failed call together with the server's error body, when it sent one (for answers whose
/// body carries more than a message, e.g. 409 "a backup is already running" and its `job_id`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub error: ClientError,
    pub body: Option<ApiError>,
}

impl Refusal {
    /// The HTTP status, when the server answered at all.
    pub fn status(&self) -> Option<u16> {
        match &self.error {
            ClientError::Unauthorized => Some(401),
            ClientError::Throttled { .. } => Some(429),
            ClientError::Status { status, .. } => Some(*status),
            ClientError::Network(_) => None,
        }
    }

    /// With 409 "a job is already running": that job.
    pub fn running_job(&self) -> Option<i64> {
        match self.status() {
            Some(409) => self.body.as_ref().and_then(|b| b.job_id),
            _ => None,
        }
    }
}

impl From<ClientError> for Refusal {
    fn from(error: ClientError) -> Self {
        Refusal { error, body: None }
    }
}

/// An empty JSON object, the body of a POST that needs none.
fn no_body() -> serde_json::Value {
    serde_json::Value::Object(Default::default())
}

/// Percent-encodes a query parameter value.
pub fn enc(v: &str) -> String {
    urlencoding::encode(v).into_owned()
}

/// Sends the browser to `path` with a full page load (used after login/logout so every
/// piece of state starts fresh).
pub fn hard_navigate(path: &str) {
    #[cfg(feature = "hydrate")]
    if let Some(w) = web_sys::window() {
        let _ = w.location().assign(path);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = path;
}

/// When the person last made a request (background polling aside), for the idle-timeout
/// warning: the server's idle timeout counts from the same requests.
pub mod activity {
    use std::cell::Cell;

    thread_local! {
        static LAST: Cell<f64> = const { Cell::new(0.0) };
    }

    /// Milliseconds since the Unix epoch, from the browser's clock.
    pub fn now_ms() -> f64 {
        #[cfg(feature = "hydrate")]
        {
            js_sys::Date::now()
        }
        #[cfg(not(feature = "hydrate"))]
        {
            0.0
        }
    }

    pub fn mark() {
        LAST.with(|l| l.set(now_ms()));
    }

    /// When the last request the person made was sent (0 before any).
    pub fn last_ms() -> f64 {
        LAST.with(Cell::get)
    }
}

/// Signing in and out, and the first-run setup.
pub mod auth {
    use super::{http, ClientError, API};
    use crate::api::{
        ConfirmRequest, LoginAnswer, LoginRequest, Me, RecoveryCodes, SecondFactorRequest,
        SetupRequest, SetupStatus, TotpDisableRequest, TotpEnrolment, TotpStatus,
    };

    /// `GET /auth/me`: who is signed in (401 when nobody).
    pub async fn me() -> Result<Me, ClientError> {
        http::get(&format!("{API}/auth/me")).await
    }

    /// The signed-in user, or that a second factor (or its enrolment) comes next.
    pub async fn login(req: &LoginRequest) -> Result<LoginAnswer, ClientError> {
        http::post(&format!("{API}/auth/login"), req).await
    }

    /// The login's second step: a TOTP code or a recovery code.
    pub async fn second_factor(code: &str) -> Result<Me, ClientError> {
        let req = SecondFactorRequest {
            code: code.to_string(),
        };
        http::post(&format!("{API}/auth/second-factor"), &req).await
    }

    pub async fn totp_status() -> Result<TotpStatus, ClientError> {
        http::get(&format!("{API}/auth/totp")).await
    }

    /// A new secret for an authenticator app (not in force until confirmed).
    pub async fn totp_enrol() -> Result<TotpEnrolment, ClientError> {
        http::post(&format!("{API}/auth/totp/enrol"), &serde_json::json!({})).await
    }

    /// Turns it on with the app's first code; the recovery codes come back, once.
    pub async fn totp_confirm(code: &str) -> Result<RecoveryCodes, ClientError> {
        let req = SecondFactorRequest {
            code: code.to_string(),
        };
        http::post(&format!("{API}/auth/totp/confirm"), &req).await
    }

    pub async fn totp_disable(req: &TotpDisableRequest) -> Result<(), ClientError> {
        http::post_no_content(&format!("{API}/auth/totp/disable"), req).await
    }

    pub async fn logout() -> Result<(), ClientError> {
        http::post_empty(&format!("{API}/auth/logout")).await
    }

    /// `POST /auth/confirm`: the password again ("confirm it's you").
    pub async fn confirm(req: &ConfirmRequest) -> Result<(), ClientError> {
        http::post_no_content(&format!("{API}/auth/confirm"), req).await
    }

    /// Whether the first administrator still has to be created.
    pub async fn setup_status() -> Result<SetupStatus, ClientError> {
        http::get(&format!("{API}/setup")).await
    }

    pub async fn setup(req: &SetupRequest) -> Result<Me, ClientError> {
        http::post(&format!("{API}/setup"), req).await
    }
}

/// One's own account: password and sessions; and the one-time password links.
pub mod account {
    use super::{enc, http, ClientError, API};
    use crate::api::{
        InvitationAccept, InvitationInfo, InvitationToken, PasswordChange, SessionInfo,
        SessionsEnded,
    };

    pub async fn change_password(req: &PasswordChange) -> Result<SessionsEnded, ClientError> {
        http::post(&format!("{API}/auth/password"), req).await
    }

    pub async fn sessions() -> Result<Vec<SessionInfo>, ClientError> {
        http::get(&format!("{API}/auth/sessions")).await
    }

    pub async fn end_session(id: &str) -> Result<(), ClientError> {
        http::delete(&format!("{API}/auth/sessions/{}", enc(id))).await
    }

    /// "Sign out everywhere else".
    pub async fn end_other_sessions() -> Result<(), ClientError> {
        http::delete(&format!("{API}/auth/sessions")).await
    }

    pub async fn check_invitation(token: &str) -> Result<InvitationInfo, ClientError> {
        http::post(
            &format!("{API}/invitations/check"),
            &InvitationToken {
                token: token.to_string(),
            },
        )
        .await
    }

    pub async fn accept_invitation(req: &InvitationAccept) -> Result<(), ClientError> {
        http::post_no_content(&format!("{API}/invitations/accept"), req).await
    }
}

/// People and their roles (administrators only).
pub mod people {
    use super::{http, no_body, ClientError, API};
    use crate::api::{Invited, NewPerson, Person, PersonChange};

    pub async fn list() -> Result<Vec<Person>, ClientError> {
        http::get(&format!("{API}/users")).await
    }

    pub async fn invite(req: &NewPerson) -> Result<Invited, ClientError> {
        http::post(&format!("{API}/users"), req).await
    }

    pub async fn change(id: i64, change: &PersonChange) -> Result<Person, ClientError> {
        http::patch(&format!("{API}/users/{id}"), change).await
    }

    pub async fn delete(id: i64) -> Result<(), ClientError> {
        http::delete(&format!("{API}/users/{id}")).await
    }

    pub async fn reset_password(id: i64) -> Result<Invited, ClientError> {
        http::post(&format!("{API}/users/{id}/reset-password"), &no_body()).await
    }

    /// Ends every session of the account.
    pub async fn end_sessions(id: i64) -> Result<(), ClientError> {
        http::delete(&format!("{API}/users/{id}/sessions")).await
    }

    /// Removes the account's two-factor sign-in and ends its sessions.
    pub async fn reset_second_factor(id: i64) -> Result<(), ClientError> {
        http::delete(&format!("{API}/users/{id}/totp")).await
    }
}

/// One's personal API tokens.
pub mod tokens {
    use super::{http, ClientError, API};
    use crate::api::{ApiToken, CreatedToken, TokenRequest};

    /// The signed-in person's tokens, newest first (revoked and expired ones too).
    pub async fn list() -> Result<Vec<ApiToken>, ClientError> {
        http::get(&format!("{API}/tokens")).await
    }

    /// A new token; the answer carries the token itself, this once.
    pub async fn create(req: &TokenRequest) -> Result<CreatedToken, ClientError> {
        http::post(&format!("{API}/tokens"), req).await
    }

    pub async fn revoke(id: i64) -> Result<(), ClientError> {
        http::delete(&format!("{API}/tokens/{id}")).await
    }
}

/// Backups: history, status, detail, pin, delete, start, files.
pub mod backups {
    use super::{http, no_body, ClientError, Refusal, API};
    use crate::api::{
        Backup, BackupDetail, BackupPage, BackupStatus, PinRequest, StartedJob, StartedTestRestore,
    };

    /// The status strip's figures, and the job running now.
    pub async fn status() -> Result<BackupStatus, ClientError> {
        http::get(&format!("{API}/backups/status")).await
    }

    /// [`status`] for the status strip's polling: a background call, which does not keep
    /// an idle session alive.
    pub async fn status_in_background() -> Result<BackupStatus, ClientError> {
        http::get_background(&format!("{API}/backups/status")).await
    }

    /// One page of the history, newest first.
    pub async fn page(limit: i64, offset: i64) -> Result<BackupPage, ClientError> {
        http::get(&format!("{API}/backups?limit={limit}&offset={offset}")).await
    }

    pub async fn detail(id: i64) -> Result<BackupDetail, ClientError> {
        http::get(&format!("{API}/backups/{id}")).await
    }

    pub async fn pin(id: i64, pinned: bool) -> Result<Backup, ClientError> {
        http::post(&format!("{API}/backups/{id}/pin"), &PinRequest { pinned }).await
    }

    pub async fn delete(id: i64) -> Result<(), ClientError> {
        http::delete(&format!("{API}/backups/{id}")).await
    }

    /// Restores a backup into a scratch database, proves it, drops it.
    pub async fn test_restore(id: i64) -> Result<StartedTestRestore, Refusal> {
        http::post_detailed(&format!("{API}/backups/{id}/test-restore"), &no_body()).await
    }

    /// "Back up now"; a refusal keeps the server's body (409 names the running job).
    pub async fn start() -> Result<StartedJob, Refusal> {
        http::post_detailed(&format!("{API}/backups"), &no_body()).await
    }

    /// The backup file, for a download link.
    pub fn download_url(id: i64) -> String {
        format!("{API}/backups/{id}/download")
    }

    /// Its `.dump.json` sidecar, for a download link.
    pub fn metadata_url(id: i64) -> String {
        format!("{API}/backups/{id}/metadata")
    }
}

/// Jobs: their state, their event stream, cancelling.
pub mod jobs {
    use super::{http, ClientError, API};
    use crate::api::Job;

    pub async fn get(id: i64) -> Result<Job, ClientError> {
        http::get(&format!("{API}/jobs/{id}")).await
    }

    pub async fn cancel(id: i64) -> Result<(), ClientError> {
        http::delete(&format!("{API}/jobs/{id}")).await
    }

    /// The server-sent events of a job (one `job` event per change).
    pub fn events_url(id: i64) -> String {
        format!("{API}/jobs/{id}/events")
    }
}

/// Restores and the uploads they start from.
pub mod restores {
    use super::{enc, http, no_body, ClientError, Refusal, API};
    use crate::api::{
        KeptDatabase, Restore, RestorePlan, RestoreRequest, RestoreStart, StartedJob,
        StartedRestore, StartedRollback,
    };

    pub async fn get(id: i64) -> Result<Restore, ClientError> {
        http::get(&format!("{API}/restores/{id}")).await
    }

    /// What a restore here would do (strategy, why, what a swap keeps aside), and for a
    /// given file how long an in-place restore would keep the application out.
    pub async fn plan(
        upload_id: Option<String>,
        backup_id: Option<i64>,
    ) -> Result<RestorePlan, ClientError> {
        let query = match (upload_id, backup_id) {
            (Some(u), _) => format!("?upload_id={}", enc(&u)),
            (None, Some(b)) => format!("?backup_id={b}"),
            (None, None) => String::new(),
        };
        http::get(&format!("{API}/restores/plan{query}")).await
    }

    /// Starts a restore; a refusal keeps the server's body (409 names the running job).
    pub async fn start(req: &RestoreRequest) -> Result<StartedRestore, Refusal> {
        http::post_detailed(&format!("{API}/restores"), req).await
    }

    /// Starts a restore with a chosen strategy (swap, in place, copy).
    pub async fn start_with(req: &RestoreStart) -> Result<StartedRestore, Refusal> {
        http::post_detailed(&format!("{API}/restores"), req).await
    }

    /// Swaps a swap restore back; a refusal says why it cannot be.
    pub async fn rollback(id: i64) -> Result<StartedRollback, Refusal> {
        http::post_detailed(&format!("{API}/restores/{id}/rollback"), &no_body()).await
    }

    /// The databases swap restores kept aside on the database server.
    pub async fn kept_databases() -> Result<Vec<KeptDatabase>, ClientError> {
        http::get(&format!("{API}/restores/kept-databases")).await
    }

    /// Drops one kept database.
    pub async fn drop_kept_database(name: &str) -> Result<(), ClientError> {
        http::delete(&format!("{API}/restores/kept-databases/{}", enc(name))).await
    }

    /// Takes the final backup of a kept database again (after a failed attempt).
    pub async fn final_backup(name: &str) -> Result<StartedJob, Refusal> {
        http::post_detailed(
            &format!("{API}/restores/kept-databases/{}/final-backup", enc(name)),
            &no_body(),
        )
        .await
    }

    /// Where a `.dump` is sent (by `XMLHttpRequest`, which reports the upload's progress).
    pub fn upload_url(file_name: &str) -> String {
        format!("{API}/uploads?filename={}", enc(file_name))
    }
}

/// The audit log.
pub mod audit {
    use super::{enc, http, ClientError, API};
    use crate::api::AuditPage;

    /// One page of events, newest first; empty filters match everything.
    pub async fn page(
        actor: &str,
        action: &str,
        outcome: &str,
        offset: i64,
        limit: i64,
    ) -> Result<AuditPage, ClientError> {
        let mut q = String::new();
        if !actor.is_empty() {
            q.push_str(&format!("actor={}&", enc(actor)));
        }
        if !action.is_empty() {
            q.push_str(&format!("action={}&", enc(action)));
        }
        if !outcome.is_empty() {
            q.push_str(&format!("outcome={}&", enc(outcome)));
        }
        if offset > 0 {
            q.push_str(&format!("offset={offset}&"));
        }
        http::get(&format!("{API}/audit?{q}limit={limit}")).await
    }
}

/// The Settings page: schedule, retention, alerts.
pub mod settings {
    use super::{http, no_body, ClientError, API};
    use crate::api::{AlertDelivery, Pruned, ScheduleInfo, ScheduleUpdate, SettingsInfo};

    pub async fn get() -> Result<SettingsInfo, ClientError> {
        http::get(&format!("{API}/settings")).await
    }

    pub async fn put_schedule(update: &ScheduleUpdate) -> Result<ScheduleInfo, ClientError> {
        http::put(&format!("{API}/schedule"), update).await
    }

    /// What retention would delete now (a dry run: nothing is deleted).
    pub async fn retention_plan() -> Result<Vec<Pruned>, ClientError> {
        http::get(&format!("{API}/retention/plan")).await
    }

    /// Sends a test alert on every configured channel.
    pub async fn test_alert() -> Result<Vec<AlertDelivery>, ClientError> {
        http::post(&format!("{API}/alerts/test"), &no_body()).await
    }
}

/// `GET /readyz`: its 503 still describes the checks, so any status with a body is read.
/// The server answers from its last run of the checks; `refresh` runs them again.
pub async fn readiness(refresh: bool) -> Result<crate::api::ReadyReport, ClientError> {
    http::get_any_status(if refresh {
        "/readyz?refresh=1"
    } else {
        "/readyz"
    })
    .await
}
