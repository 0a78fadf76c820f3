//! People's accounts: creation, password hashing (argon2id on blocking threads, a few at a
//! time) and credential checks that answer the same way for unknown users and wrong
//! passwords.

use crate::secret::Secret;
use crate::store::audit::{self, Entry, Origin};
use crate::store::invitations::{self, Invitation};
use crate::store::users as rows;
pub use crate::store::users::User;
use app::api::{audit_action, outcome, Role, MIN_PASSWORD_LEN};
use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use chrono::{DateTime, Utc};
use sqlx::SqlitePool;
use std::sync::{Arc, OnceLock};
use tokio::sync::Semaphore;

#[derive(thiserror::Error, Debug)]
pub enum UserError {
    #[error("{0}")]
    Invalid(String),
    #[error("a user named `{0}` already exists")]
    Exists(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error("{0}")]
    NotFound(String),
    /// The change would leave no active administrator.
    #[error("{0}")]
    LastAdmin(String),
    /// An invitation or reset link that is unknown, used or expired.
    #[error("{0}")]
    Link(String),
    /// The current password given to change it is wrong.
    #[error("the current password is wrong")]
    WrongPassword,
}

/// Usernames: 1–64 characters, letters, digits and `._-@`.
pub fn validate_username(name: &str) -> Result<(), String> {
    if name.is_empty() || name.chars().count() > 64 {
        return Err("a username has 1 to 64 characters".into());
    }
    if !name
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
    {
        return Err(format!(
            "`{name}` has characters other than letters, digits and . _ - @"
        ));
    }
    Ok(())
}

pub fn validate_password(pw: &str) -> Result<(), String> {
    if pw.chars().count() < MIN_PASSWORD_LEN {
        return Err(format!(
            "the password must have at least {MIN_PASSWORD_LEN} characters"
        ));
    }
    if pw.chars().count() > 1024 {
        return Err("the password is longer than 1024 characters".into());
    }
    Ok(())
}

/// argon2id with m = 19 MiB, t = 2, p = 1.
fn hasher() -> Argon2<'static> {
    // The parameters are constants within argon2's accepted ranges.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// At most two hashes at once: each takes 19 MiB and a core for a moment, and a burst of
/// logins must not starve the server.
fn hash_slots() -> &'static Arc<Semaphore> {
    static SLOTS: OnceLock<Arc<Semaphore>> = OnceLock::new();
    SLOTS.get_or_init(|| Arc::new(Semaphore::new(2)))
}

pub async fn hash_password(pw: Secret<String>) -> Result<String, UserError> {
    let _slot = hash_slots()
        .clone()
        .acquire_owned()
        .await
        .map_err(|e| UserError::Hash(e.to_string()))?;
    tokio::task::spawn_blocking(move || {
        hasher()
            .hash_password(pw.expose().as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| UserError::Hash(e.to_string()))
    })
    .await
    .map_err(|e| UserError::Hash(e.to_string()))?
}

async fn verify_password(pw: Secret<String>, hash: String) -> bool {
    let Ok(_slot) = hash_slots().clone().acquire_owned().await else {
        return false;
    };
    tokio::task::spawn_blocking(move || {
        hasher()
            .verify_password(pw.expose().as_bytes(), hash.as_str())
            .is_ok()
    })
    .await
    .unwrap_or(false)
}

/// A hash of a random password, verified against when the username is unknown so that an
/// unknown user takes as long to refuse as a wrong password.
async fn decoy_hash() -> String {
    static DECOY: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    DECOY
        .get_or_init(|| async {
            let random: String = {
                use rand::Rng;
                rand::thread_rng()
                    .sample_iter(&rand::distributions::Alphanumeric)
                    .take(32)
                    .map(char::from)
                    .collect()
            };
            hash_password(Secret::new(random)).await.unwrap_or_default()
        })
        .await
        .clone()
}

pub use rows::{all, by_id, count, find};

/// Creates an administrator and audits it (`user.created`).
pub async fn create(
    db: &SqlitePool,
    origin: &Origin,
    username: &str,
    password: Secret<String>,
) -> Result<User, UserError> {
    create_with(db, origin, username, Some(password), Role::Admin).await
}

/// Creates an account with `role` and audits it (`user.created`); without a password it
/// cannot sign in until one is set through an invitation link.
pub async fn create_with(
    db: &SqlitePool,
    origin: &Origin,
    username: &str,
    password: Option<Secret<String>>,
    role: Role,
) -> Result<User, UserError> {
    validate_username(username).map_err(UserError::Invalid)?;
    if let Some(pw) = &password {
        validate_password(pw.expose()).map_err(UserError::Invalid)?;
    }
    if find(db, username).await?.is_some() {
        return Err(UserError::Exists(username.to_string()));
    }
    let hash = match password {
        Some(pw) => Some(hash_password(pw).await?),
        None => None,
    };
    let now = Utc::now();
    let inserted = rows::insert(db, username, hash.as_deref(), role.as_str(), now).await;
    let user = match inserted {
        Ok(u) => u,
        // Two creations racing: the UNIQUE constraint decides.
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            return Err(UserError::Exists(username.to_string()))
        }
        Err(e) => return Err(e.into()),
    };
    audit::record(
        db,
        origin,
        Entry {
            action: audit_action::USER_CREATED,
            target: Some(&user.username),
            outcome: outcome::SUCCESS,
            details: serde_json::json!({
                "role": user.role,
                "invited": !user.has_password,
            }),
        },
    )
    .await?;
    Ok(user)
}

/// Serialises changes to accounts, so that two changes cannot each leave the other
/// administrator as the last one and then both go through.
fn people_lock() -> &'static tokio::sync::Mutex<()> {
    static LOCK: OnceLock<tokio::sync::Mutex<()>> = OnceLock::new();
    LOCK.get_or_init(|| tokio::sync::Mutex::new(()))
}

fn random_token() -> String {
    use rand::Rng;
    rand::thread_rng()
        .sample_iter(&rand::distributions::Alphanumeric)
        .take(40)
        .map(char::from)
        .collect()
}

fn digest(token: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(token.trim().as_bytes()))
}

/// A one-time password link just made: its token (shown once, never stored) and expiry.
pub struct Link {
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

async fn existing(db: &SqlitePool, id: i64) -> Result<User, UserError> {
    rows::by_id(db, id)
        .await?
        .ok_or_else(|| UserError::NotFound(format!("there is no account {id}")))
}

async fn new_link(
    db: &SqlitePool,
    origin: &Origin,
    user: &User,
    purpose: &str,
    ttl: std::time::Duration,
) -> Result<Link, UserError> {
    let token = random_token();
    let now = Utc::now();
    let expires_at = now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::days(1));
    invitations::replace(
        db,
        user.id,
        &digest(&token),
        purpose,
        origin.actor.as_deref(),
        now,
        expires_at,
    )
    .await?;
    Ok(Link { token, expires_at })
}

/// Creates an account with `role` and no password, and a one-time link to set it.
pub async fn invite(
    db: &SqlitePool,
    origin: &Origin,
    username: &str,
    role: Role,
    ttl: std::time::Duration,
) -> Result<(User, Link), UserError> {
    let user = create_with(db, origin, username, None, role).await?;
    let link = new_link(db, origin, &user, "invitation", ttl).await?;
    Ok((user, link))
}

/// A reset: the account's password stops working and a new one-time link sets a new one
/// (the caller ends the account's sessions).
pub async fn reset_password(
    db: &SqlitePool,
    origin: &Origin,
    id: i64,
    ttl: std::time::Duration,
) -> Result<(User, Link), UserError> {
    let user = existing(db, id).await?;
    rows::clear_password(db, id).await?;
    let link = new_link(db, origin, &user, "reset", ttl).await?;
    audit::record(
        db,
        origin,
        Entry {
            action: audit_action::PASSWORD_RESET,
            target: Some(&user.username),
            outcome: outcome::SUCCESS,
            details: serde_json::json!({ "link_expires_at": link.expires_at.to_rfc3339() }),
        },
    )
    .await?;
    let user = existing(db, id).await?;
    Ok((user, link))
}

/// The account a link sets the password of, while the link works.
pub async fn invitation(db: &SqlitePool, token: &str) -> Result<(Invitation, User), UserError> {
    let Some(link) = invitations::by_token_hash(db, &digest(token)).await? else {
        return Err(UserError::Link(
            "This link is not valid. Ask an administrator for a new one.".into(),
        ));
    };
    if link.used_at.is_some() {
        return Err(UserError::Link(
            "This link has already been used (a link works once). Ask an administrator for a new one."
                .into(),
        ));
    }
    if Utc::now() >= link.expires_at {
        return Err(UserError::Link(
            "This link has expired. Ask an administrator for a new one.".into(),
        ));
    }
    let user = existing(db, link.user_id).await?;
    Ok((link, user))
}

/// Uses a link: sets the password of its account, once.
pub async fn accept_invitation(
    db: &SqlitePool,
    origin: &Origin,
    token: &str,
    password: Secret<String>,
) -> Result<User, UserError> {
    let (link, user) = invitation(db, token).await?;
    validate_password(password.expose()).map_err(UserError::Invalid)?;
    let hash = hash_password(password).await?;
    if !invitations::use_for_password(db, link.id, user.id, &hash, Utc::now()).await? {
        return Err(UserError::Link(
            "This link has already been used (a link works once). Ask an administrator for a new one."
                .into(),
        ));
    }
    audit::record(
        db,
        &origin.clone().with_actor(user.username.clone()),
        Entry {
            action: audit_action::INVITATION_USED,
            target: Some(&user.username),
            outcome: outcome::SUCCESS,
            details: serde_json::json!({ "purpose": link.purpose }),
        },
    )
    .await?;
    existing(db, user.id).await
}

/// Changes one's own password, given the current one (the caller ends the other sessions).
pub async fn change_password(
    db: &SqlitePool,
    origin: &Origin,
    id: i64,
    current: Secret<String>,
    new: Secret<String>,
) -> Result<(), UserError> {
    let user = existing(db, id).await?;
    let hash = rows::password_hash(db, id).await?.unwrap_or_default();
    let current_ok = current.expose().len() <= 4096 && verify_password(current, hash).await;
    if !current_ok {
        audit::record(
            db,
            origin,
            Entry {
                action: audit_action::PASSWORD_CHANGED,
                target: Some(&user.username),
                outcome: outcome::FAILURE,
                details: serde_json::json!({ "reason": "wrong current password" }),
            },
        )
        .await?;
        return Err(UserError::WrongPassword);
    }
    validate_password(new.expose()).map_err(UserError::Invalid)?;
    let hash = hash_password(new).await?;
    rows::set_password(db, id, &hash, Utc::now()).await?;
    audit::record(
        db,
        origin,
        Entry {
            action: audit_action::PASSWORD_CHANGED,
            target: Some(&user.username),
            outcome: outcome::SUCCESS,
            details: serde_json::json!({}),
        },
    )
    .await?;
    Ok(())
}

/// Refuses a change that would leave no active administrator.
async fn keep_an_admin(db: &SqlitePool, user: &User, what: &str) -> Result<(), UserError> {
    if user.role == Role::Admin.as_str()
        && user.disabled_at.is_none()
        && !rows::another_active_admin(db, user.id).await?
    {
        return Err(UserError::LastAdmin(format!(
            "{} is the last active administrator and cannot be {what}: make another person an administrator first",
            user.username
        )));
    }
    Ok(())
}

/// Changes the role of account `id`, and audits it (`user.updated`).
pub async fn set_role(
    db: &SqlitePool,
    origin: &Origin,
    id: i64,
    role: Role,
) -> Result<User, UserError> {
    let _one_at_a_time = people_lock().lock().await;
    let user = existing(db, id).await?;
    if user.role == role.as_str() {
        return Ok(user);
    }
    if role != Role::Admin {
        keep_an_admin(db, &user, "demoted").await?;
    }
    rows::set_role(db, id, role.as_str()).await?;
    audit::record(
        db,
        origin,
        Entry {
            action: audit_action::USER_UPDATED,
            target: Some(&user.username),
            outcome: outcome::SUCCESS,
            details: serde_json::json!({ "role": { "from": user.role, "to": role.as_str() } }),
        },
    )
    .await?;
    existing(db, id).await
}

/// Disables or enables account `id`, and audits it (the caller ends a disabled account's
/// sessions).
pub async fn set_disabled(
    db: &SqlitePool,
    origin: &Origin,
    id: i64,
    disabled: bool,
) -> Result<User, UserError> {
    let _one_at_a_time = people_lock().lock().await;
    let user = existing(db, id).await?;
    if user.disabled_at.is_some() == disabled {
        return Ok(user);
    }
    if disabled {
        keep_an_admin(db, &user, "disabled").await?;
    }
    rows::set_disabled(db, id, disabled.then(Utc::now)).await?;
    audit::record(
        db,
        origin,
        Entry {
            action: audit_action::USER_UPDATED,
            target: Some(&user.username),
            outcome: outcome::SUCCESS,
            details: serde_json::json!({ "disabled": disabled }),
        },
    )
    .await?;
    existing(db, id).await
}

/// Deletes account `id`, and audits it (the caller ends its sessions).
pub async fn delete(db: &SqlitePool, origin: &Origin, id: i64) -> Result<User, UserError> {
    let _one_at_a_time = people_lock().lock().await;
    let user = existing(db, id).await?;
    keep_an_admin(db, &user, "deleted").await?;
    rows::delete(db, id).await?;
    audit::record(
        db,
        origin,
        Entry {
            action: audit_action::USER_DELETED,
            target: Some(&user.username),
            outcome: outcome::SUCCESS,
            details: serde_json::json!({ "role": user.role }),
        },
    )
    .await?;
    Ok(user)
}

/// Checks a username and password. Unknown users cost the same argon2 work as known ones.
pub async fn authenticate(
    db: &SqlitePool,
    username: &str,
    password: Secret<String>,
) -> sqlx::Result<Option<User>> {
    match rows::credentials(db, username).await? {
        Some((id, hash)) => {
            if verify_password(password, hash).await {
                rows::by_id(db, id).await
            } else {
                Ok(None)
            }
        }
        None => {
            let _ = verify_password(password, decoy_hash().await).await;
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_checked() {
        assert!(validate_username("admin").is_ok());
        assert!(validate_username("ops.team-1@site").is_ok());
        assert!(validate_username("").is_err());
        assert!(validate_username("a b").is_err());
        assert!(validate_username(&"x".repeat(65)).is_err());
    }

    #[tokio::test]
    async fn hashes_are_argon2id_with_the_required_parameters_and_verify() {
        let h = hash_password(Secret::new("correct horse battery".into()))
            .await
            .expect("hash");
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify_password(Secret::new("correct horse battery".into()), h.clone()).await);
        assert!(!verify_password(Secret::new("correct horse batterY".into()), h).await);
    }
}
