//! Where rooms' real peers are served, and the deliveries their node follows.

use hms_types::PreciseTime;
use sqlx::Executor;

use crate::StoreResult;
use crate::backend::{Backend, BindParam};
use crate::codec::{Columns, Decoded, nanos, numbered_delivery_from, placement_from};
use crate::records::{NumberedDelivery, Placement};

/// Takes the room for `node` unless a live node has it (or `node` itself, whose URL may
/// have changed), then answers who has it. On PostgreSQL, nodes asking at once queue on
/// the room's row, and each sees the placement the first one made.
pub(crate) async fn place_room<'c, DB: Backend>(
    db: impl Executor<'c, Database = DB> + Copy,
    room_id: &str,
    node: &Placement,
    alive_since: PreciseTime,
) -> StoreResult<Placement> {
    let Placement { node_id, url } = node;
    sqlx::query(
        "INSERT INTO room_placements (room_id, node_id, url) VALUES ($1, $2, $3) \
         ON CONFLICT (room_id) DO UPDATE SET node_id = excluded.node_id, url = excluded.url \
         WHERE room_placements.node_id = excluded.node_id OR NOT EXISTS \
           (SELECT 1 FROM nodes n WHERE n.id = room_placements.node_id AND n.heartbeat_ns >= $4)",
    )
    .param(room_id)
    .param(node_id)
    .param(url)
    .param(nanos(alive_since))
    .execute(db)
    .await?;
    let placed = sqlx::query("SELECT node_id, url FROM room_placements WHERE room_id = $1")
        .param(room_id)
        .fetch_one(db)
        .await?;
    placement_from(&placed)
}

pub(crate) async fn room_deliveries<'c, DB: Backend>(
    db: impl Executor<'c, Database = DB>,
    room_id: &str,
    after: i64,
    limit: u32,
) -> StoreResult<Vec<NumberedDelivery>> {
    sqlx::query(
        "SELECT id, room_id, peer_id, kind, fields, at_ns FROM peer_deliveries \
         WHERE room_id = $1 AND id > $2 ORDER BY id LIMIT $3",
    )
    .param(room_id)
    .param(after)
    .param(i64::from(limit))
    .fetch_all(db)
    .await?
    .decoded(numbered_delivery_from)
}

pub(crate) async fn latest_room_delivery<'c, DB: Backend>(
    db: impl Executor<'c, Database = DB>,
    room_id: &str,
) -> StoreResult<i64> {
    let latest = sqlx::query("SELECT MAX(id) AS latest FROM peer_deliveries WHERE room_id = $1")
        .param(room_id)
        .fetch_one(db)
        .await?;
    Ok(latest.get::<Option<i64>>("latest")?.unwrap_or(0))
}
