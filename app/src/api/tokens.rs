//! Personal API tokens (automation) and two-factor sign-in.

use super::Me;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What a token may do beyond its role's limits: each route needs one of these (a token
/// with none may do everything its role allows).
pub mod token_scope {
    pub const BACKUPS_READ: &str = "backups:read";
    pub const BACKUPS_RUN: &str = "backups:run";
    pub const RESTORES_RUN: &str = "restores:run";
    pub const AUDIT_READ: &str = "audit:read";
    pub const ALL: &[&str] = &[BACKUPS_READ, BACKUPS_RUN, RESTORES_RUN, AUDIT_READ];
}

/// `POST /api/v1/tokens`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct TokenRequest {
    pub name: String,
    /// Default: the owner's role; never higher.
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Default: 90 days from now.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    /// A token that does not expire (then no `expires_at`); it works until revoked.
    #[serde(default)]
    pub never_expires: bool,
}

/// A token as lists show it (never the token itself).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    pub owner: String,
    pub role: String,
    pub scopes: Vec<String>,
    /// The token's first characters, to tell tokens apart.
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// `POST /api/v1/tokens` → 201: the token, shown this once.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct CreatedToken {
    pub token: String,
    #[serde(flatten)]
    pub info: ApiToken,
}

/// `POST /api/v1/auth/login`'s answer: the signed-in user, or that a second step is
/// needed: a code (`second_factor`), or enrolment first (`enrolment_required`, when
/// two-factor sign-in is required and this person has none).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct LoginAnswer {
    #[serde(default)]
    pub second_factor: bool,
    #[serde(default)]
    pub enrolment_required: bool,
    #[serde(flatten)]
    pub me: Option<Me>,
}

/// `POST /api/v1/auth/second-factor`: a TOTP code or a recovery code.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct SecondFactorRequest {
    pub code: String,
}

/// `GET /api/v1/auth/totp`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct TotpStatus {
    pub enabled: bool,
    /// Required for everyone by the administrator (`LIFEBOAT_REQUIRE_2FA`).
    pub required: bool,
    pub recovery_codes_left: i64,
}

/// `POST /api/v1/auth/totp/enrol`: the secret to add to an authenticator app.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct TotpEnrolment {
    pub secret: String,
    pub otpauth_uri: String,
    /// The URI as a QR code (an SVG document) for a phone to scan; absent when the URI
    /// is too long for one.
    #[serde(default)]
    pub qr_svg: Option<String>,
}

/// `POST /api/v1/auth/totp/confirm` → the recovery codes, shown this once.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct RecoveryCodes {
    pub recovery_codes: Vec<String>,
}

/// `POST /api/v1/auth/totp/disable`: the password and a current code (or a recovery code).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct TotpDisableRequest {
    pub password: String,
    pub code: String,
}

/// `POST /api/v1/backups?wait=true`: the backup's end.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct WaitedBackup {
    pub job_id: i64,
    pub backup_id: Option<i64>,
    /// The job's final status (`succeeded`, `failed`, `cancelled`, `interrupted`).
    pub status: String,
    /// 0 when the backup succeeded, 1 otherwise (for scripts).
    pub exit_status: i32,
    pub message: Option<String>,
    pub size_bytes: Option<i64>,
    pub sha256: Option<String>,
}
