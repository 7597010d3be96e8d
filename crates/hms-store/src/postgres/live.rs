//! Sessions, their peers, what peers received, the event log, and the nodes peers are
//! connected through; the statements both stores run are in `shared::live`.
//!
//! Several nodes may change one room: a change names the session revision it was computed
//! from, and its conditional update of that revision makes the second of two concurrent
//! changes wait for the first and then match nothing (`Stale`). A second open session of
//! a room breaks a unique index and is `Stale` too. A workspace's events are logged by one
//! transaction at a time, so that they commit in seq order (see `lock_event_logs`).

use hms_types::Timestamp;
use hms_types::session::SessionFilter;
use hms_types::simulate::Delivery;
use sqlx::postgres::PgPool;
use sqlx::{Postgres, QueryBuilder, Transaction};

use super::read_snapshot;
use crate::codec::*;
use crate::records::*;
use crate::rules::{self, LiveStep};
use crate::{StoreError, StoreResult, shared};

pub(super) async fn record(pool: &PgPool, write: &LiveWrite) -> StoreResult<()> {
    let mut tx = pool.begin().await?;
    for step in rules::live_steps(write) {
        apply_step(&mut tx, step).await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn apply_step(tx: &mut Transaction<'static, Postgres>, step: LiveStep<'_>) -> StoreResult<()> {
    match step {
        LiveStep::ClaimRevision(read) => claim_revision(tx, read).await?,
        LiveStep::OpenSession(session) => open_session(tx, session).await?,
        LiveStep::InsertPeer(peer) => insert_peer(tx, peer).await?,
        LiveStep::ChangePeer(changed) => change_peer(tx, changed).await?,
        LiveStep::SetTracks(PeerTracks {
            session_id,
            peer_id,
            tracks,
        }) => {
            sqlx::query("UPDATE session_peers SET tracks = $1 WHERE id = $2 AND session_id = $3")
                .bind(to_json(tracks))
                .bind(peer_id)
                .bind(session_id)
                .execute(&mut **tx)
                .await?;
        }
        LiveStep::LeavePeer(PeerLeft {
            session_id,
            peer_id,
            at,
        }) => {
            sqlx::query("UPDATE session_peers SET left_ns = $1 WHERE id = $2 AND session_id = $3 AND left_ns IS NULL")
                .bind(nanos(*at))
                .bind(peer_id)
                .bind(session_id)
                .execute(&mut **tx)
                .await?;
        }
        LiveStep::TouchSession { session_id, at } => {
            sqlx::query("UPDATE sessions SET updated_ns = GREATEST(updated_ns, $1) WHERE id = $2")
                .bind(nanos(at))
                .bind(session_id)
                .execute(&mut **tx)
                .await?;
        }
        LiveStep::CloseSession(SessionClosed { session_id, at }) => {
            sqlx::query("UPDATE sessions SET active = FALSE, updated_ns = $1 WHERE id = $2")
                .bind(nanos(*at))
                .bind(session_id)
                .execute(&mut **tx)
                .await?;
        }
        LiveStep::DisableRoom(room_id) => {
            sqlx::query("UPDATE rooms SET enabled = FALSE, updated_at = GREATEST($1, updated_at + 1) WHERE id = $2")
                .bind(Timestamp::now().unix_millis())
                .bind(room_id)
                .execute(&mut **tx)
                .await?;
        }
        LiveStep::AnnounceRoom(room_id) => super::changes::announce_room(tx, room_id).await?,
        LiveStep::Deliver(sent) => insert_peer_delivery(tx, sent).await?,
        LiveStep::LockEventLogs(workspaces) => lock_event_logs(tx, &workspaces).await?,
        LiveStep::LogEvent(event) => log_event(tx, event).await?,
    }
    Ok(())
}

/// Moves the revision the change was computed from. A concurrent change of the session
/// holds its row until it commits; this update then re-checks the revision on the new
/// row version and matches nothing.
async fn claim_revision(tx: &mut Transaction<'static, Postgres>, read: &SessionRevision) -> StoreResult<()> {
    let SessionRevision { session_id, revision } = read;
    let moved = sqlx::query("UPDATE sessions SET revision = revision + 1 WHERE id = $1 AND revision = $2 AND active")
        .bind(session_id)
        .bind(revision)
        .execute(&mut **tx)
        .await?;
    if moved.rows_affected() == 0 {
        return Err(StoreError::Stale);
    }
    Ok(())
}

async fn open_session(tx: &mut Transaction<'static, Postgres>, session: &SessionRecord) -> StoreResult<()> {
    let SessionRecord {
        id,
        workspace_id,
        room_id,
        started_at,
        updated_at,
        // A session opens active, at revision 0, without peers (they join as steps).
        active: _,
        revision: _,
        peers: _,
    } = session;
    sqlx::query(
        "INSERT INTO sessions (id, workspace_id, room_id, active, started_ns, updated_ns, revision) \
         VALUES ($1, $2, $3, TRUE, $4, $5, 0)",
    )
    .bind(id)
    .bind(workspace_id)
    .bind(room_id)
    .bind(nanos(*started_at))
    .bind(nanos(*updated_at))
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
    let SessionPeerRecord {
        id,
        session_id,
        name,
        role,
        user_id,
        metadata,
        joined_at,
        // A peer joins present.
        left_at: _,
        current,
        node_id,
        tracks,
    } = peer;
    sqlx::query(
        "INSERT INTO session_peers (id, session_id, name, role, user_id, metadata, current_name, \
         \"current_role\", current_metadata, joined_ns, left_ns, node_id, tracks) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL, $11, $12)",
    )
    .bind(id)
    .bind(session_id)
    .bind(name)
    .bind(role)
    .bind(user_id)
    .bind(metadata)
    .bind(&current.name)
    .bind(&current.role)
    .bind(&current.metadata)
    .bind(nanos(*joined_at))
    .bind(node_id)
    .bind(to_json(tracks))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn change_peer(tx: &mut Transaction<'static, Postgres>, changed: &PeerChanged) -> StoreResult<()> {
    let PeerChanged {
        session_id,
        peer_id,
        profile: PeerProfile { name, role, metadata },
    } = changed;
    sqlx::query(
        "UPDATE session_peers SET current_name = $1, \"current_role\" = $2, current_metadata = $3 \
         WHERE id = $4 AND session_id = $5",
    )
    .bind(name)
    .bind(role)
    .bind(metadata)
    .bind(peer_id)
    .bind(session_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn insert_peer_delivery(tx: &mut Transaction<'static, Postgres>, sent: &PeerDelivery) -> StoreResult<()> {
    let PeerDelivery {
        room_id,
        peer_id,
        delivery: Delivery { kind, at, fields },
    } = sent;
    sqlx::query("INSERT INTO peer_deliveries (room_id, peer_id, kind, fields, at_ns) VALUES ($1, $2, $3, $4, $5)")
        .bind(room_id)
        .bind(peer_id)
        .bind(kind)
        .bind(to_json(fields))
        .bind(nanos(*at))
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// First key of the transaction-level advisory locks on workspaces' event logs ("ohms");
/// the second is a hash of the workspace id. Two-int keys never meet the one-bigint keys
/// of the webhook queue's locks.
const EVENT_LOG_LOCK: i32 = 0x6f68_6d73;

/// Makes the calling transaction the only one logging events of `workspaces` until it
/// commits. An event's seq is taken when it is inserted, and transactions commit in their
/// own order, so without it a reader could see seq 8 before seq 7 commits, and a consumer
/// following the log with `after` (the cursor the API hands out) would never see 7. With
/// it, a workspace's events commit in seq order. `rules::live_steps` has it taken last,
/// just before the events are inserted, and in one order, so that it is held only until
/// the commit that follows and no two transactions wait for each other.
async fn lock_event_logs(tx: &mut Transaction<'static, Postgres>, workspaces: &[&str]) -> StoreResult<()> {
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
    let EventRecord {
        id,
        workspace_id,
        room_id,
        kind,
        payload,
        created_at,
    } = event;
    sqlx::query(
        "WITH logged AS (INSERT INTO events (id, workspace_id, room_id, kind, payload, created_ns) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING seq) \
         INSERT INTO webhook_unplanned (seq) SELECT seq FROM logged",
    )
    .bind(id)
    .bind(workspace_id)
    .bind(room_id)
    .bind(kind)
    .bind(payload)
    .bind(nanos(*created_at))
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
    let mut sessions = query.build().fetch_all(&mut *tx).await?.decoded(session_from)?;
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
            .decoded(session_peer_from)?;
    tx.commit().await?;
    Ok(Some(session))
}

pub(super) async fn live_revision(pool: &PgPool, room_id: &str) -> StoreResult<Option<SessionRevision>> {
    sqlx::query("SELECT id, revision FROM sessions WHERE room_id = $1 AND active")
        .bind(room_id)
        .fetch_optional(pool)
        .await?
        .decoded(session_revision_from)
}

pub(super) async fn peer_inbox(
    pool: &PgPool,
    room_id: &str,
    peer_id: &str,
    limit: u32,
) -> StoreResult<Option<Vec<Delivery>>> {
    let mut snapshot = read_snapshot(pool).await?;
    let inbox = shared::live::peer_inbox(&mut snapshot, room_id, peer_id, limit).await?;
    snapshot.commit().await?;
    Ok(inbox)
}
