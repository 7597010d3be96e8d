//! Sessions, their peers, what peers received, the event log, and the nodes peers are
//! connected through. Changes are group-committed by their own writer (see `live_writes`);
//! the single writer commits events in seq order, so the log needs no lock of its own.

use std::sync::Arc;

use hms_types::PreciseTime;
use hms_types::session::SessionFilter;
use hms_types::simulate::Delivery;
use sqlx::{Sqlite, SqlitePool};

use super::lists;
use super::point_reads::{PointReads, off_thread, snapshot};
use crate::StoreResult;
use crate::codec::*;
use crate::records::*;

pub(super) async fn session(
    point_reads: &Arc<PointReads>,
    workspace_id: &str,
    id: &str,
) -> StoreResult<Option<SessionRecord>> {
    let select = lists::session(workspace_id, id);
    let found = off_thread(point_reads, move |c| sessions_with_peers(c, &select, false)).await?;
    Ok(found.into_iter().next())
}

pub(super) async fn sessions(
    point_reads: &Arc<PointReads>,
    workspace_id: &str,
    filter: &SessionFilter,
    page: &PageRequest,
) -> StoreResult<Vec<SessionRecord>> {
    let select = lists::sessions(workspace_id, filter, page);
    off_thread(point_reads, move |c| sessions_with_peers(c, &select, false)).await
}

pub(super) async fn live_session(point_reads: &Arc<PointReads>, room_id: &str) -> StoreResult<Option<SessionRecord>> {
    let select = lists::live_session(room_id);
    let found = off_thread(point_reads, move |c| sessions_with_peers(c, &select, true)).await?;
    Ok(found.into_iter().next())
}

/// The sessions `select` reads, each with its peers (`present_only`: those still in it),
/// from one snapshot.
fn sessions_with_peers(
    connection: &rusqlite::Connection,
    select: &lists::Select,
    present_only: bool,
) -> StoreResult<Vec<SessionRecord>> {
    snapshot(connection, || {
        let mut sessions = select.all(connection, |row| session_from(row))?;
        lists::attach_peers(connection, &mut sessions, present_only)?;
        Ok(sessions)
    })
}

pub(super) fn live_revision(point_reads: &PointReads, room_id: &str) -> StoreResult<Option<SessionRevision>> {
    point_reads.one(
        "SELECT id, revision FROM sessions WHERE room_id = ? AND active = 1",
        [room_id],
        |row| session_revision_from(row),
    )
}

pub(super) async fn peer_inbox(
    reader: &SqlitePool,
    room_id: &str,
    peer_id: &str,
    limit: u32,
) -> StoreResult<Option<Vec<Delivery>>> {
    // One snapshot, so that a peer found has all it received so far.
    let mut tx = reader.begin().await?;
    let known: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM session_peers p JOIN sessions s ON s.id = p.session_id WHERE p.id = ? AND s.room_id = ?",
    )
    .bind(peer_id)
    .bind(room_id)
    .fetch_optional(&mut *tx)
    .await?;
    if known.is_none() {
        return Ok(None);
    }
    let latest = sqlx::query(
        "SELECT kind, fields, at_ns FROM peer_deliveries WHERE peer_id = ? AND room_id = ? ORDER BY id DESC LIMIT ?",
    )
    .bind(peer_id)
    .bind(room_id)
    .bind(i64::from(limit))
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    oldest_first(&latest).map(Some)
}

pub(super) async fn events(reader: &SqlitePool, workspace_id: &str, query: &EventQuery) -> StoreResult<Vec<LoggedEvent>> {
    events_select::<Sqlite>(workspace_id, query)
        .build()
        .fetch_all(reader)
        .await?
        .iter()
        .map(logged_event_from)
        .collect()
}

pub(super) async fn heartbeat(writer: &SqlitePool, node_id: &str, now: PreciseTime) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO nodes (id, heartbeat_ns) VALUES (?, ?) \
         ON CONFLICT (id) DO UPDATE SET heartbeat_ns = excluded.heartbeat_ns",
    )
    .bind(node_id)
    .bind(nanos(now))
    .execute(writer)
    .await?;
    Ok(())
}

pub(super) async fn forget_node(writer: &SqlitePool, node_id: &str) -> StoreResult<()> {
    sqlx::query("DELETE FROM nodes WHERE id = ?")
        .bind(node_id)
        .execute(writer)
        .await?;
    Ok(())
}

pub(super) async fn stranded_peers(reader: &SqlitePool, alive_since: PreciseTime) -> StoreResult<Vec<StrandedPeer>> {
    sqlx::query(
        "SELECT s.workspace_id, s.room_id, p.id AS peer_id FROM session_peers p \
         JOIN sessions s ON s.id = p.session_id LEFT JOIN nodes n ON n.id = p.node_id \
         WHERE s.active = 1 AND p.left_ns IS NULL AND (n.id IS NULL OR n.heartbeat_ns < ?) \
         ORDER BY s.room_id, p.joined_ns, p.id",
    )
    .bind(nanos(alive_since))
    .fetch_all(reader)
    .await?
    .iter()
    .map(stranded_peer_from)
    .collect()
}
