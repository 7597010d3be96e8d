//! The SQLite store's gauges: a few indexed counts, on the read pool.

use sqlx::{Row, SqlitePool};

use crate::StoreResult;
use crate::gauges::{OLDEST_PENDING_BY_ENDPOINT, PoolUse, StoreGauges, endpoint_ages};
use hms_types::PreciseTime;

pub(super) async fn read(reader: &SqlitePool, node_id: &str) -> StoreResult<StoreGauges> {
    let live = sqlx::query(
        "SELECT COUNT(DISTINCT s.room_id) AS rooms, COUNT(DISTINCT s.id) AS sessions, COUNT(p.id) AS peers \
         FROM session_peers p JOIN sessions s ON s.id = p.session_id \
         WHERE s.active = 1 AND p.left_ns IS NULL AND p.node_id = ?",
    )
    .bind(node_id)
    .fetch_one(reader)
    .await?;
    let pending = sqlx::query(
        "SELECT COUNT(*) AS pending, MIN(created_ns) AS oldest FROM webhook_deliveries WHERE state = 'pending'",
    )
    .fetch_one(reader)
    .await?;
    let by_endpoint: Vec<(String, i64)> = sqlx::query_as(OLDEST_PENDING_BY_ENDPOINT).fetch_all(reader).await?;
    let unplanned: Option<i64> = sqlx::query_scalar(
        "SELECT created_ns FROM events WHERE seq > (SELECT last_seq FROM webhook_planner WHERE id = 1) \
         ORDER BY seq LIMIT 1",
    )
    .fetch_optional(reader)
    .await?;
    let count = |row: &sqlx::sqlite::SqliteRow, column: &str| -> StoreResult<u64> {
        Ok(u64::try_from(row.try_get::<i64, _>(column)?).unwrap_or(0))
    };
    Ok(StoreGauges {
        live_rooms: count(&live, "rooms")?,
        live_sessions: count(&live, "sessions")?,
        live_peers: count(&live, "peers")?,
        pending_deliveries: count(&pending, "pending")?,
        oldest_pending_delivery: pending
            .try_get::<Option<i64>, _>("oldest")?
            .map(|ns| PreciseTime::from_unix_nanos(i128::from(ns))),
        oldest_pending_by_endpoint: endpoint_ages(by_endpoint),
        oldest_unplanned_event: unplanned.map(|ns| PreciseTime::from_unix_nanos(i128::from(ns))),
        pools: Vec::new(),
        writer_queue: None,
    })
}

pub(super) fn pool_use(name: &'static str, pool: &SqlitePool) -> PoolUse {
    PoolUse {
        pool: name,
        open: pool.size(),
        idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
        max: pool.options().get_max_connections(),
    }
}
