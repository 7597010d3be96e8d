//! Room codes: `/v2/room-codes`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{PageQuery, Timestamp};

/// A short code bound to one room and role, exchanged by client apps for an auth token.
#[derive(JsonSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomCode {
    pub code: String,
    pub room_id: String,
    pub role: String,
    pub enabled: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// Answer of `POST /v2/room-codes/room/{room_id}`: every code of the room.
#[derive(JsonSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomCodeList {
    pub data: Vec<RoomCode>,
}

/// Body of `POST /v2/room-codes/code` and `POST /v2/room-codes/code/{code}`. The only
/// endpoint of the API that refuses fields it does not know.
#[derive(JsonSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoomCodeUpdate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    pub enabled: bool,
}

/// Query of `GET /v2/room-codes/room/{room_id}`: filters and pagination.
#[derive(JsonSchema, Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomCodeFilter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
}

impl RoomCodeFilter {
    pub fn page(&self) -> PageQuery {
        PageQuery {
            limit: self.limit,
            start: self.start.clone(),
        }
    }
}
