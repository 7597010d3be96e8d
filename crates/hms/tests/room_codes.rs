//! `/v2/room-codes` against the real server: create for every role and for one role,
//! list with filters and pagination, enable and disable, roles leaving the template, the
//! per-room limit and workspace isolation.

mod common;

use common::{TestServer, envelope, management_token, timestamp_millis};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const OTHER_KEY: &str = "other-access-key-0001";
const OTHER_SECRET: &str = "other-secret-0123456789abcdef";

fn is_room_code(code: &str) -> bool {
    let groups: Vec<&str> = code.split('-').collect();
    groups.iter().map(|g| g.len()).collect::<Vec<_>>() == [3, 4, 3]
        && groups.iter().all(|g| g.bytes().all(|b| b.is_ascii_lowercase()))
}

fn code_of(code: &Value) -> String {
    code["code"].as_str().unwrap().to_owned()
}

fn codes(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .unwrap_or_else(|| panic!("no data in {page}"))
        .iter()
        .map(code_of)
        .collect()
}

/// Checks one code object exactly: its shape, the room and role it is bound to, and
/// whether it is enabled.
fn check_code(code: &Value, room_id: &str, role: &str, enabled: bool) {
    let text = code["code"].as_str().unwrap_or_default();
    assert!(is_room_code(text), "code format of {code}");
    assert!(
        timestamp_millis(code["created_at"].as_str().unwrap_or_default()).is_some(),
        "created_at of {code}"
    );
    let updated = timestamp_millis(code["updated_at"].as_str().unwrap_or_default());
    assert!(
        updated >= timestamp_millis(code["created_at"].as_str().unwrap()),
        "updated_at of {code}"
    );
    assert_eq!(
        *code,
        json!({
            "code": text,
            "room_id": room_id,
            "role": role,
            "enabled": enabled,
            "created_at": code["created_at"],
            "updated_at": code["updated_at"]
        })
    );
}

async fn create_room(server: &TestServer, name: &str) -> String {
    let (status, room) = server.post("/v2/rooms", json!({ "name": name })).await;
    assert_eq!(status, StatusCode::OK, "{room}");
    room["id"].as_str().unwrap().to_owned()
}

async fn create_all(server: &TestServer, room_id: &str) -> Value {
    let (status, body) = server.post(&format!("/v2/room-codes/room/{room_id}"), json!({})).await;
    assert_eq!(status, StatusCode::OK, "create all for {room_id}: {body}");
    body
}

async fn create_for_role(server: &TestServer, room_id: &str, role: &str) -> Value {
    let (status, body) = server
        .post(&format!("/v2/room-codes/room/{room_id}/role/{role}"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "create {role} for {room_id}: {body}");
    body
}

async fn list(server: &TestServer, room_id: &str, query: &str) -> Value {
    let (status, body) = server.get(&format!("/v2/room-codes/room/{room_id}{query}")).await;
    assert_eq!(status, StatusCode::OK, "list {room_id}{query}: {body}");
    body
}

async fn set_enabled(server: &TestServer, code: &str, enabled: bool) -> Value {
    let (status, body) = server
        .post("/v2/room-codes/code", json!({ "code": code, "enabled": enabled }))
        .await;
    assert_eq!(status, StatusCode::OK, "set {code} to {enabled}: {body}");
    body
}

/// Every code of a room, in the server's order.
async fn all_codes(server: &TestServer, room_id: &str) -> Vec<Value> {
    list(server, room_id, "?limit=100").await["data"]
        .as_array()
        .unwrap()
        .clone()
}

async fn default_template_id(server: &TestServer) -> String {
    let (status, page) = server.get("/v2/templates").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "conferencing")
        .expect("the default template")["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn create_for_all_roles_gives_one_code_per_role_and_is_idempotent() {
    let server = TestServer::start();
    let room_id = create_room(&server, "codes-all").await;
    assert_eq!(
        list(&server, &room_id, "").await,
        json!({ "limit": 10, "data": [], "last": "" }),
        "a room made through the API has no codes"
    );

    let first = create_all(&server, &room_id).await;
    assert_eq!(
        first.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["data"],
        "create-all answers data alone: {first}"
    );
    let data = first["data"].as_array().unwrap();
    assert_eq!(data.len(), 2, "{first}");
    check_code(&data[0], &room_id, "host", true);
    check_code(&data[1], &room_id, "guest", true);
    assert_ne!(data[0]["code"], data[1]["code"]);

    // Again, with `{}` and with no body at all: nothing new, every code answered.
    assert_eq!(create_all(&server, &room_id).await, first);
    let (status, body) = server
        .send_raw(Method::POST, &format!("/v2/room-codes/room/{room_id}"), None, "")
        .await;
    assert_eq!((status, &body), (StatusCode::OK, &first));

    let page = list(&server, &room_id, "").await;
    assert_eq!(page, json!({ "limit": 10, "data": data, "last": data[1]["code"] }));

    // Codes are unique across rooms too.
    let other_room = create_room(&server, "codes-all-2").await;
    let other = create_all(&server, &other_room).await;
    let mut every: Vec<String> = codes(&first);
    every.extend(codes(&other));
    let mut unique = every.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 4, "{every:?}");

    // The Node SDK test: every listed code equals an element of create-all's data.
    let again = create_all(&server, &room_id).await;
    for code in all_codes(&server, &room_id).await {
        assert!(again["data"].as_array().unwrap().contains(&code));
    }
}

#[tokio::test]
async fn create_for_role_makes_a_new_code_on_every_call() {
    let server = TestServer::start();
    let room_id = create_room(&server, "codes-role").await;
    let first = create_for_role(&server, &room_id, "host").await;
    check_code(&first, &room_id, "host", true);
    let second = create_for_role(&server, &room_id, "host").await;
    check_code(&second, &room_id, "host", true);
    assert_ne!(first["code"], second["code"]);
    assert_eq!(all_codes(&server, &room_id).await, vec![first.clone(), second.clone()]);

    // Create-all now adds a code for guest only, and answers all three.
    let all = create_all(&server, &room_id).await;
    let data = all["data"].as_array().unwrap();
    assert_eq!(data.len(), 3, "{all}");
    assert_eq!(data[0], first);
    assert_eq!(data[1], second);
    check_code(&data[2], &room_id, "guest", true);

    // A role whose codes are all disabled gets a fresh one from create-all.
    let guest = code_of(&data[2]);
    set_enabled(&server, &guest, false).await;
    let all = create_all(&server, &room_id).await;
    let data = all["data"].as_array().unwrap();
    assert_eq!(data.len(), 4, "{all}");
    assert_eq!(code_of(&data[2]), guest);
    check_code(&data[2], &room_id, "guest", false);
    check_code(&data[3], &room_id, "guest", true);
}

#[tokio::test]
async fn unknown_rooms_and_roles_are_404() {
    let server = TestServer::start();
    let room_id = create_room(&server, "codes-404").await;
    let room_not_found = envelope(404, "Room not found", &[]);
    for unknown in ["000000000000000000000000", "no-such-room"] {
        for (method, path) in [
            (Method::POST, format!("/v2/room-codes/room/{unknown}")),
            (Method::POST, format!("/v2/room-codes/room/{unknown}/role/host")),
            (Method::GET, format!("/v2/room-codes/room/{unknown}")),
        ] {
            let body = (method == Method::POST).then(|| json!({}));
            let (status, answer) = server.call(method.clone(), &path, body).await;
            assert_eq!(
                (status, answer),
                (StatusCode::NOT_FOUND, room_not_found.clone()),
                "{method} {path}"
            );
        }
    }
    let role_not_found = envelope(404, "Role not found", &[]);
    let (status, answer) = server
        .post(&format!("/v2/room-codes/room/{room_id}/role/nobody"), json!({}))
        .await;
    assert_eq!((status, answer), (StatusCode::NOT_FOUND, role_not_found.clone()));
    let (status, answer) = server
        .post(&format!("/v2/room-codes/room/{room_id}/role/HOST"), json!({}))
        .await;
    assert_eq!(
        (status, answer),
        (StatusCode::NOT_FOUND, role_not_found.clone()),
        "role names are exact"
    );
    let (status, answer) = server.get(&format!("/v2/room-codes/room/{room_id}?role=nobody")).await;
    assert_eq!((status, answer), (StatusCode::NOT_FOUND, role_not_found));
    assert_eq!(all_codes(&server, &room_id).await, Vec::<Value>::new());
}

#[tokio::test]
async fn a_disabled_room_refuses_code_creation_and_listing() {
    let server = TestServer::start();
    let room_id = create_room(&server, "codes-disabled").await;
    let created = create_all(&server, &room_id).await;
    let (status, _) = server
        .post(&format!("/v2/rooms/{room_id}"), json!({ "enabled": false }))
        .await;
    assert_eq!(status, StatusCode::OK);
    let disabled = envelope(403, "Room is disabled", &[]);
    for (method, path) in [
        (Method::POST, format!("/v2/room-codes/room/{room_id}")),
        (Method::POST, format!("/v2/room-codes/room/{room_id}/role/host")),
        (Method::GET, format!("/v2/room-codes/room/{room_id}")),
        (Method::GET, format!("/v2/room-codes/room/{room_id}?role=host")),
    ] {
        let body = (method == Method::POST).then(|| json!({}));
        let (status, answer) = server.call(method.clone(), &path, body).await;
        assert_eq!(
            (status, answer),
            (StatusCode::FORBIDDEN, disabled.clone()),
            "{method} {path}"
        );
    }
    // Enabled again: the same codes, nothing was added meanwhile.
    let (status, _) = server
        .post(&format!("/v2/rooms/{room_id}"), json!({ "enabled": true }))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        all_codes(&server, &room_id).await,
        created["data"].as_array().unwrap().clone()
    );
}

#[tokio::test]
async fn list_filters_by_role_and_enabled_and_pages_with_the_code_as_cursor() {
    let server = TestServer::start();
    let room_id = create_room(&server, "codes-list").await;
    let mut made: Vec<Value> = create_all(&server, &room_id).await["data"].as_array().unwrap().clone();
    for i in 0..23 {
        let role = if i % 2 == 0 { "host" } else { "guest" };
        made.push(create_for_role(&server, &room_id, role).await);
    }
    // Disable every third code.
    for index in (0..made.len()).step_by(3) {
        let updated = set_enabled(&server, &code_of(&made[index]), false).await;
        made[index] = updated;
    }
    assert_eq!(all_codes(&server, &room_id).await, made, "creation order");

    // Pages of 10, following `last` as `start`.
    let walk = |query: String| {
        let server = &server;
        let room_id = room_id.clone();
        async move {
            let mut pages = Vec::new();
            let mut start: Option<String> = None;
            loop {
                let mut full = format!("?limit=10{query}");
                if let Some(start) = &start {
                    full.push_str(&format!("&start={start}"));
                }
                let page = list(server, &room_id, &full).await;
                let data = page["data"].as_array().unwrap().clone();
                assert_eq!(page["limit"], 10, "{full}");
                assert_eq!(
                    page["last"],
                    json!(data.last().map(code_of).unwrap_or_default()),
                    "{full}"
                );
                let short = data.len() < 10;
                start = data.last().map(code_of);
                pages.push(data);
                if short {
                    return pages;
                }
            }
        }
    };
    let pages = walk(String::new()).await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), vec![10, 10, 5]);
    assert_eq!(pages.concat(), made);

    let filtered = |keep: &dyn Fn(&Value) -> bool| -> Vec<Value> { made.iter().filter(|c| keep(c)).cloned().collect() };
    for (query, expected) in [
        ("&role=host", filtered(&|c| c["role"] == "host")),
        ("&role=guest", filtered(&|c| c["role"] == "guest")),
        ("&enabled=true", filtered(&|c| c["enabled"] == true)),
        ("&enabled=false", filtered(&|c| c["enabled"] == false)),
        (
            "&role=guest&enabled=false",
            filtered(&|c| c["role"] == "guest" && c["enabled"] == false),
        ),
    ] {
        let pages = walk(query.to_owned()).await;
        assert_eq!(pages.concat(), expected, "pages of {query}");
        assert!(pages.iter().rev().skip(1).all(|page| page.len() == 10), "{query}");
    }

    // Past the end, and limits clamped.
    let last = code_of(made.last().unwrap());
    assert_eq!(
        list(&server, &room_id, &format!("?start={last}")).await,
        json!({ "limit": 10, "data": [], "last": "" })
    );
    assert_eq!(list(&server, &room_id, "?limit=1").await["limit"], 10);
    let page = list(&server, &room_id, "?limit=1000").await;
    assert_eq!(page["limit"], 100);
    assert_eq!(page["data"].as_array().unwrap().len(), 25);

    for (query, parameter) in [("?enabled=maybe", "enabled"), ("?limit=ten", "limit")] {
        let (status, body) = server.get(&format!("/v2/room-codes/room/{room_id}{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(body["code"], 400, "{body}");
        assert_eq!(body["message"], "Invalid query parameter", "{body}");
        let details = body["details"].as_array().unwrap();
        assert_eq!(details.len(), 1, "{body}");
        assert!(
            details[0].as_str().unwrap().starts_with(&format!("{parameter}: ")),
            "names {parameter}: {body}"
        );
    }
}

#[tokio::test]
async fn codes_are_enabled_and_disabled_by_body_or_by_path() {
    let server = TestServer::start();
    let room_id = create_room(&server, "codes-update").await;
    let created = create_all(&server, &room_id).await;
    let host = created["data"][0].clone();
    let code = code_of(&host);

    let disabled = set_enabled(&server, &code, false).await;
    check_code(&disabled, &room_id, "host", false);
    assert_eq!(disabled["created_at"], host["created_at"]);
    assert_eq!(all_codes(&server, &room_id).await[0], disabled);

    let (status, enabled) = server
        .post(&format!("/v2/room-codes/code/{code}"), json!({ "enabled": true }))
        .await;
    assert_eq!(status, StatusCode::OK, "{enabled}");
    check_code(&enabled, &room_id, "host", true);
    assert_eq!(enabled["created_at"], host["created_at"]);
    assert!(
        timestamp_millis(enabled["updated_at"].as_str().unwrap())
            >= timestamp_millis(disabled["updated_at"].as_str().unwrap())
    );
    // The code may be repeated in the body when it matches the path.
    let (status, again) = server
        .post(
            &format!("/v2/room-codes/code/{code}"),
            json!({ "code": code, "enabled": false }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    check_code(&again, &room_id, "host", false);
    let current = set_enabled(&server, &code, true).await;
    check_code(&current, &room_id, "host", true);

    // Refused updates, each leaving the code as it is.
    let invalid = |detail: &str| envelope(400, "Invalid body parameter", &[detail]);
    let cases: Vec<(String, Value, Value)> = vec![
        (
            "/v2/room-codes/code".into(),
            json!({ "code": "zzz-zzzz-zzz", "enabled": false }),
            envelope(404, "Code not found", &[]),
        ),
        (
            "/v2/room-codes/code/zzz-zzzz-zzz".into(),
            json!({ "enabled": false }),
            envelope(404, "Code not found", &[]),
        ),
        (
            "/v2/room-codes/code".into(),
            json!({ "enabled": false }),
            invalid("code is required"),
        ),
        (
            format!("/v2/room-codes/code/{code}"),
            json!({ "code": "abc-defg-hij", "enabled": false }),
            invalid("code in the body differs from the path"),
        ),
    ];
    for (path, body, expected) in cases {
        let status = StatusCode::from_u16(expected["code"].as_u64().unwrap() as u16).unwrap();
        let (got_status, answer) = server.post(&path, body.clone()).await;
        assert_eq!((got_status, answer), (status, expected), "POST {path} {body}");
        assert_eq!(all_codes(&server, &room_id).await[0], current, "{body}");
    }
    // Extra fields and non-boolean `enabled` are refused with the documented message,
    // the detail naming the field.
    for (path, raw, field) in [
        (
            "/v2/room-codes/code".to_owned(),
            format!(r#"{{"code":"{code}","enabled":false,"role":"guest"}}"#),
            "role",
        ),
        (
            format!("/v2/room-codes/code/{code}"),
            r#"{"enabled":false,"extra":1}"#.to_owned(),
            "extra",
        ),
        (
            "/v2/room-codes/code".to_owned(),
            format!(r#"{{"code":"{code}","enabled":"false"}}"#),
            "enabled",
        ),
        (
            format!("/v2/room-codes/code/{code}"),
            r#"{"enabled":0}"#.to_owned(),
            "enabled",
        ),
        (
            format!("/v2/room-codes/code/{code}"),
            r#"{"enabled":null}"#.to_owned(),
            "enabled",
        ),
    ] {
        let (status, answer) = server
            .send_raw(Method::POST, &path, Some("application/json"), raw.clone())
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path} {raw}: {answer}");
        assert_eq!(answer["code"], 400, "{answer}");
        assert_eq!(answer["message"], "Invalid body parameter", "{answer}");
        let details = answer["details"].as_array().unwrap();
        assert_eq!(details.len(), 1, "{answer}");
        assert!(
            details[0].as_str().unwrap().starts_with(&format!("{field}: ")),
            "names {field}: {answer}"
        );
        assert_eq!(all_codes(&server, &room_id).await[0], current, "{raw}");
    }
    assert_eq!(
        server
            .send_raw(
                Method::POST,
                "/v2/room-codes/code",
                Some("application/json"),
                format!(r#"{{"code":"{code}","enabled":true,"x":1}}"#),
            )
            .await,
        (
            StatusCode::BAD_REQUEST,
            envelope(
                400,
                "Invalid body parameter",
                &["x: unknown field `x`, expected `code` or `enabled` at line 1 column 41"]
            )
        )
    );
    // `enabled` is required; malformed JSON is refused.
    for (path, raw) in [
        ("/v2/room-codes/code".to_owned(), format!(r#"{{"code":"{code}"}}"#)),
        (format!("/v2/room-codes/code/{code}"), "{}".to_owned()),
        (format!("/v2/room-codes/code/{code}"), "{".to_owned()),
        (format!("/v2/room-codes/code/{code}"), "true".to_owned()),
    ] {
        let (status, answer) = server
            .send_raw(Method::POST, &path, Some("application/json"), raw.clone())
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path} {raw}: {answer}");
        assert_eq!(answer["code"], 400, "{answer}");
        assert_eq!(answer["message"], "Invalid body parameter", "{answer}");
        assert_eq!(answer["details"].as_array().unwrap().len(), 1, "{answer}");
        assert_eq!(all_codes(&server, &room_id).await[0], current, "{raw}");
    }
}

#[tokio::test]
async fn codes_of_a_role_deleted_from_the_template_cannot_be_enabled() {
    let server = TestServer::start();
    let template_id = default_template_id(&server).await;
    let room_id = create_room(&server, "codes-deleted-role").await;
    let created = create_all(&server, &room_id).await;
    let host = created["data"][0].clone();
    let guest_one = code_of(&created["data"][1]);
    let guest_two = code_of(&create_for_role(&server, &room_id, "guest").await);

    let reply = server.delete(&format!("/v2/templates/{template_id}/roles/guest")).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    assert_eq!(reply.body, Value::Null, "204 has no body");

    // Disabling is still allowed; enabling is not.
    let disabled = set_enabled(&server, &guest_one, false).await;
    check_code(&disabled, &room_id, "guest", false);
    let cannot = envelope(403, "Code can not be enabled (role/room does not exist)", &[]);
    let (status, answer) = server
        .post("/v2/room-codes/code", json!({ "code": guest_one, "enabled": true }))
        .await;
    assert_eq!((status, answer), (StatusCode::FORBIDDEN, cannot.clone()));
    let (status, answer) = server
        .post(&format!("/v2/room-codes/code/{guest_one}"), json!({ "enabled": true }))
        .await;
    assert_eq!((status, answer), (StatusCode::FORBIDDEN, cannot));

    // Create-all disables the codes of the gone role, makes none for it, keeps host's.
    let all = create_all(&server, &room_id).await;
    let data = all["data"].as_array().unwrap();
    assert_eq!(codes(&all), vec![code_of(&host), guest_one.clone(), guest_two.clone()]);
    assert_eq!(data[0], host);
    check_code(&data[1], &room_id, "guest", false);
    check_code(&data[2], &room_id, "guest", false);
    assert_eq!(create_all(&server, &room_id).await, all, "idempotent");

    let role_not_found = envelope(404, "Role not found", &[]);
    let (status, answer) = server
        .post(&format!("/v2/room-codes/room/{room_id}/role/guest"), json!({}))
        .await;
    assert_eq!((status, answer), (StatusCode::NOT_FOUND, role_not_found));

    // The role back: its old codes can be enabled again, and create-all (which sees an
    // enabled guest code) adds nothing.
    let (status, role) = server
        .post(&format!("/v2/templates/{template_id}/roles/guest"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{role}");
    let enabled = set_enabled(&server, &guest_two, true).await;
    check_code(&enabled, &room_id, "guest", true);
    assert_eq!(create_all(&server, &room_id).await["data"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn a_room_holds_at_most_100_codes() {
    let server = TestServer::start();
    let room_id = create_room(&server, "codes-limit").await;
    let mut made = codes(&create_all(&server, &room_id).await);
    for i in 0..98 {
        let role = if i % 2 == 0 { "host" } else { "guest" };
        made.push(code_of(&create_for_role(&server, &room_id, role).await));
    }
    let limit = envelope(400, "Room code limit reached", &["a room holds at most 100 room codes"]);
    let (status, answer) = server
        .post(&format!("/v2/room-codes/room/{room_id}/role/host"), json!({}))
        .await;
    assert_eq!((status, answer), (StatusCode::BAD_REQUEST, limit.clone()));

    // Create-all with nothing to add still answers every code.
    let all = create_all(&server, &room_id).await;
    assert_eq!(codes(&all), made);

    // With every guest code disabled, create-all would need a 101st code.
    for code in all["data"].as_array().unwrap() {
        if code["role"] == "guest" {
            set_enabled(&server, &code_of(code), false).await;
        }
    }
    let (status, answer) = server.post(&format!("/v2/room-codes/room/{room_id}"), json!({})).await;
    assert_eq!((status, answer), (StatusCode::BAD_REQUEST, limit));

    let page = list(&server, &room_id, "?limit=100").await;
    assert_eq!(codes(&page), made);
    assert_eq!(page["last"], json!(made[99]));
    let mut unique = made.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 100);
    assert!(made.iter().all(|code| is_room_code(code)));
}

#[tokio::test]
async fn codes_and_rooms_of_another_workspace_are_not_found() {
    let server = TestServer::start();
    let room_id = create_room(&server, "codes-isolated").await;
    let created = create_all(&server, &room_id).await;
    let code = code_of(&created["data"][0]);

    server.create_workspace("other", OTHER_KEY, OTHER_SECRET).await;
    let other = management_token(OTHER_KEY, OTHER_SECRET);
    let room_not_found = envelope(404, "Room not found", &[]);
    let code_not_found = envelope(404, "Code not found", &[]);
    let cases: Vec<(Method, String, Option<Value>, Value)> = vec![
        (
            Method::POST,
            format!("/v2/room-codes/room/{room_id}"),
            Some(json!({})),
            room_not_found.clone(),
        ),
        (
            Method::POST,
            format!("/v2/room-codes/room/{room_id}/role/host"),
            Some(json!({})),
            room_not_found.clone(),
        ),
        (
            Method::GET,
            format!("/v2/room-codes/room/{room_id}"),
            None,
            room_not_found.clone(),
        ),
        (
            Method::POST,
            "/v2/room-codes/code".into(),
            Some(json!({ "code": code, "enabled": false })),
            code_not_found.clone(),
        ),
        (
            Method::POST,
            format!("/v2/room-codes/code/{code}"),
            Some(json!({ "enabled": false })),
            code_not_found,
        ),
    ];
    for (method, path, body, expected) in cases {
        let (status, answer) = server.call_with(method.clone(), &path, body, Some(&other)).await;
        assert_eq!(
            (status, answer),
            (StatusCode::NOT_FOUND, expected),
            "{method} {path} as the other workspace"
        );
    }
    // Nothing changed for the owner.
    assert_eq!(
        all_codes(&server, &room_id).await,
        created["data"].as_array().unwrap().clone()
    );
}

#[tokio::test]
async fn moving_a_room_to_a_template_without_its_roles_orphans_its_codes() {
    let server = TestServer::start();
    let room_id = create_room(&server, "codes-moved").await;
    let created = create_all(&server, &room_id).await;
    let (status, template) = server.post("/v2/templates", json!({ "name": "empty-template" })).await;
    assert_eq!(status, StatusCode::OK, "{template}");
    let (status, room) = server
        .post(
            &format!("/v2/rooms/{room_id}"),
            json!({ "template_id": template["id"] }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{room}");

    // The new template has no roles: every code is disabled, none is made.
    let all = create_all(&server, &room_id).await;
    assert_eq!(codes(&all), codes(&created));
    for (code, role) in all["data"].as_array().unwrap().iter().zip(["host", "guest"]) {
        check_code(code, &room_id, role, false);
    }
    let (status, answer) = server
        .post(
            "/v2/room-codes/code",
            json!({ "code": all["data"][0]["code"], "enabled": true }),
        )
        .await;
    assert_eq!(
        (status, answer),
        (
            StatusCode::FORBIDDEN,
            envelope(403, "Code can not be enabled (role/room does not exist)", &[])
        )
    );
    let (status, answer) = server
        .post(&format!("/v2/room-codes/room/{room_id}/role/host"), json!({}))
        .await;
    assert_eq!(
        (status, answer),
        (StatusCode::NOT_FOUND, envelope(404, "Role not found", &[]))
    );
}

/// The update body is a JSON object: an array that serde could read as the fields in
/// order (`[code, enabled]`) is an invalid body, and changes nothing.
#[tokio::test]
async fn a_json_array_is_no_code_update_body() {
    let server = TestServer::start();
    let room_id = create_room(&server, "codes-array").await;
    let created = create_all(&server, &room_id).await;
    let code = code_of(&created["data"][0]);
    for (path, raw) in [
        ("/v2/room-codes/code".to_owned(), format!(r#"["{code}",false]"#)),
        (format!("/v2/room-codes/code/{code}"), "[null,false]".to_owned()),
    ] {
        let (status, answer) = server
            .send_raw(Method::POST, &path, Some("application/json"), raw.clone())
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path} {raw}: {answer}");
        assert_eq!(answer["message"], "Invalid body parameter", "{answer}");
        assert_eq!(
            all_codes(&server, &room_id).await,
            created["data"].as_array().unwrap().clone(),
            "unchanged after {raw}"
        );
    }
}
