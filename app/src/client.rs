//! The SPA's calls to `/api/v1`. They run in the browser only (inside `LocalResource`s,
//! actions and event handlers); during server rendering nothing calls them, and the
//! non-browser build has a stand-in with the same signatures so components compile on
//! both sides.

use crate::api::ApiError;
use serde::{de::DeserializeOwned, Serialize};

/// What went wrong with an API call, in terms the UI can act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientError {
    /// 401: not signed in (or the session expired).
    Unauthorized,
    /// 429: too many attempts; `retry_after` seconds to wait.
    Throttled { retry_after: u64, message: String },
    /// Any other non-success status, with the server's message.
    Status { status: u16, message: String },
    /// The server could not be reached or answered something unreadable.
    Network(String),
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::Unauthorized => f.write_str("You are not signed in."),
            ClientError::Throttled { message, .. } => f.write_str(message),
            ClientError::Status { message, .. } => f.write_str(message),
            ClientError::Network(m) => write!(f, "Lifeboat could not be reached: {m}"),
        }
    }
}

/// A failed call together with the server's error body, when it sent one (for answers whose
/// body carries more than a message, e.g. 409 "a backup is already running" and its `job_id`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub error: ClientError,
    pub body: Option<ApiError>,
}

impl Refusal {
    /// The HTTP status, when the server answered at all.
    pub fn status(&self) -> Option<u16> {
        match &self.error {
            ClientError::Unauthorized => Some(401),
            ClientError::Throttled { .. } => Some(429),
            ClientError::Status { status, .. } => Some(*status),
            ClientError::Network(_) => None,
        }
    }
}

impl From<ClientError> for Refusal {
    fn from(error: ClientError) -> Self {
        Refusal { error, body: None }
    }
}

#[cfg(feature = "hydrate")]
mod imp {
    use super::*;
    use crate::api::{CSRF_HEADER, CSRF_HEADER_VALUE};
    use gloo_net::http::{Request, Response};

    async fn decode<T: DeserializeOwned>(resp: Response) -> Result<T, ClientError> {
        let status = resp.status();
        if (200..300).contains(&status) {
            return resp
                .json::<T>()
                .await
                .map_err(|e| ClientError::Network(e.to_string()));
        }
        Err(error_from(resp).await)
    }

    async fn error_from(resp: Response) -> ClientError {
        refusal_from(resp).await.error
    }

    async fn refusal_from(resp: Response) -> Refusal {
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(1);
        let body = resp.json::<ApiError>().await.ok();
        let message = match &body {
            Some(e) => e.message.clone(),
            None => format!("The server answered {status}."),
        };
        let error = match status {
            401 => ClientError::Unauthorized,
            429 => ClientError::Throttled {
                retry_after,
                message,
            },
            _ => ClientError::Status { status, message },
        };
        Refusal { error, body }
    }

    fn net(e: gloo_net::Error) -> ClientError {
        ClientError::Network(e.to_string())
    }

    pub async fn get<T: DeserializeOwned>(path: &str) -> Result<T, ClientError> {
        let resp = Request::get(path).send().await.map_err(net)?;
        decode(resp).await
    }

    /// `GET` that accepts any status carrying a JSON body (used by `/readyz`, whose 503
    /// still describes the checks).
    pub async fn get_any_status<T: DeserializeOwned>(path: &str) -> Result<T, ClientError> {
        let resp = Request::get(path).send().await.map_err(net)?;
        if resp.status() == 401 {
            return Err(ClientError::Unauthorized);
        }
        resp.json::<T>()
            .await
            .map_err(|e| ClientError::Network(e.to_string()))
    }

    pub async fn post<B: Serialize, T: DeserializeOwned>(
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        let resp = Request::post(path)
            .header(CSRF_HEADER, CSRF_HEADER_VALUE)
            .json(body)
            .map_err(net)?
            .send()
            .await
            .map_err(net)?;
        decode(resp).await
    }

    /// `POST` like [`post`], but a refusal keeps the server's whole error body.
    pub async fn post_detailed<B: Serialize, T: DeserializeOwned>(
        path: &str,
        body: &B,
    ) -> Result<T, Refusal> {
        let resp = Request::post(path)
            .header(CSRF_HEADER, CSRF_HEADER_VALUE)
            .json(body)
            .map_err(net)?
            .send()
            .await
            .map_err(net)?;
        if (200..300).contains(&resp.status()) {
            return resp
                .json::<T>()
                .await
                .map_err(|e| ClientError::Network(e.to_string()).into());
        }
        Err(refusal_from(resp).await)
    }

    /// `PUT` with a JSON body, answered with JSON.
    pub async fn put<B: Serialize, T: DeserializeOwned>(
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        let resp = Request::put(path)
            .header(CSRF_HEADER, CSRF_HEADER_VALUE)
            .json(body)
            .map_err(net)?
            .send()
            .await
            .map_err(net)?;
        decode(resp).await
    }

    /// `DELETE`; any success status (200, 202, 204) counts, whatever its body.
    pub async fn delete(path: &str) -> Result<(), ClientError> {
        send_without_body(Request::delete(path)).await
    }

    /// `POST` whose success has no body (204).
    pub async fn post_empty(path: &str) -> Result<(), ClientError> {
        send_without_body(Request::post(path)).await
    }

    /// Sends a body-less change with the CSRF header; success is any 2xx.
    async fn send_without_body(req: gloo_net::http::RequestBuilder) -> Result<(), ClientError> {
        let resp = req
            .header(CSRF_HEADER, CSRF_HEADER_VALUE)
            .send()
            .await
            .map_err(net)?;
        if (200..300).contains(&resp.status()) {
            Ok(())
        } else {
            Err(error_from(resp).await)
        }
    }
}

#[cfg(not(feature = "hydrate"))]
mod imp {
    use super::*;

    fn unavailable() -> ClientError {
        ClientError::Network("API calls run in the browser only".into())
    }
    pub async fn get<T: DeserializeOwned>(_path: &str) -> Result<T, ClientError> {
        Err(unavailable())
    }
    pub async fn get_any_status<T: DeserializeOwned>(_path: &str) -> Result<T, ClientError> {
        Err(unavailable())
    }
    pub async fn post<B: Serialize, T: DeserializeOwned>(
        _path: &str,
        _body: &B,
    ) -> Result<T, ClientError> {
        Err(unavailable())
    }
    pub async fn post_empty(_path: &str) -> Result<(), ClientError> {
        Err(unavailable())
    }
    pub async fn post_detailed<B: Serialize, T: DeserializeOwned>(
        _path: &str,
        _body: &B,
    ) -> Result<T, Refusal> {
        Err(unavailable().into())
    }
    pub async fn put<B: Serialize, T: DeserializeOwned>(
        _path: &str,
        _body: &B,
    ) -> Result<T, ClientError> {
        Err(unavailable())
    }
    pub async fn delete(_path: &str) -> Result<(), ClientError> {
        Err(unavailable())
    }
}

pub use imp::{delete, get, get_any_status, post, post_detailed, post_empty, put};

/// Percent-encodes a query parameter value.
pub fn enc(v: &str) -> String {
    urlencoding::encode(v).into_owned()
}

/// Sends the browser to `path` with a full page load (used after login/logout so every
/// piece of state starts fresh).
pub fn hard_navigate(path: &str) {
    #[cfg(feature = "hydrate")]
    if let Some(w) = web_sys::window() {
        let _ = w.location().assign(path);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = path;
}
