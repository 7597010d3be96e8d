//! The server serves every operation of the catalogue, and nothing the catalogue lacks
//! answers as if it existed.

mod common;

use common::TestServer;
use hms_api::{Auth, OPERATIONS};
use reqwest::{Method, StatusCode};
use serde_json::{Map, Value, json};

fn dummy_path(op: &hms_api::Operation) -> String {
    let values: Map<String, Value> = op
        .path_params()
        .into_iter()
        .map(|param| (param.to_owned(), json!("0123456789abcdef01234567")))
        .collect();
    op.fill_path(&values).unwrap()
}

#[tokio::test]
async fn every_operation_is_routed_and_authenticated() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_in(dir.path(), &["--simulate-peers"]);
    for op in OPERATIONS {
        let method = Method::from_bytes(op.method.as_str().as_bytes()).unwrap();
        let (status, body) = server.call_with(method, &dummy_path(op), Some(json!({})), None).await;
        match op.auth {
            Auth::Management => assert_eq!(
                (status, body["message"].as_str()),
                (StatusCode::UNAUTHORIZED, Some("Authentication error")),
                "{} {}",
                op.method.as_str(),
                op.path
            ),
            Auth::None => assert_eq!(
                status,
                StatusCode::BAD_REQUEST,
                "{} {}: {body}",
                op.method.as_str(),
                op.path
            ),
        }
    }
}

#[tokio::test]
async fn simulator_operations_exist_only_with_the_simulator() {
    let server = TestServer::start();
    for op in OPERATIONS.iter().filter(|op| op.simulator) {
        let method = Method::from_bytes(op.method.as_str().as_bytes()).unwrap();
        let (status, body) = server.call(method, &dummy_path(op), None).await;
        assert_eq!(
            (status, body["message"].as_str()),
            (StatusCode::NOT_FOUND, Some("Not found")),
            "{}",
            op.path
        );
    }
}
