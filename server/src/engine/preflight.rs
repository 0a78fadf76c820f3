//! The configuration check a backup runs before anything else, and that `/readyz`
//! reports: the target answers, pg_dump is there and at least as new as the server (the
//! newest found is used, and the check says so and why), a pg_restore reads what it
//! writes, the backup folder is writable with room for the dump.

use crate::pgtools::choose::{self, Server};
use crate::pgtools::{self, Tool};
use crate::storage;
use crate::store;
use crate::target::{self, ServerInfo, TargetUrl};
use sqlx::SqlitePool;
use std::path::Path;

/// The target and the client tools, asked concurrently. The tools are every version
/// found, newest first.
pub struct Probe {
    pub server: Result<ServerInfo, String>,
    pub pg_dump: Result<Vec<Tool>, String>,
    pub pg_restore: Result<Vec<Tool>, String>,
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
        pgtools::find_all("pg_dump", bin_dir),
        pgtools::find_all("pg_restore", bin_dir)
    );
    Probe {
        server,
        pg_dump,
        pg_restore,
    }
}

impl Probe {
    /// The pg_dump a backup uses, and why; `Err` when there is none or it is older than
    /// the server.
    pub fn dump_client(&self) -> Result<choose::Chosen, String> {
        let tools = self.pg_dump.as_ref().map_err(Clone::clone)?;
        match &self.server {
            Ok(info) => choose::for_dump(
                tools,
                Server {
                    version: &info.version,
                    major: info.major,
                },
            ),
            Err(_) => Ok(choose::Chosen {
                tool: tools[0].clone(),
                why: "newest client found (compatibility unknown until the target answers)".into(),
            }),
        }
    }

    /// The pg_restore that decodes what the backup's pg_dump writes (the newest found);
    /// `Err` when it cannot read that archive format.
    pub fn verify_client(&self) -> Result<choose::Chosen, String> {
        let tools = self.pg_restore.as_ref().map_err(Clone::clone)?;
        let format = match self.dump_client() {
            Ok(d) => choose::written_by(d.tool.major),
            Err(_) => choose::written_by(tools[0].major),
        };
        choose::for_restore(tools, format, None)
    }

    /// A tool in words (which version, where, why that one), or what is wrong with it
    /// (missing, older than the server, cannot read pg_dump's archives).
    pub fn tool_check(&self, name: &str) -> Result<String, String> {
        let chosen = match name {
            "pg_dump" => self.dump_client()?,
            _ => self.verify_client()?,
        };
        let others = match name {
            "pg_dump" => &self.pg_dump,
            _ => &self.pg_restore,
        };
        let mut text = format!("{} at {}", chosen.describe(), chosen.tool.path.display());
        if let Ok(all) = others {
            if all.len() > 1 {
                let versions: Vec<&str> = all.iter().map(|t| t.version.as_str()).collect();
                text.push_str(&format!(" (found: {})", versions.join(", ")));
            }
        }
        Ok(text)
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
    /// `pg_dump 18.6 — newest client found, server is 15.18`.
    pub dump_client: String,
    /// The pg_restore that decodes the dump as it is written.
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
    match (probe.dump_client(), probe.verify_client(), probe.server) {
        (Ok(dump), Ok(verify), Ok(server)) if problems.is_empty() => Ok(Ready {
            server,
            dump_client: dump.describe(),
            pg_dump: dump.tool,
            pg_restore: verify.tool,
        }),
        _ => Err(problems.join("; ")),
    }
}
