//! Role-aware proof types: a handler that takes [`Viewer`], [`Operator`] or [`Admin`]
//! runs only for a signed-in person whose role includes that one; anyone else gets 403
//! `role_required` (401 when not signed in). Each wraps the [`CurrentUser`] it was
//! checked on, and dereferences to it.

use super::error::AppError;
use super::extract::CurrentUser;
use super::state::AppState;
use app::api::{Role, ROLE_REQUIRED};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::StatusCode;

impl CurrentUser {
    /// This user, or 403 `role_required` when their role does not include `needed`.
    pub fn require(self, needed: Role) -> Result<CurrentUser, AppError> {
        if self.role.includes(needed) {
            return Ok(self);
        }
        Err(AppError::Refused {
            status: StatusCode::FORBIDDEN,
            code: ROLE_REQUIRED,
            message: format!(
                "This needs the {} role; you are signed in as {} ({}).",
                needed.label(),
                self.username,
                self.role.label()
            ),
            job_id: None,
        })
    }
}

macro_rules! role_extractor {
    ($(#[$meta:meta])* $name:ident, $role:expr) => {
        $(#[$meta])*
        #[derive(Clone, Debug)]
        pub struct $name(pub CurrentUser);

        impl FromRequestParts<AppState> for $name {
            type Rejection = AppError;

            async fn from_request_parts(
                parts: &mut Parts,
                state: &AppState,
            ) -> Result<Self, AppError> {
                let user = CurrentUser::from_request_parts(parts, state).await?;
                Ok($name(user.require($role)?))
            }
        }

        impl std::ops::Deref for $name {
            type Target = CurrentUser;

            fn deref(&self) -> &CurrentUser {
                &self.0
            }
        }
    };
}

role_extractor!(
    /// Anyone signed in: history, progress, the audit log, their own account.
    Viewer,
    Role::Viewer
);
role_extractor!(
    /// Back up now, download, verify, restore.
    Operator,
    Role::Operator
);
role_extractor!(
    /// Everything, including people and settings.
    Admin,
    Role::Admin
);
