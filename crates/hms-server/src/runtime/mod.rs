//! The room runtime: the live state of every active room — its open session and its
//! peers — and every change to it. Real peers (later) and simulated peers go through the
//! same calls.
//!
//! Each room's state sits behind its own lock, held while the change is written to the
//! store: a change is written (with the webhook events that describe it, in one
//! transaction) before it is applied in memory, so the log never misses or invents a
//! change, and each room's events are logged in the order they happened.

mod events;
mod inbox;
mod state;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use hms_store::{
    LiveWrite, PeerChanged, PeerLeft, RoomView, SessionClosed, SessionRecord, Store, StoreError, TemplateRecord,
    Workspace,
};
use hms_types::PreciseTime;
use hms_types::active_room::{
    ActivePeer, ActiveRoom, ActiveSession, EndRoom, PeerFilter, PeerList, PeerUpdate, RemovePeers, SendMessage, Track,
};
use hms_types::simulate::Delivery;
use hms_types::template::Role;
use hms_types::webhook::leave_reason;
use indexmap::IndexMap;
use serde_json::Value;
use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

use crate::ids;
use inbox::Inboxes;
use state::{LivePeer, LiveRoom, LiveSession};

/// Longest display name a peer may have.
pub const MAX_PEER_NAME_LEN: usize = 256;
/// Largest peer metadata accepted, in bytes: 100ms's limit for custom peer data (4 KB).
pub const MAX_METADATA_BYTES: usize = 4096;

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("room not found")]
    RoomNotFound,
    #[error("no session is running in this room")]
    NotActive,
    #[error("peer not found")]
    PeerNotFound,
    #[error("room is disabled")]
    RoomDisabled,
    #[error("role {0:?} does not exist in the room's template")]
    UnknownRole(String),
    #[error("role {0:?} may not join: its maxPeerCount is -1")]
    RoleNotAllowed(String),
    #[error("role {role:?} already has {max} peers, its maxPeerCount")]
    RoleFull { role: String, max: i64 },
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Who joins.
#[derive(Debug, Clone, Default)]
pub struct JoinRequest {
    pub role: String,
    pub name: Option<String>,
    pub user_id: Option<String>,
    pub metadata: Option<String>,
}

pub struct RoomRuntime {
    store: Arc<dyn Store>,
    rooms: Mutex<HashMap<String, Arc<AsyncMutex<LiveRoom>>>>,
    inboxes: Inboxes,
}

type RoomGuard = OwnedMutexGuard<LiveRoom>;

impl RoomRuntime {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            rooms: Mutex::default(),
            inboxes: Inboxes::default(),
        }
    }

    /// Locks the live state of `room_id`, making an empty one if there is none.
    async fn lock(&self, room_id: &str) -> RoomGuard {
        loop {
            let entry = self
                .rooms
                .lock()
                .expect("rooms lock")
                .entry(room_id.to_owned())
                .or_default()
                .clone();
            let guard = entry.lock_owned().await;
            if !guard.retired {
                return guard;
            }
        }
    }

    /// Locks the live state of a room of `workspace` that has an open session.
    async fn lock_live(&self, workspace: &Workspace, room_id: &str) -> Result<RoomGuard, RuntimeError> {
        loop {
            let entry = self.rooms.lock().expect("rooms lock").get(room_id).cloned();
            let Some(entry) = entry else {
                return Err(self.inactive(workspace, room_id).await);
            };
            let guard = entry.lock_owned().await;
            if guard.retired {
                continue;
            }
            return match &guard.session {
                Some(session) if session.workspace_id == workspace.id => Ok(guard),
                _ => Err(self.inactive(workspace, room_id).await),
            };
        }
    }

    /// Why a room has no live state: it does not exist, or nobody is in it.
    async fn inactive(&self, workspace: &Workspace, room_id: &str) -> RuntimeError {
        match self.store.room(&workspace.id, room_id).await {
            Ok(Some(_)) => RuntimeError::NotActive,
            Ok(None) => RuntimeError::RoomNotFound,
            Err(error) => error.into(),
        }
    }

    /// Drops a room without a session from the map, so that idle rooms cost nothing.
    fn retire_if_idle(&self, room_id: &str, live: &mut RoomGuard) {
        if live.session.is_none() {
            live.retired = true;
            self.rooms.lock().expect("rooms lock").remove(room_id);
        }
    }

    async fn room_and_template(
        &self,
        workspace: &Workspace,
        room_id: &str,
    ) -> Result<(RoomView, TemplateRecord), RuntimeError> {
        let view = self
            .store
            .room(&workspace.id, room_id)
            .await?
            .ok_or(RuntimeError::RoomNotFound)?;
        let template = self
            .store
            .template(&workspace.id, &view.room.template_id)
            .await?
            .ok_or(RuntimeError::RoomNotFound)?;
        Ok((view, template))
    }

    /// A peer joins: the room must be enabled, the role must exist in its template and
    /// have room left. The first peer opens the session.
    pub async fn join(
        &self,
        workspace: &Workspace,
        room_id: &str,
        request: JoinRequest,
    ) -> Result<ActivePeer, RuntimeError> {
        validate_name(request.name.as_deref())?;
        validate_metadata(request.metadata.as_deref())?;
        let (view, template) = self.room_and_template(workspace, room_id).await?;
        if !view.room.enabled {
            return Err(RuntimeError::RoomDisabled);
        }
        let role = template
            .body
            .roles
            .get(&request.role)
            .ok_or_else(|| RuntimeError::UnknownRole(request.role.clone()))?;
        let mut live = self.lock(&view.room.id).await;
        let result = self.join_locked(&mut live, workspace, &view, role, request).await;
        self.retire_if_idle(&view.room.id, &mut live);
        result
    }

    async fn join_locked(
        &self,
        live: &mut RoomGuard,
        workspace: &Workspace,
        view: &RoomView,
        role: &Role,
        request: JoinRequest,
    ) -> Result<ActivePeer, RuntimeError> {
        let now = PreciseTime::now();
        let fresh = live.session.is_none().then(|| LiveSession {
            id: ids::object_id(),
            workspace_id: workspace.id.clone(),
            account_id: workspace.customer_id.clone(),
            app_id: workspace.app_id.clone(),
            room_id: view.room.id.clone(),
            room_name: view.room.name.clone(),
            template_id: view.room.template_id.clone(),
            started_at: now,
            peers: IndexMap::new(),
        });
        let session = live
            .session
            .as_ref()
            .or(fresh.as_ref())
            .expect("a session exists or is fresh");
        let peer_id = ids::uuid();
        let peer = LivePeer {
            name: request.name.unwrap_or_else(|| format!("peer-{}", &peer_id[..8])),
            user_id: request.user_id.filter(|id| !id.is_empty()).unwrap_or_else(ids::uuid),
            role: role.name.clone(),
            metadata: request.metadata.unwrap_or_default(),
            joined_at: now,
            tracks: tracks_for(role, now),
            id: peer_id,
        };
        if let Err(refusal) = check_capacity(session, role, None) {
            let event = events::peer_join_failure(session, &peer, "role not allowed");
            self.store
                .record_live(&LiveWrite {
                    events: vec![event],
                    ..LiveWrite::default()
                })
                .await?;
            return Err(refusal);
        }
        let mut write = LiveWrite::default();
        if fresh.is_some() {
            write.opened = Some(session_record(session));
            write.events.push(events::session_open(session));
        }
        write.joined.push(peer.session_record(&session.id));
        write.events.push(events::peer_join(session, &peer));
        self.store.record_live(&write).await?;

        let session = live.session.get_or_insert_with(|| fresh.expect("fresh session"));
        session.peers.insert(peer.id.clone(), peer.clone());
        self.inboxes.open(&peer.id, &session.room_id);
        Ok(peer.to_wire(true))
    }

    /// A peer leaves by itself.
    pub async fn leave(&self, workspace: &Workspace, room_id: &str, peer_id: &str) -> Result<(), RuntimeError> {
        let mut live = self.lock_live(workspace, room_id).await?;
        peer_of(&live, peer_id)?;
        let leaving = vec![peer_id.to_owned()];
        self.depart(
            &mut live,
            leaving,
            leave_reason::CLIENT_REQUEST,
            "",
            LiveWrite::default(),
        )
        .await
    }

    /// Removes `leaving` from the session with one reason, closing the session when nobody
    /// is left. `write` may already hold events that come before the leaves.
    async fn depart(
        &self,
        live: &mut RoomGuard,
        leaving: Vec<String>,
        reason: &str,
        message: &str,
        mut write: LiveWrite,
    ) -> Result<(), RuntimeError> {
        let session = live.session.as_ref().expect("departures happen in live rooms");
        let now = PreciseTime::now();
        for peer_id in &leaving {
            let peer = &session.peers[peer_id];
            write.left.push(PeerLeft {
                session_id: session.id.clone(),
                peer_id: peer_id.clone(),
                at: now,
            });
            write
                .events
                .push(events::peer_leave(session, peer, now, reason, message));
        }
        let closing = leaving.len() == session.peers.len();
        if closing {
            write.closed = Some(SessionClosed {
                session_id: session.id.clone(),
                at: now,
            });
            write.events.push(events::session_close(session, now));
        }
        self.store.record_live(&write).await?;

        let session = live.session.as_mut().expect("still live");
        let room_id = session.room_id.clone();
        for peer_id in &leaving {
            session.peers.shift_remove(peer_id);
        }
        if closing {
            live.session = None;
            self.retire_if_idle(&room_id, live);
        }
        Ok(())
    }

    pub async fn active_room(&self, workspace: &Workspace, room_id: &str) -> Result<ActiveRoom, RuntimeError> {
        let live = self.lock_live(workspace, room_id).await?;
        let session = live.session.as_ref().expect("live");
        Ok(ActiveRoom {
            id: session.room_id.clone(),
            name: session.room_name.clone(),
            customer_id: workspace.customer_id.clone(),
            session: ActiveSession {
                id: session.id.clone(),
                created_at: session.started_at,
                peers: session.peers.keys().cloned().collect(),
            },
        })
    }

    pub async fn peers(
        &self,
        workspace: &Workspace,
        room_id: &str,
        filter: &PeerFilter,
    ) -> Result<PeerList, RuntimeError> {
        let live = self.lock_live(workspace, room_id).await?;
        let session = live.session.as_ref().expect("live");
        let matches = |peer: &&LivePeer| {
            filter.user_id.as_ref().is_none_or(|user_id| *user_id == peer.user_id)
                && filter.role.as_ref().is_none_or(|role| *role == peer.role)
        };
        let peers = session
            .peers
            .values()
            .filter(matches)
            .map(|peer| (peer.id.clone(), peer.to_wire(false)));
        Ok(PeerList { peers: peers.collect() })
    }

    pub async fn peer(&self, workspace: &Workspace, room_id: &str, peer_id: &str) -> Result<ActivePeer, RuntimeError> {
        let live = self.lock_live(workspace, room_id).await?;
        Ok(peer_of(&live, peer_id)?.to_wire(true))
    }

    /// Renames a peer, moves it to another role or replaces its metadata.
    pub async fn update_peer(
        &self,
        workspace: &Workspace,
        room_id: &str,
        peer_id: &str,
        update: PeerUpdate,
    ) -> Result<ActivePeer, RuntimeError> {
        if update.name.is_none() && update.role.is_none() && update.metadata.is_none() {
            return Err(RuntimeError::Invalid(
                "send at least one of name, role and metadata".into(),
            ));
        }
        validate_name(update.name.as_deref())?;
        validate_metadata(update.metadata.as_deref())?;
        let mut live = self.lock_live(workspace, room_id).await?;
        let current = peer_of(&live, peer_id)?.clone();
        let session = live.session.as_ref().expect("live");
        let now = PreciseTime::now();
        let mut updated = current.clone();
        let mut write = LiveWrite::default();
        if let Some(role_name) = update.role.as_ref().filter(|role| **role != current.role) {
            let template = self
                .store
                .template(&workspace.id, &session.template_id)
                .await?
                .ok_or(RuntimeError::RoomNotFound)?;
            let role = template
                .body
                .roles
                .get(role_name)
                .ok_or_else(|| RuntimeError::UnknownRole(role_name.clone()))?;
            if let Err(refusal) = check_capacity(session, role, Some(peer_id)) {
                let event = events::role_change_failure(session, &current, role_name, "role limit reached");
                self.store
                    .record_live(&LiveWrite {
                        events: vec![event],
                        ..LiveWrite::default()
                    })
                    .await?;
                return Err(refusal);
            }
            updated.role = role.name.clone();
            write
                .events
                .push(events::role_change(session, &updated, &current.role, now));
        }
        if let Some(name) = &update.name {
            updated.name = name.clone();
        }
        if let Some(metadata) = &update.metadata {
            updated.metadata = metadata.clone();
        }
        write.changed.push(PeerChanged {
            session_id: session.id.clone(),
            peer_id: peer_id.to_owned(),
            profile: updated.profile(),
        });
        self.store.record_live(&write).await?;
        self.tell_changes(&current, &updated, now);
        let session = live.session.as_mut().expect("live");
        session.peers.insert(peer_id.to_owned(), updated.clone());
        Ok(updated.to_wire(true))
    }

    fn tell_changes(&self, before: &LivePeer, after: &LivePeer, at: PreciseTime) {
        if before.role != after.role {
            let fields = [
                ("role", Value::from(after.role.clone())),
                ("previous_role", Value::from(before.role.clone())),
            ];
            self.inboxes.deliver(&after.id, "role_changed", at, &fields);
        }
        if before.name != after.name {
            self.inboxes.deliver(
                &after.id,
                "name_changed",
                at,
                &[("name", Value::from(after.name.clone()))],
            );
        }
        if before.metadata != after.metadata {
            self.inboxes.deliver(
                &after.id,
                "metadata_changed",
                at,
                &[("metadata", Value::from(after.metadata.clone()))],
            );
        }
    }

    /// Delivers a message to one peer, to the peers of a role, or to everyone.
    pub async fn send_message(
        &self,
        workspace: &Workspace,
        room_id: &str,
        message: SendMessage,
    ) -> Result<(), RuntimeError> {
        if message.message.is_empty() {
            return Err(RuntimeError::Invalid("message is required".into()));
        }
        let live = self.lock_live(workspace, room_id).await?;
        let recipients = self
            .select(&live, workspace, message.peer_id.as_deref(), message.role.as_deref())
            .await?;
        let kind = message
            .kind
            .filter(|kind| !kind.is_empty())
            .unwrap_or_else(|| "chat".to_owned());
        let fields = [
            ("message", Value::from(message.message)),
            ("message_type", Value::from(kind)),
        ];
        let now = PreciseTime::now();
        for peer_id in recipients {
            self.inboxes.deliver(&peer_id, "message", now, &fields);
        }
        Ok(())
    }

    /// The peers a request targets: a peer id wins over a role; neither means everyone.
    async fn select(
        &self,
        live: &RoomGuard,
        workspace: &Workspace,
        peer_id: Option<&str>,
        role: Option<&str>,
    ) -> Result<Vec<String>, RuntimeError> {
        let session = live.session.as_ref().expect("live");
        if let Some(peer_id) = peer_id.filter(|id| !id.is_empty()) {
            return Ok(vec![peer_of(live, peer_id)?.id.clone()]);
        }
        let Some(role) = role.filter(|role| !role.is_empty()) else {
            return Ok(session.peers.keys().cloned().collect());
        };
        let template = self.store.template(&workspace.id, &session.template_id).await?;
        if !template.is_some_and(|t| t.body.roles.contains_key(role)) {
            return Err(RuntimeError::UnknownRole(role.to_owned()));
        }
        Ok(session
            .peers
            .values()
            .filter(|peer| peer.role == role)
            .map(|peer| peer.id.clone())
            .collect())
    }

    /// Removes one peer, or every peer of a role, telling them the reason.
    pub async fn remove_peers(
        &self,
        workspace: &Workspace,
        room_id: &str,
        request: RemovePeers,
    ) -> Result<(), RuntimeError> {
        let has = |value: &Option<String>| value.as_ref().is_some_and(|v| !v.is_empty());
        if !has(&request.peer_id) && !has(&request.role) {
            return Err(RuntimeError::Invalid("peer_id or role is required".into()));
        }
        let mut live = self.lock_live(workspace, room_id).await?;
        let leaving = self
            .select(&live, workspace, request.peer_id.as_deref(), request.role.as_deref())
            .await?;
        if leaving.is_empty() {
            return Ok(());
        }
        let reason = request.reason.unwrap_or_default();
        self.depart(
            &mut live,
            leaving.clone(),
            leave_reason::PEER_KICKED,
            &reason,
            LiveWrite::default(),
        )
        .await?;
        let now = PreciseTime::now();
        for peer_id in &leaving {
            self.inboxes
                .deliver(peer_id, "removed", now, &[("reason", Value::from(reason.clone()))]);
        }
        Ok(())
    }

    /// Ends the session: everyone is removed, and with `lock` the room is disabled in the
    /// same transaction so that nobody rejoins.
    pub async fn end_room(&self, workspace: &Workspace, room_id: &str, request: EndRoom) -> Result<(), RuntimeError> {
        let mut live = self.lock_live(workspace, room_id).await?;
        let session = live.session.as_ref().expect("live");
        let reason = request.reason.unwrap_or_default();
        let now = PreciseTime::now();
        let mut write = LiveWrite::default();
        write.events.push(events::room_end(session, now, &reason, request.lock));
        if request.lock {
            write.disabled_room = Some(session.room_id.clone());
        }
        let leaving: Vec<String> = session.peers.keys().cloned().collect();
        self.depart(&mut live, leaving.clone(), leave_reason::PEER_KICKED, &reason, write)
            .await?;
        let fields = [("reason", Value::from(reason)), ("lock", Value::from(request.lock))];
        for peer_id in &leaving {
            self.inboxes.deliver(peer_id, "room_ended", now, &fields);
        }
        Ok(())
    }

    /// What a peer of a room of `workspace` received, also after it left.
    pub async fn deliveries(
        &self,
        workspace: &Workspace,
        room_id: &str,
        peer_id: &str,
    ) -> Result<Vec<Delivery>, RuntimeError> {
        let view = self
            .store
            .room(&workspace.id, room_id)
            .await?
            .ok_or(RuntimeError::RoomNotFound)?;
        self.inboxes
            .read(&view.room.id, peer_id)
            .ok_or(RuntimeError::PeerNotFound)
    }

    /// Closes the sessions a previous run left open: their peers are gone with the
    /// process, so each gets its leave event, then the session its close event.
    pub async fn recover(&self) -> Result<usize, RuntimeError> {
        let open = self.store.open_sessions().await?;
        let workspaces: HashMap<String, Workspace> = self
            .store
            .workspaces()
            .await?
            .into_iter()
            .map(|w| (w.id.clone(), w))
            .collect();
        for record in &open {
            let workspace = &workspaces[&record.workspace_id];
            let view = self
                .store
                .room(&workspace.id, &record.room_id)
                .await?
                .ok_or(RuntimeError::RoomNotFound)?;
            let session = LiveSession {
                id: record.id.clone(),
                workspace_id: workspace.id.clone(),
                account_id: workspace.customer_id.clone(),
                app_id: workspace.app_id.clone(),
                room_id: view.room.id.clone(),
                room_name: view.room.name.clone(),
                template_id: view.room.template_id.clone(),
                started_at: record.started_at,
                peers: record
                    .peers
                    .iter()
                    .filter(|peer| peer.left_at.is_none())
                    .map(|peer| (peer.id.clone(), peer_from_record(peer)))
                    .collect(),
            };
            let mut live = self.lock(&view.room.id).await;
            live.session = Some(session);
            let leaving: Vec<String> = live.session.as_ref().expect("just set").peers.keys().cloned().collect();
            if leaving.is_empty() {
                let session = live.session.take().expect("just set");
                let write = LiveWrite {
                    closed: Some(SessionClosed {
                        session_id: session.id.clone(),
                        at: PreciseTime::now(),
                    }),
                    events: vec![events::session_close(&session, PreciseTime::now())],
                    ..LiveWrite::default()
                };
                self.store.record_live(&write).await?;
                self.retire_if_idle(&view.room.id, &mut live);
            } else {
                self.depart(
                    &mut live,
                    leaving,
                    leave_reason::SERVER_REMOVED,
                    "",
                    LiveWrite::default(),
                )
                .await?;
            }
        }
        Ok(open.len())
    }
}

fn peer_of<'a>(live: &'a RoomGuard, peer_id: &str) -> Result<&'a LivePeer, RuntimeError> {
    live.session
        .as_ref()
        .and_then(|s| s.peers.get(peer_id))
        .ok_or(RuntimeError::PeerNotFound)
}

/// Whether `role` can take one more peer (`moving` is a peer already in the session that
/// would switch to it, and so does not count against it twice).
fn check_capacity(session: &LiveSession, role: &Role, moving: Option<&str>) -> Result<(), RuntimeError> {
    match role.max_peer_count {
        -1 => Err(RuntimeError::RoleNotAllowed(role.name.clone())),
        0 => Ok(()),
        max => {
            let taken = session
                .peers
                .values()
                .filter(|p| p.role == role.name && Some(p.id.as_str()) != moving)
                .count();
            if taken as i64 >= max {
                Err(RuntimeError::RoleFull {
                    role: role.name.clone(),
                    max,
                })
            } else {
                Ok(())
            }
        }
    }
}

fn validate_name(name: Option<&str>) -> Result<(), RuntimeError> {
    match name {
        Some(name) if name.trim().is_empty() || name.chars().count() > MAX_PEER_NAME_LEN => Err(RuntimeError::Invalid(
            format!("name must be 1 to {MAX_PEER_NAME_LEN} characters"),
        )),
        _ => Ok(()),
    }
}

fn validate_metadata(metadata: Option<&str>) -> Result<(), RuntimeError> {
    match metadata {
        Some(metadata) if metadata.len() > MAX_METADATA_BYTES => Err(RuntimeError::Invalid(format!(
            "metadata may hold at most {MAX_METADATA_BYTES} bytes"
        ))),
        _ => Ok(()),
    }
}

/// The tracks a peer of `role` publishes when it joins: audio and video as the role
/// allows, in one stream.
fn tracks_for(role: &Role, at: PreciseTime) -> IndexMap<String, Track> {
    let stream_id = ids::uuid();
    ["audio", "video"]
        .into_iter()
        .filter(|kind| role.publish_params.allowed.iter().any(|allowed| allowed == kind))
        .map(|kind| {
            let id = ids::uuid();
            let track = Track {
                id: id.clone(),
                stream_id: stream_id.clone(),
                mute: false,
                kind: kind.to_owned(),
                source: "regular".to_owned(),
                started_at: at,
                description: String::new(),
            };
            (id, track)
        })
        .collect()
}

fn session_record(session: &LiveSession) -> SessionRecord {
    SessionRecord {
        id: session.id.clone(),
        workspace_id: session.workspace_id.clone(),
        room_id: session.room_id.clone(),
        active: true,
        started_at: session.started_at,
        updated_at: session.started_at,
        peers: Vec::new(),
    }
}

/// A peer as it was when the server stopped.
fn peer_from_record(peer: &hms_store::SessionPeerRecord) -> LivePeer {
    LivePeer {
        id: peer.id.clone(),
        name: peer.current.name.clone(),
        user_id: peer.user_id.clone(),
        role: peer.current.role.clone(),
        metadata: peer.current.metadata.clone(),
        joined_at: peer.joined_at,
        tracks: IndexMap::new(),
    }
}
