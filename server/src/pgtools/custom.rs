//! A custom-format archive (`pg_dump -Fc`) decoded in-process, front to back, as pg_dump
//! writes it: the header, every table-of-contents entry, then every data block inflated
//! to its end (each block is a zlib stream whose checksum is checked) and each table's
//! `COPY` rows counted on the inflated bytes. While a backup is written this replaces
//! `pg_restore --file=-` for the compressions it reads (gzip and none): the same proof
//! for a quarter of the CPU, since no SQL script goes through a pipe to be read again.
//! Other compressions (lz4, zstd), uploads and `lifeboat verify` are decoded by
//! pg_restore itself, and every backup's table of contents is still read by
//! `pg_restore --list` once pg_dump has rewritten it.
//!
//! The layout, as pg_dump writes it: ints are a sign byte then `int size` bytes, least
//! significant first; strings an int length (-1: no string) then the bytes. The header
//! and the table of contents come first; then one data block per entry that has data: a
//! type byte (1 table data, 3 large objects), the entry's dump id, and the data as chunks
//! (an int length and that many bytes; a length of 0 ends the data). Large objects put
//! each object's oid before its chunks, and an oid of 0 after the last one. The file ends
//! after the last block (pg_dump then rewrites the table of contents in place, same size,
//! with the blocks' offsets).

use super::rows::{CopyCounter, RowCounts};
use std::collections::HashMap;
use std::io::{BufRead, ErrorKind, Read};

/// The archive versions this reads: 1.12 to 1.16 (pg_dump 17 and 18).
const OLDEST: (u8, u8) = (1, 12);
const NEWEST: (u8, u8) = (1, 16);

/// The newest pg_dump whose archives this reads; a newer one's (whose format may have
/// changed) are decoded by pg_restore.
pub const NEWEST_CLIENT: u32 = 18;

/// Whether a backup made by pg_dump `major` with `method` is decoded in-process.
pub fn decodes(major: u32, method: super::compression::Method) -> bool {
    major <= NEWEST_CLIENT && method.decoded_in_process()
}

/// Block types.
const BLOCK_DATA: u8 = 1;
const BLOCK_LARGE_OBJECTS: u8 = 3;

/// The table-of-contents data state of an entry without data.
const NO_DATA: u8 = 3;

/// The longest string read from a table of contents (a definition; a huge function body
/// fits): beyond this the archive is taken as damaged, not as a reason to run out of memory.
const LONGEST_STRING: i64 = 1 << 30;

/// What one table-of-contents entry says about its data.
struct Entry {
    /// `TABLE DATA`, `BLOBS`, …
    desc: String,
    /// `namespace.tag`, to name the entry in messages.
    name: String,
    /// `COPY schema.table (…) FROM stdin;`: the table's data is COPY text.
    copy: Option<String>,
    /// pg_dump writes a data block for it.
    has_data: bool,
    /// Its block was read.
    seen: bool,
}

/// Decodes a whole archive from `input` (see the module comment) and returns each
/// table's rows. Fails, saying where, on anything pg_dump does not write: a damaged or
/// truncated stream, a compressed stream that does not end or has bytes after its end, a
/// block for no entry or twice, an entry whose block never comes, bytes after the end.
pub fn decode(input: impl BufRead) -> Result<RowCounts, String> {
    let mut s = Stream {
        input,
        pos: 0,
        version: (0, 0),
        int_size: 4,
        offset_size: 8,
    };
    let compressed = s.header()?;
    let mut entries = s.table_of_contents()?;
    let mut rows = CopyCounter::default();
    let mut inflater = Inflater::new(compressed);
    while !s.at_end()? {
        let kind = s.byte("a data block's type")?;
        let id = s.int("a data block's entry")?;
        let entry = match entries.get_mut(&id) {
            Some(e) if e.has_data && !e.seen => e,
            Some(e) if e.seen => {
                return Err(s.damaged(&format!("a second data block for {}", e.name)))
            }
            _ => return Err(s.damaged(&format!("a data block for entry {id}, which has no data"))),
        };
        entry.seen = true;
        match kind {
            BLOCK_DATA => {
                let counting = match &entry.copy {
                    Some(copy) if entry.desc == "TABLE DATA" => {
                        rows.feed(copy.as_bytes());
                        if !copy.ends_with('\n') {
                            rows.feed(b"\n");
                        }
                        Some(&mut rows)
                    }
                    _ => None,
                };
                let what = format!("the data of {}", entry.name);
                let in_copy = counting.is_some();
                inflater.data(&mut s, counting, &what)?;
                if in_copy {
                    // pg_dump ends COPY data with its end marker; should one be missing,
                    // the block ends here all the same (outside a block this line is
                    // nothing), so the next table's rows are not added to this one.
                    rows.feed(b"\\.\n");
                }
            }
            BLOCK_LARGE_OBJECTS => loop {
                let oid = s.int("a large object's oid")?;
                if oid == 0 {
                    break;
                }
                let what = format!("large object {oid}");
                inflater.data(&mut s, None, &what)?;
            },
            other => return Err(s.damaged(&format!("a data block of unknown type {other}"))),
        }
    }
    if let Some(missing) = entries.values().find(|e| e.has_data && !e.seen) {
        return Err(format!(
            "the archive ends before the data of {} ({} bytes read)",
            missing.name, s.pos
        ));
    }
    Ok(rows.finish())
}

/// The archive's bytes, read in order, with what reading them needs.
struct Stream<R> {
    input: R,
    /// Bytes read so far.
    pos: u64,
    /// The archive's version (major, minor).
    version: (u8, u8),
    int_size: usize,
    offset_size: usize,
}

impl<R: BufRead> Stream<R> {
    fn damaged(&self, what: &str) -> String {
        damaged_at(self.pos, what)
    }

    fn exact(&mut self, buf: &mut [u8], what: &str) -> Result<(), String> {
        self.input.read_exact(buf).map_err(|e| match e.kind() {
            ErrorKind::UnexpectedEof => {
                format!("the archive ends inside {what} (after {} bytes)", self.pos)
            }
            _ => format!("reading the archive failed at byte {}: {e}", self.pos),
        })?;
        self.pos += buf.len() as u64;
        Ok(())
    }

    fn byte(&mut self, what: &str) -> Result<u8, String> {
        let mut b = [0u8];
        self.exact(&mut b, what)?;
        Ok(b[0])
    }

    fn int(&mut self, what: &str) -> Result<i64, String> {
        let mut b = [0u8; 9];
        let b = &mut b[..1 + self.int_size];
        self.exact(b, what)?;
        let magnitude = b[1..]
            .iter()
            .rev()
            .fold(0u64, |v, &byte| (v << 8) | u64::from(byte));
        let v = i64::try_from(magnitude).map_err(|_| self.damaged(&format!("{what} too large")))?;
        Ok(if b[0] != 0 { -v } else { v })
    }

    /// A string; `None` for pg_dump's "no string" (length -1).
    fn string(&mut self, what: &str) -> Result<Option<String>, String> {
        let len = self.int(what)?;
        if len < 0 {
            return Ok(None);
        }
        if len > LONGEST_STRING {
            return Err(self.damaged(&format!("{what} of {len} bytes")));
        }
        // Read as it comes: a damaged length allocates no more than the bytes there are.
        let mut bytes = Vec::new();
        let got = (&mut self.input)
            .take(len as u64)
            .read_to_end(&mut bytes)
            .map_err(|e| format!("reading the archive failed at byte {}: {e}", self.pos))?;
        self.pos += got as u64;
        if (got as i64) < len {
            return Err(format!(
                "the archive ends inside {what} (after {} bytes)",
                self.pos
            ));
        }
        Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
    }

    /// Whether the input has ended (only between blocks is that the archive's end).
    fn at_end(&mut self) -> Result<bool, String> {
        loop {
            match self.input.fill_buf() {
                Ok(buf) => return Ok(buf.is_empty()),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(format!(
                        "reading the archive failed at byte {}: {e}",
                        self.pos
                    ))
                }
            }
        }
    }

    /// The header, up to the table of contents; returns whether the data is compressed
    /// (gzip; lz4 and zstd are refused: pg_restore decodes those).
    fn header(&mut self) -> Result<bool, String> {
        let mut fixed = [0u8; 11];
        self.exact(&mut fixed, "the header")?;
        if &fixed[..5] != b"PGDMP" {
            return Err(
                "not a PostgreSQL custom-format archive (it does not start with PGDMP)".into(),
            );
        }
        let version = (fixed[5], fixed[6]);
        if version < OLDEST || version > NEWEST {
            return Err(format!(
                "archive version {}.{} is not one the in-process decode reads ({}.{} to {}.{})",
                version.0, version.1, OLDEST.0, OLDEST.1, NEWEST.0, NEWEST.1
            ));
        }
        self.version = version;
        self.int_size = usize::from(fixed[8]);
        if !(1..=8).contains(&self.int_size) || !(1..=8).contains(&fixed[9]) {
            return Err(self.damaged("an integer or offset size out of range"));
        }
        if fixed[10] != 1 {
            return Err(format!(
                "not a custom-format archive (format {})",
                fixed[10]
            ));
        }
        self.offset_size = usize::from(fixed[9]);
        let compressed = if version >= (1, 15) {
            match self.byte("the compression")? {
                0 => false,
                1 => true,
                2 => {
                    return Err(
                        "the archive is compressed with lz4, which pg_restore decodes".into(),
                    )
                }
                3 => {
                    return Err(
                        "the archive is compressed with zstd, which pg_restore decodes".into(),
                    )
                }
                n => return Err(self.damaged(&format!("unknown compression {n}"))),
            }
        } else {
            self.int("the compression level")? != 0
        };
        for _ in 0..7 {
            self.int("the creation time")?;
        }
        for what in [
            "the database name",
            "the server version",
            "the pg_dump version",
        ] {
            self.string(what)?;
        }
        Ok(compressed)
    }

    /// The table of contents: each entry's name, whether it has data, its COPY statement.
    fn table_of_contents(&mut self) -> Result<HashMap<i64, Entry>, String> {
        let count = self.int("the number of entries")?;
        if count < 0 {
            return Err(self.damaged(&format!("{count} entries")));
        }
        let v = self.version;
        let mut entries = HashMap::new();
        for _ in 0..count {
            let id = self.int("an entry's id")?;
            if id <= 0 || entries.contains_key(&id) {
                return Err(self.damaged(&format!("entry id {id}")));
            }
            let had_dumper = self.int("an entry's data flag")? != 0;
            self.string("an entry's table oid")?;
            self.string("an entry's oid")?;
            let tag = self.string("an entry's tag")?.unwrap_or_default();
            let desc = self.string("an entry's type")?.unwrap_or_default();
            if v >= (1, 11) {
                self.int("an entry's section")?;
            }
            self.string("an entry's definition")?;
            self.string("an entry's drop statement")?;
            let copy = self.string("an entry's COPY statement")?;
            let namespace = self.string("an entry's schema")?;
            self.string("an entry's tablespace")?;
            if v >= (1, 14) {
                self.string("an entry's table access method")?;
            }
            if v >= (1, 16) {
                self.int("an entry's relation kind")?;
            }
            self.string("an entry's owner")?;
            self.string("an entry's WITH OIDS flag")?;
            while self.string("an entry's dependencies")?.is_some() {}
            let state = self.byte("an entry's data state")?;
            let mut offset = [0u8; 8];
            self.exact(&mut offset[..self.offset_size], "an entry's data offset")?;
            let name = match namespace.filter(|n| !n.is_empty()) {
                Some(n) => format!("{desc} {n}.{tag}"),
                None => format!("{desc} {tag}"),
            };
            let entry = Entry {
                desc,
                name,
                copy: copy.filter(|c| !c.is_empty()),
                has_data: had_dumper && state != NO_DATA,
                seen: false,
            };
            entries.insert(id, entry);
        }
        Ok(entries)
    }
}

fn damaged_at(pos: u64, what: &str) -> String {
    format!("the archive is damaged: {what} at byte {pos}")
}

/// Reads one entry's data (its chunks, to the 0 that ends them) and inflates it when the
/// archive is compressed, feeding the bytes to `rows` when they are a table's COPY data.
struct Inflater {
    zlib: Option<flate2::Decompress>,
    out: Vec<u8>,
}

impl Inflater {
    fn new(compressed: bool) -> Inflater {
        Inflater {
            zlib: compressed.then(|| flate2::Decompress::new(true)),
            out: vec![0; 1 << 18],
        }
    }

    fn data<R: BufRead>(
        &mut self,
        s: &mut Stream<R>,
        mut rows: Option<&mut CopyCounter>,
        what: &str,
    ) -> Result<(), String> {
        use flate2::{FlushDecompress, Status};
        if let Some(z) = &mut self.zlib {
            z.reset(true);
        }
        // The compressed stream has ended (its checksum checked).
        let mut ended = false;
        loop {
            let len = s.int("a chunk's length")?;
            if len == 0 {
                break;
            }
            if len < 0 {
                return Err(s.damaged(&format!("a chunk of {len} bytes in {what}")));
            }
            let mut left = len as u64;
            while left > 0 {
                let pos = s.pos;
                let buf = match s.input.fill_buf() {
                    Ok(buf) => buf,
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    Err(e) => return Err(format!("reading the archive failed at byte {pos}: {e}")),
                };
                if buf.is_empty() {
                    return Err(format!(
                        "the archive ends inside {what} (after {pos} bytes)"
                    ));
                }
                let take = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                let mut input = &buf[..take];
                match &mut self.zlib {
                    None => {
                        if let Some(r) = rows.as_deref_mut() {
                            r.feed(input);
                        }
                    }
                    Some(z) => {
                        while !input.is_empty() {
                            if ended {
                                return Err(damaged_at(
                                    pos,
                                    &format!(
                                        "bytes after the end of the compressed data of {what}"
                                    ),
                                ));
                            }
                            let (in_before, out_before) = (z.total_in(), z.total_out());
                            let status = z
                                .decompress(input, &mut self.out, FlushDecompress::None)
                                .map_err(|e| {
                                    damaged_at(pos, &format!("{what} cannot be decompressed ({e})"))
                                })?;
                            let used = (z.total_in() - in_before) as usize;
                            let made = (z.total_out() - out_before) as usize;
                            if let Some(r) = rows.as_deref_mut() {
                                r.feed(&self.out[..made]);
                            }
                            input = &input[used..];
                            ended = status == Status::StreamEnd;
                            if used == 0 && made == 0 && !ended {
                                return Err(damaged_at(
                                    pos,
                                    &format!("{what} cannot be decompressed"),
                                ));
                            }
                        }
                    }
                }
                s.input.consume(take);
                s.pos += take as u64;
                left -= take as u64;
            }
        }
        if let Some(z) = &mut self.zlib {
            // What the last chunk holds may still be inside the inflater.
            while !ended {
                let out_before = z.total_out();
                let status = z
                    .decompress(&[], &mut self.out, FlushDecompress::Finish)
                    .map_err(|e| s.damaged(&format!("{what} cannot be decompressed ({e})")))?;
                let made = (z.total_out() - out_before) as usize;
                if let Some(r) = rows.as_deref_mut() {
                    r.feed(&self.out[..made]);
                }
                ended = status == Status::StreamEnd;
                if made == 0 && !ended {
                    return Err(s.damaged(&format!("the compressed data of {what} is cut short")));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pgtools::rows::TableName;

    /// Real archives of a small `shop` database: 50 customers, no other table data.
    const FIXTURES: [(&str, &[u8]); 3] = [
        (
            "pg_dump 15, gzip",
            include_bytes!("../../tests/fixtures/shop-pg15.dump"),
        ),
        (
            "pg_dump 15, none",
            include_bytes!("../../tests/fixtures/shop-pg15-z0.dump"),
        ),
        (
            "pg_dump 18, gzip",
            include_bytes!("../../tests/fixtures/shop-pg18.dump"),
        ),
    ];

    fn customers(rows: i64) -> RowCounts {
        RowCounts::from([(
            TableName {
                schema: "public".into(),
                name: "customers".into(),
            },
            rows,
        )])
    }

    /// Where the data blocks start: after the header and the table of contents.
    fn data_start(archive: &[u8]) -> usize {
        let mut s = Stream {
            input: archive,
            pos: 0,
            version: (0, 0),
            int_size: 4,
            offset_size: 8,
        };
        s.header().expect("header");
        s.table_of_contents().expect("toc");
        s.pos as usize
    }

    #[test]
    fn real_archives_decode_with_their_rows_counted() {
        for (name, archive) in FIXTURES {
            assert_eq!(decode(archive), Ok(customers(50)), "{name}");
        }
    }

    #[test]
    fn an_archive_cut_anywhere_is_refused() {
        for (name, archive) in FIXTURES {
            for end in 0..archive.len() {
                assert!(
                    decode(&archive[..end]).is_err(),
                    "{name} cut at {end} of {} decoded",
                    archive.len()
                );
            }
        }
    }

    #[test]
    fn damaged_data_is_refused_and_says_where() {
        for (name, archive) in FIXTURES {
            let start = data_start(archive);
            // Inside the data of the compressed archives, a changed byte breaks the
            // stream or its checksum; in the uncompressed one it changes nothing that
            // can be checked, so only the framing is damaged there.
            let at = if name.ends_with("none") {
                start + 1
            } else {
                archive.len() - 10
            };
            let mut bad = archive.to_vec();
            bad[at] ^= 0x55;
            let e = decode(&bad[..]).expect_err(name);
            assert!(e.contains("at byte") || e.contains("after"), "{name}: {e}");
        }
    }

    #[test]
    fn bytes_after_the_last_block_are_refused() {
        for (name, archive) in FIXTURES {
            let mut longer = archive.to_vec();
            longer.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
            assert!(decode(&longer[..]).is_err(), "{name}");
        }
    }

    #[test]
    fn gzip_and_uncompressed_archives_of_known_clients_are_decoded_here() {
        use crate::pgtools::compression::Method;
        assert!(decodes(15, Method::Gzip) && decodes(18, Method::Gzip));
        assert!(decodes(18, Method::None));
        assert!(!decodes(18, Method::Zstd) && !decodes(18, Method::Lz4));
        assert!(!decodes(NEWEST_CLIENT + 1, Method::Gzip));
    }

    #[test]
    fn lz4_and_zstd_archives_are_left_to_pg_restore() {
        let mut archive = FIXTURES[2].1.to_vec();
        archive[11] = 3;
        let e = decode(&archive[..]).expect_err("zstd");
        assert!(e.contains("zstd"), "{e}");
    }

    #[test]
    fn rows_are_counted_across_chunks_and_without_an_end_marker() {
        // An uncompressed archive built by hand: version 1.16, one entry whose COPY data
        // comes in three chunks that cut lines, and no `\.` at its end.
        let mut a = b"PGDMP\x01\x10\x00\x04\x08\x01\x00".to_vec();
        let int = |a: &mut Vec<u8>, v: i32| {
            a.push(u8::from(v < 0));
            a.extend_from_slice(&v.unsigned_abs().to_le_bytes());
        };
        let string = |a: &mut Vec<u8>, s: Option<&str>| match s {
            None => int(a, -1),
            Some(s) => {
                int(a, s.len() as i32);
                a.extend_from_slice(s.as_bytes());
            }
        };
        for _ in 0..7 {
            int(&mut a, 0);
        }
        for s in ["db", "18.0", "18.6"] {
            string(&mut a, Some(s));
        }
        int(&mut a, 1);
        int(&mut a, 7);
        int(&mut a, 1);
        for s in [Some("0"), Some("0"), Some("my table"), Some("TABLE DATA")] {
            string(&mut a, s);
        }
        int(&mut a, 3);
        string(&mut a, Some(""));
        string(&mut a, Some(""));
        string(
            &mut a,
            Some("COPY \"my schema\".\"my table\" (a) FROM stdin;\n"),
        );
        string(&mut a, Some("my schema"));
        string(&mut a, Some(""));
        string(&mut a, Some("heap"));
        int(&mut a, i32::from(b'r'));
        string(&mut a, Some("owner"));
        string(&mut a, Some("false"));
        string(&mut a, None);
        a.push(1);
        a.extend_from_slice(&[0; 8]);
        let block = a.len();
        a.push(BLOCK_DATA);
        int(&mut a, 7);
        for chunk in ["1\tx\\ny\n2", "\tz\n", "3\tw\n"] {
            string(&mut a, Some(chunk));
        }
        int(&mut a, 0);
        let expected = RowCounts::from([(
            TableName {
                schema: "my schema".into(),
                name: "my table".into(),
            },
            3,
        )]);
        assert_eq!(decode(&a[..]), Ok(expected));
        // The same with the block for another entry: refused.
        let mut other = a.clone();
        other[block + 2] = 8;
        let e = decode(&other[..]).expect_err("no such entry");
        assert!(e.contains("entry 8"), "{e}");
    }
}
