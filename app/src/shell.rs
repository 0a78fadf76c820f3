//! The signed-in frame: sidebar navigation, the current user, log out. Pages inside it
//! only render once the server has said who is signed in; an expired or missing
//! session sends the browser to the login page, remembering where it was going. The frame
//! also carries "Back up now" (button and Ctrl+Alt+S), its confirmation and the progress
//! panel (see [`crate::jobs`]). Links a role cannot use are not shown (Restore is for
//! operators and administrators, People and Settings for administrators; see
//! [`crate::components::RoleGate`]), and a minute before the session's idle timeout a
//! warning offers to stay signed in; past it, the page returns to sign-in.

use crate::api::{Capability, Me};
use crate::client::{self, ClientError};
use crate::components::{refusal, ConfirmItsYou};
use crate::jobs::{self, BackupNowButton, ConfirmBackupModal, JobPanel};
use leptos::prelude::*;
use leptos_router::{
    components::{Outlet, A},
    hooks::use_location,
};

#[component]
pub fn Shell() -> impl IntoView {
    let me = LocalResource::new(client::auth::me);
    let location = use_location();
    move || match me.get() {
        None => view! { <div class="boot">"Checking your session…"</div> }.into_any(),
        Some(Ok(user)) => view! { <Layout user /> }.into_any(),
        Some(Err(ClientError::Unauthorized)) => {
            let here = format!(
                "{}{}",
                location.pathname.get_untracked(),
                location.search.get_untracked()
            );
            client::hard_navigate(&format!("/login?next={}", client::enc(&here)));
            view! { <div class="boot">"Redirecting to sign in…"</div> }.into_any()
        }
        Some(Err(e)) => view! {
            <div class="boot error" role="alert">
                {e.to_string()}
            </div>
        }
        .into_any(),
    }
}

#[component]
fn Layout(user: Me) -> impl IntoView {
    provide_context(user.clone());
    let may_restore = refusal(Capability::Restore).is_none();
    let may_people = refusal(Capability::People).is_none();
    let may_settings = refusal(Capability::Settings).is_none();
    jobs::provide_backups();
    let logout = Action::new_local(|_: &()| client::auth::logout());
    // Whatever the answer (even an already-expired session), the way out is the login page.
    Effect::new(move |_| {
        if logout.value().get().is_some() {
            client::hard_navigate("/login");
        }
    });
    view! {
        <div class="app">
            <aside class="sidebar">
                <div class="sidebar-inner">
                    <a class="brand" href="/">
                        <span class="brand-mark" aria-hidden="true">
                            "◐"
                        </span>
                        "Lifeboat"
                    </a>
                    <nav class="nav" aria-label="Main">
                        <A href="/backups">"Backups"</A>
                        <Show when=move || may_restore>
                            <A href="/restore">"Restore"</A>
                        </Show>
                        <A href="/" exact=true>
                            "Status"
                        </A>
                        <A href="/audit">"Audit log"</A>
                        <Show when=move || may_people>
                            <A href="/people">"People"</A>
                        </Show>
                        <Show when=move || may_settings>
                            <A href="/settings">"Settings"</A>
                        </Show>
                        <A href="/account">"Your account"</A>
                    </nav>
                    <BackupNowButton />
                    <div class="who">
                        <span class="who-label">"Signed in as"</span>
                        <strong class="who-name" data-testid="current-user">
                            {user.username.clone()}
                        </strong>
                        <A href="/security">"Security"</A>
                        <button
                            class="btn btn-quiet"
                            on:click=move |_| {
                                logout.dispatch(());
                            }
                            disabled=move || logout.pending().get()
                        >
                            "Log out"
                        </button>
                    </div>
                </div>
            </aside>
            <main class="content" id="main">
                <Outlet />
            </main>
            <ConfirmBackupModal />
            <ConfirmItsYou />
            <JobPanel />
            <IdleWarning idle_secs=user.idle_timeout_secs />
        </div>
    }
}

/// Where the session stands against its idle timeout, from the last request the person
/// made (the server counts the same ones).
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
enum Idle {
    Fine,
    /// Seconds left.
    EndsSoon(u64),
    Ended,
}

#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
fn idle_state(idle_secs: u64, since_ms: f64) -> Idle {
    let left = idle_secs as f64 - since_ms / 1000.0;
    if idle_secs == 0 || left > 60.0 {
        Idle::Fine
    } else if left > 0.0 {
        Idle::EndsSoon(left.ceil() as u64)
    } else {
        Idle::Ended
    }
}

/// A warning a minute before the idle timeout, with a way to stay signed in; past the
/// timeout, the login page, with `next` set to where the person was.
#[component]
fn IdleWarning(idle_secs: u64) -> impl IntoView {
    let (state, set_state) = signal(Idle::Fine);
    let location = use_location();
    #[cfg(feature = "hydrate")]
    {
        let check = move || {
            let last = client::activity::last_ms();
            if last > 0.0 {
                set_state.set(idle_state(idle_secs, client::activity::now_ms() - last));
            }
        };
        if let Ok(handle) = set_interval_with_handle(check, std::time::Duration::from_secs(1)) {
            on_cleanup(move || handle.clear());
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (idle_secs, set_state);
    Effect::new(move |_| {
        if state.get() == Idle::Ended {
            let here = format!(
                "{}{}",
                location.pathname.get_untracked(),
                location.search.get_untracked()
            );
            client::hard_navigate(&format!("/login?next={}", client::enc(&here)));
        }
    });
    let stay = Action::new_local(|_: &()| client::auth::me());
    move || match state.get() {
        Idle::EndsSoon(left) => view! {
            <div class="idle-warning" role="alertdialog" data-testid="idle-warning">
                <p>{format!("You will be signed out in {left} s for inactivity.")}</p>
                <button
                    class="btn btn-primary"
                    on:click=move |_| {
                        stay.dispatch(());
                    }
                >
                    "Stay signed in"
                </button>
            </div>
        }
        .into_any(),
        _ => ().into_any(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_warning_comes_a_minute_before_the_idle_timeout() {
        assert_eq!(idle_state(1800, 0.0), Idle::Fine);
        assert_eq!(idle_state(1800, 1_739_000.0), Idle::Fine);
        assert_eq!(idle_state(1800, 1_750_000.0), Idle::EndsSoon(50));
        assert_eq!(idle_state(1800, 1_800_001.0), Idle::Ended);
    }
}
