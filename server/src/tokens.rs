//! Personal API tokens, for automation (CI jobs, scripts): `lbt_` and 32 random bytes,
//! shown once and kept only as their SHA-256. Each has a name, a role no higher than its
//! owner's, optional scopes that narrow it further, and an expiry; it can be revoked, and
//! stops working with its owner's account. Creation and revocation are audited here; each
//! use by the web edge (`http::bearer`).

use crate::store::audit::{self, Entry, Origin};
use crate::store::tokens::{self as rows, TokenRow};
use crate::store::users::User;
use app::api::{audit_action, outcome, token_scope, ApiToken, Role, TokenRequest};
use chrono::{DateTime, Utc};
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::SqlitePool;

/// What every token starts with (so that secret scanners and people can recognise one).
pub const PREFIX: &str = "lbt_";
/// How long a token lives when its expiry is not given.
pub const DEFAULT_LIFETIME_DAYS: i64 = 90;

#[derive(thiserror::Error, Debug)]
pub enum TokenError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Forbidden(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// A new token: the prefix and 32 random bytes in unpadded base64url.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("{PREFIX}{}", data_encoding::BASE64URL_NOPAD.encode(&bytes))
}

/// How a token is stored and looked up: SHA-256 hex of the whole token.
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A stored token as lists show it.
pub fn to_wire(r: &TokenRow) -> ApiToken {
    ApiToken {
        id: r.id,
        name: r.name.clone(),
        owner: r.owner.clone(),
        role: r.role.clone(),
        scopes: scopes_of(&r.scopes),
        prefix: r.prefix.clone(),
        created_at: r.created_at,
        expires_at: r.expires_at,
        last_used_at: r.last_used_at,
        revoked_at: r.revoked_at,
    }
}

pub fn scopes_of(stored: &str) -> Vec<String> {
    stored.split_whitespace().map(str::to_string).collect()
}

/// Checks a request against the owner and the rules; the role, scopes (sorted, unique) and
/// expiry to store.
/// What a valid request asks for: the role, the scopes (sorted, once each) and the expiry
/// (`None`: never).
type Checked = (String, Vec<String>, Option<DateTime<Utc>>);

fn validate(owner: &User, req: &TokenRequest, now: DateTime<Utc>) -> Result<Checked, TokenError> {
    let name = req.name.trim();
    if name.is_empty() || name.chars().count() > 64 {
        return Err(TokenError::Invalid(
            "A token needs a name of 1 to 64 characters (what it is for, e.g. `nightly CI`)."
                .into(),
        ));
    }
    let role = req.role.clone().unwrap_or_else(|| owner.role.clone());
    let Some(wanted) = Role::parse(&role) else {
        let roles: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
        return Err(TokenError::Invalid(format!(
            "`{role}` is not a role; use one of {}.",
            roles.join(", ")
        )));
    };
    if Role::parse(&owner.role).is_none_or(|own| !own.includes(wanted)) {
        return Err(TokenError::Forbidden(format!(
            "A token's role cannot be higher than its owner's ({}).",
            owner.role
        )));
    }
    let mut scopes = Vec::new();
    for s in &req.scopes {
        let s = s.trim();
        if !token_scope::ALL.contains(&s) {
            return Err(TokenError::Invalid(format!(
                "`{s}` is not a scope; use any of {}.",
                token_scope::ALL.join(", ")
            )));
        }
        scopes.push(s.to_string());
    }
    scopes.sort();
    scopes.dedup();
    if req.never_expires {
        if req.expires_at.is_some() {
            return Err(TokenError::Invalid(
                "Give an expiry or ask for a token that never expires, not both.".into(),
            ));
        }
        return Ok((role, scopes, None));
    }
    let expires_at = req
        .expires_at
        .unwrap_or(now + chrono::Duration::days(DEFAULT_LIFETIME_DAYS));
    if expires_at <= now {
        return Err(TokenError::Invalid(
            "The expiry is in the past; give a later one.".into(),
        ));
    }
    Ok((role, scopes, Some(expires_at)))
}

/// Makes a token for `owner` and audits it (`token.created`, with its name, role, scopes
/// and expiry, never the token). Returns it with the token itself, to be shown once.
pub async fn create(
    db: &SqlitePool,
    origin: &Origin,
    owner: &User,
    req: &TokenRequest,
) -> Result<(ApiToken, String), TokenError> {
    let now = Utc::now();
    let (role, scopes, expires_at) = validate(owner, req, now)?;
    let token = new_token();
    let prefix: String = token.chars().take(PREFIX.len() + 6).collect();
    let name = req.name.trim();
    let id = rows::insert(
        db,
        &rows::NewRow {
            user_id: owner.id,
            name,
            role: &role,
            scopes: &scopes.join(" "),
            token_hash: &hash(&token),
            prefix: &prefix,
            created_at: now,
            expires_at,
        },
    )
    .await?;
    audit::record(
        db,
        origin,
        Entry {
            action: audit_action::TOKEN_CREATED,
            target: Some(name),
            outcome: outcome::SUCCESS,
            details: serde_json::json!({
                "token_id": id,
                "owner": owner.username,
                "role": role,
                "scopes": scopes,
                "expires_at": expires_at.map(|e| e.to_rfc3339()),
                "prefix": prefix,
            }),
        },
    )
    .await?;
    let row = rows::get(db, id)
        .await?
        .ok_or_else(|| TokenError::Db(sqlx::Error::RowNotFound))?;
    Ok((to_wire(&row), token))
}

/// Revokes token `id` (only one of `owner_id`'s, unless `None`: any) and audits it.
/// `Ok(None)` when there is no such token.
pub async fn revoke(
    db: &SqlitePool,
    origin: &Origin,
    owner_id: Option<i64>,
    id: i64,
) -> Result<Option<ApiToken>, TokenError> {
    let Some(row) = rows::get(db, id).await? else {
        return Ok(None);
    };
    if owner_id.is_some_and(|o| o != row.user_id) {
        return Ok(None);
    }
    if rows::revoke(db, id, Utc::now()).await? {
        audit::record(
            db,
            origin,
            Entry {
                action: audit_action::TOKEN_REVOKED,
                target: Some(&row.name),
                outcome: outcome::SUCCESS,
                details: serde_json::json!({ "token_id": id, "owner": row.owner }),
            },
        )
        .await?;
    }
    Ok(rows::get(db, id).await?.map(|r| to_wire(&r)))
}

/// Why a token presented with a request does not work.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    Unknown,
    Revoked,
    Expired,
    /// The owner's account is gone or disabled.
    OwnerGone,
}

/// The stored token a request presented, and its owner, when it may be used now.
pub async fn resolve(
    db: &SqlitePool,
    token: &str,
) -> sqlx::Result<Result<(TokenRow, User), Refused>> {
    if !token.starts_with(PREFIX) || token.len() > 200 {
        return Ok(Err(Refused::Unknown));
    }
    let Some(row) = rows::by_hash(db, &hash(token)).await? else {
        return Ok(Err(Refused::Unknown));
    };
    if row.revoked_at.is_some() {
        return Ok(Err(Refused::Revoked));
    }
    if row.expires_at.is_some_and(|e| e <= Utc::now()) {
        return Ok(Err(Refused::Expired));
    }
    let owner = crate::store::users::by_id(db, row.user_id)
        .await?
        .filter(|o| o.disabled_at.is_none());
    let Some(owner) = owner else {
        return Ok(Err(Refused::OwnerGone));
    };
    Ok(Ok((row, owner)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(role: &str) -> User {
        User {
            id: 1,
            username: "ops".into(),
            role: role.into(),
            created_at: Utc::now(),
            disabled_at: None,
            has_password: true,
        }
    }

    fn req(role: Option<&str>, scopes: &[&str]) -> TokenRequest {
        TokenRequest {
            name: "ci".into(),
            role: role.map(str::to_string),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            expires_at: None,
            never_expires: false,
        }
    }

    #[test]
    fn tokens_look_alike_differ_and_hash_to_hex() {
        let a = new_token();
        assert!(a.starts_with("lbt_") && a.len() == 4 + 43, "{a}");
        assert_ne!(a, new_token());
        assert_eq!(hash(&a).len(), 64);
    }

    #[test]
    fn a_token_role_is_never_above_its_owner_and_scopes_are_known() {
        let now = Utc::now();
        assert!(validate(&owner("operator"), &req(Some("admin"), &[]), now).is_err());
        assert!(validate(&owner("operator"), &req(Some("viewer"), &[]), now).is_ok());
        let (role, scopes, exp) = validate(
            &owner("admin"),
            &req(None, &["backups:run", "backups:read", "backups:run"]),
            now,
        )
        .expect("valid");
        assert_eq!(role, "admin");
        assert_eq!(scopes, vec!["backups:read", "backups:run"]);
        assert!(exp.is_some_and(|e| e > now));
        assert!(validate(&owner("admin"), &req(None, &["people:write"]), now).is_err());
        assert!(validate(&owner("admin"), &req(Some("root"), &[]), now).is_err());
    }

    #[test]
    fn a_token_may_never_expire_but_not_with_an_expiry_too() {
        let now = Utc::now();
        let never = TokenRequest {
            never_expires: true,
            ..req(None, &[])
        };
        let (_, _, exp) = validate(&owner("viewer"), &never, now).expect("valid");
        assert_eq!(exp, None);
        let both = TokenRequest {
            expires_at: Some(now + chrono::Duration::days(1)),
            ..never
        };
        assert!(validate(&owner("viewer"), &both, now).is_err());
    }
}
