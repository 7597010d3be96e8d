//! The peer simulator, `/v2/simulate`: peers that join and leave without media, through
//! the same room runtime as real peers, so that a backend's tests can drive sessions.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::PreciseTime;

/// Body of `POST /v2/simulate/rooms/{room_id}/peers`.
#[derive(JsonSchema, Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimulatedJoin {
    pub role: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<String>,
}

/// What a peer received, in the order it received it.
#[derive(JsonSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    /// `message`, `removed`, `role_changed`, `name_changed`, `metadata_changed` or
    /// `room_ended`.
    #[serde(rename = "type")]
    pub kind: String,
    pub at: PreciseTime,
    /// The delivery's own fields: the message and its type, the reason, the new value.
    #[serde(flatten)]
    pub fields: serde_json::Map<String, Value>,
}

/// Answer of `GET /v2/simulate/rooms/{room_id}/peers/{peer_id}/messages`.
#[derive(JsonSchema, Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Deliveries {
    pub messages: Vec<Delivery>,
}

/// Query of `GET /v2/simulate/events`: the event log of the workspace, oldest first.
#[derive(JsonSchema, Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventLogQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room_id: Option<String>,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Only events logged after this position (a previous answer's `last`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// Answer of `GET /v2/simulate/events`.
#[derive(JsonSchema, Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EventLog {
    pub events: Vec<crate::webhook::WebhookEvent>,
    /// Position of the last event answered, to pass as `after`; absent when none was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<i64>,
}
