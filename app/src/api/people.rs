//! People and what they may do: roles, accounts, invitation links, sessions.

wire_enum! {
    /// What a person may do. Each role includes everything the ones before it may do:
    /// a viewer reads (history, progress, audit), an operator also backs up, downloads,
    /// verifies and restores, an administrator also manages people and settings.
    pub enum Role {
        Viewer = "viewer",
        Operator = "operator",
        Admin = "admin",
    }
}

impl Role {
    fn rank(self) -> u8 {
        match self {
            Role::Viewer => 0,
            Role::Operator => 1,
            Role::Admin => 2,
        }
    }

    /// Whether this role may do what `needed` may.
    pub fn includes(self, needed: Role) -> bool {
        self.rank() >= needed.rank()
    }

    /// How the product names the role to a person.
    pub fn label(self) -> &'static str {
        match self {
            Role::Viewer => "Viewer",
            Role::Operator => "Operator",
            Role::Admin => "Administrator",
        }
    }
}

/// The error code of a refusal because the signed-in person's role is not enough (403).
pub const ROLE_REQUIRED: &str = "role_required";

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// `GET /api/v1/users`: one account.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Person {
    pub id: i64,
    pub username: String,
    /// A [`Role`] word.
    pub role: String,
    pub created_at: DateTime<Utc>,
    pub disabled: bool,
    /// Invited and the link not used yet (or reset and no new password yet): cannot sign in.
    pub password_pending: bool,
    /// How many signed-in sessions the account has now.
    pub sessions: usize,
    /// Two-factor sign-in is on for the account.
    #[serde(default)]
    pub two_factor: bool,
}

impl Person {
    pub fn role(&self) -> Option<Role> {
        Role::parse(&self.role)
    }
}

/// `POST /api/v1/users`: invite a person; they set their password through the link.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct NewPerson {
    pub username: String,
    pub role: Role,
}

/// `PATCH /api/v1/users/{id}`: what to change (absent fields stay as they are).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct PersonChange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
}

/// A one-time link that sets an account's password: an invitation or a reset.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct InvitationLink {
    pub username: String,
    /// The whole link to give the person (it works once, until `expires_at`).
    pub url: String,
    pub expires_at: DateTime<Utc>,
}

/// `POST /api/v1/users` and `POST /api/v1/users/{id}/reset-password` answer.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Invited {
    pub person: Person,
    pub invitation: InvitationLink,
}

/// `POST /api/v1/invitations/check`: whom a link is for, before a password is chosen.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct InvitationToken {
    pub token: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct InvitationInfo {
    pub username: String,
    pub role: String,
    pub expires_at: DateTime<Utc>,
}

/// `POST /api/v1/invitations/accept`: the link's token and the new password.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct InvitationAccept {
    pub token: String,
    pub password: String,
}

/// `POST /api/v1/auth/password`: change one's own password.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct PasswordChange {
    pub current: String,
    pub new: String,
}

/// `GET /api/v1/auth/sessions`: one signed-in session of the account.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct SessionInfo {
    /// A name for the session (not its secret id), for `DELETE /api/v1/auth/sessions/{id}`.
    pub id: String,
    pub signed_in_at: DateTime<Utc>,
    pub last_active_at: Option<DateTime<Utc>>,
    pub expires_at: DateTime<Utc>,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    /// The browser and system read from the user agent, e.g. "Firefox on Linux".
    pub browser: String,
    /// The session making this request.
    pub current: bool,
}

/// How many sessions a sign-out ended.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct SessionsEnded {
    pub ended: usize,
}

/// `DELETE /api/v1/users/{id}/totp`: the account after its second factor was removed.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct SecondFactorReset {
    pub person: Person,
    /// Whether two-factor sign-in was on (rather than an enrolment only started).
    pub was_enabled: bool,
    /// The account's sessions ended.
    pub sessions_ended: usize,
}

/// "Firefox on Linux", "Chrome on Windows", … from a User-Agent header, for people to
/// recognise their sessions (the raw header is kept too).
pub fn describe_user_agent(ua: Option<&str>) -> String {
    let Some(ua) = ua.filter(|u| !u.trim().is_empty()) else {
        return "Unknown browser".into();
    };
    let browser = if ua.contains("Firefox/") {
        "Firefox"
    } else if ua.contains("Edg/") {
        "Edge"
    } else if ua.contains("OPR/") {
        "Opera"
    } else if ua.contains("Chrome/") || ua.contains("Chromium/") {
        "Chrome"
    } else if ua.contains("Safari/") {
        "Safari"
    } else if ua.starts_with("curl/") {
        "curl"
    } else if ua.starts_with("lifeboat") {
        "Lifeboat command line"
    } else {
        return ua.chars().take(40).collect();
    };
    let system = if ua.contains("Android") {
        Some("Android")
    } else if ua.contains("iPhone") || ua.contains("iPad") {
        Some("iOS")
    } else if ua.contains("Windows") {
        Some("Windows")
    } else if ua.contains("Mac OS X") || ua.contains("Macintosh") {
        Some("macOS")
    } else if ua.contains("Linux") || ua.contains("X11") {
        Some("Linux")
    } else {
        None
    };
    match system {
        Some(os) => format!("{browser} on {os}"),
        None => browser.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_role_includes_the_ones_below() {
        assert!(Role::Admin.includes(Role::Operator));
        assert!(Role::Operator.includes(Role::Viewer));
        assert!(Role::Viewer.includes(Role::Viewer));
        assert!(!Role::Viewer.includes(Role::Operator));
        assert!(!Role::Operator.includes(Role::Admin));
        assert_eq!(Role::parse("operator"), Some(Role::Operator));
    }

    #[test]
    fn user_agents_read_as_a_browser_and_a_system() {
        let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
        assert_eq!(describe_user_agent(Some(firefox)), "Firefox on Linux");
        let edge = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36 Edg/120.0";
        assert_eq!(describe_user_agent(Some(edge)), "Edge on Windows");
        assert_eq!(describe_user_agent(None), "Unknown browser");
    }
}
