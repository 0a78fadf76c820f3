//! The one modal dialog: a backdrop, a titled box, the focus kept inside while it is open.

use leptos::html::Div;
use leptos::prelude::*;

/// A modal dialog. It focuses the element `focus` selects once it is shown (and again each
/// time `refocus` changes, e.g. when a refused request re-enabled the buttons); Tab and
/// Shift+Tab wrap around inside it; Escape or a click outside asks `on_close` (which may
/// refuse, e.g. while a request runs); when it goes away the focus returns to what had it
/// (the button that opened it). Its heading is `title`; `testid` names it for tests and
/// gives the ids of its heading (`{testid}-title`) and description (`{testid}-text`: the
/// caller puts that id on the paragraph that says what will happen).
#[component]
pub fn Dialog(
    #[prop(into)] title: Signal<String>,
    testid: &'static str,
    on_close: Callback<()>,
    /// A CSS selector, inside the dialog, of what gets the focus first.
    focus: &'static str,
    #[prop(optional, into)] refocus: Option<Signal<bool>>,
    /// Room for a form with options.
    #[prop(optional)]
    wide: bool,
    children: Children,
) -> impl IntoView {
    let root = NodeRef::<Div>::new();
    keep_focus(root, focus, refocus);
    Effect::new(move |_| {
        let handle = window_event_listener(leptos::ev::keydown, move |ev| {
            if ev.key() == "Escape" {
                ev.prevent_default();
                on_close.run(());
            }
        });
        on_cleanup(move || handle.remove());
    });
    let on_keydown = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() == "Tab" {
            wrap_tab(&ev, root);
        }
    };
    view! {
        <div class="modal-backdrop" on:click=move |_| on_close.run(())>
            <div
                class=if wide { "modal modal-wide" } else { "modal" }
                role="dialog"
                aria-modal="true"
                aria-labelledby=format!("{testid}-title")
                aria-describedby=format!("{testid}-text")
                data-testid=testid
                node_ref=root
                on:click=|ev| ev.stop_propagation()
                on:keydown=on_keydown
            >
                <h2 id=format!("{testid}-title")>{move || title.get()}</h2>
                {children()}
            </div>
        </div>
    }
}

/// Focuses what `selector` names once the dialog is in the page (and when `refocus`
/// changes); gives the focus back to what had it before when the dialog goes away.
fn keep_focus(root: NodeRef<Div>, selector: &'static str, refocus: Option<Signal<bool>>) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let previous = StoredValue::new_local(
            document()
                .active_element()
                .and_then(|el| el.dyn_into::<web_sys::HtmlElement>().ok()),
        );
        Effect::new(move |_| {
            if let Some(r) = refocus {
                r.track();
            }
            let target = root
                .get()
                .and_then(|el| el.query_selector(selector).ok().flatten())
                .and_then(|el| el.dyn_into::<web_sys::HtmlElement>().ok());
            if let Some(el) = target {
                let _ = el.focus();
            }
        });
        on_cleanup(move || {
            previous.try_with_value(|el| {
                if let Some(el) = el {
                    let _ = el.focus();
                }
            });
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (root, selector, refocus);
}

/// Tab on the last focusable element goes to the first, Shift+Tab on the first to the last.
fn wrap_tab(ev: &leptos::ev::KeyboardEvent, dialog: NodeRef<Div>) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::{JsCast, JsValue};
        let Some(root) = dialog.get_untracked() else {
            return;
        };
        let Ok(list) = root.query_selector_all(
            "input:not([disabled]), button:not([disabled]), select:not([disabled]), \
             textarea:not([disabled]), a[href], summary",
        ) else {
            return;
        };
        // Only what is shown (not the options inside a closed <details>).
        let items: Vec<web_sys::HtmlElement> = (0..list.length())
            .filter_map(|i| list.item(i))
            .filter_map(|n| n.dyn_into::<web_sys::HtmlElement>().ok())
            .filter(|el| el.offset_parent().is_some())
            .collect();
        let (Some(first), Some(last)) = (items.first(), items.last()) else {
            return;
        };
        let active = document().active_element();
        let at = active.as_ref().and_then(|a| {
            let a: &JsValue = a.as_ref();
            items
                .iter()
                .position(|el| AsRef::<JsValue>::as_ref(el) == a)
        });
        let next = match at {
            None => Some(if ev.shift_key() { last } else { first }),
            Some(0) if ev.shift_key() => Some(last),
            Some(i) if !ev.shift_key() && i + 1 == items.len() => Some(first),
            _ => None,
        };
        if let Some(el) = next {
            ev.prevent_default();
            let _ = el.focus();
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (ev, dialog);
}
