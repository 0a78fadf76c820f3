//! What every request handler can reach.

use super::limits::Limits;
use super::readiness::Readiness;
use super::throttle::Throttle;
use crate::config::Config;
use crate::engine::Engine;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use sqlx::SqlitePool;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::Mutex;

#[derive(Clone)]
pub struct AppState {
    pub db: SqlitePool,
    pub config: Arc<Config>,
    /// The job services (backups), with the database being protected.
    pub engine: Engine,
    /// The one-time first-run setup token, while no administrator exists.
    pub setup_token: Arc<Mutex<Option<SetupToken>>>,
    pub throttle: Arc<Throttle>,
    /// The readiness checks' last result (`/readyz`).
    pub readiness: Arc<Readiness>,
    /// Caps on event streams and uploads, and the server's timeouts.
    pub limits: Arc<Limits>,
    pub leptos: LeptosOptions,
}

/// The one-time setup token printed at start-up, and when it stops working.
#[derive(Clone, Debug)]
pub struct SetupToken {
    pub token: String,
    pub expires: Instant,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(s: &AppState) -> LeptosOptions {
        s.leptos.clone()
    }
}
