//! The server's limits: a header that never finishes, too many event streams for one
//! session, too many uploads at once, and event streams that end with their session.

use crate::support::*;
use app::api::{ApiError, StartedJob};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn a_client_that_stalls_in_its_header_is_disconnected() {
    let app = spawn_app(Options {
        env: vec![("LIFEBOAT_HEADER_READ_TIMEOUT", "1s".into())],
        ..Default::default()
    })
    .await;
    let mut slow = tokio::net::TcpStream::connect(app.server.addr)
        .await
        .expect("connect");
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: lifeboat\r\nUser-Ag")
        .await
        .expect("half a header");
    let sent = Instant::now();
    // Whatever the server says last, it then closes the connection.
    let mut buf = [0u8; 1024];
    let closed = tokio::time::timeout(Duration::from_secs(8), async {
        loop {
            match slow.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(
        closed.is_ok(),
        "the connection is still open 8 s after half a header"
    );
    assert!(
        sent.elapsed() >= Duration::from_millis(900),
        "closed before the timeout: {:?}",
        sent.elapsed()
    );
    // Complete requests are still served.
    let ok = reqwest::get(app.url("/healthz")).await.expect("healthz");
    assert_eq!(ok.status(), 200);
}

/// A backup of a fresh database `name` that stays running (its pg_dump takes its time)
/// until it is cancelled.
async fn running_backup(
    name: &str,
    env: Vec<(&'static str, String)>,
) -> (TestApp, StartedJob, tempfile::TempDir) {
    let url = create_database(name).await;
    let slow = fake_pg_dump("head -c 1000 /dev/urandom > \"$OUT\"\nsleep 60");
    let mut env = env;
    env.push(("LIFEBOAT_PG_BIN_DIR", slow.path().display().to_string()));
    let app = TestApp::signed_in(Options {
        env,
        target: Some(url),
    })
    .await;
    let r = app.start_backup().await;
    assert_eq!(r.status(), 202);
    let started: StartedJob = r.json().await.expect("started");
    (app, started, slow)
}

async fn cancel(app: &TestApp, job_id: i64) {
    let r = app
        .client
        .delete(app.url(&format!("/api/v1/jobs/{job_id}")))
        .send()
        .await
        .expect("cancel");
    assert_eq!(r.status(), 202);
    app.wait(job_id).await;
}

async fn open_events(app: &TestApp, client: &reqwest::Client, job_id: i64) -> reqwest::Response {
    client
        .get(app.url(&format!("/api/v1/jobs/{job_id}/events")))
        .send()
        .await
        .expect("events")
}

#[tokio::test]
async fn a_session_may_follow_only_so_many_event_streams() {
    let (app, job, _tools) = running_backup(
        "lb_limits_streams",
        vec![("LIFEBOAT_MAX_EVENT_STREAMS", "3".into())],
    )
    .await;
    let mut open = vec![];
    for _ in 0..3 {
        let r = open_events(&app, &app.client, job.job_id).await;
        assert_eq!(r.status(), 200);
        open.push(r);
    }
    let refused = open_events(&app, &app.client, job.job_id).await;
    assert_eq!(refused.status(), 429);
    let err: ApiError = refused.json().await.expect("error body");
    assert_eq!(err.error, "too_many_streams");
    assert!(
        err.message.contains("LIFEBOAT_MAX_EVENT_STREAMS"),
        "{}",
        err.message
    );

    // Another session has its own share.
    let other = client_for(&app.base);
    assert_eq!(
        app.login_with(&other, "admin", PASSWORD).await.status(),
        200
    );
    assert_eq!(open_events(&app, &other, job.job_id).await.status(), 200);

    // A stream closed by its client gives its place back.
    drop(open.pop());
    let mut again = 0;
    for _ in 0..100 {
        again = open_events(&app, &app.client, job.job_id)
            .await
            .status()
            .as_u16();
        if again == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(again, 200);
    cancel(&app, job.job_id).await;
}

#[tokio::test]
async fn an_event_stream_ends_when_its_session_is_signed_out() {
    let (app, job, _tools) = running_backup("lb_limits_signout", vec![]).await;
    let mut events = open_events(&app, &app.client, job.job_id).await;
    assert_eq!(events.status(), 200);
    // The stream is live: the job's state comes at once.
    let first = tokio::time::timeout(Duration::from_secs(5), events.chunk())
        .await
        .expect("a first event")
        .expect("chunk");
    assert!(first.is_some());

    let out = app
        .client
        .post(app.url("/api/v1/auth/logout"))
        .send()
        .await
        .expect("logout");
    assert!(out.status().is_success(), "{}", out.status());
    let ended = tokio::time::timeout(Duration::from_secs(8), async {
        while let Some(_chunk) = events.chunk().await.expect("chunk") {}
    })
    .await;
    assert!(
        ended.is_ok(),
        "the event stream is still open 8 s after signing out (the job runs on)"
    );
    let job_now = app
        .client
        .get(app.url(&format!("/api/v1/jobs/{}", job.job_id)))
        .send()
        .await
        .expect("job");
    assert_eq!(job_now.status(), 401, "signed out");

    assert_eq!(app.login("admin", PASSWORD).await.status(), 200);
    cancel(&app, job.job_id).await;
}

/// An upload whose body is sent as `tx` is fed; it stays open until `tx` is dropped.
fn slow_upload(
    app: &TestApp,
) -> (
    tokio::sync::mpsc::Sender<Result<Vec<u8>, std::io::Error>>,
    tokio::task::JoinHandle<u16>,
) {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    let body = reqwest::Body::wrap_stream(futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    }));
    let request = app
        .client
        .post(app.url("/api/v1/uploads?filename=slow.dump"))
        .header("content-type", "application/octet-stream")
        .body(body);
    let answer = tokio::spawn(async move {
        request
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
    });
    (tx, answer)
}

#[tokio::test]
async fn too_many_uploads_at_once_are_refused() {
    let app = TestApp::signed_in(Options::default()).await;
    // Two slow uploads (the default cap) each hold a place while their body trickles in.
    let (first, first_answer) = slow_upload(&app);
    let (second, _second_answer) = slow_upload(&app);
    for tx in [&first, &second] {
        tx.send(Ok(b"PGDMP".to_vec())).await.expect("send");
    }
    let limits = app.server.state.limits.clone();
    let deadline = Instant::now() + Duration::from_secs(20);
    while limits.uploads_in_progress() < 2 {
        assert!(Instant::now() < deadline, "the two uploads did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let third = app
        .client
        .post(app.url("/api/v1/uploads?filename=third.dump"))
        .body(b"PGDMP".to_vec())
        .send()
        .await
        .expect("third upload");
    assert_eq!(third.status(), 429);
    let err: ApiError = third.json().await.expect("error body");
    assert_eq!(err.error, "too_many_uploads");
    assert!(
        err.message.contains("LIFEBOAT_MAX_UPLOADS"),
        "{}",
        err.message
    );

    // The first upload ends (not a valid dump: refused); its place is free again.
    drop(first);
    let status = tokio::time::timeout(Duration::from_secs(20), first_answer)
        .await
        .expect("the first upload is answered")
        .expect("join");
    assert!(status != 0 && status != 429, "{status}");
    let fourth = app
        .client
        .post(app.url("/api/v1/uploads?filename=fourth.dump"))
        .body(b"PGDMP".to_vec())
        .send()
        .await
        .expect("fourth upload");
    assert_ne!(fourth.status(), 429);
    drop(second);
}

/// Reads what the server sends on `conn` until it closes it or `within` passes.
async fn read_answer(conn: &mut tokio::net::TcpStream, within: Duration) -> Option<String> {
    let mut got = vec![];
    let mut buf = [0u8; 4096];
    let read = tokio::time::timeout(within, async {
        loop {
            match conn.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    got.extend_from_slice(&buf[..n]);
                    if got.windows(4).any(|w| w == b"\r\n\r\n") {
                        return;
                    }
                }
            }
        }
    })
    .await;
    (read.is_ok() && !got.is_empty()).then(|| String::from_utf8_lossy(&got).into_owned())
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_until_one_closes() {
    let app = spawn_app(Options {
        env: vec![("LIFEBOAT_MAX_CONNECTIONS", "2".into())],
        ..Default::default()
    })
    .await;
    let addr = app.server.addr;
    let idle_a = tokio::net::TcpStream::connect(addr).await.expect("a");
    let _idle_b = tokio::net::TcpStream::connect(addr).await.expect("b");
    let mut third = tokio::net::TcpStream::connect(addr).await.expect("third");
    third
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: lifeboat\r\n\r\n")
        .await
        .expect("request");
    assert_eq!(
        read_answer(&mut third, Duration::from_millis(1500)).await,
        None,
        "a third connection was served beside two open ones"
    );
    drop(idle_a);
    let answer = read_answer(&mut third, Duration::from_secs(10))
        .await
        .expect("served once a connection closed");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn a_request_whose_body_stalls_gets_408() {
    let app = spawn_app(Options {
        env: vec![("LIFEBOAT_REQUEST_TIMEOUT", "1s".into())],
        ..Default::default()
    })
    .await;
    let mut conn = tokio::net::TcpStream::connect(app.server.addr)
        .await
        .expect("connect");
    conn.write_all(
        b"POST /api/v1/auth/login HTTP/1.1\r\nHost: lifeboat\r\nX-Requested-With: test\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"username\":",
    )
    .await
    .expect("half a body");
    let answer = read_answer(&mut conn, Duration::from_secs(8))
        .await
        .expect("an answer while the body is still missing");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
}

#[tokio::test]
async fn an_upload_that_stops_sending_is_abandoned() {
    let app = TestApp::signed_in(Options {
        env: vec![("LIFEBOAT_UPLOAD_IDLE_TIMEOUT", "1s".into())],
        ..Default::default()
    })
    .await;
    let (tx, answer) = slow_upload(&app);
    tx.send(Ok(b"PGDMP".to_vec())).await.expect("send");
    // The body stays open (tx is kept) but sends nothing more.
    let status = tokio::time::timeout(Duration::from_secs(10), answer)
        .await
        .expect("answered while the body is still open")
        .expect("join");
    assert_eq!(status, 400);
    assert_eq!(app.server.state.limits.uploads_in_progress(), 0);
    drop(tx);
}
