//! Real peers: the client protocol of the 100ms SDKs. `GET /init` tells a client where to
//! connect; the signalling WebSocket carries its JSON-RPC (protocol 2.5); its two peer
//! connections run on this node's WebRTC endpoint.
//!
//! Real peers join, change and leave through the same room runtime as simulated peers, so
//! sessions, events, webhooks and the REST API cannot tell them apart. The runtime tells
//! this module of every change it commits; each room with real peers on this node has a
//! task ([`room`]) that turns those changes into what each of its peers must be told, and
//! each peer has a task ([`peer`]) that owns its socket and its connections, and outlives
//! a dropped socket for the reconnect window.

mod init;
mod peer;
mod publishing;
mod room;
mod tracks;
mod websocket;
mod wire;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{Method, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hms_auth::{Claims, TokenType, VerifyPolicy};
use hms_store::{Store, WorkspaceCredentials};
use serde::Deserialize;
use tokio::sync::mpsc;
use tower_http::cors::{Any, CorsLayer};

use crate::auth::CredentialCache;
use crate::config::ServerConfig;
use crate::error::ApiError;
use crate::runtime::{LiveObserver, RoomRuntime};
use crate::state::AppState;

use peer::ToPeer;
use room::ToRoom;

/// Where the signalling socket is served.
pub const SOCKET_PATH: &str = "/v2/ws";
/// The signalling socket's limits: a client's largest message (SDP offers are a few
/// kilobytes), and what each socket reserves to read (the client's messages are small; a
/// larger one grows the buffer while it arrives).
const SOCKET_SETTINGS: websocket::Settings = websocket::Settings {
    max_message_bytes: 256 * 1024,
    read_buffer_bytes: 4 * 1024,
};
/// The data channel both sides open on the peer connections.
const DATA_CHANNEL: &str = "ion-sfu";

/// This node's real peers and the rooms they are in.
pub struct Signal {
    /// This node, as placements name it.
    node: hms_store::Placement,
    runtime: Arc<RoomRuntime>,
    store: Arc<dyn Store>,
    credentials: Arc<CredentialCache>,
    config: Arc<ServerConfig>,
    rtc: hms_rtc::Endpoint,
    rooms: Mutex<HashMap<String, mpsc::UnboundedSender<ToRoom>>>,
    peers: Mutex<HashMap<String, LocalPeer>>,
}

/// A peer of this node: its task, and whose it is (only the same user of the same room
/// may take it over on a new socket).
struct LocalPeer {
    task: mpsc::UnboundedSender<ToPeer>,
    owner: (String, String, String),
}

impl Signal {
    /// Starts following the changes of rooms, by this node's runtime and by other nodes,
    /// for the real peers of this node (`node`).
    pub fn start(
        node: hms_store::Placement,
        runtime: Arc<RoomRuntime>,
        store: Arc<dyn Store>,
        credentials: Arc<CredentialCache>,
        config: Arc<ServerConfig>,
        rtc: hms_rtc::Endpoint,
    ) -> Arc<Self> {
        let signal = Arc::new(Self {
            node,
            runtime: runtime.clone(),
            store,
            credentials,
            config,
            rtc,
            rooms: Mutex::default(),
            peers: Mutex::default(),
        });
        runtime.observe(signal.clone());
        tokio::spawn(follow_other_nodes(Arc::downgrade(&signal)));
        signal
    }

    /// Tells the task of `room_id` (or of every room, for [`hms_store::EVERY_ROOM`]) that
    /// its live state changed.
    fn changed(&self, room_id: &str) {
        let rooms = self.rooms.lock().expect("rooms lock");
        if room_id == hms_store::EVERY_ROOM {
            for room in rooms.values() {
                let _ = room.send(ToRoom::Changed);
            }
        } else if let Some(room) = rooms.get(room_id) {
            let _ = room.send(ToRoom::Changed);
        }
    }

    /// The node that serves `room_id`'s real peers: this one, unless another live node
    /// already does.
    async fn place(&self, room_id: &str) -> Result<hms_store::Placement, hms_store::StoreError> {
        let timeout = self.config.node_timeout();
        let alive_since = hms_types::PreciseTime::from_unix_nanos(
            hms_types::PreciseTime::now().unix_nanos() - timeout.as_nanos() as i128,
        );
        self.store.place_room(room_id, &self.node, alive_since).await
    }

    pub fn rtc_addr(&self) -> std::net::SocketAddr {
        self.rtc.local_addr()
    }

    /// Sends `message` to the task of a room, starting the task when the room has none.
    /// Sends happen under the rooms' lock, so that a task that empties can tell, under the
    /// same lock, that nothing is on its way to it (see [`Self::forget_room_if_idle`]).
    fn to_room(self: &Arc<Self>, workspace: &Arc<WorkspaceCredentials>, room_id: &str, message: ToRoom) {
        let mut rooms = self.rooms.lock().expect("rooms lock");
        let sender = rooms
            .entry(room_id.to_owned())
            .or_insert_with(|| room::spawn(self.clone(), workspace.clone(), room_id.to_owned()));
        if let Err(refused) = sender.send(message) {
            // The task ended without forgetting itself (it panicked): start another.
            let fresh = room::spawn(self.clone(), workspace.clone(), room_id.to_owned());
            let _ = fresh.send(refused.0);
            rooms.insert(room_id.to_owned(), fresh);
        }
    }

    /// Forgets a room's task, closing its inbox, when it has nothing queued: answers
    /// whether it did. Senders hold the same lock, so nothing can arrive in between.
    fn forget_room_if_idle(&self, room_id: &str, inbox: &mut mpsc::UnboundedReceiver<ToRoom>) -> bool {
        let mut rooms = self.rooms.lock().expect("rooms lock");
        if !inbox.is_empty() {
            return false;
        }
        rooms.remove(room_id);
        inbox.close();
        true
    }

    fn forget_peer(&self, peer_id: &str, sender: &mpsc::UnboundedSender<ToPeer>) {
        let mut peers = self.peers.lock().expect("peers lock");
        if peers
            .get(peer_id)
            .is_some_and(|current| current.task.same_channel(sender))
        {
            peers.remove(peer_id);
        }
    }

    /// Verifies an app token: signed by a live secret of its workspace, unexpired, and
    /// naming a room and a role.
    fn verify_app_token(&self, token: &str) -> Result<(Arc<WorkspaceCredentials>, AppClaims), ApiError> {
        let policy = VerifyPolicy {
            expected_type: TokenType::App,
            leeway_secs: self.config.token_leeway_secs,
            // App tokens may be minted for long use; their expiry is what counts.
            max_lifetime_secs: i64::MAX / 4,
        };
        let now = hms_types::Timestamp::now().unix_seconds();
        let verified = hms_auth::verify(
            token,
            |access_key| self.credentials.by_access_key(access_key),
            &policy,
            now,
        )
        .map_err(|error| ApiError::unauthorized(format!("Token validation error: {error}")))?;
        let claims = AppClaims::from_claims(verified.claims)?;
        Ok((verified.source, claims))
    }
}

impl LiveObserver for Signal {
    fn committed(&self, room_id: &str) {
        self.changed(room_id);
    }
}

/// Follows the rooms other nodes change (through the store's notices) while the node's
/// signalling exists.
async fn follow_other_nodes(signal: std::sync::Weak<Signal>) {
    let Some(mut notices) = signal.upgrade().map(|signal| signal.store.subscribe_rooms()) else {
        return;
    };
    loop {
        let room_id = match notices.recv().await {
            Ok(room_id) => room_id,
            // Fell behind: every room reads its state again.
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => hms_store::EVERY_ROOM.to_owned(),
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        };
        match signal.upgrade() {
            Some(signal) => signal.changed(&room_id),
            None => return,
        }
    }
}

/// What an app token lets its holder do.
#[derive(Debug, Clone)]
struct AppClaims {
    room_id: String,
    role: String,
    user_id: String,
}

impl AppClaims {
    /// Who holds a peer: the workspace, room and user its token names.
    fn owner(&self, workspace: &WorkspaceCredentials) -> (String, String, String) {
        (
            workspace.workspace.id.clone(),
            self.room_id.clone(),
            self.user_id.clone(),
        )
    }
}

impl AppClaims {
    fn from_claims(claims: Claims) -> Result<Self, ApiError> {
        let missing = |claim: &str| ApiError::unauthorized(format!("Token validation error: {claim} is missing"));
        Ok(Self {
            room_id: claims.room_id.ok_or_else(|| missing("room_id"))?,
            role: claims.role.ok_or_else(|| missing("role"))?,
            user_id: claims.user_id.unwrap_or_default(),
        })
    }
}

/// `/init` (with CORS: it is called from apps on other origins, with a bearer token) and
/// the signalling socket.
pub fn routes() -> Router<AppState> {
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::OPTIONS])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT])
        .max_age(std::time::Duration::from_secs(3600));
    Router::new()
        .route("/init", init::route())
        .layer(cors)
        .route(SOCKET_PATH, get(socket))
}

#[derive(Debug, Deserialize)]
struct SocketQuery {
    #[serde(default)]
    peer: Option<String>,
    #[serde(default)]
    token: Option<String>,
}

/// The signalling socket: the token and the peer id come in the query.
async fn socket(
    State(state): State<AppState>,
    Query(query): Query<SocketQuery>,
    upgrade: websocket::Upgrade,
) -> Response {
    let Some(token) = query.token.filter(|token| !token.is_empty()) else {
        return ApiError::unauthorized("Token validation error: send the app token as `token`").into_response();
    };
    let peer_id = match query.peer.filter(|peer| valid_peer_id(peer)) {
        Some(peer) => peer,
        None => {
            return ApiError::bad_request("Invalid peer id")
                .with_detail("send `peer`: 1 to 64 letters, digits, `-` or `_`")
                .into_response();
        }
    };
    let signal = state.signal.clone();
    let (workspace, claims) = match signal.verify_app_token(&token) {
        Ok(verified) => verified,
        Err(error) => return error.into_response(),
    };
    upgrade.on_upgrade(SOCKET_SETTINGS, move |socket| async move {
        peer::attach(signal, workspace, claims, peer_id, socket);
    })
}

/// Peer ids are chosen by clients (the SDKs make UUIDs): kept short and plain.
fn valid_peer_id(peer: &str) -> bool {
    (1..=64).contains(&peer.len()) && peer.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}
