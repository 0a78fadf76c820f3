//! Middleware every response passes through: the CSRF check on state-changing requests
//! and the security headers.

use super::error::json_error;
use super::state::AppState;
use app::api::CSRF_HEADER;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

/// POST/PUT/PATCH/DELETE must carry `X-Requested-With` (a browser never adds a custom
/// header to a cross-site request without a preflight, which we never grant), must not be
/// marked cross-site by the browser, and, when an `Origin` is sent, it must be ours.
/// A request with an API token (`Authorization: Bearer`) is exempt: a browser never adds
/// that header on its own, and such a request is authenticated by the token alone (a
/// cookie sent with it is ignored), so there is no ambient credential to forge with.
pub async fn csrf(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let m = req.method();
    if !(m == Method::POST || m == Method::PUT || m == Method::PATCH || m == Method::DELETE) {
        return next.run(req).await;
    }
    if super::bearer::presented(req.headers()).is_some() {
        return next.run(req).await;
    }
    if let Err(why) = check(req.headers(), st.config.public_url.as_ref()) {
        tracing::warn!(method = %m, path = %req.uri().path(), "refused by the CSRF check: {why}");
        return json_error(StatusCode::FORBIDDEN, "csrf", why);
    }
    next.run(req).await
}

fn check(headers: &HeaderMap, public_url: Option<&url::Url>) -> Result<(), String> {
    let has_marker = headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| !v.trim().is_empty());
    if !has_marker {
        return Err("This request lacks the X-Requested-With header that Lifeboat requires on changes (a protection against cross-site request forgery).".into());
    }
    if headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == "cross-site")
    {
        return Err("Cross-site requests are refused.".into());
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let origin = origin.to_str().unwrap_or("").trim_end_matches('/');
    let expected = match public_url {
        Some(u) => u.origin().ascii_serialization(),
        None => {
            // Without a configured public URL, the origin must name the host the request
            // was sent to (scheme aside: TLS may end at a proxy).
            let host = headers
                .get(header::HOST)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            let origin_host = origin.split_once("://").map(|(_, h)| h).unwrap_or("");
            return if !host.is_empty() && origin_host.eq_ignore_ascii_case(host) {
                Ok(())
            } else {
                Err(format!("Origin `{origin}` is not this server (`{host}`)."))
            };
        }
    };
    if origin.eq_ignore_ascii_case(&expected) {
        Ok(())
    } else {
        Err(format!(
            "Origin `{origin}` is not this server (`{expected}`)."
        ))
    }
}

/// Security headers on every response. Pages rendered by Leptos carry a CSP naming their
/// hydration nonce (set in `app::shell`); everything else gets a policy that allows
/// nothing to run.
/// Served over HTTPS (`https_only`): browsers are told to come back only that way.
pub async fn hsts(State(https_only): State<bool>, req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    if https_only {
        resp.headers_mut().insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    resp
}

pub async fn security_headers(req: Request, next: Next) -> Response {
    let is_api = req.uri().path().starts_with("/api/");
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        );
    }
    if is_api && !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn marker_header_is_required() {
        assert!(check(&headers(&[("host", "a:1")]), None).is_err());
        assert!(check(
            &headers(&[("host", "a:1"), ("x-requested-with", "x")]),
            None
        )
        .is_ok());
    }

    #[test]
    fn origin_must_match_host_or_public_url() {
        let ok = headers(&[
            ("host", "127.0.0.1:3000"),
            ("x-requested-with", "x"),
            ("origin", "http://127.0.0.1:3000"),
        ]);
        assert!(check(&ok, None).is_ok());
        let foreign = headers(&[
            ("host", "127.0.0.1:3000"),
            ("x-requested-with", "x"),
            ("origin", "http://evil.example"),
        ]);
        assert!(check(&foreign, None).is_err());
        let null = headers(&[
            ("host", "127.0.0.1:3000"),
            ("x-requested-with", "x"),
            ("origin", "null"),
        ]);
        assert!(check(&null, None).is_err());
        let public = url::Url::parse("https://backups.example.com").ok();
        let via_proxy = headers(&[
            ("host", "127.0.0.1:3000"),
            ("x-requested-with", "x"),
            ("origin", "https://backups.example.com"),
        ]);
        assert!(check(&via_proxy, public.as_ref()).is_ok());
        assert!(check(&ok, public.as_ref()).is_err());
    }

    #[test]
    fn cross_site_fetches_are_refused() {
        let h = headers(&[
            ("host", "a"),
            ("x-requested-with", "x"),
            ("sec-fetch-site", "cross-site"),
        ]);
        assert!(check(&h, None).is_err());
    }
}
