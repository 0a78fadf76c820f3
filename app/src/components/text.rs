//! Long values shown short, with the whole value on demand: checksums (with a copy button)
//! and long texts (messages, paths) that would otherwise stretch a table.

use crate::format;
use leptos::prelude::*;
use std::time::Duration;

/// A SHA-256 (the first 12 characters when `short`; the whole one on hover) and a button
/// copying the whole one to the clipboard.
#[component]
pub fn CopyHash(hash: String, short: bool) -> impl IntoView {
    let copied = RwSignal::new(None::<bool>);
    let shown = if short {
        format::short_hash(&hash)
    } else {
        hash.clone()
    };
    let full = hash.clone();
    let on_click = move |_| {
        copied.set(Some(copy_to_clipboard(&full)));
        set_timeout(
            move || {
                copied.try_set(None);
            },
            Duration::from_secs(2),
        );
    };
    view! {
        <span class="hash">
            <code title=hash data-testid="backup-sha256">
                {shown}
            </code>
            <button
                type="button"
                class="btn btn-small btn-quiet"
                data-testid="copy-sha256"
                aria-label="Copy the SHA-256 checksum"
                on:click=on_click
            >
                {move || match copied.get() {
                    Some(true) => "Copied",
                    Some(false) => "Copy failed",
                    None => "Copy",
                }}
            </button>
        </span>
    }
}

/// A text of any length: shown whole when short, else its beginning, the whole text
/// unfolding on a click (and on hover, as a tooltip).
#[component]
pub fn LongText(
    text: String,
    /// Characters shown before folding.
    #[prop(default = 60)]
    keep: usize,
) -> impl IntoView {
    match shorten(&text, keep) {
        None => view! { <span class="long-text">{text}</span> }.into_any(),
        Some(short) => view! {
            <details class="long-text fold-inline">
                <summary title=text.clone()>{short}</summary>
                <span class="long-text-full">{text}</span>
            </details>
        }
        .into_any(),
    }
}

/// The first `keep` characters and `…`, or `None` when the text is short enough.
pub(crate) fn shorten(text: &str, keep: usize) -> Option<String> {
    if text.chars().count() <= keep {
        return None;
    }
    let head: String = text.chars().take(keep).collect();
    Some(format!("{}…", head.trim_end()))
}

/// Puts `text` on the clipboard; false when the browser offers no clipboard (plain HTTP
/// on a remote address).
pub fn copy_to_clipboard(text: &str) -> bool {
    #[cfg(feature = "hydrate")]
    {
        let Some(window) = web_sys::window() else {
            return false;
        };
        let clipboard = window.navigator().clipboard();
        let js: &wasm_bindgen::JsValue = clipboard.as_ref();
        if js.is_undefined() || js.is_null() {
            return false;
        }
        let _ = clipboard.write_text(text);
        true
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = text;
        false
    }
}

#[cfg(test)]
mod tests {
    use super::shorten;

    #[test]
    fn only_long_texts_are_shortened() {
        assert_eq!(shorten("short", 10), None);
        assert_eq!(shorten("exactly 10", 10), None);
        assert_eq!(shorten("a bit longer text", 6).as_deref(), Some("a bit…"));
        assert_eq!(shorten("ééééé", 3).as_deref(), Some("ééé…"));
    }
}
