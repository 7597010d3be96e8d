//! The SQLite store's gauges: a few indexed counts, on the read pool.

use sqlx::SqlitePool;

use crate::StoreResult;
use crate::gauges::{OLDEST_PENDING_BY_ENDPOINT, PENDING_DELIVERIES, StoreGauges, gauges_from};

pub(super) async fn read(reader: &SqlitePool, node_id: &str) -> StoreResult<StoreGauges> {
    let live = sqlx::query(
        "SELECT COUNT(DISTINCT s.room_id) AS rooms, COUNT(DISTINCT s.id) AS sessions, COUNT(p.id) AS peers \
         FROM session_peers p JOIN sessions s ON s.id = p.session_id \
         WHERE s.active = 1 AND p.left_ns IS NULL AND p.node_id = ?",
    )
    .bind(node_id)
    .fetch_one(reader)
    .await?;
    let pending = sqlx::query(PENDING_DELIVERIES).fetch_one(reader).await?;
    let by_endpoint = sqlx::query(OLDEST_PENDING_BY_ENDPOINT).fetch_all(reader).await?;
    let unplanned: Option<i64> = sqlx::query_scalar(
        "SELECT created_ns FROM events WHERE seq > (SELECT last_seq FROM webhook_planner WHERE id = 1) \
         ORDER BY seq LIMIT 1",
    )
    .fetch_optional(reader)
    .await?;
    gauges_from(&live, &pending, &by_endpoint, unplanned)
}
