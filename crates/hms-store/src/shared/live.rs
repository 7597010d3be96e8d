//! Sessions' reads, the event log, and the nodes peers are connected through.

use hms_types::PreciseTime;
use hms_types::simulate::Delivery;
use sqlx::{Executor, QueryBuilder, Transaction};

use crate::StoreResult;
use crate::backend::{Backend, BindParam};
use crate::codec::*;
use crate::records::*;

/// The latest deliveries (at most `limit`) of a peer that was ever in `room_id`, oldest
/// first; `None` for a peer the room never had. From `tx`, which the caller makes
/// one snapshot, so that a peer found has all it received so far.
pub(crate) async fn peer_inbox<DB: Backend>(
    tx: &mut Transaction<'_, DB>,
    room_id: &str,
    peer_id: &str,
    limit: u32,
) -> StoreResult<Option<Vec<Delivery>>> {
    let known = sqlx::query(
        "SELECT p.id FROM session_peers p JOIN sessions s ON s.id = p.session_id WHERE p.id = $1 AND s.room_id = $2",
    )
    .param(peer_id)
    .param(room_id)
    .fetch_optional(DB::on(tx))
    .await?;
    if known.is_none() {
        return Ok(None);
    }
    let latest = sqlx::query(
        "SELECT kind, fields, at_ns FROM peer_deliveries WHERE peer_id = $1 AND room_id = $2 \
         ORDER BY id DESC LIMIT $3",
    )
    .param(peer_id)
    .param(room_id)
    .param(i64::from(limit))
    .fetch_all(DB::on(tx))
    .await?;
    latest
        .iter()
        .rev()
        .map(peer_delivery_from)
        .collect::<StoreResult<_>>()
        .map(Some)
}

pub(crate) async fn events<'c, DB>(
    db: impl Executor<'c, Database = DB>,
    workspace_id: &str,
    query: &EventQuery,
) -> StoreResult<Vec<LoggedEvent>>
where
    DB: Backend,
    DB::Arguments: Default,
    String: for<'t> sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    i64: for<'t> sqlx::Encode<'t, DB> + sqlx::Type<DB>,
{
    let EventQuery {
        room_id,
        kind,
        after_seq,
        limit,
    } = query;
    let mut sql = QueryBuilder::<DB>::new("SELECT * FROM events WHERE workspace_id = ");
    sql.push_bind(workspace_id.to_owned());
    if let Some(room_id) = room_id {
        sql.push(" AND room_id = ").push_bind(room_id.clone());
    }
    if let Some(kind) = kind {
        sql.push(" AND kind = ").push_bind(kind.clone());
    }
    if let Some(after) = after_seq {
        sql.push(" AND seq > ").push_bind(*after);
    }
    sql.push(" ORDER BY seq LIMIT ").push_bind(i64::from(*limit));
    sql.build().fetch_all(db).await?.decoded(logged_event_from)
}

pub(crate) async fn heartbeat<'c, DB: Backend>(
    db: impl Executor<'c, Database = DB>,
    node_id: &str,
    now: PreciseTime,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO nodes (id, heartbeat_ns) VALUES ($1, $2) \
         ON CONFLICT (id) DO UPDATE SET heartbeat_ns = excluded.heartbeat_ns",
    )
    .param(node_id)
    .param(nanos(now))
    .execute(db)
    .await?;
    Ok(())
}

pub(crate) async fn forget_node<'c, DB: Backend>(
    db: impl Executor<'c, Database = DB>,
    node_id: &str,
) -> StoreResult<()> {
    sqlx::query("DELETE FROM nodes WHERE id = $1")
        .param(node_id)
        .execute(db)
        .await?;
    Ok(())
}

pub(crate) async fn stranded_peers<'c, DB: Backend>(
    db: impl Executor<'c, Database = DB>,
    alive_since: PreciseTime,
) -> StoreResult<Vec<StrandedPeer>> {
    sqlx::query(
        "SELECT s.workspace_id, s.room_id, p.id AS peer_id FROM session_peers p \
         JOIN sessions s ON s.id = p.session_id LEFT JOIN nodes n ON n.id = p.node_id \
         WHERE s.active = TRUE AND p.left_ns IS NULL AND (n.id IS NULL OR n.heartbeat_ns < $1) \
         ORDER BY s.room_id, p.joined_ns, p.id",
    )
    .param(nanos(alive_since))
    .fetch_all(db)
    .await?
    .decoded(stranded_peer_from)
}
