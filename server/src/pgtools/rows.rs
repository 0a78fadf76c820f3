//! The rows an archive holds, per table: the proof a restore is compared against.
//!
//! `pg_restore --data-only --file=-` writes the archive's data as SQL: one
//! `COPY schema.table (…) FROM stdin;` block per table, ended by `\.`. In text COPY data
//! a row is exactly one line (newlines inside values are written as `\n`), so counting a
//! block's lines counts its rows — a fast newline count of the decoded stream.

use super::child::{Child, ChildError};
use std::collections::BTreeMap;
use std::path::Path;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::watch;

/// A table as the archive's `COPY` names it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct TableName {
    pub schema: String,
    pub name: String,
}

impl TableName {
    /// `schema.table`, as people read it.
    pub fn display(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }

    /// The name quoted for SQL, whatever characters it holds.
    pub fn quoted(&self) -> String {
        format!("{}.{}", quote_ident(&self.schema), quote_ident(&self.name))
    }
}

/// An identifier in double quotes, inner quotes doubled.
pub fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// Rows per table, in name order.
pub type RowCounts = BTreeMap<TableName, i64>;

/// The counts as the journal and the sidecar keep them: `[{"schema", "table", "rows"}]`.
pub fn to_json(counts: &RowCounts) -> serde_json::Value {
    counts
        .iter()
        .map(|(t, rows)| serde_json::json!({ "schema": t.schema, "table": t.name, "rows": rows }))
        .collect()
}

/// [`to_json`] read back; `None` when it is not that.
pub fn from_json(text: &str) -> Option<RowCounts> {
    #[derive(serde::Deserialize)]
    struct Entry {
        schema: String,
        table: String,
        rows: i64,
    }
    let entries: Vec<Entry> = serde_json::from_str(text).ok()?;
    Some(
        entries
            .into_iter()
            .map(|e| {
                (
                    TableName {
                        schema: e.schema,
                        name: e.table,
                    },
                    e.rows,
                )
            })
            .collect(),
    )
}

/// Decodes the whole archive and counts each table's rows. Fails when pg_restore cannot
/// read it (the same decode as the upload's full-read validation).
pub async fn count_rows(
    pg_restore: &Path,
    archive: &Path,
    cancel: watch::Receiver<bool>,
) -> Result<RowCounts, String> {
    let mut running = Child::new(pg_restore, "pg_restore")
        .arg("--data-only")
        .arg("--file=-")
        .arg(archive)
        .stdout_piped()
        .spawn()
        .map_err(|e| e.to_string())?
        .cancelled_by(cancel);
    let stdout = running
        .take_stdout()
        .ok_or_else(|| "pg_restore's output is not readable".to_string())?;
    // Read while the supervisor drains stderr, so neither pipe fills up.
    let counting = tokio::spawn(count_copy_blocks(stdout));
    let finished = running.wait().await.map_err(|e| match e {
        ChildError::Cancelled { .. } => "cancelled while counting the archive's rows".into(),
        other => other.to_string(),
    })?;
    let counts = counting
        .await
        .map_err(|e| format!("counting the archive's rows stopped: {e}"))?
        .map_err(|e| format!("cannot read pg_restore's output: {e}"))?;
    finished.check()?;
    Ok(counts)
}

/// Counts the lines of each `COPY … FROM stdin;` block of a SQL script.
pub async fn count_copy_blocks(mut input: impl AsyncRead + Unpin) -> std::io::Result<RowCounts> {
    let mut counter = CopyCounter::default();
    let mut buf = vec![0u8; 1 << 18];
    loop {
        let n = input.read(&mut buf).await?;
        if n == 0 {
            return Ok(counter.finish());
        }
        counter.feed(&buf[..n]);
    }
}

/// [`count_copy_blocks`] of a blocking reader (a pipe read on a thread of its own).
pub fn count_copy_blocks_from(mut input: impl std::io::Read) -> std::io::Result<RowCounts> {
    let mut counter = CopyCounter::default();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = match input.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            return Ok(counter.finish());
        }
        counter.feed(&buf[..n]);
    }
}

/// The longest line start kept outside a `COPY` block: enough for any `COPY` line of
/// names PostgreSQL accepts (63 bytes each, quoted, with a column list).
const HEAD_OUTSIDE: usize = 64 * 1024;
/// Inside a block only the end marker `\.` matters.
const HEAD_INSIDE: usize = 3;

/// Counts each `COPY … FROM stdin;` block's rows in a SQL script fed in pieces of any
/// size. Inside a block, where nearly all the bytes are, whole lines are counted in bulk
/// (a vectorized newline count up to the end marker, found with one substring search);
/// elsewhere, and for a line cut by the end of a piece, line by line, keeping only the
/// start of a line (a few bytes inside a block), so it keeps up with `pg_restore`'s output.
pub struct CopyCounter {
    counts: RowCounts,
    current: Option<(TableName, i64)>,
    /// The start of the line being read.
    head: Vec<u8>,
    /// Whether the line being read is longer than `head`.
    cut: bool,
    /// The end marker at a line start, after the newline that ends the line before it.
    marker: memchr::memmem::Finder<'static>,
}

impl Default for CopyCounter {
    fn default() -> Self {
        CopyCounter {
            counts: RowCounts::new(),
            current: None,
            head: Vec::new(),
            cut: false,
            marker: memchr::memmem::Finder::new(b"\n\\.\n"),
        }
    }
}

/// The newlines in `data`, counted in blocks small enough for byte-wide counters, which
/// the compiler turns into vector compares.
pub fn newlines(data: &[u8]) -> usize {
    data.chunks(255 * 32)
        .map(|block| {
            block
                .chunks(255)
                .map(|c| c.iter().fold(0u8, |n, &b| n + u8::from(b == b'\n')) as usize)
                .sum::<usize>()
        })
        .sum()
}

impl CopyCounter {
    pub fn feed(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            if self.current.is_some() && self.head.is_empty() && !self.cut {
                data = self.whole_lines(data);
                continue;
            }
            match memchr::memchr(b'\n', data) {
                Some(i) => {
                    self.take(&data[..i]);
                    self.end_of_line();
                    data = &data[i + 1..];
                }
                None => {
                    self.take(data);
                    return;
                }
            }
        }
    }

    /// Inside a block, at a line start: counts the rows up to the end marker (ending the
    /// block) or up to the last newline of `data`; returns what is left (a line's start
    /// without its newline, or what follows the block).
    fn whole_lines<'d>(&mut self, data: &'d [u8]) -> &'d [u8] {
        let end = if data.starts_with(b"\\.\n") {
            Some(0)
        } else {
            self.marker.find(data).map(|i| i + 1)
        };
        let upto = match end {
            Some(m) => m,
            None => match memchr::memrchr(b'\n', data) {
                Some(i) => i + 1,
                None => {
                    self.take(data);
                    return &[];
                }
            },
        };
        if let Some((_, rows)) = &mut self.current {
            *rows += newlines(&data[..upto]) as i64;
        }
        if end.is_none() {
            return &data[upto..];
        }
        if let Some((table, rows)) = self.current.take() {
            *self.counts.entry(table).or_insert(0) += rows;
        }
        &data[upto + 3..]
    }

    fn take(&mut self, part: &[u8]) {
        let keep = if self.current.is_some() {
            HEAD_INSIDE
        } else {
            HEAD_OUTSIDE
        };
        let room = keep.saturating_sub(self.head.len());
        if part.len() > room {
            self.cut = true;
        }
        self.head.extend_from_slice(&part[..part.len().min(room)]);
    }

    fn end_of_line(&mut self) {
        let whole = !self.cut;
        match &mut self.current {
            Some(_) if whole && self.head == b"\\." => {
                if let Some((table, rows)) = self.current.take() {
                    *self.counts.entry(table).or_insert(0) += rows;
                }
            }
            Some((_, rows)) => *rows += 1,
            None if whole => {
                if let Some(table) = std::str::from_utf8(&self.head).ok().and_then(copy_target) {
                    self.current = Some((table, 0));
                }
            }
            None => {}
        }
        self.head.clear();
        self.cut = false;
    }

    /// The rows per table (a block cut off by the end of the script is not counted).
    pub fn finish(self) -> RowCounts {
        self.counts
    }
}

/// The table of a `COPY schema.table (a, b) FROM stdin;` line.
pub fn copy_target(line: &str) -> Option<TableName> {
    let rest = line.strip_prefix("COPY ")?;
    if !line.ends_with(" FROM stdin;") {
        return None;
    }
    let (schema, rest) = identifier(rest)?;
    let rest = rest.strip_prefix('.')?;
    let (name, rest) = identifier(rest)?;
    rest.starts_with(' ').then_some(TableName { schema, name })
}

/// One SQL identifier at the start of `s` (quoted or plain) and what follows it.
fn identifier(s: &str) -> Option<(String, &str)> {
    if let Some(mut rest) = s.strip_prefix('"') {
        let mut out = String::new();
        loop {
            let end = rest.find('"')?;
            out.push_str(&rest[..end]);
            rest = &rest[end + 1..];
            match rest.strip_prefix('"') {
                Some(after) => {
                    out.push('"');
                    rest = after;
                }
                None => return Some((out, rest)),
            }
        }
    }
    let end = s
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
        .unwrap_or(s.len());
    (end > 0).then(|| (s[..end].to_string(), &s[end..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(schema: &str, name: &str) -> TableName {
        TableName {
            schema: schema.into(),
            name: name.into(),
        }
    }

    #[test]
    fn copy_lines_name_their_table() {
        assert_eq!(
            copy_target("COPY public.orders (id, total) FROM stdin;"),
            Some(t("public", "orders"))
        );
        assert_eq!(
            copy_target("COPY \"My Schema\".\"odd \"\"name\"\" (x)\" (a) FROM stdin;"),
            Some(t("My Schema", "odd \"name\" (x)"))
        );
        assert_eq!(
            copy_target("COPY public.empty  FROM stdin;"),
            Some(t("public", "empty"))
        );
        assert_eq!(copy_target("SELECT pg_catalog.setval('s', 1, true);"), None);
        assert_eq!(t("a", "b\"c").quoted(), "\"a\".\"b\"\"c\"");
    }

    #[tokio::test]
    async fn each_block_is_counted_by_its_lines() {
        let script = b"SET x = 1;\nCOPY public.a (x) FROM stdin;\n1\n2\n\\N\n\\.\n\nCOPY public.empty (x) FROM stdin;\n\\.\nCOPY public.b (t) FROM stdin;\nline\\nwith escaped newline\n\\.\nSELECT 1;\n";
        let counts = count_copy_blocks(&script[..]).await.expect("count");
        let got: Vec<(String, i64)> = counts.iter().map(|(k, v)| (k.display(), *v)).collect();
        assert_eq!(
            got,
            [
                ("public.a".to_string(), 3),
                ("public.b".to_string(), 1),
                ("public.empty".to_string(), 0)
            ]
        );
        // Fed in pieces of every size, split anywhere: the same counts.
        for size in 1..script.len() {
            let mut c = CopyCounter::default();
            for piece in script.chunks(size) {
                c.feed(piece);
            }
            assert_eq!(c.finish(), counts, "pieces of {size} bytes");
        }
    }

    #[test]
    fn counts_survive_their_json() {
        let mut c = RowCounts::new();
        c.insert(t("public", "a.b \"c\""), 12);
        c.insert(t("x", "y"), 0);
        let text = to_json(&c).to_string();
        assert_eq!(from_json(&text), Some(c));
        assert_eq!(from_json("{}"), None);
    }

    /// The rows per block, one line at a time: what the bulk count must agree with.
    fn counted_line_by_line(script: &[u8]) -> RowCounts {
        let mut counts = RowCounts::new();
        let mut current: Option<(TableName, i64)> = None;
        let mut lines = script.split(|&b| b == b'\n').peekable();
        while let Some(line) = lines.next() {
            if lines.peek().is_none() {
                break; // what follows the last newline is no whole line
            }
            match &mut current {
                Some(_) if line == b"\\." => {
                    let (table, rows) = current.take().expect("a block");
                    *counts.entry(table).or_insert(0) += rows;
                }
                Some((_, rows)) => *rows += 1,
                None => {
                    current = std::str::from_utf8(line)
                        .ok()
                        .and_then(copy_target)
                        .map(|t| (t, 0));
                }
            }
        }
        counts
    }

    #[test]
    fn bulk_counts_equal_line_by_line_counts_whatever_the_pieces() {
        // Rows that look like the end marker only at their start or only at their end,
        // empty rows, long rows, a block ending right after its COPY line, a script
        // ending inside a block.
        let mut script = Vec::new();
        for (i, table) in ["a", "b", "c"].iter().enumerate() {
            script.extend_from_slice(
                format!("SET x = {i};\nCOPY public.{table} (v) FROM stdin;\n").as_bytes(),
            );
            for r in 0..200 {
                let row: Vec<u8> = match r % 9 {
                    0 => b"\\.x".to_vec(),
                    1 => b"\\\\.".to_vec(),
                    2 => b"a\\.".to_vec(),
                    3 => Vec::new(),
                    4 => vec![b'y'; 3000 + r],
                    5 => b"\\".to_vec(),
                    6 => b".".to_vec(),
                    7 => b"\\x00ff\t\\N\t{\"k\": \"v\"}".to_vec(),
                    _ => format!("{r}\t2024-01-01").into_bytes(),
                };
                script.extend_from_slice(&row);
                script.push(b'\n');
            }
            script.extend_from_slice(b"\\.\n");
        }
        script.extend_from_slice(
            b"COPY public.empty (v) FROM stdin;\n\\.\nCOPY public.cut (v) FROM stdin;\n1\n2\n\\.",
        );
        let expected = counted_line_by_line(&script);
        let got: Vec<i64> = expected.values().copied().collect();
        assert_eq!(got, [200, 200, 200, 0]);
        for size in (1..40).chain([255, 4096, 65536, script.len()]) {
            let mut c = CopyCounter::default();
            for piece in script.chunks(size) {
                c.feed(piece);
            }
            assert_eq!(c.finish(), expected, "pieces of {size} bytes");
        }
        // Pieces of changing sizes, cut anywhere (a small linear congruential sequence).
        let mut seed = 7u64;
        for _ in 0..50 {
            let mut c = CopyCounter::default();
            let mut rest = &script[..];
            while !rest.is_empty() {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let n = ((seed >> 33) as usize % 700 + 1).min(rest.len());
                c.feed(&rest[..n]);
                rest = &rest[n..];
            }
            assert_eq!(c.finish(), expected);
        }
    }

    #[test]
    fn newlines_are_counted_in_any_length() {
        let data: Vec<u8> = (0..100_000u32)
            .map(|i| if i % 7 == 0 { b'\n' } else { b'x' })
            .collect();
        for len in [0, 1, 254, 255, 256, 8159, 8160, 8161, 100_000] {
            let expected = data[..len].iter().filter(|&&b| b == b'\n').count();
            assert_eq!(newlines(&data[..len]), expected, "{len} bytes");
        }
    }

    #[test]
    fn a_row_that_looks_like_the_end_marker_only_at_its_start_is_a_row() {
        let mut c = CopyCounter::default();
        c.feed(b"COPY public.t (x) FROM stdin;\n\\.x\n\\\\.\n");
        c.feed(&vec![b'y'; 100_000]);
        c.feed(b"\n\\.\n");
        let got: Vec<(String, i64)> = c.finish().iter().map(|(k, v)| (k.display(), *v)).collect();
        assert_eq!(got, [("public.t".to_string(), 3)]);
    }
}
