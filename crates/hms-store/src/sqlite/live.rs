//! Sessions, their peers, what peers received, the event log, and the nodes peers are
//! connected through. Changes are group-committed by their own writer (see `live_writes`),
//! and the reads of sessions run without sqlx (see `point_reads`); the single writer
//! commits events in seq order, so the log needs no lock of its own. The statements both
//! stores run are in `shared::live`.

use std::sync::Arc;

use hms_types::session::SessionFilter;
use hms_types::simulate::Delivery;
use sqlx::SqlitePool;

use super::lists;
use super::point_reads::{PointReads, off_thread, snapshot};
use crate::codec::*;
use crate::records::*;
use crate::{StoreResult, shared};

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
    let mut snapshot = reader.begin().await?;
    let inbox = shared::live::peer_inbox(&mut snapshot, room_id, peer_id, limit).await?;
    snapshot.commit().await?;
    Ok(inbox)
}
