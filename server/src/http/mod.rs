//! The web edge: the router, middleware, and each resource's routes under `/api/v1`.
//! Thin: handlers extract, call the engine or the store, and map errors once
//! ([`error::AppError`]).

pub mod account;
pub mod audit;
pub mod auth;
pub mod backups;
pub mod bearer;
pub mod confirm;
pub mod error;
pub mod extract;
pub mod guard;
pub mod health;
pub mod jobs;
pub mod limits;
pub mod people;
pub mod readiness;
pub mod restores;
pub mod roles;
pub mod second_factor;
pub mod serve;
pub mod sessions;
pub mod settings;
pub mod state;
pub mod throttle;
pub mod tokens;
pub mod uploads;

use app::{shell, App};
use axum::extract::{MatchedPath, Request};
use axum::http::StatusCode;
use axum::response::Response;
use axum::{middleware, Router};
use leptos_axum::{generate_route_list, LeptosRoutes};
use sessions::{COOKIE_NAME, SECURE_COOKIE_NAME};
use state::AppState;
use std::time::Duration;
use tower_http::trace::TraceLayer;
use tower_sessions::{cookie::SameSite, Expiry, SessionManagerLayer};
use tower_sessions_sqlx_store::SqliteStore;
use tracing::Span;

/// The whole application: API, health endpoints, the server-rendered SPA and its assets.
pub fn router(state: AppState, store: SqliteStore) -> Router {
    let idle = time::Duration::seconds(state.config.session_idle_timeout.as_secs() as i64);
    let secure = state.config.secure_cookies();
    let sessions = SessionManagerLayer::new(store)
        .with_name(if secure {
            SECURE_COOKIE_NAME
        } else {
            COOKIE_NAME
        })
        .with_http_only(true)
        .with_same_site(SameSite::Strict)
        .with_secure(secure)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(idle))
        // Saved only when changed: a request the person makes marks the session active
        // (`CurrentUser`), which pushes the idle timeout back; background polling and
        // event streams do not.
        .with_always_save(false);

    let api = Router::new()
        .merge(auth::routes())
        .merge(confirm::routes())
        .merge(account::routes())
        .merge(people::routes())
        .merge(audit::routes())
        .merge(backups::routes())
        .merge(jobs::routes())
        .merge(restores::routes())
        .merge(settings::routes())
        .merge(uploads::routes())
        .merge(second_factor::routes())
        .merge(tokens::routes())
        .fallback(|| async {
            error::json_error(StatusCode::NOT_FOUND, "not_found", "No such API endpoint.")
        })
        .layer(sessions.clone());

    let options = state.leptos.clone();
    let routes = generate_route_list(App);
    Router::new()
        .nest("/api/v1", api)
        // `/readyz` tells a signed-in session more than anyone else.
        .merge(health::routes().layer(sessions))
        .leptos_routes(&state, routes, {
            let options = options.clone();
            move || shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(middleware::from_fn_with_state(
            state.config.serving.request_timeout,
            limits::request_timeout,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), guard::csrf))
        .layer(middleware::from_fn(guard::security_headers))
        .layer(middleware::from_fn_with_state(secure, guard::hsts))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_request(())
                .on_response(answered),
        )
        .with_state(state)
}

/// One span per request: method, matched route (not the raw path: ids stay out of the
/// span name), the signed-in user (recorded by `CurrentUser`), then status and latency.
fn request_span(req: &Request) -> Span {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "(static)".into());
    tracing::info_span!(
        "request",
        method = %req.method(),
        route,
        user = tracing::field::Empty,
        status = tracing::field::Empty,
        latency_ms = tracing::field::Empty,
    )
}

fn answered(res: &Response, latency: Duration, span: &Span) {
    span.record("status", res.status().as_u16());
    span.record("latency_ms", latency.as_millis() as u64);
    tracing::info!("answered");
}
