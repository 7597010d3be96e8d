//! The room runtime: the live state of every active room — its open session and its
//! peers — and every change to it. Real peers (later) and simulated peers go through the
//! same calls.
//!
//! Live state lives in the store, which every node (server process) of a deployment
//! shares, so a peer that joined through one node is seen and changed through any other.
//! A change reads the room's open session, computes what happens, and writes it with its
//! webhook events in one transaction that is refused if the session moved in between
//! (its revision); the change is then computed again from what is there now. Within a
//! node, changes of one room also queue on a lock, so that they rarely collide. Each
//! peer belongs to the node it joined through: when a node is gone, its peers leave.

mod events;
mod state;
#[cfg(test)]
mod tests;
mod tracks;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use hms_store::{
    LiveWrite, PeerChanged, PeerDelivery, PeerLeft, SessionClosed, SessionRecord, Store, StoreError, StrandedPeer,
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
use serde_json::{Map, Value};

use crate::ids;
use crate::keyed_lock::KeyedLocks;
use crate::retry::Retry;
use state::LiveRoom;
pub(crate) use state::{LivePeer, LiveSession};

/// Longest display name a peer may have.
pub const MAX_PEER_NAME_LEN: usize = 256;
/// Largest peer metadata accepted, in bytes: 100ms's limit for custom peer data (4 KB).
pub const MAX_METADATA_BYTES: usize = 4096;
/// Deliveries shown per peer: the latest ones.
const MAX_DELIVERIES: u32 = 1_000;
/// Heartbeats a node sends within the node timeout, so that a few late ones do not make
/// it look gone.
const HEARTBEATS_PER_TIMEOUT: u32 = 6;

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
    #[error("peer {0:?} has already joined")]
    PeerExists(String),
    #[error("{0}")]
    Invalid(String),
    /// Other changes of the session kept coming in between (see [`crate::retry`]).
    #[error("the room's session kept changing")]
    KeptChanging,
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
    /// The id a client chose for itself (the SDKs make a UUID); a new one when absent.
    pub peer_id: Option<String>,
    /// What the peer publishes from the start: a simulated peer pretends to publish what
    /// its role allows, a real peer publishes nothing until it offers tracks.
    pub publishes: Publishes,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Publishes {
    #[default]
    WhatItsRoleAllows,
    Nothing,
}

/// Whoever follows committed changes (this node's signalling, which reads what changed
/// from the store).
pub trait LiveObserver: Send + Sync {
    /// Called after each change of `room_id`'s live state, on the room's turn: keep it
    /// short.
    fn committed(&self, room_id: &str);
}

pub struct RoomRuntime {
    store: Arc<dyn Store>,
    node_id: String,
    /// A node silent for this long is gone, and its peers with it.
    node_timeout: Duration,
    turns: KeyedLocks,
    observer: std::sync::OnceLock<Arc<dyn LiveObserver>>,
}

impl RoomRuntime {
    /// The runtime of node `node_id`: the peers that join through it are its own.
    pub fn new(store: Arc<dyn Store>, node_id: String, node_timeout: Duration) -> Self {
        Self {
            store,
            node_id,
            node_timeout,
            turns: KeyedLocks::default(),
            observer: std::sync::OnceLock::new(),
        }
    }

    /// Sets who is told of committed changes (once, at start).
    pub fn observe(&self, observer: Arc<dyn LiveObserver>) {
        if self.observer.set(observer).is_err() {
            tracing::warn!("the runtime already has an observer");
        }
    }

    /// Writes a change of `room_id`'s live state with its events, then tells the observer.
    async fn commit(&self, room_id: &str, mut write: LiveWrite) -> Result<(), RuntimeError> {
        write.room_id = room_id.to_owned();
        self.store.record_live(&write).await?;
        if let Some(observer) = self.observer.get() {
            observer.committed(room_id);
        }
        Ok(())
    }

    /// The open session of a room, or `None`, as the store has it now.
    pub(crate) async fn session(
        &self,
        workspace: &Workspace,
        room_id: &str,
    ) -> Result<Option<LiveSession>, RuntimeError> {
        Ok(self.load(workspace, room_id).await?.session)
    }

    /// Runs `change` on the room's live state, on this node's turn for the room, until
    /// it is not refused for having read a session that moved since ([`Retry`]'s policy).
    /// (`change` captures only references, so that each attempt's future can copy them.)
    async fn in_room<T, F, Fut>(&self, room_id: &str, change: F) -> Result<T, RuntimeError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, RuntimeError>>,
    {
        let _turn = self.turns.lock(room_id).await;
        let mut retry = Retry::new();
        loop {
            match change().await {
                Err(RuntimeError::Store(StoreError::Stale)) => {
                    if !retry.again().await {
                        return Err(RuntimeError::KeptChanging);
                    }
                }
                outcome => return outcome,
            }
        }
    }

    /// A room of `workspace` and its open session, as the store has them now.
    async fn load(&self, workspace: &Workspace, room_id: &str) -> Result<LiveRoom, RuntimeError> {
        let view = self
            .store
            .room(&workspace.id, room_id)
            .await?
            .ok_or(RuntimeError::RoomNotFound)?;
        let session = self
            .store
            .live_session(&view.room.id)
            .await?
            .map(|record| LiveSession::stored(record, workspace, &view));
        Ok(LiveRoom { view, session })
    }

    /// The open session of a room of `workspace`.
    async fn live(&self, workspace: &Workspace, room_id: &str) -> Result<LiveSession, RuntimeError> {
        self.load(workspace, room_id)
            .await?
            .session
            .ok_or(RuntimeError::NotActive)
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
        let request = &request;
        self.in_room(room_id, move || async move {
            let room = self.load(workspace, room_id).await?;
            if !room.view.room.enabled {
                return Err(RuntimeError::RoomDisabled);
            }
            let template = self
                .store
                .template(&workspace.id, &room.view.room.template_id)
                .await?
                .ok_or(RuntimeError::RoomNotFound)?;
            let role = template
                .body
                .roles
                .get(&request.role)
                .ok_or_else(|| RuntimeError::UnknownRole(request.role.clone()))?;
            self.join_room(workspace, room, role, request).await
        })
        .await
    }

    async fn join_room(
        &self,
        workspace: &Workspace,
        room: LiveRoom,
        role: &Role,
        request: &JoinRequest,
    ) -> Result<ActivePeer, RuntimeError> {
        let now = PreciseTime::now();
        let opening = room.session.is_none();
        let session = room
            .session
            .unwrap_or_else(|| LiveSession::fresh(ids::object_id(), workspace, &room.view, now));
        // A session that opens has no revision yet; one open session per room guards it.
        let mut write = LiveWrite {
            read: (!opening).then(|| session.read()),
            ..LiveWrite::default()
        };
        let peer_id = match &request.peer_id {
            Some(id) if session.peers.contains_key(id) => return Err(RuntimeError::PeerExists(id.clone())),
            Some(id) => id.clone(),
            None => ids::uuid(),
        };
        let tracks = match request.publishes {
            Publishes::WhatItsRoleAllows => tracks_for(role, now),
            Publishes::Nothing => IndexMap::new(),
        };
        let peer = LivePeer {
            name: request
                .name
                .clone()
                .unwrap_or_else(|| format!("peer-{}", &peer_id[..8])),
            user_id: request
                .user_id
                .clone()
                .filter(|id| !id.is_empty())
                .unwrap_or_else(ids::uuid),
            role: role.name.clone(),
            metadata: request.metadata.clone().unwrap_or_default(),
            joined_at: now,
            node_id: self.node_id.clone(),
            tracks,
            id: peer_id,
        };
        if let Err(refusal) = check_capacity(&session, role, None) {
            write
                .events
                .push(events::peer_join_failure(&session, &peer, "role not allowed"));
            self.commit(&session.room_id, write).await?;
            return Err(refusal);
        }
        if opening {
            write.opened = Some(session_record(&session));
            write.events.push(events::session_open(&session));
        }
        write.joined.push(peer.session_record(&session.id));
        write.events.push(events::peer_join(&session, &peer));
        self.commit(&session.room_id, write).await?;
        Ok(peer.to_wire(true))
    }

    /// A peer leaves by itself.
    pub async fn leave(&self, workspace: &Workspace, room_id: &str, peer_id: &str) -> Result<(), RuntimeError> {
        self.leave_because(workspace, room_id, peer_id, leave_reason::CLIENT_REQUEST)
            .await
    }

    /// A peer is gone, for `reason` (one of [`leave_reason`]).
    pub async fn leave_because(
        &self,
        workspace: &Workspace,
        room_id: &str,
        peer_id: &str,
        reason: &str,
    ) -> Result<(), RuntimeError> {
        self.in_room(room_id, move || async move {
            let session = self.live(workspace, room_id).await?;
            peer_of(&session, peer_id)?;
            let leaving = [peer_id.to_owned()];
            self.depart(&session, &leaving, reason, "", LiveWrite::default()).await
        })
        .await
    }

    /// Removes `leaving` from the session with one reason, closing the session when nobody
    /// is left. `write` may already hold events that come before the leaves.
    async fn depart(
        &self,
        session: &LiveSession,
        leaving: &[String],
        reason: &str,
        message: &str,
        mut write: LiveWrite,
    ) -> Result<(), RuntimeError> {
        let now = PreciseTime::now();
        write.read = Some(session.read());
        for peer_id in leaving {
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
        if leaving.len() == session.peers.len() {
            write.closed = Some(SessionClosed {
                session_id: session.id.clone(),
                at: now,
            });
            write.events.push(events::session_close(session, now));
        }
        self.commit(&session.room_id, write).await?;
        Ok(())
    }

    pub async fn active_room(&self, workspace: &Workspace, room_id: &str) -> Result<ActiveRoom, RuntimeError> {
        let session = self.live(workspace, room_id).await?;
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
        let session = self.live(workspace, room_id).await?;
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
        let session = self.live(workspace, room_id).await?;
        Ok(peer_of(&session, peer_id)?.to_wire(true))
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
        let update = &update;
        self.in_room(room_id, move || async move {
            let session = self.live(workspace, room_id).await?;
            self.update_in(workspace, &session, peer_id, update).await
        })
        .await
    }

    async fn update_in(
        &self,
        workspace: &Workspace,
        session: &LiveSession,
        peer_id: &str,
        update: &PeerUpdate,
    ) -> Result<ActivePeer, RuntimeError> {
        let current = peer_of(session, peer_id)?;
        let now = PreciseTime::now();
        let mut updated = current.clone();
        let mut write = LiveWrite {
            read: Some(session.read()),
            ..LiveWrite::default()
        };
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
                let event = events::role_change_failure(session, current, role_name, "role limit reached");
                write.events.push(event);
                self.commit(&session.room_id, write).await?;
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
        write.deliveries = changes_told(session, current, &updated, now);
        self.commit(&session.room_id, write).await?;
        Ok(updated.to_wire(true))
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
        let kind = message
            .kind
            .clone()
            .filter(|kind| !kind.is_empty())
            .unwrap_or_else(|| "chat".to_owned());
        let fields = &[
            ("message", Value::from(message.message.clone())),
            ("message_type", Value::from(kind)),
        ];
        let message = &message;
        self.in_room(room_id, move || async move {
            let session = self.live(workspace, room_id).await?;
            let recipients = self
                .select(&session, workspace, message.peer_id.as_deref(), message.role.as_deref())
                .await?;
            let write = LiveWrite {
                read: Some(session.read()),
                deliveries: deliver(&session, &recipients, "message", PreciseTime::now(), fields),
                ..LiveWrite::default()
            };
            self.commit(&session.room_id, write).await?;
            Ok(())
        })
        .await
    }

    /// The peers a request targets: a peer id wins over a role; neither means everyone.
    async fn select(
        &self,
        session: &LiveSession,
        workspace: &Workspace,
        peer_id: Option<&str>,
        role: Option<&str>,
    ) -> Result<Vec<String>, RuntimeError> {
        if let Some(peer_id) = peer_id.filter(|id| !id.is_empty()) {
            return Ok(vec![peer_of(session, peer_id)?.id.clone()]);
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
        self.remove_peers_by(workspace, room_id, request, None).await
    }

    /// As [`Self::remove_peers`], on behalf of the peer `requested_by`, whom the removed
    /// peers are told of.
    pub async fn remove_peers_by(
        &self,
        workspace: &Workspace,
        room_id: &str,
        request: RemovePeers,
        requested_by: Option<&str>,
    ) -> Result<(), RuntimeError> {
        let has = |value: &Option<String>| value.as_ref().is_some_and(|v| !v.is_empty());
        if !has(&request.peer_id) && !has(&request.role) {
            return Err(RuntimeError::Invalid("peer_id or role is required".into()));
        }
        let (reason, request) = (&request.reason.clone().unwrap_or_default(), &request);
        self.in_room(room_id, move || async move {
            let session = self.live(workspace, room_id).await?;
            let leaving = self
                .select(&session, workspace, request.peer_id.as_deref(), request.role.as_deref())
                .await?;
            if leaving.is_empty() {
                return Ok(());
            }
            let mut told = vec![("reason", Value::from(reason.clone()))];
            told.extend(requested_by.map(|peer_id| ("requested_by", Value::from(peer_id))));
            let write = LiveWrite {
                deliveries: deliver(&session, &leaving, "removed", PreciseTime::now(), &told),
                ..LiveWrite::default()
            };
            self.depart(&session, &leaving, leave_reason::PEER_KICKED, reason, write)
                .await
        })
        .await
    }

    /// Ends the session: everyone is removed, and with `lock` the room is disabled in the
    /// same transaction so that nobody rejoins.
    pub async fn end_room(&self, workspace: &Workspace, room_id: &str, request: EndRoom) -> Result<(), RuntimeError> {
        let (reason, request) = (&request.reason.clone().unwrap_or_default(), &request);
        self.in_room(room_id, move || async move {
            let session = self.live(workspace, room_id).await?;
            let now = PreciseTime::now();
            let leaving: Vec<String> = session.peers.keys().cloned().collect();
            let told = [
                ("reason", Value::from(reason.clone())),
                ("lock", Value::from(request.lock)),
            ];
            let write = LiveWrite {
                events: vec![events::room_end(&session, now, reason, request.lock)],
                disabled_room: request.lock.then(|| session.room_id.clone()),
                deliveries: deliver(&session, &leaving, "room_ended", now, &told),
                ..LiveWrite::default()
            };
            self.depart(&session, &leaving, leave_reason::PEER_KICKED, reason, write)
                .await
        })
        .await
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
        self.store
            .peer_inbox(&view.room.id, peer_id, MAX_DELIVERIES)
            .await?
            .ok_or(RuntimeError::PeerNotFound)
    }

    /// Joins the deployment: the peers of this node's previous run left with it, and so
    /// did those of nodes silent for too long. Answers how many peers were removed.
    pub async fn start(&self) -> Result<usize, RuntimeError> {
        self.store.forget_node(&self.node_id).await?;
        let removed = self.remove_stranded().await?;
        self.store.heartbeat(&self.node_id, PreciseTime::now()).await?;
        Ok(removed)
    }

    /// Keeps this node alive in the store and removes the peers of nodes that are gone.
    pub async fn keep_alive(&self) {
        let mut tick = tokio::time::interval(self.node_timeout / HEARTBEATS_PER_TIMEOUT);
        tick.tick().await;
        loop {
            tick.tick().await;
            if let Err(error) = self.store.heartbeat(&self.node_id, PreciseTime::now()).await {
                tracing::warn!(%error, "could not record this node's heartbeat");
            }
            match self.remove_stranded().await {
                Ok(0) => {}
                Ok(removed) => tracing::info!(peers = removed, "removed the peers of nodes that are gone"),
                Err(error) => tracing::warn!(%error, "could not remove the peers of nodes that are gone"),
            }
        }
    }

    /// Leaves the deployment: the peers of this node are left to the others (or to its
    /// next start) at once rather than after the node timeout.
    pub async fn stop(&self) {
        if let Err(error) = self.store.forget_node(&self.node_id).await {
            tracing::warn!(%error, "could not sign this node off");
        }
    }

    /// Removes the peers whose node is gone, room by room, each with its leave event and
    /// the session's close when it empties.
    async fn remove_stranded(&self) -> Result<usize, RuntimeError> {
        let alive_since =
            PreciseTime::from_unix_nanos(PreciseTime::now().unix_nanos() - self.node_timeout.as_nanos() as i128);
        let stranded = self.store.stranded_peers(alive_since).await?;
        if stranded.is_empty() {
            return Ok(0);
        }
        let workspaces: HashMap<String, Workspace> = self
            .store
            .workspaces()
            .await?
            .into_iter()
            .map(|w| (w.id.clone(), w))
            .collect();
        let mut removed = 0;
        for room in stranded.chunk_by(|a, b| a.room_id == b.room_id) {
            let Some(workspace) = workspaces.get(&room[0].workspace_id) else {
                continue;
            };
            removed += self.remove_from_room(workspace, room).await?;
        }
        Ok(removed)
    }

    async fn remove_from_room(&self, workspace: &Workspace, stranded: &[StrandedPeer]) -> Result<usize, RuntimeError> {
        let room_id = &stranded[0].room_id;
        self.in_room(room_id, move || async move {
            let session = match self.live(workspace, room_id).await {
                Err(RuntimeError::NotActive | RuntimeError::RoomNotFound) => return Ok(0),
                other => other?,
            };
            let leaving: Vec<String> = stranded
                .iter()
                .filter(|peer| session.peers.contains_key(&peer.peer_id))
                .map(|peer| peer.peer_id.clone())
                .collect();
            if !leaving.is_empty() {
                let write = LiveWrite::default();
                self.depart(&session, &leaving, leave_reason::SERVER_REMOVED, "", write)
                    .await?;
            }
            Ok(leaving.len())
        })
        .await
    }
}

/// What peers are told when their profile changes.
fn changes_told(session: &LiveSession, before: &LivePeer, after: &LivePeer, at: PreciseTime) -> Vec<PeerDelivery> {
    let recipient = [after.id.clone()];
    let mut told = Vec::new();
    if before.role != after.role {
        let fields = [
            ("role", Value::from(after.role.clone())),
            ("previous_role", Value::from(before.role.clone())),
        ];
        told.extend(deliver(session, &recipient, "role_changed", at, &fields));
    }
    if before.name != after.name {
        let fields = [("name", Value::from(after.name.clone()))];
        told.extend(deliver(session, &recipient, "name_changed", at, &fields));
    }
    if before.metadata != after.metadata {
        let fields = [("metadata", Value::from(after.metadata.clone()))];
        told.extend(deliver(session, &recipient, "metadata_changed", at, &fields));
    }
    told
}

/// One delivery of `kind` to each of `recipients`.
fn deliver(
    session: &LiveSession,
    recipients: &[String],
    kind: &str,
    at: PreciseTime,
    fields: &[(&str, Value)],
) -> Vec<PeerDelivery> {
    let fields: Map<String, Value> = fields.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
    recipients
        .iter()
        .map(|peer_id| PeerDelivery {
            room_id: session.room_id.clone(),
            peer_id: peer_id.clone(),
            delivery: Delivery {
                kind: kind.to_owned(),
                at,
                fields: fields.clone(),
            },
        })
        .collect()
}

fn peer_of<'a>(session: &'a LiveSession, peer_id: &str) -> Result<&'a LivePeer, RuntimeError> {
    session.peers.get(peer_id).ok_or(RuntimeError::PeerNotFound)
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
        revision: 0,
        peers: Vec::new(),
    }
}
