//! What Lifeboat knows of `pg_restore`: the options a restore uses, its progress lines,
//! the table of contents (`--list`), and the full decode that proves an archive readable.

use super::child::{thread_beside, widen_pipe, Child, ChildError, Downstream, Running};
use super::rows::{count_copy_blocks_from, RowCounts};
use crate::target::TargetUrl;
use app::api::RestoreOptions;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::process::{ChildStdin, ChildStdout};
use tokio::sync::watch;

/// The pg_restore a restore runs, and the psql its script goes through when the server
/// is older than PostgreSQL 17 and the pg_restore is not ([`super::choose::needs_filter`]).
#[derive(Clone, Copy, Debug)]
pub struct Restorer<'a> {
    pub pg_restore: &'a Path,
    pub psql: Option<&'a Path>,
}

/// `pg_restore --clean …` of `archive` into `target`, started; `cancel` kills it.
pub fn restore(
    tool: Restorer<'_>,
    options: &RestoreOptions,
    target: &TargetUrl,
    archive: &Path,
    passfile: PathBuf,
    cancel: watch::Receiver<bool>,
) -> Result<Running, ChildError> {
    spawn_into(
        tool,
        restore_args(options),
        target,
        archive,
        passfile,
        cancel,
    )
}

fn spawn_into<S: AsRef<std::ffi::OsStr>>(
    tool: Restorer<'_>,
    args: Vec<S>,
    target: &TargetUrl,
    archive: &Path,
    passfile: PathBuf,
    cancel: watch::Receiver<bool>,
) -> Result<Running, ChildError> {
    let Some(psql) = tool.psql else {
        return Ok(Child::new(tool.pg_restore, "pg_restore")
            .args(args)
            .connect(target, passfile)?
            .arg(archive)
            .spawn()?
            .cancelled_by(cancel));
    };
    // The script instead of a connection: one session, so no `--jobs`; its BEGIN and
    // COMMIT (`--single-transaction`) and its `--clean` drops are in the script.
    let args = args
        .into_iter()
        .filter(|a| !a.as_ref().to_str().is_some_and(|a| a.starts_with("--jobs")));
    let mut first = Child::new(tool.pg_restore, "pg_restore")
        .args(args)
        .arg("--file=-")
        .arg(archive)
        .stdout_piped()
        .spawn()?;
    let script = first.take_stdout().ok_or(ChildError::Pipe("pg_restore"))?;
    let mut second = Child::new(psql, "psql")
        .args([
            "--no-psqlrc",
            "--quiet",
            "--set=ON_ERROR_STOP=1",
            "--file=-",
        ])
        .stdin(Stdio::piped())
        .connect(target, passfile)?
        .spawn()?;
    let input = second.take_stdin().ok_or(ChildError::Pipe("psql"))?;
    Ok(first
        .feeding(Downstream {
            running: second,
            pump: tokio::spawn(pass_script(script, input)),
        })
        .cancelled_by(cancel))
}

/// What pg_restore 17 and newer put at the top of every script (and of every session in
/// it), and a server before 17 rejects: nothing in a restore needs it, since a restore
/// runs outside any transaction timeout Lifeboat sets.
const TRANSACTION_TIMEOUT: &[u8] = b"SET transaction_timeout = 0;\n";

/// Copies pg_restore's script into psql without [`TRANSACTION_TIMEOUT`] — outside `COPY`
/// data only, where a row may say anything. Hands psql's input back at the end of the
/// script, or as soon as psql stops reading (dropping the script then breaks
/// pg_restore's pipe, which stops it).
async fn pass_script(script: ChildStdout, input: ChildStdin) -> Option<ChildStdin> {
    let mut reader = BufReader::with_capacity(1 << 16, script);
    let mut writer = BufWriter::with_capacity(1 << 16, input);
    let mut line = Vec::with_capacity(256);
    let mut in_copy = false;
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        if in_copy {
            in_copy = line.as_slice() != b"\\.\n";
        } else if line.starts_with(b"COPY ") && line.ends_with(b" FROM stdin;\n") {
            in_copy = true;
        } else if line.as_slice() == TRANSACTION_TIMEOUT {
            continue;
        }
        if writer.write_all(&line).await.is_err() {
            return Some(writer.into_inner());
        }
    }
    let _ = writer.flush().await;
    Some(writer.into_inner())
}

/// `pg_restore --jobs N` of `archive` into `target`, a new, empty database (no
/// `--clean`: there is nothing to drop; no single transaction: it cannot be parallel, and
/// a failure is undone by dropping the new database).
pub fn restore_into_new(
    tool: Restorer<'_>,
    options: &RestoreOptions,
    jobs: u32,
    target: &TargetUrl,
    archive: &Path,
    passfile: PathBuf,
    cancel: watch::Receiver<bool>,
) -> Result<Running, ChildError> {
    spawn_into(
        tool,
        new_database_args(options, jobs),
        target,
        archive,
        passfile,
        cancel,
    )
}

/// The pg_restore options for a restore into a new database.
pub fn new_database_args(o: &RestoreOptions, jobs: u32) -> Vec<String> {
    let mut args = vec![
        "--exit-on-error".to_string(),
        "--verbose".to_string(),
        format!("--jobs={}", jobs.max(1)),
    ];
    if o.no_owner {
        args.push("--no-owner".into());
    }
    if o.no_acl {
        args.push("--no-acl".into());
    }
    args
}

/// `pg_restore --list FILE`: each line of the archive's table of contents handed to
/// `on_line` as pg_restore prints it (never held whole), or why it cannot be read.
pub async fn list_archive(
    pg_restore: &Path,
    archive: &Path,
    mut on_line: impl FnMut(&str),
) -> Result<(), String> {
    use tokio::io::AsyncBufReadExt;
    let mut running = Child::new(pg_restore, "pg_restore")
        .arg("--list")
        .arg(archive)
        .stdout_piped()
        .spawn()
        .map_err(|e| match e {
            ChildError::Start { source, .. } => format!("cannot start pg_restore --list: {source}"),
            other => other.to_string(),
        })?;
    let stdout = running
        .take_stdout()
        .ok_or_else(|| "pg_restore --list: no output pipe".to_string())?;
    let read = async {
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        while let Some(line) = lines.next_line().await? {
            on_line(&line);
        }
        Ok::<(), std::io::Error>(())
    };
    // Standard error is followed at the same time, so neither pipe fills up.
    let (read, finished) = tokio::join!(read, running.wait());
    let finished = finished.map_err(|e| e.to_string())?;
    if !finished.status.success() {
        return Err(format!(
            "pg_restore --list {}: {}",
            finished.described(),
            super::error_lines(&finished.stderr)
        ));
    }
    read.map_err(|e| format!("cannot read pg_restore --list's output: {e}"))
}

/// Decodes every byte of the archive (fed through a pipe, so pg_restore reads it from the
/// first byte to the last, data blocks included), and counts each table's rows.
pub async fn full_read(pg_restore: &Path, path: &Path) -> Result<RowCounts, String> {
    let input = std::fs::File::open(path).map_err(|e| format!("cannot open it: {e}"))?;
    let (running, counting) =
        counting_decoder(pg_restore, Stdio::from(input), false).map_err(|e| e.to_string())?;
    let finished = running.wait().await.map_err(|e| e.to_string())?;
    let counts = counting
        .await
        .map_err(|e| format!("counting the archive's rows stopped: {e}"))?
        .map_err(|e| format!("cannot read pg_restore's output: {e}"))?;
    finished.check()?;
    Ok(counts)
}

/// `pg_restore --file=-` reading the archive from `input`: it decodes each entry and data
/// block, and fails on a corrupt or truncated stream; its SQL script is read as it comes
/// by a [`CopyCounter`](super::rows::CopyCounter), on a thread of its own, which learns
/// each table's rows (the receiver's result). `low_priority`: both take only the CPU
/// time others leave ([`Child::low_priority`], [`thread_beside`]).
pub fn counting_decoder(
    pg_restore: &Path,
    input: Stdio,
    low_priority: bool,
) -> Result<(Running, Counting), ChildError> {
    let mut child = Child::new(pg_restore, "pg_restore")
        .arg("--file=-")
        .stdin(input)
        .stdout_piped();
    if low_priority {
        child = child.low_priority();
    }
    let mut running = child.spawn()?;
    let stdout = running
        .take_stdout()
        .and_then(|s| s.into_owned_fd().ok())
        .ok_or(ChildError::Pipe("pg_restore"))?;
    widen_pipe(&stdout);
    let counting = thread_beside("pg_restore rows", low_priority, move || {
        count_copy_blocks_from(std::fs::File::from(stdout))
    })
    .map_err(|_| ChildError::Pipe("pg_restore"))?;
    Ok((running, counting))
}

/// The rows per table that a [`counting_decoder`] learns, when its output ends.
pub type Counting = tokio::sync::oneshot::Receiver<std::io::Result<RowCounts>>;

/// The pg_restore options for these choices (connection options aside).
pub fn restore_args(o: &RestoreOptions) -> Vec<&'static str> {
    let mut args = vec!["--clean", "--if-exists", "--exit-on-error", "--verbose"];
    if o.single_transaction {
        args.push("--single-transaction");
    }
    if o.no_owner {
        args.push("--no-owner");
    }
    if o.no_acl {
        args.push("--no-acl");
    }
    args
}

/// How much pg_restore will report: with `--clean` every object is dropped, then created;
/// data entries are only loaded.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Entries {
    pub objects: u64,
    pub data: u64,
}

impl Entries {
    pub fn expected_steps(&self) -> u64 {
        2 * self.objects + self.data
    }

    /// Into a new database nothing is dropped first.
    pub fn expected_steps_without_clean(&self) -> u64 {
        self.objects + self.data
    }
}

/// The archive's entries, counted from its table of contents.
pub async fn count_entries(pg_restore: &Path, path: &Path) -> Result<Entries, String> {
    let mut e = Entries::default();
    list_archive(pg_restore, path, |line| e.count(line)).await?;
    Ok(e)
}

pub fn entries_of(list: &str) -> Entries {
    let mut e = Entries::default();
    for line in list.lines() {
        e.count(line);
    }
    e
}

impl Entries {
    /// Counts one line of `pg_restore --list`.
    fn count(&mut self, line: &str) {
        if let Some(entry) = super::archive::toc_entry(line) {
            match entry.desc {
                "TABLE DATA"
                | "SEQUENCE SET"
                | "BLOBS"
                | "LARGE OBJECT"
                | "BLOB METADATA"
                | "MATERIALIZED VIEW DATA" => self.data += 1,
                _ => self.objects += 1,
            }
        }
    }
}

/// A progress line of `pg_restore --verbose` → the object it names.
pub fn restore_step(line: &str) -> Option<String> {
    let rest = line.strip_prefix("pg_restore: ")?;
    for verb in [
        "dropping ",
        "creating ",
        "processing data for table ",
        "executing ",
    ] {
        if let Some(obj) = rest.strip_prefix(verb) {
            let what = match verb {
                "dropping " => "dropping",
                "processing data for table " => "loading",
                "executing " => "setting",
                _ => "creating",
            };
            return Some(format!("{what} {}", obj.trim()));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    use app::api::RestoreOptions;

    #[test]
    fn options_map_to_pg_restore_flags() {
        let d = restore_args(&RestoreOptions::default());
        assert!(d.contains(&"--single-transaction") && d.contains(&"--clean"));
        assert!(d.contains(&"--if-exists") && d.contains(&"--exit-on-error"));
        assert!(!d.contains(&"--no-owner"));
        let o = restore_args(&RestoreOptions {
            single_transaction: false,
            no_owner: true,
            no_acl: true,
            terminate_sessions: false,
        });
        assert!(!o.contains(&"--single-transaction"));
        assert!(o.contains(&"--no-owner") && o.contains(&"--no-acl"));
    }

    #[test]
    fn a_new_database_is_restored_in_parallel_without_clean() {
        let a = new_database_args(&RestoreOptions::default(), 4);
        assert!(a.contains(&"--jobs=4".to_string()));
        assert!(a.contains(&"--exit-on-error".to_string()));
        assert!(!a
            .iter()
            .any(|x| x == "--clean" || x == "--single-transaction"));
    }

    #[test]
    fn verbose_lines_name_the_object() {
        assert_eq!(
            restore_step("pg_restore: processing data for table \"public.orders\""),
            Some("loading \"public.orders\"".into())
        );
        assert_eq!(
            restore_step("pg_restore: creating INDEX \"public.orders_by_customer\""),
            Some("creating INDEX \"public.orders_by_customer\"".into())
        );
        assert_eq!(
            restore_step("pg_restore: connecting to database for restore"),
            None
        );
    }

    #[test]
    fn entries_split_objects_and_data() {
        let list = "; header\n215; 1259 16385 TABLE public customers postgres\n3350; 0 16385 TABLE DATA public customers postgres\n3351; 0 0 SEQUENCE SET public customers_id_seq postgres\n";
        let e = entries_of(list);
        assert_eq!(
            e,
            Entries {
                objects: 1,
                data: 2
            }
        );
        assert_eq!(e.expected_steps(), 4);
    }
}
