//! Labelled facts inside a `<dl>`.

use leptos::prelude::*;

/// A labelled value of a `<dl>` (`—` while there is nothing to say). Takes a fixed value
/// or a signal (the progress panel's numbers move).
#[component]
pub fn Fact(
    label: &'static str,
    #[prop(optional)] testid: Option<&'static str>,
    #[prop(into)] value: Signal<Option<String>>,
) -> impl IntoView {
    view! {
        <dt>{label}</dt>
        <dd data-testid=testid>{move || value.get().unwrap_or_else(|| "—".to_string())}</dd>
    }
}
