//! Which of the client versions found runs an operation, and why — in words the
//! preflight, `/readyz`, the sidecar and the backup's page repeat ("pg_dump 18.6 — newest
//! client found, server is 15.18").
//!
//! - A dump takes the newest pg_dump: it dumps every older server, and an older pg_dump
//!   refuses a newer server.
//! - A restore takes a pg_restore that reads the archive's format (PostgreSQL 17 and 18
//!   write 1.16, which only their own pg_restore reads), preferring the server's own
//!   version, then the closest newer one, then the newest.
//! - pg_restore 17 and newer begin every restore with `SET transaction_timeout = 0`, which
//!   PostgreSQL 16 and older reject ("unrecognized configuration parameter"): into such a
//!   server their script goes through `psql`, without that line ([`Restorer::psql`]).

use super::archive;
use super::Tool;
use std::path::{Path, PathBuf};

/// A tool picked for one operation, and the reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chosen {
    pub tool: Tool,
    pub why: String,
}

impl Chosen {
    /// `pg_dump 18.6 — newest client found, server is 15.18`.
    pub fn describe(&self) -> String {
        format!(
            "{} {} — {}",
            tool_name(&self.tool),
            self.tool.version,
            self.why
        )
    }
}

fn tool_name(t: &Tool) -> String {
    t.path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "tool".into())
}

/// The server an operation talks to: its version (`15.18`) and major.
#[derive(Clone, Copy, Debug)]
pub struct Server<'a> {
    pub version: &'a str,
    pub major: u32,
}

/// The pg_dump for a server of `server`: the newest found, never older than the server.
/// `tools` newest first, as [`super::find_all`] returns them.
pub fn for_dump(tools: &[Tool], server: Server<'_>) -> Result<Chosen, String> {
    let newest = tools.first().ok_or("no pg_dump found")?;
    if newest.major < server.major {
        return Err(format!(
            "pg_dump {} at {} is older than the target server (PostgreSQL {}); install the PostgreSQL {} client tools or newer and point LIFEBOAT_PG_BIN_DIR at them",
            newest.version,
            newest.path.display(),
            server.version,
            server.major
        ));
    }
    let why = if tools.len() == 1 {
        format!("the only client found, server is {}", server.version)
    } else {
        format!("newest client found, server is {}", server.version)
    };
    Ok(Chosen {
        tool: newest.clone(),
        why,
    })
}

/// The archive format a pg_dump of `major` writes.
pub fn written_by(major: u32) -> (u8, u8) {
    match major {
        17.. => (1, 16),
        16 => (1, 15),
        12..=15 => (1, 14),
        _ => (1, 13),
    }
}

/// A pg_restore chosen for an archive and a server, and how its script reaches the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Restorer {
    pub chosen: Chosen,
    /// `Some`: the script goes through this psql, without `SET transaction_timeout`,
    /// because the server is older than PostgreSQL 17 and this pg_restore is not.
    pub psql: Option<PathBuf>,
}

impl Restorer {
    /// As [`super::restore`] runs it.
    pub fn as_restorer(&self) -> super::restore::Restorer<'_> {
        super::restore::Restorer {
            pg_restore: &self.chosen.tool.path,
            psql: self.psql.as_deref(),
        }
    }

    /// `pg_restore 18.6 — …`, and the psql it goes through, if any.
    pub fn describe(&self) -> String {
        match &self.psql {
            None => self.chosen.describe(),
            Some(p) => format!(
                "{}; its script goes through {} without SET transaction_timeout, which the server rejects",
                self.chosen.describe(),
                p.display()
            ),
        }
    }
}

/// The pg_restore (and psql, when needed) for the archive at `archive` into the server
/// `target` is on, among the versions found in `bin_dir` (see [`super::find_all`]).
pub async fn restorer(
    bin_dir: Option<&Path>,
    archive: &Path,
    target: &crate::target::TargetUrl,
) -> Result<Restorer, String> {
    let mut head = [0u8; 16];
    let n = {
        use std::io::Read;
        let mut f = std::fs::File::open(archive)
            .map_err(|e| format!("cannot open {}: {e}", archive.display()))?;
        f.read(&mut head)
            .map_err(|e| format!("cannot read {}: {e}", archive.display()))?
    };
    let header = archive::parse_header(&head[..n]).map_err(|e| e.to_string())?;
    let (tools, info) = tokio::join!(
        super::find_all("pg_restore", bin_dir),
        crate::target::server_info(target)
    );
    let tools = tools?;
    let info = info?;
    let chosen = for_restore(
        &tools,
        (header.major, header.minor),
        Some(Server {
            version: &info.version,
            major: info.major,
        }),
    )?;
    let psql = if needs_filter(chosen.tool.major, info.major) {
        let beside = chosen.tool.path.with_file_name("psql");
        Some(if beside.is_file() {
            beside
        } else {
            super::find("psql", bin_dir).await?.path
        })
    } else {
        None
    };
    Ok(Restorer { chosen, psql })
}

/// Whether pg_restore of `tool` sends `SET transaction_timeout`, which a server of
/// `server` (before 17) rejects.
pub fn needs_filter(tool: u32, server: u32) -> bool {
    tool >= 17 && server < 17
}

/// The pg_restore for an archive of `format` into a server of `server` (`None`: no server,
/// a decode only). `tools` newest first.
pub fn for_restore(
    tools: &[Tool],
    format: (u8, u8),
    server: Option<Server<'_>>,
) -> Result<Chosen, String> {
    let readers: Vec<&Tool> = tools
        .iter()
        .filter(|t| archive::max_readable(t.major) >= format)
        .collect();
    let shown = format!("{}.{}", format.0, format.1);
    let Some(newest) = readers.first() else {
        let newest = tools.first().ok_or("no pg_restore found")?;
        let (a, b) = archive::max_readable(newest.major);
        return Err(format!(
            "no pg_restore found reads archive format {shown}: the newest, {} at {}, reads up to {a}.{b}; install the PostgreSQL {} client tools or newer and point LIFEBOAT_PG_BIN_DIR at them",
            newest.version,
            newest.path.display(),
            needed_major(format),
        ));
    };
    let Some(server) = server else {
        return Ok(Chosen {
            tool: (*newest).clone(),
            why: format!("newest client found, reads archive {shown}"),
        });
    };
    if let Some(same) = readers.iter().find(|t| t.major == server.major) {
        return Ok(Chosen {
            tool: (*same).clone(),
            why: format!(
                "same major as the server ({}), reads archive {shown}",
                server.version
            ),
        });
    }
    if let Some(closest) = readers.iter().rev().find(|t| t.major > server.major) {
        return Ok(Chosen {
            tool: (*closest).clone(),
            why: format!(
                "the closest client newer than the server ({}) that reads archive {shown}",
                server.version
            ),
        });
    }
    Ok(Chosen {
        tool: (*newest).clone(),
        why: format!(
            "reads archive {shown}; older than the server ({}), no newer client found",
            server.version
        ),
    })
}

/// The first major whose pg_restore reads `format`.
fn needed_major(format: (u8, u8)) -> u32 {
    match format {
        (1, 16) => 17,
        (1, 15) => 16,
        (1, m) if m > 16 => 19,
        _ => 12,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tool(name: &str, version: &str) -> Tool {
        let major = version
            .split('.')
            .next()
            .unwrap_or("0")
            .parse()
            .unwrap_or(0);
        Tool {
            path: PathBuf::from(format!("/pg{major}/bin/{name}")),
            version: version.into(),
            major,
        }
    }

    fn server(version: &str) -> Server<'_> {
        Server {
            version,
            major: version
                .split('.')
                .next()
                .unwrap_or("0")
                .parse()
                .unwrap_or(0),
        }
    }

    #[test]
    fn a_dump_takes_the_newest_client_and_says_why() {
        let tools = [tool("pg_dump", "18.6"), tool("pg_dump", "15.18")];
        let c = for_dump(&tools, server("15.18")).expect("chosen");
        assert_eq!(c.tool.major, 18);
        assert_eq!(
            c.describe(),
            "pg_dump 18.6 — newest client found, server is 15.18"
        );
        let e = for_dump(&tools[1..], server("16.4")).expect_err("too old");
        assert!(e.contains("older than the target server"), "{e}");
    }

    #[test]
    fn a_restore_takes_a_reader_of_the_archive_close_to_the_server() {
        let tools = [tool("pg_restore", "18.6"), tool("pg_restore", "15.18")];
        // A PostgreSQL 15 archive into 15: the server's own version.
        let c = for_restore(&tools, (1, 14), Some(server("15.18"))).expect("chosen");
        assert_eq!(c.tool.major, 15, "{c:?}");
        // A PostgreSQL 18 archive: only 18 reads it, whatever the server.
        let c = for_restore(&tools, (1, 16), Some(server("15.18"))).expect("chosen");
        assert_eq!(c.tool.major, 18, "{c:?}");
        assert!(c.why.contains("1.16"), "{}", c.why);
        // Into 16: the closest newer client.
        let c = for_restore(&tools, (1, 14), Some(server("16.2"))).expect("chosen");
        assert_eq!(c.tool.major, 18);
        // Nothing reads it: says what to install.
        let e = for_restore(&tools[1..], (1, 16), Some(server("15.18"))).expect_err("none");
        assert!(e.contains("PostgreSQL 17 client tools"), "{e}");
    }

    #[test]
    fn only_17_and_newer_into_16_and_older_need_the_filter() {
        assert!(needs_filter(18, 15));
        assert!(needs_filter(17, 16));
        assert!(!needs_filter(18, 17));
        assert!(!needs_filter(16, 15));
        assert_eq!(written_by(18), (1, 16));
        assert_eq!(written_by(15), (1, 14));
    }
}
