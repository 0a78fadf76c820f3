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

/// Runs `TOOL --version` and parses it.
pub async fn version_of(path: &Path) -> Result<Tool, String> {
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
}
