//! The in-memory state of a live room.

use hms_types::PreciseTime;
use hms_types::active_room::{ActivePeer, Track};
use indexmap::IndexMap;

/// One room's live state. A retired room was removed from the runtime's map after its
/// session closed; whoever still waited for its lock must look the room up again.
#[derive(Default)]
pub struct LiveRoom {
    pub session: Option<LiveSession>,
    pub retired: bool,
}

/// The open session of a room, with what its events need to say about it.
pub struct LiveSession {
    pub id: String,
    pub workspace_id: String,
    pub account_id: String,
    pub app_id: String,
    pub room_id: String,
    pub room_name: String,
    pub template_id: String,
    pub started_at: PreciseTime,
    pub peers: IndexMap<String, LivePeer>,
}

#[derive(Clone)]
pub struct LivePeer {
    pub id: String,
    pub name: String,
    pub user_id: String,
    pub role: String,
    pub metadata: String,
    pub joined_at: PreciseTime,
    pub tracks: IndexMap<String, Track>,
}

impl LivePeer {
    /// The API form; `with_tracks` where a single peer is answered.
    pub fn to_wire(&self, with_tracks: bool) -> ActivePeer {
        ActivePeer {
            id: self.id.clone(),
            name: self.name.clone(),
            user_id: self.user_id.clone(),
            metadata: self.metadata.clone(),
            role: self.role.clone(),
            joined_at: self.joined_at,
            tracks: with_tracks.then(|| self.tracks.clone()),
        }
    }

    pub fn session_record(&self, session_id: &str) -> hms_store::SessionPeerRecord {
        hms_store::SessionPeerRecord {
            id: self.id.clone(),
            session_id: session_id.to_owned(),
            name: self.name.clone(),
            role: self.role.clone(),
            user_id: self.user_id.clone(),
            metadata: self.metadata.clone(),
            joined_at: self.joined_at,
            left_at: None,
            current: self.profile(),
        }
    }

    pub fn profile(&self) -> hms_store::PeerProfile {
        hms_store::PeerProfile {
            name: self.name.clone(),
            role: self.role.clone(),
            metadata: self.metadata.clone(),
        }
    }
}
