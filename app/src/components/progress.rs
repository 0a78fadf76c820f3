//! The progress bar of jobs and uploads.

use leptos::prelude::*;

/// How a bar looks beyond its filled share.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Tone {
    /// Filled to its percentage.
    #[default]
    Live,
    /// Finished: full, in the colour of success (or of its card).
    Done,
    /// Working without a measure (the server checking a file): full and pulsing.
    Busy,
}

/// A bar filled to `percent` (0–100). With a `label` it is a `progressbar` for assistive
/// technology; without one it is decoration (the numbers are said next to it).
#[component]
pub fn ProgressBar(
    #[prop(into)] percent: Signal<f64>,
    #[prop(optional, into)] label: Option<Signal<String>>,
    #[prop(optional)] tone: Tone,
) -> impl IntoView {
    let class = match tone {
        Tone::Live => "progress",
        Tone::Done => "progress progress-done",
        Tone::Busy => "progress progress-busy",
    };
    let share = move || match tone {
        Tone::Live => percent.get().clamp(0.0, 100.0),
        Tone::Done | Tone::Busy => 100.0,
    };
    view! {
        <div
            class=class
            role=label.map(|_| "progressbar")
            aria-label=move || label.map(|l| l.get())
            aria-valuemin=label.map(|_| "0")
            aria-valuemax=label.map(|_| "100")
            aria-valuenow=move || label.map(|_| share().floor().to_string())
            aria-hidden=label.is_none().then_some("true")
        >
            <div class="progress-fill" style:width=move || format!("{:.1}%", share())></div>
        </div>
    }
}
