//! Requests made with a personal API token (`Authorization: Bearer lbt_…`): the token
//! checked, the route's scope checked against the token's scopes, and the use audited.
//!
//! Auditing: every request that changes something is recorded as `token.used` (besides
//! the action's own event, which names the token too); reads at most once a minute per
//! token, so that a poller does not flood the log. `last_used_at` is kept on every use.

use super::error::AppError;
use crate::store::audit::{self, Entry, Origin};
use crate::store::tokens::TokenRow;
use crate::store::users::User;
use crate::tokens::{self, Refused};
use app::api::{audit_action, outcome, token_scope};
use axum::http::request::Parts;
use axum::http::{header, Method, StatusCode};
use chrono::Utc;
use sqlx::SqlitePool;

/// The token a request names in its `Authorization` header, if it uses the Bearer scheme.
pub fn presented(headers: &axum::http::HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// The scope a route needs from a token with scopes: `None` for routes that no scoped
/// token may use (settings, tokens, people…); those take an unscoped token of a role
/// allowed there.
pub fn scope_for(method: &Method, path: &str) -> Option<&'static str> {
    let rest = path.strip_prefix("/api/v1").unwrap_or(path);
    let under = |p: &str| rest == p || rest.starts_with(&format!("{p}/"));
    let read = method == Method::GET || method == Method::HEAD;
    if under("/audit") && read {
        Some(token_scope::AUDIT_READ)
    } else if under("/backups") || under("/jobs") {
        Some(if read {
            token_scope::BACKUPS_READ
        } else {
            token_scope::BACKUPS_RUN
        })
    } else if under("/restores") || under("/uploads") {
        Some(if read {
            token_scope::BACKUPS_READ
        } else {
            token_scope::RESTORES_RUN
        })
    } else if (under("/auth/me") || under("/setup")) && read {
        // Who am I: any token may ask.
        Some("")
    } else {
        None
    }
}

/// Tokens never manage tokens or second factors (one's own, or someone's reset by an
/// administrator), and never sign in: a leaked token cannot make itself a successor, nor
/// take away someone's second factor.
fn never_with_a_token(path: &str) -> bool {
    let rest = path.strip_prefix("/api/v1").unwrap_or(path);
    rest.starts_with("/tokens")
        || (rest.starts_with("/auth/") && rest != "/auth/me")
        || (rest.starts_with("/users/") && rest.trim_end_matches('/').ends_with("/totp"))
}

/// Checks the presented token for this request; the token and its owner when it may be
/// used here. Audits the use (see the module's doc).
pub async fn authorize(
    db: &SqlitePool,
    parts: &Parts,
    client: Origin,
    token: &str,
) -> Result<(TokenRow, User), AppError> {
    let (row, owner) = match tokens::resolve(db, token).await? {
        Ok(found) => found,
        Err(why) => {
            let message = match why {
                Refused::Unknown => "This API token is not valid.",
                Refused::Revoked => "This API token has been revoked.",
                Refused::Expired => "This API token has expired.",
                Refused::OwnerGone => {
                    "The account this API token belongs to can no longer sign in."
                }
            };
            return Err(AppError::Unauthorized(message.into()));
        }
    };
    let path = parts.uri.path();
    let refuse = |message: String| AppError::Refused {
        status: StatusCode::FORBIDDEN,
        code: "token_scope",
        message,
        job_id: None,
    };
    if never_with_a_token(path) {
        return Err(refuse(
            "API tokens cannot be used to manage tokens, second factors or sign-ins; use the web console.".into(),
        ));
    }
    let scopes = tokens::scopes_of(&row.scopes);
    if !scopes.is_empty() {
        match scope_for(&parts.method, path) {
            Some("") => {}
            Some(needed) if scopes.iter().any(|s| s == needed) => {}
            Some(needed) => {
                return Err(refuse(format!(
                    "This API token lacks the scope `{needed}` that this request needs."
                )))
            }
            None => {
                return Err(refuse(
                    "This API token has scopes, none of which covers this request.".into(),
                ))
            }
        }
    }
    let now = Utc::now();
    let before = crate::store::tokens::touch(db, row.id, now).await?;
    let read = parts.method == Method::GET || parts.method == Method::HEAD;
    let recently = before.is_some_and(|b| now.signed_duration_since(b).num_seconds() < 60);
    if !read || !recently {
        let origin = Origin {
            actor: Some(owner.username.clone()),
            token: Some(row.name.clone()),
            ..client
        };
        audit::record(
            db,
            &origin,
            Entry {
                action: audit_action::TOKEN_USED,
                target: Some(&row.name),
                outcome: outcome::SUCCESS,
                details: serde_json::json!({
                    "token_id": row.id,
                    "method": parts.method.as_str(),
                    "path": path,
                }),
            },
        )
        .await?;
    }
    Ok((row, owner))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderMap, HeaderValue};

    #[test]
    fn routes_map_to_scopes() {
        assert_eq!(
            scope_for(&Method::GET, "/api/v1/backups"),
            Some("backups:read")
        );
        assert_eq!(
            scope_for(&Method::POST, "/api/v1/backups"),
            Some("backups:run")
        );
        assert_eq!(
            scope_for(&Method::GET, "/api/v1/jobs/3/events"),
            Some("backups:read")
        );
        assert_eq!(
            scope_for(&Method::POST, "/api/v1/restores"),
            Some("restores:run")
        );
        assert_eq!(scope_for(&Method::GET, "/api/v1/audit"), Some("audit:read"));
        assert_eq!(scope_for(&Method::PUT, "/api/v1/settings/schedule"), None);
        assert_eq!(scope_for(&Method::GET, "/api/v1/backupsx"), None);
        assert!(never_with_a_token("/api/v1/tokens"));
        assert!(never_with_a_token("/api/v1/auth/totp/disable"));
        assert!(never_with_a_token("/api/v1/users/7/totp"));
        assert!(never_with_a_token("/api/v1/users/7/totp/"));
        assert!(!never_with_a_token("/api/v1/users/7"));
        assert!(!never_with_a_token("/api/v1/auth/me"));
    }

    #[test]
    fn the_bearer_scheme_is_read_whatever_its_case() {
        let mut h = HeaderMap::new();
        assert_eq!(presented(&h), None);
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer lbt_x"),
        );
        assert_eq!(presented(&h), Some("lbt_x"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(presented(&h), None);
    }
}
