//! Group commit of live changes: joins, leaves, updates, removals and room ends.
//!
//! They come in bursts from many rooms at once (a webinar's start, a load balancer
//! draining a node), and through sqlx each of their statements is a round trip to the
//! writer connection's thread. So they are written by a thread of their own, on a
//! connection of its own, without those hand-offs: the changes waiting at one moment go in
//! one transaction, each in a savepoint, so that a change that is refused (its session
//! moved since it was read) or fails is rolled back alone and the others commit. Each
//! caller is answered after the commit.
//!
//! The other writes of the process go through sqlx's writer; SQLite lets one connection
//! write at a time, and each waits for the other (the busy timeout) for the moment a
//! batch takes.

use std::path::Path;
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags, TransactionBehavior, params_from_iter};
use tokio::sync::{mpsc, oneshot};

use super::Durability;
use crate::records::*;
use crate::rules;
use crate::shared::live::{LiveStatement, OwnStep, event_params, live_statement};
use crate::{StoreError, StoreResult};

/// Changes written by one transaction at most.
const MAX_BATCH: usize = 128;
/// Changes that may wait for the writer; callers beyond wait for room in the queue.
const QUEUE: usize = 4096;

struct Pending {
    write: LiveWrite,
    answer: oneshot::Sender<StoreResult<()>>,
}

/// The queue of changes waiting to be written, and the thread that writes them.
pub(super) struct LiveWrites {
    queue: Mutex<Option<mpsc::Sender<Pending>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl LiveWrites {
    /// Starts the writer on the database at `path` (already migrated).
    pub(super) fn start(path: &Path, durability: Durability) -> StoreResult<Self> {
        let connection = open(path, durability)?;
        let (queue, waiting) = mpsc::channel(QUEUE);
        let thread = std::thread::Builder::new()
            .name("hms-live-writes".into())
            .spawn(move || write_batches(connection, waiting))
            .map_err(|error| StoreError::Database(sqlx::Error::Io(error)))?;
        Ok(Self {
            queue: Mutex::new(Some(queue)),
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Writes `write` with the changes waiting beside it; answers its own outcome.
    pub(super) async fn record(&self, write: &LiveWrite) -> StoreResult<()> {
        let queue = self.queue.lock().expect("live queue lock").clone().ok_or_else(closed)?;
        let (answer, answered) = oneshot::channel();
        let pending = Pending {
            write: write.clone(),
            answer,
        };
        queue.send(pending).await.map_err(|_| closed())?;
        answered.await.map_err(|_| closed())?
    }

    /// Refuses later changes, writes those already queued, and closes the connection.
    pub(super) async fn close(&self) {
        self.queue.lock().expect("live queue lock").take();
        let thread = self.thread.lock().expect("live thread lock").take();
        if let Some(thread) = thread {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}

fn closed() -> StoreError {
    StoreError::Database(sqlx::Error::PoolClosed)
}

fn open(path: &Path, durability: Durability) -> StoreResult<Connection> {
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    connection.busy_timeout(Duration::from_secs(10))?;
    let synchronous = match durability {
        Durability::Process => "NORMAL",
        Durability::Power => "FULL",
    };
    connection.pragma_update(None, "synchronous", synchronous)?;
    connection.pragma_update(None, "foreign_keys", true)?;
    Ok(connection)
}

fn write_batches(mut connection: Connection, mut waiting: mpsc::Receiver<Pending>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = waiting.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match waiting.try_recv() {
                Ok(pending) => batch.push(pending),
                Err(_) => break,
            }
        }
        let writes: Vec<&LiveWrite> = batch.iter().map(|pending| &pending.write).collect();
        let outcomes = write_batch(&mut connection, &writes);
        for (pending, outcome) in batch.drain(..).zip(outcomes) {
            let _ = pending.answer.send(outcome);
        }
    }
}

/// Writes `writes` in one transaction, each on its own: answers each one's outcome.
pub(super) fn write_batch(connection: &mut Connection, writes: &[&LiveWrite]) -> Vec<StoreResult<()>> {
    let mut transaction = match connection.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(transaction) => transaction,
        Err(error) => return writes.iter().map(|_| Err(copy_of(&error))).collect(),
    };
    let mut outcomes: Vec<StoreResult<()>> = Vec::with_capacity(writes.len());
    for write in writes {
        let outcome = transaction.savepoint().map_err(StoreError::from).and_then(|member| {
            apply(&member, write)?;
            Ok(member.commit()?)
        });
        outcomes.push(outcome);
    }
    if let Err(error) = transaction.commit() {
        for outcome in outcomes.iter_mut().filter(|outcome| outcome.is_ok()) {
            *outcome = Err(copy_of(&error));
        }
    }
    outcomes
}

/// The same failure for each member of a batch that shares it (the transaction's).
fn copy_of(error: &rusqlite::Error) -> StoreError {
    match error {
        rusqlite::Error::SqliteFailure(failure, message) => {
            StoreError::PointRead(rusqlite::Error::SqliteFailure(*failure, message.clone()))
        }
        other => StoreError::Database(sqlx::Error::Protocol(other.to_string())),
    }
}

/// One change, as `Store::record_live` describes it, in the steps `rules::live_steps`
/// orders.
fn apply(db: &Connection, write: &LiveWrite) -> StoreResult<()> {
    for step in rules::live_steps(write) {
        match live_statement(step) {
            Ok(statement) => run(db, statement)?,
            // No other process serves the database's rooms: there is nobody to tell.
            Err(OwnStep::AnnounceRoom(_)) => {}
            // The one writer commits events in seq order already.
            Err(OwnStep::LockEventLogs(_)) => {}
            Err(OwnStep::LogEvent(event)) => {
                db.prepare_cached(
                    "INSERT INTO events (id, workspace_id, room_id, kind, payload, created_ns) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )?
                .execute(params_from_iter(event_params(event)))?;
            }
        }
    }
    Ok(())
}

fn run(db: &Connection, statement: LiveStatement) -> StoreResult<()> {
    let LiveStatement { sql, params, refusal } = statement;
    let executed = db.prepare_cached(sql)?.execute(params_from_iter(params));
    refusal.outcome(executed.map(|changed| changed as u64), is_unique_violation)
}

fn is_unique_violation(error: &rusqlite::Error) -> bool {
    matches!(error, rusqlite::Error::SqliteFailure(failure, _)
        if failure.code == ErrorCode::ConstraintViolation
            && failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE)
}

#[cfg(test)]
mod tests {
    use hms_auth::AppSecret;
    use hms_types::{PreciseTime, Timestamp};

    use super::*;
    use crate::{
        EventRecord, NewWorkspace, RoomOptions, RoomRecord, SecretRecord, SessionPeerRecord, SessionRecord,
        SessionRevision, SqliteStore, Store, TemplateRecord, Workspace,
    };

    const ROOM: &str = "room-1";
    const SESSION: &str = "session-1";

    async fn store_with_room(dir: &Path) -> SqliteStore {
        let store = SqliteStore::open(dir, Durability::Process).await.unwrap();
        let now = Timestamp::now();
        let workspace = Workspace {
            id: "ws-1".into(),
            name: "default".into(),
            access_key: "access-key-1".into(),
            customer_id: "customer-1".into(),
            app_id: "app-1".into(),
            created_at: now,
        };
        let template = TemplateRecord {
            id: "tpl-1".into(),
            workspace_id: workspace.id.clone(),
            is_default: true,
            body: serde_json::from_value(serde_json::json!({"name": "default", "roles": {}})).unwrap(),
            revision: 0,
            created_at: now,
            updated_at: now,
        };
        let secret = SecretRecord {
            id: "secret-1".into(),
            secret: AppSecret::new("secret-1-value"),
            created_at: now,
            retired_at: None,
        };
        store
            .create_workspace(&NewWorkspace {
                workspace,
                secret,
                default_template: template,
            })
            .await
            .unwrap();
        let room = RoomRecord {
            id: ROOM.into(),
            workspace_id: "ws-1".into(),
            name: "standup".into(),
            enabled: true,
            description: String::new(),
            template_id: "tpl-1".into(),
            region: "in".into(),
            large_room: false,
            options: RoomOptions::default(),
            created_at: now,
            updated_at: now,
        };
        store.insert_room(&room).await.unwrap();
        store
    }

    fn peer(id: &str) -> SessionPeerRecord {
        let profile = crate::PeerProfile {
            name: id.into(),
            role: "guest".into(),
            metadata: String::new(),
        };
        SessionPeerRecord {
            id: id.into(),
            session_id: SESSION.into(),
            name: id.into(),
            role: "guest".into(),
            user_id: id.into(),
            metadata: String::new(),
            joined_at: PreciseTime::now(),
            left_at: None,
            current: profile,
            node_id: "node-1".into(),
            tracks: Vec::new(),
        }
    }

    /// A peer joins the session read at `revision`, with an event of its own.
    fn join_at(revision: Option<i64>, peer_id: &str) -> LiveWrite {
        let event = EventRecord {
            id: format!("event-{peer_id}"),
            workspace_id: "ws-1".into(),
            room_id: ROOM.into(),
            kind: "peer.join.success".into(),
            payload: "{}".into(),
            created_at: PreciseTime::now(),
        };
        let now = PreciseTime::now();
        LiveWrite {
            room_id: ROOM.into(),
            read: revision.map(|revision| SessionRevision {
                session_id: SESSION.into(),
                revision,
            }),
            opened: revision.is_none().then(|| SessionRecord {
                id: SESSION.into(),
                workspace_id: "ws-1".into(),
                room_id: ROOM.into(),
                active: true,
                started_at: now,
                updated_at: now,
                revision: 0,
                peers: Vec::new(),
            }),
            joined: vec![peer(peer_id)],
            events: vec![event],
            ..LiveWrite::default()
        }
    }

    #[tokio::test]
    async fn a_member_of_a_batch_that_fails_is_rolled_back_alone() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_room(dir.path()).await;
        let opens = join_at(None, "ann");
        // Read before the session moved: refused.
        let stale = join_at(Some(5), "bob");
        let fresh = join_at(Some(0), "cy");
        // A peer id taken by the first member: the insert fails.
        let taken = join_at(Some(1), "ann");
        let after_failure = join_at(Some(1), "dee");
        let mut connection = open(&dir.path().join(super::super::FILE_NAME), Durability::Process).unwrap();
        let outcomes = write_batch(&mut connection, &[&opens, &stale, &fresh, &taken, &after_failure]);

        assert!(outcomes[0].is_ok(), "{:?}", outcomes[0]);
        assert!(matches!(outcomes[1], Err(StoreError::Stale)), "{:?}", outcomes[1]);
        assert!(outcomes[2].is_ok(), "{:?}", outcomes[2]);
        assert!(
            matches!(outcomes[3], Err(StoreError::PointRead(_))),
            "{:?}",
            outcomes[3]
        );
        assert!(outcomes[4].is_ok(), "{:?}", outcomes[4]);
        let session = store.live_session(ROOM).await.unwrap().expect("an open session");
        let peers: Vec<&str> = session.peers.iter().map(|peer| peer.id.as_str()).collect();
        assert_eq!((peers, session.revision), (vec!["ann", "cy", "dee"], 2));
        let query = crate::EventQuery {
            limit: 10,
            ..crate::EventQuery::default()
        };
        let events = store.events("ws-1", &query).await.unwrap();
        let ids: Vec<&str> = events.iter().map(|logged| logged.event.id.as_str()).collect();
        assert_eq!(ids, ["event-ann", "event-cy", "event-dee"]);
    }
}
