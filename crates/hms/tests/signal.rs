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
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long any one expected message may take.
const PATIENCE: Duration = Duration::from_secs(10);

fn app_token(room_id: &str, role: &str, user_id: &str) -> String {
    let claims = Claims::app(ACCESS_KEY, room_id, role, user_id, now_secs(), 3600);
    hms_auth::mint(&claims, &AppSecret::new(SECRET))
}

async fn room(server: &TestServer, name: &str) -> String {
    let (status, room) = server.post("/v2/rooms", json!({ "name": name })).await;
    assert_eq!(status, StatusCode::OK, "{room}");
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
    for (query, status) in [
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

    let (status, body) = server
        .post(
            &format!("/v2/active-rooms/{room_id}/send-message"),
            json!({"message": "hello from the backend"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for client in [&mut alice, &mut bob] {
        let message = client.expect("on-broadcast").await;
        assert_eq!(
            message["info"],
            json!({"message": "hello from the backend", "type": "chat"})
        );
        assert!(message.get("peer").is_none(), "{message}");
    }

    let (status, body) = server
        .post(
            &format!("/v2/active-rooms/{room_id}/peers/{bob_id}"),
            json!({"name": "Robert", "metadata": "m"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for client in [&mut alice, &mut bob] {
        let update = client.expect("on-peer-update").await;
        assert_eq!(
            (update["peer_id"].as_str(), update["info"]["name"].as_str()),
            (Some(bob_id.as_str()), Some("Robert"))
        );
        assert_eq!(update["info"]["data"], "m");
        assert_eq!(update["realtime"], true);
    }

    let (status, body) = server
        .post(
            &format!("/v2/active-rooms/{room_id}/peers/{bob_id}"),
            json!({"role": "host"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(bob.expect("on-policy-change").await["name"], "host");
    assert_eq!(alice.expect("on-peer-update").await["role"], "host");

    let (status, body) = server
        .post(
            &format!("/v2/active-rooms/{room_id}/remove-peers"),
            json!({"peer_id": bob_id, "reason": "misconduct"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let request = bob.expect("on-peer-leave-request").await;
    assert_eq!(request, json!({"reason": "misconduct", "room_end": false}));
    assert_eq!(bob.closed().await, None, "the server closes a removed peer's socket");
    assert_eq!(alice.expect("on-peer-leave").await["peer_id"], bob_id);

    let (status, body) = server
        .post(
            &format!("/v2/active-rooms/{room_id}/end-room"),
            json!({"reason": "done", "lock": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        alice.expect("on-peer-leave-request").await,
        json!({"reason": "done", "room_end": true})
    );
    wait_for_peers(&server, &room_id, &[]).await;
    // Locked: the next client is refused at /init, before any socket.
    let (status, _) = init(&server, Some(&app_token(&room_id, "guest", "u9"))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
