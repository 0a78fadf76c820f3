//! Development and demonstration: a PostgreSQL cluster Lifeboat runs itself
//! ([`pgcluster`]), and the demo database `make run` protects ([`demo`]).

pub mod demo;
pub mod pgcluster;
