//! The swap of database names, journaled so that a crash in the middle never leaves the
//! application without its database.
//!
//! A swap is written down (`swaps`) before its first statement and crossed out after its
//! last. At start-up, a swap still written down was interrupted; what the database
//! server holds says how far it got, and `recovery::recover_swaps` finishes it the safe
//! way (the live database back in service under its name).

use crate::databases;
use crate::engine::Engine;
use crate::store::restores::{self as journal, SwapKind};
use tokio_postgres::Client;

/// Swaps `incoming` in as `live`, keeping `live`'s database as `aside`, journaled. Returns
/// the offline time in ms.
pub(super) async fn swap(
    engine: &Engine,
    maintenance: &Client,
    restore_id: i64,
    kind: SwapKind,
    live: &str,
    incoming: &str,
    aside: &str,
) -> Result<i64, String> {
    let id = journal::swap_begins(&engine.db, restore_id, kind, live, incoming, aside)
        .await
        .map_err(|e| format!("cannot journal the swap, so it was not started: {e}"))?;
    let swapped = databases::swap(maintenance, live, incoming, aside).await;
    if let Err(e) = journal::swap_ended(&engine.db, id).await {
        // The next start finds it, sees the names where they are, and leaves them.
        tracing::warn!("cannot cross the swap of {live} out of the journal: {e}");
    }
    swapped
}
