//! Parsers for the values of settings: durations, sizes, booleans. Their messages say
//! what is wrong and show a valid example.

use std::time::Duration;

/// Parses `90`, `90s`, `30m`, `8h`, `1d` (a bare number is seconds).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a duration; use e.g. 90s, 30m, 8h or 1d"))?;
    let secs = match unit.trim() {
        "" | "s" => n,
        "m" | "min" => n * 60,
        "h" => n * 3600,
        "d" => n * 86400,
        other => {
            return Err(format!(
                "unknown unit `{other}` in `{s}`; use s, m, h or d (e.g. 30m)"
            ))
        }
    };
    if secs == 0 {
        return Err(format!("`{s}` is zero; use a positive duration"));
    }
    Ok(Duration::from_secs(secs))
}

/// Parses a size: `500MB`, `50GiB`, `2TB`, or a bare number of bytes. Decimal (KB, MB,
/// GB, TB) and binary (KiB, MiB, GiB, TiB) units.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a size; use e.g. 500MB or 50GiB"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        other => {
            return Err(format!(
                "unknown unit `{other}` in `{s}`; use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB"
            ))
        }
    };
    match n.checked_mul(mult) {
        Some(0) => Err(format!("`{s}` is zero; use a positive size")),
        Some(v) => Ok(v),
        None => Err(format!("`{s}` is too large")),
    }
}

pub fn parse_bool(s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(format!("`{s}` is not a boolean; use true or false")),
    }
}
