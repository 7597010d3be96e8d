//! Rate limits (issue 17): per workspace on the management API, per client address on
//! the endpoints that need no management credentials (the room-code exchange and
//! `/init`); past them 429 with `Retry-After` and the error envelope.

mod common;

use std::time::{Duration, Instant};

use common::{Reply, TestServer, management_token, send};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn a_workspace_past_its_rate_gets_429_and_others_do_not() {
    let server = TestServer::start_with(
        &[
            "--rate-limit-workspace-per-sec",
            "1",
            "--rate-limit-workspace-burst",
            "3",
        ],
        &[],
    );
    server
        .create_workspace("quiet", "quiet-access-key-0001", "quiet-secret-0123456789abcdef")
        .await;
    let noisy = server.token();
    let quiet = management_token("quiet-access-key-0001", "quiet-secret-0123456789abcdef");
    // create_workspace polled with the quiet workspace's token, never with ours: our
    // bucket is full. Its burst passes, the next request is refused.
    let started = Instant::now();
    for _ in 0..3 {
        let reply = send(server.request(Method::GET, "/v2/rooms").bearer_auth(&noisy)).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    }
    let refused = send(
        server
            .request(Method::POST, "/v2/rooms")
            .bearer_auth(&noisy)
            .json(&json!({})),
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "the burst was sent within the refill of one request"
    );
    let limit = ["this workspace may make 1 requests per second", "retry after 1 s"];
    refused.assert_error(429, "Too many requests", &limit);
    assert_eq!(refused.headers["retry-after"], "1");

    // Another workspace has its own bucket.
    let other = send(server.request(Method::GET, "/v2/rooms").bearer_auth(&quiet)).await;
    assert_eq!(other.status, StatusCode::OK);
    // Requests without valid credentials are not counted against anyone: they are 401.
    let anonymous = send(server.request(Method::GET, "/v2/rooms")).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);

    // After Retry-After, the workspace is served again.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let later = send(server.request(Method::GET, "/v2/rooms").bearer_auth(&noisy)).await;
    assert_eq!(later.status, StatusCode::OK);
    // The refused create made nothing.
    assert_eq!(later.body["data"].as_array().map(Vec::len), Some(0));
}

/// A server whose unauthenticated endpoints allow each client address 2 requests at once
/// and one every 2 s after, the client being the last address of `X-Forwarded-For`.
fn client_limited_server() -> TestServer {
    TestServer::start_with(
        &[
            "--rate-limit-client-per-sec",
            "0.5",
            "--rate-limit-client-burst",
            "2",
            "--client-address-header",
            "x-forwarded-for",
        ],
        &[],
    )
}

/// A room-code exchange of `code`, to be sent.
fn code_exchange(server: &TestServer, code: &str) -> reqwest::RequestBuilder {
    server.request(Method::POST, "/v2/token").json(&json!({ "code": code }))
}

/// The per-client refusal: 429, when to come back, readable by a browser, in the envelope.
fn assert_client_refusal(refused: &Reply) {
    let limit = [
        "one client address may make 0.5 such requests per second",
        "retry after 2 s",
    ];
    refused.assert_error(429, "Too many requests", &limit);
    assert_eq!(refused.headers["retry-after"], "2");
    assert_eq!(
        refused.headers["access-control-allow-origin"], "*",
        "a browser can read the refusal"
    );
}

#[tokio::test]
async fn the_code_exchange_is_limited_per_client_address() {
    let server = client_limited_server();
    let code = server.room_code("limited").await;
    let exchange = |client: &str| {
        code_exchange(&server, &code)
            .header("x-forwarded-for", format!("198.51.100.7, {client}"))
            .header("origin", "https://app.example")
    };
    for _ in 0..2 {
        assert_eq!(send(exchange("203.0.113.1")).await.status, StatusCode::OK);
    }
    let refused = send(exchange("203.0.113.1")).await;
    assert_client_refusal(&refused);
    // The proxy's last address is the client: another client is served.
    assert_eq!(send(exchange("203.0.113.2")).await.status, StatusCode::OK);
    // The management API is not limited by client address.
    for _ in 0..5 {
        assert_eq!(server.get("/v2/rooms").await.0, StatusCode::OK);
    }
}

#[tokio::test]
async fn init_is_limited_per_client_address_in_the_same_bucket_as_the_exchange() {
    let server = client_limited_server();
    let code = server.room_code("init-limited").await;
    let exchange = |client: &str| code_exchange(&server, &code).header("x-forwarded-for", client.to_owned());
    let exchanged = send(exchange("203.0.113.9")).await;
    assert_eq!(exchanged.status, StatusCode::OK, "{}", exchanged.body);
    let app_token = exchanged.body["token"].as_str().unwrap().to_owned();
    let init = |client: &str| {
        server
            .request(Method::GET, "/init")
            .bearer_auth(&app_token)
            .header("x-forwarded-for", client.to_owned())
            .header("origin", "https://app.example")
    };
    for _ in 0..2 {
        let answered = send(init("203.0.113.1")).await;
        assert_eq!(answered.status, StatusCode::OK, "{}", answered.body);
    }
    let refused = send(init("203.0.113.1")).await;
    assert_client_refusal(&refused);
    // One bucket per address for both endpoints: the exchange is refused to it too.
    assert_eq!(
        send(exchange("203.0.113.1")).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Another address is served.
    assert_eq!(send(init("203.0.113.2")).await.status, StatusCode::OK);
}

#[tokio::test]
async fn without_a_proxy_header_the_peer_address_is_the_client() {
    let server = TestServer::start_with(
        &["--rate-limit-client-per-sec", "0.5", "--rate-limit-client-burst", "1"],
        &[],
    );
    let attempt = || code_exchange(&server, "abc-defg-hij").header("x-forwarded-for", "203.0.113.9");
    // An unknown code is refused by the exchange itself; the second try by the limit,
    // whatever the (untrusted) header says.
    let first = send(attempt()).await;
    assert_ne!(first.status, StatusCode::TOO_MANY_REQUESTS, "{}", first.body);
    assert_eq!(send(attempt()).await.status, StatusCode::TOO_MANY_REQUESTS);
}
