//! The signed-in person's role on the page: whether a control is theirs to use and, when it
//! is not, why, in the same words everywhere (see [`Capability`]). A control a role cannot
//! use stays in its place, disabled, with the reason as its title; a page a role cannot use
//! says which role it needs instead of showing a form the server would refuse.

use crate::api::{Capability, Me, Role};
use leptos::prelude::*;

/// The signed-in person's role (the frame provides who is signed in). `None` outside the
/// frame, or for a role this build does not know: the page then offers everything and the
/// server decides.
pub fn use_role() -> Option<Role> {
    use_context::<Me>().and_then(|m| Role::parse(&m.role))
}

/// Why the signed-in person may not use `cap` ("Downloading needs the Operator role; you
/// are a viewer."), or `None` when they may.
pub fn refusal(cap: Capability) -> Option<String> {
    use_role().and_then(|r| cap.refusal(r))
}

/// A page only some roles may use: the page itself, or which role it needs.
#[component]
pub fn RoleGate(cap: Capability, children: Children) -> impl IntoView {
    match refusal(cap) {
        None => children().into_any(),
        Some(why) => view! {
            <section
                class="role-needed"
                role="alert"
                data-testid="role-needed"
                data-capability=cap.as_str()
            >
                <h1>"Not available with your role"</h1>
                <p data-testid="role-needed-reason">{why}</p>
                <p class="muted">"An administrator can change your role on the People page."</p>
                <a class="btn" href="/backups">
                    "Go to the backups"
                </a>
            </section>
        }
        .into_any(),
    }
}

/// A control the person's role may not use, in the place it would have: a disabled button
/// with the reason as its title.
#[component]
pub fn Unavailable(
    label: &'static str,
    why: String,
    class: &'static str,
    testid: &'static str,
) -> impl IntoView {
    view! {
        <button
            type="button"
            class=class
            disabled=true
            aria-disabled="true"
            title=why
            data-testid=testid
            data-role-needed="true"
        >
            {label}
        </button>
    }
}

/// The line that tells a viewer why a backup offers no download or change.
#[component]
pub fn ViewerNote() -> impl IntoView {
    (use_role() == Some(Role::Viewer)).then(|| {
        view! {
            <p class="role-note muted" data-testid="viewer-note">
                "Viewers can see backups but not download or change them."
            </p>
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed_in_as(role: &str) -> Owner {
        let owner = Owner::new();
        owner.set();
        provide_context(Me {
            username: "someone".into(),
            role: role.into(),
            signed_in_at: chrono::Utc::now(),
            idle_timeout_secs: 0,
        });
        owner
    }

    #[test]
    fn the_reason_comes_from_the_signed_in_role() {
        let _viewer = signed_in_as("viewer");
        assert_eq!(use_role(), Some(Role::Viewer));
        assert_eq!(
            refusal(Capability::Download).as_deref(),
            Some("Downloading needs the Operator role; you are a viewer.")
        );
        let _operator = signed_in_as("operator");
        assert_eq!(refusal(Capability::Download), None);
        assert_eq!(
            refusal(Capability::Settings).as_deref(),
            Some("Settings need the Administrator role; you are an operator.")
        );
        let _admin = signed_in_as("admin");
        assert!(Capability::ALL.iter().all(|c| refusal(*c).is_none()));
    }

    /// Outside the frame, or with a role this build does not know, nothing is refused
    /// here: the server decides.
    #[test]
    fn without_a_known_role_the_page_refuses_nothing() {
        let owner = Owner::new();
        owner.set();
        assert_eq!(use_role(), None);
        assert_eq!(refusal(Capability::DeleteBackup), None);
        let _newer = signed_in_as("auditor");
        assert_eq!(use_role(), None);
        assert_eq!(refusal(Capability::DeleteBackup), None);
    }
}
