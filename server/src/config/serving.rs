//! How the web server guards itself against slow, numerous or greedy clients: timeouts,
//! caps on connections, event streams and uploads, and how often the readiness checks
//! behind `/readyz` run.

use super::sources::Values;
use std::time::Duration;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Serving {
    /// A connection must send a request's whole header within this (also how long an
    /// idle kept-alive connection stays open).
    pub header_read_timeout: Duration,
    /// An ordinary request must be answered within this (event streams, downloads and
    /// uploads are not ordinary: they may last as long as they make progress).
    pub request_timeout: Duration,
    /// An upload whose body sends nothing for this long is abandoned.
    pub upload_idle_timeout: Duration,
    /// Connections served at once; more wait to be accepted.
    pub max_connections: u32,
    /// Event streams (live job progress) open at once per signed-in session.
    pub max_event_streams: u32,
    /// Uploads received at once.
    pub max_uploads: u32,
    /// How often the readiness checks run (`/readyz` answers from the last run).
    pub ready_check_interval: Duration,
}

impl Default for Serving {
    fn default() -> Serving {
        Serving {
            header_read_timeout: Duration::from_secs(15),
            request_timeout: Duration::from_secs(60),
            upload_idle_timeout: Duration::from_secs(60),
            max_connections: 512,
            max_event_streams: 8,
            max_uploads: 2,
            ready_check_interval: Duration::from_secs(30),
        }
    }
}

pub(super) fn load(v: &mut Values) -> Serving {
    let d = Serving::default();
    Serving {
        header_read_timeout: v.duration("LIFEBOAT_HEADER_READ_TIMEOUT", d.header_read_timeout),
        request_timeout: v.duration("LIFEBOAT_REQUEST_TIMEOUT", d.request_timeout),
        upload_idle_timeout: v.duration("LIFEBOAT_UPLOAD_IDLE_TIMEOUT", d.upload_idle_timeout),
        max_connections: v.count("LIFEBOAT_MAX_CONNECTIONS", d.max_connections, "connections"),
        max_event_streams: v.count(
            "LIFEBOAT_MAX_EVENT_STREAMS",
            d.max_event_streams,
            "event streams",
        ),
        max_uploads: v.count("LIFEBOAT_MAX_UPLOADS", d.max_uploads, "uploads"),
        ready_check_interval: v.duration("LIFEBOAT_READY_CHECK_INTERVAL", d.ready_check_interval),
    }
}
