//! Signing in and the first-run setup.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

/// `POST /api/v1/auth/confirm`: the signed-in user's password again, before an action
/// that destroys a recovery point or replaces data ("confirm it's you").
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ConfirmRequest {
    pub password: String,
}

/// The error code of a refusal that asks for the password again (403).
pub const CONFIRM_REQUIRED: &str = "confirm_required";

/// The signed-in user, as `GET /api/v1/auth/me` and a successful login return it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Me {
    pub username: String,
    pub role: String,
    pub signed_in_at: DateTime<Utc>,
    /// The session ends after this many seconds without a request the person made (the
    /// page warns a minute before).
    #[serde(default)]
    pub idle_timeout_secs: u64,
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
