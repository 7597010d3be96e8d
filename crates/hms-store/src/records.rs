//! What the store keeps, as the server's services see it.

use hms_auth::{AppSecret, SecretSource};
use hms_types::active_room::Track;
use hms_types::room::{RecordingInfo, RoomWebhook};
use hms_types::room_code::RoomCode;
use hms_types::simulate::Delivery;
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

impl RoomView {
    pub fn borrowed(&self) -> RoomViewRef<'_> {
        let RoomView { room, template } = self;
        RoomViewRef {
            id: &room.id,
            name: &room.name,
            enabled: room.enabled,
            description: &room.description,
            template_id: &room.template_id,
            region: &room.region,
            large_room: room.large_room,
            options: &room.options,
            created_at: room.created_at,
            updated_at: room.updated_at,
            template_name: &template.name,
            template_recording_enabled: template.recording_enabled,
        }
    }
}

/// A room with what its API form needs from its template, borrowed from the row it was
/// read from (or from a [`RoomView`]): a list writes its rooms out as they are read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RoomViewRef<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub enabled: bool,
    pub description: &'a str,
    pub template_id: &'a str,
    pub region: &'a str,
    pub large_room: bool,
    pub options: &'a RoomOptions,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub template_name: &'a str,
    pub template_recording_enabled: bool,
}

/// Writes a room of a page into the page's bytes, given its position in the page (from
/// 0): see [`crate::Store::write_rooms`].
pub type RoomWriter = Box<dyn for<'a> FnMut(&mut Vec<u8>, usize, &RoomViewRef<'a>) + Send>;

/// A page of a list written item by item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenPage {
    /// The bytes given, with every item written after them.
    pub out: Vec<u8>,
    pub items: usize,
    /// The id of the last item written, empty when none was.
    pub last_id: String,
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
    /// Moves with every change of the session, by any process: a change computed from
    /// one revision is refused once another change has moved it.
    pub revision: i64,
    pub peers: Vec<SessionPeerRecord>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SessionPeerRecord {
    pub id: String,
    pub session_id: String,
    pub name: String,
    pub role: String,
    pub user_id: String,
    pub metadata: String,
    pub joined_at: PreciseTime,
    pub left_at: Option<PreciseTime>,
    /// The peer's name, role and metadata now, changed by updates after the join.
    pub current: PeerProfile,
    /// The server process (node) the peer is connected through; its peers leave when
    /// it is gone.
    pub node_id: String,
    pub tracks: Vec<Track>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerProfile {
    pub name: String,
    pub role: String,
    pub metadata: String,
}

/// A connected peer's new profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerChanged {
    pub session_id: String,
    pub peer_id: String,
    pub profile: PeerProfile,
}

/// A connected peer's tracks, all of them, after a change.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerTracks {
    pub session_id: String,
    pub peer_id: String,
    pub tracks: Vec<Track>,
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
    /// The room whose live state changes: the processes serving its real peers are told.
    pub room_id: String,
    /// The open session the change was computed from, at the revision it was read at;
    /// the write is refused with `Stale` when the session has changed since.
    pub read: Option<SessionRevision>,
    /// A session that opens (written without peers; they come in `joined`).
    pub opened: Option<SessionRecord>,
    pub joined: Vec<SessionPeerRecord>,
    pub changed: Vec<PeerChanged>,
    /// Peers whose published tracks changed (a real peer published, muted or unpublished).
    pub published: Vec<PeerTracks>,
    pub left: Vec<PeerLeft>,
    pub closed: Option<SessionClosed>,
    /// A room disabled by the same change (ending a room with `lock`).
    pub disabled_room: Option<String>,
    pub events: Vec<EventRecord>,
    /// What peers receive from the change (kept for the simulator to show).
    pub deliveries: Vec<PeerDelivery>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRevision {
    pub session_id: String,
    pub revision: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PeerDelivery {
    pub room_id: String,
    pub peer_id: String,
    pub delivery: Delivery,
}

/// The node serving a room's real peers, and where clients reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub node_id: String,
    /// The node's public URL (`https://host:port`).
    pub url: String,
}

/// A delivery with its place in the room's commit order.
#[derive(Debug, Clone, PartialEq)]
pub struct NumberedDelivery {
    pub id: i64,
    pub delivery: PeerDelivery,
}

/// A peer of an open session whose node is gone: nobody can speak for it any more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StrandedPeer {
    pub workspace_id: String,
    pub room_id: String,
    pub peer_id: String,
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

/// Where a workspace's events go when their room has no webhook of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspaceWebhook {
    pub workspace_id: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    /// Key of the `x-100ms-signature` HMAC; deliveries are unsigned without one.
    pub signing_secret: Option<AppSecret>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    Pending,
    Delivered,
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "pending" => Some(DeliveryState::Pending),
            "delivered" => Some(DeliveryState::Delivered),
            "failed" => Some(DeliveryState::Failed),
            _ => None,
        }
    }
}

/// A delivery about to be queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    pub event_seq: i64,
    pub workspace_id: String,
    pub room_id: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub replay_id: Option<String>,
    pub next_attempt_at: PreciseTime,
    /// After this, a failing delivery is given up.
    pub deadline: PreciseTime,
    pub created_at: PreciseTime,
}

/// A queued delivery with the event it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    pub id: i64,
    pub event_seq: i64,
    pub event: EventRecord,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub replay_id: Option<String>,
    pub state: DeliveryState,
    pub attempts: i64,
    pub deadline: PreciseTime,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: PreciseTime,
    pub finished_at: Option<PreciseTime>,
}

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    Delivered {
        status: u16,
    },
    /// Try again at `next_attempt_at`.
    Retry {
        status: Option<u16>,
        error: String,
        next_attempt_at: PreciseTime,
    },
    /// Out of time: the delivery is marked failed.
    GiveUp {
        status: Option<u16>,
        error: String,
    },
}

/// What a sender claims: the deliveries due at `now` and first in their lane, leased until
/// `lease_until`; at most `limit` of them and `per_url` of one endpoint, skipping the
/// endpoints in `busy_urls`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryClaim<'a> {
    pub now: PreciseTime,
    pub lease_until: PreciseTime,
    pub limit: u32,
    pub per_url: u32,
    pub busy_urls: &'a [String],
}

/// Which deliveries of a workspace to read or replay.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryFilter {
    pub created_from: Option<PreciseTime>,
    pub created_to: Option<PreciseTime>,
    pub room_id: Option<String>,
    /// Only deliveries in one of these states (all when empty).
    pub states: Vec<DeliveryState>,
    /// Only events of these types (all when empty).
    pub kinds: Vec<String>,
    /// Originals only (replays excluded).
    pub originals_only: bool,
}

/// A replay job: its filters (as the API echoes them) and when it started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayRecord {
    pub id: String,
    pub workspace_id: String,
    /// The request as sent: a second request with the same key while this replay runs
    /// is the same replay.
    pub request_key: String,
    pub filters: String,
    pub started_at: PreciseTime,
}

/// What `create_replay` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplayStart {
    /// The replay and its deliveries were written.
    Started,
    /// A replay of the workspace made from the same request still has pending deliveries:
    /// that one, and nothing was written.
    AlreadyRunning(ReplayRecord),
}

/// How far a replay got.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayProgress {
    pub total: i64,
    pub delivered: i64,
    pub failed: i64,
    pub failed_event_ids: Vec<String>,
    /// When its last delivery finished, once none is pending.
    pub finished_at: Option<PreciseTime>,
}
