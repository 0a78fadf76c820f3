//! The card listing files in the backup directory that no backup of the history owns.

use crate::api::UnknownFile;
use crate::format;
use leptos::prelude::*;

#[component]
pub(super) fn UnknownFiles(files: Vec<UnknownFile>) -> impl IntoView {
    let total: i64 = files.iter().map(|f| f.size_bytes).sum();
    let body = if files.is_empty() {
        view! { <p class="muted">"None: every file in the backup directory belongs to a backup in the history."</p> }
            .into_any()
    } else {
        let count = files.len();
        view! {
            <p>
                {format!(
                    "{count} {} ({}) in the backup directory {} not made by Lifeboat, or no longer in its history:",
                    if count == 1 { "file" } else { "files" },
                    format::bytes(total),
                    if count == 1 { "was" } else { "were" },
                )}
            </p>
            <div class="table-wrap">
                <table class="table">
                    <thead>
                        <tr>
                            <th scope="col">"File"</th>
                            <th scope="col" class="num">
                                "Size"
                            </th>
                        </tr>
                    </thead>
                    <tbody>
                        {files
                            .into_iter()
                            .map(|f| {
                                view! {
                                    <tr data-testid="unknown-file">
                                        <td class="location">{f.path}</td>
                                        <td class="num nowrap">{format::bytes(f.size_bytes)}</td>
                                    </tr>
                                }
                            })
                            .collect_view()}
                    </tbody>
                </table>
            </div>
        }
        .into_any()
    };
    view! {
        <section class="card settings-card" data-testid="unknown-files" aria-labelledby="unknown-title">
            <h2 class="card-title" id="unknown-title">
                "Unknown files in the backup directory"
            </h2>
            {body}
            <p class="muted settings-hint">
                "Lifeboat never deletes files it does not know, and they are not counted as backups. Remove them yourself if they are not needed."
            </p>
        </section>
    }
}
