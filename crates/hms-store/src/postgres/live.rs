//! Sessions, their peers, what peers received, the event log, and the nodes peers are
//! connected through; the statements both stores run are in `shared::live`.
//!
//! Several nodes may change one room: a change names the session revision it was computed
//! from, and its conditional update of that revision makes the second of two concurrent
//! changes wait for the first and then match nothing (`Stale`). A second open session of
//! a room breaks a unique index and is `Stale` too. A workspace's events are logged by one
//! transaction at a time, so that they commit in seq order (see `lock_event_logs`).

use hms_types::session::SessionFilter;
use hms_types::simulate::Delivery;
use sqlx::postgres::{PgConnection, PgPool};
use sqlx::{Postgres, QueryBuilder, Transaction};

use super::read_snapshot;
use crate::backend::BindParam;
use crate::codec::*;
use crate::records::*;
use crate::rules;
use crate::shared::live::{LiveStatement, OwnStep, event_params, live_statement};
use crate::{StoreResult, shared};

pub(super) async fn record(pool: &PgPool, write: &LiveWrite) -> StoreResult<()> {
    let mut tx = pool.begin().await?;
    for step in rules::live_steps(write) {
        match live_statement(step) {
            Ok(statement) => run(&mut tx, statement).await?,
            Err(OwnStep::AnnounceRoom(room_id)) => super::changes::announce_room(&mut tx, room_id).await?,
            Err(OwnStep::LockEventLogs(workspaces)) => lock_event_logs(&mut tx, &workspaces).await?,
            Err(OwnStep::LogEvent(event)) => log_event(&mut tx, event).await?,
        }
    }
    tx.commit().await?;
    Ok(())
}

/// Runs a statement of a live write. A concurrent change of the session holds its row
/// until it commits; a revision claimed then re-checks the revision on the new row version
/// and matches nothing. A session opened meanwhile by another node breaks the unique
/// index of open sessions.
async fn run(tx: &mut Transaction<'static, Postgres>, statement: LiveStatement) -> StoreResult<()> {
    let LiveStatement { sql, params, refusal } = statement;
    let executed = params
        .into_iter()
        .fold(sqlx::query(sql), BindParam::param)
        .execute(&mut **tx)
        .await;
    refusal.outcome(executed.map(|done| done.rows_affected()), |error| {
        error.as_database_error().is_some_and(|db| db.is_unique_violation())
    })
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
    event_params(event)
        .into_iter()
        .fold(
            sqlx::query(
                "WITH logged AS (INSERT INTO events (id, workspace_id, room_id, kind, payload, created_ns) \
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING seq) \
                 INSERT INTO webhook_unplanned (seq) SELECT seq FROM logged",
            ),
            BindParam::param,
        )
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

pub(super) async fn live_revision(db: &mut PgConnection, room_id: &str) -> StoreResult<Option<SessionRevision>> {
    sqlx::query("SELECT id, revision FROM sessions WHERE room_id = $1 AND active")
        .bind(room_id)
        .fetch_optional(db)
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
