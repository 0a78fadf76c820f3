//! What the browser checks about a file before sending it: its name and its first bytes.
//! The server checks everything again (and much more); these checks only spare a person
//! the wait of uploading a file that cannot be restored.
#![cfg_attr(not(feature = "hydrate"), allow(dead_code))]

/// The first bytes of every PostgreSQL custom-format archive.
pub const MAGIC: &[u8; 5] = b"PGDMP";

/// Extensions a custom-format archive usually has.
pub const ACCEPTED_EXTENSIONS: &[&str] = &[".dump", ".backup", ".pgdump"];

/// Refuses names that say the file is something Lifeboat cannot restore: plain SQL
/// scripts, tar archives, compressed files. Other names are left to the content check
/// (a custom-format archive may be called anything).
pub fn check_name(name: &str) -> Result<(), String> {
    let lower = name.trim().to_ascii_lowercase();
    if ACCEPTED_EXTENSIONS.iter().any(|e| lower.ends_with(e)) {
        return Ok(());
    }
    let ends = |exts: &[&str]| exts.iter().any(|e| lower.ends_with(e));
    if ends(&[
        ".sql", ".sql.gz", ".sql.bz2", ".sql.xz", ".sql.zst", ".psql", ".pgsql",
    ]) {
        return Err(
            ".sql text files are not accepted: export with pg_dump -Fc (a custom-format \
                    archive, usually named .dump) and restore that file."
                .into(),
        );
    }
    if ends(&[".tar", ".tar.gz", ".tgz"]) {
        return Err(
            "tar-format archives are not accepted: export with pg_dump -Fc \
                    (custom format) instead."
                .into(),
        );
    }
    if ends(&[".gz", ".zip", ".bz2", ".xz", ".zst", ".7z"]) {
        return Err(
            "compressed files are not accepted: a pg_dump -Fc archive is already \
                    compressed. Uncompress it first and choose the .dump file inside."
                .into(),
        );
    }
    Ok(())
}

/// Refuses a file whose first bytes are not `PGDMP`.
pub fn check_magic(first: &[u8]) -> Result<(), String> {
    if first.is_empty() {
        return Err("this file is empty.".into());
    }
    if first.starts_with(MAGIC) {
        return Ok(());
    }
    let text = first
        .iter()
        .all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace());
    let hint = if text {
        " It looks like a text file: export with pg_dump -Fc."
    } else {
        ""
    };
    Err(format!(
        "this file is not a PostgreSQL custom-format archive (it does not start with PGDMP).{hint}"
    ))
}

/// `12.3 MB/s`
pub fn rate(bytes_per_s: f64) -> String {
    if !bytes_per_s.is_finite() || bytes_per_s <= 0.0 {
        return "—".into();
    }
    format!("{:.1} MB/s", bytes_per_s / 1_000_000.0)
}

/// `about 12 s left`, `about 3 min left`; nothing when it cannot be told yet.
pub fn remaining(left_bytes: f64, bytes_per_s: f64) -> Option<String> {
    if !bytes_per_s.is_finite() || bytes_per_s <= 0.0 || left_bytes < 0.0 {
        return None;
    }
    let secs = (left_bytes / bytes_per_s).ceil() as i64;
    Some(match secs {
        0 => "almost done".to_string(),
        s if s < 60 => format!("about {s} s left"),
        s if s < 3600 => format!("about {} min left", (s + 59) / 60),
        s => format!("about {} h {:02} min left", s / 3600, (s % 3600) / 60),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(check_name("shop.dump").is_ok());
        assert!(check_name("Shop.BACKUP").is_ok());
        assert!(check_name("x.pgdump").is_ok());
        assert!(check_name("no-extension").is_ok());
        let sql = check_name("export.sql").err().unwrap_or_default();
        assert!(sql.starts_with(".sql text files are not accepted"), "{sql}");
        assert!(sql.contains("pg_dump -Fc"));
        assert!(check_name("export.sql.gz").is_err());
        assert!(check_name("a.tar").is_err());
        assert!(check_name("a.dump.gz").is_err());
    }

    #[test]
    fn magic() {
        assert!(check_magic(b"PGDMP").is_ok());
        assert!(check_magic(b"").is_err());
        let text = check_magic(b"-- Po").err().unwrap_or_default();
        assert!(text.contains("does not start with PGDMP"), "{text}");
        assert!(text.contains("text file"));
        let bin = check_magic(&[0x1f, 0x8b, 8, 0, 0])
            .err()
            .unwrap_or_default();
        assert!(!bin.contains("text file"));
    }

    #[test]
    fn speeds() {
        assert_eq!(rate(12_340_000.0), "12.3 MB/s");
        assert_eq!(rate(0.0), "—");
        assert_eq!(
            remaining(10_000_000.0, 1_000_000.0).as_deref(),
            Some("about 10 s left")
        );
        assert_eq!(remaining(0.0, 1_000_000.0).as_deref(), Some("almost done"));
        assert_eq!(
            remaining(300_000_000.0, 1_000_000.0).as_deref(),
            Some("about 5 min left")
        );
        assert_eq!(remaining(1.0, 0.0), None);
    }
}
