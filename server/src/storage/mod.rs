//! Where backups are kept: the local volume ([`local`]) and the offsite object store
//! ([`offsite`]), and their checksums ([`digest`]).

pub mod digest;
pub mod local;
pub mod offsite;

pub use local::*;
