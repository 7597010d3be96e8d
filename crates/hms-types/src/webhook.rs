//! Webhook events: the envelope 100ms posts and the payloads of the events openhms emits.

use serde::{Deserialize, Serialize};
use schemars::JsonSchema;
use serde_json::Value;

/// The envelope of every webhook.
#[derive(JsonSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookEvent {
    pub version: String,
    pub id: String,
    pub account_id: String,
    pub app_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_id: Option<String>,
    /// When the event happened, to the second.
    pub timestamp: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub data: Value,
    /// Set on events re-sent by a replay.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_replay: bool,
}

pub const EVENT_VERSION: &str = "2.0";

/// The event types the room runtime emits.
pub mod kind {
    pub const SESSION_OPEN: &str = "session.open.success";
    pub const SESSION_CLOSE: &str = "session.close.success";
    pub const PEER_JOIN: &str = "peer.join.success";
    pub const PEER_JOIN_FAILURE: &str = "peer.join.failure";
    pub const PEER_LEAVE: &str = "peer.leave.success";
    pub const ROOM_END: &str = "room.end.success";
    pub const ROLE_CHANGE: &str = "role.change.success";
}

/// `peer.leave.success` reasons.
pub mod leave_reason {
    /// The peer left by itself.
    pub const CLIENT_REQUEST: &str = "client request";
    /// Removed through the API, or by the end of the room.
    pub const PEER_KICKED: &str = "peer kicked";
    /// The server lost the peer: a restart while the session was open.
    pub const SERVER_REMOVED: &str = "server removed peer";
}

/// Fields shared by the events of one room's session.
#[derive(JsonSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionData {
    pub room_id: String,
    pub room_name: String,
    pub session_id: String,
    pub template_id: String,
    pub session_started_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_stopped_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_duration: Option<i64>,
}

/// `peer.join.success` and `peer.leave.success`.
#[derive(JsonSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeerData {
    pub room_id: String,
    pub room_name: String,
    pub session_id: String,
    pub peer_id: String,
    pub user_id: String,
    pub template_id: String,
    pub user_name: String,
    pub user_data: String,
    pub role: String,
    pub joined_at: String,
    pub session_started_at: String,
    #[serde(rename = "type")]
    pub peer_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub left_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// `peer.join.failure`: no session fields, since the peer never got into one.
#[derive(JsonSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeerJoinFailureData {
    pub room_id: String,
    pub room_name: String,
    pub peer_id: String,
    pub user_id: String,
    pub template_id: String,
    pub user_name: String,
    pub user_data: String,
    pub role: String,
    pub joined_at: String,
    pub error_message: String,
    #[serde(rename = "type")]
    pub peer_type: String,
}

/// `room.end.success`. The peer fields name who ended the room: empty when the API did.
#[derive(JsonSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoomEndData {
    pub room_id: String,
    pub room_name: String,
    pub session_id: String,
    pub peer_id: String,
    pub user_id: String,
    pub template_id: String,
    pub user_name: String,
    pub role: String,
    pub lock_room: bool,
    pub reason: String,
    pub source: String,
    pub session_started_at: String,
}

/// `role.change.success`. `role_change_requested_by` is absent when the API asked.
#[derive(JsonSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoleChangeData {
    pub room_id: String,
    pub room_name: String,
    pub session_id: String,
    pub template_id: String,
    pub peer_id: String,
    pub user_id: String,
    pub user_name: String,
    pub user_data: String,
    pub previous_role: String,
    pub role: String,
    pub joined_at: String,
    pub session_started_at: String,
    pub role_changed_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_change_requested_by: Option<String>,
}
