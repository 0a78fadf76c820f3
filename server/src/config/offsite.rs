//! Offsite copies to S3-compatible storage.

use super::parse::parse_size;
use super::sources::Values;
use crate::secret::Secret;
use crate::storage::offsite::{Offsite, Settings};

pub(super) fn load(v: &mut Values) -> Option<Offsite> {
    let keep = v.count("LIFEBOAT_OFFSITE_KEEP", 7, "offsite copies to keep");
    let request_timeout = v.duration(
        "LIFEBOAT_S3_REQUEST_TIMEOUT",
        std::time::Duration::from_secs(30),
    );
    let min_bytes_per_second = v.parse_or("LIFEBOAT_S3_MIN_SPEED", 500_000, parse_size);
    let bucket = v.value("LIFEBOAT_S3_BUCKET")?;
    let (Some(key), Some(secret)) = (
        v.value("LIFEBOAT_S3_ACCESS_KEY_ID"),
        v.value("LIFEBOAT_S3_SECRET_ACCESS_KEY"),
    ) else {
        v.problem(
            "LIFEBOAT_S3_BUCKET",
            "offsite copies also need LIFEBOAT_S3_ACCESS_KEY_ID and LIFEBOAT_S3_SECRET_ACCESS_KEY (or their _FILE variants)",
        );
        return None;
    };
    let settings = Settings {
        bucket: bucket.trim().to_string(),
        endpoint: v
            .value("LIFEBOAT_S3_ENDPOINT")
            .map(|s| s.trim().to_string()),
        region: v
            .value("LIFEBOAT_S3_REGION")
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|| "us-east-1".into()),
        prefix: v
            .value("LIFEBOAT_S3_PREFIX")
            .unwrap_or_else(|| "lifeboat".into()),
        access_key_id: Secret::new(key.trim().to_string()),
        secret_access_key: Secret::new(secret.trim().to_string()),
        keep: keep as usize,
        request_timeout,
        min_bytes_per_second,
    };
    match Offsite::new(settings) {
        Ok(o) => Some(o),
        Err(m) => {
            v.problem("LIFEBOAT_S3_BUCKET", m);
            None
        }
    }
}
