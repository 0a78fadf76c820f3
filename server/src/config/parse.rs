//! Parsers for the values of settings: durations, sizes, booleans. Their messages say
//! what is wrong and show a valid example.

use std::time::Duration;

/// Parses a duration as people write them (`humantime`): `90s`, `30m`, `8h`, `1d`, `2w`,
/// `1h 30m`; a bare number is seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let parsed = match s.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => humantime::parse_duration(s).map_err(|e| match e {
            humantime::DurationError::UnknownUnit { unit, .. } => {
                format!("unknown unit `{unit}` in `{s}`; use s, m, h, d or w (e.g. 30m)")
            }
            _ => format!("`{s}` is not a duration; use e.g. 90s, 30m, 8h or 1d"),
        })?,
    };
    if parsed.is_zero() {
        return Err(format!("`{s}` is zero; use a positive duration"));
    }
    Ok(parsed)
}

/// Parses a size (`bytesize`): `500MB`, `50GiB`, `1.5 TB`, or a bare number of bytes.
/// Decimal (KB, MB, GB, TB) and binary (KiB, MiB, GiB, TiB) units, in any case.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    if !t.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(format!("`{s}` is not a size; use e.g. 500MB or 50GiB"));
    }
    match t.parse::<bytesize::ByteSize>() {
        Err(_) => Err(format!(
            "unknown unit in `{s}`; use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB (e.g. 500MB)"
        )),
        Ok(b) if b.as_u64() == 0 => Err(format!("`{s}` is zero; use a positive size")),
        // The parser saturates instead of failing on overflow.
        Ok(b) if b.as_u64() == u64::MAX => Err(format!("`{s}` is too large")),
        Ok(b) => Ok(b.as_u64()),
    }
}

pub fn parse_bool(s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(format!("`{s}` is not a boolean; use true or false")),
    }
}
