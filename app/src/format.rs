//! How numbers, sizes, durations and ages read everywhere in the UI. Sizes use SI units
//! (1 MB = 1,000,000 bytes), like the `.dump.json` sidecar's byte counts divided by 10⁶.

use chrono::{DateTime, Utc};

/// A moment as every page shows it: exact, in UTC.
pub fn format_time(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// `12.35 MB` (two decimals, whatever the size: the history compares like with like).
pub fn mb(bytes: i64) -> String {
    format!("{:.2} MB", bytes as f64 / 1_000_000.0)
}

/// A size with the unit that suits it: `512 B`, `3.4 kB`, `120.5 MB`, `1.2 GB`.
pub fn bytes(n: i64) -> String {
    const UNITS: [&str; 5] = ["kB", "MB", "GB", "TB", "PB"];
    if n.abs() < 1000 {
        return format!("{n} B");
    }
    let mut value = n as f64;
    let mut unit = "B";
    for u in UNITS {
        if value.abs() < 1000.0 {
            break;
        }
        value /= 1000.0;
        unit = u;
    }
    format!("{value:.1} {unit}")
}

/// `850 ms`, `12.3 s`, `2 min 05 s`, `1 h 02 min`.
pub fn duration_ms(ms: i64) -> String {
    let ms = ms.max(0);
    if ms < 1000 {
        return format!("{ms} ms");
    }
    if ms < 60_000 {
        return format!("{:.1} s", ms as f64 / 1000.0);
    }
    let secs = ms / 1000;
    if secs < 3600 {
        return format!("{} min {:02} s", secs / 60, secs % 60);
    }
    format!("{} h {:02} min", secs / 3600, (secs % 3600) / 60)
}

/// How long ago `at` was, in the largest whole unit: `45 s ago`, `12 min ago`, `2 h ago`,
/// `3 d ago`. A moment slightly in the future (clock skew) reads `just now`.
pub fn age(at: &DateTime<Utc>, now: &DateTime<Utc>) -> String {
    let secs = (*now - *at).num_seconds();
    match secs {
        s if s < 5 => "just now".to_string(),
        s if s < 60 => format!("{s} s ago"),
        s if s < 3600 => format!("{} min ago", s / 60),
        s if s < 86_400 => format!("{} h ago", s / 3600),
        s => format!("{} d ago", s / 86_400),
    }
}

/// How far ahead `at` is, in the largest whole unit: `in 45 s`, `in 12 min`, `in 2 h`,
/// `in 3 d`. A moment already past (the run is starting) reads `now`.
pub fn until(at: &DateTime<Utc>, now: &DateTime<Utc>) -> String {
    let secs = (*at - *now).num_seconds();
    match secs {
        s if s < 1 => "now".to_string(),
        s if s < 60 => format!("in {s} s"),
        s if s < 3600 => format!("in {} min", s / 60),
        s if s < 86_400 => format!("in {} h", s / 3600),
        s => format!("in {} d", s / 86_400),
    }
}

/// A span of whole seconds as a setting reads: `45 s`, `5 min`, `2 h`, `30 d`, or the two
/// largest units when it is not round (`1 h 30 min`).
pub fn span_secs(secs: u64) -> String {
    const UNITS: [(u64, &str); 4] = [(86_400, "d"), (3600, "h"), (60, "min"), (1, "s")];
    if secs == 0 {
        return "0 s".to_string();
    }
    let mut parts = Vec::new();
    let mut rest = secs;
    for (size, unit) in UNITS {
        if rest >= size {
            parts.push(format!("{} {unit}", rest / size));
            rest %= size;
        }
        if parts.len() == 2 {
            break;
        }
    }
    parts.join(" ")
}

/// A job's progress as a whole number: `42 %`. Rounded down, so `100 %` means done.
pub fn percent(p: f64) -> String {
    format!("{} %", clamp_percent(p).floor())
}

/// 0–100, and 0 for anything that is not a number.
pub fn clamp_percent(p: f64) -> f64 {
    if p.is_nan() {
        0.0
    } else {
        p.clamp(0.0, 100.0)
    }
}

/// The first 12 characters of a checksum, as the history table shows it.
pub fn short_hash(hash: &str) -> String {
    hash.chars().take(12).collect()
}

/// The current moment. In the browser it comes from `performance` (chrono's own clock is
/// not available in WebAssembly); `None` if the browser does not say.
pub fn now() -> Option<DateTime<Utc>> {
    #[cfg(feature = "hydrate")]
    {
        let perf = web_sys::window()?.performance()?;
        DateTime::from_timestamp_millis((perf.time_origin() + perf.now()) as i64)
    }
    #[cfg(not(feature = "hydrate"))]
    #[allow(clippy::disallowed_methods)] // outside the browser chrono's clock works
    {
        Some(Utc::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(mb(0), "0.00 MB");
        assert_eq!(mb(52_450_000), "52.45 MB");
        assert_eq!(bytes(999), "999 B");
        assert_eq!(bytes(1_500), "1.5 kB");
        assert_eq!(bytes(120_500_000), "120.5 MB");
        assert_eq!(bytes(2_000_000_000_000), "2.0 TB");
    }

    #[test]
    fn durations() {
        assert_eq!(duration_ms(-3), "0 ms");
        assert_eq!(duration_ms(850), "850 ms");
        assert_eq!(duration_ms(12_340), "12.3 s");
        assert_eq!(duration_ms(125_000), "2 min 05 s");
        assert_eq!(duration_ms(3_720_000), "1 h 02 min");
    }

    #[test]
    fn ages() {
        let now = DateTime::from_timestamp(1_795_000_000, 0).unwrap_or_default();
        let ago = |s: i64| age(&(now - chrono::Duration::seconds(s)), &now);
        assert_eq!(ago(-10), "just now");
        assert_eq!(ago(30), "30 s ago");
        assert_eq!(ago(600), "10 min ago");
        assert_eq!(ago(2 * 3600 + 59), "2 h ago");
        assert_eq!(ago(3 * 86_400), "3 d ago");
        let ahead = |s: i64| until(&(now + chrono::Duration::seconds(s)), &now);
        assert_eq!(ahead(-3), "now");
        assert_eq!(ahead(42), "in 42 s");
        assert_eq!(ahead(61), "in 1 min");
        assert_eq!(ahead(5 * 3600), "in 5 h");
        assert_eq!(ahead(2 * 86_400 + 5), "in 2 d");
    }

    #[test]
    fn spans() {
        assert_eq!(span_secs(0), "0 s");
        assert_eq!(span_secs(45), "45 s");
        assert_eq!(span_secs(60), "1 min");
        assert_eq!(span_secs(5400), "1 h 30 min");
        assert_eq!(span_secs(30 * 86_400), "30 d");
        assert_eq!(span_secs(86_400 + 3600 + 5), "1 d 1 h");
    }

    #[test]
    fn percents_and_hashes() {
        assert_eq!(percent(41.9), "41 %");
        assert_eq!(percent(130.0), "100 %");
        assert_eq!(percent(f64::NAN), "0 %");
        assert_eq!(short_hash("0123456789abcdef"), "0123456789ab");
        assert_eq!(short_hash("abc"), "abc");
    }
}
