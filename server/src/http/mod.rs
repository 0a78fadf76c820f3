//! The web edge: the router, middleware, and each domain's routes under `/api/v1`.

pub mod audit;
pub mod auth;
pub mod backups;
pub mod client_info;
pub mod error;
pub mod guard;
pub mod health;
pub mod jobs;
pub mod restores;

use crate::sessions::COOKIE_NAME;
use crate::state::AppState;
use app::{shell, App};
use axum::http::StatusCode;
use axum::{middleware, Router};
use leptos_axum::{generate_route_list, LeptosRoutes};
use tower_sessions::{cookie::SameSite, Expiry, SessionManagerLayer};
use tower_sessions_sqlx_store::SqliteStore;

/// The whole application: API, health endpoints, the server-rendered SPA and its assets.
pub fn router(state: AppState, store: SqliteStore) -> Router {
    let idle = time::Duration::seconds(state.config.session_idle_timeout.as_secs() as i64);
    let sessions = SessionManagerLayer::new(store)
        .with_name(COOKIE_NAME)
        .with_http_only(true)
        .with_same_site(SameSite::Strict)
        .with_secure(state.config.secure_cookies())
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(idle))
        // Saved on every API call so that activity pushes the idle timeout back.
        .with_always_save(true);

    let api = Router::new()
        .merge(auth::routes())
        .merge(audit::routes())
        .merge(backups::routes())
        .merge(jobs::routes())
        .merge(restores::routes())
        .fallback(|| async {
            error::json_error(StatusCode::NOT_FOUND, "not_found", "No such API endpoint.")
        })
        .layer(sessions);

    let options = state.leptos.clone();
    let routes = generate_route_list(App);
    Router::new()
        .nest("/api/v1", api)
        .merge(health::routes())
        .leptos_routes(&state, routes, {
            let options = options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(middleware::from_fn_with_state(state.clone(), guard::csrf))
        .layer(middleware::from_fn(guard::security_headers))
        .with_state(state)
}
