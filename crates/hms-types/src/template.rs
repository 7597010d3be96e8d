//! Templates (the policy API): `/v2/templates`, with their roles, settings, destinations
//! and recording configs — their shapes on the wire.
//!
//! Unlike the rest of v2 this API is camelCase. Inputs are parsed leniently (unknown
//! fields ignored, nearly everything optional or defaulted); the server then builds the
//! template to store and checks it, reporting every problem at once (its template
//! service). Integers with a documented range are `i64` and required strings default to
//! `""`, so a negative, out-of-range or missing value becomes such a problem rather than
//! an opaque parse failure.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::Timestamp;

/// A template as the API returns it. Built by [`Template::new`], so it never carries
/// storage secrets.
#[derive(JsonSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Template {
    pub id: String,
    pub name: String,
    pub customer_id: String,
    pub roles: IndexMap<String, Role>,
    pub settings: Settings,
    pub destinations: Destinations,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugins: Option<Plugins>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Deprecated duplicate of `id`, still sent by 100ms.
    #[serde(rename = "_id")]
    pub legacy_id: String,
    /// Deprecated duplicate of `customerId`, still sent by 100ms.
    pub customer: String,
    /// Whether this is the workspace's default template.
    #[serde(default)]
    pub default: bool,
    #[serde(default)]
    pub app_id: String,
}

impl Template {
    /// The response for a stored template: fills the deprecated duplicates `_id` and
    /// `customer` and leaves out the storage secret.
    pub fn new(
        id: impl Into<String>,
        customer_id: impl Into<String>,
        app_id: impl Into<String>,
        default: bool,
        created_at: Timestamp,
        updated_at: Timestamp,
        body: TemplateBody,
    ) -> Template {
        let id = id.into();
        let customer_id = customer_id.into();
        Template {
            legacy_id: id.clone(),
            customer: customer_id.clone(),
            id,
            name: body.name,
            customer_id,
            roles: body.roles,
            settings: body.settings.redacted(),
            destinations: body.destinations,
            plugins: body.plugins,
            created_at,
            updated_at,
            default,
            app_id: app_id.into(),
        }
    }
}

/// A role: what its peers may publish, whom they receive and what they may do.
#[derive(JsonSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Role {
    pub name: String,
    pub publish_params: PublishParams,
    pub subscribe_params: SubscribeParams,
    pub permissions: Permissions,
    /// 1 (highest) to 5: the order in which roles are degraded.
    pub priority: i64,
    /// 0 = unlimited, n = at most n peers per session, -1 = nobody may join.
    pub max_peer_count: i64,
}

#[derive(JsonSchema, Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublishParams {
    /// Empty means the role publishes nothing; 100ms then leaves the key out, never `[]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed: Vec<String>,
    #[serde(default)]
    pub audio: AudioParams,
    #[serde(default)]
    pub video: VideoParams,
    #[serde(default)]
    pub screen: VideoParams,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub simulcast: Option<Simulcast>,
}

#[derive(JsonSchema, Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AudioParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bit_rate: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codec: Option<String>,
}

/// Camera (`video`) or screen-share (`screen`) settings. Every field is filled once a role
/// is stored, except `bitRate` of `screen`, which 100ms leaves out unless it was given.
#[derive(JsonSchema, Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VideoParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bit_rate: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codec: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame_rate: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<i64>,
}

#[derive(JsonSchema, Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Simulcast {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video: Option<SimulcastLayers>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub screen: Option<SimulcastLayers>,
}

#[derive(JsonSchema, Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SimulcastLayers {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub layers: Vec<SimulcastLayer>,
}

#[derive(JsonSchema, Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SimulcastLayer {
    /// `f`, `h` or `q`.
    pub rid: String,
    pub scale_resolution_down_by: f64,
    pub max_bitrate: i64,
    pub max_framerate: i64,
}

#[derive(JsonSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SubscribeParams {
    pub subscribe_to_roles: Vec<String>,
    pub max_subs_bit_rate: u32,
    /// Present means degradation is on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscribe_degradation: Option<SubscribeDegradation>,
}

impl Default for SubscribeParams {
    fn default() -> Self {
        Self {
            subscribe_to_roles: Vec::new(),
            max_subs_bit_rate: 3200,
            subscribe_degradation: None,
        }
    }
}

#[derive(JsonSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SubscribeDegradation {
    pub packet_loss_threshold: i64,
    pub degrade_grace_period_seconds: i64,
    pub recover_grace_period_seconds: i64,
}

impl Default for SubscribeDegradation {
    fn default() -> Self {
        Self {
            packet_loss_threshold: 50,
            degrade_grace_period_seconds: 1,
            recover_grace_period_seconds: 4,
        }
    }
}

/// What peers of a role may do. 100ms always writes the last six and writes the
/// moderation ones only when granted; clients treat a missing one as `false`.
#[derive(JsonSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Permissions {
    #[serde(skip_serializing_if = "is_false")]
    pub end_room: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub remove_others: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub mute: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub unmute: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub change_role: bool,
    pub send_room_state: bool,
    pub poll_read: bool,
    pub poll_write: bool,
    pub browser_recording: bool,
    pub rtmp_streaming: bool,
    pub hls_streaming: bool,
}

impl Default for Permissions {
    fn default() -> Self {
        Self {
            end_room: false,
            remove_others: false,
            mute: false,
            unmute: false,
            change_role: false,
            send_room_state: false,
            poll_read: false,
            poll_write: false,
            browser_recording: true,
            rtmp_streaming: true,
            hls_streaming: true,
        }
    }
}

#[derive(JsonSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Settings {
    /// `in`, `us`, `eu` or `auto`.
    pub region: String,
    /// Written as `null` when unset, as 100ms does.
    pub recording: Option<TemplateRecording>,
    pub room_state: RoomState,
    /// Undocumented; kept as the client sent it.
    pub retry: Map<String, Value>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            region: "auto".to_owned(),
            recording: None,
            room_state: RoomState::default(),
            retry: Map::new(),
        }
    }
}

impl Settings {
    /// These settings without storage secrets, as every response must show them.
    pub fn redacted(mut self) -> Self {
        if let Some(credentials) = self.upload_credentials_mut() {
            credentials.secret_key.clear();
        }
        self
    }

    /// The credentials of the recording bucket, if any.
    pub fn upload_credentials(&self) -> Option<&RecordingCredentials> {
        self.recording.as_ref()?.upload.as_ref()?.credentials.as_ref()
    }

    pub fn upload_credentials_mut(&mut self) -> Option<&mut RecordingCredentials> {
        self.recording.as_mut()?.upload.as_mut()?.credentials.as_mut()
    }
}

/// `settings.recording`: where SFU recordings go.
#[derive(JsonSchema, Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TemplateRecording {
    /// Deprecated SFU-recording switch, replaced by the recordings API.
    #[serde(default)]
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload: Option<RecordingUpload>,
}

#[derive(JsonSchema, Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RecordingUpload {
    /// `s3`, `gs`, `oss` or `azure`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// The bucket.
    #[serde(default)]
    pub location: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<RecordingUploadOptions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<RecordingCredentials>,
}

#[derive(JsonSchema, Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RecordingUploadOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

#[derive(JsonSchema, Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordingCredentials {
    #[serde(default)]
    pub key: String,
    /// Empty once redacted, and then left out. `secret` is accepted because one 100ms
    /// response example spells it so and clients copy examples.
    #[serde(default, alias = "secret", skip_serializing_if = "String::is_empty")]
    pub secret_key: String,
}

#[derive(JsonSchema, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RoomState {
    /// Seconds; a multiple of 5 in 5–3600.
    pub message_interval: i64,
    pub send_peer_list: bool,
    pub stop_room_state_on_join: bool,
    pub enabled: bool,
}

impl Default for RoomState {
    fn default() -> Self {
        Self {
            message_interval: 5,
            send_peer_list: false,
            stop_room_state_on_join: true,
            enabled: false,
        }
    }
}

/// Where a session's media goes besides the peers. Each map is keyed by destination name.
#[derive(JsonSchema, Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Destinations {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtmp_destinations: Option<IndexMap<String, RtmpDestination>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hls_destinations: Option<IndexMap<String, HlsDestination>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transcriptions: Option<IndexMap<String, TranscriptionDestination>>,
    /// Deprecated: use recording configs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub browser_recordings: Option<IndexMap<String, BrowserRecordingDestination>>,
}

#[derive(JsonSchema, Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RtmpDestination {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_duration: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtmp_urls: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recording_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_stop_timeout: Option<u32>,
}

#[derive(JsonSchema, Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HlsDestination {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_duration: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layers: Option<Vec<HlsLayer>>,
    /// `event` or `live`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub playlist_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub num_playlist_segments: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub video_frame_rate: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enable_metadata_insertion: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enable_static_url: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recording: Option<HlsRecording>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_stop_timeout: Option<u32>,
    /// Only seen in responses (`__internal_recorder`), so not checked against the roles.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

#[derive(JsonSchema, Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HlsLayer {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub video_bitrate: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audio_bitrate: Option<u32>,
}

#[derive(JsonSchema, Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct HlsRecording {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hls_vod: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub single_file_per_layer: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enable_zip_upload: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layers: Option<Vec<HlsLayer>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thumbnails: Option<Thumbnails>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub presign_duration: Option<u32>,
}

#[derive(JsonSchema, Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Thumbnails {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offsets: Option<Vec<u32>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fps: Option<u32>,
}

#[derive(JsonSchema, Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TranscriptionDestination {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Transcribes what this role subscribes to; required.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// `recorded`, `live`, `caption`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modes: Option<Vec<String>>,
    /// `txt`, `srt`, `json`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_modes: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_vocabulary: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<TranscriptionSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub translation: Option<TranscriptionTranslation>,
}

#[derive(JsonSchema, Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TranscriptionSummary {
    /// The docs' table spells it `enable`, every example `enabled`.
    #[serde(alias = "enable", skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sections: Option<Vec<SummarySection>>,
}

#[derive(JsonSchema, Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SummarySection {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// `bullets` or `paragraph`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
}

#[derive(JsonSchema, Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TranscriptionTranslation {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Role name → language code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_languages: Option<IndexMap<String, String>>,
}

#[derive(JsonSchema, Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BrowserRecordingDestination {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_duration: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thumbnails: Option<Thumbnails>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub presign_duration: Option<u32>,
    /// The role the recorder joins as; required.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_start: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_stop_timeout: Option<u32>,
}

#[derive(JsonSchema, Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Plugins {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub whiteboard: Option<WhiteboardPlugin>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transcriptions: Option<TranscriptionPlugin>,
}

#[derive(JsonSchema, Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct WhiteboardPlugin {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permissions: Option<PluginPermissions>,
}

#[derive(JsonSchema, Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TranscriptionPlugin {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permissions: Option<PluginPermissions>,
    /// Only `caption`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
}

/// Role names per plugin capability.
#[derive(JsonSchema, Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PluginPermissions {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub writer: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reader: Option<Vec<String>>,
}

/// One element of `/v2/templates/{id}/recordings`. Like 100ms, responses leave out `false`
/// booleans but keep the objects that held them (`"trackRecording": {}`).
#[derive(JsonSchema, Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordingConfig {
    #[serde(default)]
    pub name: String,
    /// The role the recorder joins as.
    #[serde(default)]
    pub role: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_duration: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presign_duration: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnails: Option<Thumbnails>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub composite_recording: Option<CompositeRecording>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub track_recording: Option<RecordingToggle>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_recording: Option<StreamRecording>,
}

#[derive(JsonSchema, Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CompositeRecording {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub browser_composite: Option<BrowserComposite>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_composite: Option<RecordingToggle>,
}

#[derive(JsonSchema, Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BrowserComposite {
    /// Not in the request schema, but 100ms shows it in responses.
    #[serde(skip_serializing_if = "is_false")]
    pub enabled: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub auto_start: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_stop_timeout: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
}

/// `customComposite` and `trackRecording`: a bare on/off switch.
#[derive(JsonSchema, Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RecordingToggle {
    #[serde(skip_serializing_if = "is_false")]
    pub enabled: bool,
}

#[derive(JsonSchema, Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct StreamRecording {
    #[serde(skip_serializing_if = "is_false")]
    pub enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
}

fn is_false(value: &bool) -> bool {
    !value
}

/// A template as stored: everything but the bookkeeping of [`Template`], plus the
/// recording configs and the storage secrets that responses never show.
#[derive(JsonSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TemplateBody {
    pub name: String,
    pub roles: IndexMap<String, Role>,
    #[serde(default)]
    pub settings: Settings,
    #[serde(default)]
    pub destinations: Destinations,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugins: Option<Plugins>,
    #[serde(default)]
    pub recordings: Vec<RecordingConfig>,
}

/// Body of `POST /v2/templates` (create, or overwrite by name) and
/// `POST /v2/templates/{id}` (full replace).
#[derive(JsonSchema, Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TemplateParams {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roles: Option<IndexMap<String, RoleParams>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settings: Option<Settings>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destinations: Option<Destinations>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plugins: Option<Plugins>,
}

/// A role as clients send it, in a template or to `POST …/roles/{role_name}`; every field
/// left out takes its default, so `{}` is a complete role.
#[derive(JsonSchema, Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RoleParams {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub publish_params: Option<PublishParams>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscribe_params: Option<SubscribeParams>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permissions: Option<Permissions>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_peer_count: Option<i64>,
}
