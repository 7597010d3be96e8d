//! Builds the protocol's messages from the runtime's view of a room.

use hms_store::TemplateRecord;
use hms_types::PreciseTime;
use hms_types::active_room::Track;
use hms_types::signal::{
    Notification, PeerInfo, PeerNotification, PeerNotificationInfo, PolicyParams, Response, RpcError, TrackState,
};
use hms_types::template::Role;
use indexmap::IndexMap;
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::runtime::LivePeer;

/// A notification as the socket sends it.
pub fn notification<P: Serialize>(method: &'static str, params: P) -> String {
    serde_json::to_string(&Notification { method, params }).expect("notifications serialise")
}

pub fn result(id: Value, result: Value) -> String {
    let response = Response {
        id,
        jsonrpc: "2.0",
        // The client takes a falsy result for an error.
        result: Some(if is_truthy(&result) { result } else { json!({}) }),
        error: None,
    };
    serde_json::to_string(&response).expect("responses serialise")
}

pub fn error(id: Value, code: u16, message: impl Into<String>) -> String {
    let response = Response {
        id,
        jsonrpc: "2.0",
        result: None,
        error: Some(RpcError {
            code,
            message: message.into(),
        }),
    };
    serde_json::to_string(&response).expect("responses serialise")
}

fn is_truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|n| n != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

pub fn millis(at: PreciseTime) -> i64 {
    (at.unix_nanos() / 1_000_000) as i64
}

/// `on-policy-change` for a peer of `role` in a room of `template`.
pub fn policy(template: &TemplateRecord, role: &str) -> PolicyParams {
    let known_roles = template
        .body
        .roles
        .iter()
        .map(|(name, role)| (name.clone(), role_policy(role)))
        .collect();
    PolicyParams {
        name: role.to_owned(),
        template_id: template.id.clone(),
        app_data: Map::new(),
        plugins: Map::new(),
        known_roles,
    }
}

/// A role as the client reads it: every part it reads unguarded is present.
fn role_policy(role: &Role) -> Value {
    let mut value = serde_json::to_value(role).expect("roles serialise");
    if let Some(publish) = value.get_mut("publishParams").and_then(Value::as_object_mut) {
        publish.entry("allowed").or_insert_with(|| json!([]));
        publish
            .entry("simulcast")
            .or_insert_with(|| json!({"video": {"layers": []}, "screen": {"layers": []}}));
    }
    value
}

pub fn peer_info(peer: &LivePeer) -> PeerInfo {
    PeerInfo {
        name: peer.name.clone(),
        data: peer.metadata.clone(),
        user_id: peer.user_id.clone(),
        kind: "regular",
    }
}

/// A peer as track and chat messages name it.
pub fn peer_notification_info(peer: &LivePeer) -> PeerNotificationInfo {
    PeerNotificationInfo {
        peer_id: peer.id.clone(),
        role: peer.role.clone(),
        groups: Vec::new(),
        info: peer_info(peer),
    }
}

pub fn track_state(track: &Track) -> TrackState {
    TrackState {
        track_id: track.id.clone(),
        stream_id: track.stream_id.clone(),
        kind: track.kind.clone(),
        source: track.source.clone(),
        mute: track.mute,
        description: track.description.clone(),
    }
}

pub fn peer_notification(peer: &LivePeer) -> PeerNotification {
    let tracks: IndexMap<String, TrackState> = peer
        .tracks
        .values()
        .map(|track| (track.id.clone(), track_state(track)))
        .collect();
    PeerNotification {
        peer_id: peer.id.clone(),
        role: peer.role.clone(),
        joined_at: millis(peer.joined_at),
        groups: Vec::new(),
        realtime: true,
        info: peer_info(peer),
        tracks,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_falsy_result_becomes_an_empty_object() {
        for falsy in [Value::Null, json!(false), json!(0), json!("")] {
            let text = result(json!("1"), falsy);
            assert_eq!(text, r#"{"id":"1","jsonrpc":"2.0","result":{}}"#);
        }
        assert_eq!(
            result(json!("2"), json!({"a": 1})),
            r#"{"id":"2","jsonrpc":"2.0","result":{"a":1}}"#
        );
    }

    #[test]
    fn notifications_carry_no_id() {
        let text = notification("on-peer-leave", json!({"peer_id": "p"}));
        assert_eq!(text, r#"{"method":"on-peer-leave","params":{"peer_id":"p"}}"#);
    }
}
