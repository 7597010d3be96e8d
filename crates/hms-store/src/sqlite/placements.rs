//! Where rooms' real peers are served, and the deliveries their node follows.

use hms_types::PreciseTime;
use sqlx::SqlitePool;

use crate::StoreResult;
use crate::codec::{nanos, numbered_delivery_from, placement_from};
use crate::records::{NumberedDelivery, Placement};

/// Takes the room for `node` unless a live node has it (or `node` itself, whose URL may
/// have changed), then answers who has it.
pub(super) async fn place_room(
    writer: &SqlitePool,
    room_id: &str,
    node: &Placement,
    alive_since: PreciseTime,
) -> StoreResult<Placement> {
    sqlx::query(
        "INSERT INTO room_placements (room_id, node_id, url) VALUES (?1, ?2, ?3) \
         ON CONFLICT (room_id) DO UPDATE SET node_id = excluded.node_id, url = excluded.url \
         WHERE room_placements.node_id = excluded.node_id OR NOT EXISTS \
           (SELECT 1 FROM nodes n WHERE n.id = room_placements.node_id AND n.heartbeat_ns >= ?4)",
    )
    .bind(room_id)
    .bind(&node.node_id)
    .bind(&node.url)
    .bind(nanos(alive_since))
    .execute(writer)
    .await?;
    let placed = sqlx::query("SELECT node_id, url FROM room_placements WHERE room_id = ?")
        .bind(room_id)
        .fetch_one(writer)
        .await?;
    placement_from(&placed)
}

pub(super) async fn room_deliveries(
    reader: &SqlitePool,
    room_id: &str,
    after: i64,
    limit: u32,
) -> StoreResult<Vec<NumberedDelivery>> {
    sqlx::query(
        "SELECT id, room_id, peer_id, kind, fields, at_ns FROM peer_deliveries \
         WHERE room_id = ? AND id > ? ORDER BY id LIMIT ?",
    )
    .bind(room_id)
    .bind(after)
    .bind(i64::from(limit))
    .fetch_all(reader)
    .await?
    .iter()
    .map(numbered_delivery_from)
    .collect()
}

pub(super) async fn latest_room_delivery(reader: &SqlitePool, room_id: &str) -> StoreResult<i64> {
    let latest: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM peer_deliveries WHERE room_id = ?")
        .bind(room_id)
        .fetch_one(reader)
        .await?;
    Ok(latest.unwrap_or(0))
}
