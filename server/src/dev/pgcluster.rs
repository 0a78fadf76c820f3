//! A throwaway or long-lived PostgreSQL cluster run by Lifeboat itself: the demo database
//! (`make run` without a configured target) and the servers tests start for themselves.
//!
//! This module owns finding the server binaries (`initdb`, `pg_ctl`, `postgres`), creating a
//! cluster, and starting and stopping it. The server listens only on 127.0.0.1 and keeps its
//! Unix socket inside the cluster directory, so it never collides with a system PostgreSQL.
//!
//! `initdb` refuses to run as root, so when Lifeboat itself runs as root every server command
//! runs through `runuser` as an unprivileged OS user (`postgres` if it exists, else `nobody`),
//! and the cluster directory belongs to that user.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Output, Stdio};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use rand::distributions::{Alphanumeric, DistString};
use tokio::process::Command;

/// The settings file Lifeboat rewrites before every start; `postgresql.conf` includes it last,
/// so its values win over initdb's defaults (only `ALTER SYSTEM` settings override it).
const LIFEBOAT_CONF: &str = "lifeboat.conf";
const INCLUDE_LINE: &str = "include_if_exists = 'lifeboat.conf'";
/// Above this size `server.log` is rotated to `server.log.1` at start, so a long-lived demo
/// cluster does not fill the disk with logs.
const LOG_ROTATE_BYTES: u64 = 10 * 1024 * 1024;
/// Seconds `pg_ctl` waits for start-up or shutdown (a crashed server may need crash recovery).
const PG_CTL_WAIT_SECS: u64 = 120;
/// Upper bound for any single command, so a wedged child cannot hang Lifeboat forever.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(PG_CTL_WAIT_SECS + 60);

/// A directory holding the PostgreSQL server binaries.
#[derive(Debug, Clone)]
pub struct PgBin {
    /// Directory containing `initdb`, `pg_ctl` and `postgres`.
    pub dir: PathBuf,
}

impl PgBin {
    /// The first folder of `LIFEBOAT_PG_BIN_DIR` (one, or several separated by `:`) that
    /// contains `initdb`, else the newest `/usr/lib/postgresql/*/bin` with `initdb` and
    /// `pg_ctl`, else the directories on `PATH`.
    pub fn discover() -> Result<PgBin> {
        if let Some(dirs) = std::env::var_os("LIFEBOAT_PG_BIN_DIR").filter(|d| !d.is_empty()) {
            let found = std::env::split_paths(&dirs).find(|d| is_executable(&d.join("initdb")));
            if let Some(dir) = found {
                return Ok(PgBin { dir });
            }
            tracing::warn!(
                dirs = %PathBuf::from(&dirs).display(),
                "LIFEBOAT_PG_BIN_DIR has no executable initdb; looking for PostgreSQL elsewhere"
            );
        }

        let has_server =
            |dir: &Path| is_executable(&dir.join("initdb")) && is_executable(&dir.join("pg_ctl"));

        let mut versioned: Vec<(Vec<u32>, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| {
                let version = version_key(&entry.file_name().to_string_lossy())?;
                let bin = entry.path().join("bin");
                has_server(&bin).then_some((version, bin))
            })
            .collect();
        versioned.sort();
        if let Some((_, dir)) = versioned.pop() {
            return Ok(PgBin { dir });
        }

        if let Some(path) = std::env::var_os("PATH") {
            for dir in std::env::split_paths(&path) {
                if has_server(&dir) {
                    return Ok(PgBin { dir });
                }
            }
        }

        bail!(
            "no PostgreSQL server binaries found: set LIFEBOAT_PG_BIN_DIR to a directory containing \
             initdb, pg_ctl and postgres, or install them (Debian: apt-get install postgresql, which \
             puts them in /usr/lib/postgresql/<version>/bin)"
        )
    }

    fn program(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

/// A PostgreSQL cluster (data directory) managed by Lifeboat.
pub struct Cluster {
    dir: PathBuf,
    bin: PgBin,
    port: u16,
    superuser: String,
    password: String,
    /// The OS user server commands run as (via `runuser`) when Lifeboat runs as root.
    run_as: Option<String>,
    /// A throwaway cluster: skip fsync everywhere, durability is not wanted.
    fast: bool,
}

impl fmt::Debug for Cluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cluster")
            .field("dir", &self.dir)
            .field("bin", &self.bin.dir)
            .field("port", &self.port)
            .field("superuser", &self.superuser)
            .field("password", &"[redacted]")
            .field("run_as", &self.run_as)
            .field("fast", &self.fast)
            .finish()
    }
}

impl Cluster {
    /// Opens the cluster in `dir`, creating it with `initdb` if `dir/PG_VERSION` is absent:
    /// superuser `superuser` authenticated with `password` (scram-sha-256, for TCP and socket
    /// connections alike), UTF8. `fast` skips every fsync (`initdb --no-sync`, and `fsync=off`
    /// when running): only for clusters whose contents may be lost.
    pub async fn open_or_init(
        bin: &PgBin,
        dir: &Path,
        superuser: &str,
        password: &str,
        fast: bool,
    ) -> Result<Cluster> {
        if superuser.is_empty() {
            bail!("the cluster superuser name must not be empty");
        }
        if password.is_empty() || password.contains(['\n', '\r', '\0']) {
            // initdb reads only the first line of --pwfile.
            bail!("the cluster superuser password must be non-empty and a single line");
        }
        let dir = absolute(dir)?;
        let run_as = unprivileged_user()?;
        let mut cluster = Cluster {
            dir,
            bin: bin.clone(),
            port: 0,
            superuser: superuser.to_owned(),
            password: password.to_owned(),
            run_as,
            fast,
        };

        if cluster.dir.join("PG_VERSION").exists() {
            cluster.match_server_version().await?;
            cluster.adopt_existing().await?;
        } else {
            cluster.init().await?;
        }
        Ok(cluster)
    }

    /// Starts the server on 127.0.0.1:`port` (and a Unix socket in the cluster directory),
    /// logging to `server.log`. A server still running from an earlier process (for example
    /// after Lifeboat crashed) is stopped first.
    pub async fn start(&mut self, port: u16) -> Result<()> {
        if port == 0 {
            bail!("cannot start PostgreSQL on port 0: pick a port first (see free_port)");
        }
        if self.server_running()? {
            // Still running from an earlier start, e.g. Lifeboat crashed; it may be on another
            // port, so restart it with the settings asked for now.
            tracing::warn!(dir = %self.dir.display(), "PostgreSQL is still running from an earlier start; stopping it first");
            self.stop().await?;
        }
        self.write_settings(port)?;
        self.rotate_log();

        let log = self.log_path();
        let wait = PG_CTL_WAIT_SECS.to_string();
        let output = self
            .run(
                &self.bin.program("pg_ctl"),
                &[
                    OsStr::new("start"),
                    OsStr::new("-w"),
                    OsStr::new("-t"),
                    OsStr::new(&wait),
                    OsStr::new("-D"),
                    self.dir.as_os_str(),
                    OsStr::new("-l"),
                    log.as_os_str(),
                ],
            )
            .await
            .context("could not run pg_ctl start")?;
        if !output.status.success() {
            bail!(
                "PostgreSQL did not start on 127.0.0.1:{port} (data directory {}): pg_ctl {}: {}\n\
                 last lines of {}:\n{}",
                self.dir.display(),
                describe_exit(output.status),
                stderr_text(&output),
                log.display(),
                tail_of_file(&log, 20)
            );
        }
        self.port = port;
        tracing::info!(port, dir = %self.dir.display(), "PostgreSQL started");
        Ok(())
    }

    /// Stops the server (`pg_ctl stop -m fast -w`); succeeds if it is not running.
    pub async fn stop(&self) -> Result<()> {
        if !self.server_running()? {
            return Ok(());
        }
        let output = self.pg_ctl_stop().await?;
        if !output.status.success() {
            // It may have exited on its own between the two commands.
            if !self.server_running()? {
                return Ok(());
            }
            bail!(
                "could not stop PostgreSQL (data directory {}): pg_ctl {}: {}\nlast lines of {}:\n{}",
                self.dir.display(),
                describe_exit(output.status),
                stderr_text(&output),
                self.log_path().display(),
                tail_of_file(&self.log_path(), 20)
            );
        }
        tracing::info!(dir = %self.dir.display(), "PostgreSQL stopped");
        Ok(())
    }

    /// The TCP port the server was last started on (0 before the first start).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `postgres://superuser:password@127.0.0.1:port/db`, user, password and database
    /// percent-encoded. It contains the password: never log it.
    pub fn url(&self, db: &str) -> String {
        format!(
            "postgres://{}:{}@127.0.0.1:{}/{}",
            percent_encode(&self.superuser),
            percent_encode(&self.password),
            self.port,
            percent_encode(db)
        )
    }

    /// The cluster's data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("server.log")
    }

    async fn init(&self) -> Result<()> {
        fs::create_dir_all(&self.dir).with_context(|| {
            format!(
                "could not create the cluster directory {}",
                self.dir.display()
            )
        })?;
        // initdb wants the directory private (0700) and, when it exists, empty.
        fs::set_permissions(&self.dir, fs::Permissions::from_mode(0o700))
            .with_context(|| format!("could not restrict permissions of {}", self.dir.display()))?;
        if fs::read_dir(&self.dir)
            .with_context(|| format!("could not read {}", self.dir.display()))?
            .next()
            .is_some()
        {
            bail!(
                "{} exists and is not empty but holds no PostgreSQL cluster (no PG_VERSION); \
                 move it away or delete it so Lifeboat can create a fresh cluster there",
                self.dir.display()
            );
        }
        if let Some(user) = &self.run_as {
            chown_recursive(&self.dir, user).await?;
            check_reachable(&self.dir, user).await?;
        }

        let pwfile = PasswordFile::create(&self.password, self.run_as.as_deref()).await?;
        let mut args: Vec<OsString> = vec![
            "-D".into(),
            self.dir.clone().into(),
            "-U".into(),
            self.superuser.clone().into(),
            format!("--pwfile={}", pwfile.path.display()).into(),
            "--auth-host=scram-sha-256".into(),
            "--auth-local=scram-sha-256".into(),
            "--encoding=UTF8".into(),
            // The C locale exists everywhere and sorts by bytes; the demo does not need more.
            "--locale=C".into(),
        ];
        if self.fast {
            args.push("--no-sync".into());
        }
        tracing::info!(dir = %self.dir.display(), bin = %self.bin.dir.display(), "creating a PostgreSQL cluster");
        let output = self
            .run(&self.bin.program("initdb"), &args)
            .await
            .context("could not run initdb")?;
        drop(pwfile);
        if !output.status.success() {
            bail!(
                "initdb {} creating {}: {}",
                describe_exit(output.status),
                self.dir.display(),
                stderr_text(&output)
            );
        }

        let conf = self.dir.join("postgresql.conf");
        let mut file = OpenOptions::new()
            .append(true)
            .open(&conf)
            .with_context(|| format!("could not open {}", conf.display()))?;
        writeln!(
            file,
            "\n# Added by Lifeboat: settings it controls live in {LIFEBOAT_CONF}.\n{INCLUDE_LINE}"
        )
        .and_then(|()| file.sync_all())
        .with_context(|| format!("could not write {}", conf.display()))?;
        Ok(())
    }

    /// A data directory only works with the server major version that created it. When the
    /// discovered binaries are another major version (say a newer PostgreSQL was installed
    /// since), use `/usr/lib/postgresql/<version>/bin` if it is there, else say what to do.
    async fn match_server_version(&mut self) -> Result<()> {
        let path = self.dir.join("PG_VERSION");
        let cluster_version = fs::read_to_string(&path)
            .with_context(|| format!("could not read {}", path.display()))?
            .trim()
            .to_owned();
        let output = self
            .run(&self.bin.program("pg_ctl"), &["--version"])
            .await
            .context("could not run pg_ctl --version")?;
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        let Some(binary_version) = major_version(&text) else {
            bail!(
                "could not tell the PostgreSQL version of {} from {text:?}",
                self.bin.dir.display()
            );
        };
        if binary_version == cluster_version {
            return Ok(());
        }
        let candidate = PathBuf::from(format!("/usr/lib/postgresql/{cluster_version}/bin"));
        if is_executable(&candidate.join("pg_ctl")) && is_executable(&candidate.join("postgres")) {
            tracing::info!(
                dir = %self.dir.display(),
                version = %cluster_version,
                bin = %candidate.display(),
                "using the PostgreSQL version the cluster was created with"
            );
            self.bin = PgBin { dir: candidate };
            return Ok(());
        }
        bail!(
            "the cluster in {} was created by PostgreSQL {cluster_version}, but the server \
             binaries in {} are PostgreSQL {binary_version}; set LIFEBOAT_PG_BIN_DIR to a \
             PostgreSQL {cluster_version} bin directory, or move the cluster directory away to \
             start afresh",
            self.dir.display(),
            self.bin.dir.display()
        )
    }

    /// Makes an existing cluster usable: owned by the user the server runs as, and including
    /// Lifeboat's settings file.
    async fn adopt_existing(&self) -> Result<()> {
        if let Some(user) = &self.run_as {
            let uid = user_ids(user)?.0;
            let owner = fs::metadata(&self.dir)
                .with_context(|| format!("could not read {}", self.dir.display()))?
                .uid();
            if owner != uid {
                tracing::info!(dir = %self.dir.display(), user, "handing the cluster directory to the server's OS user");
                chown_recursive(&self.dir, user).await?;
            }
            check_reachable(&self.dir, user).await?;
        }
        let conf = self.dir.join("postgresql.conf");
        let text = fs::read_to_string(&conf)
            .with_context(|| format!("could not read {}", conf.display()))?;
        if !text.lines().any(|line| line.trim() == INCLUDE_LINE) {
            let mut file = OpenOptions::new()
                .append(true)
                .open(&conf)
                .with_context(|| format!("could not open {}", conf.display()))?;
            writeln!(file, "\n# Added by Lifeboat: settings it controls live in {LIFEBOAT_CONF}.\n{INCLUDE_LINE}")
                .with_context(|| format!("could not write {}", conf.display()))?;
        }
        Ok(())
    }

    /// Writes `lifeboat.conf`: loopback only, the socket in the cluster directory, the port.
    fn write_settings(&self, port: u16) -> Result<()> {
        // A Unix socket path is limited to 107 bytes ("DIR/.s.PGSQL.PORT"). Without a socket the
        // server still works over TCP, and pg_ctl -w watches postmaster.pid, not the socket.
        let socket_dir = if self.dir.as_os_str().len() + "/.s.PGSQL.65535".len() <= 107 {
            conf_quote(&self.dir.to_string_lossy())
        } else {
            tracing::info!(dir = %self.dir.display(), "cluster path too long for a Unix socket; TCP only");
            String::new()
        };
        let mut text = format!(
            "# Written by Lifeboat before every start; edits are overwritten.\n\
             listen_addresses = '127.0.0.1'\n\
             port = {port}\n\
             unix_socket_directories = '{socket_dir}'\n"
        );
        if self.fast {
            text.push_str("fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n");
        }
        let path = self.dir.join(LIFEBOAT_CONF);
        let tmp = self.dir.join(format!("{LIFEBOAT_CONF}.tmp"));
        {
            let mut file = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)
                .with_context(|| format!("could not write {}", tmp.display()))?;
            file.write_all(text.as_bytes())
                .and_then(|()| file.sync_all())
                .with_context(|| format!("could not write {}", tmp.display()))?;
        }
        if let Some(user) = &self.run_as {
            let (uid, gid) = user_ids(user)?;
            nix::unistd::chown(&tmp, Some(uid.into()), Some(gid.into()))
                .with_context(|| format!("could not hand {} to {user}", tmp.display()))?;
        }
        fs::rename(&tmp, &path).with_context(|| format!("could not replace {}", path.display()))?;
        Ok(())
    }

    fn rotate_log(&self) {
        let log = self.log_path();
        if fs::metadata(&log)
            .map(|m| m.len() > LOG_ROTATE_BYTES)
            .unwrap_or(false)
        {
            if let Err(err) = fs::rename(&log, self.dir.join("server.log.1")) {
                tracing::warn!(error = %err, log = %log.display(), "could not rotate the PostgreSQL log");
            }
        }
    }

    async fn pg_ctl_stop(&self) -> Result<Output> {
        let wait = PG_CTL_WAIT_SECS.to_string();
        self.run(
            &self.bin.program("pg_ctl"),
            &[
                OsStr::new("stop"),
                OsStr::new("-m"),
                OsStr::new("fast"),
                OsStr::new("-w"),
                OsStr::new("-t"),
                OsStr::new(&wait),
                OsStr::new("-D"),
                self.dir.as_os_str(),
            ],
        )
        .await
        .context("could not run pg_ctl stop")
    }

    /// Whether a live postmaster owns this cluster, judged by `postmaster.pid`. A pid file
    /// whose process is an unreaped zombie (a container whose PID 1 does not reap) or whose PID
    /// now belongs to another program is removed: the new postmaster would refuse to start
    /// while that PID answers signals, and `pg_ctl stop` must not signal a stranger. A server
    /// killed with its backends still attached stays safe: the postmaster checks its shared
    /// memory before starting.
    fn server_running(&self) -> Result<bool> {
        let pid_file = self.dir.join("postmaster.pid");
        let text = match fs::read_to_string(&pid_file) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(err) => {
                return Err(err).with_context(|| format!("could not read {}", pid_file.display()))
            }
        };
        let Some(pid) = text
            .lines()
            .next()
            .and_then(|l| l.trim().parse::<i32>().ok())
            .filter(|p| *p > 0)
        else {
            // A half-written file from a postmaster that died while starting; it ignores those.
            return Ok(false);
        };
        match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None) {
            Ok(()) | Err(nix::errno::Errno::EPERM) => {}
            // Gone: a stale file the next postmaster replaces by itself.
            Err(_) => return Ok(false),
        }
        let comm = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        let is_postgres =
            comm.trim().starts_with("postgres") || comm.trim().starts_with("postmaster");
        if is_postgres && !is_zombie(pid) {
            return Ok(true);
        }
        tracing::warn!(pid, pid_file = %pid_file.display(), "removing a stale postmaster.pid (its server is gone)");
        match fs::remove_file(&pid_file) {
            Ok(()) => Ok(false),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(err) => Err(err)
                .with_context(|| format!("could not remove the stale {}", pid_file.display())),
        }
    }

    /// Runs a server program, as the unprivileged user when Lifeboat runs as root.
    async fn run<S: AsRef<OsStr>>(&self, program: &Path, args: &[S]) -> Result<Output> {
        let mut command = match &self.run_as {
            Some(user) => {
                let mut c = command("runuser");
                c.arg("-u").arg(user).arg("--").arg(program);
                c
            }
            None => command(program),
        };
        command
            .args(args)
            // The unprivileged user may not be able to enter our working directory.
            .current_dir("/")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let shown = program.display().to_string();
        let child = command.spawn().with_context(|| match &self.run_as {
            Some(user) => format!("could not start runuser (needed to run {shown} as {user})"),
            None => format!("could not start {shown}"),
        })?;
        match tokio::time::timeout(COMMAND_TIMEOUT, child.wait_with_output()).await {
            Ok(result) => result.with_context(|| format!("waiting for {shown}")),
            Err(_) => Err(anyhow!(
                "{shown} did not finish within {} s",
                COMMAND_TIMEOUT.as_secs()
            )),
        }
    }
}

/// A command with none of Lifeboat's environment but what a program needs (the server
/// runs for as long as Lifeboat does; its environment must not hold Lifeboat's secrets).
fn command(program: impl AsRef<OsStr>) -> Command {
    let mut c = Command::new(program);
    crate::pgtools::child::isolate_env(&mut c);
    c
}

/// A free TCP port on 127.0.0.1 (bind port 0, read it, drop the listener). Another process
/// may take it before it is used; callers that care retry with a new one.
pub fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))
        .context("could not bind a free port on 127.0.0.1")?;
    Ok(listener
        .local_addr()
        .context("could not read the bound port")?
        .port())
}

/// The password for `initdb --pwfile`: a private (0600) file readable only by the user
/// initdb runs as, removed when dropped. Keeps the password out of every argv.
struct PasswordFile {
    path: PathBuf,
}

impl PasswordFile {
    async fn create(password: &str, owner: Option<&str>) -> Result<PasswordFile> {
        let name = format!(
            "lifeboat-pwfile-{}",
            Alphanumeric.sample_string(&mut rand::thread_rng(), 16)
        );
        let path = std::env::temp_dir().join(name);
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("could not create the password file {}", path.display()))?;
        let pwfile = PasswordFile { path };
        file.write_all(password.as_bytes())
            .and_then(|()| file.write_all(b"\n"))
            .with_context(|| format!("could not write {}", pwfile.path.display()))?;
        if let Some(user) = owner {
            let (uid, gid) = user_ids(user)?;
            nix::unistd::chown(&pwfile.path, Some(uid.into()), Some(gid.into()))
                .with_context(|| format!("could not hand {} to {user}", pwfile.path.display()))?;
        }
        Ok(pwfile)
    }
}

impl Drop for PasswordFile {
    fn drop(&mut self) {
        if let Err(err) = fs::remove_file(&self.path) {
            tracing::warn!(error = %err, path = %self.path.display(), "could not remove the initdb password file");
        }
    }
}

/// When the server runs as another OS user (Lifeboat runs as root), lets that user pass
/// through `dir`, the private folder that holds the cluster directory, without listing or
/// reading anything in it: `dir` gets the user's group, and the group exactly the search
/// bit (a 0700 folder becomes 0710). Nothing changes when the user can pass already.
pub async fn let_server_user_pass(dir: &Path) -> Result<()> {
    let Some(user) = unprivileged_user()? else {
        return Ok(());
    };
    if user_can(&user, "-x", dir).await? {
        return Ok(());
    }
    let (_, gid) = user_ids(&user)?;
    nix::unistd::chown(dir, None, Some(gid.into()))
        .with_context(|| format!("could not give {} the group of {user}", dir.display()))?;
    let mode = fs::metadata(dir)
        .with_context(|| format!("could not read {}", dir.display()))?
        .permissions()
        .mode();
    let mode = (mode & 0o7707) | 0o010;
    fs::set_permissions(dir, fs::Permissions::from_mode(mode))
        .with_context(|| format!("could not let {user} pass through {}", dir.display()))?;
    tracing::info!(
        dir = %dir.display(),
        user,
        "PostgreSQL runs as {user}: its group may now pass through the data directory to reach the cluster (mode {:o}), not list or read it",
        mode & 0o7777
    );
    Ok(())
}

/// When running as root: the unprivileged OS user that runs the server.
fn unprivileged_user() -> Result<Option<String>> {
    if !nix::unistd::geteuid().is_root() {
        return Ok(None);
    }
    for name in ["postgres", "nobody"] {
        if nix::unistd::User::from_name(name)
            .with_context(|| format!("could not look up the OS user {name}"))?
            .is_some()
        {
            return Ok(Some(name.to_owned()));
        }
    }
    bail!(
        "Lifeboat runs as root, but PostgreSQL refuses to: create an OS user named \"postgres\" \
         (or \"nobody\") for it to run as, or run Lifeboat as an unprivileged user"
    )
}

fn user_ids(name: &str) -> Result<(u32, u32)> {
    let user = nix::unistd::User::from_name(name)
        .with_context(|| format!("could not look up the OS user {name}"))?
        .ok_or_else(|| anyhow!("the OS user {name} does not exist"))?;
    Ok((user.uid.as_raw(), user.gid.as_raw()))
}

async fn chown_recursive(dir: &Path, user: &str) -> Result<()> {
    let output = command("chown")
        .arg("-R")
        .arg(format!("{user}:"))
        .arg(dir)
        .stdin(Stdio::null())
        .output()
        .await
        .context("could not run chown")?;
    if !output.status.success() {
        bail!(
            "chown -R {user}: {} {}: {}",
            dir.display(),
            describe_exit(output.status),
            stderr_text(&output)
        );
    }
    Ok(())
}

/// The server's OS user must be able to enter every directory above the cluster; a private
/// home directory (`/root` is 0700) is the usual culprit. Report the exact directory.
async fn check_reachable(dir: &Path, user: &str) -> Result<()> {
    if user_can(user, "-x", dir).await? && user_can(user, "-w", dir).await? {
        return Ok(());
    }
    let mut ancestors: Vec<&Path> = dir.ancestors().collect();
    ancestors.reverse();
    for ancestor in ancestors {
        if !user_can(user, "-x", ancestor).await? {
            let mode = fs::metadata(ancestor)
                .map(|m| format!("{:o}", m.mode() & 0o7777))
                .unwrap_or_default();
            bail!(
                "PostgreSQL runs as the OS user \"{user}\" (it refuses to run as root), but that user \
                 cannot enter {} (mode {mode}), which lies above the cluster directory {}. Put the \
                 data directory somewhere {user} can reach, or grant it access, e.g. \
                 `setfacl -m u:{user}:x {}` or `chmod o+x {}`",
                ancestor.display(),
                dir.display(),
                ancestor.display(),
                ancestor.display()
            );
        }
    }
    bail!(
        "PostgreSQL runs as the OS user \"{user}\", but that user cannot write to the cluster \
         directory {}",
        dir.display()
    )
}

async fn user_can(user: &str, test_flag: &str, path: &Path) -> Result<bool> {
    let status = command("runuser")
        .args(["-u", user, "--", "test", test_flag])
        .arg(path)
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await
        .with_context(|| {
            format!(
                "could not run runuser to check {user}'s access to {}",
                path.display()
            )
        })?;
    Ok(status.success())
}

fn absolute(dir: &Path) -> Result<PathBuf> {
    if dir.is_absolute() {
        Ok(dir.to_path_buf())
    } else {
        Ok(std::env::current_dir()
            .context("could not read the current directory")?
            .join(dir))
    }
}

fn is_executable(path: &Path) -> bool {
    fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// A process that has exited but was not reaped (its parent, often PID 1 in a container,
/// does not wait for it) still answers `kill(pid, 0)`.
fn is_zombie(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let (_, after_name) = stat.rsplit_once(") ")?;
            after_name.chars().next()
        })
        .is_some_and(|state| state == 'Z' || state == 'X')
}

/// The major version as `PG_VERSION` spells it, from `pg_ctl --version` output:
/// "pg_ctl (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)" → "15", "… 9.6.24" → "9.6".
fn major_version(version_output: &str) -> Option<String> {
    let (_, rest) = version_output.split_once("(PostgreSQL) ")?;
    let number = rest.split_whitespace().next()?;
    // Pre-releases read "18beta1" or "18rc1".
    let number: String = number
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let mut parts = number.split('.');
    let major: u32 = parts.next()?.parse().ok()?;
    if major >= 10 {
        Some(major.to_string())
    } else {
        Some(format!("{major}.{}", parts.next()?))
    }
}

/// "15" → [15], "9.6" → [9, 6]; anything else is not a version directory.
fn version_key(name: &str) -> Option<Vec<u32>> {
    name.split('.').map(|part| part.parse().ok()).collect()
}

fn describe_exit(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with {code}"),
        (None, Some(signal)) => format!("was killed by signal {signal}"),
        (None, None) => "ended abnormally".to_owned(),
    }
}

fn stderr_text(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let text = if stderr.trim().is_empty() {
        String::from_utf8_lossy(&output.stdout)
    } else {
        stderr
    };
    let text = text.trim();
    if text.is_empty() {
        "(no output)".to_owned()
    } else {
        text.to_owned()
    }
}

fn tail_of_file(path: &Path, lines: usize) -> String {
    match fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let all: Vec<&str> = text.lines().collect();
            all[all.len().saturating_sub(lines)..].join("\n")
        }
        Err(err) => format!("(could not read it: {err})"),
    }
}

/// Quotes a value for a single-quoted postgresql.conf string.
fn conf_quote(value: &str) -> String {
    value.replace('\\', "\\\\").replace('\'', "''")
}

/// Percent-encodes everything except RFC 3986 unreserved characters.
pub(crate) fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_encodes_reserved_characters() {
        assert_eq!(percent_encode("a b:c@d/é"), "a%20b%3Ac%40d%2F%C3%A9");
        assert_eq!(percent_encode("Az09-._~"), "Az09-._~");
    }

    #[test]
    fn version_directories_sort_numerically() {
        let mut versions: Vec<Vec<u32>> = ["9.6", "15", "10"]
            .iter()
            .filter_map(|v| version_key(v))
            .collect();
        versions.sort();
        assert_eq!(versions.last(), Some(&vec![15]));
        assert_eq!(version_key("main"), None);
    }

    #[test]
    fn major_versions_match_pg_version_files() {
        let v = |s: &str| major_version(s);
        assert_eq!(
            v("pg_ctl (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n").as_deref(),
            Some("15")
        );
        assert_eq!(v("pg_ctl (PostgreSQL) 9.6.24").as_deref(), Some("9.6"));
        assert_eq!(v("pg_ctl (PostgreSQL) 18beta1").as_deref(), Some("18"));
        assert_eq!(v("something else"), None);
    }

    #[test]
    fn conf_strings_are_quoted() {
        assert_eq!(conf_quote("/tmp/it's"), "/tmp/it''s");
    }
}
