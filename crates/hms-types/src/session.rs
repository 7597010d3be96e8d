//! Sessions: `/v2/sessions`. A session is one continuous call in a room.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{PageQuery, Timestamp};

#[derive(JsonSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub id: String,
    pub room_id: String,
    pub customer_id: String,
    pub app_id: String,
    pub active: bool,
    /// Every peer that ever joined the session, keyed by peer id.
    pub peers: IndexMap<String, SessionPeer>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(JsonSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionPeer {
    pub id: String,
    pub session_id: String,
    pub name: String,
    pub role: String,
    pub user_id: String,
    pub joined_at: Timestamp,
    /// Absent while the peer is still connected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub left_at: Option<Timestamp>,
}

/// Query of `GET /v2/sessions`: filters and pagination.
#[derive(JsonSchema, Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionFilter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
}

impl SessionFilter {
    pub fn page(&self) -> PageQuery {
        PageQuery {
            limit: self.limit,
            start: self.start.clone(),
        }
    }
}
