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
    /// When the oldest event not yet planned into deliveries was logged.
    pub oldest_unplanned_event: Option<PreciseTime>,
    pub pools: Vec<PoolUse>,
    /// Writes waiting for the embedded database's single writer (its group-commit queue);
    /// `None` on PostgreSQL.
    pub writer_queue: Option<u64>,
}
