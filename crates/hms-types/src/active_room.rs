//! Active rooms: `/v2/active-rooms`, the live state of a room with a running session.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::PreciseTime;

#[derive(JsonSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActiveRoom {
    pub id: String,
    pub name: String,
    pub customer_id: String,
    pub session: ActiveSession,
}

#[derive(JsonSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActiveSession {
    pub id: String,
    pub created_at: PreciseTime,
    /// Ids of the peers connected now.
    pub peers: Vec<String>,
}

/// A connected peer. `tracks` is present only where one peer is answered.
#[derive(JsonSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActivePeer {
    pub id: String,
    pub name: String,
    pub user_id: String,
    pub metadata: String,
    pub role: String,
    pub joined_at: PreciseTime,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracks: Option<IndexMap<String, Track>>,
}

#[derive(JsonSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Track {
    pub id: String,
    pub stream_id: String,
    pub mute: bool,
    #[serde(rename = "type")]
    pub kind: String,
    pub source: String,
    pub started_at: PreciseTime,
    pub description: String,
}

/// Answer of `GET /v2/active-rooms/{room_id}/peers`.
#[derive(JsonSchema, Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PeerList {
    pub peers: IndexMap<String, ActivePeer>,
}

/// Query of `GET /v2/active-rooms/{room_id}/peers`.
#[derive(JsonSchema, Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerFilter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

/// Body of `POST /v2/active-rooms/{room_id}/peers/{peer_id}`: the fields to change.
#[derive(JsonSchema, Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerUpdate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<String>,
}

/// Body of `POST /v2/active-rooms/{room_id}/send-message`. A peer id wins over a role;
/// neither means everyone.
#[derive(JsonSchema, Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendMessage {
    pub message: String,
    /// The Node SDK sends `peerId`; other clients `peer_id`.
    #[serde(default, alias = "peerId", skip_serializing_if = "Option::is_none")]
    pub peer_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// Body of `POST /v2/active-rooms/{room_id}/remove-peers`: a peer id, or a role.
#[derive(JsonSchema, Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemovePeers {
    #[serde(default, alias = "peerId", skip_serializing_if = "Option::is_none")]
    pub peer_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Body of `POST /v2/active-rooms/{room_id}/end-room`.
#[derive(JsonSchema, Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndRoom {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Also disable the room, so that nobody rejoins until it is enabled again.
    #[serde(default)]
    pub lock: bool,
}

/// The acknowledgement the active-room actions answer with.
#[derive(JsonSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acknowledgement {
    pub message: String,
}

impl Acknowledgement {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}
