//! How pg_dump compresses a backup (`LIFEBOAT_COMPRESSION`): the setting, the
//! `--compress` argument each pg_dump version understands, and a probe that asks the
//! client itself whether its build supports a method (builds without zstd or lz4 are
//! common; the version alone does not tell).

use super::child::{Child, ChildError};
use super::Tool;

/// `zstd[:level]`, `lz4[:level]`, `gzip[:level]` or `none`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Compression {
    pub method: Method,
    /// `None`: the method's own default level.
    pub level: Option<u32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Gzip,
    Lz4,
    Zstd,
    None,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Gzip => "gzip",
            Method::Lz4 => "lz4",
            Method::Zstd => "zstd",
            Method::None => "none",
        }
    }

    /// Whether Lifeboat decodes this compression's archives itself while they are written
    /// ([`super::custom`]); lz4 and zstd go to pg_restore.
    pub fn decoded_in_process(self) -> bool {
        matches!(self, Method::Gzip | Method::None)
    }
}

/// When nothing is set and the client has zstd: fast, and much smaller than none.
pub const FAST_ZSTD: Compression = Compression {
    method: Method::Zstd,
    level: Some(1),
};

/// When nothing is set and the client has no zstd: gzip level 2. Measured with
/// pg_dump 15 on a 1 GB database of mixed data (scripts/bench-data.sql): pg_dump's default
/// level 6 spent 15.5 CPU s for 186 MB, level 1 5.8 s for 219 MB (18 % more), level 2
/// 6.7 s for 212 MB (14 % more), level 3 8.0 s for 206 MB. Level 2 is the fastest within
/// 15 % of the default's size.
pub const FAST_GZIP: Compression = Compression {
    method: Method::Gzip,
    level: Some(2),
};

impl std::fmt::Display for Compression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.level {
            Some(l) if self.method != Method::None => write!(f, "{}:{l}", self.method.as_str()),
            _ => f.write_str(self.method.as_str()),
        }
    }
}

impl std::str::FromStr for Compression {
    type Err = String;

    fn from_str(s: &str) -> Result<Compression, String> {
        let s = s.trim().to_ascii_lowercase();
        let (name, level) = match s.split_once(':') {
            Some((n, l)) => (n.to_string(), Some(l.to_string())),
            None => (s.clone(), None),
        };
        let method = match name.as_str() {
            "gzip" => Method::Gzip,
            "lz4" => Method::Lz4,
            "zstd" => Method::Zstd,
            "none" => Method::None,
            other => {
                return Err(format!(
                    "unknown compression `{other}`: use zstd[:level], lz4[:level], gzip[:level] or none"
                ))
            }
        };
        let range = match method {
            Method::Gzip => 1..=9,
            Method::Lz4 => 1..=12,
            Method::Zstd => 1..=22,
            Method::None => {
                if level.is_some() {
                    return Err("`none` takes no level".into());
                }
                return Ok(Compression {
                    method,
                    level: None,
                });
            }
        };
        let level = match level {
            None => None,
            Some(l) => match l.parse::<u32>() {
                Ok(n) if range.contains(&n) => Some(n),
                _ => {
                    return Err(format!(
                        "the level of {} is a whole number from {} to {}, not `{l}`",
                        method.as_str(),
                        range.start(),
                        range.end()
                    ))
                }
            },
        };
        Ok(Compression { method, level })
    }
}

impl Compression {
    /// The `--compress` argument for a pg_dump of `major`: `METHOD[:LEVEL]` since
    /// PostgreSQL 16; before, only gzip levels (`-Z N`, 0 for none).
    pub fn argument(&self, major: u32) -> String {
        if major >= 16 {
            return format!("--compress={self}");
        }
        match (self.method, self.level) {
            (Method::None, _) => "--compress=0".into(),
            (Method::Gzip, Some(l)) => format!("--compress={l}"),
            // zlib's default level, as pg_dump's own default.
            (Method::Gzip, None) => "--compress=6".into(),
            // Refused by this pg_dump, which the probe reports.
            _ => format!("--compress={self}"),
        }
    }
}

/// Whether `pg_dump` accepts this compression: it parses `--compress` before connecting,
/// so a run against a socket folder that does not exist ends either on the compression
/// ("this build does not support compression with ZSTD") or on the connection — nothing
/// is dumped either way. Only the connection error proves the option was accepted; any
/// other answer (or none within [`PROBE_TIMEOUT`]) is a refusal. `Err` says which client
/// refused and why.
pub async fn probe(pg_dump: &Tool, c: &Compression) -> Result<(), String> {
    let run = Child::new(&pg_dump.path, "pg_dump")
        .arg("--format=custom")
        .arg("--schema-only")
        .arg(c.argument(pg_dump.major))
        .arg("--no-password")
        .arg("--host=/nonexistent/lifeboat-probe")
        .arg("--file=/dev/null")
        .arg("--dbname=probe")
        .output();
    let refused = |why: String| {
        format!(
            "pg_dump {} at {} cannot compress with {c}: {why}",
            pg_dump.version,
            pg_dump.path.display()
        )
    };
    let out = match tokio::time::timeout(PROBE_TIMEOUT, run).await {
        Err(_) => return Err(refused(format!("no answer within {PROBE_TIMEOUT:?}"))),
        Ok(Err(ChildError::Start { source, .. })) => {
            return Err(refused(format!("cannot run it: {source}")))
        }
        Ok(Err(e)) => return Err(refused(e.to_string())),
        Ok(Ok(out)) => out,
    };
    let stderr = &out.finished.stderr;
    let connecting =
        |l: &&str| l.contains("connection to server") || l.contains("could not connect");
    if stderr.lines().any(|l| connecting(&l)) {
        return Ok(());
    }
    let why = stderr
        .lines()
        .find(|l| l.to_ascii_lowercase().contains("compress"))
        .or_else(|| stderr.lines().find(|l| !l.trim().is_empty()))
        .map(|l| l.trim().to_string())
        .unwrap_or_else(|| format!("it {}", out.finished.described()));
    Err(refused(why))
}

/// How long the probe may take: it fails at once on a real pg_dump.
pub const PROBE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// The compression a backup uses: the one set, once the client has accepted it, or
/// without a setting zstd when the client has it, else gzip level 2.
pub async fn resolve(pg_dump: &Tool, set: Option<&Compression>) -> Result<Compression, String> {
    match set {
        Some(c) => probe(pg_dump, c).await.map(|()| c.clone()),
        None => Ok(if probe(pg_dump, &FAST_ZSTD).await.is_ok() {
            FAST_ZSTD
        } else {
            FAST_GZIP
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_parse_and_print_back() {
        for s in ["zstd", "zstd:3", "lz4:1", "gzip:1", "gzip", "none"] {
            let c: Compression = s.parse().expect(s);
            assert_eq!(c.to_string(), s);
        }
        assert!("brotli".parse::<Compression>().is_err());
        assert!("gzip:0".parse::<Compression>().is_err());
        assert!("gzip:10".parse::<Compression>().is_err());
        assert!("none:1".parse::<Compression>().is_err());
    }

    #[test]
    fn old_pg_dump_gets_gzip_levels() {
        let c: Compression = "gzip:1".parse().expect("gzip");
        assert_eq!(c.argument(18), "--compress=gzip:1");
        assert_eq!(c.argument(15), "--compress=1");
        let none: Compression = "none".parse().expect("none");
        assert_eq!(none.argument(15), "--compress=0");
        assert_eq!(none.argument(17), "--compress=none");
    }
}
