//! The offsite copies card: where copies go, or how to set them up.

use super::EnvList;
use leptos::prelude::*;

#[component]
pub(super) fn OffsiteCard(target: Option<String>, keep: Option<u32>) -> impl IntoView {
    let body = match target {
        Some(t) => view! {
            <dl class="detail-list">
                <dt>"Target"</dt>
                <dd data-testid="offsite-target">
                    <code>{t}</code>
                </dd>
                <dt>"Keep"</dt>
                <dd data-testid="offsite-keep">
                    {match keep {
                        Some(1) => "the last scheduled copy, the manual ones since, pinned and safety copies".to_string(),
                        Some(n) => format!("the last {n} scheduled copies, the manual ones since, pinned and safety copies"),
                        None => "—".to_string(),
                    }}
                </dd>
            </dl>
            <p class="muted settings-hint">
                "Each successful backup is copied there after it is stored; a failed copy is retried at the next backup and does not fail the backup. The history shows each copy’s state."
            </p>
        }
        .into_any(),
        None => view! {
            <p data-testid="offsite-not-configured">
                <strong>"Not configured."</strong>
                " Backups are only kept on this machine’s disk. To copy each backup to S3-compatible storage, set:"
            </p>
            <EnvList vars=vec![
                ("LIFEBOAT_S3_BUCKET", "the bucket (LIFEBOAT_S3_PREFIX names the folder in it, default lifeboat)"),
                ("LIFEBOAT_S3_ENDPOINT", "the S3 endpoint, for storage other than AWS (LIFEBOAT_S3_REGION if needed)"),
                ("LIFEBOAT_S3_ACCESS_KEY_ID", "the access key"),
                ("LIFEBOAT_S3_SECRET_ACCESS_KEY", "its secret"),
                ("LIFEBOAT_OFFSITE_KEEP", "how many scheduled copies to keep offsite (default 7)"),
            ] />
        }
        .into_any(),
    };
    view! {
        <section class="card settings-card" data-testid="offsite-settings" aria-labelledby="offsite-title">
            <h2 class="card-title" id="offsite-title">
                "Offsite copies"
            </h2>
            {body}
        </section>
    }
}
