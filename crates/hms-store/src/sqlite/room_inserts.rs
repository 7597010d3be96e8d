//! Group commit of new rooms. Every write of the process goes through one connection, and
//! each statement is a round trip to that connection's thread; room creation is the write
//! that comes in bursts, so the rooms waiting at one moment are inserted by one statement,
//! committed together, and each caller is answered after that commit.

use sqlx::{QueryBuilder, Sqlite, SqlitePool};
use tokio::sync::{mpsc, oneshot};

use crate::codec::{name_key, to_json, unique_violation};
use crate::rules::ROOM_NAME_TAKEN;
use crate::{RoomRecord, StoreError, StoreResult};

/// Rooms inserted by one statement at most (12 parameters each, well within SQLite's limit).
const MAX_BATCH: usize = 64;
/// Rooms that may wait for the writer; callers beyond wait for room in the queue.
const QUEUE: usize = 1024;

struct Pending {
    room: RoomRecord,
    answer: oneshot::Sender<StoreResult<()>>,
}

/// The queue of rooms waiting to be inserted; its task ends when the queue is dropped.
pub(super) struct RoomInserts {
    queue: mpsc::Sender<Pending>,
}

impl RoomInserts {
    pub(super) fn start(writer: SqlitePool) -> Self {
        let (queue, waiting) = mpsc::channel(QUEUE);
        tokio::spawn(insert_batches(writer, waiting));
        Self { queue }
    }

    /// Rooms waiting in the queue now.
    pub(super) fn waiting(&self) -> u64 {
        (QUEUE - self.queue.capacity()) as u64
    }

    /// Inserts `room`; `Conflict` when its name (or id) is taken.
    pub(super) async fn insert(&self, room: &RoomRecord) -> StoreResult<()> {
        let (answer, answered) = oneshot::channel();
        let pending = Pending {
            room: room.clone(),
            answer,
        };
        self.queue.send(pending).await.map_err(|_| closed())?;
        answered.await.map_err(|_| closed())?
    }
}

fn closed() -> StoreError {
    StoreError::Database(sqlx::Error::PoolClosed)
}

async fn insert_batches(writer: SqlitePool, mut waiting: mpsc::Receiver<Pending>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while waiting.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let rooms: Vec<&RoomRecord> = batch.iter().map(|pending| &pending.room).collect();
        let outcomes = match insert_all(&writer, &rooms).await {
            Ok(inserted) => rooms.iter().map(|room| inserted_or_taken(&inserted, room)).collect(),
            // One bad room (say, its template was just deleted) must not fail the others.
            Err(_) => insert_each(&writer, &rooms).await,
        };
        for (pending, outcome) in batch.drain(..).zip(outcomes) {
            let _ = pending.answer.send(outcome);
        }
    }
}

fn inserted_or_taken(inserted: &[String], room: &RoomRecord) -> StoreResult<()> {
    if inserted.contains(&room.id) {
        Ok(())
    } else {
        Err(StoreError::Conflict(ROOM_NAME_TAKEN))
    }
}

/// One statement for the whole batch; a room whose name is taken (also by an earlier room
/// of the same batch) is skipped, and answered by the ids that come back.
async fn insert_all(writer: &SqlitePool, rooms: &[&RoomRecord]) -> Result<Vec<String>, sqlx::Error> {
    let mut query = QueryBuilder::<Sqlite>::new(
        "INSERT INTO rooms (id, workspace_id, name, name_key, enabled, description, template_id, region, \
         large_room, options, created_at, updated_at) ",
    );
    query.push_values(rooms, |mut row, room| {
        let RoomRecord {
            id,
            workspace_id,
            name,
            enabled,
            description,
            template_id,
            region,
            large_room,
            options,
            created_at,
            updated_at,
        } = room;
        row.push_bind(id)
            .push_bind(workspace_id)
            .push_bind(name)
            .push_bind(name_key(name))
            .push_bind(enabled)
            .push_bind(description)
            .push_bind(template_id)
            .push_bind(region)
            .push_bind(large_room)
            .push_bind(to_json(options))
            .push_bind(created_at.unix_millis())
            .push_bind(updated_at.unix_millis());
    });
    query.push(" ON CONFLICT DO NOTHING RETURNING id");
    query.build_query_scalar().fetch_all(writer).await
}

async fn insert_each(writer: &SqlitePool, rooms: &[&RoomRecord]) -> Vec<StoreResult<()>> {
    let mut outcomes = Vec::with_capacity(rooms.len());
    for room in rooms {
        let outcome = match insert_all(writer, &[room]).await {
            Ok(inserted) => inserted_or_taken(&inserted, room),
            Err(error) => Err(unique_violation(error, ROOM_NAME_TAKEN)),
        };
        outcomes.push(outcome);
    }
    outcomes
}
