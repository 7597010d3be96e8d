//! The API's documentation surfaces: `/openapi.json`, `/postman.json`, `/docs` and the
//! `hms openapi` / `hms postman export` commands. Every operation the server serves as it
//! is configured must appear in the document and in the collection, and no other (the peer
//! simulator's only with `--simulate-peers`); the document must hold together as OpenAPI
//! 3.1, and the docs page must need nothing from outside the server.

mod common;

use std::collections::{BTreeSet, HashSet};
use std::process::Command;

use common::*;
use hms_api::{OPERATIONS, Served};
use reqwest::StatusCode;
use serde_json::Value;

/// The text `field` of each item of the array `list`.
fn texts<'a>(list: &'a Value, field: &str) -> Vec<&'a str> {
    field_of(list, field).into_iter().filter_map(Value::as_str).collect()
}

async fn fetch(server: &TestServer, path: &str) -> (StatusCode, String, String) {
    let response = client()
        .get(server.url(path))
        .send()
        .await
        .expect("request reaches the server");
    let status = response.status();
    let content_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, content_type, response.text().await.expect("body"))
}

async fn fetch_json(server: &TestServer, path: &str) -> Value {
    let (status, content_type, body) = fetch(server, path).await;
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    assert!(content_type.starts_with("application/json"), "{path}: {content_type}");
    serde_json::from_str(&body).unwrap_or_else(|error| panic!("{path} is no JSON: {error}"))
}

/// A server on a fresh data dir, as `served` says: with `--simulate-peers` or without.
fn start(served: Served, dir: &tempfile::TempDir) -> TestServer {
    let flags: &[&str] = if served.simulator { &["--simulate-peers"] } else { &[] };
    TestServer::start_in(dir.path(), flags)
}

/// What `path` answers on a server of each configuration.
async fn on_each_configuration(path: &str) -> Vec<(Served, Value)> {
    let mut answers = Vec::new();
    for served in [Served::default(), Served::ALL] {
        let dir = tempfile::tempdir().expect("temp dir");
        answers.push((served, fetch_json(&start(served, &dir), path).await));
    }
    answers
}

#[tokio::test]
async fn every_served_operation_is_in_the_openapi_document_and_no_other() {
    for (served, document) in on_each_configuration("/openapi.json").await {
        assert_documents(&document, served);
    }
}

fn assert_documents(document: &Value, served: Served) {
    let tags = texts(&document["tags"], "name");
    assert_eq!(
        tags.contains(&hms_api::Group::Simulator.title()),
        served.simulator,
        "{tags:?}"
    );
    for op in OPERATIONS {
        let method = op.method.as_str().to_ascii_lowercase();
        let operation = &document["paths"][op.path][&method];
        if !served.serves(op) {
            assert!(
                operation.is_null(),
                "{} is documented without --simulate-peers",
                op.name
            );
            continue;
        }
        assert!(
            operation.is_object(),
            "{} {} is not documented",
            op.method.as_str(),
            op.path
        );
        let names: Vec<&str> = match operation["x-openhms-operations"].as_array() {
            Some(names) => names.iter().filter_map(Value::as_str).collect(),
            None => vec![operation["operationId"].as_str().unwrap_or_default()],
        };
        assert!(
            names.contains(&op.name),
            "{} is not named at {} {}",
            op.name,
            op.method.as_str(),
            op.path
        );
        assert_eq!(operation["tags"][0], op.group.title(), "{}", op.name);
        if op.auth == hms_api::Auth::None {
            assert_eq!(operation["security"], serde_json::json!([]), "{}", op.name);
        }
        if op.simulator {
            assert!(
                operation["description"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("--simulate-peers"),
                "{} does not say it needs --simulate-peers",
                op.name
            );
        }
    }
}

#[tokio::test]
async fn every_served_operation_is_in_the_postman_collection_and_no_other() {
    for (served, collection) in on_each_configuration("/postman.json").await {
        assert_collection(&collection, served);
    }
}

fn assert_collection(collection: &Value, served: Served) {
    assert_eq!(
        collection["info"]["schema"],
        "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"
    );
    let variables: BTreeSet<&str> = texts(&collection["variable"], "key").into_iter().collect();
    for key in ["APP_ACCESS_KEY", "APP_SECRET", "BASE_URL", "TOKEN"] {
        assert!(variables.contains(key), "collection variable {key} is missing");
    }
    assert_eq!(collection["auth"]["type"], "bearer");
    assert_eq!(collection["auth"]["bearer"][0]["value"], "{{TOKEN}}");
    let prerequest = collection["event"][0]["script"]["exec"]
        .as_array()
        .expect("a collection-level pre-request script")
        .iter()
        .filter_map(Value::as_str)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(prerequest.contains("HmacSHA256") && prerequest.contains("\"management\""));

    let mut requests = HashSet::new();
    for folder in collection["item"].as_array().expect("folders") {
        let title = folder["name"].as_str().expect("folder name");
        for item in folder["item"].as_array().expect("requests") {
            let request = &item["request"];
            let path: Vec<String> = request["url"]["path"]
                .as_array()
                .expect("url path")
                .iter()
                .map(|segment| {
                    let segment = segment.as_str().expect("segment");
                    match segment.strip_prefix(':') {
                        Some(param) => format!("{{{param}}}"),
                        None => segment.to_owned(),
                    }
                })
                .collect();
            let method = request["method"].as_str().expect("method").to_owned();
            requests.insert((title.to_owned(), method, format!("/{}", path.join("/"))));
            let tests = item["event"][0]["script"]["exec"].as_array().expect("a test script");
            assert!(!tests.is_empty(), "{title}: {} has no tests", item["name"]);
        }
    }
    for op in OPERATIONS {
        let key = (
            op.group.title().to_owned(),
            op.method.as_str().to_owned(),
            op.path.to_owned(),
        );
        assert_eq!(
            requests.contains(&key),
            served.serves(op),
            "{} {} in the folder {}",
            key.1,
            key.2,
            key.0
        );
    }
}

#[tokio::test]
async fn the_docs_page_and_its_assets_are_served_without_external_urls() {
    let server = TestServer::start();
    let (status, content_type, html) = fetch(&server, "/docs").await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let assets: Vec<String> = ["src=\"", "href=\""]
        .iter()
        .flat_map(|attribute| html.split(attribute).skip(1))
        .map(|rest| rest.split('"').next().unwrap_or_default().to_owned())
        .filter(|target| !target.starts_with('#'))
        .collect();
    assert!(assets.iter().any(|a| a.ends_with(".js")) && assets.iter().any(|a| a.ends_with(".css")));
    for target in &assets {
        assert!(
            target.starts_with('/') && !target.starts_with("//"),
            "the docs page refers to {target}, which is not on this server"
        );
        let (status, _, body) = fetch(&server, target).await;
        assert_eq!(status, StatusCode::OK, "{target}");
        assert!(!body.is_empty(), "{target} is empty");
        if target.ends_with(".js") || target.ends_with(".css") {
            assert_no_external_urls(target, &body);
        }
    }
    assert_no_external_urls("/docs", &html);
    let (status, _, _) = fetch(&server, "/docs/").await;
    assert_eq!(status, StatusCode::OK);
}

fn assert_no_external_urls(name: &str, text: &str) {
    for needle in ["http://", "https://", "url(//", "src=\"//", "href=\"//", "@import"] {
        assert!(!text.contains(needle), "{name} contains {needle}");
    }
}

#[tokio::test]
async fn the_openapi_document_is_structurally_valid_openapi_3_1() {
    let server = TestServer::start();
    let document = fetch_json(&server, "/openapi.json").await;
    assert_eq!(document["openapi"], "3.1.0");
    assert!(document["info"]["title"].is_string() && document["info"]["version"].is_string());
    assert_eq!(document["servers"][0]["url"], "/");

    // Every $ref points at something in the document.
    let mut refs = Vec::new();
    collect_refs(&document, &mut refs);
    assert!(!refs.is_empty());
    for reference in &refs {
        let pointer = reference
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("{reference} is not local"));
        assert!(document.pointer(pointer).is_some(), "{reference} does not resolve");
    }

    let schemes = document["components"]["securitySchemes"]
        .as_object()
        .expect("security schemes");
    let tags: HashSet<&str> = texts(&document["tags"], "name").into_iter().collect();
    let mut operation_ids = HashSet::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        assert!(path.starts_with('/'), "{path}");
        let placeholders: BTreeSet<String> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(str::to_owned)
            .collect();
        for (method, operation) in item.as_object().expect("path item") {
            assert!(
                ["get", "put", "post", "delete", "options", "head", "patch", "trace"].contains(&method.as_str()),
                "{path}: {method}"
            );
            let id = operation["operationId"].as_str().expect("operationId");
            assert!(operation_ids.insert(id.to_owned()), "operationId {id} is used twice");
            let declared: BTreeSet<String> = operation["parameters"]
                .as_array()
                .map(|parameters| {
                    for parameter in parameters {
                        let location = parameter["in"].as_str().expect("in");
                        assert!(["path", "query", "header", "cookie"].contains(&location), "{id}");
                        assert!(parameter["schema"].is_object(), "{id}: {parameter}");
                        if location == "path" {
                            assert_eq!(parameter["required"], true, "{id}: path parameters are required");
                        }
                    }
                    parameters
                        .iter()
                        .filter(|parameter| parameter["in"] == "path")
                        .filter_map(|parameter| parameter["name"].as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            assert_eq!(declared, placeholders, "{id}: path parameters differ from {path}");
            let responses = operation["responses"].as_object().expect("responses");
            assert!(!responses.is_empty(), "{id}");
            for status in responses.keys() {
                assert!(
                    status == "default" || (status.len() == 3 && status.bytes().all(|b| b.is_ascii_digit())),
                    "{id}: response {status}"
                );
            }
            for tag in operation["tags"].as_array().into_iter().flatten() {
                assert!(
                    tags.contains(tag.as_str().unwrap_or_default()),
                    "{id}: tag {tag} is not declared"
                );
            }
            let security = operation.get("security").unwrap_or(&document["security"]);
            for requirement in security.as_array().expect("security") {
                for name in requirement.as_object().expect("requirement").keys() {
                    assert!(schemes.contains_key(name), "{id}: unknown security scheme {name}");
                }
            }
            if let Some(body) = operation.get("requestBody") {
                assert!(body["content"]["application/json"]["schema"].is_object(), "{id}");
            }
        }
    }
}

fn collect_refs(value: &Value, into: &mut Vec<String>) {
    match value {
        Value::Object(object) => {
            if let Some(Value::String(reference)) = object.get("$ref") {
                into.push(reference.clone());
            }
            object.values().for_each(|child| collect_refs(child, into));
        }
        Value::Array(items) => items.iter().for_each(|item| collect_refs(item, into)),
        _ => {}
    }
}

#[tokio::test]
async fn the_cli_prints_what_the_server_serves() {
    for served in [Served::default(), Served::ALL] {
        let dir = tempfile::tempdir().expect("temp dir");
        let server = start(served, &dir);
        let flags: &[&str] = if served.simulator { &["--simulate-peers"] } else { &[] };
        let document = fetch_json(&server, "/openapi.json").await;
        let output = Command::new(env!("CARGO_BIN_EXE_hms"))
            .arg("openapi")
            .args(flags)
            .output()
            .expect("hms runs");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let printed: Value = serde_json::from_slice(&output.stdout).expect("hms openapi prints JSON");
        assert_eq!(printed, document, "{served:?}");

        let collection = fetch_json(&server, "/postman.json").await;
        let out = tempfile::tempdir().expect("temp dir");
        let file = out.path().join("openhms.postman_collection.json");
        let output = Command::new(env!("CARGO_BIN_EXE_hms"))
            .args(["postman", "export", "--output"])
            .arg(&file)
            .args(flags)
            .output()
            .expect("hms runs");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let written: Value = serde_json::from_slice(&std::fs::read(&file).expect("file written")).expect("JSON");
        assert_eq!(written, collection, "{served:?}");
    }
}

/// The README names exactly the webhook events the runtime emits.
#[test]
fn the_readme_lists_exactly_the_events_emitted() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).expect("README");
    let start = readme
        .find("exactly these eight:")
        .expect("the README's list of events");
    let end = start + readme[start..].find("; no other event").expect("the end of the list");
    let named: BTreeSet<&str> = readme[start..end]
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|name| name.ends_with(".success") || name.ends_with(".failure"))
        .collect();
    let emitted: BTreeSet<&str> = hms_types::webhook::kind::ALL.into_iter().collect();
    assert_eq!(named, emitted);
}
