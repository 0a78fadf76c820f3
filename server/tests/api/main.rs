//! Black-box tests: a real Lifeboat on port 0, driven over HTTP (and its CLI), against a
//! real PostgreSQL.

mod alerts;
mod auth;
mod backups;
mod cli;
mod clients;
mod confirm;
mod crash_safety;
mod full_disk;
mod hang;
mod health;
mod limits;
mod offsite;
mod people;
mod privacy;
mod proof;
mod restores;
mod roles;
mod runbook;
mod schedule;
mod setup_and_audit;
mod support;
mod swap;
mod swap_recovery;
mod test_restores;
mod throttle;
mod tls;
mod tokens;
mod totp;
