//! Caps on what one client can hold open, and the time an ordinary request may take: event
//! streams per session, uploads at once, the request timeout, the upload idle timeout.
//! (Header-read timeout and the connection cap are the listener's, in [`super::serve`].)

use super::error::{json_error, AppError};
use crate::config::Serving;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use bytes::Bytes;
use futures::{Stream, StreamExt};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The path whose body may take as long as it keeps coming (see [`request_timeout`]).
pub const UPLOADS_PATH: &str = "/api/v1/uploads";
/// "Back up now"; with `wait=true` its answer comes when the backup has ended.
pub const BACKUPS_PATH: &str = "/api/v1/backups";

/// Whether a request is "back up and wait" (`POST /api/v1/backups?wait=true`), which may
/// take as long as the backup does.
pub fn waits_for_backup(req: &Request) -> bool {
    req.method() == Method::POST
        && req.uri().path() == BACKUPS_PATH
        && req.uri().query().is_some_and(|q| {
            url::form_urlencoded::parse(q.as_bytes()).any(|(k, v)| k == "wait" && v == "true")
        })
}

pub struct Limits {
    serving: Serving,
    /// Event streams open, per session id.
    streams: Arc<Mutex<HashMap<String, u32>>>,
    uploads: Arc<Semaphore>,
}

impl Limits {
    pub fn new(serving: Serving) -> Limits {
        Limits {
            uploads: Arc::new(Semaphore::new(serving.max_uploads as usize)),
            streams: Arc::default(),
            serving,
        }
    }

    pub fn serving(&self) -> &Serving {
        &self.serving
    }

    /// A place for one more event stream of `session`, or 429 when it has its share.
    pub fn event_stream(&self, session: &str) -> Result<StreamSlot, AppError> {
        let mut open = self.streams.lock().unwrap_or_else(|p| p.into_inner());
        let n = open.entry(session.to_string()).or_default();
        if *n >= self.serving.max_event_streams {
            return Err(AppError::Refused {
                status: StatusCode::TOO_MANY_REQUESTS,
                code: "too_many_streams",
                message: format!(
                    "This session already follows {n} live event streams, the most it may (LIFEBOAT_MAX_EVENT_STREAMS); close a window or tab showing a job and try again."
                ),
                job_id: None,
            });
        }
        *n += 1;
        Ok(StreamSlot {
            streams: self.streams.clone(),
            session: session.to_string(),
        })
    }

    /// A place for one more upload, or 429 when as many as allowed are coming in.
    pub fn upload(&self) -> Result<OwnedSemaphorePermit, AppError> {
        self.uploads
            .clone()
            .try_acquire_owned()
            .map_err(|_| AppError::Refused {
                status: StatusCode::TOO_MANY_REQUESTS,
                code: "too_many_uploads",
                message: format!(
                    "{} uploads are already coming in, the most Lifeboat receives at once (LIFEBOAT_MAX_UPLOADS); try again when one has finished.",
                    self.serving.max_uploads
                ),
                job_id: None,
            })
    }
}

impl Limits {
    /// Uploads coming in right now.
    pub fn uploads_in_progress(&self) -> usize {
        (self.serving.max_uploads as usize).saturating_sub(self.uploads.available_permits())
    }
}

/// One open event stream of a session; freed when dropped (the stream ended or the
/// client went away).
pub struct StreamSlot {
    streams: Arc<Mutex<HashMap<String, u32>>>,
    session: String,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.streams.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&self.session) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.session);
            }
        }
    }
}

/// An ordinary request gets `LIFEBOAT_REQUEST_TIMEOUT` to be answered (its body read and
/// the response's head produced); then 408. An upload's body is excepted (it has the idle
/// timeout instead); so are event streams and downloads, whose bodies flow after the head,
/// and "back up and wait", answered when the backup has ended.
pub async fn request_timeout(State(limit): State<Duration>, req: Request, next: Next) -> Response {
    if (req.method() == Method::POST && req.uri().path() == UPLOADS_PATH) || waits_for_backup(&req)
    {
        return next.run(req).await;
    }
    let path = req.uri().path().to_string();
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => {
            tracing::warn!(%path, "no answer within {} s: stopped", limit.as_secs_f64());
            json_error(
                StatusCode::REQUEST_TIMEOUT,
                "timeout",
                format!(
                    "This request took longer than {} and was stopped (LIFEBOAT_REQUEST_TIMEOUT).",
                    humantime::format_duration(limit)
                ),
            )
        }
    }
}

/// `body`, ended with an error when nothing arrives for `idle`.
pub fn idle_timeout<S, E>(body: S, idle: Duration) -> impl Stream<Item = Result<Bytes, String>>
where
    S: Stream<Item = Result<Bytes, E>> + Send + 'static,
    E: std::fmt::Display,
{
    // Fused: whoever reads it may ask again after its end (a body shorter than the first
    // bytes an upload checks), and an ended `unfold` must not be polled again.
    futures::stream::unfold(Some(Box::pin(body)), move |body| async move {
        let mut body = body?;
        match tokio::time::timeout(idle, body.next()).await {
            Ok(Some(Ok(chunk))) => Some((Ok(chunk), Some(body))),
            Ok(Some(Err(e))) => Some((Err(e.to_string()), None)),
            Ok(None) => None,
            Err(_) => Some((
                Err(format!(
                    "nothing received for {} (LIFEBOAT_UPLOAD_IDLE_TIMEOUT)",
                    humantime::format_duration(idle)
                )),
                None,
            )),
        }
    })
    .fuse()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_gets_its_share_of_event_streams_and_no_more() {
        let limits = Limits::new(Serving {
            max_event_streams: 2,
            ..Serving::default()
        });
        let a = limits.event_stream("s1").expect("first");
        let _b = limits.event_stream("s1").expect("second");
        assert!(limits.event_stream("s1").is_err());
        // Another session has its own share.
        let _c = limits.event_stream("s2").expect("other session");
        drop(a);
        assert!(limits.event_stream("s1").is_ok());
    }

    #[tokio::test]
    async fn an_upload_body_that_stalls_ends_with_an_error() {
        let chunks = futures::stream::iter(vec![Ok::<_, String>(Bytes::from_static(b"x"))])
            .chain(futures::stream::pending());
        let mut s = Box::pin(idle_timeout(chunks, Duration::from_millis(200)));
        assert_eq!(s.next().await, Some(Ok(Bytes::from_static(b"x"))));
        let err = s.next().await.expect("an item").expect_err("an error");
        assert!(err.contains("nothing received for 200ms"), "{err}");
        assert_eq!(s.next().await, None);
    }
}
