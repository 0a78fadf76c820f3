//! Lifeboat's files are its own: the data directory and every folder in it are 0700,
//! every file it writes there (the metadata database and its WAL/SHM files, backups,
//! sidecars, uploads, password files, locks, temporary files) 0600. The binary sets the
//! umask to 0077 before anything else, and the places that create files and folders give
//! the mode explicitly as well (the library is also used without that `main`).
//!
//! What was there before is not changed: at start-up [`warn_if_exposed`] logs what group
//! or others may read or write, with the command that fixes it.
//!
//! Messages a user sees (API answers, job messages, the audit log) name files relative to
//! the data directory ([`shown`], [`shown_text`]); the server log keeps absolute paths.

use std::fs::{DirBuilder, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Folders Lifeboat creates: the owner only.
pub const DIR_MODE: u32 = 0o700;
/// Files Lifeboat creates: the owner only.
pub const FILE_MODE: u32 = 0o600;

/// Everything the process creates from now on is private to its user (umask 0077), the
/// files child processes write included (pg_dump's archive).
pub fn restrict_umask() {
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
}

/// Creates `dir` and its missing parents with mode 0700 (existing ones are left as they
/// are).
pub fn create_dir_all(dir: &Path) -> io::Result<()> {
    DirBuilder::new().recursive(true).mode(DIR_MODE).create(dir)
}

/// Options for writing a new file: created 0600.
pub fn file_options() -> OpenOptions {
    let mut o = OpenOptions::new();
    o.write(true).mode(FILE_MODE);
    o
}

/// Options for writing a new file from async code: created 0600.
pub fn async_file_options() -> tokio::fs::OpenOptions {
    let mut o = tokio::fs::OpenOptions::new();
    o.write(true).mode(FILE_MODE);
    o
}

/// Writes `bytes` to `path` (created 0600, or truncated).
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    file_options()
        .create(true)
        .truncate(true)
        .open(path)?
        .write_all(bytes)
}

/// Makes a file written by someone else (pg_dump's archive) private, whatever umask it
/// was written with.
pub fn make_private(path: &Path) -> io::Result<()> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(FILE_MODE))
}

/// Entries of the data directory (itself included) that group or others may read or
/// write, with their modes. Folders that belong to another user (the demo PostgreSQL's
/// cluster, which its server keeps private itself) are not entered; symbolic links (whose
/// own mode means nothing) are neither reported nor followed, except the data directory
/// itself.
pub fn exposed(data_dir: &Path) -> Vec<(PathBuf, u32)> {
    use std::os::unix::fs::MetadataExt;
    let mut found = vec![];
    let Ok(top) = std::fs::metadata(data_dir) else {
        return found;
    };
    let owner = top.uid();
    let mut pending = vec![(data_dir.to_path_buf(), top)];
    while let Some((path, meta)) = pending.pop() {
        let mode = meta.mode() & 0o7777;
        if mode & 0o066 != 0 {
            found.push((path.clone(), mode));
        }
        if !meta.is_dir() || meta.uid() != owner {
            continue;
        }
        for entry in std::fs::read_dir(&path).into_iter().flatten().flatten() {
            // Not followed: a DirEntry's metadata is the link's own.
            match entry.metadata() {
                Ok(m) if !m.is_symlink() => pending.push((entry.path(), m)),
                _ => {}
            }
        }
    }
    found.sort();
    found
}

/// Logs (once, with the fix) what in the data directory group or others may read or
/// write. Nothing is changed: a wider mode may be on purpose (a backup agent reading the
/// backups through its group), and the operator decides.
pub fn warn_if_exposed(data_dir: &Path) {
    let found = exposed(data_dir);
    if found.is_empty() {
        return;
    }
    let dir = data_dir.display();
    let examples: Vec<String> = found
        .iter()
        .take(3)
        .map(|(p, mode)| {
            let name = if p == data_dir {
                dir.to_string()
            } else {
                relative(data_dir, p)
            };
            format!("{name} (mode {mode:o})")
        })
        .collect();
    tracing::warn!(
        "{} entr{} of the data directory {dir} can be read or written by other users: {}{}. \
         Lifeboat keeps its files 0600 and folders 0700 and changes nothing itself; to make \
         them private run `chmod -R go-rwx {dir}`",
        found.len(),
        if found.len() == 1 { "y" } else { "ies" },
        examples.join(", "),
        if found.len() > 3 { ", …" } else { "" },
    );
}

fn relative(data_dir: &Path, p: &Path) -> String {
    p.strip_prefix(data_dir)
        .unwrap_or(p)
        .to_string_lossy()
        .into_owned()
}

/// `path` as a user is shown it: relative to the data directory when it lies inside
/// (`backups/shop/20261121T093000Z_manual.dump`), else its file name only.
pub fn shown(data_dir: &Path, path: &Path) -> String {
    for dir in data_dir_forms(data_dir) {
        if let Ok(rest) = path.strip_prefix(&dir) {
            if rest.as_os_str().is_empty() {
                return "the data directory".into();
            }
            return rest.to_string_lossy().into_owned();
        }
    }
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.to_string_lossy().into_owned())
}

/// `text` (a tool's error output, a message) with every path inside the data directory
/// made relative to it, e.g. pg_restore's `could not open input file
/// "/var/lib/lifeboat/backups/shop/x.dump"` → `"backups/shop/x.dump"`.
pub fn shown_text(data_dir: &Path, text: &str) -> String {
    let mut out = text.to_string();
    for dir in data_dir_forms(data_dir) {
        let Some(dir) = dir.to_str() else { continue };
        let dir = dir.trim_end_matches('/');
        if dir.is_empty() {
            continue;
        }
        out = strip_prefix_everywhere(&out, &format!("{dir}/"));
    }
    out
}

/// The data directory as written in the configuration, and as an absolute path.
fn data_dir_forms(data_dir: &Path) -> Vec<PathBuf> {
    let mut forms = vec![data_dir.to_path_buf()];
    if let Ok(abs) = std::path::absolute(data_dir) {
        if abs != data_dir {
            forms.insert(0, abs);
        }
    }
    forms
}

/// Removes `prefix` wherever it starts a path in `text`: at the start, or after a
/// character that cannot be part of a path name (a space, a quote, `=`, `(`…).
fn strip_prefix_everywhere(text: &str, prefix: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(prefix) {
        let before = if i > 0 {
            rest[..i].chars().next_back()
        } else {
            out.chars().next_back()
        };
        let starts_path =
            before.is_none_or(|c| !(c.is_alphanumeric() || matches!(c, '/' | '.' | '_' | '-')));
        out.push_str(&rest[..i]);
        if !starts_path {
            out.push_str(prefix);
        }
        rest = &rest[i + prefix.len()..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_shown_relative_to_the_data_directory() {
        let data = Path::new("/var/lib/lifeboat");
        assert_eq!(
            shown(data, Path::new("/var/lib/lifeboat/backups/shop/a.dump")),
            "backups/shop/a.dump"
        );
        assert_eq!(shown(data, Path::new("/home/ann/x.dump")), "x.dump");
        assert_eq!(shown(data, data), "the data directory");
        assert_eq!(
            shown(Path::new("data"), Path::new("data/uploads/u.part")),
            "uploads/u.part"
        );
    }

    #[test]
    fn tool_output_loses_the_data_directory() {
        let data = Path::new("/var/lib/lifeboat");
        assert_eq!(
            shown_text(
                data,
                "pg_restore: error: could not open input file \"/var/lib/lifeboat/backups/shop/a.dump\": No such file"
            ),
            "pg_restore: error: could not open input file \"backups/shop/a.dump\": No such file"
        );
        assert_eq!(
            shown_text(data, "/var/lib/lifeboat/x and --file=/var/lib/lifeboat/y"),
            "x and --file=y"
        );
        // Only where a path starts: a longer path that merely contains it is left alone.
        assert_eq!(
            shown_text(Path::new("data"), "cannot read metadata/x or data/y"),
            "cannot read metadata/x or y"
        );
        assert_eq!(
            shown_text(data, "/srv/var/lib/lifeboat/z"),
            "/srv/var/lib/lifeboat/z"
        );
    }

    #[test]
    fn what_others_may_read_is_found() {
        let dir = tempfile::tempdir().expect("tmp");
        let data = dir.path().join("data");
        create_dir_all(&data.join("backups/shop")).expect("dirs");
        write(&data.join("backups/shop/a.dump"), b"x").expect("write");
        assert_eq!(
            std::fs::metadata(&data).expect("meta").permissions().mode() & 0o777,
            0o700
        );
        assert!(exposed(&data).is_empty(), "{:?}", exposed(&data));
        std::fs::write(data.join("loose.txt"), b"x").expect("write");
        std::fs::set_permissions(
            data.join("loose.txt"),
            std::fs::Permissions::from_mode(0o644),
        )
        .expect("chmod");
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        std::os::unix::fs::symlink("/etc", data.join("elsewhere")).expect("symlink");
        let found: Vec<(String, u32)> = exposed(&data)
            .into_iter()
            .map(|(p, m)| (relative(&data, &p), m))
            .collect();
        assert_eq!(found, [("".into(), 0o755), ("loose.txt".into(), 0o644)]);
    }
}
