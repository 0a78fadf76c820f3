//! The transport under the typed calls: JSON over `fetch` with the CSRF header, errors read
//! into [`ClientError`]/[`Refusal`]. Browser only; the server build has a stand-in with the
//! same signatures (nothing calls the API while rendering on the server).

use super::{ClientError, Refusal};
use serde::{de::DeserializeOwned, Serialize};

#[cfg(feature = "hydrate")]
mod imp {
    use super::*;
    use crate::api::{ApiError, CSRF_HEADER, CSRF_HEADER_VALUE};
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

    pub(in crate::client) async fn get<T: DeserializeOwned>(path: &str) -> Result<T, ClientError> {
        let resp = Request::get(path).send().await.map_err(net)?;
        decode(resp).await
    }

    /// `GET` that accepts any status carrying a JSON body (used by `/readyz`, whose 503
    /// still describes the checks).
    pub(in crate::client) async fn get_any_status<T: DeserializeOwned>(
        path: &str,
    ) -> Result<T, ClientError> {
        let resp = Request::get(path).send().await.map_err(net)?;
        if resp.status() == 401 {
            return Err(ClientError::Unauthorized);
        }
        resp.json::<T>()
            .await
            .map_err(|e| ClientError::Network(e.to_string()))
    }

    pub(in crate::client) async fn post<B: Serialize, T: DeserializeOwned>(
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        decode(send_json(Request::post(path), body).await?).await
    }

    /// `POST` like [`post`], but a refusal keeps the server's whole error body.
    pub(in crate::client) async fn post_detailed<B: Serialize, T: DeserializeOwned>(
        path: &str,
        body: &B,
    ) -> Result<T, Refusal> {
        let resp = send_json(Request::post(path), body).await?;
        if (200..300).contains(&resp.status()) {
            return resp
                .json::<T>()
                .await
                .map_err(|e| ClientError::Network(e.to_string()).into());
        }
        Err(refusal_from(resp).await)
    }

    /// `PUT` with a JSON body, answered with JSON.
    pub(in crate::client) async fn put<B: Serialize, T: DeserializeOwned>(
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        decode(send_json(Request::put(path), body).await?).await
    }

    /// Sends a change with a JSON body and the CSRF header.
    async fn send_json<B: Serialize>(
        req: gloo_net::http::RequestBuilder,
        body: &B,
    ) -> Result<Response, ClientError> {
        req.header(CSRF_HEADER, CSRF_HEADER_VALUE)
            .json(body)
            .map_err(net)?
            .send()
            .await
            .map_err(net)
    }

    /// `DELETE`; any success status (200, 202, 204) counts, whatever its body.
    pub(in crate::client) async fn delete(path: &str) -> Result<(), ClientError> {
        send_without_body(Request::delete(path)).await
    }

    /// `POST` whose success has no body (204).
    pub(in crate::client) async fn post_empty(path: &str) -> Result<(), ClientError> {
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
    pub(in crate::client) async fn get<T: DeserializeOwned>(_path: &str) -> Result<T, ClientError> {
        Err(unavailable())
    }
    pub(in crate::client) async fn get_any_status<T: DeserializeOwned>(
        _path: &str,
    ) -> Result<T, ClientError> {
        Err(unavailable())
    }
    pub(in crate::client) async fn post<B: Serialize, T: DeserializeOwned>(
        _path: &str,
        _body: &B,
    ) -> Result<T, ClientError> {
        Err(unavailable())
    }
    pub(in crate::client) async fn post_empty(_path: &str) -> Result<(), ClientError> {
        Err(unavailable())
    }
    pub(in crate::client) async fn post_detailed<B: Serialize, T: DeserializeOwned>(
        _path: &str,
        _body: &B,
    ) -> Result<T, Refusal> {
        Err(unavailable().into())
    }
    pub(in crate::client) async fn put<B: Serialize, T: DeserializeOwned>(
        _path: &str,
        _body: &B,
    ) -> Result<T, ClientError> {
        Err(unavailable())
    }
    pub(in crate::client) async fn delete(_path: &str) -> Result<(), ClientError> {
        Err(unavailable())
    }
}

pub(super) use imp::{delete, get, get_any_status, post, post_detailed, post_empty, put};
