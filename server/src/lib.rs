//! Lifeboat's server. The modules read like the product:
//!
//! - `engine/` — the jobs (backup, restore, upload validation, verify, schedule,
//!   retention, offsite copies) and their runner; no HTTP, no UI;
//! - `pgtools/` — the PostgreSQL client tools, run through one supervised child process;
//! - `storage/` — the local backup volume, the offsite store, checksums;
//! - `store/` — Lifeboat's own SQLite database: all SQL, one module per table;
//! - `http/` — the thin web edge: routes per resource, extractors, one error type;
//! - `config/`, `secret`, `target`, `proxies`, `schedule`, `retention`, `alerts/`, `users`, `tokens`,
//!   `second_factor` — the settings, the pure rules, and accounts' credentials;
//! - `startup`, `cli` (`cli_tokens`) — putting it together; `dev/` — the demo database.
#![forbid(unsafe_code)]
// The server renders deeply nested Leptos views, whose types exceed the default limit.
#![recursion_limit = "256"]

pub mod alerts;
pub mod cli;
pub mod cli_tokens;
pub mod config;
pub mod databases;
pub mod dev;
pub mod engine;
pub mod followups;
pub mod http;
pub mod pgtools;
pub mod proxies;
pub mod retention;
pub mod schedule;
pub mod second_factor;
pub mod secret;
pub mod startup;
pub mod storage;
pub mod store;
pub mod target;
pub mod telemetry;
pub mod tokens;
pub mod users;
