//! What Lifeboat knows of `pg_dump`: the command of a custom-format dump, its progress
//! lines, the size of each table (to weigh progress), and the decode of the archive while
//! pg_dump is still writing it.

use super::child::{Child, ChildError, Running};
use super::rows::RowCounts;
use crate::target::{self, TargetUrl};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

/// How a dump waits: at most `lock_wait` for each table's lock (`--lock-wait-timeout`),
/// its server session named `application_name`.
pub struct Waiting<'a> {
    pub lock_wait: Duration,
    pub application_name: &'a str,
}

/// `pg_dump --format=custom --verbose` of `target` into `file`, started; `compress` is
/// its `--compress=…` argument ([`super::compression::Compression::argument`]). With
/// `--no-sync` (pg_dump 10 and newer; older ones never fsync): the caller fsyncs the file
/// itself, beside its read-back, instead of waiting for pg_dump's own fsync first.
pub fn start(
    pg_dump: &super::Tool,
    target: &TargetUrl,
    file: &Path,
    passfile: PathBuf,
    waiting: &Waiting<'_>,
    compress: &str,
) -> Result<Running, ChildError> {
    let mut child = Child::new(&pg_dump.path, "pg_dump")
        .arg("--format=custom")
        .arg(compress)
        .arg("--verbose");
    if pg_dump.major >= 10 {
        child = child.arg("--no-sync");
    }
    child
        .arg(format!("--file={}", file.display()))
        .arg(format!(
            "--lock-wait-timeout={}",
            waiting.lock_wait.as_millis().max(1)
        ))
        .connect(target, passfile)?
        .application_name(waiting.application_name)
        .spawn()
}

/// Whether pg_dump's error output says it gave up waiting for a table's lock
/// (`--lock-wait-timeout`: its `LOCK TABLE` was cancelled by the statement or lock
/// timeout it set for it).
pub fn lock_wait_timed_out(stderr: &str) -> bool {
    let s = stderr.to_ascii_lowercase();
    (s.contains("statement timeout") || s.contains("lock timeout")) && s.contains("lock table")
}

/// Whether pg_dump's error output says the disk it wrote the archive to is full
/// (`could not write to output file: No space left on device`, ENOSPC; EDQUOT alike).
pub fn out_of_space(stderr: &str) -> bool {
    let s = stderr.to_ascii_lowercase();
    s.contains("no space left on device") || s.contains("disk quota exceeded")
}

/// `pg_dump: dumping contents of table "public.orders"` → `public.orders`.
pub fn dumped_table(line: &str) -> Option<String> {
    let rest = line.split("dumping contents of table ").nth(1)?;
    Some(rest.trim().trim_matches('"').to_string())
}

/// Each table's share of the work: its size on disk (heap + TOAST), keyed like pg_dump
/// names them (`schema.table`). `pg_table_size` waits for a table someone holds locked
/// (`ACCESS EXCLUSIVE`): after a second the planner's page counts, which take no lock,
/// are used instead. `None` when `cancel` turned `true` (the query is cancelled too).
pub async fn table_weights(
    target: &TargetUrl,
    cancel: &mut tokio::sync::watch::Receiver<bool>,
) -> Result<Option<HashMap<String, i64>>, String> {
    const TABLES: &str = "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             LEFT JOIN pg_class t ON t.oid = c.reltoastrelid
             WHERE c.relkind IN ('r', 'm', 'p')
               AND n.nspname NOT IN ('pg_catalog', 'information_schema')
               AND n.nspname NOT LIKE 'pg_toast%'";
    let client = target::connect(target).await?;
    let exact = async {
        client.batch_execute("SET lock_timeout = '1s'").await?;
        client
            .query(
                &format!("SELECT n.nspname || '.' || c.relname, pg_table_size(c.oid) {TABLES}"),
                &[],
            )
            .await
    };
    let rows = match target::unless_cancelled(target, &client, cancel, exact).await {
        None => return Ok(None),
        Some(Ok(rows)) => rows,
        Some(Err(_)) => {
            let sql = format!(
                "SELECT n.nspname || '.' || c.relname,
                    (c.relpages::bigint + COALESCE(t.relpages, 0)::bigint)
                      * current_setting('block_size')::bigint {TABLES}"
            );
            let estimated = client.query(&sql, &[]);
            match target::unless_cancelled(target, &client, cancel, estimated).await {
                None => return Ok(None),
                Some(rows) => rows.map_err(|e| target::describe(&e))?,
            }
        }
    };
    Ok(Some(
        rows.iter()
            .map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1).max(1)))
            .collect(),
    ))
}

/// Reads `tmp` while pg_dump writes it (waiting at the end of the file until `written`
/// says pg_dump is done) and decodes every entry and data block: a corrupt or truncated
/// stream fails it, and each table's rows are counted. Returns the number of bytes
/// decoded and the rows. pg_dump writes the custom format sequentially and at the end
/// only rewrites the table of contents in place (same size), which the read-back checks.
///
/// `in_process` (gzip or no compression): the archive is decoded here
/// ([`super::custom::decode`]); otherwise every byte goes to `pg_restore --file=-`, whose
/// SQL script is read as it comes. Either way the decode takes only the CPU time that
/// pg_dump and the server's COPY leave (it catches up when the dump is done): its threads
/// and pg_restore run at the lowest priority. The file goes into pg_restore's pipe with
/// `splice` (page references, not copies), through 1 MiB pipes.
pub async fn decode_while_written(
    tmp: PathBuf,
    pg_restore: PathBuf,
    mut written: tokio::sync::watch::Receiver<bool>,
    in_process: bool,
) -> Result<(u64, RowCounts), String> {
    let file = loop {
        match std::fs::File::open(&tmp) {
            Ok(f) => break f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if *written.borrow() {
                    return Err("pg_dump wrote no file".into());
                }
                let _ = tokio::time::timeout(Duration::from_millis(50), written.changed()).await;
            }
            Err(e) => return Err(format!("cannot read the dump while it is written: {e}")),
        }
    };
    if in_process {
        let decoding = super::child::thread_beside("archive decode", true, move || {
            let mut growing = Growing {
                file,
                written,
                read: 0,
            };
            let rows =
                super::custom::decode(std::io::BufReader::with_capacity(1 << 20, &mut growing))?;
            Ok((growing.read, rows))
        })
        .map_err(|e| format!("cannot start the decode: {e}"))?;
        return decoding
            .await
            .map_err(|e| format!("the decode stopped: {e}"))?;
    }
    let (mut decoder, counting) =
        super::restore::counting_decoder(&pg_restore, Stdio::piped(), true)
            .map_err(|e| e.to_string())?;
    let Some(stdin) = decoder.take_stdin().and_then(|s| s.into_owned_fd().ok()) else {
        return Err("pg_restore's pipes are not available".into());
    };
    super::child::widen_pipe(&stdin);
    let feeding = super::child::thread_beside("pg_restore feed", true, move || {
        feed_while_written(&file, stdin, &written)
    })
    .map_err(|e| format!("cannot start feeding pg_restore: {e}"))?;
    let finished = decoder.wait().await;
    let total = feeding
        .await
        .map_err(|e| format!("feeding pg_restore stopped: {e}"))??;
    let counts = counting
        .await
        .map_err(|e| format!("counting the rows stopped: {e}"))?
        .map_err(|e| format!("cannot read pg_restore's output: {e}"))?;
    finished.map_err(|e| e.to_string())?.check()?;
    Ok((total, counts))
}

/// How long a reader waits at the end of the file before it looks again.
const AT_THE_END: Duration = Duration::from_millis(20);

/// At the end of the file being written, having read nothing: `Ok(true)` when that is
/// the real end (`finished`: pg_dump was done before the read), `Ok(false)` after a short
/// wait for more, an error when the dump stopped (`written`'s sender is gone).
/// It blocks: only for the decode's own OS threads ([`super::child::thread_beside`]),
/// never async code.
fn wait_at_the_end(
    written: &tokio::sync::watch::Receiver<bool>,
    finished: bool,
) -> Result<bool, String> {
    if finished {
        return Ok(true);
    }
    if written.has_changed().is_err() {
        return Err("the dump stopped".into());
    }
    std::thread::sleep(AT_THE_END);
    Ok(false)
}

/// The dump file read as pg_dump writes it: at its end, a read waits for more until
/// `written` says it is complete. `read` counts the bytes. Its reads block (see
/// [`wait_at_the_end`]): it is read on a thread of its own.
struct Growing {
    file: std::fs::File,
    written: tokio::sync::watch::Receiver<bool>,
    read: u64,
}

impl std::io::Read for Growing {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            // Read the flag first: an empty read after pg_dump finished is the real end.
            let finished = *self.written.borrow();
            let n = self.file.read(buf)?;
            if n > 0 {
                self.read += n as u64;
                return Ok(n);
            }
            if wait_at_the_end(&self.written, finished).map_err(std::io::Error::other)? {
                return Ok(0);
            }
        }
    }
}

/// Splices `file` into `pipe` as it grows, until `written` says it is complete (or its
/// sender is gone: the dump stopped). Returns the bytes the file held. When the pipe's
/// reader is gone (pg_restore stopped on a damaged archive: its exit status tells), the
/// rest is only read, to count it.
fn feed_while_written(
    file: &std::fs::File,
    pipe: std::os::fd::OwnedFd,
    written: &tokio::sync::watch::Receiver<bool>,
) -> Result<u64, String> {
    use rustix::pipe::{splice, SpliceFlags};
    use std::io::Read;
    let mut total: u64 = 0;
    let mut pipe = Some(pipe);
    let mut spare = Vec::new();
    loop {
        // Read the flag first: an empty read after pg_dump finished is the real end.
        let finished = *written.borrow();
        let moved = match &pipe {
            Some(p) => match splice(
                file,
                None,
                p,
                None,
                super::child::WIDE_PIPE,
                SpliceFlags::MORE,
            ) {
                Ok(n) => n,
                Err(rustix::io::Errno::PIPE) => {
                    pipe = None;
                    continue;
                }
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(format!("feeding the dump to pg_restore failed: {e}")),
            },
            None => {
                spare.resize(1 << 20, 0);
                (&*file)
                    .read(&mut spare)
                    .map_err(|e| format!("reading the dump while it is written failed: {e}"))?
            }
        };
        if moved > 0 {
            total += moved as u64;
            continue;
        }
        // End of input (the pipe closes when this returns): pg_restore finishes.
        if wait_at_the_end(written, finished)? {
            return Ok(total);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_disk_is_told_apart_from_other_dump_failures() {
        assert!(out_of_space(
            "pg_dump: error: could not write to output file: No space left on device"
        ));
        assert!(!out_of_space(
            "pg_dump: error: connection to server failed: FATAL: role \"x\" does not exist"
        ));
    }

    #[test]
    fn table_names_come_out_of_pg_dump_verbose_lines() {
        assert_eq!(
            dumped_table("pg_dump: dumping contents of table \"public.orders\""),
            Some("public.orders".into())
        );
        assert_eq!(dumped_table("pg_dump: reading schemas"), None);
    }
}
