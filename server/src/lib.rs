//! Lifeboat's server: configuration, the metadata store, accounts and sessions, the audit
//! log, the PostgreSQL tooling, and the web edge that serves the API and the SPA.
#![forbid(unsafe_code)]
// The server renders deeply nested Leptos views, whose types exceed the default limit.
#![recursion_limit = "256"]

pub mod alerts;
pub mod archive;
pub mod audit;
pub mod backups;
pub mod cli;
pub mod config;
pub mod demo;
pub mod engine;
pub mod http;
pub mod jobs;
pub mod offsite;
pub mod pgcluster;
pub mod pgtools;
pub mod restores;
pub mod retention;
pub mod schedule;
pub mod sessions;
pub mod startup;
pub mod state;
pub mod storage;
pub mod store;
pub mod target;
pub mod telemetry;
pub mod throttle;
pub mod uploads;
pub mod users;
pub mod verify;
