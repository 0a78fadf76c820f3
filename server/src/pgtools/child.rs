//! The one way Lifeboat runs a PostgreSQL client tool: a supervised child process.
//!
//! [`Child`] builds the command the same way every time (C messages so errors can be read,
//! killed with its owner, the password only in a 0600 password file that is removed
//! afterwards, never in argv or the environment, and none of Lifeboat's own environment but
//! the few variables a client tool needs: see [`isolate_env`]); [`Running::next`] reads its standard
//! error line by line (kept, capped, for the journal), hands the caller every line and a
//! regular tick for progress, kills the child when the job is cancelled, and hands back
//! the exit status, which [`Finished::failure`] puts into words honestly.

use crate::storage::RemoveOnDrop;
use crate::target::TargetUrl;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{ChildStderr, ChildStdin, Command};
use tokio::sync::watch;

/// The most of a tool's stderr kept in the journal.
pub const MAX_TOOL_OUTPUT: usize = 256 * 1024;

/// Why a child did not run to its end.
#[derive(Debug, thiserror::Error)]
pub enum ChildError {
    #[error("cannot write the password file: {0}")]
    PassFile(std::io::Error),
    #[error("cannot start {path}: {source}")]
    Start {
        path: String,
        source: std::io::Error,
    },
    #[error("{0}'s error output is not readable")]
    Pipe(&'static str),
    #[error("waiting for {name} failed: {source}")]
    Wait {
        name: &'static str,
        source: std::io::Error,
    },
    /// The job was cancelled and the child killed; what it printed until then.
    #[error("cancelled")]
    Cancelled { stderr: String },
}

/// The variables of Lifeboat's environment a child process inherits, by name: where
/// programs are (`PATH`), the home directory (libpq finds `~/.postgresql/root.crt` and
/// client certificates there), the temporary directory, time zone and locale, and the
/// libpq settings an operator may need for the connection (TLS, Kerberos/GSS, connect
/// timeout, client encoding). Nothing else: not LIFEBOAT_* (the target URL, the S3 and
/// SMTP secrets), not AWS_*, not PGPASSWORD (the password goes in a password file).
const INHERITED: &[&str] = &[
    "PATH",
    "HOME",
    "TMPDIR",
    "TZ",
    "LANG",
    "LANGUAGE",
    "PGCONNECT_TIMEOUT",
    "PGCLIENTENCODING",
    "PGKRBSRVNAME",
    "PGCHANNELBINDING",
    "PGREQUIREAUTH",
    "PGSYSCONFDIR",
];
/// Inherited by prefix: `LC_*` (locale), `PGSSL*` (sslmode, root certificate, client
/// certificate and key, …), `PGGSS*` (GSS encryption and library).
const INHERITED_PREFIXES: &[&str] = &["LC_", "PGSSL", "PGGSS"];

/// Whether a child inherits the variable `name` (see [`INHERITED`]).
pub fn inherited(name: &str) -> bool {
    INHERITED.contains(&name) || INHERITED_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// Starts `cmd` with an empty environment plus the inherited variables of Lifeboat's own
/// (see [`INHERITED`]); the caller adds what it sets deliberately. Every child process
/// Lifeboat starts goes through here: the environment of a process can be read by others
/// (`/proc/PID/environ` for the same user, `ps e`), and a tool has no use for Lifeboat's
/// secrets.
pub fn isolate_env(cmd: &mut Command) {
    cmd.env_clear();
    for (name, value) in std::env::vars_os() {
        if name.to_str().is_some_and(inherited) {
            cmd.env(name, value);
        }
    }
}

/// The size [`widen_pipe`] asks for: 1 MiB, the most an unprivileged process may set by
/// default (`/proc/sys/fs/pipe-max-size`), against 64 KiB: fewer, larger reads and writes
/// where a child's output or input streams.
pub const WIDE_PIPE: usize = 1 << 20;

/// Enlarges a pipe's buffer to [`WIDE_PIPE`]; a system that refuses keeps the usual one.
pub fn widen_pipe(pipe: &impl std::os::fd::AsFd) {
    let _ = rustix::pipe::fcntl_setpipe_size(pipe, WIDE_PIPE);
}

/// Runs `work` on a thread of its own, at the lowest CPU priority when `low_priority`
/// (Linux sets it per thread, so the rest of Lifeboat keeps its own): for the blocking
/// work beside a child, such as feeding its input or reading its output, or decoding a
/// dump. Its result arrives on the receiver. The lowest priority is the `SCHED_IDLE`
/// policy (the thread runs only on a CPU nothing else wants, and any other task that
/// wakes up takes the CPU from it at once, where a nice 19 thread would finish its time
/// slice), and [`LOW_PRIORITY_NICE`] as well (all that remains where the policy cannot
/// be set).
pub fn thread_beside<T: Send + 'static>(
    name: &str,
    low_priority: bool,
    work: impl FnOnce() -> T + Send + 'static,
) -> std::io::Result<tokio::sync::oneshot::Receiver<T>> {
    let (done, result) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            if low_priority {
                use thread_priority::{NormalThreadSchedulePolicy, ThreadSchedulePolicy};
                let _ = thread_priority::set_thread_priority_and_policy(
                    thread_priority::thread_native_id(),
                    thread_priority::ThreadPriority::Min,
                    ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle),
                );
                let me = rustix::thread::gettid();
                let _ = rustix::process::setpriority_process(Some(me), LOW_PRIORITY_NICE);
            }
            let _ = done.send(work());
        })?;
    Ok(result)
}

/// A tool's command line, ready to start.
pub struct Child {
    cmd: Command,
    path: PathBuf,
    name: &'static str,
    passfile: Option<RemoveOnDrop>,
    low_priority: bool,
}

/// The niceness of a [`Child::low_priority`] child: the scheduler gives it only the CPU
/// time that the others leave.
pub const LOW_PRIORITY_NICE: i32 = 19;

impl Child {
    /// `name` is how messages call the tool (`pg_dump`, `pg_restore`).
    pub fn new(path: &Path, name: &'static str) -> Child {
        let mut cmd = Command::new(path);
        isolate_env(&mut cmd);
        cmd.env("LC_MESSAGES", "C")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        Child {
            cmd,
            path: path.to_path_buf(),
            name,
            passfile: None,
            low_priority: false,
        }
    }

    /// Runs the child at the lowest CPU priority ([`LOW_PRIORITY_NICE`]): work that
    /// may lag behind (it catches up on idle cores) and must not slow the others.
    pub fn low_priority(mut self) -> Child {
        self.low_priority = true;
        self
    }

    pub fn arg(mut self, a: impl AsRef<OsStr>) -> Child {
        self.cmd.arg(a);
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(mut self, args: I) -> Child {
        self.cmd.args(args);
        self
    }

    pub fn stdin(mut self, s: impl Into<Stdio>) -> Child {
        self.cmd.stdin(s);
        self
    }

    /// Keeps standard output as a pipe, for [`Running::take_stdout`].
    pub fn stdout_piped(mut self) -> Child {
        self.cmd.stdout(Stdio::piped());
        self
    }

    /// Connects to `target`: host, port, user and database as options, the password in a
    /// 0600 password file at `passfile` (removed when the child is done), the URL's TLS
    /// settings as `PGSSLMODE`, `PGSSLROOTCERT`, `PGSSLCERT` and `PGSSLKEY`.
    pub fn connect(mut self, target: &TargetUrl, passfile: PathBuf) -> Result<Child, ChildError> {
        write_passfile(&passfile, target).map_err(ChildError::PassFile)?;
        self.cmd
            .arg("--no-password")
            .arg(format!("--host={}", target.host()))
            .arg(format!("--port={}", target.port()))
            .arg(format!("--username={}", target.user()))
            .arg(format!("--dbname={}", target.database()))
            .env("PGPASSFILE", &passfile)
            .env("PGAPPNAME", "lifeboat");
        // TLS exactly as Lifeboat's own connections: set from the URL, never inherited.
        for (name, value) in target.tls().child_env() {
            match value {
                Some(v) => self.cmd.env(name, v),
                None => self.cmd.env_remove(name),
            };
        }
        self.passfile = Some(RemoveOnDrop::new(passfile));
        Ok(self)
    }

    /// Names the child's server session (`PGAPPNAME`, seen as `application_name` in
    /// `pg_stat_activity`), so that Lifeboat can find it there; after [`Child::connect`].
    pub fn application_name(mut self, name: &str) -> Child {
        self.cmd.env("PGAPPNAME", name);
        self
    }

    pub fn spawn(mut self) -> Result<Running, ChildError> {
        let mut child = self.cmd.spawn().map_err(|source| ChildError::Start {
            path: self.path.display().to_string(),
            source,
        })?;
        if self.low_priority {
            // Right after the start: the first milliseconds at normal priority do no harm.
            // A failure (a system that refuses it) only costs speed.
            if let Some(pid) = child
                .id()
                .and_then(|id| rustix::process::Pid::from_raw(id as i32))
            {
                let _ = rustix::process::setpriority_process(Some(pid), LOW_PRIORITY_NICE);
            }
        }
        let stderr = child.stderr.take().ok_or(ChildError::Pipe(self.name))?;
        Ok(Running {
            child,
            name: self.name,
            _passfile: self.passfile,
            lines: Some(BufReader::new(stderr).lines()),
            output: String::new(),
            ticks: None,
            cancel: None,
            downstream: None,
        })
    }

    /// Runs a short command to its end, keeping its standard output too (`--list`,
    /// `--version`).
    pub async fn output(mut self) -> Result<Output, ChildError> {
        self.cmd.stdout(Stdio::piped());
        let out = self
            .cmd
            .output()
            .await
            .map_err(|source| ChildError::Start {
                path: self.path.display().to_string(),
                source,
            })?;
        Ok(Output {
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            finished: Finished {
                name: self.name,
                status: out.status,
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            },
        })
    }
}

/// What a short command printed, and how it ended.
pub struct Output {
    pub stdout: String,
    pub finished: Finished,
}

/// What [`Running::next`] hands back.
pub enum Step {
    /// One line of standard error.
    Line(String),
    /// The regular tick asked for with [`Running::ticking`].
    Tick,
    /// The child is done.
    Exited(Finished),
}

/// A started child. The caller follows it with [`Running::next`] (lines, ticks, the
/// end) — a loop, not a callback, so a job's future stays `Send` — or just
/// [`Running::wait`]s for it.
pub struct Running {
    child: tokio::process::Child,
    name: &'static str,
    _passfile: Option<RemoveOnDrop>,
    lines: Option<Lines<BufReader<ChildStderr>>>,
    output: String,
    ticks: Option<tokio::time::Interval>,
    cancel: Option<watch::Receiver<bool>>,
    downstream: Option<Box<Downstream>>,
}

/// A second child fed by the first one's standard output (pg_restore's script into
/// psql). It ends with the first: its input is closed only when the first succeeded
/// (else it is killed, so half a script is never run to its end), and a failure of
/// either is the failure of the run — psql's own when it stopped first, since pg_restore
/// then only reports the broken pipe.
pub struct Downstream {
    pub running: Running,
    /// Copies the first child's output into the second's input; hands the input back
    /// at the end of that output (or when the second child stopped reading).
    pub pump: tokio::task::JoinHandle<Option<ChildStdin>>,
}

impl Downstream {
    async fn finish(self, first: Finished) -> Finished {
        let stdin = self.pump.await.ok().flatten();
        let mut second = self.running;
        let name = second.name;
        if first.status.success() {
            // The whole script was passed on: its end lets psql finish.
            drop(stdin);
            return match second.wait().await {
                Ok(f) => Finished {
                    name: if f.status.success() {
                        first.name
                    } else {
                        f.name
                    },
                    status: if f.status.success() {
                        first.status
                    } else {
                        f.status
                    },
                    stderr: join_output(&first.stderr, &f.stderr),
                },
                Err(e) => Finished {
                    name,
                    status: failed_status(),
                    stderr: join_output(&first.stderr, &format!("error: {e}")),
                },
            };
        }
        // The first child failed: the second's own failure (it stopped reading, which
        // broke the first's pipe) explains more; otherwise it is stopped before its input
        // ends.
        match tokio::time::timeout(Duration::from_secs(2), second.child.wait()).await {
            Ok(Ok(status)) if !status.success() => {
                let rest = second.wait().await.map(|f| f.stderr).unwrap_or_default();
                Finished {
                    name,
                    status,
                    stderr: join_output(&first.stderr, &rest),
                }
            }
            _ => {
                let _ = second.child.kill().await;
                drop(stdin);
                first
            }
        }
    }
}

fn join_output(a: &str, b: &str) -> String {
    let mut s = a.to_string();
    if !b.is_empty() && s.len() < MAX_TOOL_OUTPUT {
        s.push_str(b);
    }
    s
}

/// `exited with 1`, for a child whose status could not be read.
fn failed_status() -> ExitStatus {
    use std::os::unix::process::ExitStatusExt;
    ExitStatus::from_raw(1 << 8)
}

impl Running {
    /// Ends together with `downstream`, which this child's output feeds.
    pub fn feeding(mut self, downstream: Downstream) -> Running {
        self.downstream = Some(Box::new(downstream));
        self
    }

    /// The child's standard input, when it was started with a pipe there.
    pub fn take_stdin(&mut self) -> Option<ChildStdin> {
        self.child.stdin.take()
    }

    /// The child's standard output, when it was started with [`Child::stdout_piped`].
    pub fn take_stdout(&mut self) -> Option<tokio::process::ChildStdout> {
        self.child.stdout.take()
    }

    /// Kills the child when `cancel` turns `true`.
    pub fn cancelled_by(mut self, cancel: watch::Receiver<bool>) -> Running {
        self.cancel = Some(cancel);
        self
    }

    /// Also wakes the caller every `every` (for progress that is not in the output).
    pub fn ticking(mut self, every: Duration) -> Running {
        self.ticks = Some(tokio::time::interval(every));
        self
    }

    /// The next stderr line, tick, or the end. A cancellation kills the child and ends
    /// with [`ChildError::Cancelled`]. Not to be called again after `Exited`.
    pub async fn next(&mut self) -> Result<Step, ChildError> {
        loop {
            tokio::select! {
                line = next_line(&mut self.lines), if self.lines.is_some() => match line {
                    Ok(Some(line)) => {
                        if self.output.len() < MAX_TOOL_OUTPUT {
                            self.output.push_str(&line);
                            self.output.push('\n');
                        }
                        return Ok(Step::Line(line));
                    }
                    _ => self.lines = None,
                },
                () = tick(&mut self.ticks), if self.ticks.is_some() => return Ok(Step::Tick),
                () = cancelled(&mut self.cancel) => {
                    let _ = self.child.kill().await;
                    if let Some(d) = self.downstream.take() {
                        let mut second = d.running;
                        let _ = second.child.kill().await;
                    }
                    return Err(ChildError::Cancelled {
                        stderr: std::mem::take(&mut self.output),
                    });
                }
                status = self.child.wait(), if self.lines.is_none() => {
                    let status = status.map_err(|source| ChildError::Wait {
                        name: self.name,
                        source,
                    })?;
                    let finished = Finished {
                        name: self.name,
                        status,
                        stderr: std::mem::take(&mut self.output),
                    };
                    return Ok(Step::Exited(match self.downstream.take() {
                        Some(d) => Box::pin(d.finish(finished)).await,
                        None => finished,
                    }));
                }
            }
        }
    }

    /// Kills the child (for a caller that gives up on it, such as a stall watchdog) and
    /// hands back what it printed.
    pub async fn kill(&mut self) -> String {
        let _ = self.child.kill().await;
        std::mem::take(&mut self.output)
    }

    /// Follows the child to its end, keeping its output.
    pub async fn wait(mut self) -> Result<Finished, ChildError> {
        loop {
            if let Step::Exited(f) = self.next().await? {
                return Ok(f);
            }
        }
    }
}

async fn next_line(
    lines: &mut Option<Lines<BufReader<ChildStderr>>>,
) -> std::io::Result<Option<String>> {
    match lines {
        Some(l) => l.next_line().await,
        None => std::future::pending().await,
    }
}

async fn tick(ticks: &mut Option<tokio::time::Interval>) {
    match ticks {
        Some(t) => {
            t.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// Resolves once `cancel` says `true`; never without a switch (or once its sender is gone).
async fn cancelled(cancel: &mut Option<watch::Receiver<bool>>) {
    let Some(rx) = cancel else {
        return std::future::pending().await;
    };
    if rx.wait_for(|c| *c).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// How a child ended.
#[derive(Debug)]
pub struct Finished {
    name: &'static str,
    pub status: ExitStatus,
    /// Its standard error as printed (capped at [`MAX_TOOL_OUTPUT`]).
    pub stderr: String,
}

impl Finished {
    /// `exited with 1`, `killed by signal 9`.
    pub fn described(&self) -> String {
        describe_exit(self.status)
    }

    /// `None` on success; otherwise `pg_dump exited with 1: <its error lines>`.
    pub fn failure(&self) -> Option<String> {
        if self.status.success() {
            return None;
        }
        let why = error_lines(&self.stderr);
        Some(if why.is_empty() {
            format!("{} {}", self.name, self.described())
        } else {
            format!("{} {}: {why}", self.name, self.described())
        })
    }

    /// [`Finished::failure`] as a `Result`.
    pub fn check(&self) -> Result<(), String> {
        match self.failure() {
            None => Ok(()),
            Some(f) => Err(f),
        }
    }
}

fn write_passfile(path: &Path, target: &TargetUrl) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    let line = passfile_line(
        &target.host(),
        target.port(),
        &target.database(),
        &target.user(),
        &target.password().unwrap_or_default(),
    );
    f.write_all(line.as_bytes())
}

/// One line of a libpq password file for exactly this connection (`:` and `\` escaped).
pub fn passfile_line(host: &str, port: u16, database: &str, user: &str, password: &str) -> String {
    let esc = |s: &str| s.replace('\\', "\\\\").replace(':', "\\:");
    format!(
        "{}:{}:{}:{}:{}\n",
        esc(host),
        port,
        esc(database),
        esc(user),
        esc(password)
    )
}

/// A child's exit status in words: `exited with 1`, `killed by signal 9`.
pub fn describe_exit(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("exited with {c}"),
        (None, Some(s)) => format!("killed by signal {s}"),
        (None, None) => "ended without an exit status".into(),
    }
}

/// The lines of a tool's stderr that explain a failure (its errors, not its progress
/// chatter), at most a few.
pub fn error_lines(stderr: &str) -> String {
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| {
            let l = l.to_ascii_lowercase();
            l.contains("error")
                || l.contains("fatal")
                || l.contains("could not")
                || l.contains("detail:")
        })
        .collect();
    let picked: Vec<&str> = if errors.is_empty() {
        stderr
            .lines()
            .rev()
            .take(3)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect()
    } else {
        errors.into_iter().take(5).collect()
    };
    picked.join(" / ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Field `n` (counted from 1, as proc(5) does) of a `/proc/…/stat` line, as a number.
    fn stat_field<T: std::str::FromStr>(stat: &str, n: usize) -> T {
        // Fields 1 and 2 (pid, name) end at the name's last `)`; the name may hold spaces.
        let after_name = &stat[stat.rfind(')').expect("a stat line") + 2..];
        match after_name.split(' ').nth(n - 3).map(str::parse) {
            Some(Ok(v)) => v,
            _ => panic!("field {n} of {stat:?} is not a number"),
        }
    }

    /// The niceness in a stat line (field 19).
    fn niceness(stat: &str) -> i32 {
        stat_field(stat, 19)
    }

    /// The scheduling policy in a stat line (field 41; 5 is SCHED_IDLE).
    fn policy(stat: &str) -> u32 {
        stat_field(stat, 41)
    }

    #[tokio::test]
    async fn a_low_priority_child_runs_at_the_lowest_cpu_priority_and_others_do_not() {
        let sleep = Path::new("/bin/sleep");
        let mut low = Child::new(sleep, "sleep")
            .arg("30")
            .low_priority()
            .spawn()
            .expect("start");
        let mut usual = Child::new(sleep, "sleep").arg("30").spawn().expect("start");
        let stat = |r: &Running| {
            let pid = r.child.id().expect("running");
            std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat")
        };
        let own = niceness(&std::fs::read_to_string("/proc/self/stat").expect("stat"));
        assert_eq!(niceness(&stat(&low)), LOW_PRIORITY_NICE.max(own));
        assert_eq!(niceness(&stat(&usual)), own);
        let _ = low.child.kill().await;
        let _ = usual.child.kill().await;
    }

    #[tokio::test]
    async fn only_a_low_priority_thread_beside_a_child_gets_the_lowest_cpu_priority() {
        let own = || {
            let stat = std::fs::read_to_string("/proc/thread-self/stat").expect("stat");
            (niceness(&stat), policy(&stat))
        };
        let before = own();
        let low = thread_beside("low", true, own).expect("thread");
        let usual = thread_beside("usual", false, own).expect("thread");
        assert_eq!(
            low.await.expect("result"),
            (LOW_PRIORITY_NICE.max(before.0), 5)
        );
        assert_eq!(usual.await.expect("result"), before);
        assert_eq!(own(), before, "the caller's thread keeps its priority");
    }

    #[test]
    fn only_what_a_client_tool_needs_is_inherited() {
        for kept in [
            "PATH",
            "HOME",
            "LANG",
            "LC_ALL",
            "TZ",
            "PGSSLMODE",
            "PGSSLROOTCERT",
        ] {
            assert!(inherited(kept), "{kept}");
        }
        for dropped in [
            "LIFEBOAT_TARGET_URL",
            "LIFEBOAT_S3_SECRET_ACCESS_KEY",
            "LIFEBOAT_SMTP_PASSWORD",
            "AWS_SECRET_ACCESS_KEY",
            "PGPASSWORD",
            "PGPASSFILE",
            "PGHOST",
            "DATABASE_URL",
        ] {
            assert!(!inherited(dropped), "{dropped}");
        }
    }

    #[test]
    fn passfile_escapes_separators() {
        assert_eq!(
            passfile_line("db", 5432, "shop", "app", "p:a\\ss"),
            "db:5432:shop:app:p\\:a\\\\ss\n"
        );
    }

    #[test]
    fn error_lines_pick_the_errors() {
        let s = "pg_dump: dumping contents of table \"public.a\"\npg_dump: error: Dumping the contents of table \"a\" failed: PQgetResult() failed.\npg_dump: detail: Error message from server: server closed the connection unexpectedly";
        let e = error_lines(s);
        assert!(e.starts_with("pg_dump: error: Dumping"), "{e}");
        assert!(e.contains("server closed the connection"), "{e}");
    }

    #[tokio::test]
    async fn a_child_is_followed_line_by_line_and_its_failure_described() {
        let mut running = Child::new(Path::new("/bin/sh"), "sh")
            .arg("-c")
            .arg("echo one >&2; echo 'error: two' >&2; exit 3")
            .spawn()
            .expect("spawn");
        let mut lines = vec![];
        let finished = loop {
            match running.next().await.expect("follow") {
                Step::Line(l) => lines.push(l),
                Step::Tick => {}
                Step::Exited(f) => break f,
            }
        };
        assert_eq!(lines, ["one", "error: two"]);
        assert_eq!(
            finished.failure().as_deref(),
            Some("sh exited with 3: error: two")
        );
    }

    #[tokio::test]
    async fn cancelling_kills_the_child() {
        let (tx, rx) = watch::channel(false);
        let mut running = Child::new(Path::new("/bin/sh"), "sh")
            .arg("-c")
            .arg("echo started >&2; sleep 30")
            .spawn()
            .expect("spawn")
            .cancelled_by(rx);
        let started = std::time::Instant::now();
        let result = loop {
            match running.next().await {
                Ok(Step::Line(_)) => {
                    let _ = tx.send(true);
                }
                Ok(Step::Tick) => {}
                other => break other,
            }
        };
        assert!(
            matches!(result, Err(ChildError::Cancelled { ref stderr }) if stderr == "started\n")
        );
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}
