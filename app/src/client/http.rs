//! The transport under the typed calls: JSON over `fetch` with the CSRF header, errors read
//! into [`ClientError`]/[`Refusal`]. Browser only; the server build has a stand-in with the
//! same signatures (nothing calls the API while rendering on the server).

use super::{ClientError, Refusal};
use serde::{de::DeserializeOwned, Serialize};

#[cfg(feature = "hydrate")]
mod imp {
    use super::*;
    use crate::api::{
        ApiError, BACKGROUND_HEADER, CONFIRM_REQUIRED, CSRF_HEADER, CSRF_HEADER_VALUE,
    };
    use gloo_net::http::{Request, Response};

    /// A request the person made: it keeps the session alive on the server, so the
    /// idle-timeout warning counts from it.
    fn active() {
        crate::client::activity::mark();
    }

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
        active();
        let resp = Request::get(path).send().await.map_err(net)?;
        decode(resp).await
    }

    /// `GET` made by a timer, not by the person: it carries the background header, so the
    /// server does not count it as activity (polling does not keep an idle session alive).
    pub(in crate::client) async fn get_background<T: DeserializeOwned>(
        path: &str,
    ) -> Result<T, ClientError> {
        let resp = Request::get(path)
            .header(BACKGROUND_HEADER, "1")
            .send()
            .await
            .map_err(net)?;
        decode(resp).await
    }

    /// `GET` that accepts any status carrying a JSON body (used by `/readyz`, whose 503
    /// still describes the checks).
    pub(in crate::client) async fn get_any_status<T: DeserializeOwned>(
        path: &str,
    ) -> Result<T, ClientError> {
        active();
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
        answer(
            change(Request::post, path, Some(body))
                .await
                .map_err(|r| r.error)?,
        )
        .await
    }

    /// `POST` like [`post`], but a refusal keeps the server's whole error body.
    pub(in crate::client) async fn post_detailed<B: Serialize, T: DeserializeOwned>(
        path: &str,
        body: &B,
    ) -> Result<T, Refusal> {
        Ok(answer(change(Request::post, path, Some(body)).await?).await?)
    }

    /// `PUT` with a JSON body, answered with JSON.
    pub(in crate::client) async fn put<B: Serialize, T: DeserializeOwned>(
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        answer(
            change(Request::put, path, Some(body))
                .await
                .map_err(|r| r.error)?,
        )
        .await
    }

    /// `PATCH` with a JSON body, answered with JSON.
    pub(in crate::client) async fn patch<B: Serialize, T: DeserializeOwned>(
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        answer(
            change(Request::patch, path, Some(body))
                .await
                .map_err(|r| r.error)?,
        )
        .await
    }

    /// `DELETE`; any success status (200, 202, 204) counts, whatever its body.
    pub(in crate::client) async fn delete(path: &str) -> Result<(), ClientError> {
        change::<()>(Request::delete, path, None)
            .await
            .map_err(|r| r.error)?;
        Ok(())
    }

    /// `POST` whose success has no body (204).
    pub(in crate::client) async fn post_empty(path: &str) -> Result<(), ClientError> {
        change::<()>(Request::post, path, None)
            .await
            .map_err(|r| r.error)?;
        Ok(())
    }

    /// `POST` with a JSON body whose success has no body (204).
    pub(in crate::client) async fn post_no_content<B: Serialize>(
        path: &str,
        body: &B,
    ) -> Result<(), ClientError> {
        change(Request::post, path, Some(body))
            .await
            .map_err(|r| r.error)?;
        Ok(())
    }

    /// The JSON of a successful answer.
    async fn answer<T: DeserializeOwned>(resp: Response) -> Result<T, ClientError> {
        resp.json::<T>()
            .await
            .map_err(|e| ClientError::Network(e.to_string()))
    }

    /// Sends a change (with the CSRF header, and `body` as JSON when there is one); any
    /// 2xx is the answer, anything else a [`Refusal`]. When the server asks for the
    /// password again ("confirm it's you"), the page asks for it once and, confirmed,
    /// sends the change again.
    async fn change<B: Serialize>(
        method: fn(&str) -> gloo_net::http::RequestBuilder,
        path: &str,
        body: Option<&B>,
    ) -> Result<Response, Refusal> {
        let mut asked = false;
        active();
        loop {
            let req = method(path).header(CSRF_HEADER, CSRF_HEADER_VALUE);
            let sent = match body {
                Some(b) => req.json(b).map_err(net)?.send().await,
                None => req.send().await,
            };
            let resp = sent.map_err(net)?;
            if (200..300).contains(&resp.status()) {
                return Ok(resp);
            }
            let refusal = refusal_from(resp).await;
            let confirm = refusal
                .body
                .as_ref()
                .is_some_and(|b| b.error == CONFIRM_REQUIRED);
            if confirm && !asked {
                asked = true;
                if crate::client::confirm::ask().await {
                    continue;
                }
            }
            return Err(refusal);
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
    pub(in crate::client) async fn get_background<T: DeserializeOwned>(
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
    pub(in crate::client) async fn patch<B: Serialize, T: DeserializeOwned>(
        _path: &str,
        _body: &B,
    ) -> Result<T, ClientError> {
        Err(unavailable())
    }
    pub(in crate::client) async fn post_no_content<B: Serialize>(
        _path: &str,
        _body: &B,
    ) -> Result<(), ClientError> {
        Err(unavailable())
    }
}

pub(super) use imp::{
    delete, get, get_any_status, get_background, patch, post, post_detailed, post_empty,
    post_no_content, put,
};
