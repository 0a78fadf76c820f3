//! The widgets every page shares: the dialog, the progress bar, the loading/error view,
//! the pieces that show a backup (status pill, checksum, offsite mark…), labelled facts,
//! the pager, form helpers, a ticking clock, and what the signed-in person's role allows.

mod backup;
mod clock;
mod confirm;
mod dialog;
mod facts;
mod form;
mod loaded;
mod pager;
mod progress;
mod role;
mod text;

pub use backup::{
    proof_words, DownloadLink, DownloadLinks, OffsiteMark, PinMarker, ProvenMark, RestoreLink,
    StatusPill,
};
pub use clock::ticking_now;
pub use confirm::ConfirmItsYou;
pub use dialog::Dialog;
pub use facts::Fact;
pub use form::{field_value, hydrated, new_password_problem, set_field};
pub use loaded::{ErrorNote, FormError, Loaded};
pub use pager::Pager;
pub use progress::{ProgressBar, Tone};
pub use role::{refusal, RoleGate, ViewerNote};
pub use text::{copy_to_clipboard, CopyHash, LongText};
