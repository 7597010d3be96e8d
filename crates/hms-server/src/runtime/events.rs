//! Builds the webhook events that describe changes of live state.

use hms_store::EventRecord;
use hms_types::PreciseTime;
use hms_types::webhook::{EVENT_VERSION, PeerData, RoleChangeData, RoomEndData, SessionData, WebhookEvent, kind};
use serde::Serialize;

use super::state::{LivePeer, LiveSession};

/// `type` of peers in events: every peer openhms knows joined over WebRTC or the simulator.
const REGULAR_PEER: &str = "regular";

pub fn session_open(session: &LiveSession) -> EventRecord {
    event(
        session,
        kind::SESSION_OPEN,
        session.started_at,
        session_data(session, None),
    )
}

pub fn session_close(session: &LiveSession, at: PreciseTime) -> EventRecord {
    event(session, kind::SESSION_CLOSE, at, session_data(session, Some(at)))
}

fn session_data(session: &LiveSession, stopped_at: Option<PreciseTime>) -> SessionData {
    SessionData {
        room_id: session.room_id.clone(),
        room_name: session.room_name.clone(),
        session_id: session.id.clone(),
        template_id: session.template_id.clone(),
        session_started_at: session.started_at.to_trimmed_string(),
        session_stopped_at: stopped_at.map(PreciseTime::to_trimmed_string),
        session_duration: stopped_at.map(|at| session.started_at.seconds_until(at)),
    }
}

pub fn peer_join(session: &LiveSession, peer: &LivePeer) -> EventRecord {
    event(session, kind::PEER_JOIN, peer.joined_at, peer_data(session, peer))
}

/// `message` is always sent, empty when there is no text, so receivers need no branch.
pub fn peer_leave(session: &LiveSession, peer: &LivePeer, at: PreciseTime, reason: &str, message: &str) -> EventRecord {
    let data = PeerData {
        left_at: Some(at.to_trimmed_string()),
        duration: Some(peer.joined_at.seconds_until(at)),
        reason: Some(reason.to_owned()),
        message: Some(message.to_owned()),
        ..peer_data(session, peer)
    };
    event(session, kind::PEER_LEAVE, at, data)
}

fn peer_data(session: &LiveSession, peer: &LivePeer) -> PeerData {
    PeerData {
        room_id: session.room_id.clone(),
        room_name: session.room_name.clone(),
        session_id: session.id.clone(),
        peer_id: peer.id.clone(),
        user_id: peer.user_id.clone(),
        template_id: session.template_id.clone(),
        user_name: peer.name.clone(),
        user_data: peer.metadata.clone(),
        role: peer.role.clone(),
        joined_at: peer.joined_at.to_trimmed_string(),
        session_started_at: session.started_at.to_trimmed_string(),
        peer_type: REGULAR_PEER.to_owned(),
        left_at: None,
        duration: None,
        reason: None,
        message: None,
    }
}

/// A room ended through the API: no peer ended it, so the peer fields are empty.
pub fn room_end(session: &LiveSession, at: PreciseTime, reason: &str, lock: bool) -> EventRecord {
    let data = RoomEndData {
        room_id: session.room_id.clone(),
        room_name: session.room_name.clone(),
        session_id: session.id.clone(),
        peer_id: String::new(),
        user_id: String::new(),
        template_id: session.template_id.clone(),
        user_name: String::new(),
        role: String::new(),
        lock_room: lock,
        reason: reason.to_owned(),
        source: "api".to_owned(),
        session_started_at: session.started_at.to_trimmed_string(),
    };
    event(session, kind::ROOM_END, at, data)
}

/// A role changed through the API, so `role_change_requested_by` is absent.
pub fn role_change(session: &LiveSession, peer: &LivePeer, previous_role: &str, at: PreciseTime) -> EventRecord {
    let data = RoleChangeData {
        room_id: session.room_id.clone(),
        room_name: session.room_name.clone(),
        session_id: session.id.clone(),
        template_id: session.template_id.clone(),
        peer_id: peer.id.clone(),
        user_id: peer.user_id.clone(),
        user_name: peer.name.clone(),
        user_data: peer.metadata.clone(),
        previous_role: previous_role.to_owned(),
        role: peer.role.clone(),
        joined_at: peer.joined_at.to_trimmed_string(),
        session_started_at: session.started_at.to_trimmed_string(),
        role_changed_at: at.to_trimmed_string(),
        role_change_requested_by: None,
    };
    event(session, kind::ROLE_CHANGE, at, data)
}

fn event(session: &LiveSession, kind: &str, at: PreciseTime, data: impl Serialize) -> EventRecord {
    let envelope = WebhookEvent {
        version: EVENT_VERSION.to_owned(),
        id: crate::ids::uuid(),
        account_id: session.account_id.clone(),
        app_id: session.app_id.clone(),
        template_id: Some(session.template_id.clone()),
        timestamp: at.to_seconds_string(),
        kind: kind.to_owned(),
        data: serde_json::to_value(data).expect("event data serialises"),
        is_replay: false,
    };
    EventRecord {
        id: envelope.id.clone(),
        workspace_id: session.workspace_id.clone(),
        room_id: session.room_id.clone(),
        kind: kind.to_owned(),
        payload: serde_json::to_string(&envelope).expect("events serialise"),
        created_at: at,
    }
}

/// A join refused by the room: no session fields, since the peer never got into one.
pub fn peer_join_failure(session: &LiveSession, peer: &LivePeer, error_message: &str) -> EventRecord {
    let data = hms_types::webhook::PeerJoinFailureData {
        room_id: session.room_id.clone(),
        room_name: session.room_name.clone(),
        peer_id: peer.id.clone(),
        user_id: peer.user_id.clone(),
        template_id: session.template_id.clone(),
        user_name: peer.name.clone(),
        user_data: peer.metadata.clone(),
        role: peer.role.clone(),
        joined_at: PreciseTime::from_unix_nanos(i128::from(hms_types::Timestamp::UNSET_MILLIS) * 1_000_000)
            .to_seconds_string(),
        error_message: error_message.to_owned(),
        peer_type: REGULAR_PEER.to_owned(),
    };
    event(session, kind::PEER_JOIN_FAILURE, PreciseTime::now(), data)
}

/// A role change through the API that the role's limit refused.
pub fn role_change_failure(session: &LiveSession, peer: &LivePeer, role: &str, error_message: &str) -> EventRecord {
    let data = hms_types::webhook::RoleChangeFailureData {
        room_id: session.room_id.clone(),
        room_name: session.room_name.clone(),
        session_id: session.id.clone(),
        template_id: session.template_id.clone(),
        peer_id: peer.id.clone(),
        user_id: peer.user_id.clone(),
        user_name: peer.name.clone(),
        user_data: peer.metadata.clone(),
        role: role.to_owned(),
        joined_at: peer.joined_at.to_trimmed_string(),
        session_started_at: session.started_at.to_trimmed_string(),
        error_message: error_message.to_owned(),
        role_change_requested_by: None,
    };
    event(session, kind::ROLE_CHANGE_FAILURE, PreciseTime::now(), data)
}
