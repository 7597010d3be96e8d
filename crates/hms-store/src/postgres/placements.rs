//! Where rooms' real peers are served, and the deliveries their node follows.

use hms_types::PreciseTime;
use sqlx::PgPool;

use crate::StoreResult;
use crate::codec::{nanos, numbered_delivery_from, placement_from};
use crate::records::{NumberedDelivery, Placement};

/// Takes the room for `node` unless a live node has it (or `node` itself, whose URL may
/// have changed), then answers who has it. Nodes asking at once queue on the room's row,
/// and each sees the placement the first one made.
pub(super) async fn place_room(
    pool: &PgPool,
    room_id: &str,
    node: &Placement,
    alive_since: PreciseTime,
) -> StoreResult<Placement> {
    sqlx::query(
        "INSERT INTO room_placements (room_id, node_id, url) VALUES ($1, $2, $3) \
         ON CONFLICT (room_id) DO UPDATE SET node_id = excluded.node_id, url = excluded.url \
         WHERE room_placements.node_id = excluded.node_id OR NOT EXISTS \
           (SELECT 1 FROM nodes n WHERE n.id = room_placements.node_id AND n.heartbeat_ns >= $4)",
    )
    .bind(room_id)
    .bind(&node.node_id)
    .bind(&node.url)
    .bind(nanos(alive_since))
    .execute(pool)
    .await?;
    let placed = sqlx::query("SELECT node_id, url FROM room_placements WHERE room_id = $1")
        .bind(room_id)
        .fetch_one(pool)
        .await?;
    placement_from(&placed)
}

pub(super) async fn room_deliveries(
    pool: &PgPool,
    room_id: &str,
    after: i64,
    limit: u32,
) -> StoreResult<Vec<NumberedDelivery>> {
    sqlx::query(
        "SELECT id, room_id, peer_id, kind, fields, at_ns FROM peer_deliveries \
         WHERE room_id = $1 AND id > $2 ORDER BY id LIMIT $3",
    )
    .bind(room_id)
    .bind(after)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?
    .iter()
    .map(numbered_delivery_from)
    .collect()
}

pub(super) async fn latest_room_delivery(pool: &PgPool, room_id: &str) -> StoreResult<i64> {
    let latest: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM peer_deliveries WHERE room_id = $1")
        .bind(room_id)
        .fetch_one(pool)
        .await?;
    Ok(latest.unwrap_or(0))
}
