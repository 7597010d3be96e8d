//! Webhook events: the envelope 100ms posts and the payloads of the events openhms emits.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
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
    pub const ROLE_CHANGE_FAILURE: &str = "role.change.failure";
}

/// `peer.leave.success` reasons.
pub mod leave_reason {
    /// The peer left by itself.
    pub const CLIENT_REQUEST: &str = "client request";
    /// Removed through the API, or by the end of the room.
    pub const PEER_KICKED: &str = "peer kicked";
    /// The server lost the peer: a restart while the session was open.
    pub const SERVER_REMOVED: &str = "server removed peer";
    /// The peer's signalling socket dropped and did not come back within the reconnect
    /// window.
    pub const WEBSOCKET_CLOSED: &str = "websocket closed";
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

/// `role.change.failure`: `role` is the role that was asked for.
#[derive(JsonSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoleChangeFailureData {
    pub room_id: String,
    pub room_name: String,
    pub session_id: String,
    pub template_id: String,
    pub peer_id: String,
    pub user_id: String,
    pub user_name: String,
    pub user_data: String,
    pub role: String,
    pub joined_at: String,
    pub session_started_at: String,
    pub error_message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_change_requested_by: Option<String>,
}

/// Query of `GET /v2/analytics/webhooks`, the delivery history. `event_names` may repeat.
#[derive(JsonSchema, Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookHistoryQuery {
    /// RFC 3339; default 24 hours ago, at most 30 days ago.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    /// RFC 3339; default now, at most 14 days after `start_time`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room_id: Option<String>,
    /// `all` (default), `failed` or `success`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Only these event types (repeat the parameter for several).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub event_names: Vec<String>,
    /// 1 to 100, default 50.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// 1-based page number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<u32>,
}

/// Answer of `GET /v2/analytics/webhooks`.
#[derive(JsonSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookHistory {
    pub events: Vec<DeliveryReport>,
    pub pagination: PageNumbers,
    pub summary: HistorySummary,
}

/// One delivery of one event to one endpoint.
#[derive(JsonSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryReport {
    pub event_id: String,
    /// `reporter.webhook.delivery.success`, `.failed`, or `.pending` while it is retried.
    pub event_name: String,
    pub room_id: String,
    pub event_timestamp: String,
    pub payload: DeliveryPayload,
}

#[derive(JsonSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryPayload {
    /// The ids the event carries (session, peer, user), where it has them.
    pub event_data: serde_json::Map<String, Value>,
    pub webhook_url: String,
    pub original_event_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_reason: Option<String>,
    pub attempts: i64,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_replay: bool,
}

#[derive(JsonSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageNumbers {
    pub current_page: u32,
    pub page_size: u32,
    pub total_pages: u64,
    pub total_items: u64,
    pub has_next: bool,
    pub has_prev: bool,
}

#[derive(JsonSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistorySummary {
    pub total_events: u64,
}

/// Body of `POST /v2/analytics/webhooks/replay`.
#[derive(JsonSchema, Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplayRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub event_names: Vec<String>,
    /// At most 50 000 (the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u32>,
    /// `failed` (default), `success` or `all`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// The filters of a replay as the API echoes them.
#[derive(JsonSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplayFilters {
    pub start_time: String,
    pub end_time: String,
    pub room_id: String,
    pub event_types: Vec<String>,
    pub limit: u32,
    pub offset: u32,
    pub status: String,
}

/// Answer of `POST /v2/analytics/webhooks/replay`.
#[derive(JsonSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplayStarted {
    pub workflow_id: String,
    /// `started`, or `already_running` when the same filters are being replayed.
    pub status: String,
    pub message: String,
    pub filters: ReplayFilters,
}

/// Answer of `GET /v2/analytics/webhooks/replay/{workflow_id}`.
#[derive(JsonSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplayStatus {
    pub workflow_id: String,
    /// `Running`, `completed` or `completed_with_failures`.
    pub status: String,
    pub started_at: String,
    pub completed_at: Option<String>,
    pub filters: ReplayFilters,
    pub progress: ReplayCounts,
    pub result: Option<ReplayResult>,
}

#[derive(JsonSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplayCounts {
    pub total: i64,
    pub completed: i64,
    pub failed: i64,
}

#[derive(JsonSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplayResult {
    pub total: i64,
    pub completed: i64,
    pub failed: i64,
    pub failed_events: Vec<String>,
}
