//! Who is on the other end of a request: the client (address and user agent, for the
//! audit log and login throttling) and the signed-in administrator.

use super::error::AppError;
use super::sessions::{SessionAuth, ACTIVE_KEY, AUTH_KEY, BACKGROUND_HEADER};
use super::state::AppState;
use crate::store::audit::{self, Entry, Origin};
use app::api::{audit_action, outcome, Role};
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use chrono::{DateTime, TimeZone, Utc};
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use tower_sessions::Session;

#[derive(Clone, Debug)]
pub struct ClientInfo {
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
}

impl ClientInfo {
    pub fn origin(&self, actor: Option<&str>) -> Origin {
        Origin {
            actor: actor.map(str::to_string),
            client_ip: self.ip.map(|i| i.to_string()),
            user_agent: self.user_agent.clone(),
            password_confirmed_at: None,
            token: None,
        }
    }
}

impl FromRequestParts<AppState> for ClientInfo {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Infallible> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        // Behind reverse proxies the peer is a proxy; the client is read from
        // X-Forwarded-For through the trusted ones (`LIFEBOAT_TRUST_PROXY`).
        let ip = state.config.trust_proxy.client_ip(
            peer,
            parts
                .headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok()),
        );
        let user_agent = parts
            .headers
            .get(axum::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(300).collect());
        Ok(ClientInfo { ip, user_agent })
    }
}

/// The signed-in person making the request, whatever their role (handlers take the
/// role-checked [`super::roles`] wrappers instead). Extracting it fails with 401 when
/// there is no session or the account is gone or disabled, and ends (and audits) a
/// session past its absolute lifetime.
#[derive(Clone, Debug)]
pub struct CurrentUser {
    pub id: i64,
    pub username: String,
    pub role: Role,
    pub signed_in_at: DateTime<Utc>,
    /// When this session last checked the user's password (the login, or a confirmation).
    pub password_checked_at: DateTime<Utc>,
    pub client: ClientInfo,
    /// The personal API token the request came with (`None`: a signed-in session).
    pub token: Option<TokenUse>,
}

/// The token a request was made with: its id and name (named in the audit log).
#[derive(Clone, Debug)]
pub struct TokenUse {
    pub id: i64,
    pub name: String,
}

impl CurrentUser {
    pub fn origin(&self) -> Origin {
        let mut origin = self.client.origin(Some(&self.username));
        origin.token = self.token.as_ref().map(|t| t.name.clone());
        origin
    }
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        // A token, when one is presented, decides alone (a cookie beside it is ignored).
        if let Some(token) = super::bearer::presented(&parts.headers).map(str::to_string) {
            let client = ClientInfo::from_request_parts(parts, state)
                .await
                .unwrap_or_else(|e| match e {});
            let (row, owner) =
                super::bearer::authorize(&state.db, parts, client.origin(None), &token).await?;
            let Some(role) = Role::parse(&row.role) else {
                return Err(AppError::Unauthorized(
                    "This API token has no valid role.".into(),
                ));
            };
            tracing::Span::current().record("user", owner.username.as_str());
            // A token stands for its owner with the token's role; it counts as a fresh
            // password check (its scopes are what limits it).
            return Ok(CurrentUser {
                id: owner.id,
                username: owner.username,
                role,
                signed_in_at: row.created_at,
                password_checked_at: Utc::now(),
                client,
                token: Some(TokenUse {
                    id: row.id,
                    name: row.name,
                }),
            });
        }
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(|_| AppError::unauthenticated())?;
        let client = ClientInfo::from_request_parts(parts, state)
            .await
            .unwrap_or_else(|e| match e {});
        let Some(auth) = session.get::<SessionAuth>(AUTH_KEY).await? else {
            return Err(AppError::unauthenticated());
        };
        // The user goes into the request's span (opened by the trace layer).
        tracing::Span::current().record("user", auth.username.as_str());
        let signed_in_at = Utc
            .timestamp_millis_opt(auth.signed_in_at)
            .single()
            .unwrap_or_else(Utc::now);
        let age = Utc::now().signed_duration_since(signed_in_at);
        let limit = chrono::Duration::from_std(state.config.session_absolute_timeout)
            .unwrap_or(chrono::Duration::MAX);
        if age > limit {
            session.flush().await?;
            audit::record(
                &state.db,
                &client.origin(Some(&auth.username)),
                Entry {
                    action: audit_action::SESSION_EXPIRED,
                    target: Some(&auth.username),
                    outcome: outcome::SUCCESS,
                    details: serde_json::json!({
                        "reason": "absolute timeout",
                        "signed_in_at": signed_in_at.to_rfc3339(),
                    }),
                },
            )
            .await?;
            return Err(AppError::Unauthorized(
                "Your session has ended; sign in again.".into(),
            ));
        }
        // The account may have been removed or disabled since the login, and its role
        // may have changed: it is read again on every request.
        let account = crate::store::users::by_id(&state.db, auth.user_id)
            .await?
            .filter(|u| u.disabled_at.is_none());
        let Some(role) = account.and_then(|u| Role::parse(&u.role)) else {
            session.flush().await?;
            return Err(AppError::unauthenticated());
        };
        // A request the person made (not background polling, not an event stream) keeps
        // the session alive.
        let background = parts
            .headers
            .get(BACKGROUND_HEADER)
            .is_some_and(|v| v.as_bytes() == b"1")
            || parts.uri.path().ends_with("/events");
        if !background {
            session
                .insert(ACTIVE_KEY, Utc::now().timestamp_millis())
                .await?;
        }
        let password_checked_at = auth
            .password_checked_at
            .and_then(|ms| Utc.timestamp_millis_opt(ms).single())
            .unwrap_or(signed_in_at);
        Ok(CurrentUser {
            id: auth.user_id,
            username: auth.username,
            role,
            signed_in_at,
            password_checked_at,
            client,
            token: None,
        })
    }
}

/// A JSON request body whose rejection is an [`AppError`] (an `ApiError` body like every
/// other refusal) rather than axum's plain-text answer.
#[derive(axum::extract::FromRequest)]
#[from_request(via(axum::Json), rejection(AppError))]
pub struct JsonBody<T>(pub T);
