//! Live state over HTTP against the real binary: the peer simulator, sessions, active
//! rooms, the event log, recovery after a restart and workspace isolation.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::{
    TestServer, assert_reply, envelope, format_unix_secs, id_of, is_object_id, is_uuid_v4, page_ids, timestamp_millis,
};
use reqwest::{Method, StatusCode};
use serde_json::{Map, Value, json};

// ---------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------

/// A server with the peer simulator on a data dir of its own.
fn start() -> TestServer {
    TestServer::start_with(&["--simulate-peers"], &[])
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or_else(|| panic!("{value} is no string"))
}

fn assert_error(reply: (StatusCode, Value), code: u16, message: &str, details: &[&str], what: &str) {
    assert_reply(reply, code, &envelope(code, message, details), what);
}

const NOT_ACTIVE: &str = "no session is running in this room";

// ---------------------------------------------------------------------------------------
// Times
// ---------------------------------------------------------------------------------------

/// Unix nanoseconds of an API time `YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z`.
fn nanos(time: &str) -> i128 {
    let body = time
        .strip_suffix('Z')
        .unwrap_or_else(|| panic!("{time} does not end in Z"));
    let (main, fraction) = body.split_once('.').unwrap_or((body, ""));
    assert!(
        fraction.len() <= 9 && fraction.bytes().all(|b| b.is_ascii_digit()),
        "{time} has a bad fraction"
    );
    let millis = timestamp_millis(&format!("{main}Z")).unwrap_or_else(|| panic!("{time} is no API time"));
    i128::from(millis) * 1_000_000 + format!("{fraction:0<9}").parse::<i128>().expect("digits")
}

/// `nanos` written with `digits` fractional digits, trailing zeros dropped unless `keep`.
fn format_time(nanos: i128, digits: usize, keep: bool) -> String {
    let seconds = nanos.div_euclid(1_000_000_000) as i64;
    let whole = format_unix_secs(seconds);
    let fraction = format!("{:09}", nanos.rem_euclid(1_000_000_000));
    let fraction = &fraction[..digits];
    let fraction = if keep { fraction } else { fraction.trim_end_matches('0') };
    if fraction.is_empty() {
        whole
    } else {
        format!("{}.{fraction}Z", &whole[..19])
    }
}

/// The active-room form: nine fractional digits.
fn full(time: &str) -> String {
    format_time(nanos(time), 9, true)
}

/// The webhook `data` form: nanoseconds, trailing zeros dropped.
fn trimmed(time: &str) -> String {
    format_time(nanos(time), 9, false)
}

/// The sessions form: milliseconds, trailing zeros dropped.
fn millis(time: &str) -> String {
    format_time(nanos(time), 3, false)
}

/// The documented query form `YYYY-MM-DDTHH:mm:ss.sssZ`.
fn query_millis(time: &str) -> String {
    format_time(nanos(time), 3, true)
}

/// The envelope form: whole seconds.
fn seconds(time: &str) -> String {
    format_time(nanos(time), 0, false)
}

/// Whole seconds from `from` to `to`, rounded down.
fn whole_seconds(from: &str, to: &str) -> i64 {
    ((nanos(to) - nanos(from)) / 1_000_000_000) as i64
}

fn assert_full(time: &Value) -> String {
    let time = text(time);
    assert_eq!(full(time), time, "{time} should have nine fractional digits");
    time.to_owned()
}

fn assert_trimmed(time: &Value) -> String {
    let time = text(time);
    assert_eq!(
        trimmed(time),
        time,
        "{time} should be RFC 3339 with trailing zeros trimmed"
    );
    time.to_owned()
}

// ---------------------------------------------------------------------------------------
// Rooms, peers and expectations
// ---------------------------------------------------------------------------------------

/// A room and what its events carry in the envelope.
#[derive(Clone)]
struct Room {
    id: String,
    name: String,
    account_id: String,
    app_id: String,
    template_id: String,
}

async fn create_room(server: &TestServer, name: &str) -> Room {
    let (status, room) = server.post("/v2/rooms", json!({ "name": name })).await;
    assert_eq!(status, StatusCode::OK, "{room}");
    Room {
        id: text(&room["id"]).to_owned(),
        name: text(&room["name"]).to_owned(),
        account_id: text(&room["customer_id"]).to_owned(),
        app_id: text(&room["app_id"]).to_owned(),
        template_id: text(&room["template_id"]).to_owned(),
    }
}

fn peers_path(room: &str) -> String {
    format!("/v2/simulate/rooms/{room}/peers")
}

/// Joins with `body` and answers the peer; the answer must be 200.
async fn join(server: &TestServer, room: &str, body: Value) -> Value {
    let (status, peer) = server.post(&peers_path(room), body.clone()).await;
    assert_eq!(status, StatusCode::OK, "join {body}: {peer}");
    peer
}

/// Joins and checks the whole answer.
async fn join_as(server: &TestServer, room: &str, role: &str, name: &str, user_id: &str, metadata: &str) -> Value {
    let body = json!({ "role": role, "name": name, "user_id": user_id, "metadata": metadata });
    let peer = join(server, room, body).await;
    assert_eq!(peer, expected_peer(&peer, role, name, user_id, metadata));
    peer
}

async fn leave(server: &TestServer, room: &str, peer: &Value) {
    let path = format!("{}/{}", peers_path(room), text(&peer["id"]));
    assert_reply(
        server.call(Method::DELETE, &path, None).await,
        200,
        &json!({"message": "peer left"}),
        "leave",
    );
}

/// What a joined peer must look like: ids and times are taken from `peer` after their
/// shape is checked; one audio and one video track sharing a stream.
fn expected_peer(peer: &Value, role: &str, name: &str, user_id: &str, metadata: &str) -> Value {
    let id = text(&peer["id"]);
    assert!(is_uuid_v4(id), "peer id {peer}");
    let joined_at = assert_full(&peer["joined_at"]);
    let tracks = peer["tracks"]
        .as_object()
        .unwrap_or_else(|| panic!("no tracks in {peer}"));
    assert_eq!(tracks.len(), 2, "two tracks: {peer}");
    let stream_id = text(&tracks.values().next().expect("a track")["stream_id"]);
    assert!(is_uuid_v4(stream_id), "stream id {peer}");
    let mut kinds = Vec::new();
    let mut expected = Map::new();
    for (track_id, track) in tracks {
        assert!(is_uuid_v4(track_id) && track_id != stream_id, "track id {track_id}");
        let started_at = assert_full(&track["started_at"]);
        assert!(
            nanos(&started_at) >= nanos(&joined_at),
            "track started before its peer joined"
        );
        kinds.push(text(&track["type"]).to_owned());
        let track_json = json!({
            "id": track_id, "stream_id": stream_id, "mute": false, "type": track["type"],
            "source": "regular", "started_at": started_at, "description": "",
        });
        expected.insert(track_id.clone(), track_json);
    }
    kinds.sort();
    assert_eq!(kinds, ["audio", "video"], "{peer}");
    json!({
        "id": id, "name": name, "user_id": user_id, "metadata": metadata, "role": role,
        "joined_at": joined_at, "tracks": expected,
    })
}

/// A peer as the list of peers shows it: without tracks.
fn listed(peer: &Value) -> Value {
    let mut peer = peer.clone();
    peer.as_object_mut().expect("peer object").remove("tracks");
    peer
}

async fn messages(server: &TestServer, room: &str, peer: &Value) -> Vec<Value> {
    let path = format!("{}/{}/messages", peers_path(room), text(&peer["id"]));
    let (status, body) = server.get(&path).await;
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    let object = body.as_object().expect("messages object");
    assert_eq!(object.len(), 1, "only `messages`: {body}");
    body["messages"].as_array().expect("messages array").clone()
}

/// Checks a peer's deliveries against `expected` (without `at`); answers their `at`s.
async fn assert_messages(server: &TestServer, room: &str, peer: &Value, expected: &[Value]) -> Vec<String> {
    let actual = messages(server, room, peer).await;
    let kinds = |list: &[Value]| list.iter().map(|m| m["type"].clone()).collect::<Vec<_>>();
    assert_eq!(
        kinds(&actual),
        kinds(expected),
        "message types of {}: {actual:?}",
        peer["id"]
    );
    let mut ats = Vec::new();
    for (got, want) in actual.iter().zip(expected) {
        let at = assert_full(&got["at"]);
        let mut want = want.clone();
        want["at"] = json!(at);
        assert_eq!(got, &want, "message of {}", peer["id"]);
        ats.push(at);
    }
    ats
}

/// A session as `GET /v2/sessions/{id}` answers it. `peers` holds each peer as it
/// joined and, once it left, its `left_at` (any precision).
fn expected_session(
    id: &str,
    room: &Room,
    active: bool,
    peers: &[(&Value, Option<&str>)],
    created: &str,
    updated: &str,
) -> Value {
    let mut map = Map::new();
    for (peer, left_at) in peers {
        let mut entry = json!({
            "id": peer["id"], "session_id": id, "name": peer["name"], "role": peer["role"],
            "user_id": peer["user_id"], "joined_at": millis(text(&peer["joined_at"])),
        });
        if let Some(left_at) = left_at {
            entry["left_at"] = json!(millis(left_at));
        }
        map.insert(id_of(peer), entry);
    }
    json!({
        "id": id, "room_id": room.id, "customer_id": room.account_id, "app_id": room.app_id,
        "active": active, "peers": map, "created_at": millis(created), "updated_at": millis(updated),
    })
}

async fn session(server: &TestServer, id: &str) -> Value {
    server.get_ok(&format!("/v2/sessions/{id}")).await
}

async fn list(server: &TestServer, query: &str) -> Value {
    server.get_ok(&format!("/v2/sessions{query}")).await
}

/// The one active session of a room, by the Node SDK's `retrieveActiveByRoom`.
async fn active_session_id(server: &TestServer, room: &Room) -> String {
    let page = list(server, &format!("?room_id={}&active=true", room.id)).await;
    let found = page_ids(&page);
    assert_eq!(found.len(), 1, "one active session in {}: {page}", room.id);
    found[0].clone()
}

async fn set_max_peers(server: &TestServer, template_id: &str, role: &str, max: i64) {
    let path = format!("/v2/templates/{template_id}/roles/{role}");
    let (status, mut body) = server.get(&path).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["maxPeerCount"] = json!(max);
    let (status, stored) = server.post(&path, body.clone()).await;
    assert_eq!((status, &stored), (StatusCode::OK, &body));
}

// ---------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------

/// The event log (oldest first) for `query` (e.g. `room_id=…&after=3`).
async fn event_log(server: &TestServer, query: &str) -> Value {
    let (status, log) = server.get(&format!("/v2/simulate/events?{query}")).await;
    assert_eq!(status, StatusCode::OK, "events?{query}: {log}");
    log
}

async fn events(server: &TestServer, query: &str) -> Vec<Value> {
    let log = event_log(server, &format!("limit=1000&{query}")).await;
    log["events"].as_array().expect("events").clone()
}

fn last_seq(log: &Value) -> i64 {
    log["last"].as_i64().unwrap_or_else(|| panic!("no last in {log}"))
}

/// Compares events with expectations built without the envelope `id`, which must be a
/// UUID, unique in the list.
fn assert_events(actual: &[Value], expected: &[Value]) {
    let kinds = |list: &[Value]| list.iter().map(|e| e["type"].clone()).collect::<Vec<_>>();
    assert_eq!(kinds(actual), kinds(expected), "event types: {actual:#?}");
    let mut seen = HashSet::new();
    for (got, want) in actual.iter().zip(expected) {
        let id = text(&got["id"]);
        assert!(is_uuid_v4(id), "event id {id}");
        assert!(seen.insert(id.to_owned()), "event {id} is logged twice");
        let mut want = want.clone();
        want["id"] = json!(id);
        assert_eq!(got, &want, "{} event", want["type"]);
    }
}

/// `data.left_at` of the `peer.leave.success` of `peer`, which must exist once.
async fn left_at(server: &TestServer, peer: &Value) -> String {
    let leaves: Vec<Value> = events(server, "type=peer.leave.success")
        .await
        .into_iter()
        .filter(|e| e["data"]["peer_id"] == peer["id"])
        .collect();
    assert_eq!(leaves.len(), 1, "one leave of {}: {leaves:?}", peer["id"]);
    assert_trimmed(&leaves[0]["data"]["left_at"])
}

/// One session of a room, as its events describe it.
struct Script<'a> {
    room: &'a Room,
    session_id: String,
    started: String,
}

impl<'a> Script<'a> {
    fn new(room: &'a Room, session_id: &str, started: &str) -> Self {
        Self {
            room,
            session_id: session_id.to_owned(),
            started: started.to_owned(),
        }
    }

    fn event(&self, kind: &str, at: &str, data: Value) -> Value {
        json!({
            "version": "2.0", "account_id": self.room.account_id, "app_id": self.room.app_id,
            "template_id": self.room.template_id, "timestamp": seconds(at), "type": kind, "data": data,
        })
    }

    fn base(&self) -> Value {
        json!({
            "room_id": self.room.id, "room_name": self.room.name, "session_id": self.session_id,
            "template_id": self.room.template_id, "session_started_at": trimmed(&self.started),
        })
    }

    fn open(&self) -> Value {
        self.event("session.open.success", &self.started, self.base())
    }

    fn close(&self, stopped: &str) -> Value {
        let mut data = self.base();
        data["session_stopped_at"] = json!(trimmed(stopped));
        data["session_duration"] = json!(whole_seconds(&self.started, stopped));
        self.event("session.close.success", stopped, data)
    }

    /// `peer` as it is at the time of the event (name, role, metadata).
    fn peer_data(&self, peer: &Value) -> Value {
        let mut data = self.base();
        let fields = json!({
            "peer_id": peer["id"], "user_id": peer["user_id"], "user_name": peer["name"],
            "user_data": peer["metadata"], "role": peer["role"],
            "joined_at": trimmed(text(&peer["joined_at"])), "type": "regular",
        });
        data.as_object_mut()
            .unwrap()
            .extend(fields.as_object().unwrap().clone());
        data
    }

    fn join(&self, peer: &Value) -> Value {
        self.event("peer.join.success", text(&peer["joined_at"]), self.peer_data(peer))
    }

    fn leave(&self, peer: &Value, at: &str, reason: &str, message: &str) -> Value {
        let mut data = self.peer_data(peer);
        data["left_at"] = json!(trimmed(at));
        data["duration"] = json!(whole_seconds(text(&peer["joined_at"]), at));
        data["reason"] = json!(reason);
        data["message"] = json!(message);
        self.event("peer.leave.success", at, data)
    }

    fn room_end(&self, at: &str, lock: bool, reason: &str) -> Value {
        let mut data = self.base();
        let fields = json!({
            "peer_id": "", "user_id": "", "user_name": "", "role": "",
            "lock_room": lock, "reason": reason, "source": "api",
        });
        data.as_object_mut()
            .unwrap()
            .extend(fields.as_object().unwrap().clone());
        self.event("room.end.success", at, data)
    }

    /// `peer` after the change.
    fn role_change(&self, peer: &Value, previous: &str, at: &str) -> Value {
        let mut data = self.peer_data(peer);
        let object = data.as_object_mut().unwrap();
        object.remove("type");
        object.insert("previous_role".into(), json!(previous));
        object.insert("role_changed_at".into(), json!(trimmed(at)));
        self.event("role.change.success", at, data)
    }
}

// ---------------------------------------------------------------------------------------
// Simulator off
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn the_simulator_is_not_served_without_the_flag() {
    let server = TestServer::start();
    let room = create_room(&server, "plain").await;
    let peer = "2d873b0a-c2c9-41dc-ac72-c6ea9b2f2cc3";
    let calls = [
        (Method::POST, format!("/v2/simulate/rooms/{}/peers", room.id)),
        (Method::DELETE, format!("/v2/simulate/rooms/{}/peers/{peer}", room.id)),
        (
            Method::GET,
            format!("/v2/simulate/rooms/{}/peers/{peer}/messages", room.id),
        ),
        (Method::GET, "/v2/simulate/events".to_owned()),
    ];
    for (method, path) in calls {
        let body = (method == Method::POST).then(|| json!({"role": "host"}));
        let detail = format!("no route for {method} {path}");
        assert_error(
            server.call(method.clone(), &path, body).await,
            404,
            "Not found",
            &[&detail],
            &path,
        );
    }
    let detail = "no route for GET /v2/simulate/events";
    assert_error(
        server.get("/v2/simulate/events?room_id=x&type=y&after=1&limit=5").await,
        404,
        "Not found",
        &[detail],
        "events with a query",
    );
    // The live API itself is served: the room simply has nobody in it.
    assert_error(
        server.get(&format!("/v2/active-rooms/{}", room.id)).await,
        404,
        "Room is not active",
        &[NOT_ACTIVE],
        "active room",
    );
    assert_eq!(list(&server, "").await, json!({"limit": 10, "data": [], "last": ""}));
}

// ---------------------------------------------------------------------------------------
// Join
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn join_answers_the_peer_with_its_tracks() {
    let server = start();
    let room = create_room(&server, "join").await;
    let host = join_as(
        &server,
        &room.id,
        "host",
        "Nixon K",
        "Batch1-student",
        "{\"isHandRaised\":false}",
    )
    .await;
    let guest = join_as(&server, &room.id, "guest", "Guest", "guest-1", "").await;
    assert_ne!(host["id"], guest["id"]);

    // Name, user id and metadata are optional.
    let bare = join(&server, &room.id, json!({"role": "guest"})).await;
    let id = id_of(&bare);
    let user_id = text(&bare["user_id"]).to_owned();
    assert!(is_uuid_v4(&user_id), "a generated user id: {bare}");
    assert_eq!(
        bare,
        expected_peer(&bare, "guest", &format!("peer-{}", &id[..8]), &user_id, "")
    );

    // The answer is what the active-room API shows.
    for peer in [&host, &guest, &bare] {
        let path = format!("/v2/active-rooms/{}/peers/{}", room.id, text(&peer["id"]));
        assert_reply(server.get(&path).await, 200, peer, "retrieve peer");
    }
    // Limits are inclusive: 256 characters of name, 4096 bytes of metadata.
    let name = "é".repeat(256);
    let metadata = "m".repeat(4096);
    join_as(&server, &room.id, "guest", &name, "u-long", &metadata).await;
}

#[tokio::test]
async fn join_refusals() {
    let server = start();
    let room = create_room(&server, "refusals").await;
    let path = peers_path(&room.id);
    let invalid = |detail: &str| envelope(400, "Invalid body param", &[detail]);
    let cases = [
        (json!({}), invalid("missing field `role` at line 1 column 2")),
        (
            json!({"name": "x"}),
            invalid("missing field `role` at line 1 column 12"),
        ),
        (
            json!({"role": "viewer"}),
            invalid("role \"viewer\" does not exist in the room's template"),
        ),
        (
            json!({"role": "host", "name": "a".repeat(257)}),
            invalid("name must be 1 to 256 characters"),
        ),
        (
            json!({"role": "host", "name": ""}),
            invalid("name must be 1 to 256 characters"),
        ),
        (
            json!({"role": "host", "name": "   "}),
            invalid("name must be 1 to 256 characters"),
        ),
        (
            json!({"role": "host", "metadata": "m".repeat(4097)}),
            invalid("metadata may hold at most 4096 bytes"),
        ),
        // The limit is in bytes: 2049 two-byte characters are 4098 bytes.
        (
            json!({"role": "host", "metadata": "é".repeat(2049)}),
            invalid("metadata may hold at most 4096 bytes"),
        ),
    ];
    for (body, expected) in cases {
        assert_reply(
            server.post(&path, body.clone()).await,
            400,
            &expected,
            &body.to_string(),
        );
    }
    for unknown in ["64b0e1f0a1b2c3d4e5f60799", "not-a-room"] {
        assert_error(
            server.post(&peers_path(unknown), json!({"role": "host"})).await,
            404,
            "Room not found",
            &[],
            unknown,
        );
    }
    let (status, disabled) = server
        .post(&format!("/v2/rooms/{}", room.id), json!({"enabled": false}))
        .await;
    assert_eq!((status, &disabled["enabled"]), (StatusCode::OK, &json!(false)));
    assert_error(
        server.post(&path, json!({"role": "host"})).await,
        403,
        "Room is disabled",
        &[],
        "disabled room",
    );
    // Nothing of this opened a session or logged an event.
    assert_eq!(list(&server, "").await, json!({"limit": 10, "data": [], "last": ""}));
    assert_eq!(event_log(&server, "").await, json!({"events": []}));
    assert_error(
        server.get(&format!("/v2/active-rooms/{}", room.id)).await,
        404,
        "Room is not active",
        &[NOT_ACTIVE],
        "after refusals",
    );
    // Enabled again, the room takes peers.
    let (status, _) = server
        .post(&format!("/v2/rooms/{}", room.id), json!({"enabled": true}))
        .await;
    assert_eq!(status, StatusCode::OK);
    join_as(&server, &room.id, "host", "Back", "u1", "").await;
}

#[tokio::test]
async fn role_limits_refuse_joins_and_log_the_failure() {
    let server = start();
    let room = create_room(&server, "limits").await;
    set_max_peers(&server, &room.template_id, "host", 2).await;
    set_max_peers(&server, &room.template_id, "guest", -1).await;

    // -1 in an empty room: refused, and no session opens.
    let started = common::now_secs();
    let body = json!({"role": "guest", "name": "Early", "user_id": "early", "metadata": "e"});
    assert_error(
        server.post(&peers_path(&room.id), body).await,
        403,
        "Role not allowed",
        &["role \"guest\" may not join: its maxPeerCount is -1"],
        "guest in empty room",
    );
    assert_eq!(list(&server, "").await, json!({"limit": 10, "data": [], "last": ""}));

    let first = join_as(&server, &room.id, "host", "H1", "h1", "").await;
    let second = join_as(&server, &room.id, "host", "H2", "h2", "").await;
    let body = json!({"role": "host", "name": "H3", "user_id": "h3"});
    assert_error(
        server.post(&peers_path(&room.id), body).await,
        403,
        "Role limit reached",
        &["role \"host\" already has 2 peers, its maxPeerCount"],
        "third host",
    );
    let body = json!({"role": "guest", "name": "G", "user_id": "g"});
    assert_error(
        server.post(&peers_path(&room.id), body).await,
        403,
        "Role not allowed",
        &["role \"guest\" may not join: its maxPeerCount is -1"],
        "guest while the session runs",
    );
    let (_, active) = server.get(&format!("/v2/active-rooms/{}", room.id)).await;
    assert_eq!(active["session"]["peers"], json!([first["id"], second["id"]]));

    // Each refusal is logged as peer.join.failure, without session fields.
    let ended = common::now_secs();
    let failures = events(&server, "type=peer.join.failure").await;
    let refused = [
        ("Early", "early", "e", "guest"),
        ("H3", "h3", "", "host"),
        ("G", "g", "", "guest"),
    ];
    assert_eq!(failures.len(), refused.len(), "{failures:#?}");
    for (event, (name, user_id, metadata, role)) in failures.iter().zip(refused) {
        let peer_id = text(&event["data"]["peer_id"]);
        assert!(is_uuid_v4(peer_id), "{event}");
        let stamp = text(&event["timestamp"]);
        let at = nanos(stamp) / 1_000_000_000;
        assert!(
            i128::from(started) <= at && at <= i128::from(ended),
            "{stamp} is outside the refusals"
        );
        let expected = json!({
            "version": "2.0", "id": event["id"], "account_id": room.account_id, "app_id": room.app_id,
            "template_id": room.template_id, "timestamp": stamp, "type": "peer.join.failure",
            "data": {
                "room_id": room.id, "room_name": room.name, "peer_id": peer_id, "user_id": user_id,
                "template_id": room.template_id, "user_name": name, "user_data": metadata, "role": role,
                "joined_at": "0001-01-01T00:00:00Z", "error_message": "role not allowed", "type": "regular",
            },
        });
        assert!(is_uuid_v4(text(&event["id"])));
        assert_eq!(event, &expected);
    }

    // Moving a peer into a full role is refused too.
    let first_path = format!("/v2/active-rooms/{}/peers/{}", room.id, text(&first["id"]));
    assert_error(
        server.post(&first_path, json!({"role": "guest"})).await,
        403,
        "Role not allowed",
        &["role \"guest\" may not join: its maxPeerCount is -1"],
        "role change to a forbidden role",
    );
    assert_reply(server.get(&first_path).await, 200, &first, "unchanged after refusal");
}

/// Spec 14 §5: "A role change triggers role.change.success / .failure webhooks".
#[tokio::test]
async fn a_refused_role_change_logs_role_change_failure() {
    let server = start();
    let room = create_room(&server, "role-failure").await;
    set_max_peers(&server, &room.template_id, "host", 1).await;
    let host = join_as(&server, &room.id, "host", "H", "h", "").await;
    let guest = join_as(&server, &room.id, "guest", "G", "g", "{\"x\":1}").await;
    let path = format!("/v2/active-rooms/{}/peers/{}", room.id, text(&guest["id"]));
    assert_error(
        server.post(&path, json!({"role": "host"})).await,
        403,
        "Role limit reached",
        &["role \"host\" already has 1 peers, its maxPeerCount"],
        "role change into a full role",
    );
    assert_reply(server.get(&path).await, 200, &guest, "unchanged after refusal");
    assert_eq!(messages(&server, &room.id, &guest).await, Vec::<Value>::new());

    let failures = events(&server, "type=role.change.failure").await;
    assert_eq!(failures.len(), 1, "one role.change.failure is logged: {failures:#?}");
    let event = &failures[0];
    let session_id = active_session_id(&server, &room).await;
    let expected = json!({
        "version": "2.0", "id": event["id"], "account_id": room.account_id, "app_id": room.app_id,
        "template_id": room.template_id, "timestamp": event["timestamp"], "type": "role.change.failure",
        "data": {
            "room_id": room.id, "room_name": room.name, "session_id": session_id, "template_id": room.template_id,
            "peer_id": guest["id"], "user_id": "g", "user_name": "G", "user_data": "{\"x\":1}", "role": "host",
            "joined_at": trimmed(text(&guest["joined_at"])), "session_started_at": trimmed(text(&host["joined_at"])),
            "error_message": "role limit reached",
        },
    });
    assert_eq!(event, &expected);
}

// ---------------------------------------------------------------------------------------
// Sessions
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_session_opens_with_the_first_peer_and_closes_with_the_last() {
    let server = start();
    let room = create_room(&server, "lifecycle").await;
    let alice = join_as(&server, &room.id, "host", "Alice", "alice", "").await;
    let session_id = active_session_id(&server, &room).await;
    assert!(is_object_id(&session_id), "{session_id}");
    let joined_a = text(&alice["joined_at"]).to_owned();
    assert_eq!(
        session(&server, &session_id).await,
        expected_session(&session_id, &room, true, &[(&alice, None)], &joined_a, &joined_a)
    );

    let bob = join_as(&server, &room.id, "guest", "Bob", "bob", "{}").await;
    let joined_b = text(&bob["joined_at"]).to_owned();
    assert_eq!(
        session(&server, &session_id).await,
        expected_session(
            &session_id,
            &room,
            true,
            &[(&alice, None), (&bob, None)],
            &joined_a,
            &joined_b
        )
    );
    assert_eq!(
        active_session_id(&server, &room).await,
        session_id,
        "one session per room"
    );

    leave(&server, &room.id, &alice).await;
    let left_a = left_at(&server, &alice).await;
    assert_eq!(
        session(&server, &session_id).await,
        expected_session(
            &session_id,
            &room,
            true,
            &[(&alice, Some(&left_a)), (&bob, None)],
            &joined_a,
            &left_a
        )
    );
    let (_, active) = server.get(&format!("/v2/active-rooms/{}", room.id)).await;
    assert_eq!(active["session"]["peers"], json!([bob["id"]]));

    leave(&server, &room.id, &bob).await;
    let left_b = left_at(&server, &bob).await;
    let closed = expected_session(
        &session_id,
        &room,
        false,
        &[(&alice, Some(&left_a)), (&bob, Some(&left_b))],
        &joined_a,
        &left_b,
    );
    assert_eq!(session(&server, &session_id).await, closed);
    assert_error(
        server.get(&format!("/v2/active-rooms/{}", room.id)).await,
        404,
        "Room is not active",
        &[NOT_ACTIVE],
        "after the last peer left",
    );
    let leave_path = format!("{}/{}", peers_path(&room.id), text(&bob["id"]));
    assert_error(
        server.call(Method::DELETE, &leave_path, None).await,
        404,
        "Room is not active",
        &[NOT_ACTIVE],
        "leave twice",
    );
    let close = events(&server, "type=session.close.success").await;
    assert_eq!(close.len(), 1);

    // A rejoin is a new peer in a new session.
    let again = join_as(&server, &room.id, "host", "Alice", "alice", "").await;
    assert_ne!(again["id"], alice["id"]);
    let second = active_session_id(&server, &room).await;
    assert_ne!(second, session_id);
    let page = list(&server, &format!("?room_id={}", room.id)).await;
    assert_eq!(page_ids(&page), [second.clone(), session_id.clone()], "newest first");
    let joined = text(&again["joined_at"]).to_owned();
    assert_eq!(
        page["data"][0],
        expected_session(&second, &room, true, &[(&again, None)], &joined, &joined)
    );
    assert_eq!(page["data"][1], closed);
    assert_eq!(page["last"], json!(session_id));
    assert_eq!(
        session(&server, &session_id).await,
        closed,
        "the closed session is kept"
    );

    // While a peer is still in the room, a second leave finds no peer.
    leave(&server, &room.id, &again).await;
    let third = join_as(&server, &room.id, "guest", "C", "c", "").await;
    let _fourth = join_as(&server, &room.id, "guest", "D", "d", "").await;
    leave(&server, &room.id, &third).await;
    let path = format!("{}/{}", peers_path(&room.id), text(&third["id"]));
    assert_error(
        server.call(Method::DELETE, &path, None).await,
        404,
        "Peer not found",
        &[],
        "leave of a departed peer",
    );
}

#[tokio::test]
async fn sessions_are_listed_newest_first_with_filters_and_pages() {
    let server = start();
    let many = create_room(&server, "many").await;
    let other = create_room(&server, "other").await;
    let mut peers = Vec::new();
    for n in 0..13 {
        let peer = join_as(&server, &many.id, "guest", &format!("P{n}"), &format!("u{n}"), "").await;
        leave(&server, &many.id, &peer).await;
        peers.push(peer);
    }
    let closed_peer = join_as(&server, &other.id, "host", "Closed", "c", "").await;
    leave(&server, &other.id, &closed_peer).await;
    let live_peer = join_as(&server, &other.id, "host", "Live", "l", "").await;

    // Every session of `many`, newest first, each with its one peer.
    let all = list(&server, &format!("?room_id={}&limit=100", many.id)).await;
    assert_eq!(all["limit"], json!(100));
    let sessions = all["data"].as_array().unwrap().clone();
    assert_eq!(sessions.len(), 13);
    let leaves = events(&server, "type=peer.leave.success").await;
    for (session, peer) in sessions.iter().zip(peers.iter().rev()) {
        let id = id_of(session);
        let left = leaves
            .iter()
            .find(|e| e["data"]["peer_id"] == peer["id"])
            .map(|e| text(&e["data"]["left_at"]).to_owned())
            .expect("a leave event");
        let joined = text(&peer["joined_at"]);
        let expected = expected_session(&id, &many, false, &[(peer, Some(&left))], joined, &left);
        assert_eq!(session, &expected);
    }
    assert_eq!(all["last"], sessions[12]["id"]);
    let all_ids = page_ids(&all);
    assert_eq!(all_ids.iter().collect::<HashSet<_>>().len(), 13, "distinct ids");

    // Pages of 10, following `last` into `start`, until an empty page.
    let mut paged = Vec::new();
    let mut query = format!("?room_id={}", many.id);
    let mut sizes = Vec::new();
    loop {
        let page = list(&server, &query).await;
        assert_eq!(page["limit"], json!(10));
        let found = page_ids(&page);
        sizes.push(found.len());
        if found.is_empty() {
            assert_eq!(page, json!({"limit": 10, "data": [], "last": ""}));
            break;
        }
        assert_eq!(page["last"], json!(found.last().unwrap()));
        query = format!("?room_id={}&start={}", many.id, found.last().unwrap());
        paged.extend(found);
        assert!(sizes.len() <= 5, "pagination does not end: {sizes:?}");
    }
    assert_eq!(sizes, [10, 3, 0]);
    assert_eq!(paged, all_ids, "pages have neither repeats nor gaps");

    // Without `active`, both states; with it, one state.
    let other_ids = page_ids(&list(&server, &format!("?room_id={}", other.id)).await);
    assert_eq!(other_ids.len(), 2);
    let everything = list(&server, "?limit=100").await;
    let mut expected_all = other_ids.clone();
    expected_all.extend(all_ids.clone());
    assert_eq!(
        page_ids(&everything),
        expected_all,
        "unfiltered: every session, newest first"
    );
    assert_eq!(list(&server, "/?limit=100").await, everything, "trailing slash");
    let first_page = list(&server, "").await;
    assert_eq!(page_ids(&first_page), &expected_all[..10]);
    assert_eq!(list(&server, "/").await, first_page);

    let live_joined = text(&live_peer["joined_at"]);
    let live = expected_session(
        &other_ids[0],
        &other,
        true,
        &[(&live_peer, None)],
        live_joined,
        live_joined,
    );
    let expected = json!({"limit": 10, "data": [live], "last": other_ids[0]});
    assert_eq!(list(&server, "?active=true").await, expected);
    assert_eq!(list(&server, "/?active=true").await, expected);
    assert_eq!(
        list(&server, &format!("?active=true&room_id={}", other.id)).await,
        expected
    );
    assert_eq!(
        list(&server, &format!("?active=true&room_id={}", many.id)).await,
        json!({"limit": 10, "data": [], "last": ""})
    );
    let inactive = list(&server, "?active=false&limit=100").await;
    assert_eq!(page_ids(&inactive), &expected_all[1..]);
    assert!(
        inactive["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["active"] == json!(false))
    );
    let inactive_other = list(&server, &format!("?active=false&room_id={}", other.id)).await;
    assert_eq!(page_ids(&inactive_other), [other_ids[1].clone()]);
    assert_eq!(
        list(&server, "?room_id=64b0e1f0a1b2c3d4e5f60799").await,
        json!({"limit": 10, "data": [], "last": ""})
    );

    // `after` and `before` bound the start time, both inclusive.
    let created: Vec<(String, String)> = sessions
        .iter()
        .map(|s| (id_of(s), text(&s["created_at"]).to_owned()))
        .collect();
    let (pivot_low, pivot_high) = (&created[9].1, &created[3].1);
    let within = |low: Option<&str>, high: Option<&str>| -> Vec<String> {
        created
            .iter()
            .filter(|(_, at)| low.is_none_or(|low| nanos(at) >= nanos(low)))
            .filter(|(_, at)| high.is_none_or(|high| nanos(at) <= nanos(high)))
            .map(|(id, _)| id.clone())
            .collect()
    };
    let room = format!("room_id={}&limit=100", many.id);
    let after = list(&server, &format!("?{room}&after={}", query_millis(pivot_low))).await;
    assert_eq!(page_ids(&after), within(Some(pivot_low), None));
    assert!(page_ids(&after).contains(&created[9].0), "after is inclusive");
    let before = list(&server, &format!("?{room}&before={}", query_millis(pivot_high))).await;
    assert_eq!(page_ids(&before), within(None, Some(pivot_high)));
    assert!(page_ids(&before).contains(&created[3].0), "before is inclusive");
    let window = format!(
        "?{room}&after={}&before={}",
        query_millis(pivot_low),
        query_millis(pivot_high)
    );
    assert_eq!(
        page_ids(&list(&server, &window).await),
        within(Some(pivot_low), Some(pivot_high))
    );
    let future = list(&server, "?after=2999-01-01T00:00:00.000Z").await;
    assert_eq!(future, json!({"limit": 10, "data": [], "last": ""}));
    let past = list(&server, "?before=2000-01-01T00:00:00.000Z").await;
    assert_eq!(past, json!({"limit": 10, "data": [], "last": ""}));

    // Malformed filters are refused.
    assert_error(
        server.get("/v2/sessions?active=maybe").await,
        400,
        "Invalid query parameter",
        &["active: provided string was not `true` or `false`"],
        "active=maybe",
    );
    assert_error(
        server.get("/v2/sessions?after=yesterday").await,
        400,
        "Invalid query parameter",
        &["after: expected an RFC 3339 timestamp"],
        "after=yesterday",
    );
}

#[tokio::test]
async fn an_unknown_session_is_not_found() {
    let server = start();
    for id in ["64b0e1f0a1b2c3d4e5f60799", "nope"] {
        assert_error(
            server.get(&format!("/v2/sessions/{id}")).await,
            404,
            "Session not found",
            &[],
            id,
        );
    }
}

// ---------------------------------------------------------------------------------------
// Active rooms
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn active_room_and_its_peers() {
    let server = start();
    let room = create_room(&server, "active").await;
    let idle = create_room(&server, "idle").await;
    let host = join_as(&server, &room.id, "host", "Host", "teacher", "{\"a\":1}").await;
    let guest = join_as(&server, &room.id, "guest", "Guest", "student", "").await;
    let twin = join_as(&server, &room.id, "guest", "Twin", "student", "").await;
    let session_id = active_session_id(&server, &room).await;

    let expected = json!({
        "id": room.id, "name": room.name, "customer_id": room.account_id,
        "session": {
            "id": session_id, "created_at": host["joined_at"],
            "peers": [host["id"], guest["id"], twin["id"]],
        },
    });
    let base = format!("/v2/active-rooms/{}", room.id);
    assert_reply(server.get(&base).await, 200, &expected, "active room");

    let map = |peers: &[&Value]| {
        let entries: Map<String, Value> = peers.iter().map(|p| (id_of(p), listed(p))).collect();
        json!({ "peers": entries })
    };
    let all = map(&[&host, &guest, &twin]);
    let server_ref: &TestServer = &server;
    let peer_list = |query: &str| {
        let path = format!("{base}/peers{query}");
        async move { server_ref.get(&path).await }
    };
    assert_reply(peer_list("").await, 200, &all, "all peers");
    assert_reply(
        peer_list("?user_id=student").await,
        200,
        &map(&[&guest, &twin]),
        "by user",
    );
    assert_reply(peer_list("?role=host").await, 200, &map(&[&host]), "by role");
    assert_reply(
        peer_list("?role=guest&user_id=student").await,
        200,
        &map(&[&guest, &twin]),
        "both",
    );
    assert_reply(
        peer_list("?role=host&user_id=student").await,
        200,
        &json!({"peers": {}}),
        "no match",
    );
    assert_reply(
        peer_list("?user_id=nobody").await,
        200,
        &json!({"peers": {}}),
        "no user",
    );
    assert_reply(peer_list("?role=viewer").await, 200, &json!({"peers": {}}), "no role");

    for peer in [&host, &guest, &twin] {
        let path = format!("{base}/peers/{}", text(&peer["id"]));
        assert_reply(server.get(&path).await, 200, peer, "single peer with tracks");
    }
    assert_error(
        server
            .get(&format!("{base}/peers/2d873b0a-c2c9-41dc-ac72-c6ea9b2f2cc3"))
            .await,
        404,
        "Peer not found",
        &[],
        "unknown peer",
    );
    // A departed peer is gone from the active room.
    leave(&server, &room.id, &twin).await;
    assert_error(
        server.get(&format!("{base}/peers/{}", text(&twin["id"]))).await,
        404,
        "Peer not found",
        &[],
        "departed peer",
    );
    assert_reply(peer_list("").await, 200, &map(&[&host, &guest]), "after a leave");

    // Every endpoint refuses a room without a session, and an unknown room.
    let peer = text(&host["id"]);
    for (target, message, details) in [
        (idle.id.as_str(), "Room is not active", vec![NOT_ACTIVE]),
        ("64b0e1f0a1b2c3d4e5f60799", "Room not found", vec![]),
    ] {
        let base = format!("/v2/active-rooms/{target}");
        let calls = [
            (Method::GET, base.clone(), None),
            (Method::GET, format!("{base}/peers"), None),
            (Method::GET, format!("{base}/peers/{peer}"), None),
            (Method::POST, format!("{base}/peers/{peer}"), Some(json!({"name": "x"}))),
            (
                Method::POST,
                format!("{base}/send-message"),
                Some(json!({"message": "hi"})),
            ),
            (
                Method::POST,
                format!("{base}/remove-peers"),
                Some(json!({"peer_id": peer})),
            ),
            (Method::POST, format!("{base}/end-room"), Some(json!({}))),
            (Method::DELETE, format!("{}/{peer}", peers_path(target)), None),
        ];
        for (method, path, body) in calls {
            let what = format!("{method} {path}");
            assert_error(server.call(method, &path, body).await, 404, message, &details, &what);
        }
    }
}

#[tokio::test]
async fn update_peer_changes_only_what_is_sent() {
    let server = start();
    let room = create_room(&server, "update").await;
    let peer = join_as(&server, &room.id, "guest", "Before", "u1", "{\"hand\":false}").await;
    let other = join_as(&server, &room.id, "host", "Other", "u2", "").await;
    let path = format!("/v2/active-rooms/{}/peers/{}", room.id, text(&peer["id"]));
    let mut current = peer.clone();

    current["name"] = json!("After");
    assert_reply(
        server.post(&path, json!({"name": "After"})).await,
        200,
        &current,
        "rename",
    );
    current["metadata"] = json!("{\"hand\":true}");
    let body = json!({"metadata": "{\"hand\":true}"});
    assert_reply(server.post(&path, body).await, 200, &current, "metadata");
    assert_reply(server.get(&path).await, 200, &current, "retrieve after update");
    assert_eq!(events(&server, "type=role.change.success").await, Vec::<Value>::new());

    current["role"] = json!("host");
    assert_reply(server.post(&path, json!({"role": "host"})).await, 200, &current, "role");
    // The same role again changes nothing and tells nobody.
    assert_reply(
        server.post(&path, json!({"role": "host"})).await,
        200,
        &current,
        "same role",
    );

    let ats = assert_messages(
        &server,
        &room.id,
        &peer,
        &[
            json!({"type": "name_changed", "name": "After"}),
            json!({"type": "metadata_changed", "metadata": "{\"hand\":true}"}),
            json!({"type": "role_changed", "role": "host", "previous_role": "guest"}),
        ],
    )
    .await;
    assert_eq!(messages(&server, &room.id, &other).await, Vec::<Value>::new());

    let session_id = active_session_id(&server, &room).await;
    let script = Script::new(&room, &session_id, text(&peer["joined_at"]));
    assert_events(
        &events(&server, "type=role.change.success").await,
        &[script.role_change(&current, "guest", &ats[2])],
    );
    let change = &events(&server, "type=role.change.success").await[0];
    assert!(change["data"].get("role_change_requested_by").is_none());

    // Refusals change nothing.
    let invalid = |detail: &str| envelope(400, "Invalid body param", &[detail]);
    let refusals = [
        (json!({}), invalid("send at least one of name, role and metadata")),
        (
            json!({"role": "viewer"}),
            invalid("role \"viewer\" does not exist in the room's template"),
        ),
        (
            json!({"name": "n".repeat(257)}),
            invalid("name must be 1 to 256 characters"),
        ),
        (
            json!({"metadata": "m".repeat(4097)}),
            invalid("metadata may hold at most 4096 bytes"),
        ),
        (
            json!({"name": "ok", "role": "viewer"}),
            invalid("role \"viewer\" does not exist in the room's template"),
        ),
    ];
    for (body, expected) in refusals {
        assert_reply(
            server.post(&path, body.clone()).await,
            400,
            &expected,
            &body.to_string(),
        );
    }
    assert_reply(server.get(&path).await, 200, &current, "unchanged after refusals");
    let unknown = format!(
        "/v2/active-rooms/{}/peers/2d873b0a-c2c9-41dc-ac72-c6ea9b2f2cc3",
        room.id
    );
    assert_error(
        server.post(&unknown, json!({"name": "x"})).await,
        404,
        "Peer not found",
        &[],
        "unknown peer",
    );
    assert_eq!(messages(&server, &room.id, &peer).await.len(), 3);

    // The active peer list shows the update.
    let (_, listed_peers) = server
        .get(&format!("/v2/active-rooms/{}/peers?role=host", room.id))
        .await;
    let mut expected = Map::new();
    expected.insert(id_of(&peer), listed(&current));
    expected.insert(id_of(&other), listed(&other));
    assert_eq!(listed_peers, json!({"peers": expected}));
}

#[tokio::test]
async fn messages_reach_exactly_their_recipients() {
    let server = start();
    let room = create_room(&server, "messages").await;
    let host = join_as(&server, &room.id, "host", "H", "h", "").await;
    let guest_a = join_as(&server, &room.id, "guest", "A", "a", "").await;
    let guest_b = join_as(&server, &room.id, "guest", "B", "b", "").await;
    let path = format!("/v2/active-rooms/{}/send-message", room.id);
    let sent = json!({"message": "message sent"});
    let send = |body: Value| server.post(&path, body);

    assert_reply(
        send(json!({"message": "to a", "peer_id": guest_a["id"]})).await,
        200,
        &sent,
        "peer_id",
    );
    assert_reply(
        send(json!({"message": "sdk", "peerId": guest_b["id"], "type": "emoji"})).await,
        200,
        &sent,
        "peerId",
    );
    assert_reply(
        send(json!({"message": "hosts", "role": "host"})).await,
        200,
        &sent,
        "role",
    );
    assert_reply(
        send(json!({"message": "guests", "role": "guest", "type": "custom_event"})).await,
        200,
        &sent,
        "role guest",
    );
    assert_reply(send(json!({"message": "all"})).await, 200, &sent, "broadcast");
    assert_reply(
        send(json!({"message": "all again", "role": "", "peer_id": ""})).await,
        200,
        &sent,
        "empty strings broadcast",
    );
    assert_reply(
        send(json!({"message": "peer wins", "peer_id": host["id"], "role": "guest"})).await,
        200,
        &sent,
        "peer wins over role",
    );
    assert_reply(
        send(json!({"message": "empty type", "role": "guest", "peer_id": guest_a["id"], "type": ""})).await,
        200,
        &sent,
        "empty type",
    );

    let invalid = |detail: &str| envelope(400, "Invalid body param", &[detail]);
    let refusals = [
        (json!({}), 400, invalid("missing field `message` at line 1 column 2")),
        (
            json!({"peer_id": host["id"]}),
            400,
            invalid(&format!(
                "missing field `message` at line 1 column {}",
                json!({"peer_id": host["id"]}).to_string().len()
            )),
        ),
        (json!({"message": ""}), 400, invalid("message is required")),
        (
            json!({"message": "x", "role": "viewer"}),
            400,
            invalid("role \"viewer\" does not exist in the room's template"),
        ),
        (
            json!({"message": "x", "peer_id": "2d873b0a-c2c9-41dc-ac72-c6ea9b2f2cc3"}),
            404,
            envelope(404, "Peer not found", &[]),
        ),
        (
            json!({"message": "x", "peerId": "2d873b0a-c2c9-41dc-ac72-c6ea9b2f2cc3"}),
            404,
            envelope(404, "Peer not found", &[]),
        ),
    ];
    for (body, status, expected) in refusals {
        assert_reply(send(body.clone()).await, status, &expected, &body.to_string());
    }

    let chat = |text: &str, kind: &str| json!({"type": "message", "message": text, "message_type": kind});
    let host_ats = assert_messages(
        &server,
        &room.id,
        &host,
        &[
            chat("hosts", "chat"),
            chat("all", "chat"),
            chat("all again", "chat"),
            chat("peer wins", "chat"),
        ],
    )
    .await;
    let a_ats = assert_messages(
        &server,
        &room.id,
        &guest_a,
        &[
            chat("to a", "chat"),
            chat("guests", "custom_event"),
            chat("all", "chat"),
            chat("all again", "chat"),
            chat("empty type", "chat"),
        ],
    )
    .await;
    let b_ats = assert_messages(
        &server,
        &room.id,
        &guest_b,
        &[
            chat("sdk", "emoji"),
            chat("guests", "custom_event"),
            chat("all", "chat"),
            chat("all again", "chat"),
        ],
    )
    .await;
    // One send reaches all its recipients at one time.
    assert_eq!(host_ats[1], a_ats[2]);
    assert_eq!(a_ats[2], b_ats[2]);
    assert_eq!(a_ats[1], b_ats[1]);
    // Messages are no events.
    assert_eq!(events(&server, "").await.len(), 4, "open and three joins only");

    let unknown = format!("{}/2d873b0a-c2c9-41dc-ac72-c6ea9b2f2cc3/messages", peers_path(&room.id));
    assert_error(server.get(&unknown).await, 404, "Peer not found", &[], "unknown peer");
    let elsewhere = create_room(&server, "elsewhere").await;
    let wrong_room = format!("{}/{}/messages", peers_path(&elsewhere.id), text(&host["id"]));
    assert_error(
        server.get(&wrong_room).await,
        404,
        "Peer not found",
        &[],
        "peer of another room",
    );
    let unknown_room = format!(
        "{}/{}/messages",
        peers_path("64b0e1f0a1b2c3d4e5f60799"),
        text(&host["id"])
    );
    assert_error(
        server.get(&unknown_room).await,
        404,
        "Room not found",
        &[],
        "unknown room",
    );
}

#[tokio::test]
async fn remove_peers_by_id_and_by_role() {
    let server = start();
    let room = create_room(&server, "remove").await;
    let host = join_as(&server, &room.id, "host", "H", "h", "").await;
    let guest_a = join_as(&server, &room.id, "guest", "A", "a", "{\"k\":1}").await;
    let guest_b = join_as(&server, &room.id, "guest", "B", "b", "").await;
    let guest_c = join_as(&server, &room.id, "guest", "C", "c", "").await;
    let session_id = active_session_id(&server, &room).await;
    let script = Script::new(&room, &session_id, text(&host["joined_at"]));
    let path = format!("/v2/active-rooms/{}/remove-peers", room.id);
    let submitted = json!({"message": "peer remove request submitted"});
    let before = last_seq(&event_log(&server, "").await);

    // Neither peer nor role.
    let invalid = envelope(400, "Invalid body param", &["peer_id or role is required"]);
    for body in [
        json!({}),
        json!({"reason": "x"}),
        json!({"peer_id": "", "role": "", "reason": ""}),
    ] {
        assert_reply(server.post(&path, body.clone()).await, 400, &invalid, &body.to_string());
    }
    assert_error(
        server
            .post(&path, json!({"peer_id": "2d873b0a-c2c9-41dc-ac72-c6ea9b2f2cc3"}))
            .await,
        404,
        "Peer not found",
        &[],
        "unknown peer",
    );
    // A role nobody has removes nobody.
    let (status, _) = server
        .post(
            &format!("/v2/templates/{}/roles/viewer", room.template_id),
            json!({"name": "viewer"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_reply(
        server.post(&path, json!({"role": "viewer"})).await,
        200,
        &submitted,
        "empty role",
    );
    assert_error(
        server.post(&path, json!({"role": "nope", "reason": "x"})).await,
        400,
        "Invalid body param",
        &["role \"nope\" does not exist in the room's template"],
        "unknown role",
    );
    assert_eq!(
        event_log(&server, &format!("after={before}")).await,
        json!({"events": []})
    );

    // By peer id (winning over a role), with a reason.
    let body = json!({"peer_id": guest_a["id"], "role": "host", "reason": "misconduct"});
    assert_reply(server.post(&path, body).await, 200, &submitted, "by peer id");
    let left_a = left_at(&server, &guest_a).await;
    assert_messages(
        &server,
        &room.id,
        &guest_a,
        &[json!({"type": "removed", "reason": "misconduct"})],
    )
    .await;
    assert_error(
        server
            .get(&format!("/v2/active-rooms/{}/peers/{}", room.id, text(&guest_a["id"])))
            .await,
        404,
        "Peer not found",
        &[],
        "a removed peer",
    );
    let (_, active) = server.get(&format!("/v2/active-rooms/{}", room.id)).await;
    assert_eq!(
        active["session"]["peers"],
        json!([host["id"], guest_b["id"], guest_c["id"]])
    );

    // By role, without a reason.
    assert_reply(
        server.post(&path, json!({"role": "guest"})).await,
        200,
        &submitted,
        "by role",
    );
    let left_bc = left_at(&server, &guest_b).await;
    assert_eq!(left_at(&server, &guest_c).await, left_bc, "removed together");
    for peer in [&guest_b, &guest_c] {
        assert_messages(&server, &room.id, peer, &[json!({"type": "removed", "reason": ""})]).await;
    }
    assert_eq!(
        active_session_id(&server, &room).await,
        session_id,
        "the host is still there"
    );

    // The last peer: the session closes.
    let body = json!({"peerId": host["id"], "reason": ""});
    assert_reply(server.post(&path, body).await, 200, &submitted, "peerId alias");
    let left_h = left_at(&server, &host).await;
    assert_messages(&server, &room.id, &host, &[json!({"type": "removed", "reason": ""})]).await;

    let logged = events(&server, &format!("after={before}")).await;
    assert_events(
        &logged,
        &[
            script.leave(&guest_a, &left_a, "peer kicked", "misconduct"),
            script.leave(&guest_b, &left_bc, "peer kicked", ""),
            script.leave(&guest_c, &left_bc, "peer kicked", ""),
            script.leave(&host, &left_h, "peer kicked", ""),
            script.close(&left_h),
        ],
    );
    assert_error(
        server.post(&path, json!({"role": "guest"})).await,
        404,
        "Room is not active",
        &[NOT_ACTIVE],
        "after the room emptied",
    );
}

#[tokio::test]
async fn end_room_without_lock_keeps_the_room_enabled() {
    let server = start();
    let room = create_room(&server, "end").await;
    let host = join_as(&server, &room.id, "host", "H", "h", "").await;
    let guest = join_as(&server, &room.id, "guest", "G", "g", "").await;
    let session_id = active_session_id(&server, &room).await;
    let before = last_seq(&event_log(&server, "").await);
    let path = format!("/v2/active-rooms/{}/end-room", room.id);
    assert_reply(
        server.post(&path, json!({"reason": "wrap up"})).await,
        200,
        &json!({"message": "session is ending"}),
        "end room",
    );
    let expected = [json!({"type": "room_ended", "reason": "wrap up", "lock": false})];
    let ended_at = assert_messages(&server, &room.id, &host, &expected).await;
    assert_eq!(assert_messages(&server, &room.id, &guest, &expected).await, ended_at);

    let logged = events(&server, &format!("after={before}")).await;
    let left = assert_trimmed(&logged.get(1).map(|e| e["data"]["left_at"].clone()).unwrap_or_default());
    let script = Script::new(&room, &session_id, text(&host["joined_at"]));
    assert_events(
        &logged,
        &[
            script.room_end(&ended_at[0], false, "wrap up"),
            script.leave(&host, &left, "peer kicked", "wrap up"),
            script.leave(&guest, &left, "peer kicked", "wrap up"),
            script.close(&left),
        ],
    );
    assert!(nanos(&left) >= nanos(&ended_at[0]));
    assert_eq!(
        session(&server, &session_id).await,
        expected_session(
            &session_id,
            &room,
            false,
            &[(&host, Some(&left)), (&guest, Some(&left))],
            text(&host["joined_at"]),
            &left
        )
    );
    let (_, stored) = server.get(&format!("/v2/rooms/{}", room.id)).await;
    assert_eq!(stored["enabled"], json!(true));
    assert_error(
        server.post(&path, json!({})).await,
        404,
        "Room is not active",
        &[NOT_ACTIVE],
        "again",
    );

    // The room takes peers again, in a new session.
    join_as(&server, &room.id, "host", "H", "h", "").await;
    assert_ne!(active_session_id(&server, &room).await, session_id);
}

#[tokio::test]
async fn end_room_with_lock_disables_the_room() {
    let server = start();
    let room = create_room(&server, "lock").await;
    let host = join_as(&server, &room.id, "host", "H", "h", "").await;
    let session_id = active_session_id(&server, &room).await;
    let before = last_seq(&event_log(&server, "").await);
    let path = format!("/v2/active-rooms/{}/end-room", room.id);
    assert_reply(
        server.post(&path, json!({"lock": true})).await,
        200,
        &json!({"message": "session is ending"}),
        "end room with lock",
    );
    let ended_at = assert_messages(
        &server,
        &room.id,
        &host,
        &[json!({"type": "room_ended", "reason": "", "lock": true})],
    )
    .await;
    let logged = events(&server, &format!("after={before}")).await;
    let left = assert_trimmed(&logged.get(1).map(|e| e["data"]["left_at"].clone()).unwrap_or_default());
    let script = Script::new(&room, &session_id, text(&host["joined_at"]));
    assert_events(
        &logged,
        &[
            script.room_end(&ended_at[0], true, ""),
            script.leave(&host, &left, "peer kicked", ""),
            script.close(&left),
        ],
    );
    let (_, stored) = server.get(&format!("/v2/rooms/{}", room.id)).await;
    assert_eq!(stored["enabled"], json!(false));
    assert_error(
        server.post(&peers_path(&room.id), json!({"role": "host"})).await,
        403,
        "Room is disabled",
        &[],
        "join a locked room",
    );
    assert_error(
        server.get(&format!("/v2/active-rooms/{}", room.id)).await,
        404,
        "Room is not active",
        &[NOT_ACTIVE],
        "locked room",
    );
    assert_eq!(
        list(&server, "?active=true").await,
        json!({"limit": 10, "data": [], "last": ""})
    );
    let (status, _) = server
        .post(&format!("/v2/rooms/{}", room.id), json!({"enabled": true}))
        .await;
    assert_eq!(status, StatusCode::OK);
    join_as(&server, &room.id, "host", "H", "h", "").await;
}

// ---------------------------------------------------------------------------------------
// The event log
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_scripted_session_logs_exactly_its_events() {
    let server = start();
    let room = create_room(&server, "script").await;
    let noise = create_room(&server, "noise").await;
    let alice = join_as(&server, &room.id, "host", "Alice", "alice", "{\"hand\":false}").await;
    let stranger = join_as(&server, &noise.id, "guest", "Stranger", "s", "").await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let bob = join_as(&server, &room.id, "guest", "Bob", "bob", "").await;

    let bob_path = format!("/v2/active-rooms/{}/peers/{}", room.id, text(&bob["id"]));
    let mut bob_now = bob.clone();
    bob_now["role"] = json!("host");
    assert_reply(
        server.post(&bob_path, json!({"role": "host"})).await,
        200,
        &bob_now,
        "role change",
    );
    let alice_path = format!("/v2/active-rooms/{}/peers/{}", room.id, text(&alice["id"]));
    let mut alice_now = alice.clone();
    alice_now["metadata"] = json!("{\"hand\":true}");
    let body = json!({"metadata": "{\"hand\":true}"});
    assert_reply(server.post(&alice_path, body).await, 200, &alice_now, "metadata");
    leave(&server, &room.id, &alice).await;
    let carol = join_as(&server, &room.id, "guest", "Carol", "carol", "").await;
    let end = format!("/v2/active-rooms/{}/end-room", room.id);
    assert_reply(
        server.post(&end, json!({"reason": "done"})).await,
        200,
        &json!({"message": "session is ending"}),
        "end",
    );

    let role_at = assert_messages(
        &server,
        &room.id,
        &bob,
        &[
            json!({"type": "role_changed", "role": "host", "previous_role": "guest"}),
            json!({"type": "room_ended", "reason": "done", "lock": false}),
        ],
    )
    .await;
    let end_at = &role_at[1];
    assert_messages(
        &server,
        &room.id,
        &alice,
        &[json!({"type": "metadata_changed", "metadata": "{\"hand\":true}"})],
    )
    .await;

    let logged = events(&server, &format!("room_id={}", room.id)).await;
    let session_id = text(&logged[0]["data"]["session_id"]).to_owned();
    let left_a = assert_trimmed(&logged[4]["data"]["left_at"]);
    let left_end = assert_trimmed(&logged[7]["data"]["left_at"]);
    let script = Script::new(&room, &session_id, text(&alice["joined_at"]));
    let expected = [
        script.open(),
        script.join(&alice),
        script.join(&bob),
        script.role_change(&bob_now, "guest", &role_at[0]),
        script.leave(&alice_now, &left_a, "client request", ""),
        script.join(&carol),
        script.room_end(end_at, false, "done"),
        script.leave(&bob_now, &left_end, "peer kicked", "done"),
        script.leave(&carol, &left_end, "peer kicked", "done"),
        script.close(&left_end),
    ];
    assert_events(&logged, &expected);
    assert_eq!(
        logged[9]["data"]["session_duration"],
        json!(whole_seconds(text(&alice["joined_at"]), &left_end))
    );
    assert!(logged[9]["data"]["session_duration"].as_i64().unwrap() >= 1);
    assert!(logged[7]["data"]["duration"].as_i64().unwrap() >= 0);
    // The session agrees with the events.
    let stored = session(&server, &session_id).await;
    assert_eq!(stored["peers"][text(&alice["id"])]["left_at"], json!(millis(&left_a)));
    assert_eq!(stored["updated_at"], json!(millis(&left_end)));
    assert_eq!(stored["created_at"], json!(millis(text(&alice["joined_at"]))));

    // The whole log: this room's events interleaved with the other room's.
    let everything = events(&server, "").await;
    assert_eq!(everything.len(), expected.len() + 2);
    assert_eq!(
        everything
            .iter()
            .filter(|e| e["data"]["room_id"] == json!(noise.id))
            .count(),
        2,
        "open and join of the other room"
    );
    let noise_events = events(&server, &format!("room_id={}", noise.id)).await;
    let noise_session = text(&noise_events[0]["data"]["session_id"]).to_owned();
    let noise_script = Script::new(&noise, &noise_session, text(&stranger["joined_at"]));
    assert_events(&noise_events, &[noise_script.open(), noise_script.join(&stranger)]);
    let mine: Vec<Value> = everything
        .iter()
        .filter(|e| e["data"]["room_id"] == json!(room.id))
        .cloned()
        .collect();
    assert_eq!(mine, logged);

    // Paging with `after` and `limit` walks the same log without repeats or gaps.
    let mut paged = Vec::new();
    let mut after: Option<i64> = None;
    let mut lasts = Vec::new();
    loop {
        let query = match after {
            Some(after) => format!("limit=3&after={after}"),
            None => "limit=3".to_owned(),
        };
        let page = event_log(&server, &query).await;
        let batch = page["events"].as_array().unwrap().clone();
        if batch.is_empty() {
            assert_eq!(page, json!({"events": []}), "an empty page has no `last`");
            break;
        }
        assert!(batch.len() <= 3);
        let last = last_seq(&page);
        assert!(after.is_none_or(|after| last > after), "`last` moves forward");
        lasts.push(last);
        after = Some(last);
        paged.extend(batch);
        assert!(lasts.len() <= 10, "paging does not end");
    }
    assert_eq!(lasts.len(), 4);
    assert_eq!(paged, everything);
    let full_log = event_log(&server, "").await;
    assert_eq!(last_seq(&full_log), *lasts.last().unwrap());
    assert_eq!(
        event_log(&server, &format!("after={}", lasts[3])).await,
        json!({"events": []})
    );
    let tail = event_log(&server, &format!("after={}", lasts[2])).await;
    assert_eq!(&tail["events"].as_array().unwrap()[..], &everything[9..]);

    // Type and room filters combine, oldest first.
    let leaves = events(&server, &format!("type=peer.leave.success&room_id={}", room.id)).await;
    assert_eq!(leaves, [logged[4].clone(), logged[7].clone(), logged[8].clone()]);
    let joins = events(&server, "type=peer.join.success").await;
    let joined: Vec<&Value> = joins.iter().map(|e| &e["data"]["peer_id"]).collect();
    assert_eq!(joined, [&alice["id"], &stranger["id"], &bob["id"], &carol["id"]]);
    assert_eq!(events(&server, "type=no.such.event").await, Vec::<Value>::new());
    assert_error(
        server.get("/v2/simulate/events?after=x").await,
        400,
        "Invalid query parameter",
        &["after: invalid digit found in string"],
        "after=x",
    );
}

#[tokio::test]
async fn concurrent_changes_are_logged_once() {
    let server = start();
    let room = create_room(&server, "race").await;
    let base = server.base.clone();
    let token = server.token();
    let path = peers_path(&room.id);
    let joins: Vec<_> = (0..8)
        .map(|n| {
            let (base, token, path) = (base.clone(), token.clone(), path.clone());
            tokio::spawn(async move {
                let body = json!({"role": "guest", "name": format!("P{n}"), "user_id": format!("u{n}")});
                let response = common::client()
                    .post(format!("{base}{path}"))
                    .bearer_auth(token)
                    .json(&body)
                    .send()
                    .await
                    .expect("join");
                assert_eq!(response.status(), StatusCode::OK);
                response.json::<Value>().await.expect("peer")
            })
        })
        .collect();
    let mut peers = Vec::new();
    for join in joins {
        peers.push(join.await.unwrap());
    }
    let opened = events(&server, "type=session.open.success").await;
    assert_eq!(opened.len(), 1, "concurrent first joins open one session");
    assert_eq!(events(&server, "type=peer.join.success").await.len(), 8);
    let session_id = active_session_id(&server, &room).await;
    assert_eq!(opened[0]["data"]["session_id"], json!(session_id));

    // Two leaves of the same peer, an end of the room and removals, all at once.
    let target = text(&peers[0]["id"]).to_owned();
    let leave_path = format!("{base}{path}/{target}");
    let client = common::client();
    let leave_a = client.delete(&leave_path).bearer_auth(&token).send();
    let leave_b = client.delete(&leave_path).bearer_auth(&token).send();
    let end = client
        .post(format!("{base}/v2/active-rooms/{}/end-room", room.id))
        .bearer_auth(&token)
        .json(&json!({}))
        .send();
    let remove = client
        .post(format!("{base}/v2/active-rooms/{}/remove-peers", room.id))
        .bearer_auth(&token)
        .json(&json!({"role": "guest"}))
        .send();
    let (a, b, end, remove) = tokio::join!(leave_a, leave_b, end, remove);
    let statuses = [a, b, end, remove].map(|r| r.expect("reply").status().as_u16());
    assert!(statuses.iter().all(|s| [200, 404].contains(s)), "{statuses:?}");
    assert!(statuses[..2].contains(&404), "a peer leaves once: {statuses:?}");

    let logged = events(&server, "").await;
    let leaves: Vec<&Value> = logged
        .iter()
        .filter(|e| e["type"] == json!("peer.leave.success"))
        .map(|e| &e["data"]["peer_id"])
        .collect();
    assert_eq!(leaves.len(), 8, "each peer leaves once: {leaves:?}");
    assert_eq!(leaves.iter().collect::<HashSet<_>>().len(), 8);
    let closes = logged
        .iter()
        .filter(|e| e["type"] == json!("session.close.success"))
        .count();
    assert_eq!(closes, 1);
    assert_eq!(logged.last().unwrap()["type"], json!("session.close.success"));
    let ids: HashSet<&str> = logged.iter().map(|e| text(&e["id"])).collect();
    assert_eq!(ids.len(), logged.len(), "event ids are unique");
    let stored = session(&server, &session_id).await;
    assert_eq!(stored["active"], json!(false));
    assert!(
        stored["peers"]
            .as_object()
            .unwrap()
            .values()
            .all(|p| p.get("left_at").is_some())
    );
}

// ---------------------------------------------------------------------------------------
// Restart
// ---------------------------------------------------------------------------------------

async fn restart_closes_open_sessions(graceful: bool) {
    let dir = tempfile::tempdir().unwrap();
    let mut server = TestServer::start_in(dir.path(), &["--simulate-peers"]);
    let room = create_room(&server, "restart").await;
    let alice = join_as(&server, &room.id, "host", "Alice", "alice", "{\"a\":1}").await;
    let bob = join_as(&server, &room.id, "guest", "Bob", "bob", "").await;
    let session_id = active_session_id(&server, &room).await;
    let before = event_log(&server, "").await;
    assert_eq!(before["events"].as_array().unwrap().len(), 3);
    let before = last_seq(&before);
    if graceful {
        assert!(server.terminate().success(), "a clean exit");
    } else {
        server.kill();
    }
    drop(server);

    let server = TestServer::start_in(dir.path(), &["--simulate-peers"]);
    let logged = events(&server, &format!("after={before}")).await;
    let left = assert_trimmed(&logged.first().map(|e| e["data"]["left_at"].clone()).unwrap_or_default());
    let script = Script::new(&room, &session_id, text(&alice["joined_at"]));
    assert_events(
        &logged,
        &[
            script.leave(&alice, &left, "server removed peer", ""),
            script.leave(&bob, &left, "server removed peer", ""),
            script.close(&left),
        ],
    );
    let closed = expected_session(
        &session_id,
        &room,
        false,
        &[(&alice, Some(&left)), (&bob, Some(&left))],
        text(&alice["joined_at"]),
        &left,
    );
    assert_eq!(session(&server, &session_id).await, closed);
    assert_eq!(
        list(&server, "?active=true").await,
        json!({"limit": 10, "data": [], "last": ""})
    );
    assert_error(
        server.get(&format!("/v2/active-rooms/{}", room.id)).await,
        404,
        "Room is not active",
        &[NOT_ACTIVE],
        "after restart",
    );
    assert_error(
        server
            .get(&format!("/v2/active-rooms/{}/peers/{}", room.id, text(&alice["id"])))
            .await,
        404,
        "Room is not active",
        &[NOT_ACTIVE],
        "peer after restart",
    );

    // A new join opens a new session; the recovered one is closed for good.
    let again = join_as(&server, &room.id, "host", "Alice", "alice", "").await;
    let second = active_session_id(&server, &room).await;
    assert_ne!(second, session_id);
    let opened = events(&server, &format!("after={before}&type=session.open.success")).await;
    let script = Script::new(&room, &second, text(&again["joined_at"]));
    assert_events(&opened, &[script.open()]);
    assert_eq!(session(&server, &session_id).await, closed);
    assert_eq!(events(&server, "type=session.close.success").await.len(), 1);

    // A second restart finds nothing more to close than the new session.
    drop(server);
    let server = TestServer::start_in(dir.path(), &["--simulate-peers"]);
    let closes = events(&server, "type=session.close.success").await;
    let closed_ids: Vec<&Value> = closes.iter().map(|e| &e["data"]["session_id"]).collect();
    assert_eq!(closed_ids, [&json!(session_id), &json!(second)]);
    assert_eq!(events(&server, "type=peer.leave.success").await.len(), 3);
}

#[tokio::test]
async fn a_restart_after_sigkill_closes_the_open_session() {
    restart_closes_open_sessions(false).await;
}

#[tokio::test]
async fn a_restart_after_sigterm_closes_the_open_session() {
    restart_closes_open_sessions(true).await;
}

/// A peer's role and metadata changed through the API before a crash: the leave that
/// recovery logs must describe the peer as it was, like any other leave does.
#[tokio::test]
async fn recovery_describes_peers_as_they_were() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = TestServer::start_in(dir.path(), &["--simulate-peers"]);
    let room = create_room(&server, "changed").await;
    let peer = join_as(&server, &room.id, "guest", "Before", "u", "{}").await;
    let path = format!("/v2/active-rooms/{}/peers/{}", room.id, text(&peer["id"]));
    let mut now = peer.clone();
    now["role"] = json!("host");
    now["name"] = json!("After");
    now["metadata"] = json!("{\"moved\":true}");
    let body = json!({"role": "host", "name": "After", "metadata": "{\"moved\":true}"});
    assert_reply(server.post(&path, body).await, 200, &now, "update");
    let session_id = active_session_id(&server, &room).await;
    let before = last_seq(&event_log(&server, "").await);
    server.kill();
    drop(server);

    let server = TestServer::start_in(dir.path(), &["--simulate-peers"]);
    let logged = events(&server, &format!("after={before}")).await;
    let left = assert_trimmed(&logged.first().map(|e| e["data"]["left_at"].clone()).unwrap_or_default());
    let script = Script::new(&room, &session_id, text(&peer["joined_at"]));
    assert_events(
        &logged,
        &[
            script.leave(&now, &left, "server removed peer", ""),
            script.close(&left),
        ],
    );
}

/// Session ids order the list newest first, also across restarts of the server.
#[tokio::test]
async fn sessions_stay_newest_first_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let mut made = Vec::new();
    let mut room: Option<Room> = None;
    for _ in 0..5 {
        let server = TestServer::start_in(dir.path(), &["--simulate-peers"]);
        if room.is_none() {
            room = Some(create_room(&server, "restarts").await);
        }
        let room = room.as_ref().expect("made by the first server");
        let peer = join(&server, &room.id, json!({"role": "host"})).await;
        made.push(active_session_id(&server, room).await);
        leave(&server, &room.id, &peer).await;
    }
    let server = TestServer::start_in(dir.path(), &["--simulate-peers"]);
    let page = list(&server, "").await;
    let newest_first: Vec<String> = made.iter().rev().cloned().collect();
    assert_eq!(
        page_ids(&page),
        newest_first,
        "sessions made by successive server processes"
    );
    // Following `start` from the first session must reach the others.
    let after_first = list(&server, &format!("?start={}", newest_first[0])).await;
    assert_eq!(page_ids(&after_first), &newest_first[1..]);
}

// ---------------------------------------------------------------------------------------
// Workspaces
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn another_workspace_sees_nothing_of_the_live_state() {
    let server = start();
    let room = create_room(&server, "mine").await;
    let host = join_as(&server, &room.id, "host", "H", "h", "").await;
    let session_id = active_session_id(&server, &room).await;
    let (key, secret) = ("74b0e1f0a1b2c3d4e5f60718", "other-secret-0123456789abcdef0123456789");
    let other = server.other_workspace("other", key, secret).await;

    let peer = text(&host["id"]);
    let base = format!("/v2/active-rooms/{}", room.id);
    let room_calls = [
        (Method::GET, base.clone(), None),
        (Method::GET, format!("{base}/peers"), None),
        (Method::GET, format!("{base}/peers/{peer}"), None),
        (
            Method::POST,
            format!("{base}/peers/{peer}"),
            Some(json!({"name": "hijack"})),
        ),
        (
            Method::POST,
            format!("{base}/send-message"),
            Some(json!({"message": "hi"})),
        ),
        (
            Method::POST,
            format!("{base}/remove-peers"),
            Some(json!({"peer_id": peer})),
        ),
        (Method::POST, format!("{base}/end-room"), Some(json!({"lock": true}))),
        (Method::POST, peers_path(&room.id), Some(json!({"role": "host"}))),
        (Method::DELETE, format!("{}/{peer}", peers_path(&room.id)), None),
        (Method::GET, format!("{}/{peer}/messages", peers_path(&room.id)), None),
    ];
    for (method, path, body) in room_calls {
        let what = format!("other workspace: {method} {path}");
        assert_error(other.call(method, path, body).await, 404, "Room not found", &[], &what);
    }
    assert_error(
        other
            .call(Method::GET, format!("/v2/sessions/{session_id}"), None)
            .await,
        404,
        "Session not found",
        &[],
        "other workspace: session",
    );
    let empty = json!({"limit": 10, "data": [], "last": ""});
    for query in ["", "?active=true", &format!("?room_id={}", room.id)] {
        assert_reply(
            other.call(Method::GET, format!("/v2/sessions{query}"), None).await,
            200,
            &empty,
            query,
        );
    }
    for query in ["", &format!("?room_id={}", room.id), "?type=peer.join.success"] {
        assert_reply(
            other
                .call(Method::GET, format!("/v2/simulate/events{query}"), None)
                .await,
            200,
            &json!({"events": []}),
            query,
        );
    }

    // Nothing of that touched the first workspace's room.
    assert_reply(
        server.get(&format!("{base}/peers/{peer}")).await,
        200,
        &host,
        "untouched",
    );
    assert_eq!(messages(&server, &room.id, &host).await, Vec::<Value>::new());
    assert_eq!(active_session_id(&server, &room).await, session_id);
    assert_eq!(events(&server, "").await.len(), 2);
    let (_, stored) = server.get(&format!("/v2/rooms/{}", room.id)).await;
    assert_eq!(stored["enabled"], json!(true));

    // The other workspace's own live state is just as invisible the other way round.
    let (status, theirs) = other
        .call(Method::POST, "/v2/rooms", Some(json!({"name": "theirs"})))
        .await;
    assert_eq!(status, StatusCode::OK, "{theirs}");
    let their_room = text(&theirs["id"]).to_owned();
    let (status, their_peer) = other
        .call(Method::POST, peers_path(&their_room), Some(json!({"role": "host"})))
        .await;
    assert_eq!(status, StatusCode::OK, "{their_peer}");
    let (_, their_log) = other.call(Method::GET, "/v2/simulate/events", None).await;
    let their_events = their_log["events"].as_array().unwrap();
    assert_eq!(their_events.len(), 2);
    assert!(their_events.iter().all(|e| e["account_id"] == theirs["customer_id"]));
    assert_ne!(theirs["customer_id"], json!(room.account_id));
    assert_error(
        server.get(&format!("/v2/active-rooms/{their_room}")).await,
        404,
        "Room not found",
        &[],
        "their room from mine",
    );
    assert_eq!(events(&server, "").await.len(), 2);
    assert_eq!(page_ids(&list(&server, "").await), [session_id]);
}
