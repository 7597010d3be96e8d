//! Rooms: `/v2/rooms`.

use std::borrow::Cow;

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{PageQuery, Timestamp, json};

/// A room as the API returns it.
#[derive(JsonSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Room {
    pub id: String,
    pub name: String,
    pub enabled: bool,
    pub description: String,
    pub customer_id: String,
    /// Deprecated duplicate of `customer_id`, still sent by 100ms.
    pub customer: String,
    pub app_id: String,
    /// True while the room follows its template's recording settings.
    pub recording_source_template: bool,
    pub recording_info: Option<RecordingInfo>,
    pub template_id: String,
    /// Deprecated: the template's name.
    pub template: String,
    pub region: String,
    pub large_room: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_duration_seconds: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub polls: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<RoomWebhook>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A room as the API returns it, borrowing its strings from where they were read: a list
/// writes a hundred of them into its answer with [`RoomRef::write_json`], copying none.
#[derive(Debug, Clone, PartialEq)]
pub struct RoomRef<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub enabled: bool,
    pub description: &'a str,
    /// Also written as the deprecated `customer`.
    pub customer_id: &'a str,
    pub app_id: &'a str,
    pub recording_source_template: bool,
    pub recording_info: Cow<'a, RecordingInfo>,
    pub template_id: &'a str,
    pub template: &'a str,
    pub region: &'a str,
    pub large_room: bool,
    pub size: Option<u32>,
    pub max_duration_seconds: Option<u32>,
    pub polls: Option<&'a [String]>,
    pub webhook: Option<&'a RoomWebhook>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl RoomRef<'_> {
    /// Writes the room as `serde_json` writes its [`Room`], byte for byte.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"id\":");
        json::write_str(out, self.id);
        out.extend_from_slice(b",\"name\":");
        json::write_str(out, self.name);
        out.extend_from_slice(b",\"enabled\":");
        json::write_bool(out, self.enabled);
        out.extend_from_slice(b",\"description\":");
        json::write_str(out, self.description);
        out.extend_from_slice(b",\"customer_id\":");
        json::write_str(out, self.customer_id);
        out.extend_from_slice(b",\"customer\":");
        json::write_str(out, self.customer_id);
        out.extend_from_slice(b",\"app_id\":");
        json::write_str(out, self.app_id);
        out.extend_from_slice(b",\"recording_source_template\":");
        json::write_bool(out, self.recording_source_template);
        out.extend_from_slice(b",\"recording_info\":");
        match self.recording_info.as_ref() {
            RecordingInfo {
                enabled,
                upload_info: None,
            } => {
                out.extend_from_slice(b"{\"enabled\":");
                json::write_bool(out, *enabled);
                out.push(b'}');
            }
            with_upload => json::write_value(out, with_upload),
        }
        out.extend_from_slice(b",\"template_id\":");
        json::write_str(out, self.template_id);
        out.extend_from_slice(b",\"template\":");
        json::write_str(out, self.template);
        out.extend_from_slice(b",\"region\":");
        json::write_str(out, self.region);
        out.extend_from_slice(b",\"large_room\":");
        json::write_bool(out, self.large_room);
        if let Some(size) = self.size {
            out.extend_from_slice(b",\"size\":");
            json::write_value(out, &size);
        }
        if let Some(seconds) = self.max_duration_seconds {
            out.extend_from_slice(b",\"max_duration_seconds\":");
            json::write_value(out, &seconds);
        }
        if let Some(polls) = self.polls {
            out.extend_from_slice(b",\"polls\":");
            json::write_value(out, polls);
        }
        if let Some(webhook) = self.webhook {
            out.extend_from_slice(b",\"webhook\":");
            json::write_value(out, webhook);
        }
        out.extend_from_slice(b",\"created_at\":");
        self.created_at.write_json(out);
        out.extend_from_slice(b",\"updated_at\":");
        self.updated_at.write_json(out);
        out.push(b'}');
    }

    /// The room as an owned [`Room`].
    pub fn to_room(&self) -> Room {
        Room {
            id: self.id.to_owned(),
            name: self.name.to_owned(),
            enabled: self.enabled,
            description: self.description.to_owned(),
            customer_id: self.customer_id.to_owned(),
            customer: self.customer_id.to_owned(),
            app_id: self.app_id.to_owned(),
            recording_source_template: self.recording_source_template,
            recording_info: Some(self.recording_info.clone().into_owned()),
            template_id: self.template_id.to_owned(),
            template: self.template.to_owned(),
            region: self.region.to_owned(),
            large_room: self.large_room,
            size: self.size,
            max_duration_seconds: self.max_duration_seconds,
            polls: self.polls.map(<[String]>::to_vec),
            webhook: self.webhook.cloned(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// Recording settings of a room (`recording_info`).
#[derive(JsonSchema, Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RecordingInfo {
    #[serde(default)]
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_info: Option<UploadInfo>,
}

/// Where a room's recordings are uploaded.
#[derive(JsonSchema, Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UploadInfo {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub location: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<UploadOptions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<UploadCredentials>,
}

#[derive(JsonSchema, Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UploadOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

#[derive(JsonSchema, Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UploadCredentials {
    pub key: String,
    pub secret: String,
}

/// A room's own webhook endpoint, used instead of the workspace's.
#[derive(JsonSchema, Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RoomWebhook {
    pub url: String,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub headers: IndexMap<String, String>,
}

/// Body of `POST /v2/rooms` (create or upsert by name) and `POST /v2/rooms/{id}`
/// (update, enable, disable). Every field is optional.
#[derive(JsonSchema, Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RoomParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording_info: Option<RecordingInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub large_room: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_duration_seconds: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub polls: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<RoomWebhook>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// The v1 field; 100ms refuses it with a hint to use `template_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<serde_json::Value>,
}

/// Query of `GET /v2/rooms`: filters and pagination.
#[derive(JsonSchema, Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RoomFilter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
}

impl RoomFilter {
    pub fn page(&self) -> PageQuery {
        PageQuery {
            limit: self.limit,
            start: self.start.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A room borrowed from `room`, as a list would write it.
    fn borrowed(room: &Room) -> RoomRef<'_> {
        RoomRef {
            id: &room.id,
            name: &room.name,
            enabled: room.enabled,
            description: &room.description,
            customer_id: &room.customer_id,
            app_id: &room.app_id,
            recording_source_template: room.recording_source_template,
            recording_info: Cow::Borrowed(room.recording_info.as_ref().unwrap()),
            template_id: &room.template_id,
            template: &room.template,
            region: &room.region,
            large_room: room.large_room,
            size: room.size,
            max_duration_seconds: room.max_duration_seconds,
            polls: room.polls.as_deref(),
            webhook: room.webhook.as_ref(),
            created_at: room.created_at,
            updated_at: room.updated_at,
        }
    }

    fn plain() -> Room {
        Room {
            id: "65000000be0c000000000001".into(),
            name: "bench-room-1".into(),
            enabled: true,
            description: String::new(),
            customer_id: "65000000be0c0000000000c1".into(),
            customer: "65000000be0c0000000000c1".into(),
            app_id: "65000000be0c0000000000a1".into(),
            recording_source_template: true,
            recording_info: Some(RecordingInfo::default()),
            template_id: "65000000be0c0000000000f1".into(),
            template: "default".into(),
            region: "in".into(),
            large_room: false,
            size: None,
            max_duration_seconds: None,
            polls: None,
            webhook: None,
            created_at: Timestamp::from_unix_millis(1_662_723_668_082),
            updated_at: Timestamp::from_unix_millis(1_662_723_668_000),
        }
    }

    fn with_everything() -> Room {
        Room {
            name: "every.field:set".into(),
            enabled: false,
            description: "a \"quoted\" line\nand a tab\t, é and 🙂".into(),
            recording_source_template: false,
            recording_info: Some(RecordingInfo {
                enabled: true,
                upload_info: Some(UploadInfo {
                    kind: "s3".into(),
                    location: "bucket".into(),
                    prefix: Some("rec/\\".into()),
                    options: Some(UploadOptions {
                        region: Some("eu-west-1".into()),
                    }),
                    credentials: None,
                }),
            }),
            template: "tmpl \u{1}".into(),
            region: "eu".into(),
            large_room: true,
            size: Some(20_000),
            max_duration_seconds: Some(3_600),
            polls: Some(vec!["poll-1".into(), "poll \"2\"".into()]),
            webhook: Some(RoomWebhook {
                url: "https://example.com/hook?a=1&b=2".into(),
                headers: [("X-Key".to_owned(), "v\\1".to_owned())].into_iter().collect(),
            }),
            ..plain()
        }
    }

    #[test]
    fn written_json_is_serde_json_byte_for_byte() {
        let mut enabled_recording = plain();
        enabled_recording.recording_info = Some(RecordingInfo {
            enabled: true,
            upload_info: None,
        });
        for room in [plain(), enabled_recording, with_everything()] {
            let mut out = Vec::new();
            borrowed(&room).write_json(&mut out);
            assert_eq!(String::from_utf8(out).unwrap(), serde_json::to_string(&room).unwrap());
        }
    }

    #[test]
    fn owned_form_is_the_same_room() {
        for room in [plain(), with_everything()] {
            assert_eq!(borrowed(&room).to_room(), room);
        }
    }
}
