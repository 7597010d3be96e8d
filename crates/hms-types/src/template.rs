//! Templates (the policy API): `/v2/templates`, with their roles, settings, destinations
//! and recording configs.
//!
//! Unlike the rest of v2 this API is camelCase. Inputs are parsed leniently (unknown
//! fields ignored, nearly everything optional or defaulted) and then checked by pure
//! validation that reports every problem at once, each detail naming its field path, ready
//! for the `details` of the error envelope. Integers with a documented range are `i64` and
//! required strings default to `""`, so a negative, out-of-range or missing value becomes
//! such a detail rather than an opaque parse failure.

use std::fmt::Display;
use std::ops::RangeInclusive;

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
        if let Some(credentials) = self.credentials_mut() {
            credentials.secret_key.clear();
        }
        self
    }

    fn credentials(&self) -> Option<&RecordingCredentials> {
        self.recording.as_ref()?.upload.as_ref()?.credentials.as_ref()
    }

    fn credentials_mut(&mut self) -> Option<&mut RecordingCredentials> {
        self.recording.as_mut()?.upload.as_mut()?.credentials.as_mut()
    }

    /// Responses never show `secretKey`, so a client posting back what it fetched sends the
    /// same `key` without it: that means "unchanged", not "remove the secret".
    fn carry_secrets_from(&mut self, previous: &Settings) {
        let Some(old) = previous.credentials() else {
            return;
        };
        if let Some(new) = self.credentials_mut()
            && new.secret_key.is_empty()
            && new.key == old.key
        {
            new.secret_key.clone_from(&old.secret_key);
        }
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

impl Plugins {
    fn role_lists_mut(&mut self) -> impl Iterator<Item = &mut Vec<String>> {
        let whiteboard = self.whiteboard.iter_mut().filter_map(|w| w.permissions.as_mut());
        let transcriptions = self.transcriptions.iter_mut().filter_map(|t| t.permissions.as_mut());
        whiteboard
            .chain(transcriptions)
            .flat_map(|p| [&mut p.admin, &mut p.writer, &mut p.reader])
            .flatten()
    }
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

impl TemplateParams {
    /// The template to store for a create (or overwrite by name): defaults for everything
    /// left out, `generated_name` when no name is given, no roles when none are given.
    pub fn into_body(self, generated_name: String) -> Result<TemplateBody, Vec<String>> {
        let mut problems = Problems::default();
        let body = TemplateBody {
            name: self.name.unwrap_or(generated_name),
            roles: build_roles(&mut problems, self.roles.unwrap_or_default()),
            settings: self.settings.unwrap_or_default(),
            destinations: self.destinations.unwrap_or_default(),
            plugins: self.plugins,
            recordings: Vec::new(),
        };
        body.checked(problems)
    }

    /// The template replacing `current` (`POST /v2/templates/{id}`): `roles` and `settings`
    /// are required; name, destinations and plugins stay when left out; recording configs,
    /// which this body cannot carry, always stay.
    pub fn into_replacement(self, current: &TemplateBody) -> Result<TemplateBody, Vec<String>> {
        let mut problems = Problems::default();
        if self.roles.is_none() {
            problems.add("roles is required");
        }
        if self.settings.is_none() {
            problems.add("settings is required");
        }
        let (Some(roles), Some(mut settings)) = (self.roles, self.settings) else {
            return Err(problems.0);
        };
        settings.carry_secrets_from(&current.settings);
        let body = TemplateBody {
            name: self.name.unwrap_or_else(|| current.name.clone()),
            roles: build_roles(&mut problems, roles),
            settings,
            destinations: self.destinations.unwrap_or_else(|| current.destinations.clone()),
            plugins: self.plugins.or_else(|| current.plugins.clone()),
            recordings: current.recordings.clone(),
        };
        body.checked(problems)
    }

    /// Before [`Self::into_body`] overwrites `previous` (create with an existing name): keep
    /// its storage secret when the credentials come back with the same key and no secret.
    pub fn carry_secrets_from(&mut self, previous: &TemplateBody) {
        if let Some(settings) = &mut self.settings {
            settings.carry_secrets_from(&previous.settings);
        }
    }
}

impl RoleParams {
    /// The role named `name` in a template whose roles are `template_roles`.
    fn into_role(self, name: String, template_roles: &[String]) -> Role {
        Role {
            name,
            publish_params: self
                .publish_params
                .map_or_else(PublishParams::everything, PublishParams::with_defaults),
            subscribe_params: self.subscribe_params.unwrap_or_else(|| SubscribeParams {
                subscribe_to_roles: template_roles.to_vec(),
                ..SubscribeParams::default()
            }),
            permissions: self.permissions.unwrap_or_default(),
            priority: self.priority.unwrap_or(1),
            max_peer_count: self.max_peer_count.unwrap_or(0),
        }
    }
}

impl PublishParams {
    /// What a role publishes when its body says nothing about publishing.
    fn everything() -> Self {
        Self {
            allowed: ["audio", "video", "screen"].map(String::from).to_vec(),
            ..Self::default()
        }
        .with_defaults()
    }

    /// Fills what was left out, except `allowed`: leaving that out means publishing nothing.
    fn with_defaults(self) -> Self {
        Self {
            audio: self.audio.or(AudioParams {
                bit_rate: Some(32),
                codec: Some("opus".to_owned()),
            }),
            video: self.video.or(VideoParams {
                bit_rate: Some(256),
                codec: Some("vp8".to_owned()),
                frame_rate: Some(25),
                width: Some(320),
                height: Some(180),
            }),
            screen: self.screen.or(VideoParams {
                bit_rate: None,
                codec: Some("vp8".to_owned()),
                frame_rate: Some(10),
                width: Some(1280),
                height: Some(720),
            }),
            ..self
        }
    }
}

impl AudioParams {
    fn or(self, fallback: Self) -> Self {
        Self {
            bit_rate: self.bit_rate.or(fallback.bit_rate),
            codec: self.codec.or(fallback.codec),
        }
    }
}

impl VideoParams {
    fn or(self, fallback: Self) -> Self {
        Self {
            bit_rate: self.bit_rate.or(fallback.bit_rate),
            codec: self.codec.or(fallback.codec),
            frame_rate: self.frame_rate.or(fallback.frame_rate),
            width: self.width.or(fallback.width),
            height: self.height.or(fallback.height),
        }
    }
}

fn build_roles(problems: &mut Problems, mut params: IndexMap<String, RoleParams>) -> IndexMap<String, Role> {
    fill_names(problems, "roles", &mut params);
    let names: Vec<String> = params.keys().cloned().collect();
    params
        .into_iter()
        .map(|(name, role)| (name.clone(), role.into_role(name, &names)))
        .collect()
}

impl TemplateBody {
    /// A video-conferencing template: `host` moderates, `guest` takes part; both publish
    /// audio, video and screen and receive each other.
    pub fn conferencing(name: String) -> TemplateBody {
        let names = ["host", "guest"].map(String::from);
        let mut host = RoleParams::default().into_role(names[0].clone(), &names);
        host.permissions = Permissions {
            end_room: true,
            remove_others: true,
            mute: true,
            unmute: true,
            change_role: true,
            send_room_state: true,
            poll_read: true,
            poll_write: true,
            ..Permissions::default()
        };
        let mut guest = RoleParams::default().into_role(names[1].clone(), &names);
        guest.permissions.poll_read = true;
        TemplateBody {
            name,
            roles: [host, guest]
                .into_iter()
                .map(|role| (role.name.clone(), role))
                .collect(),
            settings: Settings::default(),
            destinations: Destinations::default(),
            plugins: None,
            recordings: Vec::new(),
        }
    }

    /// `POST …/roles/{path_name}`: creates the role or replaces it whole (defaults for what
    /// the body leaves out). A body `name` other than `path_name` renames the role, in place
    /// and in every reference to it; that fails when the name is taken. Returns the role as
    /// stored; on error nothing changes.
    pub fn upsert_role(&mut self, path_name: &str, params: RoleParams) -> Result<Role, Vec<String>> {
        let name = params.name.clone().unwrap_or_else(|| path_name.to_owned());
        let renaming = name != path_name;
        if renaming && self.roles.contains_key(&name) {
            return Err(vec![format!("name: a role named {name:?} already exists")]);
        }
        let mut next = self.clone();
        let mut names: Vec<String> = next.roles.keys().cloned().collect();
        if !next.roles.contains_key(path_name) {
            names.push(path_name.to_owned());
        }
        let role = params.into_role(path_name.to_owned(), &names);
        next.roles.insert(path_name.to_owned(), role);
        if renaming {
            next.rename_role(path_name, &name);
        }
        let mut problems = Problems::default();
        let role = &next.roles[&name];
        check_role(&mut problems, role, &next.roles);
        let role = problems.finish(role.clone())?;
        *self = next;
        Ok(role)
    }

    /// Removes the role and every subscription or plugin permission naming it. Single
    /// references (destinations, recording configs) are left for the client to fix, since
    /// they cannot be dropped without dropping what holds them.
    pub fn delete_role(&mut self, name: &str) -> bool {
        if self.roles.shift_remove(name).is_none() {
            return false;
        }
        for list in self.role_lists_mut() {
            list.retain(|role| role != name);
        }
        true
    }

    /// Keeps the current storage secret when the new credentials have the same key and no
    /// secret, since responses never show it.
    pub fn replace_settings(&mut self, mut settings: Settings) -> Result<(), Vec<String>> {
        settings.carry_secrets_from(&self.settings);
        let mut problems = Problems::default();
        check_settings(&mut problems, &settings);
        self.settings = problems.finish(settings)?;
        Ok(())
    }

    pub fn replace_destinations(&mut self, mut destinations: Destinations) -> Result<(), Vec<String>> {
        let mut problems = Problems::default();
        destinations.fill_names(&mut problems);
        check_destinations(&mut problems, &destinations, &self.roles);
        self.destinations = problems.finish(destinations)?;
        Ok(())
    }

    /// 100ms accepts exactly one recording config per template, for now.
    pub fn replace_recordings(&mut self, recordings: Vec<RecordingConfig>) -> Result<(), Vec<String>> {
        let mut problems = Problems::default();
        if recordings.len() != 1 {
            problems.add(format!(
                "recordings must hold exactly one recording config, not {}",
                recordings.len()
            ));
        }
        for (index, recording) in recordings.iter().enumerate() {
            check_recording(&mut problems, &format!("recordings[{index}]"), recording, &self.roles);
        }
        self.recordings = problems.finish(recordings)?;
        Ok(())
    }

    /// Fills destination names from their keys, then checks the whole template. Recording
    /// configs are not checked: clients cannot see or fix them through template updates.
    fn checked(mut self, mut problems: Problems) -> Result<Self, Vec<String>> {
        self.destinations.fill_names(&mut problems);
        check_template_name(&mut problems, &self.name);
        for role in self.roles.values() {
            check_role(&mut problems, role, &self.roles);
        }
        check_settings(&mut problems, &self.settings);
        check_destinations(&mut problems, &self.destinations, &self.roles);
        if let Some(plugins) = &self.plugins {
            check_plugins(&mut problems, plugins);
        }
        problems.finish(self)
    }

    /// The caller has made sure that `to` is not taken.
    fn rename_role(&mut self, from: &str, to: &str) {
        if let Some(index) = self.roles.get_index_of(from)
            && self.roles.replace_index(index, to.to_owned()).is_ok()
        {
            self.roles[index].name = to.to_owned();
        }
        for list in self.role_lists_mut() {
            list.iter_mut()
                .filter(|role| *role == from)
                .for_each(|role| *role = to.to_owned());
        }
        for role in self.role_fields_mut() {
            if role == from {
                *role = to.to_owned();
            }
        }
    }

    /// Lists of role names: subscriptions and plugin permissions.
    fn role_lists_mut(&mut self) -> impl Iterator<Item = &mut Vec<String>> {
        let subscriptions = self
            .roles
            .values_mut()
            .map(|role| &mut role.subscribe_params.subscribe_to_roles);
        let plugins = self.plugins.iter_mut().flat_map(Plugins::role_lists_mut);
        subscriptions.chain(plugins)
    }

    /// Single role names: the roles that transcribers and recorders join as.
    fn role_fields_mut(&mut self) -> impl Iterator<Item = &mut String> {
        let destinations = &mut self.destinations;
        let transcriptions = destinations
            .transcriptions
            .iter_mut()
            .flat_map(IndexMap::values_mut)
            .filter_map(|t| t.role.as_mut());
        let browser_recordings = destinations
            .browser_recordings
            .iter_mut()
            .flat_map(IndexMap::values_mut)
            .filter_map(|b| b.role.as_mut());
        let recordings = self.recordings.iter_mut().map(|r| &mut r.role);
        transcriptions.chain(browser_recordings).chain(recordings)
    }
}

impl Destinations {
    fn fill_names(&mut self, problems: &mut Problems) {
        let prefix = "destinations";
        if let Some(map) = &mut self.rtmp_destinations {
            fill_names(problems, &format!("{prefix}.rtmpDestinations"), map);
        }
        if let Some(map) = &mut self.hls_destinations {
            fill_names(problems, &format!("{prefix}.hlsDestinations"), map);
        }
        if let Some(map) = &mut self.transcriptions {
            fill_names(problems, &format!("{prefix}.transcriptions"), map);
        }
        if let Some(map) = &mut self.browser_recordings {
            fill_names(problems, &format!("{prefix}.browserRecordings"), map);
        }
    }
}

/// Something kept in a name-keyed map that repeats its name inside.
trait Named {
    fn name_mut(&mut self) -> &mut Option<String>;
}

impl Named for RoleParams {
    fn name_mut(&mut self) -> &mut Option<String> {
        &mut self.name
    }
}

impl Named for RtmpDestination {
    fn name_mut(&mut self) -> &mut Option<String> {
        &mut self.name
    }
}

impl Named for HlsDestination {
    fn name_mut(&mut self) -> &mut Option<String> {
        &mut self.name
    }
}

impl Named for TranscriptionDestination {
    fn name_mut(&mut self) -> &mut Option<String> {
        &mut self.name
    }
}

impl Named for BrowserRecordingDestination {
    fn name_mut(&mut self) -> &mut Option<String> {
        &mut self.name
    }
}

/// The inner `name` may be left out (it is taken from the key) but must not contradict it.
fn fill_names<T: Named>(problems: &mut Problems, path: &str, map: &mut IndexMap<String, T>) {
    for (key, item) in map.iter_mut() {
        let name = item.name_mut();
        match name.as_deref() {
            None => *name = Some(key.clone()),
            Some(inner) if inner != key => {
                problems.add(format!("{path}.{key}.name must equal its key {key:?}"));
            }
            Some(_) => {}
        }
    }
}

/// Validation details collected so far.
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn add(&mut self, detail: impl Into<String>) {
        self.0.push(detail.into());
    }

    fn finish<T>(self, value: T) -> Result<T, Vec<String>> {
        if self.0.is_empty() { Ok(value) } else { Err(self.0) }
    }

    fn range<T: PartialOrd + Display>(&mut self, path: &str, value: Option<T>, limits: RangeInclusive<T>) {
        if let Some(value) = value
            && !limits.contains(&value)
        {
            self.add(format!(
                "{path} must be between {} and {}",
                limits.start(),
                limits.end()
            ));
        }
    }

    fn one_of(&mut self, path: &str, value: &str, allowed: &[&str]) {
        if !allowed.contains(&value) {
            self.add(format!("{path} must be one of {} (got {value:?})", allowed.join(", ")));
        }
    }

    /// The value when it is given and not empty; otherwise notes that it is required.
    fn required<'a>(&mut self, path: &str, value: Option<&'a str>) -> Option<&'a str> {
        let value = value.filter(|v| !v.is_empty());
        if value.is_none() {
            self.add(format!("{path} is required"));
        }
        value
    }

    fn at_most_chars(&mut self, path: &str, value: &str, max: usize) {
        if value.chars().count() > max {
            self.add(format!("{path} must be at most {max} characters"));
        }
    }
}

type Roles = IndexMap<String, Role>;

fn check_role_exists(problems: &mut Problems, path: &str, role: &str, roles: &Roles) {
    if !roles.contains_key(role) {
        problems.add(format!(
            "{path} names role {role:?}, which does not exist in the template"
        ));
    }
}

fn check_role_ref(problems: &mut Problems, path: &str, role: Option<&str>, roles: &Roles) {
    if let Some(role) = problems.required(path, role) {
        check_role_exists(problems, path, role, roles);
    }
}

fn check_template_name(problems: &mut Problems, name: &str) {
    let valid_char = |c: char| c.is_ascii_alphanumeric() || " -._:".contains(c);
    if !(1..=100).contains(&name.chars().count()) || !name.chars().all(valid_char) {
        problems.add(format!(
            "name {name:?} must be 1 to 100 characters of a-z, A-Z, 0-9, space, -, ., _ and :"
        ));
    }
}

fn check_role(problems: &mut Problems, role: &Role, roles: &Roles) {
    let path = format!("roles.{}", role.name);
    let valid_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    if !(1..=100).contains(&role.name.chars().count()) || !role.name.chars().all(valid_char) {
        problems.add(format!(
            "{path}: role names must be 1 to 100 characters of a-z, A-Z, 0-9, _ and -"
        ));
    }
    check_publish(problems, &format!("{path}.publishParams"), &role.publish_params);
    check_subscribe(
        problems,
        &format!("{path}.subscribeParams"),
        &role.subscribe_params,
        roles,
    );
    problems.range(&format!("{path}.priority"), Some(role.priority), 1..=5);
    if role.max_peer_count < -1 {
        problems.add(format!("{path}.maxPeerCount must be -1, 0 or more"));
    }
}

fn check_publish(problems: &mut Problems, path: &str, params: &PublishParams) {
    for kind in &params.allowed {
        problems.one_of(
            &format!("{path}.allowed"),
            kind,
            &["audio", "video", "screen", "simulcast"],
        );
    }
    problems.range(&format!("{path}.audio.bitRate"), params.audio.bit_rate, 16..=128);
    if let Some(codec) = &params.audio.codec {
        problems.one_of(&format!("{path}.audio.codec"), codec, &["opus"]);
    }
    let video = format!("{path}.video");
    problems.range(&format!("{video}.bitRate"), params.video.bit_rate, 30..=2000);
    check_video(problems, &video, &params.video, 50..=1920, 50..=1080);
    let screen = format!("{path}.screen");
    if params.screen.bit_rate.is_some_and(|rate| rate < 500) {
        problems.add(format!("{screen}.bitRate must be at least 500"));
    }
    check_video(problems, &screen, &params.screen, 480..=1920, 270..=1080);
    if let Some(simulcast) = &params.simulcast {
        for (track, layers) in [("video", &simulcast.video), ("screen", &simulcast.screen)] {
            if let Some(layers) = layers {
                check_layers(problems, &format!("{path}.simulcast.{track}.layers"), &layers.layers);
            }
        }
    }
}

fn check_video(
    problems: &mut Problems,
    path: &str,
    video: &VideoParams,
    width: RangeInclusive<i64>,
    height: RangeInclusive<i64>,
) {
    if let Some(codec) = &video.codec {
        problems.one_of(&format!("{path}.codec"), codec, &["vp8"]);
    }
    problems.range(&format!("{path}.frameRate"), video.frame_rate, 1..=30);
    problems.range(&format!("{path}.width"), video.width, width);
    problems.range(&format!("{path}.height"), video.height, height);
}

/// Layers go from full resolution down: rids `f`, `h`, `q` in that order (a prefix or a
/// subsequence of it), each scaled down more than the one before.
fn check_layers(problems: &mut Problems, path: &str, layers: &[SimulcastLayer]) {
    const RIDS: [&str; 3] = ["f", "h", "q"];
    if layers.len() > RIDS.len() {
        problems.add(format!("{path} must have at most 3 layers"));
    }
    let mut previous: Option<&SimulcastLayer> = None;
    for (index, layer) in layers.iter().enumerate() {
        let at = format!("{path}[{index}]");
        problems.one_of(&format!("{at}.rid"), &layer.rid, &RIDS);
        let scale = Some(layer.scale_resolution_down_by);
        problems.range(&format!("{at}.scaleResolutionDownBy"), scale, 1.0..=12.0);
        problems.range(&format!("{at}.maxBitrate"), Some(layer.max_bitrate), 0..=2000);
        problems.range(&format!("{at}.maxFramerate"), Some(layer.max_framerate), 1..=30);
        let rid_known = RIDS.contains(&layer.rid.as_str());
        match previous {
            None => {
                if rid_known && layer.rid != "f" {
                    problems.add(format!("{at}.rid must be f in the first layer"));
                }
                if layer.scale_resolution_down_by != 1.0 {
                    problems.add(format!("{at}.scaleResolutionDownBy must be 1 in the first layer"));
                }
            }
            Some(previous) => {
                // "f" < "h" < "q" as strings, which is exactly the required order.
                if rid_known && layer.rid <= previous.rid {
                    problems.add(format!("{at}.rid must come after {:?} (order f, h, q)", previous.rid));
                }
                if layer.scale_resolution_down_by <= previous.scale_resolution_down_by {
                    problems.add(format!(
                        "{at}.scaleResolutionDownBy must be greater than the previous layer's"
                    ));
                }
            }
        }
        previous = Some(layer);
    }
}

fn check_subscribe(problems: &mut Problems, path: &str, params: &SubscribeParams, roles: &Roles) {
    let targets = format!("{path}.subscribeToRoles");
    for role in &params.subscribe_to_roles {
        check_role_exists(problems, &targets, role, roles);
    }
    if let Some(degradation) = &params.subscribe_degradation {
        let path = format!("{path}.subscribeDegradation");
        problems.range(
            &format!("{path}.packetLossThreshold"),
            Some(degradation.packet_loss_threshold),
            1..=100,
        );
        problems.range(
            &format!("{path}.degradeGracePeriodSeconds"),
            Some(degradation.degrade_grace_period_seconds),
            1..=10,
        );
        problems.range(
            &format!("{path}.recoverGracePeriodSeconds"),
            Some(degradation.recover_grace_period_seconds),
            1..=10,
        );
    }
}

fn check_settings(problems: &mut Problems, settings: &Settings) {
    problems.one_of("settings.region", &settings.region, &["in", "us", "eu", "auto"]);
    let interval = settings.room_state.message_interval;
    if !(5..=3600).contains(&interval) || interval % 5 != 0 {
        problems.add("settings.roomState.messageInterval must be a multiple of 5 between 5 and 3600");
    }
    if let Some(upload) = settings.recording.as_ref().and_then(|r| r.upload.as_ref()) {
        check_upload(problems, upload);
    }
}

fn check_upload(problems: &mut Problems, upload: &RecordingUpload) {
    let path = "settings.recording.upload";
    let kind_path = format!("{path}.type");
    if let Some(kind) = problems.required(&kind_path, Some(&upload.kind)) {
        problems.one_of(&kind_path, kind, &["s3", "gs", "oss", "azure"]);
    }
    problems.required(&format!("{path}.location"), Some(&upload.location));
    if let Some(credentials) = &upload.credentials {
        problems.required(&format!("{path}.credentials.key"), Some(&credentials.key));
        problems.required(&format!("{path}.credentials.secretKey"), Some(&credentials.secret_key));
    }
}

fn check_destinations(problems: &mut Problems, destinations: &Destinations, roles: &Roles) {
    for (key, rtmp) in destinations.rtmp_destinations.iter().flatten() {
        if rtmp.rtmp_urls.as_ref().is_some_and(|urls| urls.len() > 3) {
            problems.add(format!(
                "destinations.rtmpDestinations.{key}.rtmpUrls must hold at most 3 URLs"
            ));
        }
    }
    for (key, hls) in destinations.hls_destinations.iter().flatten() {
        check_hls(problems, &format!("destinations.hlsDestinations.{key}"), hls);
    }
    for (key, transcription) in destinations.transcriptions.iter().flatten() {
        let path = format!("destinations.transcriptions.{key}");
        check_transcription(problems, &path, transcription, roles);
    }
    for (key, recording) in destinations.browser_recordings.iter().flatten() {
        let path = format!("destinations.browserRecordings.{key}.role");
        check_role_ref(problems, &path, recording.role.as_deref(), roles);
    }
}

fn check_hls(problems: &mut Problems, path: &str, hls: &HlsDestination) {
    if let Some(kind) = &hls.playlist_type {
        problems.one_of(&format!("{path}.playlistType"), kind, &["event", "live"]);
    }
    let segments = format!("{path}.numPlaylistSegments");
    problems.range(&segments, hls.num_playlist_segments, 3..=150);
    let layers = hls.layers.as_deref().unwrap_or_default();
    check_hls_layers(problems, &format!("{path}.layers"), layers);
    if let Some(recording) = &hls.recording {
        let layers = recording.layers.as_deref().unwrap_or_default();
        check_hls_layers(problems, &format!("{path}.recording.layers"), layers);
    }
}

fn check_hls_layers(problems: &mut Problems, path: &str, layers: &[HlsLayer]) {
    for (index, layer) in layers.iter().enumerate() {
        let at = format!("{path}[{index}]");
        for (field, value) in [("width", layer.width), ("height", layer.height)] {
            if value.is_some_and(|v| v % 2 != 0) {
                problems.add(format!("{at}.{field} must be even"));
            }
        }
        if let (Some(width), Some(height)) = (layer.width, layer.height)
            && (!(144..=1080).contains(&width.min(height)) || !(192..=1920).contains(&width.max(height)))
        {
            problems.add(format!(
                "{at}: the shorter side must be 144 to 1080 px and the longer side 192 to 1920 px"
            ));
        }
    }
}

fn check_transcription(problems: &mut Problems, path: &str, transcription: &TranscriptionDestination, roles: &Roles) {
    check_role_ref(problems, &format!("{path}.role"), transcription.role.as_deref(), roles);
    for mode in transcription.modes.iter().flatten() {
        problems.one_of(&format!("{path}.modes"), mode, &["recorded", "live", "caption"]);
    }
    for mode in transcription.output_modes.iter().flatten() {
        problems.one_of(&format!("{path}.outputModes"), mode, &["txt", "srt", "json"]);
    }
    if let Some(summary) = &transcription.summary {
        check_summary(problems, &format!("{path}.summary"), summary);
    }
}

fn check_summary(problems: &mut Problems, path: &str, summary: &TranscriptionSummary) {
    if let Some(context) = &summary.context {
        problems.at_most_chars(&format!("{path}.context"), context, 300);
    }
    problems.range(&format!("{path}.temperature"), summary.temperature, 0.1..=1.0);
    let sections = summary.sections.as_deref().unwrap_or_default();
    if sections.len() > 6 {
        problems.add(format!("{path}.sections must hold at most 6 sections"));
    }
    for (index, section) in sections.iter().enumerate() {
        let at = format!("{path}.sections[{index}]");
        let title_path = format!("{at}.title");
        if let Some(title) = problems.required(&title_path, section.title.as_deref()) {
            problems.at_most_chars(&title_path, title, 100);
        }
        let format_path = format!("{at}.format");
        if let Some(format) = problems.required(&format_path, section.format.as_deref()) {
            problems.one_of(&format_path, format, &["bullets", "paragraph"]);
        }
    }
}

fn check_plugins(problems: &mut Problems, plugins: &Plugins) {
    let mode = plugins.transcriptions.as_ref().and_then(|t| t.mode.as_deref());
    if let Some(mode) = mode {
        problems.one_of("plugins.transcriptions.mode", mode, &["caption"]);
    }
}

fn check_recording(problems: &mut Problems, path: &str, recording: &RecordingConfig, roles: &Roles) {
    problems.required(&format!("{path}.name"), Some(&recording.name));
    check_role_ref(problems, &format!("{path}.role"), Some(&recording.role), roles);
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn params(value: Value) -> TemplateParams {
        serde_json::from_value(value).unwrap()
    }

    fn body(value: Value) -> TemplateBody {
        params(value).into_body("generated".to_owned()).unwrap()
    }

    fn errors(value: Value) -> Vec<String> {
        params(value).into_body("generated".to_owned()).unwrap_err()
    }

    fn role_params(value: Value) -> RoleParams {
        serde_json::from_value(value).unwrap()
    }

    fn with_bucket(secret_key: &str) -> Value {
        json!({"region": "eu", "recording": {"upload": {
            "type": "s3", "location": "bucket",
            "credentials": {"key": "AKIA", "secretKey": secret_key}
        }}})
    }

    #[test]
    fn empty_roles_get_every_default() {
        let body = body(json!({"roles": {"host": {}, "guest": {}}}));
        assert_eq!(body.name, "generated");
        assert_eq!(
            serde_json::to_value(&body.roles["host"]).unwrap(),
            json!({
                "name": "host",
                "publishParams": {
                    "allowed": ["audio", "video", "screen"],
                    "audio": {"bitRate": 32, "codec": "opus"},
                    "video": {"bitRate": 256, "codec": "vp8", "frameRate": 25, "width": 320, "height": 180},
                    "screen": {"codec": "vp8", "frameRate": 10, "width": 1280, "height": 720}
                },
                "subscribeParams": {"subscribeToRoles": ["host", "guest"], "maxSubsBitRate": 3200},
                "permissions": {
                    "sendRoomState": false, "pollRead": false, "pollWrite": false,
                    "browserRecording": true, "rtmpStreaming": true, "hlsStreaming": true
                },
                "priority": 1,
                "maxPeerCount": 0
            })
        );
        assert_eq!(
            serde_json::to_value(&body.settings).unwrap(),
            json!({
                "region": "auto",
                "recording": null,
                "roomState": {"messageInterval": 5, "sendPeerList": false, "stopRoomStateOnJoin": true, "enabled": false},
                "retry": {}
            })
        );
        assert_eq!(serde_json::to_value(&body.destinations).unwrap(), json!({}));
    }

    #[test]
    fn given_publish_params_keep_allowed_as_sent() {
        let body = body(json!({"roles": {"viewer": {"publishParams": {"video": {"bitRate": 500}}}}}));
        assert_eq!(
            serde_json::to_value(&body.roles["viewer"].publish_params).unwrap(),
            json!({
                "audio": {"bitRate": 32, "codec": "opus"},
                "video": {"bitRate": 500, "codec": "vp8", "frameRate": 25, "width": 320, "height": 180},
                "screen": {"codec": "vp8", "frameRate": 10, "width": 1280, "height": 720}
            })
        );
    }

    #[test]
    fn permissions_show_moderation_only_when_granted() {
        let permissions: Permissions =
            serde_json::from_value(json!({"endRoom": true, "mute": false, "hlsStreaming": false})).unwrap();
        assert_eq!(
            serde_json::to_value(&permissions).unwrap(),
            json!({
                "endRoom": true,
                "sendRoomState": false, "pollRead": false, "pollWrite": false,
                "browserRecording": true, "rtmpStreaming": true, "hlsStreaming": false
            })
        );
    }

    #[test]
    fn subscribing_to_a_missing_role_is_refused() {
        let details = errors(json!({"roles": {
            "host": {},
            "guest": {"subscribeParams": {"subscribeToRoles": ["host", "ghost"]}}
        }}));
        assert_eq!(
            details,
            [
                r#"roles.guest.subscribeParams.subscribeToRoles names role "ghost", which does not exist in the template"#
            ]
        );
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let details = errors(json!({
            "name": "bad/name",
            "roles": {"host": {
                "publishParams": {
                    "allowed": ["audio", "smell"],
                    "audio": {"bitRate": 1},
                    "video": {"bitRate": 5000, "width": 10},
                    "screen": {"bitRate": 100}
                },
                "priority": 9,
                "maxPeerCount": -2
            }},
            "settings": {"region": "mars", "roomState": {"messageInterval": 7}}
        }));
        assert_eq!(
            details,
            [
                r#"name "bad/name" must be 1 to 100 characters of a-z, A-Z, 0-9, space, -, ., _ and :"#,
                r#"roles.host.publishParams.allowed must be one of audio, video, screen, simulcast (got "smell")"#,
                "roles.host.publishParams.audio.bitRate must be between 16 and 128",
                "roles.host.publishParams.video.bitRate must be between 30 and 2000",
                "roles.host.publishParams.video.width must be between 50 and 1920",
                "roles.host.publishParams.screen.bitRate must be at least 500",
                "roles.host.priority must be between 1 and 5",
                "roles.host.maxPeerCount must be -1, 0 or more",
                r#"settings.region must be one of in, us, eu, auto (got "mars")"#,
                "settings.roomState.messageInterval must be a multiple of 5 between 5 and 3600",
            ]
        );
    }

    #[test]
    fn simulcast_layers_must_descend_from_full_resolution() {
        let good = json!([
            {"rid": "f", "scaleResolutionDownBy": 1, "maxBitrate": 700, "maxFramerate": 25},
            {"rid": "h", "scaleResolutionDownBy": 2, "maxBitrate": 350, "maxFramerate": 25},
            {"rid": "q", "scaleResolutionDownBy": 4, "maxBitrate": 100, "maxFramerate": 25}
        ]);
        body(json!({"roles": {"host": {"publishParams": {
            "simulcast": {"video": {"layers": good}, "screen": {}}
        }}}}));

        let bad = json!([
            {"rid": "h", "scaleResolutionDownBy": 2, "maxFramerate": 25},
            {"rid": "f", "scaleResolutionDownBy": 2, "maxFramerate": 40}
        ]);
        let details = errors(json!({"roles": {"host": {"publishParams": {
            "simulcast": {"video": {"layers": bad}}
        }}}}));
        let layers = "roles.host.publishParams.simulcast.video.layers";
        assert_eq!(
            details,
            [
                format!("{layers}[0].rid must be f in the first layer"),
                format!("{layers}[0].scaleResolutionDownBy must be 1 in the first layer"),
                format!("{layers}[1].maxFramerate must be between 1 and 30"),
                format!(r#"{layers}[1].rid must come after "h" (order f, h, q)"#),
                format!("{layers}[1].scaleResolutionDownBy must be greater than the previous layer's"),
            ]
        );
    }

    #[test]
    fn role_and_destination_names_follow_their_keys() {
        let details = errors(json!({
            "roles": {"host": {"name": "guest"}},
            "destinations": {"transcriptions": {"captions": {"name": "other", "role": "ghost"}}}
        }));
        assert_eq!(
            details,
            [
                r#"roles.host.name must equal its key "host""#,
                r#"destinations.transcriptions.captions.name must equal its key "captions""#,
                r#"destinations.transcriptions.captions.role names role "ghost", which does not exist in the template"#,
            ]
        );

        let body = body(json!({
            "roles": {"host": {}},
            "destinations": {"hlsDestinations": {"hls": {"playlistType": "live"}}}
        }));
        let hls = &body.destinations.hls_destinations.as_ref().unwrap()["hls"];
        assert_eq!(hls.name.as_deref(), Some("hls"));
    }

    #[test]
    fn upsert_role_creates_replaces_and_renames() {
        let mut template = TemplateBody::conferencing("conf".to_owned());

        let viewer = template
            .upsert_role("viewer", role_params(json!({"publishParams": {}})))
            .unwrap();
        assert!(viewer.publish_params.allowed.is_empty());
        assert_eq!(viewer.subscribe_params.subscribe_to_roles, ["host", "guest", "viewer"]);
        assert_eq!(template.roles.keys().collect::<Vec<_>>(), ["host", "guest", "viewer"]);

        let host = template
            .upsert_role("host", role_params(json!({"priority": 2})))
            .unwrap();
        assert_eq!(host.priority, 2);
        assert!(!host.permissions.end_room, "a replaced role starts from the defaults");

        let presenter = template
            .upsert_role("host", role_params(json!({"name": "presenter"})))
            .unwrap();
        assert_eq!(presenter.name, "presenter");
        assert_eq!(
            presenter.subscribe_params.subscribe_to_roles,
            ["presenter", "guest", "viewer"]
        );
        assert_eq!(
            template.roles.keys().collect::<Vec<_>>(),
            ["presenter", "guest", "viewer"]
        );
        assert_eq!(
            template.roles["guest"].subscribe_params.subscribe_to_roles,
            ["presenter", "guest"]
        );

        let before = template.clone();
        let details = template
            .upsert_role("guest", role_params(json!({"name": "viewer"})))
            .unwrap_err();
        assert_eq!(details, [r#"name: a role named "viewer" already exists"#]);
        let details = template
            .upsert_role(
                "guest",
                role_params(json!({"subscribeParams": {"subscribeToRoles": ["host"]}})),
            )
            .unwrap_err();
        assert_eq!(
            details,
            [r#"roles.guest.subscribeParams.subscribeToRoles names role "host", which does not exist in the template"#]
        );
        assert_eq!(template, before, "a refused upsert changes nothing");
    }

    #[test]
    fn delete_role_removes_its_subscriptions() {
        let mut template = TemplateBody::conferencing("conf".to_owned());
        assert!(template.delete_role("guest"));
        assert!(!template.delete_role("guest"));
        assert_eq!(template.roles.keys().collect::<Vec<_>>(), ["host"]);
        assert_eq!(template.roles["host"].subscribe_params.subscribe_to_roles, ["host"]);
    }

    #[test]
    fn replacement_requires_roles_and_settings() {
        let current = TemplateBody::conferencing("conf".to_owned());
        let details = params(json!({"name": "new"})).into_replacement(&current).unwrap_err();
        assert_eq!(details, ["roles is required", "settings is required"]);

        let replaced = params(json!({"roles": {"host": {}}, "settings": {}}))
            .into_replacement(&current)
            .unwrap();
        assert_eq!(replaced.name, "conf");
        assert_eq!(replaced.roles.keys().collect::<Vec<_>>(), ["host"]);
    }

    #[test]
    fn secrets_survive_a_round_trip_through_responses() {
        let mut current = TemplateBody::conferencing("conf".to_owned());
        current
            .replace_settings(serde_json::from_value(with_bucket("s3cr3t")).unwrap())
            .unwrap();
        let secret = |body: &TemplateBody| body.settings.credentials().unwrap().secret_key.clone();

        let mut upsert = params(json!({"roles": {"host": {}}, "settings": with_bucket("")}));
        upsert.carry_secrets_from(&current);
        assert_eq!(secret(&upsert.into_body("x".to_owned()).unwrap()), "s3cr3t");

        let replaced = params(json!({"roles": {"host": {}}, "settings": with_bucket("")}))
            .into_replacement(&current)
            .unwrap();
        assert_eq!(secret(&replaced), "s3cr3t");

        let mut settings: Settings = serde_json::from_value(with_bucket("")).unwrap();
        settings
            .recording
            .as_mut()
            .unwrap()
            .upload
            .as_mut()
            .unwrap()
            .credentials
            .as_mut()
            .unwrap()
            .key = "OTHER".to_owned();
        let details = current.replace_settings(settings).unwrap_err();
        assert_eq!(details, ["settings.recording.upload.credentials.secretKey is required"]);
        assert_eq!(secret(&current), "s3cr3t");
    }

    #[test]
    fn template_output_never_shows_the_secret() {
        let mut body = TemplateBody::conferencing("conf".to_owned());
        body.replace_settings(serde_json::from_value(with_bucket("s3cr3t")).unwrap())
            .unwrap();
        assert!(serde_json::to_string(&body).unwrap().contains("s3cr3t"));

        let now = Timestamp::from_unix_millis(1_663_329_820_068);
        let template = Template::new("6324661c4da877930beaecaa", "627cda54", "app", true, now, now, body);
        let output = serde_json::to_value(&template).unwrap();
        assert_eq!(
            output["settings"]["recording"]["upload"]["credentials"],
            json!({"key": "AKIA"})
        );
        assert_eq!(output["_id"], "6324661c4da877930beaecaa");
        assert_eq!(output["customer"], "627cda54");
        assert_eq!(output["createdAt"], "2022-09-16T12:03:40.068Z");
        assert!(output.get("plugins").is_none());
    }

    #[test]
    fn exactly_one_recording_config_for_an_existing_role() {
        let mut template = TemplateBody::conferencing("conf".to_owned());
        let configs: Vec<RecordingConfig> = serde_json::from_value(json!([
            {"name": "rec", "role": "ghost", "trackRecording": {"enabled": false}}
        ]))
        .unwrap();
        assert_eq!(
            template.replace_recordings(configs).unwrap_err(),
            [r#"recordings[0].role names role "ghost", which does not exist in the template"#]
        );
        assert_eq!(
            template.replace_recordings(Vec::new()).unwrap_err(),
            ["recordings must hold exactly one recording config, not 0"]
        );

        let configs: Vec<RecordingConfig> = serde_json::from_value(json!([
            {"name": "rec", "role": "host", "trackRecording": {"enabled": false},
             "compositeRecording": {"browserComposite": {"autoStart": true}}}
        ]))
        .unwrap();
        template.replace_recordings(configs).unwrap();
        assert_eq!(
            serde_json::to_value(&template.recordings).unwrap(),
            json!([{"name": "rec", "role": "host", "trackRecording": {},
                    "compositeRecording": {"browserComposite": {"autoStart": true}}}])
        );
    }
}
