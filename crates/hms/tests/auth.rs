//! Management-token authentication of the REST API: every refusal with its exact
//! envelope, workspace isolation, secret rotation through the CLI while the server runs,
//! and the envelopes of unknown routes and wrong methods.

mod common;

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{ACCESS_KEY, SECRET, TestServer, envelope, management_token, now_secs};
use hms_auth::{AppSecret, Claims};
use reqwest::header::AUTHORIZATION;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const OTHER_KEY: &str = "second-workspace-access-key";
const OTHER_SECRET: &str = "second-workspace-secret-abcdef0123";
const WRONG_SECRET: &str = "wrong-secret-not-the-real-one-42";

fn mint(claims: &Claims, secret: &str) -> String {
    hms_auth::mint(claims, &AppSecret::new(secret))
}

fn management(now: i64, validity: i64) -> Claims {
    Claims::management(ACCESS_KEY, now, validity)
}

/// `claims` under a header of our choosing. The signature is a real HS256 one over other
/// input: whatever the server checks first, the header alone must get the token refused.
fn with_header(header: Value, claims: &Claims) -> String {
    let signature = mint(claims, SECRET).rsplit('.').next().unwrap().to_owned();
    format!(
        "{}.{}.{signature}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(serde_json::to_string(claims).unwrap())
    )
}

/// `GET /v2/rooms` with exactly this `Authorization` header (none when `None`).
async fn rooms_with(server: &TestServer, authorization: Option<&str>) -> (StatusCode, Value) {
    let mut request = server.request(Method::GET, "/v2/rooms");
    if let Some(authorization) = authorization {
        request = request.header(AUTHORIZATION, authorization);
    }
    let reply = common::send(request).await;
    (reply.status, reply.body)
}

const MISSING: &str = "send a management token as `Authorization: Bearer <token>`";

/// Requests without a usable bearer token: `Authentication error`.
fn missing_cases() -> Vec<(&'static str, Option<String>)> {
    let good = management_token(ACCESS_KEY, SECRET);
    vec![
        ("no header", None),
        ("basic scheme", Some("Basic dXNlcjpwYXNz".to_owned())),
        ("token scheme", Some(format!("Token {good}"))),
        ("bare token", Some(good)),
        ("bearer without a token", Some("Bearer".to_owned())),
        ("bearer with blanks", Some("Bearer    ".to_owned())),
    ]
}

/// Bearer tokens the server must refuse, with the reason it must give.
fn refused_tokens() -> Vec<(&'static str, String, String)> {
    let now = now_secs();
    let mut wrong_version = management(now, 3600);
    wrong_version.version = 1;
    let mut no_access_key = json!(management(now, 3600));
    no_access_key.as_object_mut().unwrap().remove("access_key");
    let no_access_key = format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(no_access_key.to_string()),
        mint(&management(now, 3600), SECRET).rsplit('.').next().unwrap()
    );
    let none_token = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(serde_json::to_string(&management(now, 3600)).unwrap())
    );
    let app = Claims::app(ACCESS_KEY, "6b043907dae439bee10e3719", "host", "u", now, 3600);
    vec![
        (
            "garbage",
            "not-a-jwt".to_owned(),
            "token is not a well-formed JWT".to_owned(),
        ),
        (
            "three garbage parts",
            "abc.def.ghi".to_owned(),
            "token is not a well-formed JWT".to_owned(),
        ),
        (
            "four parts",
            format!("{}.x", management_token(ACCESS_KEY, SECRET)),
            "token is not a well-formed JWT".to_owned(),
        ),
        (
            "bad signature",
            mint(&management(now, 3600), WRONG_SECRET),
            "token signature does not match any app secret of the access key".to_owned(),
        ),
        (
            "unknown access key",
            mint(&Claims::management("no-such-access-key", now, 3600), SECRET),
            "token names an unknown access key".to_owned(),
        ),
        (
            "no access key",
            no_access_key,
            "token claims are invalid: access_key is missing".to_owned(),
        ),
        (
            "app token",
            mint(&app, SECRET),
            "token type must be management, not app".to_owned(),
        ),
        (
            "version 1",
            mint(&wrong_version, SECRET),
            "token version must be 2, not 1".to_owned(),
        ),
        (
            "expired",
            mint(&management(now - 7200, 3600), SECRET),
            "token has expired".to_owned(),
        ),
        (
            "not yet valid",
            mint(&management(now + 3600, 3600), SECRET),
            "token is not valid yet".to_owned(),
        ),
        (
            "lifetime over 14 days",
            mint(&management(now, 15 * 24 * 3600), SECRET),
            "token lifetime of 1296000 s exceeds the maximum of 1209600 s".to_owned(),
        ),
        ("alg none", none_token, "token algorithm must be HS256".to_owned()),
        (
            "alg HS512",
            with_header(json!({ "alg": "HS512", "typ": "JWT" }), &management(now, 3600)),
            "token algorithm must be HS256".to_owned(),
        ),
        (
            "no alg",
            with_header(json!({ "typ": "JWT" }), &management(now, 3600)),
            "token algorithm must be HS256".to_owned(),
        ),
    ]
}

#[tokio::test]
async fn requests_without_a_bearer_token_are_an_authentication_error() {
    let server = TestServer::start();
    for (case, authorization) in missing_cases() {
        let (status, body) = rooms_with(&server, authorization.as_deref()).await;
        assert_eq!(
            (status, body),
            (
                StatusCode::UNAUTHORIZED,
                envelope(401, "Authentication error", &[MISSING])
            ),
            "{case}"
        );
    }
    // Authentication comes before the body is looked at.
    let reply = common::send(server.request(Method::POST, "/v2/rooms").body("{ not json")).await;
    assert_eq!(
        (reply.status, reply.body),
        (
            StatusCode::UNAUTHORIZED,
            envelope(401, "Authentication error", &[MISSING])
        )
    );
}

/// `00-overview.md` §4.4 documents the category `Token validation error`; openhms
/// deliberately appends the reason to `message` (README, "Deliberate choices": the Node SDK
/// shows only `message`) and puts the reason alone in `details`.
#[tokio::test]
async fn refused_tokens_are_401_with_the_reason() {
    let server = TestServer::start();
    let mut wrong = Vec::new();
    for (case, token, reason) in refused_tokens() {
        let (status, body) = rooms_with(&server, Some(&format!("Bearer {token}"))).await;
        let expected = envelope(401, &format!("Token validation error: {reason}"), &[&reason]);
        if (status, &body) != (StatusCode::UNAUTHORIZED, &expected) {
            wrong.push(format!("{case}: expected 401 {expected}, got {status} {body}"));
        }
        // The same refusal on a write, before its body is looked at.
        let reply = common::send(
            server
                .request(Method::POST, "/v2/rooms")
                .bearer_auth(&token)
                .body("{ not json"),
        )
        .await;
        if (reply.status, &reply.body) != (StatusCode::UNAUTHORIZED, &expected) {
            wrong.push(format!(
                "{case} (POST): expected 401 {expected}, got {} {}",
                reply.status, reply.body
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[tokio::test]
async fn refusals_never_reveal_the_token_or_a_secret() {
    let server = TestServer::start();
    let mut cases: Vec<(String, Option<String>)> = missing_cases()
        .into_iter()
        .map(|(case, authorization)| (case.to_owned(), authorization))
        .collect();
    for (case, token, _) in refused_tokens() {
        cases.push((case.to_owned(), Some(format!("Bearer {token}"))));
    }
    for (case, authorization) in cases {
        let (status, body) = rooms_with(&server, authorization.as_deref()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{case}");
        let text = body.to_string();
        for secret in [SECRET, WRONG_SECRET] {
            assert!(!text.contains(secret), "{case} reveals a secret: {text}");
        }
        if let Some(authorization) = &authorization {
            let token = authorization
                .split_once(' ')
                .map_or(authorization.as_str(), |(_, token)| token)
                .trim();
            for part in token.split('.').filter(|part| part.len() >= 8) {
                assert!(!text.contains(part), "{case} reveals the token: {text}");
            }
        }
    }
}

#[tokio::test]
async fn tokens_within_the_rules_are_accepted() {
    let server = TestServer::start();
    let now = now_secs();
    let reused = management_token(ACCESS_KEY, SECRET);
    for (case, token) in [
        ("24 h, as the SDK samples", mint(&management(now, 24 * 3600), SECRET)),
        (
            "back-dated by 60 s, as the Java sample",
            mint(&management(now - 60, 24 * 3600), SECRET),
        ),
        ("a clock 10 s ahead", mint(&management(now + 10, 3600), SECRET)),
        ("exactly 14 days", mint(&management(now, 14 * 24 * 3600), SECRET)),
        ("reused jti, first use", reused.clone()),
        ("reused jti, second use", reused),
    ] {
        let (status, body) = rooms_with(&server, Some(&format!("Bearer {token}"))).await;
        assert_eq!(status, StatusCode::OK, "{case}: {body}");
    }
    // The scheme is case-insensitive.
    let token = management_token(ACCESS_KEY, SECRET);
    let (status, body) = rooms_with(&server, Some(&format!("bearer {token}"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn workspaces_see_only_their_own_rooms_and_templates() {
    let server = TestServer::start();
    let (status, room) = server
        .post("/v2/rooms", json!({ "name": "first-workspace-room" }))
        .await;
    assert_eq!(status, StatusCode::OK, "{room}");
    let room_id = room["id"].as_str().unwrap().to_owned();
    let (status, templates) = server.get("/v2/templates").await;
    assert_eq!(status, StatusCode::OK);
    let template_id = templates["data"][0]["id"].as_str().unwrap().to_owned();

    let other = server.other_workspace("second", OTHER_KEY, OTHER_SECRET).await;

    let room_not_found = envelope(404, "Room not found", &[]);
    let template_not_found = envelope(404, "Template not found", &[]);
    for (method, path, body, expected) in [
        (
            Method::GET,
            format!("/v2/rooms/{room_id}"),
            None,
            room_not_found.clone(),
        ),
        (
            Method::GET,
            "/v2/rooms/first-workspace-room".to_owned(),
            None,
            room_not_found.clone(),
        ),
        (
            Method::POST,
            format!("/v2/rooms/{room_id}"),
            Some(json!({ "description": "hijacked" })),
            room_not_found.clone(),
        ),
        (
            Method::POST,
            format!("/v2/rooms/{room_id}"),
            Some(json!({ "enabled": false })),
            room_not_found,
        ),
        (
            Method::GET,
            format!("/v2/templates/{template_id}"),
            None,
            template_not_found.clone(),
        ),
        (
            Method::GET,
            format!("/v2/templates/{template_id}/roles/host"),
            None,
            template_not_found.clone(),
        ),
        (
            Method::POST,
            format!("/v2/templates/{template_id}/roles/viewer"),
            Some(json!({})),
            template_not_found,
        ),
    ] {
        let (status, answer) = other.call(method.clone(), &path, body).await;
        assert_eq!(
            (status, answer),
            (StatusCode::NOT_FOUND, expected),
            "{method} {path} as the second workspace"
        );
    }
    for query in ["", "?enabled=false", "?name=first-workspace-room"] {
        let (status, page) = other.call(Method::GET, format!("/v2/rooms{query}"), None).await;
        assert_eq!(
            (status, page),
            (StatusCode::OK, json!({ "limit": 10, "data": [], "last": "" })),
            "GET /v2/rooms{query} as the second workspace"
        );
    }
    // Its own default template only.
    let (status, page) = other.call(Method::GET, "/v2/templates", None).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let own: Vec<&Value> = page["data"].as_array().unwrap().iter().collect();
    assert_eq!(own.len(), 1, "{page}");
    assert_eq!(own[0]["name"], "conferencing");
    assert_ne!(own[0]["id"], json!(template_id));
    // Rooms of its own, even with a name the first workspace uses, on its own template;
    // the first workspace's template cannot be used.
    let (status, answer) = other
        .call(
            Method::POST,
            "/v2/rooms",
            Some(json!({ "name": "x", "template_id": template_id })),
        )
        .await;
    assert_eq!(
        (status, answer),
        (StatusCode::BAD_REQUEST, envelope(400, "Error: template not found", &[]))
    );
    let (status, mine) = other
        .call(
            Method::POST,
            "/v2/rooms",
            Some(json!({ "name": "first-workspace-room" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{mine}");
    assert_ne!(mine["id"], room["id"]);
    assert_ne!(mine["customer_id"], room["customer_id"]);
    assert_ne!(mine["app_id"], room["app_id"]);
    assert_eq!(mine["template_id"], own[0]["id"]);

    // The first workspace is untouched and does not see the second's room.
    let (status, page) = server.get("/v2/rooms?limit=100").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["data"], json!([room]));
}

/// Lines of `hms workspace secret list`: (id, state) after the header.
fn secret_list(server: &TestServer) -> Vec<(String, String)> {
    let output = server.cli(&["workspace", "secret", "list", "default"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8(output.stdout).unwrap();
    let mut lines = text.lines();
    let header = lines.next().expect("a header line");
    assert!(header.starts_with("ID"), "{text}");
    lines
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(fields.len(), 3, "id, created, state: {line}");
            (fields[0].to_owned(), fields[2].to_owned())
        })
        .collect()
}

#[tokio::test]
async fn secrets_rotate_while_the_server_runs() {
    let server = TestServer::start();
    const NEW_SECRET: &str = "rotated-secret-0987654321fedcba";
    let old_token = management_token(ACCESS_KEY, SECRET);
    let new_token = management_token(ACCESS_KEY, NEW_SECRET);
    let (status, _) = rooms_with(&server, Some(&format!("Bearer {new_token}"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "unknown secret at first");

    let before = secret_list(&server);
    assert_eq!(before.len(), 1, "{before:?}");
    let (old_id, state) = before[0].clone();
    assert_eq!(state, "live");

    let output = server.cli(&["workspace", "secret", "add", "default", "--secret", NEW_SECRET]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let printed = String::from_utf8(output.stdout).unwrap();
    let new_id = printed
        .lines()
        .find_map(|line| line.strip_prefix("secret id: "))
        .unwrap_or_else(|| panic!("the new secret's id in {printed}"))
        .trim()
        .to_owned();
    assert_ne!(new_id, old_id);
    assert!(
        server.wait_for_token(&new_token, true, Duration::from_secs(5)).await,
        "tokens signed with the added secret are accepted within 5 s"
    );
    assert_eq!(server.get("/v2/rooms").await.0, StatusCode::OK, "old still good");

    let listed = secret_list(&server);
    assert_eq!(
        listed,
        vec![(old_id.clone(), "live".to_owned()), (new_id.clone(), "live".to_owned())]
    );
    let text = String::from_utf8(server.cli(&["workspace", "secret", "list", "default"]).stdout).unwrap();
    assert!(!text.contains(NEW_SECRET) && !text.contains(SECRET), "{text}");

    // Room codes exchanged now are signed with a live secret.
    let output = server.cli(&["workspace", "secret", "retire", "default", &old_id]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(
        server.wait_for_token(&old_token, false, Duration::from_secs(5)).await,
        "tokens signed with the retired secret are refused within 5 s"
    );
    let (status, body) = rooms_with(&server, Some(&format!("Bearer {old_token}"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body["details"],
        json!(["token signature does not match any app secret of the access key"])
    );
    let (status, _) = rooms_with(&server, Some(&format!("Bearer {new_token}"))).await;
    assert_eq!(status, StatusCode::OK, "the new secret still works");
    let listed = secret_list(&server);
    assert_eq!(listed.len(), 2);
    assert_ne!(listed[0].1, "live", "the old secret is listed as retired");
    assert_eq!(listed[1], (new_id.clone(), "live".to_owned()));

    // The exchange signs with the live secret.
    let (status, room) = server
        .call_with(Method::POST, "/v2/rooms", Some(json!({})), Some(&new_token))
        .await;
    assert_eq!(status, StatusCode::OK, "{room}");
    let (status, codes) = server
        .call_with(
            Method::POST,
            &format!("/v2/room-codes/room/{}", room["id"].as_str().unwrap()),
            Some(json!({})),
            Some(&new_token),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{codes}");
    let (status, exchanged) = server
        .call_with(
            Method::POST,
            "/v2/token",
            Some(json!({ "code": codes["data"][0]["code"] })),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{exchanged}");
    let app_token = exchanged["token"].as_str().unwrap();
    let policy = hms_auth::VerifyPolicy {
        expected_type: hms_auth::TokenType::App,
        leeway_secs: 5,
        max_lifetime_secs: 24 * 3600,
    };
    hms_auth::verify(
        app_token,
        |_| Some(vec![AppSecret::new(NEW_SECRET)]),
        &policy,
        now_secs(),
    )
    .expect("the exchanged token is signed with the live secret");

    // The last live secret cannot be retired.
    let output = server.cli(&["workspace", "secret", "retire", "default", &new_id]);
    assert!(!output.status.success(), "retiring the last live secret fails");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("last live secret"), "{stderr}");
    let (status, _) = rooms_with(&server, Some(&format!("Bearer {new_token}"))).await;
    assert_eq!(status, StatusCode::OK, "the last secret still works");
    // Nor can an unknown one, or one of an unknown workspace.
    for args in [
        ["workspace", "secret", "retire", "default", "no-such-id"],
        ["workspace", "secret", "retire", "nobody", new_id.as_str()],
    ] {
        let output = server.cli(&args);
        assert!(!output.status.success(), "{args:?} fails");
    }
}

#[tokio::test]
async fn unknown_routes_are_404_and_wrong_methods_405() {
    let server = TestServer::start();
    let token = server.token();
    let request = |method: Method, path: &str, authorized: bool| {
        let request = server.request(method, path);
        if authorized {
            request.bearer_auth(&token)
        } else {
            request
        }
    };
    for authorized in [false, true] {
        for (method, path) in [
            (Method::GET, "/v2/nothing"),
            (Method::GET, "/"),
            (Method::POST, "/v2/rooms/a/b/c"),
            (Method::GET, "/v3/rooms"),
        ] {
            let reply = common::send(request(method.clone(), path, authorized)).await;
            assert_eq!(
                (reply.status, reply.body),
                (
                    StatusCode::NOT_FOUND,
                    envelope(404, "Not found", &[&format!("no route for {method} {path}")])
                ),
                "{method} {path}, authorized: {authorized}"
            );
        }
        for (method, path, allowed) in [
            (Method::DELETE, "/v2/rooms", vec!["GET", "POST"]),
            (Method::PUT, "/v2/rooms/some-room", vec!["GET", "POST"]),
            (Method::PATCH, "/v2/room-codes/code", vec!["POST"]),
            (Method::GET, "/v2/token", vec!["POST"]),
            (Method::DELETE, "/v2/templates", vec!["GET", "POST"]),
        ] {
            let reply = common::send(request(method.clone(), path, authorized)).await;
            assert_eq!(
                (reply.status, reply.body),
                (
                    StatusCode::METHOD_NOT_ALLOWED,
                    envelope(
                        405,
                        "Method not allowed",
                        &[&format!("{method} is not allowed on {path}")]
                    )
                ),
                "{method} {path}, authorized: {authorized}"
            );
            let allow = reply
                .headers
                .get(reqwest::header::ALLOW)
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default();
            for method in allowed {
                assert!(allow.contains(method), "{path}: allow {allow}");
            }
        }
    }
}
