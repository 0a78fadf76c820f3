//! The one way a page shows data it fetches: a line while it loads, the error where the
//! data would have been, the data once it is there.

use crate::client::ClientError;
use leptos::prelude::*;

/// Shows `resource`: `loading` until it answers, its error if it fails, else `children`
/// with the data (`<Loaded resource loading="Loading…" let:data>…</Loaded>`).
#[component]
pub fn Loaded<T, F, V>(
    resource: LocalResource<Result<T, ClientError>>,
    /// What is being waited for, e.g. "Loading the audit log…".
    loading: &'static str,
    children: F,
) -> impl IntoView
where
    T: Clone + Send + Sync + 'static,
    F: Fn(T) -> V + Send + Sync + 'static,
    V: IntoView + 'static,
{
    // Erased to one view type: each page's data view stays a separate, shallow type.
    move || match resource.get() {
        None => view! {
            <p class="muted" data-testid="loading">
                {loading}
            </p>
        }
        .into_any(),
        Some(Err(error)) => view! { <ErrorNote error /> }.into_any(),
        Some(Ok(data)) => children(data).into_any(),
    }
}

/// An API error, shown where the data would have been.
#[component]
pub fn ErrorNote(error: ClientError) -> impl IntoView {
    view! { <FormError message=error.to_string() /> }
}

/// A sentence saying what went wrong, announced to screen readers.
#[component]
pub fn FormError(
    #[prop(into)] message: String,
    #[prop(optional)] testid: Option<&'static str>,
) -> impl IntoView {
    view! {
        <p class="form-error" role="alert" data-testid=testid>
            {message}
        </p>
    }
}
