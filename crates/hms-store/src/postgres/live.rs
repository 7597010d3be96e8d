//! Sessions, their peers, what peers received, the event log, and the nodes peers are
//! connected through.
//!
//! Several nodes may change one room: a change names the session revision it was computed
//! from, and its conditional update of that revision makes the second of two concurrent
//! changes wait for the first and then match nothing (`Stale`). A second open session of
//! a room breaks a unique index and is `Stale` too. A workspace's events are logged by one
//! transaction at a time, so that they commit in seq order (see `lock_event_logs`).

use hms_types::session::SessionFilter;
use hms_types::simulate::Delivery;
use hms_types::{PreciseTime, Timestamp};
use sqlx::postgres::PgPool;
use sqlx::{Postgres, QueryBuilder, Transaction};

use super::read_snapshot;
use crate::codec::*;
use crate::records::*;
use crate::{StoreError, StoreResult};

pub(super) async fn record(pool: &PgPool, write: &LiveWrite) -> StoreResult<()> {
    let mut tx = pool.begin().await?;
    if let Some(read) = &write.read {
        claim_revision(&mut tx, read).await?;
    }
    if let Some(session) = &write.opened {
        open_session(&mut tx, session).await?;
    }
    for peer in &write.joined {
        insert_peer(&mut tx, peer).await?;
        touch_session(&mut tx, &peer.session_id, peer.joined_at).await?;
    }
    for changed in &write.changed {
        change_peer(&mut tx, changed).await?;
    }
    for published in &write.published {
        sqlx::query("UPDATE session_peers SET tracks = $1 WHERE id = $2 AND session_id = $3")
            .bind(to_json(&published.tracks))
            .bind(&published.peer_id)
            .bind(&published.session_id)
            .execute(&mut *tx)
            .await?;
    }
    for left in &write.left {
        sqlx::query("UPDATE session_peers SET left_ns = $1 WHERE id = $2 AND session_id = $3 AND left_ns IS NULL")
            .bind(nanos(left.at))
            .bind(&left.peer_id)
            .bind(&left.session_id)
            .execute(&mut *tx)
            .await?;
        touch_session(&mut tx, &left.session_id, left.at).await?;
    }
    if let Some(closed) = &write.closed {
        sqlx::query("UPDATE sessions SET active = FALSE, updated_ns = $1 WHERE id = $2")
            .bind(nanos(closed.at))
            .bind(&closed.session_id)
            .execute(&mut *tx)
            .await?;
    }
    if let Some(room_id) = &write.disabled_room {
        // Later than the last write, as every write of a room (see `Store::update_room`).
        sqlx::query("UPDATE rooms SET enabled = FALSE, updated_at = GREATEST($1, updated_at + 1) WHERE id = $2")
            .bind(Timestamp::now().unix_millis())
            .bind(room_id)
            .execute(&mut *tx)
            .await?;
    }
    if !write.room_id.is_empty() {
        super::changes::announce_room(&mut tx, &write.room_id).await?;
    }
    for sent in &write.deliveries {
        insert_peer_delivery(&mut tx, sent).await?;
    }
    lock_event_logs(&mut tx, &write.events).await?;
    for event in &write.events {
        log_event(&mut tx, event).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Moves the revision the change was computed from. A concurrent change of the session
/// holds its row until it commits; this update then re-checks the revision on the new
/// row version and matches nothing.
async fn claim_revision(tx: &mut Transaction<'static, Postgres>, read: &SessionRevision) -> StoreResult<()> {
    let moved = sqlx::query("UPDATE sessions SET revision = revision + 1 WHERE id = $1 AND revision = $2 AND active")
        .bind(&read.session_id)
        .bind(read.revision)
        .execute(&mut **tx)
        .await?;
    if moved.rows_affected() == 0 {
        return Err(StoreError::Stale);
    }
    Ok(())
}

async fn open_session(tx: &mut Transaction<'static, Postgres>, session: &SessionRecord) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO sessions (id, workspace_id, room_id, active, started_ns, updated_ns, revision) \
         VALUES ($1, $2, $3, TRUE, $4, $5, 0)",
    )
    .bind(&session.id)
    .bind(&session.workspace_id)
    .bind(&session.room_id)
    .bind(nanos(session.started_at))
    .bind(nanos(session.updated_at))
    .execute(&mut **tx)
    .await
    // Another node opened the room's session first.
    .map_err(|error| match unique_violation(error, "an open session") {
        StoreError::Conflict(_) => StoreError::Stale,
        other => other,
    })?;
    Ok(())
}

async fn insert_peer(tx: &mut Transaction<'static, Postgres>, peer: &SessionPeerRecord) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO session_peers (id, session_id, name, role, user_id, metadata, current_name, \
         \"current_role\", current_metadata, joined_ns, left_ns, node_id, tracks) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL, $11, $12)",
    )
    .bind(&peer.id)
    .bind(&peer.session_id)
    .bind(&peer.name)
    .bind(&peer.role)
    .bind(&peer.user_id)
    .bind(&peer.metadata)
    .bind(&peer.current.name)
    .bind(&peer.current.role)
    .bind(&peer.current.metadata)
    .bind(nanos(peer.joined_at))
    .bind(&peer.node_id)
    .bind(to_json(&peer.tracks))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn change_peer(tx: &mut Transaction<'static, Postgres>, changed: &PeerChanged) -> StoreResult<()> {
    sqlx::query(
        "UPDATE session_peers SET current_name = $1, \"current_role\" = $2, current_metadata = $3 \
         WHERE id = $4 AND session_id = $5",
    )
    .bind(&changed.profile.name)
    .bind(&changed.profile.role)
    .bind(&changed.profile.metadata)
    .bind(&changed.peer_id)
    .bind(&changed.session_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn touch_session(tx: &mut Transaction<'static, Postgres>, session_id: &str, at: PreciseTime) -> StoreResult<()> {
    sqlx::query("UPDATE sessions SET updated_ns = GREATEST(updated_ns, $1) WHERE id = $2")
        .bind(nanos(at))
        .bind(session_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn insert_peer_delivery(tx: &mut Transaction<'static, Postgres>, sent: &PeerDelivery) -> StoreResult<()> {
    sqlx::query("INSERT INTO peer_deliveries (room_id, peer_id, kind, fields, at_ns) VALUES ($1, $2, $3, $4, $5)")
        .bind(&sent.room_id)
        .bind(&sent.peer_id)
        .bind(&sent.delivery.kind)
        .bind(to_json(&sent.delivery.fields))
        .bind(nanos(sent.delivery.at))
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// First key of the transaction-level advisory locks on workspaces' event logs ("ohms");
/// the second is a hash of the workspace id. Two-int keys never meet the one-bigint keys
/// of the webhook queue's locks.
const EVENT_LOG_LOCK: i32 = 0x6f68_6d73;

/// Makes the calling transaction the only one logging events of their workspaces until it
/// commits. An event's seq is taken when it is inserted, and transactions commit in their
/// own order, so without it a reader could see seq 8 before seq 7 commits, and a consumer
/// following the log with `after` (the cursor the API hands out) would never see 7. With
/// it, a workspace's events commit in seq order. It is taken last, just before the events
/// are inserted, so that it is held only until the commit that follows.
async fn lock_event_logs(tx: &mut Transaction<'static, Postgres>, events: &[EventRecord]) -> StoreResult<()> {
    let mut workspaces: Vec<&str> = events.iter().map(|event| event.workspace_id.as_str()).collect();
    // Always taken in one order, so that no two transactions wait for each other.
    workspaces.sort_unstable();
    workspaces.dedup();
    for workspace_id in workspaces {
        sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
            .bind(EVENT_LOG_LOCK)
            .bind(workspace_id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Logs an event and queues it for the webhook planner in the same transaction: the
/// planner reads the queue, never a range of seqs (see migration 0003).
async fn log_event(tx: &mut Transaction<'static, Postgres>, event: &EventRecord) -> StoreResult<()> {
    sqlx::query(
        "WITH logged AS (INSERT INTO events (id, workspace_id, room_id, kind, payload, created_ns) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING seq) \
         INSERT INTO webhook_unplanned (seq) SELECT seq FROM logged",
    )
    .bind(&event.id)
    .bind(&event.workspace_id)
    .bind(&event.room_id)
    .bind(&event.kind)
    .bind(&event.payload)
    .bind(nanos(event.created_at))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub(super) async fn session(pool: &PgPool, workspace_id: &str, id: &str) -> StoreResult<Option<SessionRecord>> {
    let mut tx = read_snapshot(pool).await?;
    let row = sqlx::query("SELECT * FROM sessions WHERE workspace_id = $1 AND id = $2")
        .bind(workspace_id)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let mut sessions = vec![session_from(&row)?];
    attach_peers(&mut tx, &mut sessions).await?;
    tx.commit().await?;
    Ok(sessions.pop())
}

pub(super) async fn sessions(
    pool: &PgPool,
    workspace_id: &str,
    filter: &SessionFilter,
    page: &PageRequest,
) -> StoreResult<Vec<SessionRecord>> {
    let mut query = QueryBuilder::<Postgres>::new("SELECT * FROM sessions WHERE workspace_id = ");
    query.push_bind(workspace_id);
    if let Some(room_id) = &filter.room_id {
        query.push(" AND room_id = ").push_bind(room_id);
    }
    if let Some(active) = filter.active {
        query.push(" AND active = ").push_bind(active);
    }
    if let Some(after) = filter.after {
        query
            .push(" AND started_ns >= ")
            .push_bind(i128_to_i64(i128::from(after.unix_millis()) * 1_000_000));
    }
    if let Some(before) = filter.before {
        // `before` is inclusive at millisecond precision: the whole millisecond counts.
        query
            .push(" AND started_ns < ")
            .push_bind(i128_to_i64((i128::from(before.unix_millis()) + 1) * 1_000_000));
    }
    if let Some(start) = &page.start {
        query.push(" AND id < ").push_bind(start);
    }
    query.push(" ORDER BY id DESC LIMIT ").push_bind(i64::from(page.limit));
    let mut tx = read_snapshot(pool).await?;
    let mut sessions = query
        .build()
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(session_from)
        .collect::<StoreResult<Vec<_>>>()?;
    attach_peers(&mut tx, &mut sessions).await?;
    tx.commit().await?;
    Ok(sessions)
}

/// Loads the peers of `sessions` with one query.
async fn attach_peers(tx: &mut Transaction<'static, Postgres>, sessions: &mut [SessionRecord]) -> StoreResult<()> {
    if sessions.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = sessions.iter().map(|s| s.id.as_str()).collect();
    let rows = sqlx::query("SELECT * FROM session_peers WHERE session_id = ANY($1) ORDER BY joined_ns, id")
        .bind(&ids)
        .fetch_all(&mut **tx)
        .await?;
    for row in rows {
        let peer = session_peer_from(&row)?;
        if let Some(session) = sessions.iter_mut().find(|s| s.id == peer.session_id) {
            session.peers.push(peer);
        }
    }
    Ok(())
}

pub(super) async fn live_session(pool: &PgPool, room_id: &str) -> StoreResult<Option<SessionRecord>> {
    let mut tx = read_snapshot(pool).await?;
    let row = sqlx::query("SELECT * FROM sessions WHERE room_id = $1 AND active")
        .bind(room_id)
        .fetch_optional(&mut *tx)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let mut session = session_from(&row)?;
    session.peers =
        sqlx::query("SELECT * FROM session_peers WHERE session_id = $1 AND left_ns IS NULL ORDER BY joined_ns, id")
            .bind(&session.id)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(session_peer_from)
            .collect::<StoreResult<_>>()?;
    tx.commit().await?;
    Ok(Some(session))
}

pub(super) async fn peer_inbox(
    pool: &PgPool,
    room_id: &str,
    peer_id: &str,
    limit: u32,
) -> StoreResult<Option<Vec<Delivery>>> {
    let mut tx = read_snapshot(pool).await?;
    let known: Option<i32> = sqlx::query_scalar(
        "SELECT 1 FROM session_peers p JOIN sessions s ON s.id = p.session_id WHERE p.id = $1 AND s.room_id = $2",
    )
    .bind(peer_id)
    .bind(room_id)
    .fetch_optional(&mut *tx)
    .await?;
    if known.is_none() {
        return Ok(None);
    }
    let mut latest = sqlx::query(
        "SELECT kind, fields, at_ns FROM peer_deliveries WHERE peer_id = $1 AND room_id = $2 \
         ORDER BY id DESC LIMIT $3",
    )
    .bind(peer_id)
    .bind(room_id)
    .bind(i64::from(limit))
    .fetch_all(&mut *tx)
    .await?
    .iter()
    .map(peer_delivery_from)
    .collect::<StoreResult<Vec<_>>>()?;
    tx.commit().await?;
    latest.reverse();
    Ok(Some(latest))
}

pub(super) async fn events(pool: &PgPool, workspace_id: &str, query: &EventQuery) -> StoreResult<Vec<LoggedEvent>> {
    let mut sql = QueryBuilder::<Postgres>::new("SELECT * FROM events WHERE workspace_id = ");
    sql.push_bind(workspace_id);
    if let Some(room_id) = &query.room_id {
        sql.push(" AND room_id = ").push_bind(room_id);
    }
    if let Some(kind) = &query.kind {
        sql.push(" AND kind = ").push_bind(kind);
    }
    if let Some(after) = query.after_seq {
        sql.push(" AND seq > ").push_bind(after);
    }
    sql.push(" ORDER BY seq LIMIT ").push_bind(i64::from(query.limit));
    sql.build()
        .fetch_all(pool)
        .await?
        .iter()
        .map(logged_event_from)
        .collect()
}

pub(super) async fn heartbeat(pool: &PgPool, node_id: &str, now: PreciseTime) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO nodes (id, heartbeat_ns) VALUES ($1, $2) \
         ON CONFLICT (id) DO UPDATE SET heartbeat_ns = excluded.heartbeat_ns",
    )
    .bind(node_id)
    .bind(nanos(now))
    .execute(pool)
    .await?;
    Ok(())
}

pub(super) async fn forget_node(pool: &PgPool, node_id: &str) -> StoreResult<()> {
    sqlx::query("DELETE FROM nodes WHERE id = $1")
        .bind(node_id)
        .execute(pool)
        .await?;
    Ok(())
}

pub(super) async fn stranded_peers(pool: &PgPool, alive_since: PreciseTime) -> StoreResult<Vec<StrandedPeer>> {
    sqlx::query(
        "SELECT s.workspace_id, s.room_id, p.id AS peer_id FROM session_peers p \
         JOIN sessions s ON s.id = p.session_id LEFT JOIN nodes n ON n.id = p.node_id \
         WHERE s.active AND p.left_ns IS NULL AND (n.id IS NULL OR n.heartbeat_ns < $1) \
         ORDER BY s.room_id, p.joined_ns, p.id",
    )
    .bind(nanos(alive_since))
    .fetch_all(pool)
    .await?
    .iter()
    .map(stranded_peer_from)
    .collect()
}
