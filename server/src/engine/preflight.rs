//! The configuration check a backup runs before anything else, and that `/readyz`
//! reports: the target answers, pg_dump and pg_restore are there and at least as new as
//! the server, the backup folder is writable with room for the dump.

use crate::pgtools::{self, Tool};
use crate::storage;
use crate::store;
use crate::target::{self, ServerInfo, TargetUrl};
use sqlx::SqlitePool;
use std::path::Path;

/// The target and the client tools, asked concurrently.
pub struct Probe {
    pub server: Result<ServerInfo, String>,
    pub pg_dump: Result<Tool, String>,
    pub pg_restore: Result<Tool, String>,
}

/// When nothing is configured to protect.
pub const NO_TARGET: &str = "no target database is configured (set LIFEBOAT_TARGET_URL)";

pub async fn probe(target: Option<&TargetUrl>, bin_dir: Option<&Path>) -> Probe {
    let server = async {
        match target {
            None => Err(NO_TARGET.to_string()),
            Some(t) => target::server_info(t).await,
        }
    };
    let (server, pg_dump, pg_restore) = tokio::join!(
        server,
        pgtools::find("pg_dump", bin_dir),
        pgtools::find("pg_restore", bin_dir)
    );
    Probe {
        server,
        pg_dump,
        pg_restore,
    }
}

impl Probe {
    /// A tool in words, or what is wrong with it (missing, older than the server).
    pub fn tool_check(&self, name: &str) -> Result<String, String> {
        let tool = match name {
            "pg_dump" => &self.pg_dump,
            _ => &self.pg_restore,
        };
        let t = tool.as_ref().map_err(Clone::clone)?;
        match &self.server {
            Ok(info) if !pgtools::compatible(t.major, info.major) => Err(format!(
                "{name} {} at {} is older than the target server (PostgreSQL {}); install the PostgreSQL {} client tools or newer and point LIFEBOAT_PG_BIN_DIR at them",
                t.version,
                t.path.display(),
                info.version,
                info.major
            )),
            Ok(info) => Ok(format!(
                "{name} {} at {} (works with PostgreSQL {})",
                t.version,
                t.path.display(),
                info.major
            )),
            Err(_) => Ok(format!(
                "{name} {} at {} (compatibility unknown until the target answers)",
                t.version,
                t.path.display()
            )),
        }
    }

    /// Every problem: the server's, then each tool's.
    fn problems(&self) -> Vec<String> {
        let mut problems = vec![];
        if let Err(e) = &self.server {
            problems.push(e.clone());
        }
        for name in ["pg_dump", "pg_restore"] {
            if let Err(e) = self.tool_check(name) {
                problems.push(e);
            }
        }
        problems
    }
}

/// What the preflight found.
pub struct Ready {
    pub server: ServerInfo,
    pub pg_dump: Tool,
    pub pg_restore: Tool,
}

/// The backup's configuration check: every problem, joined.
pub async fn check(
    db: &SqlitePool,
    data_dir: &Path,
    bin_dir: Option<&Path>,
    target: Option<&TargetUrl>,
) -> Result<Ready, String> {
    let Some(target) = target else {
        return Err(NO_TARGET.into());
    };
    let probe = probe(Some(target), bin_dir).await;
    let mut problems = probe.problems();
    let dir = storage::database_dir(data_dir, &target.database());
    let writable = storage::private::create_dir_all(&dir).and_then(|_| {
        let probe = dir.join(".write-probe");
        storage::private::write(&probe, b"ok")?;
        std::fs::remove_file(&probe)
    });
    if let Err(e) = writable {
        problems.push(format!(
            "the backup directory {} is not writable: {e}",
            storage::private::shown(data_dir, &dir)
        ));
    } else if let Ok(info) = &probe.server {
        // Custom-format dumps are compressed: the previous backup's size (with a margin)
        // is the best estimate; without one, half the database size.
        let previous = store::backups::last_success(db, &target.database())
            .await
            .ok()
            .flatten()
            .and_then(|b| b.size_bytes);
        let estimate = match previous {
            Some(p) => p + p / 4,
            None => info.database_size / 2,
        }
        .max(0) as u64;
        match storage::volume_space(&dir) {
            Ok((free, _)) if free < estimate => problems.push(format!(
                "not enough free space in {}: {} free, about {} needed",
                storage::private::shown(data_dir, &dir),
                storage::human_bytes(free),
                storage::human_bytes(estimate)
            )),
            Ok(_) => {}
            Err(e) => problems.push(format!(
                "cannot read the free space of {}: {e}",
                storage::private::shown(data_dir, &dir)
            )),
        }
    }
    match probe {
        Probe {
            server: Ok(server),
            pg_dump: Ok(pg_dump),
            pg_restore: Ok(pg_restore),
        } if problems.is_empty() => Ok(Ready {
            server,
            pg_dump,
            pg_restore,
        }),
        _ => Err(problems.join("; ")),
    }
}
