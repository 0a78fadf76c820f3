//! The rows an archive holds, per table: the proof a restore is compared against.
//!
//! `pg_restore --data-only --file=-` writes the archive's data as SQL: one
//! `COPY schema.table (…) FROM stdin;` block per table, ended by `\.`. In text COPY data
//! a row is exactly one line (newlines inside values are written as `\n`), so counting a
//! block's lines counts its rows — a fast newline count of the decoded stream.

use super::child::{Child, ChildError};
use std::collections::BTreeMap;
use std::path::Path;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
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
pub async fn count_copy_blocks(input: impl AsyncRead + Unpin) -> std::io::Result<RowCounts> {
    let mut reader = BufReader::with_capacity(1 << 16, input);
    let mut counts = RowCounts::new();
    let mut line = Vec::with_capacity(256);
    let mut current: Option<(TableName, i64)> = None;
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).await? == 0 {
            break;
        }
        let text = line.strip_suffix(b"\n").unwrap_or(&line);
        match &mut current {
            Some((_, rows)) if text != b"\\." => *rows += 1,
            Some(_) => {
                if let Some((table, rows)) = current.take() {
                    *counts.entry(table).or_insert(0) += rows;
                }
            }
            None => {
                if let Some(table) = std::str::from_utf8(text).ok().and_then(copy_target) {
                    current = Some((table, 0));
                }
            }
        }
    }
    Ok(counts)
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
    }
}
