//! PostgreSQL custom-format archives (`pg_dump -Fc`): reading the header from the first
//! bytes, so a file can be recognised (or refused) before anything else is done with it,
//! and summarising the table of contents `pg_restore --list` prints.

use app::api::ArchiveSummary;

/// What the first bytes say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub major: u8,
    pub minor: u8,
    pub rev: u8,
    /// 1 = custom, 3 = tar, 5 = directory (pg_backup_archiver.h).
    pub format: u8,
}

impl Header {
    /// `1.14`, or `1.14.0` style without the revision when it is 0.
    pub fn version(&self) -> String {
        if self.rev == 0 {
            format!("{}.{}", self.major, self.minor)
        } else {
            format!("{}.{}.{}", self.major, self.minor, self.rev)
        }
    }
    pub fn is_custom(&self) -> bool {
        self.format == 1
    }
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("the file is too short to be a PostgreSQL archive")]
    TooShort,
    #[error("not a PostgreSQL custom-format archive (it does not start with PGDMP)")]
    NotAnArchive,
}

/// Parses `PGDMP` + major, minor, revision, int size, offset size, format.
pub fn parse_header(bytes: &[u8]) -> Result<Header, HeaderError> {
    if bytes.len() < 5 {
        return Err(HeaderError::TooShort);
    }
    if &bytes[..5] != b"PGDMP" {
        return Err(HeaderError::NotAnArchive);
    }
    if bytes.len() < 11 {
        return Err(HeaderError::TooShort);
    }
    Ok(Header {
        major: bytes[5],
        minor: bytes[6],
        rev: bytes[7],
        format: bytes[10],
    })
}

/// Everything the header says beyond the version: who made the archive, from what, when.
/// Laid out (after the fixed part) as: compression, creation time (7 ints), database
/// name, server version, pg_dump version — ints as a sign byte and `int size` bytes,
/// least significant first; strings as an int length and the bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Origin {
    pub compression: Option<String>,
    /// `YYYY-MM-DD HH:MM:SS` in the dumping machine's local time.
    pub created_at: Option<String>,
    pub database: Option<String>,
    pub server_version: Option<String>,
    pub pg_dump_version: Option<String>,
}

/// Reads [`Origin`] from the first bytes (a few hundred suffice). `None` when they are
/// too short or the layout is not understood (a later, full read decides then).
pub fn parse_origin(bytes: &[u8], h: &Header) -> Option<Origin> {
    let mut r = Reader {
        bytes,
        pos: 11,
        int_size: *bytes.get(8)? as usize,
    };
    if !(1..=8).contains(&r.int_size) {
        return None;
    }
    let v = (h.major, h.minor);
    let mut o = Origin::default();
    if v >= (1, 15) {
        o.compression = Some(
            match r.byte()? {
                0 => "none",
                1 => "gzip",
                2 => "lz4",
                3 => "zstd",
                _ => "unknown",
            }
            .to_string(),
        );
    } else if v >= (1, 4) {
        o.compression = Some(match r.int()? {
            0 => "none".to_string(),
            -1 => "gzip".to_string(),
            n @ 1..=9 => format!("gzip (level {n})"),
            _ => "unknown".to_string(),
        });
    }
    if v >= (1, 4) {
        let mut t = [0i64; 7];
        for x in t.iter_mut() {
            *x = r.int()?;
        }
        o.created_at = created_at(t);
        o.database = r.string()?;
    }
    if v >= (1, 10) {
        o.server_version = r.string()?;
        o.pg_dump_version = r.string()?;
    }
    Some(o)
}

/// The creation time from its `struct tm` fields (seconds, minutes, hours, day of month,
/// month from 0, years since 1900, daylight saving flag) — `None` unless they name a real
/// moment: they come from the file, and a damaged or crafted one may hold anything.
fn created_at(t: [i64; 7]) -> Option<String> {
    let [sec, min, hour, mday, mon, year, _] = t;
    let small = |v: i64| u32::try_from(v).ok().filter(|v| *v < 100);
    // Years since 1900; four digits at most.
    let year = 1900
        + i32::try_from(year)
            .ok()
            .filter(|y| (0..=8099).contains(y))?;
    let date = chrono::NaiveDate::from_ymd_opt(year, small(mon)? + 1, small(mday)?)?;
    let (hour, min, sec) = (small(hour)?, small(min)?, small(sec)?);
    let time = if sec == 60 {
        // A leap second, as struct tm has it: chrono's way is 59 s and 1000 ms.
        chrono::NaiveTime::from_hms_milli_opt(hour, min, 59, 1_000)?
    } else {
        chrono::NaiveTime::from_hms_opt(hour, min, sec)?
    };
    Some(date.and_time(time).format("%Y-%m-%d %H:%M:%S").to_string())
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    int_size: usize,
}

impl Reader<'_> {
    fn byte(&mut self) -> Option<u8> {
        let b = *self.bytes.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }
    fn int(&mut self) -> Option<i64> {
        let negative = self.byte()? != 0;
        let mut v: i64 = 0;
        for i in 0..self.int_size {
            v |= (self.byte()? as i64) << (8 * i);
        }
        // Eight bytes of magnitude can be i64::MIN, which has no positive counterpart.
        if negative {
            v.checked_neg()
        } else {
            Some(v)
        }
    }
    fn string(&mut self) -> Option<Option<String>> {
        let len = self.int()?;
        if len < 0 {
            return Some(None);
        }
        let len = usize::try_from(len).ok().filter(|l| *l < 4096)?;
        let s = self.bytes.get(self.pos..self.pos + len)?;
        self.pos += len;
        Some(Some(String::from_utf8_lossy(s).into_owned()))
    }
}

/// The newest archive version a `pg_restore` of PostgreSQL `major` reads.
pub fn max_readable(major: u32) -> (u8, u8) {
    match major {
        17.. => (1, 16),
        16 => (1, 15),
        12..=15 => (1, 14),
        _ => (1, 13),
    }
}

/// Which PostgreSQL versions write an archive version, in words.
pub fn written_by(h: &Header) -> String {
    match (h.major, h.minor) {
        (1, 16) => "PostgreSQL 17 or newer".into(),
        (1, 15) => "PostgreSQL 16".into(),
        (1, 14) => "PostgreSQL 12 to 15".into(),
        (1, m) if m > 16 => "a PostgreSQL newer than 18".into(),
        _ => "PostgreSQL 11 or older".into(),
    }
}

/// The first PostgreSQL major whose pg_restore reads this archive version.
pub fn needed_major(h: &Header) -> u32 {
    match (h.major, h.minor) {
        (1, 16) => 17,
        (1, 15) => 16,
        (1, m) if m > 16 => 19,
        _ => 12,
    }
}

/// Summarises `pg_restore --list` output: the header block (`;     dbname: shop`, …) and
/// one line per TOC entry (`215; 1259 16385 TABLE public customers postgres`).
pub fn summarize_list(list: &str, h: &Header) -> ArchiveSummary {
    let mut s = ListSummary::new(h);
    for line in list.lines() {
        s.line(line);
    }
    s.finish()
}

/// [`summarize_list`] one line at a time, as pg_restore prints them (the listing of a
/// large archive is never held whole).
pub struct ListSummary(ArchiveSummary);

impl ListSummary {
    pub fn new(h: &Header) -> ListSummary {
        ListSummary(ArchiveSummary {
            archive_version: h.version(),
            ..ArchiveSummary::default()
        })
    }

    pub fn finish(self) -> ArchiveSummary {
        self.0
    }

    pub fn line(&mut self, line: &str) {
        let s = &mut self.0;
        if let Some(meta) = line.strip_prefix(';') {
            let meta = meta.trim();
            let field = |key: &str| meta.strip_prefix(key).map(|v| v.trim().to_string());
            if let Some(v) = field("Archive created at") {
                s.created_at = Some(v);
            } else if let Some(v) = field("dbname:") {
                s.source_database = Some(v);
            } else if let Some(v) = field("TOC Entries:") {
                s.toc_entries = v.parse().unwrap_or(0);
            } else if let Some(v) = field("Compression:") {
                // Before format 1.15 it is a zlib level: -1 default, 0 none.
                s.compression = Some(match v.parse::<i32>() {
                    Ok(0) => "none".into(),
                    Ok(-1) => "gzip".into(),
                    Ok(n) => format!("gzip (level {n})"),
                    Err(_) => v,
                });
            } else if let Some(v) = field("Dumped from database version:") {
                s.server_version = Some(v);
            } else if let Some(v) = field("Dumped by pg_dump version:") {
                s.pg_dump_version = Some(v);
            }
            return;
        }
        let Some(entry) = toc_entry(line) else {
            return;
        };
        match entry.desc {
            "SCHEMA" => s.schemas += 1,
            "TABLE" => {
                s.tables += 1;
                s.table_names.push(match entry.schema {
                    Some(schema) => format!("{schema}.{}", entry.name),
                    None => entry.name.to_string(),
                });
            }
            "INDEX" => s.indexes += 1,
            "FUNCTION" | "PROCEDURE" | "AGGREGATE" => s.functions += 1,
            _ => s.other += 1,
        }
    }
}

/// Descriptions pg_restore prints as several words; the rest are one word.
const MULTI_WORD: &[&str] = &[
    "TABLE DATA",
    "TABLE ATTACH",
    "SEQUENCE SET",
    "SEQUENCE OWNED BY",
    "FK CONSTRAINT",
    "CHECK CONSTRAINT",
    "DEFAULT ACL",
    "MATERIALIZED VIEW DATA",
    "MATERIALIZED VIEW",
    "LARGE OBJECT",
    "BLOB METADATA",
    "BLOBS",
    "INDEX ATTACH",
    "EVENT TRIGGER",
    "FOREIGN TABLE",
    "FOREIGN DATA WRAPPER",
    "FOREIGN SERVER",
    "USER MAPPING",
    "TEXT SEARCH CONFIGURATION",
    "TEXT SEARCH DICTIONARY",
    "TEXT SEARCH PARSER",
    "TEXT SEARCH TEMPLATE",
    "OPERATOR CLASS",
    "OPERATOR FAMILY",
    "ACCESS METHOD",
    "PUBLICATION TABLE",
    "PUBLICATION TABLES IN SCHEMA",
    "STATISTICS DATA",
    "SEARCHPATH",
    "ENCODING",
    "STDSTRINGS",
];

pub struct TocEntry<'a> {
    pub desc: &'a str,
    pub schema: Option<&'a str>,
    pub name: &'a str,
}

/// One entry line of `pg_restore --list`: `ID; TABLEOID OID DESC SCHEMA NAME OWNER`
/// (schema is `-` for objects outside one).
pub fn toc_entry(line: &str) -> Option<TocEntry<'_>> {
    let (id, rest) = line.split_once(';')?;
    id.trim().parse::<u64>().ok()?;
    let mut parts = rest.trim_start().splitn(3, ' ');
    parts.next()?.parse::<u64>().ok()?;
    parts.next()?.parse::<u64>().ok()?;
    let tail = parts.next()?;
    let desc = MULTI_WORD
        .iter()
        .find(|d| {
            tail.strip_prefix(**d)
                .is_some_and(|r| r.is_empty() || r.starts_with(' '))
        })
        .copied()
        .unwrap_or_else(|| tail.split(' ').next().unwrap_or(""));
    let desc = &tail[..desc.len()];
    let mut rest = tail[desc.len()..].split_whitespace();
    let schema = rest.next().filter(|s| *s != "-");
    let name = rest.next().unwrap_or("");
    Some(TocEntry { desc, schema, name })
}
#[cfg(test)]
mod tests {
    use super::*;

    /// The first bytes of a pg_dump 15 archive of `shop`.
    fn sample_15() -> Vec<u8> {
        let mut b = b"PGDMP\x01\x0e\x00\x04\x08\x01".to_vec();
        let int = |b: &mut Vec<u8>, v: i32| {
            b.push(u8::from(v < 0));
            b.extend_from_slice(&v.unsigned_abs().to_le_bytes());
        };
        int(&mut b, -1); // compression: default
        for v in [5, 4, 3, 21, 10, 126, 0] {
            int(&mut b, v); // 2026-11-21 03:04:05
        }
        for s in ["shop", "15.18 (Debian 15.18-0+deb12u1)", "15.18"] {
            int(&mut b, s.len() as i32);
            b.extend_from_slice(s.as_bytes());
        }
        b
    }

    #[test]
    fn the_origin_comes_out_of_the_header() {
        let bytes = sample_15();
        let h = parse_header(&bytes).expect("header");
        let o = parse_origin(&bytes, &h).expect("origin");
        assert_eq!(o.database.as_deref(), Some("shop"));
        assert_eq!(o.created_at.as_deref(), Some("2026-11-21 03:04:05"));
        assert_eq!(o.pg_dump_version.as_deref(), Some("15.18"));
        assert_eq!(o.compression.as_deref(), Some("gzip"));
        assert_eq!(parse_origin(&bytes[..30], &h), None, "too short to tell");
    }

    /// A 1.14 header with 8-byte ints: compression, the 7 time fields, `shop`, no versions.
    fn wide(compression: (bool, u64), tm: [(bool, u64); 7]) -> Vec<u8> {
        let mut b = b"PGDMP\x01\x0e\x00\x08\x08\x01".to_vec();
        let int = |b: &mut Vec<u8>, (negative, magnitude): (bool, u64)| {
            b.push(u8::from(negative));
            b.extend_from_slice(&magnitude.to_le_bytes());
        };
        int(&mut b, compression);
        for t in tm {
            int(&mut b, t);
        }
        int(&mut b, (false, 4));
        b.extend_from_slice(b"shop");
        // No server or pg_dump version (a negative length).
        int(&mut b, (true, 1));
        int(&mut b, (true, 1));
        b
    }
    const NOON: [(bool, u64); 7] = [
        (false, 0),
        (false, 0),
        (false, 12),
        (false, 21),
        (false, 10),
        (false, 126),
        (false, 0),
    ];

    #[test]
    fn minus_two_to_the_63_is_an_unreadable_int_not_an_overflow() {
        // Sign byte set, magnitude 2^63: negating it overflowed (a panic in debug builds).
        let bytes = wide((true, 1 << 63), NOON);
        let h = parse_header(&bytes).expect("header");
        assert_eq!(parse_origin(&bytes, &h), None);
        let fine = wide((true, 1), NOON);
        let o = parse_origin(&fine, &h).expect("origin");
        assert_eq!(o.created_at.as_deref(), Some("2026-11-21 12:00:00"));
        assert_eq!(o.database.as_deref(), Some("shop"));
    }

    #[test]
    fn impossible_creation_times_are_left_out() {
        let h = parse_header(&wide((false, 0), NOON)).expect("header");
        let at = |field: usize, v: (bool, u64)| {
            let mut tm = NOON;
            tm[field] = v;
            parse_origin(&wide((false, 0), tm), &h).expect("origin")
        };
        // Years since 1900 near i64::MAX: adding 1900 overflowed (a panic in debug builds).
        let far = at(5, (false, i64::MAX as u64));
        assert_eq!(far.created_at, None);
        assert_eq!(
            far.database.as_deref(),
            Some("shop"),
            "the rest is still read"
        );
        assert_eq!(at(1, (false, 127)).created_at, None, "minute 127");
        assert_eq!(at(4, (false, 12)).created_at, None, "a thirteenth month");
        assert_eq!(at(3, (false, 31)).created_at, None, "31 November");
        assert_eq!(at(2, (true, 1)).created_at, None, "hour -1");
        assert_eq!(
            at(0, (false, 60)).created_at.as_deref(),
            Some("2026-11-21 12:00:60"),
            "a leap second is a real moment"
        );
    }

    #[test]
    fn a_zlib_level_outside_1_to_9_is_unknown() {
        let bytes = wide((false, 127), NOON);
        let h = parse_header(&bytes).expect("header");
        let o = parse_origin(&bytes, &h).expect("origin");
        assert_eq!(o.compression.as_deref(), Some("unknown"));
        let six = parse_origin(&wide((false, 6), NOON), &h).expect("origin");
        assert_eq!(six.compression.as_deref(), Some("gzip (level 6)"));
    }

    #[test]
    fn versions_map_to_what_reads_them() {
        let h16 = parse_header(b"PGDMP\x01\x10\x00\x04\x08\x01").expect("header");
        assert!((h16.major, h16.minor) > max_readable(15));
        assert!((h16.major, h16.minor) <= max_readable(17));
        assert_eq!(needed_major(&h16), 17);
        assert_eq!(written_by(&h16), "PostgreSQL 17 or newer");
    }

    #[test]
    fn the_table_of_contents_is_summarised() {
        let list = ";\n; Archive created at 2026-11-21 10:00:00 UTC\n;     dbname: shop\n;     TOC Entries: 9\n;     Dumped from database version: 15.18\n;     Dumped by pg_dump version: 15.18\n;\n; Selected TOC Entries:\n;\n5; 2615 2200 SCHEMA - public pg_database_owner\n215; 1259 16385 TABLE public customers postgres\n216; 1259 16390 TABLE public orders postgres\n217; 1255 16400 FUNCTION public touch() postgres\n3350; 0 16385 TABLE DATA public customers postgres\n3351; 0 16390 TABLE DATA public orders postgres\n3200; 2606 16395 CONSTRAINT public customers customers_pkey postgres\n3201; 1259 16396 INDEX public orders_by_customer postgres\n3202; 2606 16397 FK CONSTRAINT public orders orders_customer_fkey postgres\n";
        let h = parse_header(b"PGDMP\x01\x0e\x00\x04\x08\x01").expect("header");
        let s = summarize_list(list, &h);
        assert_eq!(s.source_database.as_deref(), Some("shop"));
        assert_eq!(s.toc_entries, 9);
        assert_eq!((s.schemas, s.tables, s.indexes, s.functions), (1, 2, 1, 1));
        assert_eq!(s.other, 4, "two TABLE DATA, a constraint, a foreign key");
        assert_eq!(s.table_names, ["public.customers", "public.orders"]);
        assert_eq!(s.archive_version, "1.14");
    }

    #[test]
    fn headers_parse() {
        let h = parse_header(b"PGDMP\x01\x0e\x00\x04\x08\x01rest").expect("header");
        assert_eq!(h.version(), "1.14");
        assert!(h.is_custom());
        assert_eq!(parse_header(b"PGD"), Err(HeaderError::TooShort));
        assert_eq!(
            parse_header(b"-- PostgreSQL database dump"),
            Err(HeaderError::NotAnArchive)
        );
    }
}
