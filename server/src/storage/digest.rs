//! SHA-256 of the backups: computed while bytes stream past ([`Hashing`]) or by reading a
//! stored file once ([`HashReader`], [`hash_file`]). Every checksum Lifeboat records or checks comes
//! from here.

use sha2::{Digest as _, Sha256};
use std::io;
use std::path::Path;
use tokio::io::AsyncReadExt;

/// A file's checksum and size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Digest {
    /// Lower-case hex.
    pub sha256: String,
    pub size: u64,
}

/// Hashes bytes as they pass.
#[derive(Default)]
pub struct Hashing {
    hasher: Sha256,
    size: u64,
}

impl Hashing {
    pub fn update(&mut self, bytes: &[u8]) {
        self.hasher.update(bytes);
        self.size += bytes.len() as u64;
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn finish(self) -> Digest {
        Digest {
            sha256: hex::encode(self.hasher.finalize()),
            size: self.size,
        }
    }
}

/// Reads a stored file once, in 1 MiB blocks, hashing every block; the caller looks at
/// each block as it comes (to check a header, report progress, or stop on cancellation).
pub struct HashReader {
    file: tokio::fs::File,
    total: u64,
    hashing: Hashing,
    buf: Vec<u8>,
}

impl HashReader {
    pub async fn open(path: &Path) -> io::Result<HashReader> {
        let file = tokio::fs::File::open(path).await?;
        let total = file.metadata().await?.len();
        Ok(HashReader {
            file,
            total,
            hashing: Hashing::default(),
            buf: vec![0u8; 1 << 20],
        })
    }

    /// The file's size when it was opened.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Bytes read (and hashed) so far.
    pub fn read(&self) -> u64 {
        self.hashing.size()
    }

    /// The next block, already hashed; `None` at the end of the file.
    pub async fn next_block(&mut self) -> io::Result<Option<&[u8]>> {
        let n = self.file.read(&mut self.buf).await?;
        if n == 0 {
            return Ok(None);
        }
        self.hashing.update(&self.buf[..n]);
        Ok(Some(&self.buf[..n]))
    }

    pub fn finish(self) -> Digest {
        self.hashing.finish()
    }
}

/// The checksum and size of a whole file.
pub async fn hash_file(path: &Path) -> io::Result<Digest> {
    let mut reader = HashReader::open(path).await?;
    while reader.next_block().await?.is_some() {}
    Ok(reader.finish())
}

/// Reports progress at most every 250 ms.
pub struct Every {
    last: std::time::Instant,
}

impl Default for Every {
    fn default() -> Self {
        Every {
            last: std::time::Instant::now(),
        }
    }
}

impl Every {
    /// `true` when a quarter of a second has passed since the last `true`.
    pub fn due(&mut self) -> bool {
        if self.last.elapsed() >= std::time::Duration::from_millis(250) {
            self.last = std::time::Instant::now();
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_file_hashes_like_its_bytes() {
        let dir = std::env::temp_dir().join(format!("lifeboat-digest-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let p = dir.join("f");
        std::fs::write(&p, b"abc").expect("write");
        let d = hash_file(&p).await.expect("hash");
        assert_eq!(
            d.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(d.size, 3);
        let mut h = Hashing::default();
        h.update(b"a");
        h.update(b"bc");
        assert_eq!(h.finish(), d);
        let _ = std::fs::remove_dir_all(dir);
    }
}
