//! One task per real peer of this node: it reads the peer's socket, answers its requests,
//! owns its two peer connections, and writes what its room tells it. A dropped socket
//! leaves the task running for the reconnect window, and a new socket with the same peer
//! id takes over where the old one stopped.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hms_rtc::{Connection, ConnectionEvent, OfferRequest, Subscription};
use hms_store::WorkspaceCredentials;
use hms_types::active_room::{EndRoom, PeerUpdate, RemovePeers};
use hms_types::signal::{
    BroadcastParams, ChangeTrackMuteStateParams, ClientMessage, DescriptionParams, EndRoomParams, JoinParams,
    MessageNotification, PeerLeaveRequestParams, PeerUpdateParams, RoleChangeParams, RoleChangeRequestNotification,
    RoleChangeRequestParams, SessionDescription, TrackUpdateParams,
};
use hms_types::webhook::leave_reason;
use indexmap::IndexMap;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

use crate::runtime::{JoinRequest, Publishes, RuntimeError};

use super::room::{Entered, ToRoom};
use super::websocket::{CLOSE_POLICY, CLOSE_UNSUPPORTED, Incoming, ReadError, UpgradedSocket};
use super::{AppClaims, DATA_CHANNEL, Signal, publishing, wire};

/// Messages a client may send per second before its socket is closed as a flood (the
/// SDK sends a ping every 3 s and a few requests per user action).
const MAX_MESSAGES_PER_SECOND: u32 = 50;
/// The methods a peer may call once it has joined.
const AFTER_JOIN: [&str; 10] = [
    "offer",
    "answer",
    "track-update",
    "broadcast",
    "peer-update",
    "end-room",
    "peer-leave-request",
    "role-change-request",
    "role-change",
    "change-track-mute-state-request",
];
/// A socket that says nothing for this long is dead.
const SILENCE_LIMIT: Duration = Duration::from_secs(30);
/// A message the client does not take within this long ends its socket.
const SEND_LIMIT: Duration = Duration::from_secs(10);
/// How long a closing socket waits for the client's own close.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

pub(super) enum ToPeer {
    /// A message to write to the socket as it is (one copy shared by all its recipients).
    Notify(Arc<str>),
    /// The peer was removed (by the API, another peer, or the room's end): tell it, and
    /// end without leaving again.
    Removed(String),
    /// The peer's role changed: it gets the new policy.
    RoleChanged(String),
    /// The tracks the peer receives now.
    Subscribe(Vec<Subscription>),
    /// The client came back on a new socket.
    Attach(Box<UpgradedSocket>),
}

/// Takes a new socket: to the peer's task when this node still has the peer, else to a
/// new task.
pub(super) fn attach(
    signal: Arc<Signal>,
    workspace: Arc<WorkspaceCredentials>,
    claims: AppClaims,
    peer_id: String,
    socket: UpgradedSocket,
) {
    let owner = claims.owner(&workspace);
    let mut peers = signal.peers.lock().expect("peers lock");
    let socket = match peers.get(&peer_id) {
        // Peer ids are no secret (every peer of the room is told them): another user's
        // token does not take a peer over.
        Some(existing) if existing.owner != owner => {
            drop(peers);
            tokio::spawn(Socket::new(socket).close(CLOSE_POLICY, "this peer id belongs to another user"));
            return;
        }
        Some(existing) => match existing.task.send(ToPeer::Attach(Box::new(socket))) {
            Ok(()) => return,
            Err(refused) => match refused.0 {
                ToPeer::Attach(socket) => *socket,
                _ => unreachable!("the message sent was an attach"),
            },
        },
        None => socket,
    };
    let (sender, inbox) = mpsc::unbounded_channel();
    let local = super::LocalPeer {
        task: sender.clone(),
        owner,
    };
    peers.insert(peer_id.clone(), local);
    drop(peers);
    let peer = Peer {
        signal,
        workspace,
        role: claims.role.clone(),
        claims,
        peer_id,
        me: sender,
        socket: Some(Socket::new(socket)),
        joined: false,
        gone: false,
        publish: None,
        subscribe: None,
        subscribe_waits_for_answer: false,
        wanted: Vec::new(),
        published: Vec::new(),
        role_change_token: None,
        ending_room: false,
        after_answer: None,
        window_ends: None,
        flood: Flood::default(),
    };
    tokio::spawn(peer.run(inbox));
}

struct Peer {
    signal: Arc<Signal>,
    workspace: Arc<WorkspaceCredentials>,
    claims: AppClaims,
    /// The peer's role now (the token's, until it changes).
    role: String,
    peer_id: String,
    me: mpsc::UnboundedSender<ToPeer>,
    socket: Option<Socket>,
    joined: bool,
    /// The peer left or was removed: nothing more to do than to stop.
    gone: bool,
    publish: Option<(Connection, mpsc::UnboundedReceiver<ConnectionEvent>)>,
    subscribe: Option<(Connection, mpsc::UnboundedReceiver<ConnectionEvent>)>,
    /// The server's subscribe offer is out: the next waits for its answer.
    subscribe_waits_for_answer: bool,
    /// The tracks the room says this peer receives.
    wanted: Vec<Subscription>,
    /// The tracks this peer publishes, as the room was told them.
    published: Vec<hms_types::active_room::Track>,
    /// The role change another peer asked this one to accept.
    role_change_token: Option<(String, String)>,
    /// This peer ended the room, and leaves by itself.
    ending_room: bool,
    /// What the client gets after the join's answer.
    after_answer: Option<AfterAnswer>,
    /// The socket dropped: the peer is removed unless one comes back before this.
    window_ends: Option<Instant>,
    flood: Flood,
}

struct AfterAnswer {
    entered: oneshot::Receiver<Entered>,
    offer_subscribe: bool,
}

/// What the socket, the room or a connection has for the task.
enum Wake {
    Frame(Result<Incoming, ReadError>),
    Inbox(Option<ToPeer>),
    Publish(Option<ConnectionEvent>),
    Subscribe(Option<ConnectionEvent>),
    WindowOver,
}

/// An error answer: its code and message.
type Refusal = (u16, String);

impl From<publishing::PublishError> for Refusal {
    fn from(error: publishing::PublishError) -> Self {
        (error.code(), error.to_string())
    }
}

impl Peer {
    async fn run(mut self, mut inbox: mpsc::UnboundedReceiver<ToPeer>) {
        self.send_policy().await;
        while !self.gone {
            let wake = self.next(&mut inbox).await;
            match wake {
                Wake::Frame(Ok(incoming)) => self.frame(incoming).await,
                Wake::Frame(Err(error)) => self.unreadable(error).await,
                Wake::Inbox(Some(message)) => self.told_by_room(message).await,
                Wake::Inbox(None) => break,
                Wake::Publish(Some(event)) => self.publish_event(event),
                Wake::Subscribe(Some(event)) => self.subscribe_event(event).await,
                Wake::Publish(None) => self.publish = None,
                Wake::Subscribe(None) => self.subscribe = None,
                Wake::WindowOver => {
                    self.leave(leave_reason::WEBSOCKET_CLOSED).await;
                }
            }
        }
        self.signal.forget_peer(&self.peer_id, &self.me);
        if let Some(socket) = self.socket.take() {
            socket.close_quietly().await;
        }
    }

    async fn next(&mut self, inbox: &mut mpsc::UnboundedReceiver<ToPeer>) -> Wake {
        let frame = async {
            match self.socket.as_mut() {
                // A socket silent for this long is dead (the SDK pings every 3 s), even
                // when no FIN or reset ever said so.
                Some(socket) => tokio::time::timeout(SILENCE_LIMIT, socket.recv())
                    .await
                    .unwrap_or(Err(ReadError::Ended)),
                None => std::future::pending().await,
            }
        };
        let publish = async {
            match self.publish.as_mut() {
                Some((_, events)) => events.recv().await,
                None => std::future::pending().await,
            }
        };
        let subscribe = async {
            match self.subscribe.as_mut() {
                Some((_, events)) => events.recv().await,
                None => std::future::pending().await,
            }
        };
        let window = async {
            match self.window_ends {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            frame = frame => Wake::Frame(frame),
            message = inbox.recv() => Wake::Inbox(message),
            event = publish => Wake::Publish(event),
            event = subscribe => Wake::Subscribe(event),
            () = window => Wake::WindowOver,
        }
    }

    async fn send(&mut self, text: impl AsRef<str>) {
        if let Some(socket) = self.socket.as_mut()
            && socket.send(text.as_ref()).await.is_err()
        {
            self.writing_failed();
        }
    }

    /// The client stopped reading, or its connection is gone: it may come back on a new
    /// socket.
    fn writing_failed(&mut self) {
        self.socket = None;
        self.start_window();
    }

    async fn close_socket(&mut self, code: u16, reason: &str) {
        if let Some(socket) = self.socket.take() {
            socket.close(code, reason).await;
        }
        self.socket_lost().await;
    }

    /// The socket cannot be read further: the client is told why when it still can be.
    async fn unreadable(&mut self, error: ReadError) {
        match error.close_code() {
            Some(code) => self.close_socket(code, &error.to_string()).await,
            None => self.socket_lost().await,
        }
    }

    /// Without a socket, a peer that joined waits for the client to come back; one that
    /// did not is simply done.
    async fn socket_lost(&mut self) {
        self.socket = None;
        if self.joined {
            self.start_window();
        } else {
            self.gone = true;
        }
    }

    fn start_window(&mut self) {
        if self.window_ends.is_none() {
            self.window_ends = Some(Instant::now() + self.signal.config.rtc.reconnect_window());
        }
    }

    async fn send_policy(&mut self) {
        let template = match self.template().await {
            Ok(template) => template,
            Err((code, message)) => {
                self.send(wire::notification(
                    "on-error",
                    json!({"code": code, "message": message}),
                ))
                .await;
                self.close_socket(CLOSE_POLICY, "room unavailable").await;
                return;
            }
        };
        let policy = wire::policy(&template, &self.role);
        self.send(wire::notification("on-policy-change", policy)).await;
    }

    async fn template(&self) -> Result<hms_store::TemplateRecord, Refusal> {
        let store = &self.signal.store;
        let workspace_id = &self.workspace.workspace.id;
        let room = store
            .room(workspace_id, &self.claims.room_id)
            .await
            .map_err(|_| (503, "try again".to_owned()))?
            .ok_or((404, "room not found".to_owned()))?;
        store
            .template(workspace_id, &room.room.template_id)
            .await
            .map_err(|_| (503, "try again".to_owned()))?
            .ok_or((404, "room not found".to_owned()))
    }

    async fn frame(&mut self, incoming: Incoming) {
        if !self.flood.allows(Instant::now()) {
            self.close_socket(CLOSE_POLICY, "too many messages").await;
            return;
        }
        match incoming {
            Incoming::Text(text) => match serde_json::from_slice::<ClientMessage>(&text) {
                Ok(message) => self.message(message).await,
                Err(_) => {
                    self.close_socket(CLOSE_UNSUPPORTED, "messages are JSON-RPC objects")
                        .await
                }
            },
            Incoming::Binary(_) => self.close_socket(CLOSE_UNSUPPORTED, "messages are JSON text").await,
            Incoming::Ping(payload) => {
                if let Some(socket) = self.socket.as_mut()
                    && socket.pong(&payload).await.is_err()
                {
                    self.writing_failed();
                }
            }
            Incoming::Pong => {}
            Incoming::Close(code) => {
                if let Some(socket) = self.socket.take() {
                    socket.answer_close(code).await;
                }
                self.socket_lost().await;
            }
        }
    }

    async fn message(&mut self, message: ClientMessage) {
        let outcome = self.dispatch(&message.method, message.params).await;
        // Notifications (no id) get no answer, whatever happened.
        let Some(id) = message.id else {
            if let Err((code, text)) = outcome {
                tracing::debug!(code, text, method = %message.method, "a client notification was refused");
            }
            return;
        };
        let answer = match outcome {
            Ok(result) => wire::result(id, result),
            Err((code, text)) => wire::error(id, code, text),
        };
        self.send(answer).await;
        self.follow_up().await;
    }

    async fn dispatch(&mut self, method: &str, params: Value) -> Result<Value, Refusal> {
        match method {
            "ping" => Ok(json!({})),
            "analytics" => Ok(json!({})),
            "join" => self.join(parse(params)?).await,
            "leave" => {
                self.leave(leave_reason::CLIENT_REQUEST).await;
                Ok(json!({}))
            }
            "trickle" => Ok(json!({})),
            _ if !AFTER_JOIN.contains(&method) => Err((405, format!("{method} is not supported by this server"))),
            _ if !self.joined => Err((400, format!("join before {method}"))),
            "offer" => self.publish_offer(parse(params)?).await,
            "answer" => self.subscribe_answer(parse(params)?).await,
            "track-update" => self.update_tracks(parse(params)?).await,
            "broadcast" => self.broadcast(parse(params)?),
            "peer-update" => self.update_self(parse(params)?).await,
            "end-room" => self.end_room(parse(params)?).await,
            "peer-leave-request" => self.remove_other(parse(params)?).await,
            "role-change-request" => self.request_role_change(parse(params)?).await,
            "role-change" => self.accept_role_change(parse(params)?).await,
            "change-track-mute-state-request" => self.request_mute(parse(params)?).await,
            _ => unreachable!("AFTER_JOIN lists the methods above"),
        }
    }

    async fn join(&mut self, params: JoinParams) -> Result<Value, Refusal> {
        if self.joined {
            return Err((400, "peer already joined".into()));
        }
        // The offer is checked before the peer joins, so that a bad one leaves no peer.
        let publish = match &params.offer {
            Some(offer) => Some(self.open_publish(offer).await?),
            None => None,
        };
        let request = JoinRequest {
            role: self.role.clone(),
            name: params.name.filter(|name| !name.trim().is_empty()),
            user_id: Some(self.claims.user_id.clone()),
            metadata: params.data,
            peer_id: Some(self.peer_id.clone()),
            publishes: Publishes::Nothing,
        };
        let workspace = &self.workspace.workspace;
        self.signal
            .runtime
            .join(workspace, &self.claims.room_id, request)
            .await
            .map_err(join_refusal)?;
        self.joined = true;
        let answer = publish.map(|(connection, events, sdp)| {
            self.publish = Some((connection, events));
            sdp
        });
        let (entered, told) = oneshot::channel();
        self.to_room(ToRoom::Enter {
            peer_id: self.peer_id.clone(),
            peer: self.me.clone(),
            entered,
        });
        // After the answer: the peer list, then the subscribe connection's first offer,
        // with the tracks the peer receives already in it.
        self.after_answer = Some(AfterAnswer {
            entered: told,
            offer_subscribe: answer.is_some(),
        });
        Ok(match answer {
            Some(sdp) => json!({"type": "answer", "sdp": sdp}),
            None => json!({}),
        })
    }

    /// What follows a join's answer, in the order the client expects it.
    async fn follow_up(&mut self) {
        let Some(after) = self.after_answer.take() else {
            return;
        };
        if let Ok(entered) = after.entered.await {
            self.send(entered.peer_list).await;
            self.wanted = entered.wanted;
        }
        if after.offer_subscribe {
            self.renegotiate(false).await;
        }
    }

    async fn open_publish(
        &self,
        offer: &SessionDescription,
    ) -> Result<(Connection, mpsc::UnboundedReceiver<ConnectionEvent>, String), Refusal> {
        if offer.kind != "offer" {
            return Err((400, "the join carries an SDP offer".into()));
        }
        // The first offer opens the data channel only: tracks come with later offers.
        publishing::offered_tracks(&offer.sdp, &IndexMap::new(), None, &[])?;
        let (connection, events) = self.signal.rtc.open(&self.peer_id);
        let answer = connection
            .accept_offer(offer.sdp.clone())
            .await
            .map_err(|error| (400, error.to_string()))?;
        Ok((connection, events, answer))
    }

    /// The server's next offer on the subscribe connection: its data channel at first,
    /// then the tracks the peer receives as they come and go, and an ICE restart when the
    /// client came back. One offer at a time: a later one waits for the answer (the
    /// client does not queue offers), except an ICE restart, which replaces it.
    async fn renegotiate(&mut self, ice_restart: bool) {
        let open_channel = match self.subscribe {
            Some(_) if self.subscribe_waits_for_answer && !ice_restart => return,
            Some(_) => None,
            None => {
                self.subscribe = Some(self.signal.rtc.open(&self.peer_id));
                Some(DATA_CHANNEL.to_owned())
            }
        };
        let Some((connection, _)) = &self.subscribe else {
            return;
        };
        let request = OfferRequest {
            open_channel,
            ice_restart,
            wanted: self.wanted.clone(),
        };
        match connection.offer(request).await {
            Ok(Some(sdp)) => {
                self.subscribe_waits_for_answer = true;
                self.send(wire::notification("offer", json!({"type": "offer", "sdp": sdp})))
                    .await;
            }
            Ok(None) => {}
            Err(error) => tracing::warn!(%error, peer_id = %self.peer_id, "could not offer the subscribe connection"),
        }
    }

    /// A publish offer: each track the client sends must be described in `tracks` and
    /// allowed to the peer's role; then the room is told what the peer publishes now.
    async fn publish_offer(&mut self, params: DescriptionParams) -> Result<Value, Refusal> {
        if params.desc.kind != "offer" {
            return Err((400, "offer carries an SDP offer".into()));
        }
        let template = self.template().await?;
        let tracks = publishing::offered_tracks(
            &params.desc.sdp,
            &params.tracks,
            template.body.roles.get(&self.role),
            &self.published,
        )?;
        let sdp = match &self.publish {
            Some((connection, _)) => connection
                .accept_offer(params.desc.sdp)
                .await
                .map_err(|error| (400, error.to_string()))?,
            None => {
                let (connection, events, sdp) = self.open_publish(&params.desc).await?;
                self.publish = Some((connection, events));
                sdp
            }
        };
        self.publish_tracks(tracks).await?;
        Ok(json!({"type": "answer", "sdp": sdp}))
    }

    /// `track-update`: a published track was muted or unmuted (tracks this peer does not
    /// publish are ignored).
    async fn update_tracks(&mut self, params: TrackUpdateParams) -> Result<Value, Refusal> {
        let tracks = publishing::updated(&self.published, &params.tracks);
        self.publish_tracks(tracks).await?;
        Ok(json!({}))
    }

    async fn publish_tracks(&mut self, tracks: Vec<hms_types::active_room::Track>) -> Result<(), Refusal> {
        if tracks == self.published {
            return Ok(());
        }
        self.signal
            .runtime
            .publish(
                &self.workspace.workspace,
                &self.claims.room_id,
                &self.peer_id,
                tracks.clone(),
            )
            .await
            .map_err(refusal)?;
        self.published = tracks;
        Ok(())
    }

    async fn subscribe_answer(&mut self, params: DescriptionParams) -> Result<Value, Refusal> {
        let Some((connection, _)) = &self.subscribe else {
            return Err((400, "no subscribe offer was made".into()));
        };
        if !self.subscribe_waits_for_answer {
            return Err((400, "no subscribe offer waits for an answer".into()));
        }
        self.subscribe_waits_for_answer = false;
        connection
            .accept_answer(params.desc.sdp)
            .await
            .map_err(|error| (400, error.to_string()))?;
        // What changed while the offer was out goes in the next one.
        self.renegotiate(false).await;
        Ok(json!({}))
    }

    fn broadcast(&mut self, params: BroadcastParams) -> Result<Value, Refusal> {
        if !params.info.is_object() {
            return Err((400, "info must be an object".into()));
        }
        let message_id = crate::ids::uuid();
        let timestamp = wire::millis(hms_types::PreciseTime::now());
        let private = params.peer_id.as_ref().is_some_and(|peer| !peer.is_empty());
        let message = MessageNotification {
            message_id: message_id.clone(),
            timestamp,
            private,
            roles: params.roles.clone().unwrap_or_default(),
            // The room fills in the sender from its copy of the peer.
            peer: None,
            info: params.info,
        };
        self.to_room(ToRoom::Broadcast {
            from: self.peer_id.clone(),
            message: Box::new(message),
            roles: params.roles,
            to_peer: params.peer_id,
        });
        Ok(json!({"message_id": message_id, "timestamp": timestamp}))
    }

    async fn update_self(&mut self, params: PeerUpdateParams) -> Result<Value, Refusal> {
        let update = PeerUpdate {
            name: params.name,
            metadata: params.data,
            role: None,
        };
        self.signal
            .runtime
            .update_peer(&self.workspace.workspace, &self.claims.room_id, &self.peer_id, update)
            .await
            .map_err(refusal)?;
        Ok(json!({}))
    }

    async fn end_room(&mut self, params: EndRoomParams) -> Result<Value, Refusal> {
        self.permitted(|permissions| permissions.end_room, "end the room")
            .await?;
        let request = EndRoom {
            reason: params.reason,
            lock: params.lock,
        };
        // The client leaves by itself once the room has ended: it is not told again.
        self.ending_room = true;
        self.signal
            .runtime
            .end_room(&self.workspace.workspace, &self.claims.room_id, request)
            .await
            .map_err(refusal)?;
        Ok(json!({}))
    }

    async fn remove_other(&mut self, params: PeerLeaveRequestParams) -> Result<Value, Refusal> {
        self.permitted(|permissions| permissions.remove_others, "remove peers")
            .await?;
        let request = RemovePeers {
            peer_id: Some(params.requested_for),
            role: None,
            reason: params.reason,
        };
        self.signal
            .runtime
            .remove_peers_by(
                &self.workspace.workspace,
                &self.claims.room_id,
                request,
                Some(&self.peer_id),
            )
            .await
            .map_err(refusal)?;
        Ok(json!({}))
    }

    async fn request_role_change(&mut self, params: RoleChangeRequestParams) -> Result<Value, Refusal> {
        self.permitted(|permissions| permissions.change_role, "change roles")
            .await?;
        let targets = self.role_change_targets(&params).await?;
        if params.force || params.roles.is_some() {
            for peer_id in targets {
                self.change_role(&peer_id, &params.role).await?;
            }
            return Ok(json!({}));
        }
        let request = RoleChangeRequestNotification {
            requested_by: self.peer_id.clone(),
            role: params.role.clone(),
            token: crate::ids::uuid(),
        };
        self.to_room(ToRoom::Forward {
            to_peer: params.requested_for,
            roles: None,
            except: self.peer_id.clone(),
            text: wire::notification("on-role-change-request", request),
        });
        Ok(json!({}))
    }

    async fn role_change_targets(&self, params: &RoleChangeRequestParams) -> Result<Vec<String>, Refusal> {
        let session = self
            .signal
            .runtime
            .session(&self.workspace.workspace, &self.claims.room_id)
            .await
            .map_err(refusal)?
            .ok_or((410, "the room's session has ended".to_owned()))?;
        let targets: Vec<String> = match (&params.requested_for, &params.roles) {
            (Some(peer_id), _) => session.peers.keys().filter(|id| *id == peer_id).cloned().collect(),
            (None, Some(roles)) => session
                .peers
                .values()
                .filter(|peer| roles.contains(&peer.role))
                .map(|peer| peer.id.clone())
                .collect(),
            (None, None) => return Err((400, "send requested_for or roles".into())),
        };
        if params.requested_for.is_some() && targets.is_empty() {
            return Err((404, "peer not found".into()));
        }
        Ok(targets)
    }

    async fn change_role(&self, peer_id: &str, role: &str) -> Result<(), Refusal> {
        let update = PeerUpdate {
            role: Some(role.to_owned()),
            ..PeerUpdate::default()
        };
        self.signal
            .runtime
            .update_peer(&self.workspace.workspace, &self.claims.room_id, peer_id, update)
            .await
            .map(|_| ())
            .map_err(refusal)
    }

    async fn accept_role_change(&mut self, params: RoleChangeParams) -> Result<Value, Refusal> {
        let expected = self.role_change_token.take();
        let matches = expected
            .as_ref()
            .is_some_and(|(token, role)| Some(token) == params.token.as_ref() && *role == params.role);
        if !matches {
            self.role_change_token = expected;
            return Err((400, "no such role change was requested of this peer".into()));
        }
        let peer_id = self.peer_id.clone();
        self.change_role(&peer_id, &params.role).await?;
        Ok(json!({}))
    }

    async fn request_mute(&mut self, params: ChangeTrackMuteStateParams) -> Result<Value, Refusal> {
        let allowed = |permissions: &hms_types::template::Permissions| {
            if params.value {
                permissions.mute
            } else {
                permissions.unmute
            }
        };
        self.permitted(allowed, "change others' mute state").await?;
        let mut told = params.clone();
        told.requested_for = None;
        let mut notification = serde_json::to_value(&told).expect("mute requests serialise");
        notification["requested_by"] = json!(self.peer_id);
        self.to_room(ToRoom::Forward {
            to_peer: params.requested_for,
            roles: params.roles,
            except: self.peer_id.clone(),
            text: wire::notification("on-change-track-mute-state-request", notification),
        });
        Ok(json!({}))
    }

    /// Refuses unless the peer's role has the permission `allows` reads.
    async fn permitted(
        &self,
        allows: impl Fn(&hms_types::template::Permissions) -> bool,
        action: &str,
    ) -> Result<(), Refusal> {
        let template = self.template().await?;
        let role = template
            .body
            .roles
            .get(&self.role)
            .ok_or((403, format!("role {} may not {action}", self.role)))?;
        if allows(&role.permissions) {
            Ok(())
        } else {
            Err((403, format!("role {} may not {action}", self.role)))
        }
    }

    async fn leave(&mut self, reason: &str) {
        if self.joined && !self.gone {
            let outcome = self
                .signal
                .runtime
                .leave_because(&self.workspace.workspace, &self.claims.room_id, &self.peer_id, reason)
                .await;
            match outcome {
                Ok(()) | Err(RuntimeError::PeerNotFound | RuntimeError::NotActive | RuntimeError::RoomNotFound) => {}
                Err(error) => tracing::warn!(%error, peer_id = %self.peer_id, "could not remove a peer that left"),
            }
            self.exit_room();
        }
        self.gone = true;
    }

    fn exit_room(&self) {
        self.to_room(ToRoom::Exit {
            peer_id: self.peer_id.clone(),
        });
    }

    fn to_room(&self, message: ToRoom) {
        self.signal.to_room(&self.workspace, &self.claims.room_id, message);
    }

    async fn told_by_room(&mut self, message: ToPeer) {
        match message {
            ToPeer::Notify(text) => {
                if let Some((token, role)) = role_change_request(&text) {
                    self.role_change_token = Some((token, role));
                }
                self.send(text).await;
            }
            ToPeer::Removed(text) => {
                if !self.ending_room {
                    self.send(text).await;
                }
                self.joined = false;
                self.gone = true;
            }
            ToPeer::RoleChanged(role) => {
                self.role = role;
                self.send_policy().await;
            }
            ToPeer::Subscribe(wanted) => {
                self.wanted = wanted;
                if self.subscribe.is_some() {
                    self.renegotiate(false).await;
                }
            }
            ToPeer::Attach(socket) => self.resume(*socket).await,
        }
    }

    /// The client came back on a new socket (same peer id): it gets the policy and the
    /// peer list again, and the server restarts ICE on the subscribe connection, which
    /// the client never restarts by itself.
    async fn resume(&mut self, socket: UpgradedSocket) {
        if let Some(old) = self.socket.replace(Socket::new(socket)) {
            old.close_quietly().await;
        }
        self.window_ends = None;
        self.flood = Flood::default();
        self.send_policy().await;
        if !self.joined {
            return;
        }
        let (peer_list, listed) = oneshot::channel();
        self.to_room(ToRoom::Resync {
            peer_id: self.peer_id.clone(),
            peer_list,
        });
        if let Ok(peer_list) = listed.await {
            self.send(peer_list).await;
        }
        if self.subscribe.is_some() {
            self.subscribe_waits_for_answer = false;
            self.renegotiate(true).await;
        }
    }

    fn publish_event(&mut self, event: ConnectionEvent) {
        match event {
            ConnectionEvent::AudioLevel { track_id, level } => self.to_room(ToRoom::Speaking {
                peer_id: self.peer_id.clone(),
                track_id,
                level,
            }),
            event => tracing::debug!(peer_id = %self.peer_id, ?event, "publish connection"),
        }
    }

    async fn subscribe_event(&mut self, event: ConnectionEvent) {
        match event {
            ConnectionEvent::ChannelText { label, text } if label == DATA_CHANNEL => {
                if let Some((connection, _)) = &self.subscribe
                    && let Some(reply) = channel_request(connection, &text)
                {
                    connection.send_text(DATA_CHANNEL, reply);
                }
            }
            // The client never restarts the subscribe connection: the server does.
            ConnectionEvent::Disconnected => self.renegotiate(true).await,
            event => tracing::debug!(peer_id = %self.peer_id, ?event, "subscribe connection"),
        }
    }
}

/// The token and role of an `on-role-change-request` on its way to this peer.
fn role_change_request(text: &str) -> Option<(String, String)> {
    if !text.contains("\"on-role-change-request\"") {
        return None;
    }
    let value: Value = serde_json::from_str(text).ok()?;
    let params = value.get("params")?;
    Some((
        params.get("token")?.as_str()?.to_owned(),
        params.get("role")?.as_str()?.to_owned(),
    ))
}

/// A request on the subscribe connection's data channel, and its answer: the client
/// shows or hides a video (`prefer-video-track-state`, layer `none` pauses it) or mutes
/// a remote audio (`prefer-audio-track-state`); others are refused with 404, which the
/// client does not retry.
fn channel_request(connection: &Connection, text: &str) -> Option<String> {
    let request: Value = serde_json::from_str(text).ok()?;
    let id = request.get("id")?.clone();
    let method = request.get("method").and_then(Value::as_str).unwrap_or_default();
    let params = request.get("params").cloned().unwrap_or_default();
    let track_id = params.get("track_id").and_then(Value::as_str);
    let forward = match method {
        "prefer-video-track-state" => params.get("max_spatial_layer").and_then(Value::as_str) != Some("none"),
        "prefer-audio-track-state" => params.get("subscribed").and_then(Value::as_bool) != Some(false),
        _ => return Some(wire::error(id, 404, format!("{method} is not supported"))),
    };
    let Some(track_id) = track_id else {
        return Some(wire::error(id, 400, "track_id is required"));
    };
    connection.prefer(track_id, forward);
    Some(wire::result(id, json!({})))
}

fn refusal(error: RuntimeError) -> Refusal {
    match error {
        RuntimeError::Store(_) | RuntimeError::KeptChanging => (503, "the server could not do this; try again".into()),
        RuntimeError::PeerNotFound => (404, "peer not found".into()),
        RuntimeError::NotActive | RuntimeError::RoomNotFound => (410, error.to_string()),
        RuntimeError::RoomDisabled | RuntimeError::RoleNotAllowed(_) | RuntimeError::RoleFull { .. } => {
            (403, error.to_string())
        }
        RuntimeError::UnknownRole(_) | RuntimeError::Invalid(_) | RuntimeError::PeerExists(_) => {
            (400, error.to_string())
        }
    }
}

fn parse<T: DeserializeOwned>(params: Value) -> Result<T, Refusal> {
    serde_json::from_value(params).map_err(|error| (400, format!("invalid params: {error}")))
}

/// Why a join is refused, in the codes the SDK acts on: 4xx reach the app, 5xx are
/// retried.
fn join_refusal(error: RuntimeError) -> Refusal {
    match error {
        RuntimeError::RoomDisabled => (403, "room is locked or disabled".into()),
        RuntimeError::PeerExists(_) => (400, "peer already joined".into()),
        other => refusal(other),
    }
}

/// A peer's socket. Only its task uses it (always through `&mut`); the lock only makes
/// the task's state shareable between threads, as the upgraded connection alone is not.
struct Socket(tokio::sync::Mutex<UpgradedSocket>);

impl Socket {
    fn new(socket: UpgradedSocket) -> Self {
        Self(tokio::sync::Mutex::new(socket))
    }

    /// Cancel-safe (see [`super::websocket::WebSocket::recv`]).
    async fn recv(&mut self) -> Result<Incoming, ReadError> {
        self.0.get_mut().recv().await
    }

    async fn send(&mut self, text: &str) -> std::io::Result<()> {
        within_send_limit(self.0.get_mut().send_text(text)).await
    }

    async fn pong(&mut self, payload: &[u8]) -> std::io::Result<()> {
        within_send_limit(self.0.get_mut().pong(payload)).await
    }

    /// The client closed: it gets its close back, and the connection ends.
    async fn answer_close(mut self, code: Option<u16>) {
        let _ = within_send_limit(self.0.get_mut().send_close(code, "")).await;
    }

    /// Closes with `code` and `reason`.
    async fn close(self, code: u16, reason: &str) {
        self.close_with(Some(code), reason).await;
    }

    /// Closes without a code: the server is done with the socket, the client did nothing
    /// wrong.
    async fn close_quietly(self) {
        self.close_with(None, "").await;
    }

    /// Sends the close frame, then reads what the client still sends until it closes too
    /// (for a moment at most): dropping a socket with unread data would reset it, and the
    /// client would lose the close frame.
    async fn close_with(mut self, code: Option<u16>, reason: &str) {
        let socket = self.0.get_mut();
        let _ = within_send_limit(socket.send_close(code, reason)).await;
        let drain = async {
            loop {
                match socket.recv().await {
                    Ok(Incoming::Close(_)) => break,
                    // What is too large is skipped, not read.
                    Ok(_) | Err(ReadError::TooBig) => {}
                    Err(_) => break,
                }
            }
        };
        let _ = tokio::time::timeout(CLOSE_GRACE, drain).await;
    }
}

/// A client that does not take what is written for `SEND_LIMIT` is taken for gone, so
/// that nothing piles up behind it.
async fn within_send_limit(write: impl Future<Output = std::io::Result<()>>) -> std::io::Result<()> {
    tokio::time::timeout(SEND_LIMIT, write).await.unwrap_or_else(|_| {
        Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "the client stopped reading",
        ))
    })
}

/// Counts a socket's messages per second.
#[derive(Default)]
struct Flood {
    second_started: Option<Instant>,
    count: u32,
}

impl Flood {
    fn allows(&mut self, now: Instant) -> bool {
        match self.second_started {
            Some(start) if now.duration_since(start) < Duration::from_secs(1) => {
                self.count += 1;
                self.count <= MAX_MESSAGES_PER_SECOND
            }
            _ => {
                self.second_started = Some(now);
                self.count = 1;
                true
            }
        }
    }
}
