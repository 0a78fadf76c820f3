//! A dump's read-back: one read of the stored bytes that hashes them (SHA-256) and checks
//! the archive's header, and an fsync. It starts as soon as the file's content is final:
//! when pg_dump closes the file it wrote (watched with inotify; pg_dump then only reopens
//! it to fsync it, which takes a while and leaves the CPU idle), or else when pg_dump has
//! ended. A read that started early is kept only if nothing was written to the file after
//! that close and the file still has the size that was read; otherwise it is read again.

use super::run::AbortOnDrop;
use crate::pgtools::archive;
use crate::storage;
use crate::storage::digest::{Digest, HashReader};
use rustix::fs::inotify::{self, ReadFlags, WatchFlags};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::watch;

/// The read-back of a dump, running: its task ends with the digest, the file's size after
/// the fsync and the archive's version; it is aborted if dropped.
pub struct ReadBack {
    pub task: AbortOnDrop<Result<(Digest, u64, String), String>>,
    /// Bytes read so far, and the file's size.
    read: Arc<(AtomicU64, AtomicU64)>,
}

impl ReadBack {
    /// Starts watching `tmp`, which pg_dump is writing; `ended` turns `true` when pg_dump
    /// has ended successfully (its sender dropped: the dump failed).
    pub fn start(tmp: &Path, ended: watch::Receiver<bool>) -> ReadBack {
        let read = Arc::new((AtomicU64::new(0), AtomicU64::new(0)));
        let shown = read.clone();
        let tmp = tmp.to_path_buf();
        let task = tokio::spawn(read_back(tmp, ended, read));
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
    mut ended: watch::Receiver<bool>,
    read: Arc<(AtomicU64, AtomicU64)>,
) -> Result<(Digest, u64, String), String> {
    let watching = {
        let (tmp, ended) = (tmp.clone(), ended.clone());
        tokio::task::spawn_blocking(move || CloseWatch::until_closed(&tmp, &ended))
    };
    let mut early = None;
    if let Ok(Some(watch)) = watching.await {
        if watch.writes().is_ok() {
            early = Some((watch, hash(&tmp, &read).await));
        }
    }
    pg_dump_ended(&mut ended).await?;
    storage::fsync_file(&tmp).map_err(|e| format!("fsync of the dump failed: {e}"))?;
    let size = std::fs::metadata(&tmp)
        .map_err(|e| format!("the dump file is missing: {e}"))?
        .len();
    if let Some((mut watch, Ok((digest, version)))) = early {
        if digest.size == size && !watch.written_since() {
            return Ok((digest, size, version));
        }
    }
    let (digest, version) = hash(&tmp, &read).await?;
    Ok((digest, size, version))
}

/// Waits until pg_dump has ended successfully; an error when it failed.
async fn pg_dump_ended(ended: &mut watch::Receiver<bool>) -> Result<(), String> {
    ended
        .wait_for(|done| *done)
        .await
        .map(|_| ())
        .map_err(|_| "the dump stopped".to_string())
}

/// One read of the file: its SHA-256, its size, and the archive version its header says.
async fn hash(tmp: &Path, read: &(AtomicU64, AtomicU64)) -> Result<(Digest, String), String> {
    let mut reader = HashReader::open(tmp)
        .await
        .map_err(|e| format!("cannot read the dump back: {e}"))?;
    read.1.store(reader.total(), Ordering::Relaxed);
    let mut version = None;
    while let Some(block) = reader
        .next_block()
        .await
        .map_err(|e| format!("reading the dump back failed: {e}"))?
    {
        if version.is_none() {
            let header = archive::parse_header(block).map_err(|e| {
                format!("verification failed: the dump is not a valid archive: {e}")
            })?;
            version = Some(header.version());
        }
        read.0.store(reader.read(), Ordering::Relaxed);
    }
    let version = version.ok_or("verification failed: the dump is empty")?;
    Ok((reader.finish(), version))
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
