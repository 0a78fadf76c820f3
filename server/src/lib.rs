//! Lifeboat's server: configuration, the metadata store, accounts and sessions, the audit
//! log, the PostgreSQL tooling, and the web edge that serves the API and the SPA.
#![forbid(unsafe_code)]

pub mod audit;
pub mod cli;
pub mod config;
pub mod demo;
pub mod http;
pub mod pgcluster;
pub mod pgtools;
pub mod sessions;
pub mod startup;
pub mod state;
pub mod store;
pub mod target;
pub mod telemetry;
pub mod throttle;
pub mod users;
