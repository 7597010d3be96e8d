//! What each peer received, kept so that the simulator can show it.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use hms_types::PreciseTime;
use hms_types::simulate::Delivery;
use serde_json::{Map, Value};

/// Peers whose deliveries are kept; the oldest are forgotten first.
const MAX_PEERS: usize = 10_000;
/// Deliveries kept per peer; the oldest are forgotten first.
const MAX_DELIVERIES: usize = 1_000;

#[derive(Default)]
pub struct Inboxes {
    inner: Mutex<InboxMap>,
}

#[derive(Default)]
struct InboxMap {
    by_peer: HashMap<String, Inbox>,
    arrival: VecDeque<String>,
}

struct Inbox {
    room_id: String,
    deliveries: VecDeque<Delivery>,
}

impl Inboxes {
    /// Opens the inbox of a peer that just joined `room_id`.
    pub fn open(&self, peer_id: &str, room_id: &str) {
        let mut inner = self.inner.lock().expect("inbox lock");
        if inner.arrival.len() >= MAX_PEERS
            && let Some(oldest) = inner.arrival.pop_front()
        {
            inner.by_peer.remove(&oldest);
        }
        inner.arrival.push_back(peer_id.to_owned());
        inner.by_peer.insert(
            peer_id.to_owned(),
            Inbox {
                room_id: room_id.to_owned(),
                deliveries: VecDeque::new(),
            },
        );
    }

    pub fn deliver(&self, peer_id: &str, kind: &str, at: PreciseTime, fields: &[(&str, Value)]) {
        let mut inner = self.inner.lock().expect("inbox lock");
        let Some(inbox) = inner.by_peer.get_mut(peer_id) else {
            return;
        };
        if inbox.deliveries.len() >= MAX_DELIVERIES {
            inbox.deliveries.pop_front();
        }
        let fields: Map<String, Value> = fields.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
        inbox.deliveries.push_back(Delivery {
            kind: kind.to_owned(),
            at,
            fields,
        });
    }

    /// The deliveries of a peer of `room_id`, also after it left; `None` for a peer the
    /// room never had (or whose inbox was forgotten).
    pub fn read(&self, room_id: &str, peer_id: &str) -> Option<Vec<Delivery>> {
        let inner = self.inner.lock().expect("inbox lock");
        let inbox = inner.by_peer.get(peer_id).filter(|inbox| inbox.room_id == room_id)?;
        Some(inbox.deliveries.iter().cloned().collect())
    }
}
