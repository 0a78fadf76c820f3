//! Finds the PostgreSQL client tools (`pg_dump`, `pg_restore`) and reads their versions.
//! `LIFEBOAT_PG_BIN_DIR` names the folder explicitly; otherwise the newest of `PATH` and
//! `/usr/lib/postgresql/*/bin` is used, since a newer pg_dump can dump older servers but
//! not the reverse.

use std::path::{Path, PathBuf};
use tokio::process::Command;

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

fn candidates(name: &str, bin_dir: Option<&Path>) -> Vec<PathBuf> {
    if let Some(dir) = bin_dir {
        let p = dir.join(name);
        return if p.is_file() { vec![p] } else { vec![] };
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
    let out = Command::new(path)
        .arg("--version")
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| format!("cannot run {}: {e}", path.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} --version failed: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
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
    let mut best: Option<Tool> = None;
    let mut last_err = None;
    for c in candidates(name, bin_dir) {
        match version_of(&c).await {
            Ok(t) => {
                if best.as_ref().is_none_or(|b| t.major > b.major) {
                    best = Some(t);
                }
            }
            Err(e) => last_err = Some(e),
        }
    }
    best.ok_or_else(|| match (bin_dir, last_err) {
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

/// `pg_restore --list FILE`: the archive's table of contents, or why it cannot be read.
pub async fn list_archive(pg_restore: &Path, archive: &Path) -> Result<String, String> {
    let out = Command::new(pg_restore)
        .arg("--list")
        .arg(archive)
        .env("LC_MESSAGES", "C")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| format!("cannot start pg_restore --list: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "pg_restore --list {}: {}",
            describe_exit(out.status),
            error_lines(&String::from_utf8_lossy(&out.stderr))
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
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

/// One line of a libpq password file for exactly this connection (`:` and `\` escaped).
pub fn passfile_line(host: &str, port: u16, database: &str, user: &str, password: &str) -> String {
    let esc = |s: &str| s.replace('\\', "\\\\").replace(':', "\\:");
    format!(
        "{}:{}:{}:{}:{}\n",
        esc(host),
        port,
        esc(database),
        esc(user),
        esc(password)
    )
}

/// A child's exit status in words: `exited with 1`, `killed by signal 9`.
pub fn describe_exit(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("exited with {c}"),
        (None, Some(s)) => format!("killed by signal {s}"),
        (None, None) => "ended without an exit status".into(),
    }
}

/// The lines of a tool's stderr that explain a failure (its errors, not its progress
/// chatter), at most a few.
pub fn error_lines(stderr: &str) -> String {
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| {
            let l = l.to_ascii_lowercase();
            l.contains("error")
                || l.contains("fatal")
                || l.contains("could not")
                || l.contains("detail:")
        })
        .collect();
    let picked: Vec<&str> = if errors.is_empty() {
        stderr
            .lines()
            .rev()
            .take(3)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect()
    } else {
        errors.into_iter().take(5).collect()
    };
    picked.join(" / ")
}

#[cfg(test)]
mod more_tests {
    use super::*;

    #[test]
    fn passfile_escapes_separators() {
        assert_eq!(
            passfile_line("db", 5432, "shop", "app", "p:a\\ss"),
            "db:5432:shop:app:p\\:a\\\\ss\n"
        );
    }

    #[test]
    fn error_lines_pick_the_errors() {
        let s = "pg_dump: dumping contents of table \"public.a\"\npg_dump: error: Dumping the contents of table \"a\" failed: PQgetResult() failed.\npg_dump: detail: Error message from server: server closed the connection unexpectedly";
        let e = error_lines(s);
        assert!(e.starts_with("pg_dump: error: Dumping"), "{e}");
        assert!(e.contains("server closed the connection"), "{e}");
    }
}
