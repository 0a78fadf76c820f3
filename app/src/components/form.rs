//! Form helpers: fields are left uncontrolled, and forms wait for hydration.

use leptos::html::Input;
use leptos::prelude::*;

/// The current text of a form field. Fields are left uncontrolled (no `prop:value`) so
/// that what a person typed before the page hydrated is kept, and read when submitted.
pub fn field_value(field: NodeRef<Input>) -> String {
    #[cfg(feature = "hydrate")]
    {
        field
            .get_untracked()
            .map(|el| el.value())
            .unwrap_or_default()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = field;
        String::new()
    }
}

/// What is wrong with a new password typed twice (too short, or the two differ), in words
/// for the form; `None` when it may be sent.
pub fn new_password_problem(password: &str, repeated: &str) -> Option<String> {
    if password.chars().count() < crate::api::MIN_PASSWORD_LEN {
        Some(format!(
            "The password must have at least {} characters.",
            crate::api::MIN_PASSWORD_LEN
        ))
    } else if password != repeated {
        Some("The two passwords differ.".into())
    } else {
        None
    }
}

/// Puts `value` in an (uncontrolled) input and focuses it.
pub fn set_field(field: NodeRef<Input>, value: &str) {
    #[cfg(feature = "hydrate")]
    if let Some(el) = field.get_untracked() {
        el.set_value(value);
        let _ = el.focus();
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (field, value);
}

/// True once the page has hydrated: forms stay disabled until then so that nothing is
/// submitted the browser's native way (which would put a password in a URL).
pub fn hydrated() -> ReadSignal<bool> {
    let (ready, set_ready) = signal(false);
    Effect::new(move |_| set_ready.set(true));
    ready
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_password_is_long_enough_and_typed_the_same_twice() {
        let long = "x".repeat(crate::api::MIN_PASSWORD_LEN);
        assert!(new_password_problem("short", "short").is_some_and(|m| m.contains("at least")));
        assert!(new_password_problem(&long, "something else").is_some_and(|m| m.contains("differ")));
        assert_eq!(new_password_problem(&long, &long), None);
    }
}
