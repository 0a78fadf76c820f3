//! The append-only audit log.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One row of the append-only audit log.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct AuditEvent {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: Option<String>,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    /// See [`AuditAction`].
    pub action: String,
    pub target: Option<String>,
    /// See [`Outcome`].
    pub outcome: String,
    #[cfg_attr(feature = "ssr", sqlx(json))]
    pub details: serde_json::Value,
}

impl AuditEvent {
    pub fn outcome(&self) -> Option<Outcome> {
        Outcome::parse(&self.outcome)
    }
}

/// `GET /api/v1/audit`: one page of events, newest first, and how many match in all.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct AuditPage {
    pub items: Vec<AuditEvent>,
    pub total: i64,
}

wire_enum! {
    /// The audit actions Lifeboat writes. Shared so the Audit page's filter offers exactly
    /// what the server records.
    pub enum AuditAction {
        SetupCompleted = "setup.completed",
        UserCreated = "user.created",
        Login = "auth.login",
        Logout = "auth.logout",
        SessionExpired = "session.expired",
        Backup = "backup.run",
        BackupCancel = "backup.cancel",
        Download = "backup.download",
        /// A stored backup deleted (by retention or by hand).
        BackupDelete = "backup.delete",
        BackupPin = "backup.pin",
        BackupVerify = "backup.verify",
        /// A `.dump` received and validated (or refused).
        Upload = "upload.received",
        Restore = "restore.run",
        /// A swap restore undone: the earlier database swapped back in.
        RestoreRollback = "restore.rollback",
        /// A database kept aside by a swap restore (or its roll back) dropped.
        KeptDatabaseDrop = "restore.kept_dropped",
        /// An alert delivered (or not) on one channel.
        Alert = "alert.sent",
        SettingsChanged = "settings.changed",
    }
}

wire_enum! {
    /// How an audited action ended.
    pub enum Outcome {
        Success = "success",
        Failure = "failure",
    }
}

/// The audit actions as the words the server writes (see [`AuditAction`]).
pub mod audit_action {
    use super::AuditAction as A;

    pub const SETUP_COMPLETED: &str = A::SetupCompleted.as_str();
    pub const USER_CREATED: &str = A::UserCreated.as_str();
    pub const LOGIN: &str = A::Login.as_str();
    pub const LOGOUT: &str = A::Logout.as_str();
    pub const SESSION_EXPIRED: &str = A::SessionExpired.as_str();
    pub const BACKUP: &str = A::Backup.as_str();
    pub const BACKUP_CANCEL: &str = A::BackupCancel.as_str();
    pub const DOWNLOAD: &str = A::Download.as_str();
    pub const BACKUP_DELETE: &str = A::BackupDelete.as_str();
    pub const BACKUP_PIN: &str = A::BackupPin.as_str();
    pub const BACKUP_VERIFY: &str = A::BackupVerify.as_str();
    pub const UPLOAD: &str = A::Upload.as_str();
    pub const RESTORE: &str = A::Restore.as_str();
    pub const RESTORE_ROLLBACK: &str = A::RestoreRollback.as_str();
    pub const KEPT_DATABASE_DROP: &str = A::KeptDatabaseDrop.as_str();
    pub const ALERT: &str = A::Alert.as_str();
    pub const SETTINGS_CHANGED: &str = A::SettingsChanged.as_str();

    pub const ALL: &[&str] = &[
        SETUP_COMPLETED,
        USER_CREATED,
        LOGIN,
        LOGOUT,
        SESSION_EXPIRED,
        BACKUP,
        BACKUP_CANCEL,
        DOWNLOAD,
        BACKUP_DELETE,
        BACKUP_PIN,
        BACKUP_VERIFY,
        UPLOAD,
        RESTORE,
        RESTORE_ROLLBACK,
        KEPT_DATABASE_DROP,
        ALERT,
        SETTINGS_CHANGED,
    ];
}

/// Audit outcomes as words (see [`Outcome`]).
pub mod outcome {
    pub const SUCCESS: &str = super::Outcome::Success.as_str();
    pub const FAILURE: &str = super::Outcome::Failure.as_str();

    pub const ALL: &[&str] = &[SUCCESS, FAILURE];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_word_lists_match_the_enums() {
        let words: Vec<_> = AuditAction::ALL.iter().map(|a| a.as_str()).collect();
        assert_eq!(words, audit_action::ALL);
        for w in audit_action::ALL {
            assert_eq!(AuditAction::parse(w).map(AuditAction::as_str), Some(*w));
        }
        assert_eq!(AuditAction::parse("nope"), None);
        let outcomes: Vec<_> = Outcome::ALL.iter().map(|o| o.as_str()).collect();
        assert_eq!(outcomes, outcome::ALL);
    }

    #[test]
    fn the_json_is_the_word() {
        assert_eq!(
            serde_json::to_string(&AuditAction::BackupPin)
                .ok()
                .as_deref(),
            Some("\"backup.pin\"")
        );
        assert_eq!(
            serde_json::from_str::<Outcome>("\"failure\"").ok(),
            Some(Outcome::Failure)
        );
    }
}
