//! The compression card: how pg_dump compresses backups, why, and the variable that sets it.

use super::EnvList;
use leptos::prelude::*;

#[component]
pub(super) fn CompressionCard(method: String, note: String) -> impl IntoView {
    view! {
        <section
            class="card settings-card"
            data-testid="compression-settings"
            aria-labelledby="compression-title"
        >
            <h2 class="card-title" id="compression-title">
                "Compression"
            </h2>
            <dl class="detail-list">
                <dt>"Backups"</dt>
                <dd data-testid="compression-method">
                    <code>{method}</code>
                </dd>
                <dt>"Why"</dt>
                <dd data-testid="compression-note">{note}</dd>
            </dl>
            <EnvList vars=vec![
                (
                    "LIFEBOAT_COMPRESSION",
                    "zstd[:level], lz4[:level], gzip[:level] or none; checked against pg_dump at start-up (default: zstd:1 when pg_dump has zstd, else gzip:2)",
                ),
            ] />
        </section>
    }
}
