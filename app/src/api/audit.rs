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
        /// A backup restored into a scratch database, proven and dropped.
        TestRestore = "backup.test_restore",
        /// An alert delivered (or not) on one channel.
        Alert = "alert.sent",
        SettingsChanged = "settings.changed",
        /// The password given again before a destructive action ("confirm it's you").
        PasswordConfirm = "auth.confirm",
        /// An account's role changed, or it was disabled or enabled.
        UserUpdated = "user.updated",
        UserDeleted = "user.deleted",
        /// A new one-time link to set an account's password (the old password stops working).
        PasswordReset = "user.password_reset",
        /// An invitation or reset link used: the account's password set.
        InvitationUsed = "user.invitation_used",
        /// Someone changed their own password.
        PasswordChanged = "auth.password_changed",
        /// Sessions ended by their owner or an administrator.
        SessionRevoked = "session.revoked",
        /// A personal API token made.
        TokenCreated = "token.created",
        TokenRevoked = "token.revoked",
        /// A request made with a token (every change; reads at most once a minute).
        TokenUsed = "token.used",
        /// Two-factor sign-in turned on (enrolment confirmed with a code).
        TotpEnabled = "totp.enabled",
        TotpDisabled = "totp.disabled",
        /// An administrator removed someone's second factor (a lost phone): they sign in
        /// with the password again, or enrol again where it is required.
        TotpReset = "totp.reset",
        /// A recovery code spent instead of a TOTP code.
        RecoveryCodeUsed = "totp.recovery_code_used",
    }
    /// The audit actions as the words the server writes.
    words mod audit_action {
        SETUP_COMPLETED = SetupCompleted,
        USER_CREATED = UserCreated,
        LOGIN = Login,
        LOGOUT = Logout,
        SESSION_EXPIRED = SessionExpired,
        BACKUP = Backup,
        BACKUP_CANCEL = BackupCancel,
        DOWNLOAD = Download,
        BACKUP_DELETE = BackupDelete,
        BACKUP_PIN = BackupPin,
        BACKUP_VERIFY = BackupVerify,
        UPLOAD = Upload,
        RESTORE = Restore,
        RESTORE_ROLLBACK = RestoreRollback,
        KEPT_DATABASE_DROP = KeptDatabaseDrop,
        TEST_RESTORE = TestRestore,
        ALERT = Alert,
        SETTINGS_CHANGED = SettingsChanged,
        PASSWORD_CONFIRM = PasswordConfirm,
        USER_UPDATED = UserUpdated,
        USER_DELETED = UserDeleted,
        PASSWORD_RESET = PasswordReset,
        INVITATION_USED = InvitationUsed,
        PASSWORD_CHANGED = PasswordChanged,
        SESSION_REVOKED = SessionRevoked,
        TOKEN_CREATED = TokenCreated,
        TOKEN_REVOKED = TokenRevoked,
        TOKEN_USED = TokenUsed,
        TOTP_ENABLED = TotpEnabled,
        TOTP_DISABLED = TotpDisabled,
        TOTP_RESET = TotpReset,
        RECOVERY_CODE_USED = RecoveryCodeUsed,
    }
}

wire_enum! {
    /// How an audited action ended.
    pub enum Outcome {
        Success = "success",
        Failure = "failure",
    }
    /// Audit outcomes as words.
    words mod outcome {
        SUCCESS = Success,
        FAILURE = Failure,
    }
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
