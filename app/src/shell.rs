//! The signed-in frame: sidebar navigation, the current user, log out. Pages inside it
//! only render once the server has said who is signed in; an expired or missing
//! session sends the browser to the login page, remembering where it was going. The frame
//! also carries "Back up now" (button and Ctrl+Alt+S), its confirmation and the progress
//! panel (see [`crate::jobs`]).

use crate::api::Me;
use crate::client::{self, ClientError};
use crate::components::ConfirmItsYou;
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
                        <A href="/restore">"Restore"</A>
                        <A href="/" exact=true>
                            "Status"
                        </A>
                        <A href="/audit">"Audit log"</A>
                        <A href="/settings">"Settings"</A>
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
        </div>
    }
}
