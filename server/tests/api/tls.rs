//! TLS to the target: a PostgreSQL cluster that accepts only TLS connections (`hostssl`),
//! with a certificate from a private CA the test makes with the `openssl` command, backed
//! up with `sslmode=verify-full`; and the clear refusal when the URL names another CA.

use crate::support::*;
use app::api::{job_status, ApiError, ReadyReport, StartedJob};
use server::dev::pgcluster::{free_port, Cluster, PgBin};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A self-signed CA in `dir/NAME.pem` (key `dir/NAME.key`).
fn make_ca(dir: &Path, name: &str) -> PathBuf {
    let (key, pem) = (format!("{name}.key"), format!("{name}.pem"));
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &pem,
            "-days",
            "2",
            "-subj",
            &format!("/CN=Lifeboat test {name}"),
        ],
    );
    dir.join(pem)
}

/// A server certificate for 127.0.0.1 (and no host name) signed by the CA `ca`:
/// `dir/server.crt`, `dir/server.key`.
fn make_server_cert(dir: &Path, ca: &str) {
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName = IP:127.0.0.1\nbasicConstraints = CA:FALSE\n\
         keyUsage = critical, digitalSignature\nextendedKeyUsage = serverAuth\n",
    )
    .expect("write ext");
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            &format!("{ca}.pem"),
            "-CAkey",
            &format!("{ca}.key"),
            "-CAcreateserial",
            "-days",
            "2",
            "-out",
            "server.crt",
            "-extfile",
            "server.ext",
        ],
    );
}

/// A cluster that takes TCP connections over TLS only, with `certs/server.{crt,key}`.
async fn tls_cluster(root: &Path, certs: &Path) -> Cluster {
    let bin = PgBin::discover().expect("pg binaries");
    let mut cluster =
        Cluster::open_or_init(&bin, &root.join("pg"), "lifeboat", "tls-test-pw", true)
            .await
            .expect("init");
    let data = cluster.dir().to_path_buf();
    let owner = std::fs::metadata(&data).expect("stat").uid();
    for f in ["server.crt", "server.key"] {
        std::fs::copy(certs.join(f), data.join(f)).expect("copy cert");
        std::os::unix::fs::chown(data.join(f), Some(owner), None).expect("chown");
        std::fs::set_permissions(data.join(f), std::fs::Permissions::from_mode(0o600))
            .expect("chmod");
    }
    let mut conf = std::fs::OpenOptions::new()
        .append(true)
        .open(data.join("postgresql.conf"))
        .expect("open conf");
    writeln!(
        conf,
        "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'"
    )
    .expect("write conf");
    // Every TCP line becomes `hostssl`: a plain connection finds no entry and is refused.
    let hba = data.join("pg_hba.conf");
    let text = std::fs::read_to_string(&hba).expect("read hba");
    let only_tls: String = text
        .lines()
        .map(|l| match l.strip_prefix("host ") {
            Some(rest) => format!("hostssl {rest}\n"),
            None => format!("{l}\n"),
        })
        .collect();
    assert!(only_tls.contains("hostssl"), "{text}");
    std::fs::write(&hba, only_tls).expect("write hba");
    cluster
        .start(free_port().expect("port"))
        .await
        .expect("start");
    cluster
}

fn with_tls(url: &str, query: &str) -> String {
    format!("{url}?{query}")
}

async fn ready(app: &TestApp) -> (u16, ReadyReport) {
    // Signed in: the checks' details are only given to a session.
    let r = app
        .client
        .get(app.url("/readyz"))
        .send()
        .await
        .expect("readyz");
    let status = r.status().as_u16();
    (status, r.json().await.expect("report"))
}

fn target_check(r: &ReadyReport) -> &app::api::ReadyCheck {
    r.checks
        .iter()
        .find(|c| c.name == "target")
        .expect("target check")
}

#[tokio::test]
async fn a_backup_over_verify_full_tls_succeeds_and_a_wrong_ca_is_refused_clearly() {
    let root = tempfile::tempdir().expect("tmp");
    // The cluster runs as another OS user when we are root: let it in.
    std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let certs = root.path().join("certs");
    std::fs::create_dir(&certs).expect("mkdir");
    let ca = make_ca(&certs, "ca");
    let other_ca = make_ca(&certs, "other-ca");
    make_server_cert(&certs, "ca");
    let cluster = tls_cluster(root.path(), &certs).await;
    let base = cluster.url("postgres");
    let ca_q = format!("sslrootcert={}", ca.display());

    // Plain connections are refused by the server; TLS ones are let in (and are TLS).
    let Err(plain) = server::target::connect(&target(&with_tls(&base, "sslmode=disable"))).await
    else {
        panic!("a plain connection is let in");
    };
    assert!(plain.contains("no encryption"), "{plain}");
    let client = server::target::connect(&target(&with_tls(
        &base,
        &format!("sslmode=verify-full&{ca_q}"),
    )))
    .await
    .expect("verify-full connects");
    let ssl: bool = client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .expect("pg_stat_ssl")
        .get(0);
    assert!(ssl, "the connection is encrypted");
    client
        .batch_execute(
            "CREATE TABLE marker (v text); INSERT INTO marker VALUES ('over-tls');
             CREATE TABLE filler AS SELECT g, md5(g::text) AS h FROM generate_series(1, 5000) g;",
        )
        .await
        .expect("sample data");

    // verify-full checks the name: `localhost` is not in the certificate; verify-ca
    // does not check it.
    let localhost = base.replace("127.0.0.1", "localhost");
    let Err(by_name) = server::target::connect(&target(&with_tls(
        &localhost,
        &format!("sslmode=verify-full&{ca_q}"),
    )))
    .await
    else {
        panic!("verify-full let in a certificate for another name");
    };
    assert!(
        by_name.contains("not issued for the host name localhost"),
        "{by_name}"
    );
    server::target::connect(&target(&with_tls(
        &localhost,
        &format!("sslmode=verify-ca&{ca_q}"),
    )))
    .await
    .expect("verify-ca does not check the name");

    // A backup end to end; pg_dump is the real one, run through a wrapper that notes the
    // TLS settings it was handed.
    let seen = root.path().join("pg_dump.env");
    let wrapper = fake_pg_dump(&format!(
        "echo \"$PGSSLMODE $PGSSLROOTCERT\" > '{}'\nexec \"$REAL\" \"$@\"",
        seen.display()
    ));
    let app = TestApp::signed_in(Options {
        target: Some(with_tls(&base, &format!("sslmode=verify-full&{ca_q}"))),
        env: vec![("LIFEBOAT_PG_BIN_DIR", wrapper.path().display().to_string())],
    })
    .await;
    let (status, report) = ready(&app).await;
    assert_eq!(status, 200, "{report:?}");
    assert!(target_check(&report).ok);
    let resp = app.start_backup().await;
    assert_eq!(resp.status(), 202, "{:?}", resp.text().await);
    let started: StartedJob = resp.json().await.expect("started");
    let job = app.wait(started.job_id).await;
    assert_eq!(job.status, job_status::SUCCEEDED, "{job:?}");
    assert_eq!(
        std::fs::read_to_string(&seen)
            .expect("the wrapper ran")
            .trim(),
        format!("verify-full {}", ca.display())
    );
    let d = app.backup_detail(job.backup_id.expect("backup id")).await;
    assert!(d.backup.sha256.is_some(), "{d:?}");

    // Another CA: not ready, and a backup is refused before pg_dump runs, in plain words.
    let wrong = TestApp::signed_in(Options {
        target: Some(with_tls(
            &base,
            &format!("sslmode=verify-full&sslrootcert={}", other_ca.display()),
        )),
        env: vec![],
    })
    .await;
    let (status, report) = ready(&wrong).await;
    assert_eq!(status, 503, "{report:?}");
    let detail = &target_check(&report).detail;
    let expected = format!(
        "the target's certificate is not signed by {}",
        other_ca.display()
    );
    assert!(detail.contains(&expected), "{detail}");
    assert!(!detail.contains("UnknownIssuer"), "{detail}");
    let resp = wrong.start_backup().await;
    assert_eq!(resp.status(), 422);
    let err: ApiError = resp.json().await.expect("error");
    assert!(err.message.contains(&expected), "{}", err.message);

    cluster.stop().await.expect("stop");
}
