//! Following a job: its server-sent events (`client::jobs::events_url`), and when the
//! stream fails or ends before the job does, one look at the job and a new stream if it
//! still runs. The panel and the Restore page follow jobs through this, each with its own
//! [`JobSink`].

use crate::api::Job;

/// What follows a job receives: each new state, the news that it can no longer be followed,
/// and the question whether following it is over.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub(crate) trait JobSink: Copy + 'static {
    fn apply(&self, job: Job);
    fn lose(&self, job_id: i64, why: String);
    fn settled(&self, job_id: i64) -> bool;
}

/// Follows `job_id` over its event stream for as long as the calling owner lives
/// (or until `sink` says it is settled), reconnecting when the stream drops.
pub(crate) fn follow_job<S: JobSink>(job_id: i64, sink: S) {
    #[cfg(feature = "hydrate")]
    live::follow(job_id, sink);
    #[cfg(not(feature = "hydrate"))]
    let _ = (job_id, sink);
}

/// The browser side of following a job: an `EventSource` on the job's events; when it
/// errors or ends before the job does, one look at the job and, if it still runs, a new
/// `EventSource`.
#[cfg(feature = "hydrate")]
mod live {
    use super::JobSink;
    use crate::api::Job;
    use crate::client::{self, ClientError};
    use leptos::prelude::*;
    use std::time::Duration;
    use wasm_bindgen::{closure::Closure, JsCast};

    /// Consecutive failed look-ups before the panel says it lost the job.
    const MAX_FAILURES: u32 = 8;

    struct Subscription {
        source: web_sys::EventSource,
        on_job: Closure<dyn FnMut(web_sys::MessageEvent)>,
        _on_error: Closure<dyn FnMut(web_sys::Event)>,
    }

    impl Subscription {
        fn open(
            url: &str,
            on_job: impl Fn(Job) + 'static,
            on_error: impl Fn() + 'static,
        ) -> Option<Self> {
            let source = web_sys::EventSource::new(url).ok()?;
            let on_job = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(
                move |ev: web_sys::MessageEvent| {
                    let job = ev
                        .data()
                        .as_string()
                        .and_then(|text| serde_json::from_str::<Job>(&text).ok());
                    if let Some(job) = job {
                        on_job(job);
                    }
                },
            );
            let on_error = Closure::<dyn FnMut(web_sys::Event)>::new(move |_: web_sys::Event| {
                on_error();
            });
            if source
                .add_event_listener_with_callback("job", on_job.as_ref().unchecked_ref())
                .is_err()
            {
                source.close();
                return None;
            }
            source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
            Some(Subscription {
                source,
                on_job,
                _on_error: on_error,
            })
        }

        fn close(&self) {
            self.source.close();
        }
    }

    impl Drop for Subscription {
        fn drop(&mut self) {
            self.source.close();
            self.source.set_onerror(None);
            let _ = self
                .source
                .remove_event_listener_with_callback("job", self.on_job.as_ref().unchecked_ref());
        }
    }

    /// Follows `job_id` for as long as the calling owner lives.
    pub(super) fn follow<S: JobSink>(job_id: i64, b: S) {
        let sub = StoredValue::new_local(None::<Subscription>);
        let attempt = RwSignal::new(0u32);
        let failures = StoredValue::new(0u32);

        let close = move || {
            sub.try_with_value(|s| {
                if let Some(s) = s {
                    s.close();
                }
            });
        };

        // The stream failed or ended early: ask once, then reconnect if the job still runs.
        let fallback = move || {
            close();
            leptos::task::spawn_local(async move {
                let answer = client::jobs::get(job_id).await;
                let retry_in = match answer {
                    Ok(job) => {
                        failures.try_set_value(0);
                        let running = !job.is_over();
                        b.apply(job);
                        running.then_some(Duration::from_secs(1))
                    }
                    Err(
                        e @ (ClientError::Unauthorized
                        | ClientError::Status {
                            status: 403 | 404, ..
                        }),
                    ) => {
                        b.lose(job_id, e.to_string());
                        None
                    }
                    Err(e) => {
                        let n = failures
                            .try_update_value(|n| {
                                *n += 1;
                                *n
                            })
                            .unwrap_or(MAX_FAILURES);
                        if n >= MAX_FAILURES {
                            b.lose(job_id, e.to_string());
                            None
                        } else {
                            Some(Duration::from_secs(u64::from(n.min(5)) * 2))
                        }
                    }
                };
                if let Some(delay) = retry_in {
                    set_timeout(
                        move || {
                            attempt.try_update(|a| *a += 1);
                        },
                        delay,
                    );
                }
            });
        };

        Effect::new(move |_| {
            attempt.track();
            if b.settled(job_id) {
                sub.set_value(None);
                return;
            }
            let on_job = move |job: Job| {
                failures.try_set_value(0);
                let over = job.is_over();
                b.apply(job);
                if over {
                    close();
                }
            };
            let url = client::jobs::events_url(job_id);
            match Subscription::open(&url, on_job, fallback) {
                Some(s) => sub.set_value(Some(s)),
                None => {
                    sub.set_value(None);
                    fallback();
                }
            }
        });
    }
}
