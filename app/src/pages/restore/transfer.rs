//! Sending a file to `POST /api/v1/uploads` with `XMLHttpRequest`, whose upload events say
//! how much of the body has gone (`fetch` cannot tell), and reading a file's first bytes.
//! Browser only; the server build has a stand-in so the page compiles on both sides.
#![cfg_attr(not(feature = "hydrate"), allow(dead_code))]

use crate::api::{ApiError, Upload};

/// What happens to an upload, as the page hears it.
#[derive(Clone, Debug, PartialEq)]
pub enum Progress {
    /// `loaded` of `total` bytes of the body are sent.
    Sending { loaded: f64, total: f64 },
    /// The whole body is sent; the server is checking the archive.
    Sent,
    /// The server's verdict.
    Done(Result<Box<Upload>, String>),
    /// Cancelled (`abort`).
    Aborted,
}

/// The server's refusal in words: its own message when it sent one.
pub fn refusal_message(status: u16, body: &str) -> String {
    if let Ok(e) = serde_json::from_str::<ApiError>(body) {
        return e.message;
    }
    match status {
        401 => "You are not signed in (the session may have expired). Sign in again, then retry."
            .into(),
        413 => "This file is larger than Lifeboat accepts.".into(),
        507 => "There is not enough free space on the server for this file.".into(),
        s => format!("The server answered {s}."),
    }
}

/// Reads the answer of `POST /api/v1/uploads`.
pub fn verdict(status: u16, body: &str) -> Result<Box<Upload>, String> {
    if (200..300).contains(&status) {
        serde_json::from_str::<Box<Upload>>(body)
            .map_err(|e| format!("Lifeboat answered something unreadable: {e}"))
    } else {
        Err(refusal_message(status, body))
    }
}

#[cfg(feature = "hydrate")]
pub use imp::{first_bytes, Transfer};

#[cfg(feature = "hydrate")]
mod imp {
    use super::{verdict, Progress};
    use crate::api::{CSRF_HEADER, CSRF_HEADER_VALUE};
    use std::rc::Rc;
    use wasm_bindgen::{closure::Closure, JsCast};
    use web_sys::{Event, File, ProgressEvent, XmlHttpRequest};

    /// One upload in flight. Dropping it detaches the page from it and aborts it if it
    /// still runs.
    pub struct Transfer {
        xhr: XmlHttpRequest,
        _on_progress: Closure<dyn FnMut(ProgressEvent)>,
        _on_sent: Closure<dyn FnMut(Event)>,
        _on_load: Closure<dyn FnMut(Event)>,
        _on_error: Closure<dyn FnMut(Event)>,
        _on_abort: Closure<dyn FnMut(Event)>,
    }

    fn js_err(e: wasm_bindgen::JsValue) -> String {
        e.as_string()
            .unwrap_or_else(|| "the browser refused to send the file".to_string())
    }

    impl Transfer {
        /// Starts sending `file`; `on` hears its progress and outcome.
        pub fn start(file: &File, on: impl Fn(Progress) + 'static) -> Result<Self, String> {
            let on: Rc<dyn Fn(Progress)> = Rc::new(on);
            let xhr = XmlHttpRequest::new().map_err(js_err)?;
            let url = crate::client::restores::upload_url(&file.name());
            xhr.open_with_async("POST", &url, true).map_err(js_err)?;
            xhr.set_request_header(CSRF_HEADER, CSRF_HEADER_VALUE)
                .map_err(js_err)?;
            xhr.set_request_header("Content-Type", "application/octet-stream")
                .map_err(js_err)?;
            let upload = xhr.upload().map_err(js_err)?;

            let size = file.size();
            let o = on.clone();
            let on_progress = Closure::<dyn FnMut(ProgressEvent)>::new(move |ev: ProgressEvent| {
                let total = if ev.length_computable() {
                    ev.total()
                } else {
                    size
                };
                o(Progress::Sending {
                    loaded: ev.loaded(),
                    total,
                });
            });
            let o = on.clone();
            let on_sent = Closure::<dyn FnMut(Event)>::new(move |_: Event| o(Progress::Sent));
            let o = on.clone();
            let x = xhr.clone();
            let on_load = Closure::<dyn FnMut(Event)>::new(move |_: Event| {
                let status = x.status().unwrap_or(0);
                let body = x.response_text().ok().flatten().unwrap_or_default();
                o(Progress::Done(verdict(status, &body)));
            });
            let o = on.clone();
            let on_error = Closure::<dyn FnMut(Event)>::new(move |_: Event| {
                o(Progress::Done(Err(
                    "The upload failed: Lifeboat could not be reached, or the connection broke."
                        .into(),
                )));
            });
            let o = on;
            let on_abort = Closure::<dyn FnMut(Event)>::new(move |_: Event| o(Progress::Aborted));

            upload.set_onprogress(Some(on_progress.as_ref().unchecked_ref()));
            upload.set_onload(Some(on_sent.as_ref().unchecked_ref()));
            xhr.set_onload(Some(on_load.as_ref().unchecked_ref()));
            xhr.set_onerror(Some(on_error.as_ref().unchecked_ref()));
            xhr.set_onabort(Some(on_abort.as_ref().unchecked_ref()));
            let transfer = Transfer {
                xhr,
                _on_progress: on_progress,
                _on_sent: on_sent,
                _on_load: on_load,
                _on_error: on_error,
                _on_abort: on_abort,
            };
            transfer
                .xhr
                .send_with_opt_blob(Some(file))
                .map_err(js_err)?;
            Ok(transfer)
        }

        /// Cancel: the browser stops sending and the server discards what it received.
        pub fn abort(&self) {
            let _ = self.xhr.abort();
        }

        fn detach(&self) {
            self.xhr.set_onload(None);
            self.xhr.set_onerror(None);
            self.xhr.set_onabort(None);
            if let Ok(upload) = self.xhr.upload() {
                upload.set_onprogress(None);
                upload.set_onload(None);
            }
        }
    }

    impl Drop for Transfer {
        fn drop(&mut self) {
            self.detach();
            // 4 = DONE: nothing left to stop.
            if self.xhr.ready_state() != 4 {
                let _ = self.xhr.abort();
            }
        }
    }

    /// The first `n` bytes of `file` (fewer if it is shorter).
    pub async fn first_bytes(file: &File, n: i32) -> Result<Vec<u8>, String> {
        let head = file.slice_with_i32_and_i32(0, n).map_err(js_err)?;
        let buf = wasm_bindgen_futures::JsFuture::from(head.array_buffer())
            .await
            .map_err(|_| "the browser could not read this file".to_string())?;
        Ok(js_sys::Uint8Array::new(&buf).to_vec())
    }
}

/// The server build never uploads anything.
#[cfg(not(feature = "hydrate"))]
pub struct Transfer;

#[cfg(not(feature = "hydrate"))]
impl Transfer {
    pub fn abort(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_keep_the_servers_words() {
        let body = r#"{"error":"not_custom_format","message":"This is a plain SQL script."}"#;
        assert_eq!(refusal_message(422, body), "This is a plain SQL script.");
        assert_eq!(
            refusal_message(413, "<html>too big</html>"),
            "This file is larger than Lifeboat accepts."
        );
        assert_eq!(refusal_message(502, ""), "The server answered 502.");
        assert!(verdict(422, body).is_err());
        assert!(verdict(201, "{}")
            .err()
            .unwrap_or_default()
            .contains("unreadable"));
    }
}
