//! People's accounts: creation, password hashing (argon2id on blocking threads, a few at a
//! time) and credential checks that answer the same way for unknown users and wrong
//! passwords.

use crate::secret::Secret;
use crate::store::audit::{self, Entry, Origin};
use crate::store::users as rows;
pub use crate::store::users::User;
use app::api::{audit_action, outcome, Role, MIN_PASSWORD_LEN};
use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use chrono::Utc;
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

pub use rows::{count, find};

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
