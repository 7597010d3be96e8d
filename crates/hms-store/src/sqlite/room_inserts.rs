//! Group commit of new rooms. Every write of the process goes through one connection, and
//! each statement is a round trip to that connection's thread; room creation is the write
//! that comes in bursts, so the rooms waiting at one moment are inserted by one statement,
//! committed together, and each caller is answered after that commit.

use sqlx::SqlitePool;
use tokio::sync::{mpsc, oneshot};

use crate::{RoomRecord, StoreError, StoreResult, shared};

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
        let outcomes = match shared::rooms::insert_all(&writer, &rooms).await {
            Ok(inserted) => rooms
                .iter()
                .map(|room| shared::rooms::inserted(&inserted, room))
                .collect(),
            // One bad room (say, its template was just deleted) must not fail the others.
            Err(_) => insert_each(&writer, &rooms).await,
        };
        for (pending, outcome) in batch.drain(..).zip(outcomes) {
            let _ = pending.answer.send(outcome);
        }
    }
}

async fn insert_each(writer: &SqlitePool, rooms: &[&RoomRecord]) -> Vec<StoreResult<()>> {
    let mut outcomes = Vec::with_capacity(rooms.len());
    for room in rooms {
        let outcome = shared::rooms::insert_all(writer, &[room]).await;
        outcomes.push(outcome.and_then(|inserted| shared::rooms::inserted(&inserted, room)));
    }
    outcomes
}
