//! The PostgreSQL database Lifeboat protects: connecting to it and asking its version.

use crate::config::TargetUrl;
use std::time::Duration;

/// What the target server says about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerInfo {
    /// e.g. "15.18"
    pub version: String,
    pub major: u32,
    pub database_size: i64,
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Connects (5 s limit) and spawns the connection task. Errors name the host and say
/// what failed, never the password.
pub async fn connect(url: &TargetUrl) -> Result<tokio_postgres::Client, String> {
    let attempt = tokio_postgres::connect(url.expose(), tokio_postgres::NoTls);
    let where_ = format!("{}:{}/{}", url.host(), url.port(), url.database());
    let (client, connection) = match tokio::time::timeout(CONNECT_TIMEOUT, attempt).await {
        Err(_) => {
            return Err(format!(
                "cannot connect to {where_}: no answer within {} s",
                CONNECT_TIMEOUT.as_secs()
            ))
        }
        Ok(Err(e)) => return Err(format!("cannot connect to {where_}: {}", describe(&e))),
        Ok(Ok(pair)) => pair,
    };
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!("target connection closed: {e}");
        }
    });
    Ok(client)
}

/// The error with its cause chain (tokio-postgres puts the useful part in the source).
pub fn describe(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{}: {}", db.severity(), db.message());
    }
    let mut text = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        text.push_str(": ");
        text.push_str(&s.to_string());
        src = s.source();
    }
    text
}

/// Connects and reads the server's version and the database's size.
pub async fn server_info(url: &TargetUrl) -> Result<ServerInfo, String> {
    let client = connect(url).await?;
    let row = client
        .query_one(
            "SELECT current_setting('server_version'), current_setting('server_version_num')::int, pg_database_size(current_database())",
            &[],
        )
        .await
        .map_err(|e| format!("the target answered with an error: {}", describe(&e)))?;
    let version: String = row.get(0);
    let num: i32 = row.get(1);
    let size: i64 = row.get(2);
    // 150018 → 15; 90624 → 9.
    let major = (num / 10_000) as u32;
    Ok(ServerInfo {
        version: version
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string(),
        major,
        database_size: size,
    })
}
