//! Safe retries (issue 17): a management-API POST with an `Idempotency-Key` runs once per
//! key and workspace; the same request again answers the stored response with
//! `Idempotent-Replayed: true`, also when the copies arrive at once or on two nodes; the
//! same key with another request is 422; keys expire.
//!
//! Rooms created without a name get a fresh generated name, so two runs of the same
//! request make two rooms: counting rooms tells whether the work was done twice.

mod common;

use std::time::Duration;

use common::{ACCESS_KEY, SECRET, TestServer, envelope, management_token, send};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const REPLAYED: &str = "idempotent-replayed";

fn create_room(server: &TestServer, token: &str, key: &str, body: &Value) -> reqwest::RequestBuilder {
    server
        .request(Method::POST, "/v2/rooms")
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(body)
}

async fn room_count(server: &TestServer, token: &str) -> usize {
    let reply = send(server.request(Method::GET, "/v2/rooms?limit=100").bearer_auth(token)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body["data"].as_array().expect("rooms").len()
}

#[tokio::test]
async fn a_retried_post_answers_the_stored_response_without_running_again() {
    let server = TestServer::start();
    let token = server.token();
    let body = json!({ "description": "made once" });

    let first = send(create_room(&server, &token, "retry-1", &body)).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert!(first.headers.get(REPLAYED).is_none());
    let again = send(create_room(&server, &token, "retry-1", &body)).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body, first.body, "the stored response, byte for byte");
    assert_eq!(again.headers[REPLAYED], "true");
    assert_eq!(again.headers["content-type"], "application/json");
    assert_eq!(room_count(&server, &token).await, 1);

    // Another key is another request; no key is no idempotency.
    let other = send(create_room(&server, &token, "retry-2", &body)).await;
    assert_eq!(other.status, StatusCode::OK);
    assert_ne!(other.body["id"], first.body["id"]);
    let plain = send(
        server
            .request(Method::POST, "/v2/rooms")
            .bearer_auth(&token)
            .json(&body),
    )
    .await;
    assert_eq!(plain.status, StatusCode::OK);
    assert!(plain.headers.get(REPLAYED).is_none());
    assert_eq!(room_count(&server, &token).await, 3);
}

#[tokio::test]
async fn a_refusal_is_stored_and_replayed_too() {
    let server = TestServer::start();
    let token = server.token();
    let body = json!({ "template_id": "000000000000000000000000" });
    let first = send(create_room(&server, &token, "bad-template", &body)).await;
    assert_eq!(first.status, StatusCode::BAD_REQUEST);
    assert_eq!(first.body, envelope(400, "Error: template not found", &[]));
    let again = send(create_room(&server, &token, "bad-template", &body)).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert_eq!(again.body, first.body);
    assert_eq!(again.headers[REPLAYED], "true");
}

#[tokio::test]
async fn the_same_key_with_another_body_or_path_is_refused_with_422() {
    let server = TestServer::start();
    let token = server.token();
    let first = send(create_room(&server, &token, "k", &json!({ "description": "a" }))).await;
    assert_eq!(first.status, StatusCode::OK);

    let expected = envelope(
        422,
        "Idempotency-Key reused for a different request",
        &["the key `k` was first used with another method, path or body; send a new key for a new request"],
    );
    let other_body = send(create_room(&server, &token, "k", &json!({ "description": "b" }))).await;
    assert_eq!(other_body.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(other_body.body, expected);
    let room_id = first.body["id"].as_str().unwrap();
    let other_path = send(
        server
            .request(Method::POST, &format!("/v2/rooms/{room_id}"))
            .bearer_auth(&token)
            .header("Idempotency-Key", "k")
            .json(&json!({ "description": "a" })),
    )
    .await;
    assert_eq!(other_path.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(other_path.body, expected);
    assert_eq!(room_count(&server, &token).await, 1);
    let room = server.get(&format!("/v2/rooms/{room_id}")).await.1;
    assert_eq!(room["description"], "a", "the refused request changed nothing");
}

#[tokio::test]
async fn malformed_keys_and_missing_credentials_are_refused() {
    let server = TestServer::start();
    let token = server.token();
    for key in ["has space", &"k".repeat(256)] {
        let reply = send(create_room(&server, &token, key, &json!({}))).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            reply.body,
            envelope(
                400,
                "Invalid Idempotency-Key header",
                &["the key must be 1 to 255 visible ASCII characters, such as a UUID"]
            )
        );
    }
    let anonymous = send(
        server
            .request(Method::POST, "/v2/rooms")
            .header("Idempotency-Key", "x")
            .json(&json!({})),
    )
    .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(room_count(&server, &token).await, 0);
}

#[tokio::test]
async fn keys_belong_to_their_workspace() {
    let server = TestServer::start();
    server
        .create_workspace("other", "other-access-key-0001", "other-secret-0123456789abcdef")
        .await;
    let ours = server.token();
    let theirs = management_token("other-access-key-0001", "other-secret-0123456789abcdef");
    let body = json!({ "description": "shared key" });
    let a = send(create_room(&server, &ours, "same-key", &body)).await;
    let b = send(create_room(&server, &theirs, "same-key", &body)).await;
    assert_eq!((a.status, b.status), (StatusCode::OK, StatusCode::OK));
    assert!(b.headers.get(REPLAYED).is_none(), "another workspace's key is not ours");
    assert_ne!(a.body["id"], b.body["id"]);
    assert_eq!(room_count(&server, &ours).await, 1);
    assert_eq!(room_count(&server, &theirs).await, 1);
}

#[tokio::test]
async fn concurrent_copies_run_once_and_all_get_the_same_response() {
    let server = TestServer::start();
    let token = server.token();
    let body = json!({ "description": "at once" });
    let replies = futures::future::join_all((0..8).map(|_| send(create_room(&server, &token, "burst", &body)))).await;
    let first = &replies[0].body;
    for reply in &replies {
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert_eq!(&reply.body, first);
    }
    let replayed = replies.iter().filter(|r| r.headers.get(REPLAYED).is_some()).count();
    assert_eq!(replayed, 7, "all but the one that ran are replays");
    assert_eq!(room_count(&server, &token).await, 1);
}

#[tokio::test]
async fn an_expired_key_runs_the_request_again() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_in(dir.path(), &["--idempotency-ttl-secs", "1"]);
    let token = server.token();
    let first = send(create_room(&server, &token, "short-lived", &json!({}))).await;
    assert_eq!(first.status, StatusCode::OK);
    let replay = send(create_room(&server, &token, "short-lived", &json!({}))).await;
    assert_eq!(replay.headers[REPLAYED], "true");
    // Wait for the expiry itself: then even another body is a new request.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let after = send(create_room(
        &server,
        &token,
        "short-lived",
        &json!({ "description": "new" }),
    ))
    .await;
    assert_eq!(after.status, StatusCode::OK, "{}", after.body);
    assert!(after.headers.get(REPLAYED).is_none());
    assert_ne!(after.body["id"], first.body["id"]);
    let again = send(create_room(
        &server,
        &token,
        "short-lived",
        &json!({ "description": "new" }),
    ))
    .await;
    assert_eq!(again.body, after.body);
    assert_eq!(again.headers[REPLAYED], "true");
    assert_eq!(room_count(&server, &token).await, 2);
}

#[tokio::test]
async fn the_code_exchange_and_other_methods_ignore_the_header() {
    let server = TestServer::start();
    let token = server.token();
    let code = server.room_code("exchange").await;
    let exchange = || {
        server
            .request(Method::POST, "/v2/token")
            .header("Idempotency-Key", "exchange")
            .json(&json!({ "code": code, "user_id": "u" }))
    };
    let (a, b) = (send(exchange()).await, send(exchange()).await);
    assert_eq!((a.status, b.status), (StatusCode::OK, StatusCode::OK));
    assert!(b.headers.get(REPLAYED).is_none());
    let get = send(
        server
            .request(Method::GET, "/v2/rooms")
            .bearer_auth(&token)
            .header("Idempotency-Key", "has space is fine on a GET"),
    )
    .await;
    assert_eq!(get.status, StatusCode::OK);
}

#[tokio::test]
async fn two_nodes_on_one_database_run_a_key_once() {
    if !common::on_postgres() {
        println!("two_nodes_on_one_database_run_a_key_once: skipped, two nodes need PostgreSQL");
        return;
    }
    let dirs = tempfile::tempdir().unwrap();
    let (first, second) = (dirs.path().join("a"), dirs.path().join("b"));
    common::share_test_database(&first, &second);
    let a = TestServer::start_node(&first, &[], &[]);
    let b = TestServer::start_node(&second, &[], &[]);
    let token = management_token(ACCESS_KEY, SECRET);
    let body = json!({ "description": "two nodes" });
    let replies = futures::future::join_all(
        (0..8).map(|i| send(create_room(if i % 2 == 0 { &a } else { &b }, &token, "across", &body))),
    )
    .await;
    for reply in &replies {
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert_eq!(reply.body, replies[0].body);
    }
    assert_eq!(replies.iter().filter(|r| r.headers.get(REPLAYED).is_some()).count(), 7);
    assert_eq!(room_count(&a, &token).await, 1);
    let conflicting = send(create_room(&b, &token, "across", &json!({ "description": "else" }))).await;
    assert_eq!(conflicting.status, StatusCode::UNPROCESSABLE_ENTITY);
}
