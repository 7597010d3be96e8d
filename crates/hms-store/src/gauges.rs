//! What the store can tell about the work it holds, for the server's metrics.

use hms_types::PreciseTime;

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

/// The rows of [`OLDEST_PENDING_BY_ENDPOINT`], as the gauges hold them.
pub(crate) fn endpoint_ages(rows: Vec<(String, i64)>) -> Vec<(String, PreciseTime)> {
    rows.into_iter()
        .map(|(url, oldest)| (url, PreciseTime::from_unix_nanos(i128::from(oldest))))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_query_names_at_most_the_gauged_endpoints() {
        let limit = format!("LIMIT {}", super::GAUGED_ENDPOINTS);
        assert!(super::OLDEST_PENDING_BY_ENDPOINT.ends_with(&limit));
    }
}
