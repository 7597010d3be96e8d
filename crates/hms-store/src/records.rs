//! What the store keeps, as the server's services see it.

use hms_auth::{AppSecret, SecretSource};
use hms_types::room::{RecordingInfo, RoomWebhook};
use hms_types::room_code::RoomCode;
use hms_types::template::TemplateBody;
use hms_types::{PreciseTime, Timestamp};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    pub id: String,
    pub name: String,
    pub access_key: String,
    pub customer_id: String,
    pub app_id: String,
    pub created_at: Timestamp,
}

/// A workspace about to be created, with everything it starts with.
#[derive(Debug, Clone)]
pub struct NewWorkspace {
    pub workspace: Workspace,
    pub secret: SecretRecord,
    pub default_template: TemplateRecord,
}

#[derive(Debug, Clone)]
pub struct WorkspaceCredentials {
    pub workspace: Workspace,
    pub secrets: Vec<AppSecret>,
}

impl SecretSource for WorkspaceCredentials {
    fn secrets(&self) -> &[AppSecret] {
        &self.secrets
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRecord {
    pub id: String,
    pub secret: AppSecret,
    pub created_at: Timestamp,
    pub retired_at: Option<Timestamp>,
}

#[derive(Debug, Clone)]
pub struct TemplateRecord {
    pub id: String,
    pub workspace_id: String,
    pub is_default: bool,
    pub body: TemplateBody,
    /// Counts the writes to this template; guards read-modify-write updates.
    pub revision: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RoomRecord {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    pub enabled: bool,
    pub description: String,
    pub template_id: String,
    pub region: String,
    pub large_room: bool,
    pub options: RoomOptions,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// The optional parts of a room, kept as one document.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RoomOptions {
    /// `None` while the room follows its template's recording settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording_info: Option<RecordingInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_duration_seconds: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub polls: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<RoomWebhook>,
}

/// A room with what its API form needs from its template.
#[derive(Debug, Clone, PartialEq)]
pub struct RoomView {
    pub room: RoomRecord,
    pub template: TemplateSummary,
}

/// What a room shows of its template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateSummary {
    pub name: String,
    pub recording_enabled: bool,
}

impl TemplateRecord {
    pub fn summary(&self) -> TemplateSummary {
        TemplateSummary {
            name: self.body.name.clone(),
            recording_enabled: recording_enabled(&self.body),
        }
    }
}

/// A room code with the state of its room.
#[derive(Debug, Clone, PartialEq)]
pub struct CodeBinding {
    pub code: RoomCode,
    pub workspace_id: String,
    pub room_enabled: bool,
    /// The roles the room's template has now.
    pub template_roles: Vec<String>,
}

/// A page of a list: at most `limit` items after the cursor `start` (exclusive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: u32,
    pub start: Option<String>,
}

/// Whether a template turns recording on for the rooms that follow it.
pub fn recording_enabled(body: &TemplateBody) -> bool {
    body.settings
        .recording
        .as_ref()
        .is_some_and(|recording| recording.enabled)
}

/// A session with every peer that joined it.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRecord {
    pub id: String,
    pub workspace_id: String,
    pub room_id: String,
    pub active: bool,
    pub started_at: PreciseTime,
    pub updated_at: PreciseTime,
    pub peers: Vec<SessionPeerRecord>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionPeerRecord {
    pub id: String,
    pub session_id: String,
    pub name: String,
    pub role: String,
    pub user_id: String,
    pub metadata: String,
    pub joined_at: PreciseTime,
    pub left_at: Option<PreciseTime>,
}

/// A webhook event as logged: its envelope, serialised once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRecord {
    pub id: String,
    pub workspace_id: String,
    pub room_id: String,
    pub kind: String,
    pub payload: String,
    pub created_at: PreciseTime,
}

/// A logged event with its position in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedEvent {
    pub seq: i64,
    pub event: EventRecord,
}

/// Which events to read from the log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventQuery {
    pub room_id: Option<String>,
    pub kind: Option<String>,
    /// Only events after this position.
    pub after_seq: Option<i64>,
    pub limit: u32,
}

/// One change of live state, written in one transaction together with the events that
/// describe it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LiveWrite {
    /// A session that opens (written without peers; they come in `joined`).
    pub opened: Option<SessionRecord>,
    pub joined: Vec<SessionPeerRecord>,
    pub left: Vec<PeerLeft>,
    pub closed: Option<SessionClosed>,
    /// A room disabled by the same change (ending a room with `lock`).
    pub disabled_room: Option<String>,
    pub events: Vec<EventRecord>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerLeft {
    pub session_id: String,
    pub peer_id: String,
    pub at: PreciseTime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionClosed {
    pub session_id: String,
    pub at: PreciseTime,
}
