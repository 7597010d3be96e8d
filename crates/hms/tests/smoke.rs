mod common;

use common::TestServer;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn serves_rooms_codes_and_the_exchange() {
    let server = TestServer::start();
    let (status, body) = server.get("/healthz").await;
    assert_eq!((status, body), (StatusCode::OK, json!({"status": "ok"})));
    let (status, room) = server.post("/v2/rooms", json!({"name": "smoke"})).await;
    assert_eq!(status, StatusCode::OK, "{room}");
    let id = room["id"].as_str().unwrap();
    let (status, codes) = server.post(&format!("/v2/room-codes/room/{id}"), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{codes}");
    println!("{room:#}\n{codes:#}");
    let code = codes["data"][0]["code"].as_str().unwrap();
    let (status, token) = server
        .call_with(reqwest::Method::POST, "/v2/token", Some(json!({"code": code})), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{token}");
}
