//! `lifeboat user …`: people and their roles from the command line, for the OS user who
//! runs Lifeboat (audited as `os:NAME`). Each prints a line, or JSON with `--json`.

use crate::config::Config;
use crate::http::sessions::end_all_of;
use crate::secret::Secret;
use crate::store;
use crate::store::audit::Origin;
use crate::users::{self, User};
use app::api::Role;
use clap::Subcommand;
use sqlx::SqlitePool;
use std::io::Read;

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create an account; the password is read from standard input.
    Add {
        name: String,
        /// admin, operator or viewer.
        #[arg(long, default_value = "admin", value_parser = parse_role)]
        role: Role,
        /// Read the password from standard input (one line).
        #[arg(long)]
        password_stdin: bool,
    },
    /// List the accounts.
    List,
    /// Change an account's role (the last active admin keeps theirs).
    SetRole {
        name: String,
        #[arg(value_parser = parse_role)]
        role: Role,
    },
    /// Disable an account: it cannot sign in and its sessions end.
    Disable { name: String },
    /// Enable a disabled account.
    Enable { name: String },
    /// Delete an account and end its sessions.
    Delete { name: String },
    /// Remove an account's password and print a one-time link to set a new one.
    ResetPassword { name: String },
    /// Remove an account's two-factor sign-in (a lost phone and no recovery code) and end
    /// its sessions: the password alone signs in again, or enrolment comes next when
    /// LIFEBOAT_REQUIRE_2FA is on.
    #[command(name = "reset-2fa")]
    Reset2fa { name: String },
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s.trim()).ok_or_else(|| format!("`{s}` is not a role: admin, operator or viewer"))
}

fn describe(u: &User) -> serde_json::Value {
    serde_json::json!({
        "id": u.id,
        "username": u.username,
        "role": u.role,
        "created_at": u.created_at,
        "disabled": u.disabled_at.is_some(),
        "password_pending": !u.has_password,
    })
}

async fn named(db: &SqlitePool, name: &str) -> anyhow::Result<User> {
    users::find(db, name)
        .await?
        .ok_or_else(|| anyhow::anyhow!("there is no account named `{name}`"))
}

pub async fn run(config: Config, command: &UserCommand, json: bool) -> anyhow::Result<()> {
    let db = store::open_with(&config.data_dir, config.db_busy_timeout).await?;
    let origin = Origin::cli();
    let say = |value: serde_json::Value, line: String| {
        if json {
            println!("{value}");
        } else {
            println!("{line}");
        }
    };
    match command {
        UserCommand::Add {
            name,
            role,
            password_stdin,
        } => {
            if !password_stdin {
                anyhow::bail!("pass --password-stdin and send the password on standard input, e.g. `printf '%s' \"$PW\" | lifeboat user add {name} --password-stdin`");
            }
            let mut input = String::new();
            std::io::stdin().read_to_string(&mut input)?;
            let password = input.lines().next().unwrap_or("").to_string();
            let user =
                users::create_with(&db, &origin, name, Some(Secret::new(password)), *role).await?;
            let mut value = describe(&user);
            value["created"] = true.into();
            say(
                value,
                format!("created `{}` ({})", user.username, role.label()),
            );
        }
        UserCommand::List => {
            let all = users::all(&db).await?;
            if json {
                let list: Vec<_> = all.iter().map(describe).collect();
                println!("{}", serde_json::Value::Array(list));
            } else {
                for u in &all {
                    let state = match (u.disabled_at.is_some(), u.has_password) {
                        (true, _) => " (disabled)",
                        (false, false) => " (password not set yet)",
                        _ => "",
                    };
                    println!("{:<24} {:<9}{state}", u.username, u.role);
                }
            }
        }
        UserCommand::SetRole { name, role } => {
            let user = named(&db, name).await?;
            let user = users::set_role(&db, &origin, user.id, *role).await?;
            say(
                describe(&user),
                format!("`{}` is now {}", user.username, role.label()),
            );
        }
        UserCommand::Disable { name } | UserCommand::Enable { name } => {
            let disable = matches!(command, UserCommand::Disable { .. });
            let user = named(&db, name).await?;
            let user = users::set_disabled(&db, &origin, user.id, disable).await?;
            if disable {
                end_all_of(&db, user.id, None).await?;
            }
            say(
                describe(&user),
                format!(
                    "`{}` is {}",
                    user.username,
                    if disable { "disabled" } else { "enabled" }
                ),
            );
        }
        UserCommand::Delete { name } => {
            let user = named(&db, name).await?;
            let user = users::delete(&db, &origin, user.id).await?;
            end_all_of(&db, user.id, None).await?;
            let mut value = describe(&user);
            value["deleted"] = true.into();
            say(value, format!("deleted `{}`", user.username));
        }
        UserCommand::ResetPassword { name } => {
            let user = named(&db, name).await?;
            let (user, link) =
                users::reset_password(&db, &origin, user.id, config.invitation_link_ttl).await?;
            end_all_of(&db, user.id, None).await?;
            let url = format!("{}/invite#token={}", config.base_url(), link.token);
            let mut value = describe(&user);
            value["link"] = url.clone().into();
            value["link_expires_at"] = link.expires_at.to_rfc3339().into();
            say(
                value,
                format!(
                    "`{}` sets a new password at {url} (works once, until {})",
                    user.username,
                    link.expires_at.format("%Y-%m-%d %H:%M UTC")
                ),
            );
        }
        UserCommand::Reset2fa { name } => {
            let user = named(&db, name).await?;
            let was_enabled =
                crate::second_factor::reset(&db, &origin, user.id, &user.username).await?;
            let ended = end_all_of(&db, user.id, None).await?;
            let mut value = describe(&user);
            value["two_factor_was_enabled"] = was_enabled.into();
            value["sessions_ended"] = ended.into();
            let next = if config.require_2fa {
                "enrols again at the next sign-in"
            } else {
                "signs in with the password alone"
            };
            say(
                value,
                format!(
                    "`{}`'s two-factor sign-in is reset ({}); {ended} session{} ended; the person {next}",
                    user.username,
                    if was_enabled { "it was on" } else { "it was not on" },
                    if ended == 1 { "" } else { "s" },
                ),
            );
        }
    }
    db.close().await;
    Ok(())
}
