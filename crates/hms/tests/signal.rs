//! Real peers over the client protocol, with a WebSocket client of our own: `/init`, the
//! signalling socket's JSON-RPC, every refusal, and the REST API's control of real peers.
//! These peers join without WebRTC (no offer), as roles that neither publish nor subscribe
//! do; the browser suite (conformance/browser) covers the peer connections.

mod common;

use std::time::Duration;

use common::{ACCESS_KEY, SECRET, TestServer, now_secs};
use futures::{SinkExt, StreamExt};
use hms_auth::{AppSecret, Claims};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long any one expected message may take.
const PATIENCE: Duration = Duration::from_secs(10);

fn app_token(room_id: &str, role: &str, user_id: &str) -> String {
    let claims = Claims::app(ACCESS_KEY, room_id, role, user_id, now_secs(), 3600);
    hms_auth::mint(&claims, &AppSecret::new(SECRET))
}

async fn room(server: &TestServer, name: &str) -> String {
    let room = server.post_ok("/v2/rooms", json!({ "name": name })).await;
    room["id"].as_str().expect("room id").to_owned()
}

/// A client of the signalling socket, as the SDK is one.
struct Client {
    socket: Socket,
    next_id: u64,
}

impl Client {
    async fn connect(server: &TestServer, token: &str, peer_id: &str) -> Self {
        let url = format!(
            "{}/v2/ws?peer={peer_id}&token={token}&protocol_version=2.5",
            ws_base(server)
        );
        let (socket, _) = tokio_tungstenite::connect_async(url).await.expect("socket opens");
        Self { socket, next_id: 1 }
    }

    /// The next text message, parsed.
    async fn next(&mut self) -> Value {
        loop {
            let frame = tokio::time::timeout(PATIENCE, self.socket.next())
                .await
                .expect("a message within the patience")
                .expect("the socket is open")
                .expect("a frame");
            match frame {
                Message::Text(text) => return serde_json::from_str(&text).expect("JSON"),
                Message::Ping(_) | Message::Pong(_) => continue,
                other => panic!("expected a text frame, got {other:?}"),
            }
        }
    }

    /// The next notification of `method`, skipping others.
    async fn expect(&mut self, method: &str) -> Value {
        loop {
            let message = self.next().await;
            assert!(
                message.get("id").is_none() || message.get("method").is_none(),
                "{message}"
            );
            if message["method"] == method {
                return message["params"].clone();
            }
        }
    }

    async fn notify(&mut self, method: &str, params: Value) {
        let text = json!({ "method": method, "params": params }).to_string();
        self.socket.send(Message::Text(text.into())).await.expect("send");
    }

    /// Sends a request and waits for its answer, skipping notifications on the way.
    async fn call(&mut self, method: &str, params: Value) -> Value {
        let id = format!("req-{}", self.next_id);
        self.next_id += 1;
        let text = json!({ "method": method, "params": params, "id": id, "jsonrpc": "2.0" }).to_string();
        self.socket.send(Message::Text(text.into())).await.expect("send");
        loop {
            let message = self.next().await;
            if message["id"] == id {
                return message;
            }
        }
    }

    /// Connects and joins: answers the peer list it gets.
    async fn join(server: &TestServer, room_id: &str, role: &str, name: &str) -> (Self, String, Value) {
        let peer_id = uuid::Uuid::new_v4().to_string();
        let token = app_token(room_id, role, &format!("user-{name}"));
        let mut client = Self::connect(server, &token, &peer_id).await;
        let policy = client.expect("on-policy-change").await;
        assert_eq!(policy["name"], role);
        let joined = client.call("join", json!({ "name": name, "data": "{}" })).await;
        assert_eq!(joined["result"], json!({}), "{joined}");
        let peer_list = client.expect("peer-list").await;
        (client, peer_id, peer_list)
    }

    /// Waits for the server to close the socket, and answers the close code.
    async fn closed(&mut self) -> Option<CloseCode> {
        loop {
            match tokio::time::timeout(PATIENCE, self.socket.next())
                .await
                .expect("closes in time")
            {
                Some(Ok(Message::Close(frame))) => return frame.map(|frame| frame.code),
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return None,
            }
        }
    }
}

fn ws_base(server: &TestServer) -> String {
    server.base.replacen("http://", "ws://", 1)
}

async fn init(server: &TestServer, token: Option<&str>) -> (StatusCode, Value) {
    server.call_with(Method::GET, "/init?peer_id=p1", None, token).await
}

async fn listed_peers(server: &TestServer, room_id: &str) -> Vec<String> {
    let (status, body) = server.get(&format!("/v2/active-rooms/{room_id}/peers")).await;
    if status == StatusCode::NOT_FOUND {
        return Vec::new();
    }
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut names: Vec<String> = body["peers"]
        .as_object()
        .expect("peers")
        .values()
        .map(|peer| peer["name"].as_str().expect("name").to_owned())
        .collect();
    names.sort();
    names
}

/// Polls the REST API until the room lists exactly `names`.
async fn wait_for_peers(server: &TestServer, room_id: &str, names: &[&str]) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let listed = listed_peers(server, room_id).await;
        if listed == names {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "peers {listed:?}, expected {names:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn init_answers_where_to_connect_and_refuses_bad_tokens_with_401_or_403() {
    let server = TestServer::start();
    let room_id = room(&server, "init-room").await;
    let (status, body) = init(&server, Some(&app_token(&room_id, "host", "u1"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let expected_endpoint = format!("{}/v2/ws", ws_base(&server));
    assert_eq!(
        body,
        json!({
            "endpoint": expected_endpoint,
            "rtcConfiguration": {"ice_servers": []},
            "config": {"enabledFlags": ["nonWebRTCDisableOffer"], "vb": {}},
        })
    );

    let expired = {
        let mut claims = Claims::app(ACCESS_KEY, &room_id, "host", "u1", now_secs() - 7200, 3600);
        claims.exp = now_secs() - 3600;
        hms_auth::mint(&claims, &AppSecret::new(SECRET))
    };
    let foreign = hms_auth::mint(
        &Claims::app(ACCESS_KEY, &room_id, "host", "u1", now_secs(), 3600),
        &AppSecret::new("another-workspace-secret-0123456789abcdef"),
    );
    let management = server.token();
    let refusals: [(Option<&str>, &str); 5] = [
        (None, "send the app token"),
        (Some("not-a-token"), "Token validation error"),
        (Some(&expired), "token has expired"),
        (Some(&foreign), "token signature does not match"),
        (Some(&management), "token type must be app"),
    ];
    for (token, says) in refusals {
        let (status, body) = init(&server, token).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert_eq!(body["code"], 401, "{body}");
        assert!(
            body["message"].as_str().unwrap().contains(says),
            "{body} should say {says}"
        );
    }

    let unknown_room = app_token("0000000000000000deadbeef", "host", "u1");
    let (status, body) = init(&server, Some(&unknown_room)).await;
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::FORBIDDEN, json!(403)),
        "{body}"
    );
    let (status, _) = server
        .post(&format!("/v2/rooms/{room_id}"), json!({"enabled": false}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = init(&server, Some(&app_token(&room_id, "host", "u1"))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["message"], "Room is disabled");

    // Browsers ask first: the preflight is always answered with CORS.
    let preflight = server
        .request(Method::OPTIONS, "/init")
        .header("origin", "https://app.example")
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "authorization")
        .send()
        .await
        .expect("preflight");
    assert!(preflight.status().is_success(), "{}", preflight.status());
    assert_eq!(preflight.headers()["access-control-allow-origin"], "*");
}

#[tokio::test]
async fn the_socket_refuses_bad_tokens_and_peer_ids_before_upgrading() {
    let server = TestServer::start();
    let room_id = room(&server, "socket-refusals").await;
    let good = app_token(&room_id, "host", "u1");
    let expired = {
        let mut claims = Claims::app(ACCESS_KEY, &room_id, "host", "u1", now_secs() - 7200, 3600);
        claims.exp = now_secs() - 3600;
        hms_auth::mint(&claims, &AppSecret::new(SECRET))
    };
    let foreign = hms_auth::mint(
        &Claims::app(ACCESS_KEY, &room_id, "host", "u1", now_secs(), 3600),
        &AppSecret::new("another-workspace-secret-0123456789abcdef"),
    );
    for (query, status) in [
        (format!("peer=p1&token={expired}"), 401),
        (format!("peer=p1&token={foreign}"), 401),
        (format!("peer=p1&token={}", server.token()), 401),
        ("peer=p1&token=garbage".to_owned(), 401),
        ("peer=p1".to_owned(), 401),
        (format!("peer=bad%20id&token={good}"), 400),
        (format!("token={good}"), 400),
    ] {
        let url = format!("{}/v2/ws?{query}", ws_base(&server));
        match tokio_tungstenite::connect_async(url).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status().as_u16(), status, "{query}")
            }
            other => panic!("{query}: expected an HTTP refusal, got {other:?}"),
        }
    }

    // A good token for a room that does not exist: the socket says so and closes.
    let unknown = app_token("0000000000000000deadbeef", "host", "u1");
    let mut client = Client::connect(&server, &unknown, "p2").await;
    let error = client.expect("on-error").await;
    assert_eq!(error, json!({"code": 404, "message": "room not found"}));
    assert_eq!(client.closed().await, Some(CloseCode::Policy));
}

#[tokio::test]
async fn peers_join_see_each_other_chat_without_echo_and_leave() {
    let server = TestServer::start();
    let room_id = room(&server, "signal-chat").await;
    let (mut alice, alice_id, first_list) = Client::join(&server, &room_id, "host", "Alice").await;
    assert_eq!(first_list["peers"], json!({}));
    assert_eq!(first_list["room"]["name"], "signal-chat");

    let (mut bob, bob_id, bobs_list) = Client::join(&server, &room_id, "guest", "Bob").await;
    let alice_seen = &bobs_list["peers"][&alice_id];
    assert_eq!(alice_seen["info"]["name"], "Alice");
    assert_eq!(alice_seen["info"]["user_id"], "user-Alice");
    assert_eq!(alice_seen["role"], "host");
    assert_eq!(alice_seen["realtime"], true);
    let joined = alice.expect("on-peer-join").await;
    assert_eq!(
        (joined["peer_id"].as_str(), joined["info"]["name"].as_str()),
        (Some(bob_id.as_str()), Some("Bob"))
    );

    // Alice's message reaches Bob once; Alice gets only the answer. Bob's reply is the
    // barrier: an echo of Alice's own message would reach her before it.
    let answer = alice
        .call("broadcast", json!({"info": {"message": "one", "type": "chat"}}))
        .await;
    assert!(answer["result"]["message_id"].is_string(), "{answer}");
    let received = bob.expect("on-broadcast").await;
    assert_eq!(received["info"]["message"], "one");
    assert_eq!(received["peer"]["peer_id"], alice_id);
    assert_eq!(received["message_id"], answer["result"]["message_id"]);
    bob.call("broadcast", json!({"info": {"message": "two", "type": "chat"}}))
        .await;
    let first_at_alice = alice.expect("on-broadcast").await;
    assert_eq!(
        first_at_alice["info"]["message"], "two",
        "no echo of her own message first"
    );

    // To a role: only that role's peers.
    alice
        .call(
            "broadcast",
            json!({"info": {"message": "guests only", "type": "chat"}, "roles": ["guest"]}),
        )
        .await;
    assert_eq!(bob.expect("on-broadcast").await["info"]["message"], "guests only");

    wait_for_peers(&server, &room_id, &["Alice", "Bob"]).await;
    bob.notify("leave", json!({"client_reason": "user request"})).await;
    let left = alice.expect("on-peer-leave").await;
    assert_eq!(left["peer_id"], bob_id);
    wait_for_peers(&server, &room_id, &["Alice"]).await;
    alice.notify("leave", json!({"client_reason": "user request"})).await;
    wait_for_peers(&server, &room_id, &[]).await;
}

#[tokio::test]
async fn the_rest_api_controls_real_peers() {
    let server = TestServer::start();
    let room_id = room(&server, "signal-controls").await;
    let (mut alice, _alice_id, _) = Client::join(&server, &room_id, "host", "Alice").await;
    let (mut bob, bob_id, _) = Client::join(&server, &room_id, "guest", "Bob").await;
    alice.expect("on-peer-join").await;

    server
        .post_ok(
            &format!("/v2/active-rooms/{room_id}/send-message"),
            json!({"message": "hello from the backend"}),
        )
        .await;
    for client in [&mut alice, &mut bob] {
        let message = client.expect("on-broadcast").await;
        assert_eq!(
            message["info"],
            json!({"message": "hello from the backend", "type": "chat"})
        );
        assert!(message.get("peer").is_none(), "{message}");
    }

    server
        .post_ok(
            &format!("/v2/active-rooms/{room_id}/peers/{bob_id}"),
            json!({"name": "Robert", "metadata": "m"}),
        )
        .await;
    for client in [&mut alice, &mut bob] {
        let update = client.expect("on-peer-update").await;
        assert_eq!(
            (update["peer_id"].as_str(), update["info"]["name"].as_str()),
            (Some(bob_id.as_str()), Some("Robert"))
        );
        assert_eq!(update["info"]["data"], "m");
        assert_eq!(update["realtime"], true);
    }

    server
        .post_ok(
            &format!("/v2/active-rooms/{room_id}/peers/{bob_id}"),
            json!({"role": "host"}),
        )
        .await;
    assert_eq!(bob.expect("on-policy-change").await["name"], "host");
    assert_eq!(alice.expect("on-peer-update").await["role"], "host");

    server
        .post_ok(
            &format!("/v2/active-rooms/{room_id}/remove-peers"),
            json!({"peer_id": bob_id, "reason": "misconduct"}),
        )
        .await;
    let request = bob.expect("on-peer-leave-request").await;
    assert_eq!(request, json!({"reason": "misconduct", "room_end": false}));
    assert_eq!(bob.closed().await, None, "the server closes a removed peer's socket");
    assert_eq!(alice.expect("on-peer-leave").await["peer_id"], bob_id);

    server
        .post_ok(
            &format!("/v2/active-rooms/{room_id}/end-room"),
            json!({"reason": "done", "lock": true}),
        )
        .await;
    assert_eq!(
        alice.expect("on-peer-leave-request").await,
        json!({"reason": "done", "room_end": true})
    );
    wait_for_peers(&server, &room_id, &[]).await;
    // Locked: the next client is refused at /init, before any socket.
    let (status, _) = init(&server, Some(&app_token(&room_id, "guest", "u9"))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

/// A template with a role that only one peer may take, for the capacity refusal.
async fn room_with_single_seat(server: &TestServer, name: &str) -> String {
    let (status, template) = server.get("/v2/templates").await;
    assert_eq!(status, StatusCode::OK, "{template}");
    let template_id = template["data"][0]["id"]
        .as_str()
        .expect("a default template")
        .to_owned();
    server
        .post_ok(
            &format!("/v2/templates/{template_id}/roles/solo"),
            json!({"name": "solo", "maxPeerCount": 1}),
        )
        .await;
    room(server, name).await
}

#[tokio::test]
async fn bad_joins_and_bad_frames_get_the_protocols_errors_and_leak_nothing() {
    let server = TestServer::start();
    let room_id = room_with_single_seat(&server, "signal-refusals").await;
    let (mut member, member_id, _) = Client::join(&server, &room_id, "solo", "Member").await;

    // Requests before join are refused; pings are answered; unknown methods are 405.
    let token = app_token(&room_id, "guest", "u2");
    let mut early = Client::connect(&server, &token, "early-peer").await;
    early.expect("on-policy-change").await;
    assert_eq!(early.call("ping", json!({"timestamp": 1})).await["result"], json!({}));
    let refused = early.call("broadcast", json!({"info": {"message": "x"}})).await;
    assert_eq!(refused["error"]["code"], 400, "{refused}");
    let unknown = early.call("poll-start", json!({})).await;
    assert_eq!(unknown["error"]["code"], 405, "{unknown}");
    let malformed = early.call("join", json!({"name": 5})).await;
    assert_eq!(malformed["error"]["code"], 400, "{malformed}");

    // The role is full: 403, and the refused peer is nowhere.
    let full = Client::connect(&server, &app_token(&room_id, "solo", "u3"), "second-solo").await;
    let mut full = full;
    full.expect("on-policy-change").await;
    let refusal = full.call("join", json!({"name": "Second"})).await;
    assert_eq!(refusal["error"]["code"], 403, "{refusal}");
    // A role the template does not have: 400.
    let mut stranger = Client::connect(&server, &app_token(&room_id, "nobody", "u4"), "stranger").await;
    let policy = stranger.expect("on-policy-change").await;
    assert_eq!(policy["name"], "nobody");
    let refusal = stranger.call("join", json!({"name": "Stranger"})).await;
    assert_eq!(refusal["error"]["code"], 400, "{refusal}");

    // Another user's token cannot take a live peer over by its id (which every peer of
    // the room knows).
    let mut hijack = Client::connect(&server, &app_token(&room_id, "solo", "someone-else"), &member_id).await;
    assert_eq!(hijack.closed().await, Some(CloseCode::Policy));
    assert_eq!(member.call("ping", json!({})).await["result"], json!({}));

    // A second socket of the same user with a live peer's id takes the peer over (a
    // reconnect), and a second join on it is refused.
    let mut again = Client::connect(&server, &app_token(&room_id, "solo", "user-Member"), &member_id).await;
    again.expect("on-policy-change").await;
    again.expect("peer-list").await;
    let refusal = again.call("join", json!({"name": "Member"})).await;
    assert_eq!(refusal["error"], json!({"code": 400, "message": "peer already joined"}));
    assert_eq!(member.closed().await, None, "the old socket is closed");

    // Frames the protocol does not allow close that socket and nothing else.
    let mut binary = Client::connect(&server, &token, "binary-peer").await;
    binary.socket.send(Message::Binary(vec![1, 2, 3].into())).await.unwrap();
    assert_eq!(binary.closed().await, Some(CloseCode::Unsupported));
    let mut not_json = Client::connect(&server, &token, "text-peer").await;
    not_json.socket.send(Message::Text("{not json".into())).await.unwrap();
    assert_eq!(not_json.closed().await, Some(CloseCode::Unsupported));
    let mut oversized = Client::connect(&server, &token, "big-peer").await;
    let huge = json!({"method": "ping", "params": {"pad": "x".repeat(300 * 1024)}, "id": "1"}).to_string();
    let _ = oversized.socket.send(Message::Text(huge.into())).await;
    assert_eq!(
        oversized.closed().await,
        Some(CloseCode::Size),
        "an oversized message ends the socket"
    );
    let mut flood = Client::connect(&server, &token, "flood-peer").await;
    flood.expect("on-policy-change").await;
    for n in 0..200 {
        let ping = json!({"method": "ping", "params": {}, "id": format!("p{n}")}).to_string();
        if flood.socket.send(Message::Text(ping.into())).await.is_err() {
            break;
        }
    }
    assert_eq!(flood.closed().await, Some(CloseCode::Policy));

    // Through all of it, the room has its one peer, still served.
    let answer = again.call("ping", json!({})).await;
    assert_eq!(answer["result"], json!({}));
    wait_for_peers(&server, &room_id, &["Member"]).await;
}

#[tokio::test]
async fn a_message_in_fragments_is_read_whole_and_a_large_one_is_sent_whole() {
    let server = TestServer::start();
    let room_id = room(&server, "signal-fragments").await;
    let (mut alice, alice_id, _) = Client::join(&server, &room_id, "host", "Alice").await;
    let (mut bob, _, _) = Client::join(&server, &room_id, "guest", "Bob").await;
    alice.expect("on-peer-join").await;

    // Alice sends a broadcast of 200 KB in three fragments, with a ping between them.
    let message = "m".repeat(200_000);
    let request = json!({
        "method": "broadcast",
        "params": {"info": {"message": message, "type": "chat"}},
        "id": "large",
        "jsonrpc": "2.0",
    })
    .to_string();
    let (first, rest) = request.as_bytes().split_at(1000);
    let (second, last) = rest.split_at(100_000);
    let fragments = [
        Frame::message(first.to_vec(), OpCode::Data(Data::Text), false),
        Frame::message(second.to_vec(), OpCode::Data(Data::Continue), false),
        Frame::ping(b"between fragments".to_vec()),
        Frame::message(last.to_vec(), OpCode::Data(Data::Continue), true),
    ];
    for fragment in fragments {
        alice.socket.send(Message::Frame(fragment)).await.expect("send");
    }
    let answer = alice.next().await;
    assert_eq!(answer["id"], "large", "{answer}");
    assert!(answer["result"]["message_id"].is_string(), "{answer}");

    // Bob gets it whole, in one message larger than 64 KiB.
    let received = bob.expect("on-broadcast").await;
    assert_eq!(received["info"]["message"].as_str(), Some(message.as_str()));
    assert_eq!(received["peer"]["peer_id"], alice_id);
    // Both sockets go on as before.
    assert_eq!(bob.call("ping", json!({})).await["result"], json!({}));
    assert_eq!(alice.call("ping", json!({})).await["result"], json!({}));
}

#[tokio::test]
async fn a_join_into_a_room_disabled_after_init_is_refused() {
    let server = TestServer::start();
    let room_id = room(&server, "signal-disabled").await;
    let mut client = Client::connect(&server, &app_token(&room_id, "guest", "u1"), "late-peer").await;
    client.expect("on-policy-change").await;
    let (status, _) = server
        .post(&format!("/v2/rooms/{room_id}"), json!({"enabled": false}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let refusal = client.call("join", json!({"name": "Late"})).await;
    assert_eq!(refusal["error"]["code"], 403, "{refusal}");
    wait_for_peers(&server, &room_id, &[]).await;
}

#[tokio::test]
async fn a_dropped_socket_keeps_the_peer_for_the_window_and_then_removes_it() {
    let server = TestServer::start_with(&["--simulate-peers"], &[("HMS_RTC_RECONNECT_WINDOW_MS", "1500")]);
    let room_id = room(&server, "signal-window").await;
    let (mut alice, _, _) = Client::join(&server, &room_id, "host", "Alice").await;
    let (bob, bob_id, _) = Client::join(&server, &room_id, "guest", "Bob").await;
    alice.expect("on-peer-join").await;

    // Bob's socket drops and comes back within the window: same peer, fresh policy and
    // peer list, and the REST API's messages reach him again.
    drop(bob);
    let token = app_token(&room_id, "guest", "user-Bob");
    let mut bob = Client::connect(&server, &token, &bob_id).await;
    assert_eq!(bob.expect("on-policy-change").await["name"], "guest");
    let list = bob.expect("peer-list").await;
    assert_eq!(list["peers"].as_object().unwrap().len(), 1, "{list}");
    let (status, _) = server
        .post(
            &format!("/v2/active-rooms/{room_id}/send-message"),
            json!({"message": "still here?"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(bob.expect("on-broadcast").await["info"]["message"], "still here?");

    // Now it drops for good: after the window, Bob is removed, and Alice told.
    drop(bob);
    let left = alice.expect("on-peer-leave").await;
    assert_eq!(left["peer_id"], bob_id);
    wait_for_peers(&server, &room_id, &["Alice"]).await;
    let (status, log) = server
        .get(&format!(
            "/v2/simulate/events?room_id={room_id}&type=peer.leave.success"
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{log}");
    let leave = &log["events"][0]["data"];
    assert_eq!(
        (leave["peer_id"].as_str(), leave["reason"].as_str()),
        (Some(bob_id.as_str()), Some("websocket closed"))
    );
}

/// The events (and so the webhooks) of one story told by real peers and by simulated
/// peers, without what differs by nature: ids, times and durations.
#[tokio::test]
async fn real_peers_log_the_same_events_as_simulated_peers() {
    let data = tempfile::tempdir().unwrap();
    let server = TestServer::start_in(data.path(), &["--simulate-peers"]);
    let real_room = room(&server, "story-real").await;
    let (mut alice, _, _) = Client::join(&server, &real_room, "host", "Alice").await;
    let (_bob, bob_id, _) = Client::join(&server, &real_room, "guest", "Bob").await;
    alice.expect("on-peer-join").await;
    let (status, _) = server
        .post(
            &format!("/v2/active-rooms/{real_room}/peers/{bob_id}"),
            json!({"role": "host"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = server
        .post(
            &format!("/v2/active-rooms/{real_room}/remove-peers"),
            json!({"peer_id": bob_id, "reason": "r"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    alice.notify("leave", json!({"client_reason": "user request"})).await;
    wait_for_peers(&server, &real_room, &[]).await;

    let simulated_room = room(&server, "story-simulated").await;
    let join = |role: &str, name: &str| json!({"role": role, "name": name, "user_id": format!("user-{name}"), "metadata": "{}"});
    let (_, alice) = server
        .post(
            &format!("/v2/simulate/rooms/{simulated_room}/peers"),
            join("host", "Alice"),
        )
        .await;
    let (_, bob) = server
        .post(
            &format!("/v2/simulate/rooms/{simulated_room}/peers"),
            join("guest", "Bob"),
        )
        .await;
    let bob_sim = bob["id"].as_str().unwrap();
    server
        .post(
            &format!("/v2/active-rooms/{simulated_room}/peers/{bob_sim}"),
            json!({"role": "host"}),
        )
        .await;
    server
        .post(
            &format!("/v2/active-rooms/{simulated_room}/remove-peers"),
            json!({"peer_id": bob_sim, "reason": "r"}),
        )
        .await;
    let alice_sim = alice["id"].as_str().unwrap();
    let left = server
        .delete(&format!("/v2/simulate/rooms/{simulated_room}/peers/{alice_sim}"))
        .await;
    assert_eq!(left.status, StatusCode::OK);

    let story = |events: &Value, room_name: &str| -> Vec<Value> {
        events["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|event| {
                let data = &event["data"];
                json!({
                    "type": event["type"], "room_name": data["room_name"].as_str().map(|_| room_name),
                    "user_id": data["user_id"], "user_name": data["user_name"], "user_data": data["user_data"],
                    "role": data["role"], "reason": data["reason"], "message": data["message"],
                })
            })
            .collect()
    };
    let (_, real) = server
        .get(&format!("/v2/simulate/events?room_id={real_room}&limit=100"))
        .await;
    let (_, simulated) = server
        .get(&format!("/v2/simulate/events?room_id={simulated_room}&limit=100"))
        .await;
    let real = story(&real, "story");
    assert_eq!(real.len(), 7, "{real:#?}");
    assert_eq!(real, story(&simulated, "story"));
}

#[tokio::test]
#[ignore = "needs PostgreSQL (HMS_TEST_POSTGRES_URL)"]
async fn init_on_any_node_sends_clients_to_the_rooms_node_and_any_node_controls_its_peers() {
    assert!(
        common::on_postgres(),
        "several nodes need PostgreSQL: set HMS_TEST_POSTGRES_URL"
    );
    let dirs = tempfile::tempdir().unwrap();
    let (first, second) = (dirs.path().join("node-a"), dirs.path().join("node-b"));
    common::share_test_database(&first, &second);
    let a = TestServer::start_node(&first, &["--simulate-peers"], &[]);
    let mut b = TestServer::start_node(&second, &["--simulate-peers"], &[]);
    let room_id = room(&a, "multi-node-room").await;
    let token = app_token(&room_id, "host", "user-Alice");

    // The first /init places the room on its node; /init on the other node agrees.
    let on_b = format!("{}/v2/ws", ws_base(&b));
    for node in [&b, &a] {
        let (status, body) = init(node, Some(&token)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["endpoint"], on_b.as_str());
    }

    // Alice joins on node B; everything done through node A reaches her.
    let (mut alice, alice_id, _) = Client::join(&b, &room_id, "host", "Alice").await;
    let (status, _) = a
        .post(
            &format!("/v2/active-rooms/{room_id}/send-message"),
            json!({"message": "via node A"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(alice.expect("on-broadcast").await["info"]["message"], "via node A");
    a.post_ok(
        &format!("/v2/simulate/rooms/{room_id}/peers"),
        json!({"role": "guest", "name": "Bob"}),
    )
    .await;
    assert_eq!(alice.expect("on-peer-join").await["info"]["name"], "Bob");
    let (status, _) = a
        .post(
            &format!("/v2/active-rooms/{room_id}/peers/{alice_id}"),
            json!({"name": "Alicia"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(alice.expect("on-peer-update").await["info"]["name"], "Alicia");
    let (status, _) = a
        .post(
            &format!("/v2/active-rooms/{room_id}/remove-peers"),
            json!({"peer_id": alice_id, "reason": "bye"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(alice.expect("on-peer-leave-request").await["reason"], "bye");

    // Node B stops: the next /init places the room on node A.
    b.terminate();
    let (status, body) = init(&a, Some(&token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["endpoint"], format!("{}/v2/ws", ws_base(&a)));
}

#[tokio::test]
async fn init_hands_out_the_configured_ice_servers() {
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("hms.toml");
    std::fs::write(
        &config,
        r#"
[[rtc.ice_servers]]
urls = ["turn:turn.example.com:3478?transport=udp", "turns:turn.example.com:5349"]
username = "user"
credential = "pass"

[[rtc.ice_servers]]
urls = ["stun:stun.example.com:3478"]
"#,
    )
    .unwrap();
    let server = TestServer::start_in(&data.path().join("data"), &["--config", config.to_str().unwrap()]);
    let room_id = room(&server, "ice-room").await;
    let (status, body) = init(&server, Some(&app_token(&room_id, "host", "u1"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["rtcConfiguration"],
        json!({"ice_servers": [
            {"urls": ["turn:turn.example.com:3478?transport=udp", "turns:turn.example.com:5349"], "username": "user", "credential": "pass"},
            {"urls": ["stun:stun.example.com:3478"]},
        ]})
    );
}

/// A publish offer with one sending section of `kind` carrying track `track_id` (enough
/// for the server's checks, which come before the SDP is negotiated).
fn publish_offer(kind: &str, track_id: &str) -> String {
    format!(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n\
         m={kind} 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=sendonly\r\n\
         a=msid:stream-1 {track_id}\r\n"
    )
}

fn described(track_id: &str, kind: &str, source: &str) -> Value {
    json!({ track_id: {
        "track_id": track_id, "stream_id": "stream-1", "type": kind, "source": source,
        "mute": false, "description": ""
    }})
}

#[tokio::test]
async fn publish_offers_are_checked_against_the_role_and_the_tracks_map_and_change_nothing() {
    let server = TestServer::start();
    let roles = json!({
        "speaker": {"name": "speaker", "publishParams": {"allowed": ["audio"]}},
        "listener": {"name": "listener", "publishParams": {"allowed": []}},
    });
    let template = server
        .post_ok("/v2/templates", json!({"name": "publishing", "roles": roles}))
        .await;
    let room = server
        .post_ok(
            "/v2/rooms",
            json!({"name": "publishing", "template_id": template["id"]}),
        )
        .await;
    let room_id = room["id"].as_str().expect("room id");
    let (mut speaker, speaker_id, _) = Client::join(&server, room_id, "speaker", "Speaker").await;
    let (mut listener, _, _) = Client::join(&server, room_id, "listener", "Listener").await;

    // Who offers, a section of which kind carrying which track, how `tracks` describes
    // it (id, type, source), and the refusal.
    let refusals = [
        (
            "speaker",
            "video",
            "cam",
            ("cam", "video", "regular"),
            403,
            "role speaker may not publish video",
        ),
        (
            "speaker",
            "video",
            "screen",
            ("screen", "video", "screen"),
            403,
            "role speaker may not publish screen",
        ),
        (
            "speaker",
            "audio",
            "mic",
            ("other", "audio", "regular"),
            400,
            "the offer sends track mic, which its tracks map does not describe",
        ),
        (
            "speaker",
            "audio",
            "mic",
            ("mic", "video", "regular"),
            400,
            "track mic is described as video but sent as audio",
        ),
        (
            "listener",
            "audio",
            "mic",
            ("mic", "audio", "regular"),
            403,
            "role listener may not publish audio",
        ),
    ];
    for (who, kind, track_id, (id, described_kind, source), code, message) in refusals {
        let client = if who == "speaker" { &mut speaker } else { &mut listener };
        let params = json!({
            "desc": {"type": "offer", "sdp": publish_offer(kind, track_id)},
            "tracks": described(id, described_kind, source),
        });
        let answer = client.call("offer", params).await;
        assert_eq!(answer["error"], json!({"code": code, "message": message}), "{answer}");
    }
    // An answer when the server made no offer.
    let answer = speaker
        .call("answer", json!({"desc": {"type": "answer", "sdp": "v=0\r\n"}}))
        .await;
    assert_eq!(
        answer["error"],
        json!({"code": 400, "message": "no subscribe offer was made"})
    );

    // Nothing was published: the peer has no tracks, and both peers are still served.
    let (status, peer) = server
        .get(&format!("/v2/active-rooms/{room_id}/peers/{speaker_id}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{peer}");
    assert_eq!(peer["tracks"], json!({}));
    assert_eq!(listener.call("ping", json!({})).await["result"], json!({}));
}
