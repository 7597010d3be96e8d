//! The PostgreSQL store's gauges: a few indexed counts.

use sqlx::PgPool;

use super::connections::Connections;

use crate::StoreResult;
use crate::gauges::{OLDEST_PENDING_BY_ENDPOINT, PENDING_DELIVERIES, StoreGauges, gauges_from, pool_use};

pub(super) async fn read(pool: &PgPool, reads: &Connections, node_id: &str) -> StoreResult<StoreGauges> {
    let live = sqlx::query(
        "SELECT COUNT(DISTINCT s.room_id) AS rooms, COUNT(DISTINCT s.id) AS sessions, COUNT(p.id) AS peers \
         FROM session_peers p JOIN sessions s ON s.id = p.session_id \
         WHERE s.active AND p.left_ns IS NULL AND p.node_id = $1",
    )
    .bind(node_id)
    .fetch_one(pool)
    .await?;
    let pending = sqlx::query(PENDING_DELIVERIES).fetch_one(pool).await?;
    let by_endpoint = sqlx::query(OLDEST_PENDING_BY_ENDPOINT).fetch_all(pool).await?;
    let unplanned: Option<i64> = sqlx::query_scalar(
        "SELECT e.created_ns FROM webhook_unplanned u JOIN events e ON e.seq = u.seq ORDER BY u.seq LIMIT 1",
    )
    .fetch_optional(pool)
    .await?;
    let mut gauges = gauges_from(&live, &pending, &by_endpoint, unplanned)?;
    gauges.pools = vec![pool_use("main", pool), reads.usage("read")];
    Ok(gauges)
}
