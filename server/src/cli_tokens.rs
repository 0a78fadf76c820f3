//! `lifeboat token create|list|revoke`: personal API tokens from a terminal on the
//! server (for setting up automation; each action is audited as the OS user running it).

use crate::config::Config;
use crate::store::audit::Origin;
use crate::{store, tokens};
use app::api::{ApiToken, TokenRequest};
use clap::Subcommand;

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Make a token for a person; it is printed once, on standard output.
    Create {
        /// The person the token acts for.
        #[arg(long)]
        user: String,
        /// What the token is for (shown in lists and in the audit log).
        #[arg(long)]
        name: String,
        /// viewer, operator or admin; default and most: the person's own role.
        #[arg(long)]
        role: Option<String>,
        /// Limit the token to these (repeat): backups:read, backups:run, restores:run,
        /// audit:read. None: everything its role allows.
        #[arg(long = "scope", value_name = "SCOPE")]
        scopes: Vec<String>,
        /// How long it works, e.g. 30d, 12h.
        #[arg(long, default_value = "90d", value_parser = humantime::parse_duration)]
        expires_in: std::time::Duration,
    },
    /// List tokens (everyone's, or one person's), newest first; never the tokens themselves.
    List {
        #[arg(long)]
        user: Option<String>,
    },
    /// Revoke a token by id; it stops working at once.
    Revoke { id: i64 },
}

pub async fn run(config: Config, command: &TokenCommand, json: bool) -> anyhow::Result<()> {
    let db = store::open_with(&config.data_dir, config.db_busy_timeout).await?;
    match command {
        TokenCommand::Create {
            user,
            name,
            role,
            scopes,
            expires_in,
        } => {
            let Some(owner) = store::users::find(&db, user).await? else {
                anyhow::bail!("there is no user `{user}`");
            };
            let req = TokenRequest {
                name: name.clone(),
                role: role.clone(),
                scopes: scopes.clone(),
                expires_at: Some(chrono::Utc::now() + chrono::Duration::from_std(*expires_in)?),
                never_expires: false,
            };
            let (info, token) = tokens::create(&db, &Origin::cli(), &owner, &req)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            if json {
                let created = app::api::CreatedToken { token, info };
                println!("{}", serde_json::to_string(&created)?);
            } else {
                println!("{token}");
                eprintln!(
                    "token {} `{}` for {} ({}), expires {}: shown once, keep it somewhere safe",
                    info.id,
                    info.name,
                    info.owner,
                    describe(&info),
                    info.expires_at
                        .map(|e| e.to_rfc3339())
                        .unwrap_or_else(|| "never".into())
                );
            }
        }
        TokenCommand::List { user } => {
            let owner = match user {
                Some(u) => match store::users::find(&db, u).await? {
                    Some(o) => Some(o.id),
                    None => anyhow::bail!("there is no user `{u}`"),
                },
                None => None,
            };
            let list: Vec<ApiToken> = store::tokens::list(&db, owner)
                .await?
                .iter()
                .map(tokens::to_wire)
                .collect();
            if json {
                println!("{}", serde_json::to_string(&list)?);
            } else if list.is_empty() {
                println!("no tokens");
            } else {
                for t in &list {
                    let state = if t.revoked_at.is_some() {
                        "revoked".to_string()
                    } else if t.expires_at.is_some_and(|e| e <= chrono::Utc::now()) {
                        "expired".to_string()
                    } else {
                        format!(
                            "last used {}",
                            t.last_used_at
                                .map(|l| l.to_rfc3339())
                                .unwrap_or_else(|| "never".into())
                        )
                    };
                    println!(
                        "{:>4}  {}…  {:<24} {:<10} {} ({}) {state}",
                        t.id,
                        t.prefix,
                        t.name,
                        t.owner,
                        describe(t),
                        t.expires_at
                            .map(|e| format!("expires {}", e.to_rfc3339()))
                            .unwrap_or_default()
                    );
                }
            }
        }
        TokenCommand::Revoke { id } => {
            let revoked = tokens::revoke(&db, &Origin::cli(), None, *id)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let Some(t) = revoked else {
                anyhow::bail!("there is no token {id}");
            };
            if json {
                println!("{}", serde_json::to_string(&t)?);
            } else {
                println!("revoked token {} `{}` of {}", t.id, t.name, t.owner);
            }
        }
    }
    Ok(())
}

/// "role admin, scopes backups:run" or "role viewer, all scopes".
fn describe(t: &ApiToken) -> String {
    if t.scopes.is_empty() {
        format!("role {}, every scope", t.role)
    } else {
        format!("role {}, scopes {}", t.role, t.scopes.join(" "))
    }
}
