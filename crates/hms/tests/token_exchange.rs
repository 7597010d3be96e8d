//! `POST /v2/token`, the room-code exchange client SDKs call from browsers and phones:
//! any content type, optional user id, the exact app token it mints, CORS, and the
//! statuses the web SDK turns into screens.

mod common;

use base64::Engine;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use common::{ACCESS_KEY, Reply, SECRET, TestServer, envelope, format_unix_secs, is_uuid_v4, now_secs};
use hms_auth::{AppSecret, Claims, TokenType, VerifyPolicy};
use reqwest::header::{
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_REQUEST_HEADERS, ACCESS_CONTROL_REQUEST_METHOD, AUTHORIZATION,
    CONTENT_TYPE, ORIGIN,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// What the browser's `atob` accepts: the standard alphabet, padding optional.
const ATOB: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A room with codes for every role; answers the room id and the host and guest codes.
async fn room_with_codes(server: &TestServer, name: &str) -> (String, String, String) {
    let (status, room) = server.post("/v2/rooms", json!({ "name": name })).await;
    assert_eq!(status, StatusCode::OK, "{room}");
    let room_id = room["id"].as_str().unwrap().to_owned();
    let (status, codes) = server.post(&format!("/v2/room-codes/room/{room_id}"), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{codes}");
    let code_for = |role: &str| {
        codes["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["role"] == role)
            .unwrap_or_else(|| panic!("a {role} code in {codes}"))["code"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    (room_id, code_for("host"), code_for("guest"))
}

/// Sends `body` to the exchange as it is, with no `Authorization`.
async fn exchange_raw(server: &TestServer, content_type: Option<&str>, body: &str) -> Reply {
    let mut request = server.request(Method::POST, "/v2/token").body(body.to_owned());
    if let Some(content_type) = content_type {
        request = request.header(CONTENT_TYPE, content_type);
    }
    common::send(request).await
}

async fn exchange(server: &TestServer, body: Value) -> Reply {
    exchange_raw(server, Some("application/json"), &body.to_string()).await
}

/// The token of a successful exchange, after checking the whole answer.
fn token_of(reply: &Reply) -> String {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let token = reply.body["token"]
        .as_str()
        .unwrap_or_else(|| panic!("a token in {}", reply.body))
        .to_owned();
    let claims = payload(&token);
    assert_eq!(
        reply.body,
        json!({ "token": token, "expires_at": format_unix_secs(claims["exp"].as_i64().unwrap()) }),
        "the answer holds the token and its expiry"
    );
    token
}

/// The payload of `token`, decoded the way the web SDK does (`atob`).
fn payload(token: &str) -> Value {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "three parts in {token}");
    let bytes = ATOB
        .decode(parts[1])
        .unwrap_or_else(|e| panic!("atob cannot decode the payload of {token}: {e}"));
    serde_json::from_slice(&bytes).expect("the payload is JSON")
}

/// Verifies `token` as an app token signed with the test secret.
fn verify_app(token: &str) -> Claims {
    let policy = VerifyPolicy {
        expected_type: TokenType::App,
        leeway_secs: 5,
        max_lifetime_secs: 24 * 3600,
    };
    hms_auth::verify(
        token,
        |key| (key == ACCESS_KEY).then(|| vec![AppSecret::new(SECRET)]),
        &policy,
        now_secs(),
    )
    .unwrap_or_else(|e| panic!("the exchanged token verifies: {e}"))
    .claims
}

/// Checks every claim of an exchanged token; answers its `user_id`.
fn check_claims(token: &str, room_id: &str, role: &str) -> String {
    let header = ATOB.decode(token.split('.').next().unwrap()).expect("header decodes");
    assert_eq!(
        serde_json::from_slice::<Value>(&header).unwrap(),
        json!({ "alg": "HS256", "typ": "JWT" })
    );
    let claims = verify_app(token);
    let now = now_secs();
    let iat = claims.iat.expect("iat");
    assert!((iat - now).abs() <= 5, "iat {iat} is now ({now})");
    let jti = claims.jti.clone().expect("jti");
    assert!(is_uuid_v4(&jti), "jti {jti} is a UUID v4");
    let user_id = claims.user_id.clone().expect("user_id");
    assert_eq!(
        claims,
        Claims {
            access_key: ACCESS_KEY.to_owned(),
            token_type: TokenType::App,
            version: 2,
            room_id: Some(room_id.to_owned()),
            role: Some(role.to_owned()),
            user_id: Some(user_id.clone()),
            iat: Some(iat),
            nbf: Some(iat),
            exp: iat + 24 * 3600,
            jti: Some(jti.clone()),
        }
    );
    // Exactly these claims, with these JSON types.
    assert_eq!(
        payload(token),
        json!({
            "access_key": ACCESS_KEY,
            "type": "app",
            "version": 2,
            "room_id": room_id,
            "role": role,
            "user_id": user_id,
            "iat": iat,
            "nbf": iat,
            "exp": iat + 24 * 3600,
            "jti": jti
        })
    );
    user_id
}

#[tokio::test]
async fn exchange_reads_json_whatever_the_content_type() {
    let server = TestServer::start();
    let (room_id, host, _) = room_with_codes(&server, "exchange-content-types").await;
    let body = json!({ "code": host, "user_id": "user-123" }).to_string();
    for content_type in [
        None,
        Some("text/plain;charset=UTF-8"),
        Some("text/plain"),
        Some("application/json"),
        Some("application/json; charset=utf-8"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let reply = exchange_raw(&server, content_type, &body).await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "content type {content_type:?}: {}",
            reply.body
        );
        let token = token_of(&reply);
        assert_eq!(check_claims(&token, &room_id, "host"), "user-123");
    }
}

#[tokio::test]
async fn exchanged_tokens_carry_room_role_and_user() {
    let server = TestServer::start();
    let (room_id, host, guest) = room_with_codes(&server, "exchange-claims").await;
    let first = token_of(&exchange(&server, json!({ "code": host, "user_id": "alice" })).await);
    assert_eq!(check_claims(&first, &room_id, "host"), "alice");
    let second = token_of(&exchange(&server, json!({ "code": guest, "user_id": "bob" })).await);
    assert_eq!(check_claims(&second, &room_id, "guest"), "bob");
    // Every token is a new one.
    let third = token_of(&exchange(&server, json!({ "code": host, "user_id": "alice" })).await);
    assert_ne!(payload(&first)["jti"], payload(&third)["jti"]);
    // Unknown fields are ignored.
    let extra = exchange(
        &server,
        json!({ "code": host, "user_id": "carol", "role": "guest", "room_id": "x" }),
    )
    .await;
    assert_eq!(check_claims(&token_of(&extra), &room_id, "host"), "carol");
}

#[tokio::test]
async fn a_missing_user_id_becomes_a_fresh_uuid() {
    let server = TestServer::start();
    let (room_id, host, _) = room_with_codes(&server, "exchange-anonymous").await;
    let mut seen = Vec::new();
    for body in [
        json!({ "code": host }),
        json!({ "code": host, "user_id": null }),
        json!({ "code": host }),
    ] {
        let token = token_of(&exchange(&server, body.clone()).await);
        let user_id = check_claims(&token, &room_id, "host");
        assert!(is_uuid_v4(&user_id), "{body}: user_id {user_id}");
        assert!(!seen.contains(&user_id), "a new user id each time");
        seen.push(user_id);
    }
}

#[tokio::test]
async fn the_payload_is_readable_by_atob_whatever_the_user_id() {
    let server = TestServer::start();
    let (room_id, host, _) = room_with_codes(&server, "exchange-atob").await;
    for user_id in [
        "~>?é😀",
        "a~>?é😀",
        "ab~>?é😀",
        "???>>>~~~",
        "x?y>z~",
        "ünïcödé-用户",
        "\u{7f}\u{7f}\u{7f}",
        "quote\"back\\slash",
    ] {
        let token = token_of(&exchange(&server, json!({ "code": host, "user_id": user_id })).await);
        let segment = token.split('.').nth(1).unwrap();
        assert!(
            !segment.contains('-') && !segment.contains('_'),
            "payload of the token for {user_id:?} has - or _: {segment}"
        );
        assert_eq!(payload(&token)["user_id"], user_id);
        assert_eq!(check_claims(&token, &room_id, "host"), user_id);
    }
}

/// The reply lets the page at http://example.com read it.
fn assert_origin_allowed(reply: &common::Reply, what: &str) {
    let allowed = reply
        .headers
        .get(ACCESS_CONTROL_ALLOW_ORIGIN)
        .map(|v| v.to_str().unwrap().to_owned());
    assert!(
        matches!(allowed.as_deref(), Some("*" | "http://example.com")),
        "access-control-allow-origin on {what}: {allowed:?}"
    );
}

#[tokio::test]
async fn cors_preflight_is_answered() {
    let server = TestServer::start();
    let reply = common::send(
        server
            .request(Method::OPTIONS, "/v2/token")
            .header(ORIGIN, "http://example.com")
            .header(ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .header(ACCESS_CONTROL_REQUEST_HEADERS, "content-type"),
    )
    .await;
    assert!(
        reply.status.is_success(),
        "OPTIONS /v2/token preflight: {} {}",
        reply.status,
        reply.body
    );
    assert_origin_allowed(&reply, "the preflight");
}

#[tokio::test]
async fn cross_origin_posts_get_cors_headers_on_success_and_failure() {
    let server = TestServer::start();
    let (_, host, _) = room_with_codes(&server, "exchange-cors").await;
    for (body, status) in [
        (json!({ "code": host }).to_string(), StatusCode::OK),
        (json!({ "code": "abc-defg-hij" }).to_string(), StatusCode::NOT_FOUND),
        ("not json".to_owned(), StatusCode::BAD_REQUEST),
    ] {
        // A "simple" request, as the web SDK sends it: text/plain, no custom header.
        let reply = common::send(
            server
                .request(Method::POST, "/v2/token")
                .header(ORIGIN, "http://example.com")
                .header(CONTENT_TYPE, "text/plain;charset=UTF-8")
                .body(body.clone()),
        )
        .await;
        assert_eq!(reply.status, status, "{body}: {}", reply.body);
        assert_origin_allowed(&reply, &body);
    }
}

/// A JSON error envelope whose `code` is the HTTP status, as the web SDK reads it.
fn check_error(reply: &Reply, expected: Value, request: &str) {
    let status = StatusCode::from_u16(expected["code"].as_u64().unwrap() as u16).unwrap();
    assert_eq!(
        (reply.status, &reply.body),
        (status, &expected),
        "POST /v2/token {request}"
    );
    let content_type = reply
        .headers
        .get(CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    assert!(
        content_type.starts_with("application/json"),
        "{request}: content type {content_type}"
    );
}

#[tokio::test]
async fn refusals_answer_the_statuses_the_web_sdk_shows() {
    let server = TestServer::start();
    let (room_id, host, guest) = room_with_codes(&server, "exchange-errors").await;

    // Malformed requests: 400 with a JSON envelope.
    for (content_type, body, detail) in [
        (
            Some("application/json"),
            "{}",
            "missing field `code` at line 1 column 2",
        ),
        (None, "", "missing field `code` at line 1 column 2"),
        (
            Some("application/json"),
            r#"{"user_id":"u"}"#,
            "missing field `code` at line 1 column 15",
        ),
        (Some("text/plain"), "hello", "the body must be a JSON object"),
        (None, "{\"code\":", "code: EOF while parsing a value at line 1 column 8"),
        (
            Some("application/json"),
            r#"{"code":5}"#,
            "code: invalid type: integer `5`, expected a string at line 1 column 9",
        ),
        (
            Some("application/json"),
            r#"{"code":"x","user_id":7}"#,
            "user_id: invalid type: integer `7`, expected a string at line 1 column 23",
        ),
    ] {
        let reply = exchange_raw(&server, content_type, body).await;
        check_error(&reply, envelope(400, "Invalid body param", &[detail]), body);
    }

    // Unknown code: 404.
    for code in ["abc-defg-hij", "", "HOST"] {
        let reply = exchange(&server, json!({ "code": code })).await;
        check_error(&reply, envelope(404, "Room code not found", &[]), code);
    }

    // Disabled code: 403; the other code of the room still works.
    let (status, _) = server
        .post("/v2/room-codes/code", json!({ "code": guest, "enabled": false }))
        .await;
    assert_eq!(status, StatusCode::OK);
    let reply = exchange(&server, json!({ "code": guest })).await;
    check_error(&reply, envelope(403, "Room code is disabled", &[]), "disabled code");
    token_of(&exchange(&server, json!({ "code": host })).await);

    // Disabled room: 403 for its enabled code; enabled again, the code works again.
    let (status, _) = server
        .post(&format!("/v2/rooms/{room_id}"), json!({ "enabled": false }))
        .await;
    assert_eq!(status, StatusCode::OK);
    let reply = exchange(&server, json!({ "code": host })).await;
    check_error(&reply, envelope(403, "Room is disabled", &[]), "disabled room");
    let (status, _) = server
        .post(&format!("/v2/rooms/{room_id}"), json!({ "enabled": true }))
        .await;
    assert_eq!(status, StatusCode::OK);
    token_of(&exchange(&server, json!({ "code": host })).await);
}

#[tokio::test]
async fn a_code_whose_role_left_the_template_is_refused() {
    let server = TestServer::start();
    let (_, host, guest) = room_with_codes(&server, "exchange-deleted-role").await;
    let (status, templates) = server.get("/v2/templates").await;
    assert_eq!(status, StatusCode::OK);
    let template_id = templates["data"][0]["id"].as_str().unwrap().to_owned();
    let reply = server.delete(&format!("/v2/templates/{template_id}/roles/guest")).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    let reply = exchange(&server, json!({ "code": guest })).await;
    check_error(&reply, envelope(404, "Role not found", &[]), "deleted role");
    token_of(&exchange(&server, json!({ "code": host })).await);
}

#[tokio::test]
async fn an_authorization_header_is_ignored() {
    let server = TestServer::start();
    let (room_id, host, _) = room_with_codes(&server, "exchange-authorization").await;
    let body = json!({ "code": host, "user_id": "u-1" }).to_string();
    let app_token = hms_auth::mint(
        &Claims::app(ACCESS_KEY, &room_id, "host", "u", now_secs(), 60),
        &AppSecret::new(SECRET),
    );
    for authorization in [
        format!("Bearer {}", server.token()),
        "Bearer not-a-token".to_owned(),
        format!("Bearer {app_token}"),
        "Basic dXNlcjpwYXNz".to_owned(),
    ] {
        let reply = common::send(
            server
                .request(Method::POST, "/v2/token")
                .header(AUTHORIZATION, &authorization)
                .header(CONTENT_TYPE, "application/json")
                .body(body.clone()),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK, "{authorization}: {}", reply.body);
        assert_eq!(check_claims(&token_of(&reply), &room_id, "host"), "u-1");
    }
}

/// The exchange body is a JSON object: an array (which serde could read as the fields in
/// order) is an invalid body.
#[tokio::test]
async fn a_json_array_is_no_exchange_body() {
    let server = TestServer::start();
    let (_, host, _) = room_with_codes(&server, "exchange-array").await;
    let raw = format!(r#"["{host}"]"#);
    let reply = exchange_raw(&server, Some("application/json"), &raw).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{raw}: {}", reply.body);
    assert_eq!(reply.body["code"], 400, "{}", reply.body);
    assert_eq!(reply.body["message"], "Invalid body param", "{}", reply.body);
}
