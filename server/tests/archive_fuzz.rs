//! Property harness for what reads an uploaded file's first bytes: the custom-format
//! archive header and origin parser (`pgtools::archive`), upload sniffing
//! (`engine::upload::sniff`, `readable_by`) and the table-of-contents summary. Anyone who
//! may upload chooses these bytes. Also the in-process decode of a backup being written
//! (`pgtools::custom`), which a damaged disk could feed anything.
//!
//! Inputs: random bytes; random bytes after `PGDMP`; real `pg_dump -Fc` archives
//! (PostgreSQL 15 compressed and not, PostgreSQL 18, in `fixtures/`) with bit flips,
//! overwritten bytes, truncations, inserted and duplicated chunks and extreme integers
//! written over their fields; and headers built field by field, extreme values included.
//! Properties: nothing panics; no case runs long (a watchdog ends the run, printing the
//! input, if one case takes more than [`CASE_LIMIT`]); an accepted header is consistent
//! with the bytes it came from; a header built from known fields reads back as them.
//!
//! `cargo test` runs 20 000 cases; `LIFEBOAT_FUZZ_CASES=N` runs N
//! (`scripts/fuzz-archive.sh` runs a million).

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestError, TestRunner};
use rand::{RngCore, SeedableRng};
use server::engine::upload::{readable_by, sniff};
use server::pgtools::archive::{self, Header, HeaderError, Origin};
use server::pgtools::Tool;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// Real archives of a small `shop` database, whole (under 2.2 kB each).
const FIXTURES: [&[u8]; 3] = [
    include_bytes!("fixtures/shop-pg15.dump"),
    include_bytes!("fixtures/shop-pg15-z0.dump"),
    include_bytes!("fixtures/shop-pg18.dump"),
];

/// The longest one case may take before the run is declared hung.
const CASE_LIMIT: Duration = Duration::from_secs(10);

fn total_cases() -> u32 {
    std::env::var("LIFEBOAT_FUZZ_CASES")
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(20_000)
}

fn config(cases: u32) -> Config {
    Config {
        cases,
        // Failures become named regression tests beside the code, not files here.
        failure_persistence: None,
        ..Config::default()
    }
}

// ---------------------------------------------------------------------------------------
// The watchdog: a case that never ends cannot fail a test by itself, so a thread watches
// the case counter and ends the process, naming the input, when it stops moving.
// ---------------------------------------------------------------------------------------

struct Watchdog {
    current: Arc<Mutex<(u64, Vec<u8>)>>,
    /// Each case sends a tick; the watching thread waits for the next one at most
    /// CASE_LIMIT. Dropped with the watchdog, which ends the thread.
    tick: Mutex<Option<mpsc::Sender<()>>>,
    slowest: Mutex<(Duration, Vec<u8>)>,
}

impl Watchdog {
    fn start() -> Arc<Watchdog> {
        let (tx, rx) = mpsc::channel::<()>();
        let dog = Arc::new(Watchdog {
            current: Arc::new(Mutex::new((0, vec![]))),
            tick: Mutex::new(Some(tx)),
            slowest: Mutex::new((Duration::ZERO, vec![])),
        });
        let current = dog.current.clone();
        std::thread::spawn(move || loop {
            match rx.recv_timeout(CASE_LIMIT) {
                Ok(()) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let guard = current.lock().unwrap_or_else(|e| e.into_inner());
                    eprintln!(
                        "archive fuzz: case {} has run for more than {CASE_LIMIT:?}; its input ({} bytes): {}",
                        guard.0,
                        guard.1.len(),
                        hex::encode(&guard.1)
                    );
                    std::process::exit(1);
                }
            }
        });
        dog
    }

    /// Runs `f` on `input` as one watched, timed case.
    fn case<T>(&self, input: &[u8], f: impl FnOnce() -> T) -> T {
        {
            let mut guard = self.current.lock().unwrap_or_else(|e| e.into_inner());
            guard.0 += 1;
            guard.1.clear();
            guard.1.extend_from_slice(input);
        }
        if let Some(tick) = self.tick.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            let _ = tick.send(());
        }
        let started = Instant::now();
        let out = f();
        let took = started.elapsed();
        let mut slowest = self.slowest.lock().unwrap_or_else(|e| e.into_inner());
        if took > slowest.0 {
            *slowest = (took, input.to_vec());
        }
        out
    }

    fn report(&self, what: &str, cases: u32, started: Instant) {
        let slowest = self.slowest.lock().unwrap_or_else(|e| e.into_inner());
        eprintln!(
            "archive fuzz: {what}: {cases} cases in {:.1?}, slowest case {:?} ({} bytes); \
             so far {} accepted as archives, {} origins read, {} with a creation time",
            started.elapsed(),
            slowest.0,
            slowest.1.len(),
            SNIFFED_OK.load(Ordering::Relaxed),
            ORIGINS.load(Ordering::Relaxed),
            MOMENTS.load(Ordering::Relaxed),
        );
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.tick.lock().unwrap_or_else(|e| e.into_inner()).take();
    }
}

// ---------------------------------------------------------------------------------------
// Properties of any input.
// ---------------------------------------------------------------------------------------

fn tool(major: u32) -> Tool {
    Tool {
        path: "/nonexistent/pg_restore".into(),
        version: format!("{major}.0"),
        major,
    }
}

/// How many cases reached how far (shows the inputs do get past the first checks).
static SNIFFED_OK: AtomicU64 = AtomicU64::new(0);
static ORIGINS: AtomicU64 = AtomicU64::new(0);
static MOMENTS: AtomicU64 = AtomicU64::new(0);

/// Everything that reads the bytes, and what must hold whatever they are.
fn check_bytes(bytes: &[u8]) -> Result<(), TestCaseError> {
    let parsed = archive::parse_header(bytes);
    match &parsed {
        Ok(h) => {
            prop_assert!(bytes.len() >= 11 && bytes.starts_with(b"PGDMP"));
            prop_assert_eq!(
                (h.major, h.minor, h.rev, h.format),
                (bytes[5], bytes[6], bytes[7], bytes[10])
            );
            // The header is the first 11 bytes and nothing else.
            let again = archive::parse_header(&bytes[..11]);
            prop_assert_eq!(again.as_ref(), Ok(h));
            prop_assert_eq!(h.is_custom(), h.format == 1);
            let major_minor = format!("{}.{}", h.major, h.minor);
            prop_assert!(h.version().starts_with(&major_minor), "{h:?}");
        }
        Err(HeaderError::TooShort) => {
            prop_assert!(bytes.len() < 5 || (bytes.len() < 11 && bytes.starts_with(b"PGDMP")))
        }
        Err(HeaderError::NotAnArchive) => {
            prop_assert!(bytes.len() >= 5 && !bytes.starts_with(b"PGDMP"))
        }
    }

    match sniff(bytes) {
        Ok(h) => {
            SNIFFED_OK.fetch_add(1, Ordering::Relaxed);
            prop_assert_eq!(Ok(&h), parsed.as_ref());
            prop_assert!(h.major == 1 && h.is_custom(), "accepted {h:?}");
        }
        Err(why) => prop_assert!(!why.is_empty() && why.len() < 1024, "{why}"),
    }

    if let Ok(h) = &parsed {
        let origin = archive::parse_origin(bytes, h);
        if let Some(o) = &origin {
            ORIGINS.fetch_add(1, Ordering::Relaxed);
            if o.created_at.is_some() {
                MOMENTS.fetch_add(1, Ordering::Relaxed);
            }
            check_origin(bytes, h, o)?;
            // More bytes after what was read change nothing.
            let mut longer = bytes.to_vec();
            longer.extend_from_slice(&[0xA5; 64]);
            let again = archive::parse_origin(&longer, h);
            prop_assert_eq!(again.as_ref(), Some(o));
        }
        for major in [12, 15, 16, 17, 18] {
            let readable = (h.major, h.minor) <= archive::max_readable(major);
            match readable_by(bytes, h, &tool(major)) {
                Ok(()) => prop_assert!(readable),
                Err(why) => {
                    prop_assert!(!readable);
                    prop_assert!(why.contains(&h.version()), "{why}");
                    prop_assert!(why.len() < 16 * 1024);
                }
            }
        }
    }

    // The in-process decode of a backup being written: damaged bytes are refused with a
    // short message naming where, never a panic or a hang.
    match server::pgtools::custom::decode(bytes) {
        Ok(_) => prop_assert!(bytes.starts_with(b"PGDMP")),
        Err(why) => prop_assert!(!why.is_empty() && why.len() < 16 * 1024, "{why}"),
    }

    // pg_restore --list output names what the archive holds: any text must do.
    let text = String::from_utf8_lossy(bytes);
    let header = Header {
        major: 1,
        minor: 14,
        rev: 0,
        format: 1,
    };
    let s = archive::summarize_list(&text, &header);
    let counted = s.schemas + s.tables + s.indexes + s.functions + s.other;
    prop_assert!(counted <= text.lines().count() as i64);
    prop_assert_eq!(s.table_names.len() as i64, s.tables);
    Ok(())
}

/// An origin read from `bytes` agrees with them.
fn check_origin(bytes: &[u8], h: &Header, o: &Origin) -> Result<(), TestCaseError> {
    let v = (h.major, h.minor);
    if let Some(c) = &o.compression {
        prop_assert!(v >= (1, 4));
        let level_ok = c
            .strip_prefix("gzip (level ")
            .and_then(|l| l.strip_suffix(')'))
            .and_then(|l| l.parse::<u8>().ok())
            .is_some_and(|l| (1..=9).contains(&l));
        prop_assert!(
            ["none", "gzip", "lz4", "zstd", "unknown"].contains(&c.as_str()) || level_ok,
            "compression {c:?}"
        );
    }
    if v < (1, 4) {
        prop_assert!(o.created_at.is_none() && o.database.is_none());
    }
    if v < (1, 10) {
        prop_assert!(o.server_version.is_none() && o.pg_dump_version.is_none());
    }
    if let Some(at) = &o.created_at {
        prop_assert!(
            chrono::NaiveDateTime::parse_from_str(at, "%Y-%m-%d %H:%M:%S").is_ok(),
            "created_at {at:?} is not a moment"
        );
    }
    for s in [&o.database, &o.server_version, &o.pg_dump_version]
        .into_iter()
        .flatten()
    {
        // At most 4095 bytes, each turned into at most one U+FFFD (3 bytes).
        prop_assert!(s.len() <= 3 * 4095);
        if !s.contains('\u{FFFD}') && !s.is_empty() {
            prop_assert!(
                bytes[11..].windows(s.len()).any(|w| w == s.as_bytes()),
                "{s:?} is not in the input"
            );
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Inputs.
// ---------------------------------------------------------------------------------------

/// `len` bytes from a seeded generator: cheap to make, and shrinking shortens them.
fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut v = vec![0u8; len];
    rand::rngs::StdRng::seed_from_u64(seed).fill_bytes(&mut v);
    v
}

/// Magnitudes that sit on the edges of every integer width.
const EXTREMES: [u64; 9] = [
    0,
    1,
    0x7f,
    0xff,
    i32::MAX as u64,
    u32::MAX as u64,
    i64::MAX as u64,
    1 << 63,
    u64::MAX,
];

#[derive(Clone, Debug)]
enum Mutation {
    FlipBit {
        at: usize,
        bit: u8,
    },
    SetByte {
        at: usize,
        value: u8,
    },
    Truncate {
        to: usize,
    },
    Insert {
        at: usize,
        chunk: Vec<u8>,
    },
    Duplicate {
        from: usize,
        len: usize,
        at: usize,
    },
    /// A sign byte and `width` bytes of an extreme magnitude, least significant first.
    ExtremeInt {
        at: usize,
        negative: bool,
        magnitude: u64,
        width: usize,
    },
    /// The int size byte: 0, past 8, or anything.
    IntSize(u8),
    /// The version bytes.
    Version {
        major: u8,
        minor: u8,
    },
}

impl Mutation {
    fn apply(&self, b: &mut Vec<u8>) {
        let pos = |at: usize, len: usize| if len == 0 { 0 } else { at % len };
        match self {
            Mutation::FlipBit { at, bit } if !b.is_empty() => {
                let i = pos(*at, b.len());
                b[i] ^= 1 << (bit % 8);
            }
            Mutation::SetByte { at, value } if !b.is_empty() => {
                let i = pos(*at, b.len());
                b[i] = *value;
            }
            Mutation::Truncate { to } => b.truncate(*to),
            Mutation::Insert { at, chunk } => {
                let i = pos(*at, b.len() + 1);
                b.splice(i..i, chunk.iter().copied());
            }
            Mutation::Duplicate { from, len, at } if !b.is_empty() => {
                let start = pos(*from, b.len());
                let end = (start + len).min(b.len());
                let piece = b[start..end].to_vec();
                let i = pos(*at, b.len() + 1);
                b.splice(i..i, piece);
            }
            Mutation::ExtremeInt {
                at,
                negative,
                magnitude,
                width,
            } => {
                let mut field = vec![u8::from(*negative)];
                field.extend_from_slice(&magnitude.to_le_bytes()[..(*width).min(8)]);
                let i = pos(*at, b.len() + 1);
                let end = (i + field.len()).min(b.len());
                b.splice(i..end, field);
            }
            Mutation::IntSize(size) if b.len() > 8 => b[8] = *size,
            Mutation::Version { major, minor } if b.len() > 6 => {
                b[5] = *major;
                b[6] = *minor;
            }
            _ => {}
        }
    }
}

/// A position, mostly in the header and origin (the first 160 bytes).
fn position() -> impl Strategy<Value = usize> {
    prop_oneof![3 => 0usize..160, 1 => 0usize..4096]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (position(), 0u8..8).prop_map(|(at, bit)| Mutation::FlipBit { at, bit }),
        (position(), any::<u8>()).prop_map(|(at, value)| Mutation::SetByte { at, value }),
        (0usize..400).prop_map(|to| Mutation::Truncate { to }),
        (position(), 0usize..64, any::<u64>()).prop_map(|(at, len, seed)| Mutation::Insert {
            at,
            chunk: random_bytes(len, seed),
        }),
        (position(), 0usize..256, position()).prop_map(|(from, len, at)| Mutation::Duplicate {
            from,
            len,
            at
        }),
        (
            11usize..160,
            any::<bool>(),
            prop::sample::select(EXTREMES.to_vec()),
            1usize..=8
        )
            .prop_map(|(at, negative, magnitude, width)| Mutation::ExtremeInt {
                at,
                negative,
                magnitude,
                width,
            }),
        prop_oneof![Just(0u8), Just(8), Just(9), any::<u8>()].prop_map(Mutation::IntSize),
        (any::<u8>(), prop_oneof![0u8..20, any::<u8>()])
            .prop_map(|(major, minor)| Mutation::Version { major, minor }),
    ]
}

fn any_input() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        2 => (0usize..700, any::<u64>()).prop_map(|(len, seed)| random_bytes(len, seed)),
        1 => (0usize..300, any::<u64>()).prop_map(|(len, seed)| {
            let mut v = b"PGDMP".to_vec();
            v.extend(random_bytes(len, seed));
            v
        }),
        6 => (0..FIXTURES.len(), prop::collection::vec(mutation(), 1..8)).prop_map(
            |(which, mutations)| {
                let mut v = FIXTURES[which].to_vec();
                for m in &mutations {
                    m.apply(&mut v);
                }
                v
            }
        ),
    ]
}

// ---------------------------------------------------------------------------------------
// Headers built field by field.
// ---------------------------------------------------------------------------------------

/// An integer field: in range for its meaning, or anything the width can hold.
#[derive(Clone, Debug)]
struct Int {
    negative: bool,
    magnitude: u64,
}

#[derive(Clone, Debug)]
struct Built {
    minor: u8,
    int_size: u8,
    compression: Int,
    /// sec, min, hour, mday, mon (from 0), year (since 1900), isdst.
    tm: [Int; 7],
    strings: [Option<String>; 3],
}

impl Built {
    fn mask(&self, m: u64) -> u64 {
        if self.int_size >= 8 {
            m
        } else {
            m & ((1u64 << (8 * self.int_size)) - 1)
        }
    }
    /// What an int field means once written with this int size.
    fn value(&self, i: &Int) -> Option<i64> {
        let m = self.mask(i.magnitude) as i64;
        if i.negative {
            m.checked_neg()
        } else {
            Some(m)
        }
    }
    fn encode(&self) -> Vec<u8> {
        let mut b = b"PGDMP".to_vec();
        b.extend_from_slice(&[1, self.minor, 0, self.int_size, 8, 1]);
        let int = |b: &mut Vec<u8>, i: &Int| {
            b.push(u8::from(i.negative));
            b.extend_from_slice(&i.magnitude.to_le_bytes()[..usize::from(self.int_size)]);
        };
        if self.minor >= 15 {
            b.push(self.compression.magnitude as u8);
        } else {
            int(&mut b, &self.compression);
        }
        for t in &self.tm {
            int(&mut b, t);
        }
        for s in &self.strings {
            match s {
                None => int(
                    &mut b,
                    &Int {
                        negative: true,
                        magnitude: 1,
                    },
                ),
                Some(s) => {
                    int(
                        &mut b,
                        &Int {
                            negative: false,
                            magnitude: s.len() as u64,
                        },
                    );
                    b.extend_from_slice(s.as_bytes());
                }
            }
        }
        b
    }
    /// The moment the tm fields name, if they name one.
    fn moment(&self) -> Option<String> {
        let mut f = [0i64; 7];
        for (x, t) in f.iter_mut().zip(&self.tm) {
            *x = self.value(t)?;
        }
        let [sec, min, hour, mday, mon, year, _] = f;
        let time_ok =
            (0..=60).contains(&sec) && (0..=59).contains(&min) && (0..=23).contains(&hour);
        let in_month = |m: i64, d: i64| {
            let days = match m + 1 {
                2 if (year + 1900) % 4 == 0
                    && ((year + 1900) % 100 != 0 || (year + 1900) % 400 == 0) =>
                {
                    29
                }
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            (1..=days).contains(&d)
        };
        let date_ok = (0..=8099).contains(&year) && (0..=11).contains(&mon) && in_month(mon, mday);
        (time_ok && date_ok).then(|| {
            format!(
                "{:04}-{:02}-{:02} {hour:02}:{min:02}:{sec:02}",
                year + 1900,
                mon + 1,
                mday
            )
        })
    }
}

fn int_in(range: std::ops::RangeInclusive<u64>) -> impl Strategy<Value = Int> {
    prop_oneof![
        3 => range.prop_map(|magnitude| Int { negative: false, magnitude }),
        1 => (any::<bool>(), prop::sample::select(EXTREMES.to_vec()))
            .prop_map(|(negative, magnitude)| Int { negative, magnitude }),
        1 => (any::<bool>(), any::<u64>()).prop_map(|(negative, magnitude)| Int { negative, magnitude }),
    ]
}

fn built() -> impl Strategy<Value = Built> {
    let text = prop::option::weighted(0.9, "[ -~]{0,40}|\\PC{0,20}");
    (
        prop_oneof![Just(14u8), Just(15), Just(16), 4u8..=16],
        prop_oneof![Just(4u8), Just(8), 1u8..=8],
        int_in(0..=9),
        (
            int_in(0..=60),
            int_in(0..=59),
            int_in(0..=23),
            int_in(1..=31),
            int_in(0..=11),
            int_in(70..=200),
            int_in(0..=1),
        ),
        [text.clone(), text.clone(), text],
    )
        .prop_map(|(minor, int_size, compression, tm, strings)| Built {
            minor,
            int_size,
            compression,
            tm: [tm.0, tm.1, tm.2, tm.3, tm.4, tm.5, tm.6],
            strings,
        })
}

/// A header built from known fields reads back as them.
fn check_built(b: &Built, bytes: &[u8]) -> Result<(), TestCaseError> {
    check_bytes(bytes)?;
    let h = archive::parse_header(bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!((h.major, h.minor, h.format), (1, b.minor, 1));
    // An int that means nothing (minus 2^63) leaves the layout unreadable from there on.
    let readable = b.tm.iter().all(|i| b.value(i).is_some())
        && (b.minor >= 15 || b.value(&b.compression).is_some());
    let o = archive::parse_origin(bytes, &h);
    if !readable {
        prop_assert!(o.is_none(), "{o:?} from {b:?}");
        return Ok(());
    }
    let Some(o) = o else {
        return Err(TestCaseError::fail(format!("no origin from {b:?}")));
    };
    prop_assert_eq!(o.created_at.clone(), b.moment());
    let [database, server_version, pg_dump_version] = &b.strings;
    prop_assert_eq!(&o.database, database);
    if b.minor >= 10 {
        prop_assert_eq!(&o.server_version, server_version);
        prop_assert_eq!(&o.pg_dump_version, pg_dump_version);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The runs.
// ---------------------------------------------------------------------------------------

fn fail<T: std::fmt::Debug>(what: &str, e: TestError<T>) -> ! {
    match e {
        TestError::Fail(why, input) => panic!("{what}: {why}\nminimal input: {input:?}"),
        TestError::Abort(why) => panic!("{what}: aborted: {why}"),
    }
}

#[test]
fn any_bytes_are_read_without_panic_or_hang_and_accepted_headers_are_consistent() {
    let cases = total_cases() / 10 * 8;
    let dog = Watchdog::start();
    let started = Instant::now();
    let mut runner = TestRunner::new(config(cases));
    let result = runner.run(&any_input(), |bytes| {
        dog.case(&bytes, || check_bytes(&bytes))
    });
    dog.report("bytes", cases, started);
    if let Err(e) = result {
        let shown = match &e {
            TestError::Fail(why, input) => TestError::Fail(why.clone(), hex::encode(input)),
            TestError::Abort(why) => TestError::Abort(why.clone()),
        };
        fail("random and mutated archives", shown);
    }
}

#[test]
fn headers_built_from_fields_read_back_as_those_fields() {
    let cases = total_cases() / 10 * 2;
    let dog = Watchdog::start();
    let started = Instant::now();
    let mut runner = TestRunner::new(config(cases));
    let result = runner.run(&built(), |b| {
        let bytes = b.encode();
        dog.case(&bytes, || check_built(&b, &bytes))
    });
    dog.report("built headers", cases, started);
    if let Err(e) = result {
        fail("headers built from fields", e);
    }
}

#[test]
fn the_fixtures_are_real_archives_the_parser_reads() {
    for (i, f) in FIXTURES.iter().enumerate() {
        let h = sniff(f).unwrap_or_else(|e| panic!("fixture {i}: {e}"));
        let o = archive::parse_origin(f, &h).expect("origin");
        assert_eq!(o.database.as_deref(), Some("shop"), "fixture {i}");
        assert!(o.created_at.is_some(), "fixture {i}");
        assert!(o.pg_dump_version.is_some(), "fixture {i}");
    }
}
