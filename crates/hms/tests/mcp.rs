//! `/mcp` on the server, spoken to as raw JSON-RPC over HTTP (the Python SDK's tests in
//! conformance/mcp speak to it as a real client does).

mod common;

use std::process::Command;

use common::{ACCESS_KEY, SECRET, TestServer, send};
use hms_mcp::{ToolOptions, ToolSet};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Posts one JSON-RPC request to `/mcp` with the 2025-06-18 protocol (stateless: no
/// initialize needed); answers the status and the JSON body.
async fn rpc(server: &TestServer, token: Option<&str>, method: &str, params: Value) -> (StatusCode, Value) {
    let mut request = server
        .request(Method::POST, "/mcp")
        .header("Accept", "application/json, text/event-stream")
        .header("MCP-Protocol-Version", "2025-06-18")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let reply = send(request).await;
    (reply.status, reply.body)
}

async fn tool_names(server: &TestServer) -> Vec<String> {
    let (status, body) = rpc(server, Some(&server.token()), "tools/list", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|tool| tool["name"].as_str().unwrap().to_owned())
        .collect()
}

async fn call(server: &TestServer, name: &str, arguments: Value) -> Value {
    let (status, body) = rpc(
        server,
        Some(&server.token()),
        "tools/call",
        json!({"name": name, "arguments": arguments}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["result"].clone()
}

fn names(options: &ToolOptions) -> Vec<String> {
    ToolSet::new(options)
        .unwrap()
        .tools()
        .into_iter()
        .map(|tool| tool.name.into_owned())
        .collect()
}

#[tokio::test]
async fn mcp_refuses_requests_without_a_management_token() {
    let server = TestServer::start();
    let reply = send(
        server
            .request(Method::POST, "/mcp")
            .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"})),
    )
    .await;
    let hint = "send a management token as `Authorization: Bearer <token>`";
    reply.assert_error(401, "Authentication error", &[hint]);
    assert_eq!(reply.headers["www-authenticate"], "Bearer");
    let forged = common::management_token(ACCESS_KEY, "another-secret-0000000000000000000000000");
    let (status, body) = rpc(&server, Some(&forged), "tools/list", json!({})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        body["message"].as_str().unwrap().starts_with("Token validation error"),
        "{body}"
    );
}

#[tokio::test]
async fn mcp_offers_every_tool_and_calls_the_rest_api() {
    let server = TestServer::start();
    assert_eq!(tool_names(&server).await, names(&ToolOptions::default()));

    let room = call(&server, "hms-create-room", json!({"body": {"name": "mcp-rust"}})).await;
    assert_eq!(room["isError"], json!(false));
    let id = room["structuredContent"]["id"].as_str().unwrap().to_owned();
    let (status, rest) = server.get(&format!("/v2/rooms/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(room["structuredContent"], rest);
    assert_eq!(room["content"], json!([{"type": "text", "text": rest.to_string()}]));

    let codes = call(&server, "hms-create-room-codes", json!({"room_id": id})).await;
    let (_, listed) = server.get(&format!("/v2/room-codes/room/{id}")).await;
    assert_eq!(codes["structuredContent"]["data"], listed["data"]);

    let missing = call(&server, "hms-get-room", json!({"room_id": "0123456789abcdef01234567"})).await;
    assert_eq!(
        missing,
        json!({
            "content": [{"type": "text", "text": "Room not found (HTTP 404)"}],
            "structuredContent": {"status": 404, "code": 404, "message": "Room not found", "details": []},
            "isError": true
        })
    );

    let (status, body) = rpc(
        &server,
        Some(&server.token()),
        "tools/call",
        json!({"name": "hms-simulate-peer-join", "arguments": {}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["error"]["message"], "unknown tool: hms-simulate-peer-join");
}

#[tokio::test]
async fn mcp_read_only_and_allow_list() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_in(dir.path(), &["--mcp-read-only", "--simulate-peers"]);
    let read_only = names(&ToolOptions {
        read_only: true,
        simulator: true,
        ..ToolOptions::default()
    });
    assert_eq!(tool_names(&server).await, read_only);
    drop(server);

    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_in(dir.path(), &["--mcp-tools", "hms-get-room-codes,hms-list-rooms"]);
    assert_eq!(tool_names(&server).await, vec!["hms-list-rooms", "hms-get-room-codes"]);
}

#[tokio::test]
async fn mcp_answers_only_to_allowed_hosts() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_in(dir.path(), &["--mcp-allowed-host", "hms.example.org"]);
    let list = |host: &str| {
        server
            .request(Method::POST, "/mcp")
            .header("Host", host)
            .header("Accept", "application/json, text/event-stream")
            .header("MCP-Protocol-Version", "2025-06-18")
            .bearer_auth(server.token())
            .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
    };
    let allowed = send(list("hms.example.org")).await;
    assert_eq!(allowed.status, StatusCode::OK, "{}", allowed.body);
    let loopback = send(list("localhost:8080")).await;
    assert_eq!(loopback.status, StatusCode::OK, "{}", loopback.body);
    let refused = send(list("evil.example")).await;
    assert_eq!(
        (refused.status, refused.body),
        (
            StatusCode::FORBIDDEN,
            Value::String("Forbidden: Host header is not allowed".into())
        )
    );
}

#[test]
fn serve_refuses_unknown_tools_in_the_allow_list() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_hms"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("HMS_ACCESS_KEY", ACCESS_KEY)
        .env("HMS_SECRET", SECRET)
        .env("HMS_MCP_TOOLS", "hms-list-rooms, hms-list-roomz")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert_eq!(
        String::from_utf8_lossy(&output.stderr).trim(),
        "error: invalid configuration: no such MCP tool: hms-list-roomz (the tools are named like hms-list-rooms)"
    );
}
