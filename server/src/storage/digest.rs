//! SHA-256 of the backups: computed while bytes stream past ([`Hashing`]) or by reading a
//! stored file once ([`HashReader`], [`hash_file`]). Every checksum Lifeboat records or checks comes
//! from here.

use sha2::{Digest as _, Sha256};
use std::io;
use std::path::Path;

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
/// Each block is read and hashed on the blocking pool, straight into its buffer: the
/// async workers neither wait for the disk nor spend the hash's CPU.
pub struct HashReader {
    /// The file, the hash so far and the block's buffer, handed to the blocking pool for
    /// each block and back; `None` if a read was abandoned half-way.
    state: Option<(std::fs::File, Hashing, Vec<u8>)>,
    /// Bytes of the block in the buffer.
    len: usize,
    total: u64,
    read: u64,
}

impl HashReader {
    pub async fn open(path: &Path) -> io::Result<HashReader> {
        let path = path.to_path_buf();
        let file = tokio::task::spawn_blocking(move || std::fs::File::open(path))
            .await
            .map_err(io::Error::other)??;
        let total = file.metadata()?.len();
        Ok(HashReader {
            state: Some((file, Hashing::default(), vec![0u8; 1 << 20])),
            len: 0,
            total,
            read: 0,
        })
    }

    /// The file's size when it was opened.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Bytes read (and hashed) so far.
    pub fn read(&self) -> u64 {
        self.read
    }

    /// The next block, already hashed; `None` at the end of the file.
    pub async fn next_block(&mut self) -> io::Result<Option<&[u8]>> {
        use std::io::Read;
        let (mut file, mut hashing, mut buf) = self
            .state
            .take()
            .ok_or_else(|| io::Error::other("an earlier read of this file was abandoned"))?;
        let (state, n) = tokio::task::spawn_blocking(move || {
            let n = loop {
                match file.read(&mut buf) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    other => break other,
                }
            };
            if let Ok(n) = n {
                hashing.update(&buf[..n]);
            }
            ((file, hashing, buf), n)
        })
        .await
        .map_err(io::Error::other)?;
        self.len = n?;
        self.read += self.len as u64;
        let buf = &self.state.insert(state).2;
        Ok((self.len > 0).then(|| &buf[..self.len]))
    }

    /// The checksum of everything read; an error if a read was abandoned half-way.
    pub fn finish(self) -> io::Result<Digest> {
        match self.state {
            Some((_, hashing, _)) => Ok(hashing.finish()),
            None => Err(io::Error::other("a read of this file was abandoned")),
        }
    }
}

/// Reads `file` to its end and hashes it on the calling thread (one that may block),
/// while a second thread reads ahead: copying from the page cache and hashing overlap,
/// and the hash is what remains. `on_block` sees each block once it is hashed, with the
/// bytes hashed so far (to check a header, report progress); an error from it stops the
/// read and is returned.
pub fn hash_read_ahead(
    mut file: std::fs::File,
    mut on_block: impl FnMut(&[u8], u64) -> io::Result<()>,
) -> io::Result<Digest> {
    use std::io::Read;
    use std::sync::mpsc;
    const BLOCK: usize = 1 << 20;
    std::thread::scope(|scope| {
        // Full blocks one way, emptied buffers back: three buffers in all.
        let (full, filled) = mpsc::sync_channel::<io::Result<(Vec<u8>, usize)>>(3);
        let (empty, emptied) = mpsc::channel::<Vec<u8>>();
        for _ in 0..3 {
            let _ = empty.send(vec![0u8; BLOCK]);
        }
        std::thread::Builder::new()
            .name("read ahead".into())
            .spawn_scoped(scope, move || {
                // Ends at the end of the file, on an error, or when the hashing side is
                // gone (it stopped): its channel ends drop with it.
                while let Ok(mut buf) = emptied.recv() {
                    let read = loop {
                        match file.read(&mut buf) {
                            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                            other => break other,
                        }
                    };
                    let last = !matches!(read, Ok(n) if n > 0);
                    if full.send(read.map(|n| (buf, n))).is_err() || last {
                        return;
                    }
                }
            })?;
        let mut hashing = Hashing::default();
        for block in filled {
            let (buf, n) = block?;
            if n == 0 {
                break;
            }
            hashing.update(&buf[..n]);
            on_block(&buf[..n], hashing.size())?;
            let _ = empty.send(buf);
        }
        Ok(hashing.finish())
    })
}

/// The checksum and size of a whole file.
pub async fn hash_file(path: &Path) -> io::Result<Digest> {
    let mut reader = HashReader::open(path).await?;
    while reader.next_block().await?.is_some() {}
    reader.finish()
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

    /// Files of no block, part of one, exactly one, and several with a part: the
    /// read-ahead hash is the bytes' SHA-256, every byte seen once and in order.
    #[test]
    fn reading_ahead_hashes_every_byte_once_in_order() {
        let dir = std::env::temp_dir().join(format!("lifeboat-ahead-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let block = 1 << 20;
        for len in [0, 1, 1000, block, block + 1, 3 * block + 77] {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 7 + i / 251) as u8).collect();
            let p = dir.join(format!("f{len}"));
            std::fs::write(&p, &bytes).expect("write");
            let mut seen = Vec::new();
            let mut sizes = Vec::new();
            let file = std::fs::File::open(&p).expect("open");
            let d = hash_read_ahead(file, |b, done| {
                seen.extend_from_slice(b);
                sizes.push(done);
                Ok(())
            })
            .expect("hash");
            let mut expected = Hashing::default();
            expected.update(&bytes);
            assert_eq!(d, expected.finish(), "{len} bytes");
            assert!(seen == bytes, "{len} bytes seen in order");
            assert_eq!(sizes.last().copied().unwrap_or(0), len as u64);
        }
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn an_error_from_the_caller_stops_the_read_ahead() {
        let dir = std::env::temp_dir().join(format!("lifeboat-stop-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let p = dir.join("f");
        std::fs::write(&p, vec![1u8; 5 << 20]).expect("write");
        let mut blocks = 0;
        let file = std::fs::File::open(&p).expect("open");
        let e = hash_read_ahead(file, |_, _| {
            blocks += 1;
            Err(io::Error::other("not an archive"))
        })
        .expect_err("stopped");
        assert_eq!(e.to_string(), "not an archive");
        assert_eq!(blocks, 1);
        let _ = std::fs::remove_dir_all(dir);
    }
}
