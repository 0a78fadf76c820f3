//! A finished dump's read-back, run beside the end of its decode: fsync, then one read of
//! the stored bytes that hashes them (SHA-256) and checks the archive's header.

use super::run::AbortOnDrop;
use crate::pgtools::archive;
use crate::storage;
use crate::storage::digest::{Digest, HashReader};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// The read-back of a finished dump, running: fsync, then one read of the stored bytes
/// that hashes them and checks the archive's header. Its task ends with the digest, the
/// file's size after the fsync and the archive's version; it is aborted if dropped.
pub struct ReadBack {
    pub task: AbortOnDrop<Result<(Digest, u64, String), String>>,
    /// Bytes read so far, and the file's size.
    read: std::sync::Arc<(AtomicU64, AtomicU64)>,
}

impl ReadBack {
    pub fn start(tmp: &Path) -> ReadBack {
        let read = std::sync::Arc::new((AtomicU64::new(0), AtomicU64::new(0)));
        let shown = read.clone();
        let tmp = tmp.to_path_buf();
        let task = tokio::spawn(async move {
            storage::fsync_file(&tmp).map_err(|e| format!("fsync of the dump failed: {e}"))?;
            let size = std::fs::metadata(&tmp)
                .map_err(|e| format!("the dump file is missing: {e}"))?
                .len();
            read.1.store(size, Ordering::Relaxed);
            let mut reader = HashReader::open(&tmp)
                .await
                .map_err(|e| format!("cannot read the dump back: {e}"))?;
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
            Ok((reader.finish(), size, version))
        });
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
