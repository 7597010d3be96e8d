//! Live writes' statements, sessions' reads, the event log, and the nodes peers are
//! connected through.

use hms_types::simulate::Delivery;
use hms_types::{PreciseTime, Timestamp};
use sqlx::{Executor, QueryBuilder, Transaction};

use crate::StoreResult;
use crate::backend::{Backend, BindParam, Param};
use crate::codec::*;
use crate::records::*;
use crate::rules::{LiveStep, Refusal};

/// A statement of a live write, the same on both stores (run by sqlx on PostgreSQL and by
/// rusqlite in SQLite's group commit, which both bind `$N` by number).
#[derive(Debug)]
pub(crate) struct LiveStatement {
    pub sql: &'static str,
    pub params: Vec<Param>,
    pub refusal: Refusal,
}

/// The steps of a live write each store takes its own way.
#[derive(Debug)]
pub(crate) enum OwnStep<'a> {
    AnnounceRoom(&'a str),
    LockEventLogs(Vec<&'a str>),
    LogEvent(&'a EventRecord),
}

/// The statement that makes `step` (see `rules::LiveStep`), or the step itself when each
/// store takes it its own way.
pub(crate) fn live_statement(step: LiveStep<'_>) -> Result<LiveStatement, OwnStep<'_>> {
    Ok(match step {
        LiveStep::ClaimRevision(SessionRevision { session_id, revision }) => LiveStatement::refused_unless_changed(
            "UPDATE sessions SET revision = revision + 1 WHERE id = $1 AND revision = $2 AND active = TRUE",
            vec![session_id.into(), (*revision).into()],
        ),
        LiveStep::OpenSession(SessionRecord {
            id,
            workspace_id,
            room_id,
            started_at,
            updated_at,
            // A session opens active, at revision 0, without peers (they join as steps).
            active: _,
            revision: _,
            peers: _,
        }) => LiveStatement::refused_if_duplicate(
            "INSERT INTO sessions (id, workspace_id, room_id, active, started_ns, updated_ns, revision) \
             VALUES ($1, $2, $3, TRUE, $4, $5, 0)",
            vec![
                id.into(),
                workspace_id.into(),
                room_id.into(),
                nanos(*started_at).into(),
                nanos(*updated_at).into(),
            ],
        ),
        LiveStep::InsertPeer(SessionPeerRecord {
            id,
            session_id,
            name,
            role,
            user_id,
            metadata,
            joined_at,
            // A peer joins present.
            left_at: _,
            current:
                PeerProfile {
                    name: current_name,
                    role: current_role,
                    metadata: current_metadata,
                },
            node_id,
            tracks,
        }) => LiveStatement::plain(
            "INSERT INTO session_peers (id, session_id, name, role, user_id, metadata, current_name, \
             \"current_role\", current_metadata, joined_ns, left_ns, node_id, tracks) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL, $11, $12)",
            vec![
                id.into(),
                session_id.into(),
                name.into(),
                role.into(),
                user_id.into(),
                metadata.into(),
                current_name.into(),
                current_role.into(),
                current_metadata.into(),
                nanos(*joined_at).into(),
                node_id.into(),
                to_json(tracks).into(),
            ],
        ),
        LiveStep::ChangePeer(PeerChanged {
            session_id,
            peer_id,
            profile: PeerProfile { name, role, metadata },
        }) => LiveStatement::plain(
            "UPDATE session_peers SET current_name = $1, \"current_role\" = $2, current_metadata = $3 \
             WHERE id = $4 AND session_id = $5",
            vec![
                name.into(),
                role.into(),
                metadata.into(),
                peer_id.into(),
                session_id.into(),
            ],
        ),
        LiveStep::SetTracks(PeerTracks {
            session_id,
            peer_id,
            tracks,
        }) => LiveStatement::plain(
            "UPDATE session_peers SET tracks = $1 WHERE id = $2 AND session_id = $3",
            vec![to_json(tracks).into(), peer_id.into(), session_id.into()],
        ),
        LiveStep::LeavePeer(PeerLeft {
            session_id,
            peer_id,
            at,
        }) => LiveStatement::plain(
            "UPDATE session_peers SET left_ns = $1 WHERE id = $2 AND session_id = $3 AND left_ns IS NULL",
            vec![nanos(*at).into(), peer_id.into(), session_id.into()],
        ),
        LiveStep::TouchSession { session_id, at } => LiveStatement::plain(
            "UPDATE sessions SET updated_ns = CASE WHEN updated_ns < $1 THEN $1 ELSE updated_ns END WHERE id = $2",
            vec![nanos(at).into(), session_id.into()],
        ),
        LiveStep::CloseSession(SessionClosed { session_id, at }) => LiveStatement::plain(
            "UPDATE sessions SET active = FALSE, updated_ns = $1 WHERE id = $2",
            vec![nanos(*at).into(), session_id.into()],
        ),
        // Later than the last write, as every write of a room (see `Store::update_room`).
        LiveStep::DisableRoom(room_id) => LiveStatement::plain(
            "UPDATE rooms SET enabled = FALSE, \
             updated_at = CASE WHEN updated_at < $1 THEN $1 ELSE updated_at + 1 END WHERE id = $2",
            vec![Timestamp::now().unix_millis().into(), room_id.into()],
        ),
        LiveStep::Deliver(PeerDelivery {
            room_id,
            peer_id,
            delivery: Delivery { kind, at, fields },
        }) => LiveStatement::plain(
            "INSERT INTO peer_deliveries (room_id, peer_id, kind, fields, at_ns) VALUES ($1, $2, $3, $4, $5)",
            vec![
                room_id.into(),
                peer_id.into(),
                kind.into(),
                to_json(fields).into(),
                nanos(*at).into(),
            ],
        ),
        LiveStep::AnnounceRoom(room_id) => return Err(OwnStep::AnnounceRoom(room_id)),
        LiveStep::LockEventLogs(workspaces) => return Err(OwnStep::LockEventLogs(workspaces)),
        LiveStep::LogEvent(event) => return Err(OwnStep::LogEvent(event)),
    })
}

impl LiveStatement {
    fn plain(sql: &'static str, params: Vec<Param>) -> Self {
        Self {
            sql,
            params,
            refusal: Refusal::Never,
        }
    }

    fn refused_unless_changed(sql: &'static str, params: Vec<Param>) -> Self {
        Self {
            refusal: Refusal::UnlessChanged,
            ..Self::plain(sql, params)
        }
    }

    fn refused_if_duplicate(sql: &'static str, params: Vec<Param>) -> Self {
        Self {
            refusal: Refusal::IfDuplicate,
            ..Self::plain(sql, params)
        }
    }
}

/// The columns of an event, in the order the stores' inserts of events bind them.
pub(crate) fn event_params(event: &EventRecord) -> Vec<Param> {
    let EventRecord {
        id,
        workspace_id,
        room_id,
        kind,
        payload,
        created_at,
    } = event;
    vec![
        id.into(),
        workspace_id.into(),
        room_id.into(),
        kind.into(),
        payload.into(),
        nanos(*created_at).into(),
    ]
}

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
