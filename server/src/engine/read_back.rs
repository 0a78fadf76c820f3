//! A dump's read-back: one read of the stored bytes that hashes them (SHA-256) and checks
//! the archive's header, with, beside it, an fsync (pg_dump runs with `--no-sync`: the
//! fsync is Lifeboat's) and `pg_restore --list`, which reads the table of contents pg_dump
//! rewrote at the end. It starts as soon as the file's content is final: when pg_dump
//! closes the file it wrote (watched with inotify), or else when pg_dump has ended. What
//! was found after that close is kept only if nothing was written to the file since and
//! the file still has the size that was read; otherwise it is all done again.

use super::run::AbortOnDrop;
use crate::pgtools::{archive, restore};
use crate::storage;
use crate::storage::digest::{self, Digest};
use rustix::fs::inotify::{self, ReadFlags, WatchFlags};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::watch;

/// The read-back of a dump, running: its task ends with what it found; it is aborted if
/// dropped.
pub struct ReadBack {
    pub task: AbortOnDrop<Result<ReadBackDone, String>>,
    /// Bytes read so far, and the file's size.
    read: Arc<(AtomicU64, AtomicU64)>,
}

/// What the read-back found: the bytes' checksum, the file's size after the fsync, the
/// archive's version, and what `pg_restore --list` made of the table of contents.
pub struct ReadBackDone {
    pub digest: Digest,
    pub size: u64,
    pub version: String,
    pub listed: Result<(), String>,
}

impl ReadBack {
    /// Starts watching `tmp`, which pg_dump is writing; `ended` turns `true` when pg_dump
    /// has ended successfully (its sender dropped: the dump failed). `pg_restore` lists
    /// the archive.
    pub fn start(tmp: &Path, pg_restore: &Path, ended: watch::Receiver<bool>) -> ReadBack {
        let read = Arc::new((AtomicU64::new(0), AtomicU64::new(0)));
        let shown = read.clone();
        let (tmp, pg_restore) = (tmp.to_path_buf(), pg_restore.to_path_buf());
        let task = tokio::spawn(read_back(tmp, pg_restore, ended, read));
        ReadBack {
            task: AbortOnDrop(task),
            read: shown,
        }
    }

    /// Bytes read back so far, and the file's size (0 until known).
    pub fn progress(&self) -> (u64, u64) {
        (
            self.read.0.load(Ordering::Relaxed),
            self.read.1.load(Ordering::Relaxed),
        )
    }
}

async fn read_back(
    tmp: PathBuf,
    pg_restore: PathBuf,
    mut ended: watch::Receiver<bool>,
    read: Arc<(AtomicU64, AtomicU64)>,
) -> Result<ReadBackDone, String> {
    let watching = {
        let (tmp, ended) = (tmp.clone(), ended.clone());
        tokio::task::spawn_blocking(move || CloseWatch::until_closed(&tmp, &ended))
    };
    let mut early = None;
    if let Ok(Some(watch)) = watching.await {
        if watch.writes().is_ok() {
            early = Some((watch, check(&tmp, &pg_restore, &read).await));
        }
    }
    pg_dump_ended(&mut ended).await?;
    let size = || {
        std::fs::metadata(&tmp)
            .map(|m| m.len())
            .map_err(|e| format!("the dump file is missing: {e}"))
    };
    if let Some((mut watch, Ok(done))) = early {
        if done.digest.size == size()? && !watch.written_since() {
            return Ok(done);
        }
    }
    let mut done = check(&tmp, &pg_restore, &read).await?;
    done.size = size()?;
    Ok(done)
}

/// Waits until pg_dump has ended successfully; an error when it failed.
async fn pg_dump_ended(ended: &mut watch::Receiver<bool>) -> Result<(), String> {
    ended
        .wait_for(|done| *done)
        .await
        .map(|_| ())
        .map_err(|_| "the dump stopped".to_string())
}

/// The file read and hashed, fsynced and listed, all three at once.
async fn check(
    tmp: &Path,
    pg_restore: &Path,
    read: &Arc<(AtomicU64, AtomicU64)>,
) -> Result<ReadBackDone, String> {
    let synced = {
        let tmp = tmp.to_path_buf();
        tokio::task::spawn_blocking(move || storage::fsync_file(&tmp))
    };
    let listed = restore::list_archive(pg_restore, tmp, |_| {});
    let (hashed, listed, synced) = tokio::join!(hash(tmp, read), listed, synced);
    synced
        .map_err(|e| format!("fsync of the dump stopped: {e}"))?
        .map_err(|e| format!("fsync of the dump failed: {e}"))?;
    let (digest, version) = hashed?;
    Ok(ReadBackDone {
        size: digest.size,
        digest,
        version,
        listed,
    })
}

/// One read of the file: its SHA-256, its size, and the archive version its header says
/// (on the blocking pool, reading ahead of the hash).
async fn hash(tmp: &Path, read: &Arc<(AtomicU64, AtomicU64)>) -> Result<(Digest, String), String> {
    let file = std::fs::File::open(tmp).map_err(|e| format!("cannot read the dump back: {e}"))?;
    let total = file
        .metadata()
        .map_err(|e| format!("cannot read the dump back: {e}"))?
        .len();
    read.1.store(total, Ordering::Relaxed);
    let read = read.clone();
    // The read stops at its next block when this read-back is dropped (a cancel).
    let dropped = StopOnDrop(Arc::new(AtomicBool::new(false)));
    let stop = dropped.0.clone();
    let hashing = tokio::task::spawn_blocking(move || {
        let (mut version, mut refused) = (None, None);
        let hashed = digest::hash_read_ahead(file, |block, done| {
            if stop.load(Ordering::Relaxed) {
                return Err(std::io::Error::other("stopped"));
            }
            if version.is_none() {
                match archive::parse_header(block) {
                    Ok(header) => version = Some(header.version()),
                    Err(e) => {
                        refused = Some(format!(
                            "verification failed: the dump is not a valid archive: {e}"
                        ));
                        return Err(std::io::Error::other("not an archive"));
                    }
                }
            }
            read.0.store(done, Ordering::Relaxed);
            Ok(())
        });
        if let Some(refused) = refused {
            return Err(refused);
        }
        let digest = hashed.map_err(|e| format!("reading the dump back failed: {e}"))?;
        let version = version.ok_or("verification failed: the dump is empty")?;
        Ok((digest, version))
    });
    hashing
        .await
        .map_err(|e| format!("reading the dump back stopped: {e}"))?
}

/// Sets its flag when dropped.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// pg_dump's close of the file, seen through inotify, and then any write to it.
struct CloseWatch {
    fd: OwnedFd,
    path: PathBuf,
    closed: bool,
    /// A write (or lost events) after the close.
    written: bool,
}

/// How often the watch looks for pg_dump's close.
const LOOK_EVERY: std::time::Duration = std::time::Duration::from_millis(10);

impl CloseWatch {
    /// Watches `tmp` once it exists and blocks until pg_dump closes it after writing,
    /// looking every [`LOOK_EVERY`]: it runs on the blocking pool (`spawn_blocking`),
    /// never on an async worker.
    /// `None` when inotify cannot watch it, or pg_dump ended (or failed) first: the
    /// read-back then starts when pg_dump has ended.
    fn until_closed(tmp: &Path, ended: &watch::Receiver<bool>) -> Option<CloseWatch> {
        let over = || *ended.borrow() || ended.has_changed().is_err();
        let flags = inotify::CreateFlags::CLOEXEC | inotify::CreateFlags::NONBLOCK;
        let fd = inotify::init(flags).ok()?;
        loop {
            match inotify::add_watch(&fd, tmp, WatchFlags::CLOSE_WRITE) {
                Ok(_) => break,
                Err(rustix::io::Errno::NOENT) if !over() => std::thread::sleep(LOOK_EVERY),
                Err(_) => return None,
            }
        }
        let mut watch = CloseWatch {
            fd,
            path: tmp.to_path_buf(),
            closed: false,
            written: false,
        };
        loop {
            drain(&watch.fd, &mut watch.closed, &mut watch.written).ok()?;
            if watch.closed {
                return Some(watch);
            }
            if over() {
                return None;
            }
            std::thread::sleep(LOOK_EVERY);
        }
    }

    /// From now on, writes to the file are seen too (not before: pg_dump's every write
    /// would queue an event).
    fn writes(&self) -> std::io::Result<()> {
        let flags = WatchFlags::MODIFY | WatchFlags::MASK_ADD;
        inotify::add_watch(&self.fd, &self.path, flags)?;
        Ok(())
    }

    /// Whether the file was written to after the close (or events were lost).
    fn written_since(&mut self) -> bool {
        if drain(&self.fd, &mut self.closed, &mut self.written).is_err() {
            return true;
        }
        self.written
    }
}

/// Reads the events queued on `fd` (non-blocking) into `closed` and `written`.
fn drain(fd: &OwnedFd, closed: &mut bool, written: &mut bool) -> std::io::Result<()> {
    let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 4096];
    let mut events = inotify::Reader::new(fd, &mut buf);
    loop {
        match events.next() {
            Ok(event) => {
                let flags = event.events();
                if flags.contains(ReadFlags::QUEUE_OVERFLOW)
                    || (*closed && flags.contains(ReadFlags::MODIFY))
                {
                    *written = true;
                }
                if flags.contains(ReadFlags::CLOSE_WRITE) {
                    *closed = true;
                }
            }
            Err(rustix::io::Errno::AGAIN) => return Ok(()),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}
