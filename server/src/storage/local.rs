//! The local backup volume: where files go (`backups/<database>/<timestamp>_<kind>.dump`
//! and the `.json` sidecar beside it), durable writes (fsync of files and directories),
//! free space, and the per-database lock that keeps two jobs off one database.

use chrono::{DateTime, Utc};
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

pub fn backups_root(data_dir: &Path) -> PathBuf {
    data_dir.join("backups")
}

/// A database name made safe as one path component (it is only used for the folder
/// name; the journal keeps the real name).
pub fn safe_component(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    match s.as_str() {
        "" | "." | ".." => "_".into(),
        _ => s,
    }
}

pub fn database_dir(data_dir: &Path, database: &str) -> PathBuf {
    backups_root(data_dir).join(safe_component(database))
}

/// `20261121T093000Z_manual.dump`: sorts by time, says what it is.
pub fn backup_file_name(at: DateTime<Utc>, kind: &str) -> String {
    format!("{}_{kind}.dump", at.format("%Y%m%dT%H%M%SZ"))
}

/// The sidecar for `NAME.dump`: `NAME.dump.json`.
pub fn sidecar_path(dump: &Path) -> PathBuf {
    let mut s = dump.as_os_str().to_owned();
    s.push(".json");
    PathBuf::from(s)
}

/// The temporary name a file has until it is verified.
pub fn temp_path(dump: &Path) -> PathBuf {
    let mut s = dump.as_os_str().to_owned();
    s.push(".tmp");
    PathBuf::from(s)
}

pub fn fsync_file(path: &Path) -> io::Result<()> {
    File::open(path)?.sync_all()
}

/// Makes a rename (or a new file) in `dir` durable.
pub fn fsync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Writes `bytes` to `path` atomically and durably: temporary file, fsync, rename, fsync
/// of the directory.
pub fn write_durably(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let tmp = temp_path(path);
    {
        let mut f = super::private::file_options()
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        fsync_dir(dir)?;
    }
    Ok(())
}

/// Sizes in decimal units (1 MB = 1,000,000 bytes), as the web console shows them.
pub fn human_bytes(b: u64) -> String {
    if b >= 1_000_000_000 {
        format!("{:.2} GB", b as f64 / 1e9)
    } else {
        format!("{:.1} MB", b as f64 / 1e6)
    }
}

/// A path inside the data directory as the journal records it: relative to it.
pub fn relative(data_dir: &Path, p: &Path) -> String {
    p.strip_prefix(data_dir)
        .unwrap_or(p)
        .to_string_lossy()
        .to_string()
}

/// Removes a file when dropped, unless disarmed: work that stops half-way (an error, a
/// cancellation, a dropped request) leaves nothing behind.
pub struct RemoveOnDrop(Option<PathBuf>);

impl RemoveOnDrop {
    pub fn new(path: PathBuf) -> RemoveOnDrop {
        RemoveOnDrop(Some(path))
    }

    /// Keeps the file.
    pub fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Free and total bytes of the filesystem holding `path` (or its nearest existing parent).
pub fn volume_space(path: &Path) -> io::Result<(u64, u64)> {
    let mut p = path.to_path_buf();
    while !p.exists() {
        if !p.pop() {
            break;
        }
    }
    let st = nix::sys::statvfs::statvfs(&p).map_err(io::Error::from)?;
    let frag = st.fragment_size() as u64;
    Ok((
        st.blocks_available() as u64 * frag,
        st.blocks() as u64 * frag,
    ))
}

/// Holds the lock on one database's jobs. The kernel releases it if the process dies.
#[derive(Debug)]
pub struct DatabaseLock {
    _file: File,
}

/// Takes the lock for `database`, or `None` when another job (in this process or
/// another `lifeboat`) holds it.
pub fn try_lock_database(data_dir: &Path, database: &str) -> io::Result<Option<DatabaseLock>> {
    let dir = data_dir.join("locks");
    super::private::create_dir_all(&dir)?;
    let file = super::private::file_options()
        .create(true)
        .truncate(false)
        .open(dir.join(format!("{}.lock", safe_component(database))))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(DatabaseLock { _file: file })),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

/// Removes leftover temporary files (`*.tmp`, and `*.pgpass` password files) that a
/// crash left in the database folders `is_dead`
/// accepts (by folder name: nothing live is writing there). Returns them.
pub fn remove_leftover_temp_files(data_dir: &Path, is_dead: impl Fn(&str) -> bool) -> Vec<PathBuf> {
    let mut removed = vec![];
    let Ok(dbs) = std::fs::read_dir(backups_root(data_dir)) else {
        return removed;
    };
    for db in dbs.flatten() {
        if !is_dead(&db.file_name().to_string_lossy()) {
            continue;
        }
        let Ok(files) = std::fs::read_dir(db.path()) else {
            continue;
        };
        for f in files.flatten() {
            let p = f.path();
            let leftover = p.extension().is_some_and(|e| e == "tmp" || e == "pgpass");
            if leftover && std::fs::remove_file(&p).is_ok() {
                removed.push(p);
            }
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_become_safe_folder_names() {
        assert_eq!(safe_component("shop"), "shop");
        assert_eq!(safe_component("../etc"), ".._etc");
        assert_eq!(safe_component(".."), "_");
        assert_eq!(safe_component("my db/x"), "my_db_x");
    }

    #[test]
    fn file_names_sort_by_time() {
        let a = DateTime::parse_from_rfc3339("2026-11-21T09:30:00Z")
            .map(|d| d.with_timezone(&Utc))
            .expect("date");
        assert_eq!(
            backup_file_name(a, "manual"),
            "20261121T093000Z_manual.dump"
        );
        assert_eq!(
            sidecar_path(Path::new("/x/a.dump")),
            PathBuf::from("/x/a.dump.json")
        );
    }

    #[test]
    fn a_database_lock_excludes_a_second_holder() {
        let dir = std::env::temp_dir().join(format!("lifeboat-lock-{}", std::process::id()));
        let first = try_lock_database(&dir, "shop").expect("lock io");
        assert!(first.is_some());
        assert!(try_lock_database(&dir, "shop").expect("lock io").is_none());
        assert!(try_lock_database(&dir, "other").expect("lock io").is_some());
        drop(first);
        assert!(try_lock_database(&dir, "shop").expect("lock io").is_some());
        let _ = std::fs::remove_dir_all(dir);
    }
}
