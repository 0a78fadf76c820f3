//! "1–50 of 120", Newer, Older.

use leptos::prelude::*;

/// Which rows of a list are shown (from `offset`, `shown` of them, `total` in all) and the
/// buttons to the newer and older pages; `go` receives the new offset.
#[component]
pub fn Pager(
    offset: i64,
    shown: i64,
    total: i64,
    page_size: i64,
    go: Callback<i64>,
) -> impl IntoView {
    let first = if total == 0 { 0 } else { offset + 1 };
    let last = (offset + shown).min(total);
    view! {
        <nav class="pager" aria-label="Pages">
            <span class="muted">{format!("{first}–{last} of {total}")}</span>
            // The conditions are in braces: unbraced, the view macro reads the `>` of
            // `last >= total` as the end of the tag.
            <button
                class="btn"
                disabled={offset <= 0}
                on:click=move |_| go.run((offset - page_size).max(0))
            >
                "Newer"
            </button>
            <button
                class="btn"
                disabled={last >= total}
                on:click=move |_| go.run(offset + page_size)
            >
                "Older"
            </button>
        </nav>
    }
}
