//! Every operation of the API, in the order the documentation presents them.

use hms_types::active_room::{
    Acknowledgement, ActivePeer, ActiveRoom, EndRoom, PeerFilter, PeerList, PeerUpdate, RemovePeers, SendMessage,
};
use hms_types::room::{Room, RoomFilter, RoomParams};
use hms_types::room_code::{RoomCode, RoomCodeFilter, RoomCodeList, RoomCodeUpdate};
use hms_types::session::{Session, SessionFilter};
use hms_types::simulate::{Deliveries, EventLog, EventLogQuery, SimulatedJoin};
use hms_types::template::{Destinations, RecordingConfig, Role, RoleParams, Settings, Template, TemplateParams};
use hms_types::token::{TokenRequest, TokenResponse};
use hms_types::webhook::{ReplayRequest, ReplayStarted, ReplayStatus, WebhookHistory, WebhookHistoryQuery};
use hms_types::{Page, PageQuery};
use serde_json::json;

use crate::{Auth, Body, Group, Method, Operation, Response, schema};

/// The defaults every entry starts from: a management-token read with no input.
const fn base(
    name: &'static str,
    group: Group,
    command: &'static str,
    method: Method,
    path: &'static str,
) -> Operation {
    Operation {
        name,
        group,
        command,
        method,
        path,
        summary: "",
        description: "",
        auth: Auth::Management,
        query: None,
        body: Body::None,
        response: Response::NoContent,
        paginated: false,
        read_only: matches!(method, Method::Get),
        destructive: false,
        idempotent: matches!(method, Method::Get),
        example: None,
        alias_of: None,
        simulator: false,
        errors: &[],
    }
}

pub static OPERATIONS: &[Operation] = &[
    // Rooms.
    Operation {
        summary: "Create a room, or update the room of the same name",
        description: "Creates a room from a template (the workspace's default template when template_id is left \
                      out). A room whose name already exists, in any letter case, is updated with the given fields \
                      and returned instead, so the call is safe to repeat.",
        body: Body::Json(schema::<RoomParams>),
        response: Response::Json(schema::<Room>),
        idempotent: true,
        example: Some(|| json!({"name": "standup", "description": "Daily standup", "region": "eu"})),
        errors: &[404, 409],
        ..base("create-room", Group::Rooms, "create", Method::Post, "/v2/rooms")
    },
    Operation {
        summary: "Retrieve a room",
        description: "Answers the room with this id (or, failing that, this name).",
        response: Response::Json(schema::<Room>),
        ..base("get-room", Group::Rooms, "get", Method::Get, "/v2/rooms/{room_id}")
    },
    Operation {
        summary: "List rooms",
        description: "Lists rooms, newest first: only enabled ones unless `enabled` is given. Filter by name, \
                      template_id, or creation time with after/before.",
        query: Some(schema::<RoomFilter>),
        response: Response::Json(schema::<Page<Room>>),
        paginated: true,
        ..base("list-rooms", Group::Rooms, "list", Method::Get, "/v2/rooms")
    },
    Operation {
        summary: "Update a room",
        description: "Changes the given fields of a room; fields left out keep their values.",
        body: Body::Json(schema::<RoomParams>),
        response: Response::Json(schema::<Room>),
        idempotent: true,
        example: Some(|| json!({"description": "Renamed standup"})),
        errors: &[409],
        ..base(
            "update-room",
            Group::Rooms,
            "update",
            Method::Post,
            "/v2/rooms/{room_id}",
        )
    },
    Operation {
        summary: "Enable a room",
        description: "Lets peers join the room again.",
        body: Body::Fixed(|| json!({"enabled": true})),
        response: Response::Json(schema::<Room>),
        idempotent: true,
        errors: &[409],
        ..base(
            "enable-room",
            Group::Rooms,
            "enable",
            Method::Post,
            "/v2/rooms/{room_id}",
        )
    },
    Operation {
        summary: "Disable a room",
        description: "Stops new peers from joining the room and its room codes from working; peers already in \
                      the session stay.",
        body: Body::Fixed(|| json!({"enabled": false})),
        response: Response::Json(schema::<Room>),
        idempotent: true,
        destructive: true,
        errors: &[409],
        ..base(
            "disable-room",
            Group::Rooms,
            "disable",
            Method::Post,
            "/v2/rooms/{room_id}",
        )
    },
    // Room codes.
    Operation {
        summary: "Create room codes for every role of a room",
        description: "Makes sure every role of the room's template has an enabled room code (creating the missing \
                      ones), disables codes of roles no longer in the template, and answers every code of the room.",
        response: Response::Json(schema::<RoomCodeList>),
        idempotent: true,
        errors: &[403],
        ..base(
            "create-room-codes",
            Group::RoomCodes,
            "create",
            Method::Post,
            "/v2/room-codes/room/{room_id}",
        )
    },
    Operation {
        summary: "Create a room code for one role",
        description: "Creates a new room code for the role on every call (a room holds at most 100 codes).",
        response: Response::Json(schema::<RoomCode>),
        errors: &[403],
        ..base(
            "create-room-code-for-role",
            Group::RoomCodes,
            "create-for-role",
            Method::Post,
            "/v2/room-codes/room/{room_id}/role/{role}",
        )
    },
    Operation {
        summary: "List the room codes of a room",
        description: "Lists a room's codes in creation order, optionally only those of a role or only enabled or \
                      disabled ones.",
        query: Some(schema::<RoomCodeFilter>),
        response: Response::Json(schema::<Page<RoomCode>>),
        paginated: true,
        errors: &[403],
        ..base(
            "get-room-codes",
            Group::RoomCodes,
            "list",
            Method::Get,
            "/v2/room-codes/room/{room_id}",
        )
    },
    Operation {
        summary: "Enable or disable a room code",
        description: "Sets whether a room code works: a disabled code can no longer be exchanged for a token. \
                      The body is {\"enabled\": true|false}.",
        body: Body::Json(schema::<RoomCodeUpdate>),
        response: Response::Json(schema::<RoomCode>),
        idempotent: true,
        example: Some(|| json!({"enabled": false})),
        errors: &[403],
        ..base(
            "update-room-code",
            Group::RoomCodes,
            "update",
            Method::Post,
            "/v2/room-codes/code/{code}",
        )
    },
    Operation {
        summary: "Enable or disable a room code (code in the body)",
        description: "The form the Node server SDK sends: {\"code\": \"…\", \"enabled\": true|false}.",
        body: Body::Json(schema::<RoomCodeUpdate>),
        response: Response::Json(schema::<RoomCode>),
        idempotent: true,
        alias_of: Some("update-room-code"),
        example: Some(|| json!({"code": "abc-defg-hij", "enabled": false})),
        errors: &[403, 404],
        ..base(
            "update-room-code-by-body",
            Group::RoomCodes,
            "update-by-body",
            Method::Post,
            "/v2/room-codes/code",
        )
    },
    Operation {
        summary: "Exchange a room code for an app token",
        description: "What client apps call to join a room with a room code: answers an app token for the code's \
                      room and role. Needs no management token: the code is the credential.",
        auth: Auth::None,
        body: Body::Json(schema::<TokenRequest>),
        response: Response::Json(schema::<TokenResponse>),
        example: Some(|| json!({"code": "abc-defg-hij", "user_id": "alice"})),
        errors: &[403, 404],
        ..base("exchange-room-code", Group::Auth, "exchange", Method::Post, "/v2/token")
    },
    // Templates.
    Operation {
        summary: "Create a template, or overwrite the template of the same name",
        description: "Creates a template (policy): its roles, settings and destinations. Roles given as {} get \
                      defaults. A template whose name exists is overwritten and keeps its id.",
        body: Body::Json(schema::<TemplateParams>),
        response: Response::Json(schema::<Template>),
        idempotent: true,
        example: Some(|| json!({"name": "webinar", "roles": {"host": {}, "viewer": {}}})),
        errors: &[409],
        ..base(
            "create-template",
            Group::Templates,
            "create",
            Method::Post,
            "/v2/templates",
        )
    },
    Operation {
        summary: "List templates",
        description: "Lists the workspace's templates, newest first.",
        query: Some(schema::<PageQuery>),
        response: Response::Json(schema::<Page<Template>>),
        paginated: true,
        ..base("list-templates", Group::Templates, "list", Method::Get, "/v2/templates")
    },
    Operation {
        summary: "Retrieve a template",
        description: "Answers the whole template: roles, settings, destinations.",
        response: Response::Json(schema::<Template>),
        ..base(
            "get-template",
            Group::Templates,
            "get",
            Method::Get,
            "/v2/templates/{template_id}",
        )
    },
    Operation {
        summary: "Replace a template",
        description: "Replaces the whole template with the body: roles and settings are required, and roles left \
                      out are removed. Fetch, modify and post back.",
        body: Body::Json(schema::<TemplateParams>),
        response: Response::Json(schema::<Template>),
        idempotent: true,
        destructive: true,
        example: Some(|| json!({"roles": {"host": {}, "guest": {}}, "settings": {"region": "eu"}})),
        errors: &[409],
        ..base(
            "update-template",
            Group::Templates,
            "update",
            Method::Post,
            "/v2/templates/{template_id}",
        )
    },
    Operation {
        summary: "Retrieve a role",
        description: "Answers one role of a template: what it may publish, subscribe to and do.",
        response: Response::Json(schema::<Role>),
        ..base(
            "get-role",
            Group::Roles,
            "get",
            Method::Get,
            "/v2/templates/{template_id}/roles/{role}",
        )
    },
    Operation {
        summary: "Create or replace a role",
        description: "Creates the role or replaces it whole (fields left out get defaults). A `name` in the body \
                      different from the path renames the role.",
        body: Body::Json(schema::<RoleParams>),
        response: Response::Json(schema::<Role>),
        idempotent: true,
        example: Some(|| json!({"publishParams": {"allowed": ["audio", "video"]}, "maxPeerCount": 10})),
        errors: &[409],
        ..base(
            "upsert-role",
            Group::Roles,
            "upsert",
            Method::Post,
            "/v2/templates/{template_id}/roles/{role}",
        )
    },
    Operation {
        summary: "Delete a role",
        description: "Removes a role from a template. Its room codes stop working.",
        response: Response::NoContent,
        idempotent: true,
        destructive: true,
        errors: &[409],
        ..base(
            "delete-role",
            Group::Roles,
            "delete",
            Method::Delete,
            "/v2/templates/{template_id}/roles/{role}",
        )
    },
    Operation {
        summary: "Retrieve a template's settings",
        description: "Answers region, recording storage and room-state settings.",
        response: Response::Json(schema::<Settings>),
        ..base(
            "get-template-settings",
            Group::Templates,
            "get-settings",
            Method::Get,
            "/v2/templates/{template_id}/settings",
        )
    },
    Operation {
        summary: "Replace a template's settings",
        description: "Replaces region, recording storage and room-state settings.",
        body: Body::Json(schema::<Settings>),
        response: Response::Json(schema::<Settings>),
        idempotent: true,
        example: Some(
            || json!({"region": "eu", "roomState": {"messageInterval": 5, "sendPeerList": false, "enabled": true}}),
        ),
        errors: &[409],
        ..base(
            "update-template-settings",
            Group::Templates,
            "update-settings",
            Method::Post,
            "/v2/templates/{template_id}/settings",
        )
    },
    Operation {
        summary: "Retrieve a template's destinations",
        description: "Answers the RTMP, HLS and transcription destinations.",
        response: Response::Json(schema::<Destinations>),
        ..base(
            "get-template-destinations",
            Group::Templates,
            "get-destinations",
            Method::Get,
            "/v2/templates/{template_id}/destinations",
        )
    },
    Operation {
        summary: "Replace a template's destinations",
        description: "Replaces the RTMP, HLS and transcription destinations.",
        body: Body::Json(schema::<Destinations>),
        response: Response::Json(schema::<Destinations>),
        idempotent: true,
        example: Some(|| json!({"hlsDestinations": {"hls": {"name": "hls", "playlistType": "live"}}})),
        errors: &[409],
        ..base(
            "update-template-destinations",
            Group::Templates,
            "update-destinations",
            Method::Post,
            "/v2/templates/{template_id}/destinations",
        )
    },
    Operation {
        summary: "Retrieve a template's recording configs",
        description: "Answers the template's recording configurations (an array).",
        response: Response::Json(schema::<Vec<RecordingConfig>>),
        ..base(
            "get-template-recordings",
            Group::Templates,
            "get-recordings",
            Method::Get,
            "/v2/templates/{template_id}/recordings",
        )
    },
    Operation {
        summary: "Configure a template's recordings",
        description: "Replaces the recording configurations: an array with exactly one config whose role exists.",
        body: Body::Json(schema::<Vec<RecordingConfig>>),
        response: Response::Json(schema::<Vec<RecordingConfig>>),
        idempotent: true,
        example: Some(|| json!([{"name": "main", "role": "host", "trackRecording": {"enabled": true}}])),
        errors: &[409],
        ..base(
            "update-template-recordings",
            Group::Templates,
            "update-recordings",
            Method::Post,
            "/v2/templates/{template_id}/recordings",
        )
    },
    // Sessions.
    Operation {
        summary: "List sessions",
        description: "Lists sessions (calls) newest first, with every peer that joined them. Filter by room_id, \
                      active, or start time with after/before.",
        query: Some(schema::<SessionFilter>),
        response: Response::Json(schema::<Page<Session>>),
        paginated: true,
        ..base("list-sessions", Group::Sessions, "list", Method::Get, "/v2/sessions")
    },
    Operation {
        summary: "List sessions (with a trailing slash)",
        description: "The same list; 100ms's docs write its path with a trailing slash in one place.",
        query: Some(schema::<SessionFilter>),
        response: Response::Json(schema::<Page<Session>>),
        paginated: true,
        alias_of: Some("list-sessions"),
        ..base(
            "list-sessions-trailing-slash",
            Group::Sessions,
            "list-trailing-slash",
            Method::Get,
            "/v2/sessions/",
        )
    },
    Operation {
        summary: "Retrieve a session",
        description: "Answers a session with every peer's join and leave times.",
        response: Response::Json(schema::<Session>),
        ..base(
            "get-session",
            Group::Sessions,
            "get",
            Method::Get,
            "/v2/sessions/{session_id}",
        )
    },
    // Active rooms.
    Operation {
        summary: "Retrieve an active room",
        description: "Answers the running session of a room and the ids of its connected peers; 404 when nobody \
                      is in the room.",
        response: Response::Json(schema::<ActiveRoom>),
        ..base(
            "get-active-room",
            Group::ActiveRooms,
            "get",
            Method::Get,
            "/v2/active-rooms/{room_id}",
        )
    },
    Operation {
        summary: "List the peers of an active room",
        description: "Lists the connected peers of a room, optionally only those of a user_id or role.",
        query: Some(schema::<PeerFilter>),
        response: Response::Json(schema::<PeerList>),
        ..base(
            "list-active-room-peers",
            Group::ActiveRooms,
            "peers",
            Method::Get,
            "/v2/active-rooms/{room_id}/peers",
        )
    },
    Operation {
        summary: "Retrieve a peer of an active room",
        description: "Answers a connected peer with its tracks.",
        response: Response::Json(schema::<ActivePeer>),
        ..base(
            "get-active-room-peer",
            Group::ActiveRooms,
            "peer",
            Method::Get,
            "/v2/active-rooms/{room_id}/peers/{peer_id}",
        )
    },
    Operation {
        summary: "Update a peer of an active room",
        description: "Renames a connected peer, moves it to another role of the template, or replaces its \
                      metadata; fields left out keep their values.",
        body: Body::Json(schema::<PeerUpdate>),
        response: Response::Json(schema::<ActivePeer>),
        idempotent: true,
        example: Some(|| json!({"name": "Ann (host)", "metadata": "{\"isHandRaised\":false}"})),
        errors: &[403, 409],
        ..base(
            "update-active-room-peer",
            Group::ActiveRooms,
            "update-peer",
            Method::Post,
            "/v2/active-rooms/{room_id}/peers/{peer_id}",
        )
    },
    Operation {
        summary: "Send a message in an active room",
        description: "Sends a message to one peer (peer_id), to every peer of a role, or to everyone.",
        body: Body::Json(schema::<SendMessage>),
        response: Response::Json(schema::<Acknowledgement>),
        example: Some(|| json!({"message": "The session ends in 5 minutes", "type": "chat"})),
        errors: &[409],
        ..base(
            "send-message",
            Group::ActiveRooms,
            "send-message",
            Method::Post,
            "/v2/active-rooms/{room_id}/send-message",
        )
    },
    Operation {
        summary: "Remove peers from an active room",
        description: "Removes one peer (peer_id) or every peer of a role from the running session, telling them \
                      the reason.",
        body: Body::Json(schema::<RemovePeers>),
        response: Response::Json(schema::<Acknowledgement>),
        destructive: true,
        example: Some(|| json!({"role": "guest", "reason": "The session is over"})),
        errors: &[409],
        ..base(
            "remove-peers",
            Group::ActiveRooms,
            "remove-peers",
            Method::Post,
            "/v2/active-rooms/{room_id}/remove-peers",
        )
    },
    Operation {
        summary: "End an active room",
        description: "Ends the running session, removing everyone. With lock, also disables the room so that \
                      nobody can rejoin until it is enabled again.",
        body: Body::Json(schema::<EndRoom>),
        response: Response::Json(schema::<Acknowledgement>),
        destructive: true,
        example: Some(|| json!({"reason": "Time is up", "lock": false})),
        errors: &[409],
        ..base(
            "end-active-room",
            Group::ActiveRooms,
            "end",
            Method::Post,
            "/v2/active-rooms/{room_id}/end-room",
        )
    },
    // Webhook history and replays.
    Operation {
        summary: "List webhook deliveries",
        description: "Lists webhook deliveries newest first, by page number: each event sent to each endpoint, \
                      whether it succeeded, failed for good, or is still being retried, and why it failed. Filter \
                      by time window (start_time within the last 30 days, at most 14 days wide), room_id, status \
                      (all, failed, success) and event_names.",
        query: Some(schema::<WebhookHistoryQuery>),
        response: Response::Json(schema::<WebhookHistory>),
        ..base(
            "list-webhook-deliveries",
            Group::Analytics,
            "history",
            Method::Get,
            "/v2/analytics/webhooks",
        )
    },
    Operation {
        summary: "Replay webhooks",
        description: "Sends past events again, marked is_replay, to the endpoints configured now, at a bounded \
                      rate; by default the failed deliveries of the last 24 hours. The same filters while a replay \
                      of them runs answer that replay (status already_running).",
        body: Body::Json(schema::<ReplayRequest>),
        response: Response::Json(schema::<ReplayStarted>),
        idempotent: true,
        example: Some(|| json!({"status": "failed", "event_names": ["peer.join.success", "peer.leave.success"]})),
        ..base(
            "replay-webhooks",
            Group::Analytics,
            "replay",
            Method::Post,
            "/v2/analytics/webhooks/replay",
        )
    },
    Operation {
        summary: "Retrieve a webhook replay",
        description: "Answers the progress of a replay: how many events it re-sends, how many arrived and which \
                      failed.",
        response: Response::Json(schema::<ReplayStatus>),
        ..base(
            "get-webhook-replay",
            Group::Analytics,
            "replay-status",
            Method::Get,
            "/v2/analytics/webhooks/replay/{workflow_id}",
        )
    },
    // The peer simulator.
    Operation {
        summary: "Join a simulated peer",
        description: "Makes a simulated peer join the room with a role (served with --simulate-peers). It opens \
                      a session if the room had none, and triggers the same events as a real peer.",
        body: Body::Json(schema::<SimulatedJoin>),
        response: Response::Json(schema::<ActivePeer>),
        simulator: true,
        example: Some(|| json!({"role": "host", "name": "Ann", "user_id": "ann"})),
        errors: &[403, 409],
        ..base(
            "simulate-peer-join",
            Group::Simulator,
            "join",
            Method::Post,
            "/v2/simulate/rooms/{room_id}/peers",
        )
    },
    Operation {
        summary: "Make a simulated peer leave",
        description: "Makes a simulated peer leave the room by itself; the last one to leave closes the session.",
        response: Response::Json(schema::<Acknowledgement>),
        idempotent: false,
        destructive: true,
        simulator: true,
        errors: &[409],
        ..base(
            "simulate-peer-leave",
            Group::Simulator,
            "leave",
            Method::Delete,
            "/v2/simulate/rooms/{room_id}/peers/{peer_id}",
        )
    },
    Operation {
        summary: "List what a simulated peer received",
        description: "Lists the messages, removals, role and name changes delivered to a peer, also after it left.",
        response: Response::Json(schema::<Deliveries>),
        simulator: true,
        ..base(
            "list-simulated-peer-messages",
            Group::Simulator,
            "messages",
            Method::Get,
            "/v2/simulate/rooms/{room_id}/peers/{peer_id}/messages",
        )
    },
    Operation {
        summary: "List the event log",
        description: "Lists the webhook events the workspace's rooms produced, oldest first; page with `after`.",
        query: Some(schema::<EventLogQuery>),
        response: Response::Json(schema::<EventLog>),
        simulator: true,
        ..base(
            "list-events",
            Group::Simulator,
            "events",
            Method::Get,
            "/v2/simulate/events",
        )
    },
];
