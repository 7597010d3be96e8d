//! Change notices between processes: a writing transaction sends `NOTIFY` (delivered when
//! it commits, to every process listening, the writer included), and each store runs one
//! listener that forwards the notices to its subscribers.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};
use sqlx::{Postgres, Transaction};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use crate::{EVERY_ROOM, StoreResult, Topic};

const CHANNEL: &str = "openhms_changes";
/// Notices of rooms' live state carry the room's id after this.
const ROOM_PREFIX: &str = "room:";

/// Notices a slow subscriber may fall behind by; it then reloads everything anyway.
const BACKLOG: usize = 16;
/// Room notices a slow subscriber may fall behind by; it then reads every room again.
const ROOM_BACKLOG: usize = 4096;
/// Pause between attempts to listen again after the connection failed.
const RETRY: Duration = Duration::from_secs(1);

fn payload(topic: Topic) -> &'static str {
    match topic {
        Topic::Credentials => "credentials",
    }
}

fn topic_of(payload: &str) -> Option<Topic> {
    match payload {
        "credentials" => Some(Topic::Credentials),
        _ => None,
    }
}

/// Announces that `room_id`'s live state changed, once `tx` commits.
pub(super) async fn announce_room(tx: &mut Transaction<'static, Postgres>, room_id: &str) -> StoreResult<()> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(format!("{ROOM_PREFIX}{room_id}"))
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Announces `topic` to every process once `tx` commits (and never if it rolls back).
pub(super) async fn announce(tx: &mut Transaction<'static, Postgres>, topic: Topic) -> StoreResult<()> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(payload(topic))
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub(super) struct Changes {
    sender: broadcast::Sender<Topic>,
    rooms: broadcast::Sender<String>,
    /// The listener's own connection, so that it never takes one from the query pool.
    pool: PgPool,
    task: JoinHandle<()>,
}

impl Changes {
    /// Starts listening; fails if the first `LISTEN` does.
    pub(super) async fn listen(options: PgConnectOptions) -> StoreResult<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await?;
        let listener = subscribed(&pool).await?;
        let (sender, _) = broadcast::channel(BACKLOG);
        let (rooms, _) = broadcast::channel(ROOM_BACKLOG);
        let senders = Senders {
            topics: sender.clone(),
            rooms: rooms.clone(),
        };
        let task = tokio::spawn(forward(listener, pool.clone(), senders));
        Ok(Self {
            sender,
            rooms,
            pool,
            task,
        })
    }

    pub(super) fn subscribe(&self) -> broadcast::Receiver<Topic> {
        self.sender.subscribe()
    }

    pub(super) fn subscribe_rooms(&self) -> broadcast::Receiver<String> {
        self.rooms.subscribe()
    }

    pub(super) async fn close(&self) {
        self.task.abort();
        self.pool.close().await;
    }
}

impl Drop for Changes {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn subscribed(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

/// Forwards notices until the store closes (which aborts it). Notices sent while the connection was down are
/// lost, so every time it is back every topic is announced: subscribers reload and cannot
/// have missed a change.
/// Where notices go: topics to caches, room ids to the nodes' real-peer signalling.
struct Senders {
    topics: broadcast::Sender<Topic>,
    rooms: broadcast::Sender<String>,
}

async fn forward(mut listener: PgListener, pool: PgPool, senders: Senders) {
    loop {
        match listener.try_recv().await {
            Ok(Some(notice)) => {
                if let Some(room_id) = notice.payload().strip_prefix(ROOM_PREFIX) {
                    let _ = senders.rooms.send(room_id.to_owned());
                } else if let Some(topic) = topic_of(notice.payload()) {
                    let _ = senders.topics.send(topic);
                }
            }
            // The connection was lost and is listening again (the listener reconnects).
            Ok(None) => announce_all(&senders),
            Err(error) => {
                tracing::warn!(%error, "lost the PostgreSQL change notices; listening again");
                drop(listener);
                listener = relisten(&pool).await;
                announce_all(&senders);
            }
        }
    }
}

async fn relisten(pool: &PgPool) -> PgListener {
    loop {
        tokio::time::sleep(RETRY).await;
        match subscribed(pool).await {
            Ok(listener) => return listener,
            Err(error) => tracing::debug!(%error, "cannot listen to PostgreSQL change notices yet"),
        }
    }
}

fn announce_all(senders: &Senders) {
    let _ = senders.topics.send(Topic::Credentials);
    let _ = senders.rooms.send(EVERY_ROOM.to_owned());
}
