//! Lifeboat's user interface (Leptos components, rendered on the server and hydrated in the
//! browser) and the `/api/v1` wire types both sides share.

pub mod api;
pub mod client;
mod components;
mod format;
mod jobs;
mod pages;
mod shell;

use api::Capability;
use components::RoleGate;
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::{
    components::{ParentRoute, Route, Router, Routes},
    path,
};

/// The HTML document around the app. On the server it also sets the page's
/// Content-Security-Policy, which names this response's hydration nonce.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    set_csp_header();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// Scripts: only our own files and the inline hydration script carrying this response's
/// nonce; WebAssembly needs `'wasm-unsafe-eval'`. Inline `style` attributes are allowed
/// (progress bars set widths), style sheets only from our origin.
#[cfg(feature = "ssr")]
fn set_csp_header() {
    use leptos_axum::ResponseOptions;
    let (Some(nonce), Some(resp)) = (leptos::nonce::use_nonce(), use_context::<ResponseOptions>())
    else {
        return;
    };
    let policy = format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src-elem 'self'; style-src-attr 'unsafe-inline'; img-src 'self' data:; \
         connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'none'"
    );
    if let Ok(value) = http::HeaderValue::from_str(&policy) {
        resp.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="lifeboat" href="/pkg/lifeboat.css" />
        <Title text="Lifeboat" />
        <Router>
            <Routes fallback=pages::NotFound>
                <Route path=path!("/login") view=pages::LoginPage />
                <Route path=path!("/setup") view=pages::SetupPage />
                <Route path=path!("/invite") view=pages::InvitePage />
                <ParentRoute path=path!("") view=shell::Shell>
                    <Route path=path!("") view=pages::StatusPage />
                    <Route path=path!("backups") view=pages::BackupsPage />
                    <Route path=path!("backups/:id") view=pages::BackupDetailPage />
                    // A page a role cannot use says which role it needs (the server
                    // refuses its calls anyway) instead of showing a form that would fail.
                    <Route path=path!("restore") view=|| view! { <RoleGate cap=Capability::Restore><pages::RestorePage /></RoleGate> } />
                    <Route path=path!("audit") view=pages::AuditPage />
                    <Route path=path!("settings") view=|| view! { <RoleGate cap=Capability::Settings><pages::SettingsPage /></RoleGate> } />
                    <Route path=path!("people") view=|| view! { <RoleGate cap=Capability::People><pages::PeoplePage /></RoleGate> } />
                    <Route path=path!("account") view=pages::ProfilePage />
                    <Route path=path!("security") view=pages::SecurityPage />
                </ParentRoute>
            </Routes>
        </Router>
    }
}
