//! A live room as one change sees it: read from the store, which every node shares, or
//! this node's copy of it while the store's is still at the copy's revision.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use hms_store::{PeerProfile, RoomView, SessionPeerRecord, SessionRecord, SessionRevision, Workspace};
use hms_types::PreciseTime;
use hms_types::active_room::{ActivePeer, Track};
use indexmap::IndexMap;

/// A room and its open session, if it has one.
pub struct LiveRoom {
    pub view: RoomView,
    pub session: Option<Arc<LiveSession>>,
}

/// The open session of a room, with what its events need to say about it. Its peers are
/// shared between the copies that changes make, so that a copy costs a pointer per peer.
#[derive(Clone)]
pub struct LiveSession {
    pub id: String,
    pub revision: i64,
    pub workspace_id: String,
    pub account_id: String,
    pub app_id: String,
    pub room_id: String,
    pub room_name: String,
    pub template_id: String,
    pub started_at: PreciseTime,
    pub peers: IndexMap<String, Arc<LivePeer>>,
}

impl LiveSession {
    /// A session about to open in `view`'s room, with no revision and no peers yet.
    pub fn fresh(id: String, workspace: &Workspace, view: &RoomView, started_at: PreciseTime) -> Self {
        Self {
            id,
            revision: 0,
            workspace_id: workspace.id.clone(),
            account_id: workspace.customer_id.clone(),
            app_id: workspace.app_id.clone(),
            room_id: view.room.id.clone(),
            room_name: view.room.name.clone(),
            template_id: view.room.template_id.clone(),
            started_at,
            peers: IndexMap::new(),
        }
    }

    /// The open session as stored, with its present peers.
    pub fn stored(record: SessionRecord, workspace: &Workspace, view: &RoomView) -> Self {
        let mut session = Self::fresh(record.id, workspace, view, record.started_at);
        session.revision = record.revision;
        session.peers = record
            .peers
            .into_iter()
            .map(|peer| (peer.id.clone(), Arc::new(LivePeer::stored(peer))))
            .collect();
        session
    }

    /// `session` with the room's name and template as `view` has them now (a room's
    /// changes do not move its session's revision).
    pub fn in_room(session: Arc<Self>, view: &RoomView) -> Arc<Self> {
        if session.room_name == view.room.name && session.template_id == view.room.template_id {
            return session;
        }
        let mut session = Arc::unwrap_or_clone(session);
        session.room_name = view.room.name.clone();
        session.template_id = view.room.template_id.clone();
        Arc::new(session)
    }

    /// This session without `leaving`, in the order the others joined.
    pub fn without(&self, leaving: &[String]) -> Self {
        let mut after = self.clone();
        after.peers.retain(|peer_id, _| !leaving.contains(peer_id));
        after
    }

    /// What a change computed from this session read, so that it is refused if the
    /// session changed since.
    pub fn read(&self) -> SessionRevision {
        SessionRevision {
            session_id: self.id.clone(),
            revision: self.revision,
        }
    }
}

/// This node's copies of open sessions, by room: each as of its revision.
#[derive(Default)]
pub struct SessionCopies(Mutex<HashMap<String, Arc<LiveSession>>>);

impl SessionCopies {
    /// The copy of `room_id`'s session, if it is the one the store has at `current`.
    pub fn at(&self, room_id: &str, current: &SessionRevision) -> Option<Arc<LiveSession>> {
        let copies = self.0.lock().expect("session copies lock");
        copies
            .get(room_id)
            .filter(|copy| copy.id == current.session_id && copy.revision == current.revision)
            .cloned()
    }

    pub fn keep(&self, session: Arc<LiveSession>) {
        let mut copies = self.0.lock().expect("session copies lock");
        copies.insert(session.room_id.clone(), session);
    }

    pub fn forget(&self, room_id: &str) {
        self.0.lock().expect("session copies lock").remove(room_id);
    }
}

#[derive(Clone)]
pub struct LivePeer {
    pub id: String,
    pub name: String,
    pub user_id: String,
    pub role: String,
    pub metadata: String,
    pub joined_at: PreciseTime,
    pub node_id: String,
    pub tracks: IndexMap<String, Track>,
}

impl LivePeer {
    fn stored(record: SessionPeerRecord) -> Self {
        Self {
            id: record.id,
            name: record.current.name,
            user_id: record.user_id,
            role: record.current.role,
            metadata: record.current.metadata,
            joined_at: record.joined_at,
            node_id: record.node_id,
            tracks: record
                .tracks
                .into_iter()
                .map(|track| (track.id.clone(), track))
                .collect(),
        }
    }

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

    pub fn session_record(&self, session_id: &str) -> SessionPeerRecord {
        SessionPeerRecord {
            id: self.id.clone(),
            session_id: session_id.to_owned(),
            name: self.name.clone(),
            role: self.role.clone(),
            user_id: self.user_id.clone(),
            metadata: self.metadata.clone(),
            joined_at: self.joined_at,
            left_at: None,
            current: self.profile(),
            node_id: self.node_id.clone(),
            tracks: self.tracks.values().cloned().collect(),
        }
    }

    pub fn profile(&self) -> PeerProfile {
        PeerProfile {
            name: self.name.clone(),
            role: self.role.clone(),
            metadata: self.metadata.clone(),
        }
    }
}
