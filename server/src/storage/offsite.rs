//! The offsite store (the synchronisation itself is `engine::offsite_sync`): every
//! successful backup and its `.json` sidecar, copied to S3-compatible object storage (AWS S3, MinIO, Garage, Cloudflare R2, …) through the
//! `object_store` crate — the Apache Arrow project's storage layer, used by DataFusion
//! and many others, with streaming multipart uploads and no SDK to pull in.
//!
//! The dump is streamed in 8 MiB parts (never read whole into memory); afterwards the
//! object's size is checked and the object is read back and hashed against the local
//! SHA-256. A failed copy never turns a good local backup into a failure: the backup row
//! says `failed` with the reason, an alert is raised, and the copy is retried on the
//! next run. Offsite retention (`retention::offsite_plan`) is independent of local retention.
//! Credentials come only from the environment (or files it names) and are never logged.

use crate::secret::Secret;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{ClientOptions, ObjectStore, ObjectStoreExt, RetryConfig, WriteMultipart};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncReadExt;

const PART_SIZE: usize = 8 << 20;
/// Parts uploaded at once (memory stays at a few parts).
const PARTS_IN_FLIGHT: usize = 4;

/// The offsite settings.
#[derive(Clone, Debug)]
pub struct Settings {
    pub bucket: String,
    /// `https://…` for MinIO, Garage, R2; `None` for AWS itself.
    pub endpoint: Option<String>,
    pub region: String,
    /// Objects go under `<prefix>/<database>/`.
    pub prefix: String,
    pub access_key_id: Secret<String>,
    pub secret_access_key: Secret<String>,
    /// Copies kept offsite (default 7).
    pub keep: usize,
    /// What every request may take on top of its transfer (default 30 s).
    pub request_timeout: Duration,
    /// The slowest transfer rate still accepted, in bytes per second (default 500 kB/s):
    /// a request carrying a part (or reading one back) may take as long as moving it at
    /// this rate, so large objects over a slow link do not time out.
    pub min_bytes_per_second: u64,
}

impl Settings {
    /// The timeout of one request: the base, plus the time to move the bytes of every
    /// part in flight at the slowest accepted rate (parts in flight share the link).
    pub fn per_request_timeout(&self) -> Duration {
        let bytes = (PART_SIZE * PARTS_IN_FLIGHT) as f64;
        let rate = self.min_bytes_per_second.max(1) as f64;
        self.request_timeout + Duration::from_secs_f64(bytes / rate)
    }
}

/// Why a copy did not end offsite.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// The local file is no longer what the journal recorded: the backup is damaged.
    #[error("{0}")]
    LocalChanged(String),
    #[error("{0}")]
    Failed(String),
}

/// A connected bucket.
#[derive(Clone)]
pub struct Offsite {
    store: Arc<dyn ObjectStore>,
    settings: Settings,
    /// One synchronisation at a time.
    busy: Arc<tokio::sync::Mutex<()>>,
}

impl std::fmt::Debug for Offsite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Offsite(s3://{}/{})",
            self.settings.bucket, self.settings.prefix
        )
    }
}

impl Offsite {
    pub fn new(settings: Settings) -> Result<Offsite, String> {
        let mut b = AmazonS3Builder::new()
            .with_bucket_name(&settings.bucket)
            .with_region(&settings.region)
            .with_access_key_id(settings.access_key_id.expose())
            .with_secret_access_key(settings.secret_access_key.expose())
            .with_client_options(
                ClientOptions::new()
                    .with_timeout(settings.per_request_timeout())
                    .with_connect_timeout(Duration::from_secs(10)),
            )
            .with_retry(RetryConfig {
                backoff: Default::default(),
                // A store that is down fails the run in seconds (its copies wait for the
                // next run); a request cut off mid-transfer is tried again.
                max_retries: 3,
                retry_timeout: settings.per_request_timeout() * 2 + Duration::from_secs(60),
            });
        if let Some(e) = &settings.endpoint {
            b = b
                .with_endpoint(e)
                .with_allow_http(e.starts_with("http://"))
                .with_virtual_hosted_style_request(false);
        }
        let store = b
            .build()
            .map_err(|e| format!("offsite storage settings: {e}"))?;
        Ok(Offsite {
            store: Arc::new(store),
            settings,
            busy: Arc::default(),
        })
    }

    pub fn describe(&self) -> String {
        format!("s3://{}/{}", self.settings.bucket, self.settings.prefix)
    }

    pub fn keep(&self) -> usize {
        self.settings.keep
    }

    /// Held while synchronising: one synchronisation at a time.
    pub async fn exclusive(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.busy.lock().await
    }

    /// The object key of a backup file: `<prefix>/<database>/<file>`.
    pub fn key(&self, database: &str, file: &str) -> String {
        let prefix = self.settings.prefix.trim_matches('/');
        let db = super::local::safe_component(database);
        if prefix.is_empty() {
            format!("{db}/{file}")
        } else {
            format!("{prefix}/{db}/{file}")
        }
    }

    /// Streams `path` to `key` in parts, then checks the object's size and its SHA-256
    /// (read back) against `sha256`. `progress` hears "copying NAME offsite… 45 %".
    pub async fn upload_verified(
        &self,
        path: &std::path::Path,
        key: &str,
        sha256: &str,
        progress: &(dyn Fn(String) + Send + Sync),
    ) -> Result<u64, CopyError> {
        let location = ObjectPath::from(key);
        // Messages name the file, not where the server keeps it.
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut file = tokio::fs::File::open(path)
            .await
            .map_err(|e| CopyError::Failed(format!("cannot read {name}: {e}")))?;
        let total = file
            .metadata()
            .await
            .map(|m| m.len())
            .map_err(|e| CopyError::Failed(format!("cannot read {name}: {e}")))?;
        let upload = self
            .store
            .put_multipart(&location)
            .await
            .map_err(|e| CopyError::Failed(format!("cannot start the upload of {key}: {e}")))?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        let mut buf = vec![0u8; 1 << 20];
        let mut sent: u64 = 0;
        // Hashed as it is sent: a file that is no longer what the journal recorded is
        // never completed, so it cannot replace a good object already there.
        let mut hashing = crate::storage::digest::Hashing::default();
        loop {
            let n = match file.read(&mut buf).await {
                Ok(n) => n,
                Err(e) => {
                    let _ = writer.abort().await;
                    return Err(CopyError::Failed(format!("reading {name} failed: {e}")));
                }
            };
            if n == 0 {
                break;
            }
            if let Err(e) = writer.wait_for_capacity(PARTS_IN_FLIGHT).await {
                let _ = writer.abort().await;
                return Err(CopyError::Failed(format!("uploading {key} failed: {e}")));
            }
            writer.write(&buf[..n]);
            hashing.update(&buf[..n]);
            sent += n as u64;
            progress(format!(
                "copying {name} offsite… {} %",
                percent(sent, total)
            ));
        }
        let local = hashing.finish();
        if local.sha256 != sha256 {
            let _ = writer.abort().await;
            return Err(CopyError::LocalChanged(format!(
                "{name} has changed since it was backed up (sha256 {}, the journal says {}): it was not copied, and what is offsite was left as it was",
                &local.sha256[..12],
                &sha256[..sha256.len().min(12)]
            )));
        }
        writer.finish().await.map_err(|e| {
            CopyError::Failed(format!("completing the upload of {key} failed: {e}"))
        })?;
        progress(format!("reading {name} back from offsite… 0 %"));
        self.verify_with_progress(key, sent, sha256, &|done| {
            progress(format!(
                "reading {name} back from offsite… {} %",
                percent(done, sent)
            ))
        })
        .await
        .map_err(CopyError::Failed)?;
        Ok(sent)
    }

    /// The object's size and content hash match.
    pub async fn verify(&self, key: &str, size: u64, sha256: &str) -> Result<(), String> {
        self.verify_with_progress(key, size, sha256, &|_| {}).await
    }

    /// [`Offsite::verify`], read back one part-sized range per request (each request
    /// then fits its timeout however large the object), `progress` hearing the bytes read.
    async fn verify_with_progress(
        &self,
        key: &str,
        size: u64,
        sha256: &str,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<(), String> {
        let location = ObjectPath::from(key);
        let meta = self
            .store
            .head(&location)
            .await
            .map_err(|e| format!("cannot read back {key}: {e}"))?;
        if meta.size != size {
            return Err(format!(
                "{key} has {} bytes offsite, {size} locally",
                meta.size
            ));
        }
        let mut hashing = crate::storage::digest::Hashing::default();
        let mut start = 0u64;
        while start < size {
            let end = (start + PART_SIZE as u64).min(size);
            let chunk = self
                .store
                .get_range(&location, start..end)
                .await
                .map_err(|e| format!("reading back {key} failed: {e}"))?;
            if chunk.len() as u64 != end - start {
                return Err(format!(
                    "reading back {key}: {} bytes at {start}, expected {}",
                    chunk.len(),
                    end - start
                ));
            }
            hashing.update(&chunk);
            start = end;
            progress(start);
        }
        let got = hashing.finish().sha256;
        if got != sha256 {
            return Err(format!(
                "{key} read back with sha256 {got}, expected {sha256}"
            ));
        }
        Ok(())
    }

    pub async fn put_small(&self, key: &str, bytes: Vec<u8>) -> Result<(), String> {
        self.store
            .put(&ObjectPath::from(key), bytes.into())
            .await
            .map(|_| ())
            .map_err(|e| format!("cannot upload {key}: {e}"))
    }

    /// Reads an object whole (small objects; tests and checks).
    pub async fn read(&self, key: &str) -> Result<Vec<u8>, String> {
        let got = self
            .store
            .get(&ObjectPath::from(key))
            .await
            .map_err(|e| format!("cannot read {key}: {e}"))?;
        got.bytes()
            .await
            .map(|b| b.to_vec())
            .map_err(|e| format!("cannot read {key}: {e}"))
    }

    pub async fn delete(&self, key: &str) -> Result<(), String> {
        match self.store.delete(&ObjectPath::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(format!("cannot delete {key}: {e}")),
        }
    }
}

fn percent(done: u64, total: u64) -> u64 {
    done.saturating_mul(100).checked_div(total).unwrap_or(100)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;

    #[test]
    fn the_request_timeout_covers_the_parts_in_flight_at_the_slowest_rate() {
        let s = Settings {
            bucket: "b".into(),
            endpoint: None,
            region: "us-east-1".into(),
            prefix: String::new(),
            access_key_id: Secret::new("k".into()),
            secret_access_key: Secret::new("s".into()),
            keep: 1,
            request_timeout: Duration::from_secs(30),
            min_bytes_per_second: 1_000_000,
        };
        // 4 parts of 8 MiB over 1 MB/s: 33.6 s, plus the base.
        let t = s.per_request_timeout().as_secs_f64();
        assert!((63.0..64.0).contains(&t), "{t}");
    }
}
