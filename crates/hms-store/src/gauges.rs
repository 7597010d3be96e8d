//! What the store can tell about the work it holds, for the server's metrics.

use hms_types::PreciseTime;

use crate::StoreResult;
use crate::codec::{Columns, from_nanos};

/// Use of one connection pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolUse {
    /// `read` and `write` on SQLite, `main` on PostgreSQL.
    pub pool: &'static str,
    /// Connections open.
    pub open: u32,
    /// Of those, idle.
    pub idle: u32,
    /// The most it opens.
    pub max: u32,
}

/// A snapshot of the store's queues and of the live state of one node.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoreGauges {
    /// Rooms with an open session holding a peer that joined through the node.
    pub live_rooms: u64,
    /// Open sessions holding a peer of the node (one per room).
    pub live_sessions: u64,
    /// Peers present that joined through the node.
    pub live_peers: u64,
    /// Webhook deliveries not yet delivered nor given up.
    pub pending_deliveries: u64,
    /// When the oldest of them was queued.
    pub oldest_pending_delivery: Option<PreciseTime>,
    /// The endpoints (URLs) whose oldest pending delivery is the oldest, oldest first, at
    /// most [`GAUGED_ENDPOINTS`] of them, with when that delivery was queued.
    pub oldest_pending_by_endpoint: Vec<(String, PreciseTime)>,
    /// When the oldest event not yet planned into deliveries was logged.
    pub oldest_unplanned_event: Option<PreciseTime>,
    pub pools: Vec<PoolUse>,
    /// Writes waiting for the embedded database's single writer (its group-commit queue);
    /// `None` on PostgreSQL.
    pub writer_queue: Option<u64>,
}

/// How many endpoints [`StoreGauges::oldest_pending_by_endpoint`] names at most: the
/// metrics label each, so their number must stay small whatever rooms configure.
pub const GAUGED_ENDPOINTS: u32 = 10;

/// The endpoints with the oldest pending deliveries (the same text on both backends).
pub(crate) const OLDEST_PENDING_BY_ENDPOINT: &str = "SELECT url, MIN(created_ns) AS oldest FROM webhook_deliveries \
     WHERE state = 'pending' GROUP BY url ORDER BY oldest, url LIMIT 10";

/// The pending deliveries: how many, and when the oldest was queued.
pub(crate) const PENDING_DELIVERIES: &str =
    "SELECT COUNT(*) AS pending, MIN(created_ns) AS oldest FROM webhook_deliveries WHERE state = 'pending'";

/// What the queries read, as the gauges hold it: `live`, a row of a node's `rooms`,
/// `sessions` and `peers`; `pending`, the row of [`PENDING_DELIVERIES`]; `by_endpoint`, the
/// rows of [`OLDEST_PENDING_BY_ENDPOINT`]; `unplanned`, when the oldest unplanned event was
/// logged. The pools are each backend's own.
pub(crate) fn gauges_from(
    live: &impl Columns,
    pending: &impl Columns,
    by_endpoint: &[impl Columns],
    unplanned: Option<i64>,
) -> StoreResult<StoreGauges> {
    Ok(StoreGauges {
        live_rooms: count(live, "rooms")?,
        live_sessions: count(live, "sessions")?,
        live_peers: count(live, "peers")?,
        pending_deliveries: count(pending, "pending")?,
        oldest_pending_delivery: pending.nanos_opt("oldest")?,
        oldest_pending_by_endpoint: by_endpoint
            .iter()
            .map(|row| Ok((row.get("url")?, row.nanos("oldest")?)))
            .collect::<StoreResult<_>>()?,
        oldest_unplanned_event: unplanned.map(from_nanos),
        pools: Vec::new(),
        writer_queue: None,
    })
}

fn count(row: &impl Columns, column: &str) -> StoreResult<u64> {
    Ok(u64::try_from(row.get::<i64>(column)?).unwrap_or(0))
}

/// Use of `pool`, named `name` in the metrics.
pub(crate) fn pool_use<DB: sqlx::Database>(name: &'static str, pool: &sqlx::Pool<DB>) -> PoolUse {
    PoolUse {
        pool: name,
        open: pool.size(),
        idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
        max: pool.options().get_max_connections(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_query_names_at_most_the_gauged_endpoints() {
        let limit = format!("LIMIT {}", super::GAUGED_ENDPOINTS);
        assert!(super::OLDEST_PENDING_BY_ENDPOINT.ends_with(&limit));
    }
}
