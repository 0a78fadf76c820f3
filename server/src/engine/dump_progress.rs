//! How far a backup's dump has got, for its progress bar: each table weighed by its size
//! on disk, and the archive's expected size to move inside a large table.

use crate::pgtools::dump::table_weights;
use crate::store::backups as journal;
use crate::target::TargetUrl;
use std::collections::HashMap;

/// Share of the overall percentage the dump covers.
pub const DUMP_SPAN: (f64, f64) = (2.0, 85.0);

/// What advances the dump's bar: each table's share of the work and the archive's
/// expected size (to move inside a large table).
pub struct Sizes {
    weights: HashMap<String, i64>,
    /// The weights' sum, at least 1.
    pub total: i64,
    pub expected_bytes: f64,
}

impl Default for Sizes {
    fn default() -> Self {
        Sizes {
            weights: HashMap::new(),
            total: 1,
            expected_bytes: 1.0,
        }
    }
}

impl Sizes {
    /// The tables' sizes (none when they cannot be read), and the expected size: the
    /// last backup's, or a typical compression of the tables' size for a first one.
    pub async fn learn(
        target: TargetUrl,
        mut cancel: tokio::sync::watch::Receiver<bool>,
        db: sqlx::SqlitePool,
        database: String,
    ) -> Sizes {
        let weights = match table_weights(&target, &mut cancel).await {
            Ok(Some(weights)) => weights,
            Ok(None) | Err(_) => HashMap::new(),
        };
        let expected_bytes = match journal::last_success(&db, &database).await {
            Ok(Some(b)) => b.size_bytes.unwrap_or(0) as f64,
            _ => weights.values().sum::<i64>() as f64 * 0.35,
        }
        .max(1.0);
        Sizes {
            total: weights.values().sum::<i64>().max(1),
            weights,
            expected_bytes,
        }
    }

    pub fn weight(&self, table: &str) -> i64 {
        self.weights.get(table).copied().unwrap_or(0)
    }
}

/// The overall percentage during the dump: tables done, plus `within` (0–1) of the one
/// being dumped, weighted by size.
pub fn dump_percent(done_weight: i64, current_weight: i64, total: i64, within: f64) -> f64 {
    let share = (done_weight as f64 + current_weight as f64 * within) / total.max(1) as f64;
    DUMP_SPAN.0 + (DUMP_SPAN.1 - DUMP_SPAN.0) * share.clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dump_percent_stays_within_the_dump_span_and_grows() {
        assert_eq!(dump_percent(0, 0, 100, 0.0), DUMP_SPAN.0);
        assert_eq!(dump_percent(100, 0, 100, 0.0), DUMP_SPAN.1);
        let a = dump_percent(20, 50, 100, 0.1);
        let b = dump_percent(20, 50, 100, 0.9);
        let next = dump_percent(70, 0, 100, 0.0);
        assert!(DUMP_SPAN.0 < a && a < b && b < next && next < DUMP_SPAN.1);
        assert_eq!(dump_percent(0, 0, 0, 0.0), DUMP_SPAN.0, "no tables");
    }
}
