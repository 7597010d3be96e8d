//! Change notices. One process at a time opens an embedded database, so a notice goes to
//! this process's subscribers alone, sent once the change is committed, and no other
//! process ever changes a room's live state behind this one's back.

use tokio::sync::broadcast;

use crate::Topic;

/// Notices a slow subscriber may fall behind by; it then reloads everything anyway.
const BACKLOG: usize = 16;

pub(super) struct Changes {
    topics: broadcast::Sender<Topic>,
    /// Never sent on: rooms change only through this process.
    rooms: broadcast::Sender<String>,
}

impl Changes {
    pub(super) fn new() -> Self {
        let (topics, _) = broadcast::channel(BACKLOG);
        let (rooms, _) = broadcast::channel(1);
        Self { topics, rooms }
    }

    pub(super) fn subscribe(&self) -> broadcast::Receiver<Topic> {
        self.topics.subscribe()
    }

    pub(super) fn subscribe_rooms(&self) -> broadcast::Receiver<String> {
        self.rooms.subscribe()
    }

    /// Announces `topic`; the caller has committed the change.
    pub(super) fn announce(&self, topic: Topic) {
        let _ = self.topics.send(topic);
    }
}
