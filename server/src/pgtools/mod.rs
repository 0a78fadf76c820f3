//! The PostgreSQL client tools: finding them and reading their versions (here), running
//! them ([`child`], the one supervisor), and what Lifeboat knows of `pg_dump` ([`dump`]),
//! `pg_restore` ([`restore`]) and their archives ([`archive`]).
//! `LIFEBOAT_PG_BIN_DIR` names the folders explicitly (several, separated by `:`);
//! otherwise `PATH` and `/usr/lib/postgresql/*/bin` are searched. Every version found is
//! kept, and each operation picks its own ([`choose`]): a dump the newest client (a newer
//! pg_dump dumps older servers, not the reverse), a restore a client that reads the
//! archive and suits the server it restores into.

pub mod archive;
pub mod child;
pub mod choose;
pub mod compression;
pub mod custom;
pub mod dump;
pub mod restore;
pub mod rows;

pub use child::{describe_exit, error_lines, Child, ChildError, MAX_TOOL_OUTPUT};

use std::path::{Path, PathBuf};

/// A located tool and its version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tool {
    pub path: PathBuf,
    /// e.g. "15.18"
    pub version: String,
    pub major: u32,
}

/// Parses the version out of `pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)` or
/// `pg_restore (PostgreSQL) 18.1`, and old-style `9.6.24`.
pub fn parse_version(output: &str) -> Option<(String, u32)> {
    let after = output.split(')').nth(1).unwrap_or(output);
    let v = after.split_whitespace().next()?;
    let mut parts = v.split('.');
    let first: u32 = parts
        .next()?
        .trim_matches(|c: char| !c.is_ascii_digit())
        .parse()
        .ok()?;
    // 9.6 → 9: PostgreSQL before 10 had two-part majors; the first part is enough to compare.
    Some((v.to_string(), first))
}

/// `LIFEBOAT_PG_BIN_DIR`'s folders: one, or several separated by `:`.
pub fn bin_dirs(bin_dir: &Path) -> Vec<PathBuf> {
    std::env::split_paths(bin_dir)
        .filter(|d| !d.as_os_str().is_empty())
        .collect()
}

fn candidates(name: &str, bin_dir: Option<&Path>) -> Vec<PathBuf> {
    if let Some(dirs) = bin_dir {
        return bin_dirs(dirs)
            .into_iter()
            .map(|d| d.join(name))
            .filter(|p| p.is_file())
            .collect();
    }
    let mut found = vec![];
    if let Ok(entries) = std::fs::read_dir("/usr/lib/postgresql") {
        for e in entries.flatten() {
            let p = e.path().join("bin").join(name);
            if p.is_file() {
                found.push(p);
            }
        }
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let p = dir.join(name);
            if p.is_file() {
                found.push(p);
            }
        }
    }
    found
}

/// A tool file as it was when its version was read: a file replaced or upgraded in place
/// has another inode, size or modification time, and is asked again.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Stamp {
    path: PathBuf,
    inode: u64,
    len: u64,
    modified: Option<std::time::SystemTime>,
}

impl Stamp {
    fn of(path: &Path) -> Option<Stamp> {
        use std::os::unix::fs::MetadataExt;
        // The file itself, not the link (Debian's /usr/bin/pg_dump is a link to a wrapper).
        let m = std::fs::metadata(path).ok()?;
        Some(Stamp {
            path: path.to_path_buf(),
            inode: m.ino(),
            len: m.len(),
            modified: m.modified().ok(),
        })
    }
}

/// Versions already read, so that a backup's preflight does not start every client found
/// (Debian's wrapper scripts take tens of milliseconds each) before each backup.
static VERSIONS: std::sync::LazyLock<std::sync::Mutex<std::collections::HashMap<Stamp, Tool>>> =
    std::sync::LazyLock::new(Default::default);

/// `TOOL --version`, parsed; read once per tool file (again when the file changes).
pub async fn version_of(path: &Path) -> Result<Tool, String> {
    let stamp = Stamp::of(path);
    if let Some(stamp) = &stamp {
        if let Some(t) = VERSIONS.lock().ok().and_then(|v| v.get(stamp).cloned()) {
            return Ok(t);
        }
    }
    let tool = run_version(path).await?;
    if let (Some(stamp), Ok(mut v)) = (stamp, VERSIONS.lock()) {
        // Bounded: a handful of tools, unless files keep changing under the same names.
        if v.len() > 256 {
            v.clear();
        }
        v.insert(stamp, tool.clone());
    }
    Ok(tool)
}

/// Runs `TOOL --version` and parses it.
async fn run_version(path: &Path) -> Result<Tool, String> {
    let out = Child::new(path, "tool")
        .arg("--version")
        .output()
        .await
        .map_err(|e| match e {
            ChildError::Start { source, .. } => format!("cannot run {}: {source}", path.display()),
            other => other.to_string(),
        })?;
    if !out.finished.status.success() {
        return Err(format!(
            "{} --version failed: {}",
            path.display(),
            out.finished.stderr.trim()
        ));
    }
    let text = out.stdout;
    let (version, major) = parse_version(&text)
        .ok_or_else(|| format!("cannot read the version in `{}`", text.trim()))?;
    Ok(Tool {
        path: path.to_path_buf(),
        version,
        major,
    })
}

/// The newest usable `name` (`pg_dump`, `pg_restore`, `psql`).
pub async fn find(name: &str, bin_dir: Option<&Path>) -> Result<Tool, String> {
    let mut all = find_all(name, bin_dir).await?;
    Ok(all.remove(0))
}

/// Every usable `name`, newest first (the first found among equals), never empty.
pub async fn find_all(name: &str, bin_dir: Option<&Path>) -> Result<Vec<Tool>, String> {
    let mut found: Vec<Tool> = vec![];
    let mut last_err = None;
    for c in candidates(name, bin_dir) {
        let real = std::fs::canonicalize(&c).unwrap_or_else(|_| c.clone());
        if found
            .iter()
            .any(|t| std::fs::canonicalize(&t.path).unwrap_or_else(|_| t.path.clone()) == real)
        {
            continue;
        }
        match version_of(&c).await {
            Ok(t) => found.push(t),
            Err(e) => last_err = Some(e),
        }
    }
    // Stable: among tools of one major, the one listed first stays first.
    found.sort_by_key(|t| std::cmp::Reverse(t.major));
    if !found.is_empty() {
        return Ok(found);
    }
    Err(match (bin_dir, last_err) {
        (_, Some(e)) => e,
        (Some(dir), None) => format!(
            "{name} not found in {} (LIFEBOAT_PG_BIN_DIR); point it at the folder holding {name}",
            dir.display()
        ),
        (None, None) => format!(
            "{name} not found on PATH or in /usr/lib/postgresql/*/bin; install the PostgreSQL client tools (e.g. apt-get install postgresql-client) or set LIFEBOAT_PG_BIN_DIR"
        ),
    })
}

/// Whether a tool of major `tool` can work with a server of major `server`: PostgreSQL's
/// pg_dump refuses servers newer than itself, and a restore needs a pg_restore that
/// reads what the same-version pg_dump wrote.
pub fn compatible(tool: u32, server: u32) -> bool {
    tool >= server
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse() {
        assert_eq!(
            parse_version("pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n"),
            Some(("15.18".into(), 15))
        );
        assert_eq!(
            parse_version("pg_restore (PostgreSQL) 18.1"),
            Some(("18.1".into(), 18))
        );
        assert_eq!(
            parse_version("pg_dump (PostgreSQL) 9.6.24"),
            Some(("9.6.24".into(), 9))
        );
        assert_eq!(parse_version("garbage"), None);
    }

    #[test]
    fn tools_must_be_at_least_as_new_as_the_server() {
        assert!(compatible(15, 15));
        assert!(compatible(18, 15));
        assert!(!compatible(15, 16));
    }

    #[tokio::test]
    async fn a_version_is_read_once_per_tool_file_and_again_when_the_file_changes() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("temporary folder");
        let tool = dir.path().join("pg_dump");
        let runs = dir.path().join("runs");
        let write = |version: &str| {
            // A new file each time (as a package upgrade does): another inode.
            let _ = std::fs::remove_file(&tool);
            std::fs::write(
                &tool,
                format!(
                    "#!/bin/sh\necho run >> '{}'\necho 'pg_dump (PostgreSQL) {version}'\n",
                    runs.display()
                ),
            )
            .expect("write the tool");
            std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755))
                .expect("make it executable");
        };
        let count = || {
            std::fs::read_to_string(&runs)
                .map(|s| s.lines().count())
                .unwrap_or(0)
        };
        write("15.18");
        assert_eq!(version_of(&tool).await.expect("version").version, "15.18");
        assert_eq!(version_of(&tool).await.expect("version").version, "15.18");
        assert_eq!(count(), 1, "the second call must not start the tool again");
        write("18.1");
        assert_eq!(version_of(&tool).await.expect("version").major, 18);
        assert_eq!(count(), 2);
    }
}
