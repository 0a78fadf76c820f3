//! The `/api/v1` wire types, shared by the server (which produces them) and the SPA (which
//! consumes them), so the two cannot drift apart. One file per resource; everything is
//! re-exported here, so `app::api::Backup` names a type whatever file holds it.
//!
//! Where the wire uses a closed set of words (job statuses, phases, backup kinds, audit
//! actions…) there is an enum with the exact words ([`wire_enum!`]). The structs keep those
//! fields as `String`s, as the server builds and stores them that way; the UI reads them
//! through the typed accessors (`Job::state()`, `Backup::state()`, …), and an unknown word
//! (a newer server) reads as `None` and is shown as it came.

#[macro_use]
mod wire;
mod access;
mod audit;
mod auth;
mod backups;
mod health;
mod jobs;
mod people;
mod restores;
mod settings;
mod tokens;

pub use access::*;
pub use audit::*;
pub use auth::*;
pub use backups::*;
pub use health::*;
pub use jobs::*;
pub use people::*;
pub use restores::*;
pub use settings::*;
pub use tokens::*;

use serde::{Deserialize, Serialize};

/// The header every state-changing request must carry (CSRF defence: a browser will not
/// add a custom header to a cross-site request without a CORS preflight we never grant).
pub const CSRF_HEADER: &str = "x-requested-with";
/// Set to `1` on requests made by a timer (polling), not by the person: the server does
/// not count them as activity, so they do not keep an idle session alive.
pub const BACKGROUND_HEADER: &str = "x-lifeboat-background";
/// The value the SPA sends in [`CSRF_HEADER`]; the server accepts any non-empty value.
pub const CSRF_HEADER_VALUE: &str = "lifeboat";

/// Every error response body: a stable machine code and a sentence for a person.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub error: String,
    pub message: String,
    /// With 409 "a backup is already running": the job to follow instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<i64>,
}
