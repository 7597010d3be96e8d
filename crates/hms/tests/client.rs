//! The Rust client (`hms-client`) against a live server: every operation of the catalogue
//! through its typed method, pagination streams over several pages, token renewal after a
//! refusal, a ready-token client, and error envelopes.

mod common;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use common::{ACCESS_KEY, SECRET, TestServer, envelope, now_secs};
use futures::TryStreamExt;
use hms_auth::{AppSecret, TokenType, VerifyPolicy};
use hms_client::{Client, Credentials, Error, OperationInput};
use hms_types::active_room::{EndRoom, PeerFilter, PeerUpdate, RemovePeers, SendMessage};
use hms_types::room::{RoomFilter, RoomParams};
use hms_types::room_code::{RoomCodeFilter, RoomCodeUpdate};
use hms_types::session::SessionFilter;
use hms_types::simulate::{EventLogQuery, SimulatedJoin};
use hms_types::template::{Destinations, RecordingConfig, RoleParams, TemplateParams};
use hms_types::token::TokenRequest;
use hms_types::webhook::{ReplayRequest, WebhookHistoryQuery};
use hms_types::{ErrorBody, PageQuery};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn client_for(base: &str, credentials: Credentials) -> Client {
    Client::builder(credentials)
        .base_url(format!("{base}/v2"))
        .build()
        .expect("client builds")
}

fn client(server: &TestServer) -> Client {
    client_for(&server.base, Credentials::key_and_secret(ACCESS_KEY, SECRET))
}

fn json_of(value: &impl Serialize) -> Value {
    serde_json::to_value(value).expect("serializes")
}

/// What the server answers to a plain GET of `path`, which the typed answer must equal.
async fn raw(server: &TestServer, path: &str) -> Value {
    let (status, body) = server.get(path).await;
    assert_eq!(status, 200, "GET {path}: {body}");
    body
}

fn api_error(result: Result<impl std::fmt::Debug, Error>) -> (u16, ErrorBody) {
    match result {
        Err(Error::Api { status, body }) => (status, body),
        other => panic!("expected an API error, got {other:?}"),
    }
}

fn body(code: u16, message: &str, details: &[&str]) -> ErrorBody {
    ErrorBody {
        code,
        message: message.to_owned(),
        details: details.iter().map(|d| (*d).to_owned()).collect(),
    }
}

fn named(name: &str) -> RoomParams {
    RoomParams {
        name: Some(name.to_owned()),
        ..Default::default()
    }
}

#[tokio::test]
async fn every_room_room_code_and_exchange_operation() {
    let server = TestServer::start();
    let client = client(&server);

    let created = client
        .create_room(&RoomParams {
            name: Some("standup".into()),
            description: Some("Daily standup".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        (created.name.as_str(), created.description.as_str(), created.enabled),
        ("standup", "Daily standup", true)
    );
    let path = format!("/v2/rooms/{}", created.id);
    assert_eq!(json_of(&created), raw(&server, &path).await);
    let fetched = client.get_room(&created.id).await.unwrap();
    assert_eq!(fetched, created);

    let updated = client
        .update_room(
            &created.id,
            &RoomParams {
                description: Some("Weekly sync".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.description, "Weekly sync");
    assert_eq!(json_of(&updated), raw(&server, &path).await);
    let disabled = client.disable_room(&created.id).await.unwrap();
    assert!(!disabled.enabled);
    assert_eq!(json_of(&disabled), raw(&server, &path).await);
    let page = client
        .list_rooms(&RoomFilter {
            enabled: Some(false),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(json_of(&page), raw(&server, "/v2/rooms?enabled=false").await);
    assert_eq!(page.data, vec![disabled.clone()]);
    let enabled = client.enable_room(&created.id).await.unwrap();
    assert!(enabled.enabled);
    let page = client.list_rooms(&RoomFilter::default()).await.unwrap();
    assert_eq!(page.data, vec![enabled.clone()]);

    // Room codes.
    let codes = client.create_room_codes(&created.id).await.unwrap();
    let roles: Vec<&str> = codes.data.iter().map(|code| code.role.as_str()).collect();
    assert_eq!(roles, ["host", "guest"]);
    let extra = client.create_room_code_for_role(&created.id, "guest").await.unwrap();
    assert_eq!((extra.role.as_str(), extra.enabled), ("guest", true));
    let listed = client
        .get_room_codes(&created.id, &RoomCodeFilter::default())
        .await
        .unwrap();
    let codes_path = format!("/v2/room-codes/room/{}", created.id);
    assert_eq!(json_of(&listed), raw(&server, &codes_path).await);
    assert_eq!(listed.data.len(), 3);
    let guests = client
        .get_room_codes(
            &created.id,
            &RoomCodeFilter {
                role: Some("guest".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(guests.data, vec![codes.data[1].clone(), extra.clone()]);
    let off = client
        .update_room_code(
            &extra.code,
            &RoomCodeUpdate {
                code: None,
                enabled: false,
            },
        )
        .await
        .unwrap();
    assert_eq!((off.code.as_str(), off.enabled), (extra.code.as_str(), false));

    // The exchange: a working code gives an app token for its room and role.
    let host_code = &codes.data[0].code;
    let exchanged = client
        .exchange_room_code(&TokenRequest {
            code: host_code.clone(),
            user_id: Some("alice".into()),
        })
        .await
        .unwrap();
    let policy = VerifyPolicy {
        expected_type: TokenType::App,
        leeway_secs: 5,
        max_lifetime_secs: 24 * 3600,
    };
    let claims = hms_auth::verify(
        &exchanged.token,
        |_| Some(vec![AppSecret::new(SECRET)]),
        &policy,
        now_secs(),
    )
    .expect("the app token verifies")
    .claims;
    assert_eq!(
        (
            claims.room_id.as_deref(),
            claims.role.as_deref(),
            claims.user_id.as_deref()
        ),
        (Some(created.id.as_str()), Some("host"), Some("alice"))
    );
    assert_eq!(exchanged.expires_at.unix_seconds(), claims.exp);
    // A disabled code is refused with the server's envelope.
    let refused = client
        .exchange_room_code(&TokenRequest {
            code: extra.code.clone(),
            user_id: None,
        })
        .await;
    let (status, error) = api_error(refused);
    assert_eq!((status, error.code), (403, 403), "{error:?}");
}

#[tokio::test]
async fn every_template_and_role_operation() {
    let server = TestServer::start();
    let client = client(&server);
    let params = TemplateParams {
        name: Some("webinar".into()),
        roles: Some(
            [("host", RoleParams::default()), ("viewer", RoleParams::default())]
                .into_iter()
                .map(|(name, role)| (name.to_owned(), role))
                .collect(),
        ),
        ..Default::default()
    };
    let template = client.create_template(&params).await.unwrap();
    let path = format!("/v2/templates/{}", template.id);
    assert_eq!(json_of(&template), raw(&server, &path).await);
    assert_eq!(template.roles.keys().collect::<Vec<_>>(), ["host", "viewer"]);
    assert_eq!(client.get_template(&template.id).await.unwrap(), template);
    let page = client.list_templates(&PageQuery::default()).await.unwrap();
    assert_eq!(json_of(&page), raw(&server, "/v2/templates").await);
    assert!(page.data.contains(&template));

    // Roles.
    let host = client.get_role(&template.id, "host").await.unwrap();
    assert_eq!(json_of(&host), raw(&server, &format!("{path}/roles/host")).await);
    let guest = client
        .upsert_role(
            &template.id,
            "guest",
            &RoleParams {
                max_peer_count: Some(10),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!((guest.name.as_str(), guest.max_peer_count), ("guest", 10));
    assert_eq!(client.get_role(&template.id, "guest").await.unwrap(), guest);
    client.delete_role(&template.id, "guest").await.unwrap();
    let (status, error) = api_error(client.get_role(&template.id, "guest").await);
    assert_eq!((status, error.message.as_str()), (404, "Role not found"));

    // Settings, destinations, recordings.
    let mut settings = client.get_template_settings(&template.id).await.unwrap();
    assert_eq!(json_of(&settings), raw(&server, &format!("{path}/settings")).await);
    settings.region = "eu".into();
    let stored = client.update_template_settings(&template.id, &settings).await.unwrap();
    assert_eq!((stored.region.as_str(), &stored), ("eu", &settings));
    let destinations = client.get_template_destinations(&template.id).await.unwrap();
    assert_eq!(
        json_of(&destinations),
        raw(&server, &format!("{path}/destinations")).await
    );
    let hls: Destinations = serde_json::from_value(json!({
        "hlsDestinations": {"hls": {"name": "hls", "playlistType": "live"}}
    }))
    .unwrap();
    let stored = client.update_template_destinations(&template.id, &hls).await.unwrap();
    assert_eq!(json_of(&stored), raw(&server, &format!("{path}/destinations")).await);
    assert_eq!(
        json_of(&stored)["hlsDestinations"]["hls"]["playlistType"],
        json!("live")
    );
    assert_eq!(client.get_template_recordings(&template.id).await.unwrap(), vec![]);
    let config = RecordingConfig {
        name: "main".into(),
        role: "host".into(),
        ..Default::default()
    };
    let stored = client
        .update_template_recordings(&template.id, std::slice::from_ref(&config))
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!((stored[0].name.as_str(), stored[0].role.as_str()), ("main", "host"));
    assert_eq!(client.get_template_recordings(&template.id).await.unwrap(), stored);

    // A full replace: roles left out are removed.
    let mut replace: TemplateParams = serde_json::from_value(json_of(&template)).unwrap();
    replace.name = Some("webinar-2".into());
    replace.roles = Some([("host".to_owned(), RoleParams::default())].into_iter().collect());
    let replaced = client.update_template(&template.id, &replace).await.unwrap();
    assert_eq!(replaced.name, "webinar-2");
    assert_eq!(replaced.roles.keys().collect::<Vec<_>>(), ["host"]);
    assert_eq!(json_of(&replaced), raw(&server, &path).await);
}

#[tokio::test]
async fn sessions_active_rooms_and_the_simulator() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_in(dir.path(), &["--simulate-peers"]);
    let client = client(&server);
    let room = client.create_room(&named("live")).await.unwrap();
    let (status, error) = api_error(client.get_active_room(&room.id).await);
    assert_eq!((status, error.message.as_str()), (404, "Room is not active"));

    let join = |role: &str, name: &str, user: &str| SimulatedJoin {
        role: role.into(),
        name: Some(name.into()),
        user_id: Some(user.into()),
        metadata: None,
    };
    let ann = client
        .simulate_peer_join(&room.id, &join("host", "Ann", "ann"))
        .await
        .unwrap();
    let bob = client
        .simulate_peer_join(&room.id, &join("guest", "Bob", "bob"))
        .await
        .unwrap();
    assert_eq!(
        (ann.name.as_str(), ann.role.as_str(), ann.user_id.as_str()),
        ("Ann", "host", "ann")
    );

    let active = client.get_active_room(&room.id).await.unwrap();
    let active_path = format!("/v2/active-rooms/{}", room.id);
    assert_eq!(json_of(&active), raw(&server, &active_path).await);
    assert_eq!(active.session.peers, vec![ann.id.clone(), bob.id.clone()]);
    let peers = client
        .list_active_room_peers(&room.id, &PeerFilter::default())
        .await
        .unwrap();
    assert_eq!(json_of(&peers), raw(&server, &format!("{active_path}/peers")).await);
    assert_eq!(peers.peers.keys().collect::<Vec<_>>(), [&ann.id, &bob.id]);
    let hosts = client
        .list_active_room_peers(
            &room.id,
            &PeerFilter {
                role: Some("host".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(hosts.peers.keys().collect::<Vec<_>>(), [&ann.id]);
    let peer = client.get_active_room_peer(&room.id, &ann.id).await.unwrap();
    assert_eq!(peer, ann);
    let renamed = client
        .update_active_room_peer(
            &room.id,
            &bob.id,
            &PeerUpdate {
                name: Some("Robert".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (renamed.id.as_str(), renamed.name.as_str()),
        (bob.id.as_str(), "Robert")
    );

    let sent = client
        .send_message(
            &room.id,
            &SendMessage {
                message: "hello".into(),
                role: Some("guest".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(sent.message, "message sent");
    let received = client.list_simulated_peer_messages(&room.id, &bob.id).await.unwrap();
    let kinds: Vec<&str> = received.messages.iter().map(|m| m.kind.as_str()).collect();
    assert_eq!(kinds, ["name_changed", "message"]);
    assert_eq!(received.messages[1].fields["message"], json!("hello"));
    assert_eq!(
        client
            .list_simulated_peer_messages(&room.id, &ann.id)
            .await
            .unwrap()
            .messages,
        vec![]
    );

    let removed = client
        .remove_peers(
            &room.id,
            &RemovePeers {
                peer_id: Some(bob.id.clone()),
                reason: Some("bye".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(json_of(&removed), json!({"message": "peer remove request submitted"}));

    // Sessions: the running one, then a second after the room ends.
    let sessions = client.list_sessions(&SessionFilter::default()).await.unwrap();
    assert_eq!(json_of(&sessions), raw(&server, "/v2/sessions").await);
    assert_eq!(sessions.data.len(), 1);
    let session = client.get_session(&sessions.data[0].id).await.unwrap();
    assert_eq!(session, sessions.data[0]);
    assert_eq!(session.id, active.session.id);
    assert!(session.active);

    let ended = client
        .end_active_room(
            &room.id,
            &EndRoom {
                reason: Some("done".into()),
                lock: false,
            },
        )
        .await
        .unwrap();
    assert_eq!(ended.message, "session is ending");
    assert!(!client.get_session(&session.id).await.unwrap().active);
    let carl = client
        .simulate_peer_join(&room.id, &join("host", "Carl", "carl"))
        .await
        .unwrap();
    let left = client.simulate_peer_leave(&room.id, &carl.id).await.unwrap();
    assert_eq!(left.message, "peer left");
    let all: Vec<_> = client
        .list_sessions_stream(&SessionFilter {
            room_id: Some(room.id.clone()),
            ..Default::default()
        })
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[1].id, session.id, "newest first");

    // The event log.
    let log = client.list_events(&EventLogQuery::default()).await.unwrap();
    assert_eq!(json_of(&log), raw(&server, "/v2/simulate/events").await);
    let first = log.events.first().expect("events were logged");
    assert_eq!(first.kind, "session.open.success");
    let peer_joins = client
        .list_events(&EventLogQuery {
            kind: Some("peer.join.success".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(peer_joins.events.len(), 3);
}

#[tokio::test]
async fn webhook_history_and_replays() {
    let server = TestServer::start();
    let client = client(&server);
    let history = client
        .list_webhook_deliveries(&WebhookHistoryQuery::default())
        .await
        .unwrap();
    assert_eq!(json_of(&history), raw(&server, "/v2/analytics/webhooks").await);
    assert_eq!(history.events, vec![]);
    let replay = client.replay_webhooks(&ReplayRequest::default()).await.unwrap();
    assert_eq!(replay.status, "started");
    let status = client.get_webhook_replay(&replay.workflow_id).await.unwrap();
    assert_eq!(
        json_of(&status),
        raw(
            &server,
            &format!("/v2/analytics/webhooks/replay/{}", replay.workflow_id)
        )
        .await
    );
    assert_eq!(
        (status.workflow_id.as_str(), status.progress.total),
        (replay.workflow_id.as_str(), 0)
    );
    let (status, error) = api_error(client.get_webhook_replay("nope").await);
    assert_eq!((status, error.message.as_str()), (404, "workflow not found"));
}

#[tokio::test]
async fn streams_follow_the_cursor_over_several_pages() {
    let server = TestServer::start();
    let client = client(&server);
    let mut created = Vec::new();
    for index in 0..25 {
        created.push(client.create_room(&named(&format!("room-{index:02}"))).await.unwrap());
    }
    let ten = RoomFilter {
        limit: Some(10),
        ..Default::default()
    };
    let first = client.list_rooms(&ten).await.unwrap();
    assert_eq!(first.data.len(), 10);
    let streamed: Vec<_> = client.list_rooms_stream(&ten).try_collect().await.unwrap();
    created.reverse();
    assert_eq!(streamed, created, "every room once, newest first");
    // Filters stay on every page.
    let by_name: Vec<_> = client
        .list_rooms_stream(&RoomFilter {
            name: Some("room-07".into()),
            limit: Some(10),
            ..Default::default()
        })
        .try_collect()
        .await
        .unwrap();
    assert_eq!(by_name.len(), 1);

    // Room codes (a cursor that is a code, in creation order) and templates.
    let room = &created[0];
    let mut codes = client.create_room_codes(&room.id).await.unwrap().data;
    for _ in 0..11 {
        codes.push(client.create_room_code_for_role(&room.id, "guest").await.unwrap());
    }
    let streamed: Vec<_> = client
        .get_room_codes_stream(
            &room.id,
            &RoomCodeFilter {
                limit: Some(10),
                ..Default::default()
            },
        )
        .try_collect()
        .await
        .unwrap();
    assert_eq!(streamed, codes);
    let mut names = HashSet::new();
    for index in 0..11 {
        let params = TemplateParams {
            name: Some(format!("template-{index}")),
            ..Default::default()
        };
        names.insert(client.create_template(&params).await.unwrap().name);
    }
    let templates: Vec<_> = client
        .list_templates_stream(&PageQuery {
            limit: Some(10),
            start: None,
        })
        .try_collect()
        .await
        .unwrap();
    let listed: HashSet<_> = templates.iter().map(|t| t.name.clone()).collect();
    assert_eq!(templates.len(), 12, "the default template and eleven more");
    assert!(names.is_subset(&listed));

    // The untyped form the CLI uses yields the pages themselves.
    let op = hms_api::find("list-rooms").unwrap();
    let mut input = OperationInput::default();
    input.query.insert("limit".into(), json!(10));
    let pages: Vec<Value> = client.execute_pages(op, input).try_collect().await.unwrap();
    let sizes: Vec<usize> = pages.iter().map(|p| p["data"].as_array().unwrap().len()).collect();
    assert_eq!(sizes, [10, 10, 5]);
    assert_eq!(
        pages[1],
        raw(
            &server,
            &format!("/v2/rooms?limit=10&start={}", pages[0]["last"].as_str().unwrap())
        )
        .await
    );
}

/// A proxy in front of the server that refuses the first `refusals` requests with 401 and
/// forwards the others; it records the bearer token of each request.
struct RefusingProxy {
    base: String,
    tokens: Arc<Mutex<Vec<String>>>,
}

impl RefusingProxy {
    async fn start(server: &TestServer, refusals: usize) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let tokens = Arc::new(Mutex::new(Vec::new()));
        let seen = tokens.clone();
        let upstream = server.base.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                let (method, path, headers, body) = read_request(&mut stream).await;
                let authorization = headers
                    .iter()
                    .find(|(name, _)| name.eq_ignore_ascii_case("authorization"))
                    .map(|(_, value)| value.trim_start_matches("Bearer ").to_owned())
                    .unwrap_or_default();
                let count = {
                    let mut tokens = seen.lock().unwrap();
                    tokens.push(authorization.clone());
                    tokens.len()
                };
                let (status, answer) = if count <= refusals {
                    (
                        401,
                        envelope(401, "Token validation error", &["refused by the proxy"]).to_string(),
                    )
                } else {
                    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
                    let response = common::client()
                        .request(method, format!("{upstream}{path}"))
                        .bearer_auth(&authorization)
                        .header("content-type", "application/json")
                        .body(body)
                        .send()
                        .await
                        .unwrap();
                    (response.status().as_u16(), response.text().await.unwrap())
                };
                let reply = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
                     connection: close\r\n\r\n{answer}",
                    answer.len()
                );
                let _ = stream.write_all(reply.as_bytes()).await;
                let _ = stream.shutdown().await;
            }
        });
        Self { base, tokens }
    }

    fn tokens(&self) -> Vec<String> {
        self.tokens.lock().unwrap().clone()
    }
}

type Request = (String, String, Vec<(String, String)>, Vec<u8>);

async fn read_request(stream: &mut tokio::net::TcpStream) -> Request {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
        let read = stream.read(&mut chunk).await.unwrap();
        assert!(read > 0, "the request ended early");
        buffer.extend_from_slice(&chunk[..read]);
    };
    let head = String::from_utf8(buffer[..head_end].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap().split(' ');
    let method = request_line.next().unwrap().to_owned();
    let path = request_line.next().unwrap().to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .map_or(0, |(_, value)| value.parse().unwrap());
    let mut body = buffer[head_end + 4..].to_vec();
    while body.len() < length {
        let read = stream.read(&mut chunk).await.unwrap();
        assert!(read > 0, "the body ended early");
        body.extend_from_slice(&chunk[..read]);
    }
    (method, path, headers, body)
}

fn verified(token: &str) -> hms_auth::Claims {
    hms_auth::verify(
        token,
        |_| Some(vec![AppSecret::new(SECRET)]),
        &VerifyPolicy::management(),
        now_secs(),
    )
    .expect("a management token of the test workspace")
    .claims
}

#[tokio::test]
async fn a_refused_minted_token_is_renewed_and_the_call_retried_once() {
    let server = TestServer::start();
    let proxy = RefusingProxy::start(&server, 1).await;
    let client = client_for(&proxy.base, Credentials::key_and_secret(ACCESS_KEY, SECRET));
    let before = client.management_token().unwrap();
    let room = client.create_room(&named("renewed")).await.unwrap();
    assert_eq!(room.name, "renewed");
    let tokens = proxy.tokens();
    assert_eq!(tokens.len(), 2, "one refusal, one retry");
    assert_eq!(tokens[0], before);
    assert_ne!(tokens[1], tokens[0], "the retry carries a freshly minted token");
    let (first, second) = (verified(&tokens[0]), verified(&tokens[1]));
    assert_eq!(
        (
            second.access_key.as_str(),
            second.token_type,
            second.exp - second.iat.unwrap()
        ),
        (ACCESS_KEY, TokenType::Management, 24 * 3600)
    );
    assert_ne!(first.jti, second.jti);
    // The renewed token is kept for the next calls.
    assert_eq!(client.management_token().unwrap(), tokens[1]);
    client.get_room(&room.id).await.unwrap();
    assert_eq!(proxy.tokens()[2], tokens[1]);

    // Refused twice, the call fails with the second refusal, after exactly one retry.
    let proxy = RefusingProxy::start(&server, 2).await;
    let client = client_for(&proxy.base, Credentials::key_and_secret(ACCESS_KEY, SECRET));
    let (status, error) = api_error(client.get_room(&room.id).await);
    assert_eq!(
        (status, error),
        (401, body(401, "Token validation error", &["refused by the proxy"]))
    );
    assert_eq!(proxy.tokens().len(), 2);
}

#[tokio::test]
async fn a_ready_token_is_sent_as_it_is_and_never_renewed() {
    let server = TestServer::start();
    let token = server.token();
    let client = client_for(&server.base, Credentials::token(&token));
    assert_eq!(client.management_token().unwrap(), token);
    let room = client.create_room(&named("ready")).await.unwrap();
    assert_eq!(client.get_room(&room.id).await.unwrap(), room);

    let proxy = RefusingProxy::start(&server, 1).await;
    let client = client_for(&proxy.base, Credentials::token(&token));
    let (status, error) = api_error(client.get_room(&room.id).await);
    assert_eq!(
        (status, error),
        (401, body(401, "Token validation error", &["refused by the proxy"]))
    );
    assert_eq!(proxy.tokens(), vec![token], "no retry without a secret");

    // A token of another secret is refused by the server itself.
    let forged = common::management_token(ACCESS_KEY, "not-the-secret");
    let client = client_for(&server.base, Credentials::token(forged));
    let (status, error) = api_error(client.list_rooms(&RoomFilter::default()).await);
    assert_eq!(
        (status, error),
        (
            401,
            body(
                401,
                "Token validation error: token signature does not match any app secret of the access key",
                &["token signature does not match any app secret of the access key"]
            )
        )
    );
}

#[tokio::test]
async fn errors_carry_the_servers_envelope() {
    let server = TestServer::start();
    let client = client(&server);
    let (status, error) = api_error(client.get_room("no-such-room").await);
    let (raw_status, raw_body) = server.get("/v2/rooms/no-such-room").await;
    assert_eq!((status, json_of(&error)), (raw_status.as_u16(), raw_body));
    assert_eq!((status, error.message.as_str()), (404, "Room not found"));

    let error = client
        .create_room(&RoomParams {
            size: Some(30_000),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(400));
    let (status, envelope) = api_error(Err::<(), _>(error));
    assert_eq!(status, envelope.code);
    assert_eq!(
        (envelope.message.as_str(), envelope.details.as_slice()),
        (
            "Invalid body param",
            ["Invalid body param: room size greater than 20000".to_owned()].as_slice()
        )
    );

    // Nobody listens: a transport error, not an API error.
    let closed = client_for("http://127.0.0.1:1", Credentials::key_and_secret(ACCESS_KEY, SECRET));
    let error = closed.get_room("x").await.unwrap_err();
    assert!(matches!(error, Error::Transport(_)), "{error:?}");
    assert_eq!(error.status(), None);
}

/// Each non-alias operation's typed method is called somewhere in this file, so that an
/// operation added to the catalogue is not left untested here.
#[test]
fn this_file_calls_every_typed_method() {
    let source = include_str!("client.rs");
    let missing: Vec<String> = hms_api::OPERATIONS
        .iter()
        .filter(|op| op.alias_of.is_none())
        .map(|op| op.name.replace('-', "_"))
        .filter(|method| !source.contains(&format!(".{method}(")))
        .collect();
    assert!(missing.is_empty(), "not exercised: {missing:?}");
    for op in hms_api::OPERATIONS
        .iter()
        .filter(|op| op.paginated && op.alias_of.is_none())
    {
        let stream = format!(".{}_stream(", op.name.replace('-', "_"));
        assert!(source.contains(&stream), "not exercised: {stream}");
    }
}
