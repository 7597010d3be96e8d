//! The client protocol: what the 100ms client SDKs and openhms say to each other through
//! `GET /init` and the signalling WebSocket (JSON-RPC, protocol version 2.5).
//!
//! Field names are the protocol's own, which mixes snake_case and camelCase.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The protocol version the signalling endpoint speaks.
pub const PROTOCOL_VERSION: &str = "2.5";

/// Answer of `GET /init`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InitResponse {
    /// The `wss://` address of the signalling socket of the node that hosts the room.
    pub endpoint: String,
    pub rtc_configuration: RtcConfiguration,
    pub config: InitConfig,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RtcConfiguration {
    pub ice_servers: Vec<IceServer>,
}

/// A STUN or TURN server the client's peer connections may use.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IceServer {
    pub urls: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InitConfig {
    /// Client features switched on; `nonWebRTCDisableOffer` lets a role that neither
    /// publishes nor subscribes join without peer connections.
    pub enabled_flags: Vec<String>,
    /// Read unguarded by the web SDK: must be an object.
    pub vb: Map<String, Value>,
}

/// A request (`id` set) or a notification (no `id`) from the client.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ClientMessage {
    pub method: String,
    #[serde(default)]
    pub params: Value,
    /// The web SDK sends a UUID string; JSON-RPC also allows numbers.
    #[serde(default)]
    pub id: Option<Value>,
}

/// The answer to a client request: `result` must be truthy, or `error` set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Response {
    pub id: Value,
    pub jsonrpc: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<RpcError>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RpcError {
    pub code: u16,
    pub message: String,
}

/// A message the server starts: never carries an `id`, or the client drops it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notification<P> {
    pub method: &'static str,
    pub params: P,
}

/// `join` parameters.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct JoinParams {
    #[serde(default)]
    pub name: Option<String>,
    /// The peer's metadata.
    #[serde(default)]
    pub data: Option<String>,
    #[serde(default)]
    pub offer: Option<SessionDescription>,
}

/// An SDP offer or answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionDescription {
    #[serde(rename = "type")]
    pub kind: String,
    pub sdp: String,
}

/// `offer` parameters (publish renegotiation) and `answer` parameters.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct DescriptionParams {
    pub desc: SessionDescription,
    #[serde(default)]
    pub tracks: IndexMap<String, TrackState>,
}

/// `trickle`, both ways.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrickleParams {
    /// 0: the publish connection, 1: the subscribe connection.
    pub target: u8,
    pub candidate: IceCandidate,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IceCandidate {
    pub candidate: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdp_mid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdp_m_line_index: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username_fragment: Option<String>,
}

/// A published track as the protocol describes it, both ways.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackState {
    pub track_id: String,
    pub stream_id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub source: String,
    pub mute: bool,
    #[serde(default)]
    pub description: String,
}

/// `broadcast` parameters: no roles and no peer means everyone.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct BroadcastParams {
    pub info: Value,
    #[serde(default)]
    pub roles: Option<Vec<String>>,
    #[serde(default)]
    pub peer_id: Option<String>,
}

/// `peer-update` parameters: the sender changes its own name or metadata.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct PeerUpdateParams {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub data: Option<String>,
}

/// `end-room` parameters.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct EndRoomParams {
    #[serde(default)]
    pub lock: bool,
    #[serde(default)]
    pub reason: Option<String>,
}

/// `peer-leave-request` parameters: remove another peer.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PeerLeaveRequestParams {
    pub requested_for: String,
    #[serde(default)]
    pub reason: Option<String>,
}

/// `role-change-request` parameters: one peer (`requested_for`) or every peer of `roles`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RoleChangeRequestParams {
    #[serde(default)]
    pub requested_for: Option<String>,
    #[serde(default)]
    pub roles: Option<Vec<String>>,
    pub role: String,
    #[serde(default)]
    pub force: bool,
}

/// `role-change` parameters: the peer accepts a request made to it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RoleChangeParams {
    pub role: String,
    #[serde(default)]
    pub token: Option<String>,
}

/// `change-track-mute-state-request` parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeTrackMuteStateParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_for: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// `true` mutes.
    pub value: bool,
}

/// `on-policy-change`: the receiving peer's role and every role of the template.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicyParams {
    pub name: String,
    pub template_id: String,
    pub app_data: Map<String, Value>,
    pub plugins: Map<String, Value>,
    pub known_roles: IndexMap<String, Value>,
}

/// A peer as the protocol shows it (`peer-list` entries, `on-peer-join`,
/// `on-peer-update`). `realtime` is always true: a false one makes the client drop it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PeerNotification {
    pub peer_id: String,
    pub role: String,
    /// Milliseconds since the Unix epoch.
    pub joined_at: i64,
    pub groups: Vec<String>,
    pub realtime: bool,
    pub info: PeerInfo,
    pub tracks: IndexMap<String, TrackState>,
}

/// A peer without its tracks, as track and chat messages name it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PeerNotificationInfo {
    pub peer_id: String,
    pub role: String,
    pub groups: Vec<String>,
    pub info: PeerInfo,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PeerInfo {
    pub name: String,
    /// The peer's metadata.
    pub data: String,
    pub user_id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
}

/// `peer-list`: every other peer of the room, and the room.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PeerListParams {
    pub peers: IndexMap<String, PeerNotification>,
    pub room: RoomState,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoomState {
    pub name: String,
    pub session_id: String,
    /// Milliseconds since the Unix epoch.
    pub started_at: i64,
}

/// `on-peer-leave`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PeerLeaveParams {
    pub peer_id: String,
}

/// `on-broadcast`: a chat message. `peer` is absent for messages sent through the API.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MessageNotification {
    pub message_id: String,
    /// Milliseconds since the Unix epoch.
    pub timestamp: i64,
    pub private: bool,
    pub roles: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer: Option<PeerNotificationInfo>,
    pub info: Value,
}

/// `on-peer-leave-request`: the peer is removed, or the room ends.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LeaveRequestParams {
    /// Who removed the peer; the client reports a removal without it as a room end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requested_by: Option<String>,
    pub reason: String,
    pub room_end: bool,
}

/// `on-role-change-request`: a peer asks this one to take another role.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoleChangeRequestNotification {
    pub requested_by: String,
    pub role: String,
    pub token: String,
}

/// `track-update` from the client: its tracks' new state (usually the one that changed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackUpdateParams {
    pub tracks: IndexMap<String, TrackState>,
}

/// `on-track-add`, `on-track-update` and `on-track-remove`: tracks of one peer. The
/// client ignores them without `peer`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrackNotification {
    pub peer: PeerNotificationInfo,
    pub tracks: IndexMap<String, TrackState>,
}

/// `active-speakers`: who is heard now, loudest first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActiveSpeakers {
    #[serde(rename = "speaker-list")]
    pub speaker_list: Vec<Speaker>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Speaker {
    pub peer_id: String,
    pub track_id: String,
    /// 0 (silence) to 100.
    pub level: u8,
}
