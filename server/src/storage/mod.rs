//! Where backups are kept: the local volume ([`local`]) and the offsite object store
//! ([`offsite`]), their checksums ([`digest`]), and the privacy of everything Lifeboat
//! writes in its data directory ([`private`]).

pub mod digest;
pub mod local;
pub mod offsite;
pub mod private;

pub use local::*;
