//! The PostgreSQL store's gauges: a few indexed counts.

use sqlx::{PgPool, Row};

use crate::StoreResult;
use crate::gauges::{OLDEST_PENDING_BY_ENDPOINT, PoolUse, StoreGauges, endpoint_ages};
use hms_types::PreciseTime;

pub(super) async fn read(pool: &PgPool, node_id: &str) -> StoreResult<StoreGauges> {
    let live = sqlx::query(
        "SELECT COUNT(DISTINCT s.room_id) AS rooms, COUNT(DISTINCT s.id) AS sessions, COUNT(p.id) AS peers \
         FROM session_peers p JOIN sessions s ON s.id = p.session_id \
         WHERE s.active AND p.left_ns IS NULL AND p.node_id = $1",
    )
    .bind(node_id)
    .fetch_one(pool)
    .await?;
    let pending = sqlx::query(
        "SELECT COUNT(*) AS pending, MIN(created_ns) AS oldest FROM webhook_deliveries WHERE state = 'pending'",
    )
    .fetch_one(pool)
    .await?;
    let by_endpoint: Vec<(String, i64)> = sqlx::query_as(OLDEST_PENDING_BY_ENDPOINT).fetch_all(pool).await?;
    let unplanned: Option<i64> = sqlx::query_scalar(
        "SELECT e.created_ns FROM webhook_unplanned u JOIN events e ON e.seq = u.seq ORDER BY u.seq LIMIT 1",
    )
    .fetch_optional(pool)
    .await?;
    let count = |row: &sqlx::postgres::PgRow, column: &str| -> StoreResult<u64> {
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
        pools: vec![PoolUse {
            pool: "main",
            open: pool.size(),
            idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
            max: pool.options().get_max_connections(),
        }],
        writer_queue: None,
    })
}
