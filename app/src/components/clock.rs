//! A clock for ages ("12 min ago") that stay true while a page is open.

use crate::format;
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use std::time::Duration;

/// How often the ages ("12 min ago", "in 3 h") are brought up to date.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
const CLOCK_EVERY: Duration = Duration::from_secs(5);

/// The current moment, moving on every [`CLOCK_EVERY`] while the calling page lives
/// (`None` on the server, which does not render ages).
pub fn ticking_now() -> ReadSignal<Option<DateTime<Utc>>> {
    let (now, set_now) = signal(format::now());
    Effect::new(move |_| {
        set_now.set(format::now());
        #[cfg(feature = "hydrate")]
        if let Ok(handle) =
            set_interval_with_handle(move || set_now.set(format::now()), CLOCK_EVERY)
        {
            on_cleanup(move || handle.clear());
        }
    });
    now
}
