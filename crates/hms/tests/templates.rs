//! The template (policy) API end to end: `/v2/templates` with its roles, settings,
//! destinations and recording configs, against the real `hms serve` binary.

mod common;

use std::sync::Arc;

use common::TestServer;
use reqwest::StatusCode;
use serde_json::{Value, json};

const SECRET_KEY: &str = "s3cr3t-never-shown";

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// Asserts the 100ms error envelope exactly. `details` is optional in the envelope
/// (`00-overview.md` §6.1), so a missing `details` counts as `[]`.
#[track_caller]
fn assert_error(response: (StatusCode, Value), code: u16, message: &str, details: &[&str]) {
    let (status, mut body) = response;
    if let Some(object) = body.as_object_mut() {
        object.entry("details").or_insert_with(|| json!([]));
    }
    assert_eq!(
        (status.as_u16(), body),
        (code, json!({"code": code, "message": message, "details": details}))
    );
}

#[track_caller]
fn assert_ok(response: &(StatusCode, Value)) {
    assert_eq!(response.0, StatusCode::OK, "{:#}", response.1);
}

fn is_object_id(text: &str) -> bool {
    text.len() == 24 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// RFC 3339 UTC with `Z` (`00-overview.md` §2): whole seconds and nanoseconds, so that
/// timestamps with fractions of different lengths compare correctly.
fn timestamp(text: &str) -> Option<(String, u32)> {
    let text = text.strip_suffix('Z')?;
    let (main, fraction) = text.split_once('.').unwrap_or((text, "0"));
    let b = main.as_bytes();
    let shape = b.len() == 19
        && [4, 7].iter().all(|&i| b[i] == b'-')
        && b[10] == b'T'
        && [13, 16].iter().all(|&i| b[i] == b':')
        && main
            .bytes()
            .enumerate()
            .all(|(i, c)| [4, 7, 10, 13, 16].contains(&i) || c.is_ascii_digit());
    let fraction_ok = (1..=9).contains(&fraction.len()) && fraction.bytes().all(|c| c.is_ascii_digit());
    (shape && fraction_ok).then(|| (main.to_owned(), format!("{fraction:0<9}").parse().unwrap()))
}

fn is_timestamp(text: &str) -> bool {
    timestamp(text).is_some()
}

/// Whether timestamp `later` is at or after `earlier`.
#[track_caller]
fn assert_not_before(later: &Value, earlier: &Value) {
    let parse = |value: &Value| {
        timestamp(value.as_str().unwrap_or_default()).unwrap_or_else(|| panic!("bad timestamp {value}"))
    };
    assert!(parse(later) >= parse(earlier), "{later} is before {earlier}");
}

fn str_of<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} is a string in {value:#}"))
}

/// Fails when `value` shows a storage secret anywhere.
#[track_caller]
fn assert_no_secret(value: &Value) {
    let text = value.to_string();
    assert!(!text.contains(SECRET_KEY), "secret leaked: {value:#}");
    assert!(!text.contains("secretKey"), "secretKey leaked: {value:#}");
}

/// A role as the service fills it from `{}` (12-templates-roles.md §2).
fn default_role(name: &str, subscribe_to: &[&str]) -> Value {
    json!({
        "name": name,
        "publishParams": {
            "allowed": ["audio", "video", "screen"],
            "audio": {"bitRate": 32, "codec": "opus"},
            "video": {"bitRate": 256, "codec": "vp8", "frameRate": 25, "width": 320, "height": 180},
            "screen": {"codec": "vp8", "frameRate": 10, "width": 1280, "height": 720}
        },
        "subscribeParams": {"subscribeToRoles": subscribe_to, "maxSubsBitRate": 3200},
        "permissions": {
            "sendRoomState": false,
            "pollRead": false,
            "pollWrite": false,
            "browserRecording": true,
            "rtmpStreaming": true,
            "hlsStreaming": true
        },
        "priority": 1,
        "maxPeerCount": 0
    })
}

fn default_room_state() -> Value {
    json!({"messageInterval": 5, "sendPeerList": false, "stopRoomStateOnJoin": true, "enabled": false})
}

fn default_settings() -> Value {
    json!({"region": "auto", "recording": null, "roomState": default_room_state(), "retry": {}})
}

async fn create(server: &TestServer, body: Value) -> Value {
    let response = server.post("/v2/templates", body).await;
    assert_ok(&response);
    response.1
}

async fn fetch(server: &TestServer, id: &str) -> Value {
    let response = server.get(&format!("/v2/templates/{id}")).await;
    assert_ok(&response);
    response.1
}

/// The workspace's templates (fewer than 100 in these tests), newest first.
async fn list_all(server: &TestServer) -> Vec<Value> {
    let (status, page) = server.get("/v2/templates?limit=100").await;
    assert_eq!(status, StatusCode::OK, "{page:#}");
    page["data"].as_array().unwrap().clone()
}

// ---------------------------------------------------------------------------------------
// List
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn list_shows_the_default_conferencing_template() {
    let server = TestServer::start();
    let (status, page) = server.get("/v2/templates").await;
    assert_eq!(status, StatusCode::OK, "{page:#}");
    let data = page["data"].as_array().expect("data is an array");
    assert_eq!(data.len(), 1, "{page:#}");
    let template = &data[0];
    let id = str_of(template, "id");
    assert!(is_object_id(id), "{id}");
    assert_eq!(template["name"], "conferencing");
    assert_eq!(template["default"], true);
    assert_eq!(template["_id"], id);
    assert_eq!(template["customer"], template["customerId"]);
    assert!(template["roles"].is_object());
    assert_eq!(template["settings"], default_settings());
    assert_eq!(template["destinations"], json!({}));

    // The whole envelope, with the item exactly as GET by id shows it.
    let fetched = fetch(&server, id).await;
    assert_eq!(
        page,
        json!({"limit": 10, "data": [fetched], "last": id}),
        "list and retrieve disagree"
    );
}

#[tokio::test]
async fn list_pages_newest_first_without_repeats_or_gaps() {
    let server = TestServer::start();
    let mut created = Vec::new();
    for index in 0..25 {
        let template = create(
            &server,
            json!({"name": format!("page-{index:02}"), "roles": {"host": {}}}),
        )
        .await;
        created.push(str_of(&template, "id").to_owned());
    }
    let default_id = {
        let (_, page) = server.get("/v2/templates?limit=100").await;
        let data = page["data"].as_array().unwrap();
        str_of(data.last().unwrap(), "id").to_owned()
    };
    // Newest first: the 25 in reverse creation order, then the default template.
    let mut expected: Vec<String> = created.iter().rev().cloned().collect();
    expected.push(default_id);

    let mut seen: Vec<String> = Vec::new();
    let mut names: Vec<String> = Vec::new();
    let mut start: Option<String> = None;
    let mut page_sizes = Vec::new();
    loop {
        let path = match &start {
            Some(start) => format!("/v2/templates?limit=10&start={start}"),
            None => "/v2/templates?limit=10".to_owned(),
        };
        let (status, page) = server.get(&path).await;
        assert_eq!(status, StatusCode::OK, "{page:#}");
        assert_eq!(page["limit"], 10, "{path}");
        let data = page["data"].as_array().expect("data is an array");
        page_sizes.push(data.len());
        for item in data {
            seen.push(str_of(item, "id").to_owned());
            names.push(str_of(item, "name").to_owned());
        }
        if data.is_empty() {
            assert_eq!(page["last"], "", "an empty page has no last id");
            break;
        }
        assert_eq!(
            page["last"],
            data.last().unwrap()["id"],
            "last is the id of the last item"
        );
        start = Some(str_of(&page, "last").to_owned());
        assert!(page_sizes.len() <= 5, "pagination does not end: {page_sizes:?}");
    }
    assert_eq!(page_sizes, [10, 10, 6, 0]);
    assert_eq!(seen, expected, "no repeats, no gaps, newest first");
    let mut expected_names: Vec<String> = (0..25).rev().map(|i| format!("page-{i:02}")).collect();
    expected_names.push("conferencing".to_owned());
    assert_eq!(names, expected_names);
    assert!(seen.windows(2).all(|pair| pair[0] > pair[1]), "ids descend: {seen:?}");

    // `limit` is clamped to 10..=100.
    for (query, limit, count) in [
        ("", 10, 10),
        ("?limit=1", 10, 10),
        ("?limit=0", 10, 10),
        ("?limit=9", 10, 10),
        ("?limit=15", 15, 15),
        ("?limit=100", 100, 26),
        ("?limit=101", 100, 26),
        ("?limit=5000", 100, 26),
    ] {
        let (status, page) = server.get(&format!("/v2/templates{query}")).await;
        assert_eq!(status, StatusCode::OK, "{query}: {page:#}");
        assert_eq!(page["limit"], limit, "{query}");
        assert_eq!(page["data"].as_array().unwrap().len(), count, "{query}");
        assert_eq!(page["data"][0]["id"], expected[0].as_str(), "{query}");
    }
}

// ---------------------------------------------------------------------------------------
// Create
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn create_returns_the_whole_template_with_documented_defaults() {
    let server = TestServer::start();
    let (status, template) = server
        .post(
            "/v2/templates",
            json!({"name": "t1", "roles": {"host": {}, "guest": {}}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{template:#}");

    let id = str_of(&template, "id");
    let customer_id = str_of(&template, "customerId");
    let created_at = str_of(&template, "createdAt");
    let updated_at = str_of(&template, "updatedAt");
    let app_id = str_of(&template, "appId");
    assert!(is_object_id(id), "{id}");
    assert!(is_object_id(customer_id), "{customer_id}");
    assert!(is_timestamp(created_at), "{created_at}");
    assert!(is_timestamp(updated_at), "{updated_at}");
    assert!(!app_id.is_empty());

    let expected = json!({
        "id": id,
        "name": "t1",
        "customerId": customer_id,
        "roles": {
            "host": default_role("host", &["host", "guest"]),
            "guest": default_role("guest", &["host", "guest"])
        },
        "settings": {
            "region": "auto",
            "recording": null,
            "roomState": {
                "messageInterval": 5,
                "sendPeerList": false,
                "stopRoomStateOnJoin": true,
                "enabled": false
            },
            "retry": {}
        },
        "destinations": {},
        "createdAt": created_at,
        "updatedAt": updated_at,
        "_id": id,
        "customer": customer_id,
        "default": false,
        "appId": app_id
    });
    assert_eq!(template, expected);

    // Same object from retrieve and list.
    assert_eq!(fetch(&server, id).await, expected);
    let all = list_all(&server).await;
    assert_eq!(all.len(), 2);
    assert_eq!(all[0], expected, "the new template is listed first");
    assert_eq!(all[1]["name"], "conferencing");
    assert_eq!(all[1]["customerId"], customer_id, "same workspace");
    assert_eq!(all[1]["appId"], app_id, "same workspace");
}

#[tokio::test]
async fn create_with_an_existing_name_overwrites_and_keeps_the_id() {
    let server = TestServer::start();
    let first = create(&server, json!({"name": "webinar", "roles": {"host": {}, "guest": {}}})).await;
    let id = str_of(&first, "id");

    let (status, second) = server
        .post(
            "/v2/templates",
            json!({
                "name": "webinar",
                "roles": {"viewer": {"priority": 3}},
                "settings": {"region": "eu"}
            }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{second:#}");
    let mut viewer = default_role("viewer", &["viewer"]);
    viewer["priority"] = json!(3);
    let expected = json!({
        "id": id,
        "name": "webinar",
        "customerId": first["customerId"],
        "roles": {"viewer": viewer},
        "settings": {"region": "eu", "recording": null, "roomState": default_room_state(), "retry": {}},
        "destinations": {},
        "createdAt": first["createdAt"],
        "updatedAt": second["updatedAt"],
        "_id": id,
        "customer": first["customerId"],
        "default": false,
        "appId": first["appId"]
    });
    assert_eq!(second, expected, "overwritten in place, same id");
    assert_not_before(&second["updatedAt"], &first["updatedAt"]);
    assert_eq!(fetch(&server, id).await, expected);
    let all = list_all(&server).await;
    assert_eq!(all.len(), 2, "no second template named webinar");
    assert_eq!(all[0], expected);
}

#[tokio::test]
async fn create_without_a_name_generates_one() {
    let server = TestServer::start();
    let a = create(&server, json!({"roles": {"host": {}}})).await;
    let b = create(&server, json!({"roles": {"host": {}}})).await;
    for template in [&a, &b] {
        let name = str_of(template, "name");
        assert!(
            !name.is_empty()
                && name.len() <= 100
                && name.chars().all(|c| c.is_ascii_alphanumeric() || " -._:".contains(c)),
            "generated name {name:?} follows the name rules"
        );
        assert_eq!(template["roles"]["host"], default_role("host", &["host"]));
        assert_eq!(fetch(&server, str_of(template, "id")).await, *template);
    }
    assert_ne!(a["id"], b["id"], "two unnamed creates are two templates");
    assert_ne!(a["name"], b["name"], "each gets its own name");
    assert_eq!(list_all(&server).await.len(), 3);
}

#[tokio::test]
async fn create_refuses_invalid_templates_reporting_every_problem() {
    let server = TestServer::start();
    assert_error(
        server
            .post(
                "/v2/templates",
                json!({"name": "t", "roles": {
                    "host": {},
                    "guest": {"subscribeParams": {"subscribeToRoles": ["host", "ghost"]}}
                }}),
            )
            .await,
        400,
        "Invalid body param",
        &[r#"roles.guest.subscribeParams.subscribeToRoles names role "ghost", which does not exist in the template"#],
    );
    assert_error(
        server
            .post(
                "/v2/templates",
                json!({
                    "name": "bad/name",
                    "roles": {"host": {
                        "publishParams": {"video": {"bitRate": 5000, "frameRate": 0}},
                        "priority": 9,
                        "maxPeerCount": -2
                    }},
                    "settings": {"region": "mars", "roomState": {"messageInterval": 7}}
                }),
            )
            .await,
        400,
        "Invalid body param",
        &[
            r#"name "bad/name" must be 1 to 100 characters of a-z, A-Z, 0-9, space, -, ., _ and :"#,
            "roles.host.publishParams.video.bitRate must be between 30 and 2000",
            "roles.host.publishParams.video.frameRate must be between 1 and 30",
            "roles.host.priority must be between 1 and 5",
            "roles.host.maxPeerCount must be -1, 0 or more",
            r#"settings.region must be one of in, us, eu, auto (got "mars")"#,
            "settings.roomState.messageInterval must be a multiple of 5 between 5 and 3600",
        ],
    );
    assert_eq!(list_all(&server).await.len(), 1, "nothing was created");
}

// ---------------------------------------------------------------------------------------
// Retrieve / unknown ids
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn unknown_templates_are_404_on_every_endpoint() {
    let server = TestServer::start();
    let valid = json!({"roles": {"host": {}}, "settings": {}});
    for id in ["ffffffffffffffffffffffff", "000000000000000000000000", "nope"] {
        let base = format!("/v2/templates/{id}");
        let not_found = |response| assert_error(response, 404, "Template not found", &[]);
        not_found(server.get(&base).await);
        not_found(server.post(&base, valid.clone()).await);
        not_found(server.get(&format!("{base}/roles/host")).await);
        not_found(server.post(&format!("{base}/roles/host"), json!({})).await);
        not_found(
            server
                .call(reqwest::Method::DELETE, &format!("{base}/roles/host"), None)
                .await,
        );
        not_found(server.get(&format!("{base}/settings")).await);
        not_found(server.post(&format!("{base}/settings"), json!({})).await);
        not_found(server.get(&format!("{base}/destinations")).await);
        not_found(server.post(&format!("{base}/destinations"), json!({})).await);
        not_found(server.get(&format!("{base}/recordings")).await);
        not_found(
            server
                .post(&format!("{base}/recordings"), json!([{"name": "rec", "role": "host"}]))
                .await,
        );
    }
}

// ---------------------------------------------------------------------------------------
// Update (full replace)
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn update_replaces_the_whole_template() {
    let server = TestServer::start();
    let original = create(
        &server,
        json!({"name": "show", "roles": {"host": {}, "guest": {}, "viewer": {}}}),
    )
    .await;
    let id = str_of(&original, "id");
    let path = format!("/v2/templates/{id}");

    // Omitted roles disappear; the name stays when left out.
    let (status, replaced) = server
        .post(
            &path,
            json!({
                "roles": {"host": {"subscribeParams": {"subscribeToRoles": ["host"]}}},
                "settings": {"region": "in", "roomState": {"messageInterval": 10}}
            }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{replaced:#}");
    let expected = json!({
        "id": id,
        "name": "show",
        "customerId": original["customerId"],
        "roles": {"host": default_role("host", &["host"])},
        "settings": {
            "region": "in",
            "recording": null,
            "roomState": {"messageInterval": 10, "sendPeerList": false, "stopRoomStateOnJoin": true, "enabled": false},
            "retry": {}
        },
        "destinations": {},
        "createdAt": original["createdAt"],
        "updatedAt": replaced["updatedAt"],
        "_id": id,
        "customer": original["customerId"],
        "default": false,
        "appId": original["appId"]
    });
    assert_eq!(replaced, expected);
    assert!(is_timestamp(str_of(&replaced, "updatedAt")));
    assert_not_before(&replaced["updatedAt"], &original["updatedAt"]);
    assert_eq!(fetch(&server, id).await, expected);
    assert_error(
        server.get(&format!("{path}/roles/viewer")).await,
        404,
        "Role not found",
        &[],
    );

    // Fetch, modify, post back: the documented workflow, including a rename.
    let mut edited = fetch(&server, id).await;
    edited["name"] = json!("show-renamed");
    edited["roles"]["host"]["priority"] = json!(2);
    let (status, renamed) = server.post(&path, edited.clone()).await;
    assert_eq!(status, StatusCode::OK, "{renamed:#}");
    let mut expected = expected;
    expected["name"] = json!("show-renamed");
    expected["roles"]["host"]["priority"] = json!(2);
    expected["updatedAt"] = renamed["updatedAt"].clone();
    assert_eq!(renamed, expected);
    assert_eq!(fetch(&server, id).await, expected);
    let names: Vec<Value> = list_all(&server).await.iter().map(|t| t["name"].clone()).collect();
    assert_eq!(names, [json!("show-renamed"), json!("conferencing")]);
}

#[tokio::test]
async fn refused_updates_change_nothing() {
    let server = TestServer::start();
    create(&server, json!({"name": "taken", "roles": {"host": {}}})).await;
    let template = create(&server, json!({"name": "mine", "roles": {"host": {}, "guest": {}}})).await;
    let id = str_of(&template, "id");
    let path = format!("/v2/templates/{id}");
    let before = fetch(&server, id).await;

    assert_error(
        server.post(&path, json!({"name": "mine", "settings": {}})).await,
        400,
        "Invalid body param",
        &["roles is required"],
    );
    assert_error(
        server.post(&path, json!({"roles": {"host": {}}})).await,
        400,
        "Invalid body param",
        &["settings is required"],
    );
    assert_error(
        server.post(&path, json!({"name": "other"})).await,
        400,
        "Invalid body param",
        &["roles is required", "settings is required"],
    );
    assert_eq!(fetch(&server, id).await, before, "after missing roles/settings");

    // Renaming onto another template's name is an overwrite error.
    let mut renamed = before.clone();
    renamed["name"] = json!("taken");
    assert_error(
        server.post(&path, renamed).await,
        409,
        "Overwrite error",
        &["a template named taken already exists"],
    );
    assert_eq!(fetch(&server, id).await, before, "after the overwrite error");

    // An invalid role refuses the whole update.
    assert_error(
        server
            .post(
                &path,
                json!({"roles": {"host": {"priority": 0}}, "settings": {"region": "us"}}),
            )
            .await,
        400,
        "Invalid body param",
        &["roles.host.priority must be between 1 and 5"],
    );
    assert_eq!(fetch(&server, id).await, before, "after an invalid role");

    // Neither template was renamed, copied or dropped.
    let names: Vec<Value> = list_all(&server).await.iter().map(|t| t["name"].clone()).collect();
    assert_eq!(names, [json!("mine"), json!("taken"), json!("conferencing")]);
}

// ---------------------------------------------------------------------------------------
// Roles
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn roles_are_retrieved_created_replaced_renamed_and_deleted() {
    let server = TestServer::start();
    let template = create(&server, json!({"name": "stage", "roles": {"host": {}, "guest": {}}})).await;
    let id = str_of(&template, "id");
    let roles = format!("/v2/templates/{id}/roles");

    // Retrieve.
    let (status, host) = server.get(&format!("{roles}/host")).await;
    assert_eq!(
        (status, host),
        (StatusCode::OK, default_role("host", &["host", "guest"]))
    );
    assert_error(server.get(&format!("{roles}/ghost")).await, 404, "Role not found", &[]);

    // Create: the response's name is the path segment; defaults fill the rest.
    let (status, viewer) = server
        .post(
            &format!("{roles}/viewer"),
            json!({
                "publishParams": {"allowed": ["audio"], "video": {"bitRate": 500}},
                "permissions": {"endRoom": true, "mute": false, "hlsStreaming": false},
                "priority": 2,
                "maxPeerCount": -1
            }),
        )
        .await;
    let expected_viewer = json!({
        "name": "viewer",
        "publishParams": {
            "allowed": ["audio"],
            "audio": {"bitRate": 32, "codec": "opus"},
            "video": {"bitRate": 500, "codec": "vp8", "frameRate": 25, "width": 320, "height": 180},
            "screen": {"codec": "vp8", "frameRate": 10, "width": 1280, "height": 720}
        },
        "subscribeParams": {"subscribeToRoles": ["host", "guest", "viewer"], "maxSubsBitRate": 3200},
        "permissions": {
            "endRoom": true,
            "sendRoomState": false,
            "pollRead": false,
            "pollWrite": false,
            "browserRecording": true,
            "rtmpStreaming": true,
            "hlsStreaming": false
        },
        "priority": 2,
        "maxPeerCount": -1
    });
    assert_eq!((status, viewer), (StatusCode::OK, expected_viewer.clone()));
    let (status, fetched) = server.get(&format!("{roles}/viewer")).await;
    assert_eq!((status, fetched), (StatusCode::OK, expected_viewer.clone()));
    let whole = fetch(&server, id).await;
    assert_eq!(whole["roles"]["viewer"], expected_viewer);
    assert_eq!(
        whole["roles"]["host"],
        default_role("host", &["host", "guest"]),
        "other roles untouched"
    );

    // Update replaces the whole role: what the body leaves out goes back to defaults.
    let (status, replaced) = server
        .post(&format!("{roles}/viewer"), json!({"name": "viewer", "maxPeerCount": 5}))
        .await;
    let mut expected_viewer = default_role("viewer", &["host", "guest", "viewer"]);
    expected_viewer["maxPeerCount"] = json!(5);
    assert_eq!((status, replaced), (StatusCode::OK, expected_viewer.clone()));
    let (status, fetched) = server.get(&format!("{roles}/viewer")).await;
    assert_eq!((status, fetched), (StatusCode::OK, expected_viewer));

    // Let host subscribe to viewer, then rename viewer: the reference follows.
    let (status, host) = server
        .post(
            &format!("{roles}/host"),
            json!({"subscribeParams": {"subscribeToRoles": ["host", "viewer"]}}),
        )
        .await;
    assert_eq!(
        (status, host),
        (StatusCode::OK, default_role("host", &["host", "viewer"]))
    );
    let (status, audience) = server
        .post(&format!("{roles}/viewer"), json!({"name": "audience"}))
        .await;
    assert_eq!(
        (status, audience),
        (StatusCode::OK, default_role("audience", &["host", "guest", "audience"]))
    );
    assert_error(server.get(&format!("{roles}/viewer")).await, 404, "Role not found", &[]);
    let whole = fetch(&server, id).await;
    assert_eq!(
        whole["roles"],
        json!({
            "host": default_role("host", &["host", "audience"]),
            "guest": default_role("guest", &["host", "guest"]),
            "audience": default_role("audience", &["host", "guest", "audience"])
        })
    );

    // Renaming onto an existing role is refused and changes nothing.
    assert_error(
        server.post(&format!("{roles}/audience"), json!({"name": "host"})).await,
        400,
        "Invalid body param",
        &[r#"name: a role named "host" already exists"#],
    );
    assert_eq!(fetch(&server, id).await, whole);

    // Delete: 204 with an empty body, then 404.
    let response = common::client()
        .delete(server.url(&format!("{roles}/audience")))
        .bearer_auth(server.token())
        .send()
        .await
        .expect("request reaches the server");
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let bytes = response.bytes().await.expect("body");
    assert!(
        bytes.is_empty(),
        "204 has an empty body, got {:?}",
        String::from_utf8_lossy(&bytes)
    );
    assert_error(
        server
            .call(reqwest::Method::DELETE, &format!("{roles}/audience"), None)
            .await,
        404,
        "Role not found",
        &[],
    );
    assert_error(
        server.get(&format!("{roles}/audience")).await,
        404,
        "Role not found",
        &[],
    );
    let whole = fetch(&server, id).await;
    assert_eq!(
        whole["roles"],
        json!({
            "host": default_role("host", &["host"]),
            "guest": default_role("guest", &["host", "guest"])
        }),
        "the deleted role is gone, and so are subscriptions to it"
    );
}

#[tokio::test]
async fn role_validation_reports_every_problem_and_changes_nothing() {
    let server = TestServer::start();
    let template = create(&server, json!({"name": "checks", "roles": {"host": {}, "guest": {}}})).await;
    let id = str_of(&template, "id");
    let roles = format!("/v2/templates/{id}/roles");
    let before = fetch(&server, id).await;

    assert_error(
        server
            .post(
                &format!("{roles}/guest"),
                json!({"subscribeParams": {"subscribeToRoles": ["host", "ghost"]}}),
            )
            .await,
        400,
        "Invalid body param",
        &[r#"roles.guest.subscribeParams.subscribeToRoles names role "ghost", which does not exist in the template"#],
    );
    assert_error(
        server
            .post(
                &format!("{roles}/host"),
                json!({
                    "publishParams": {"video": {"bitRate": 5000, "frameRate": 0}},
                    "priority": 9,
                    "maxPeerCount": -2
                }),
            )
            .await,
        400,
        "Invalid body param",
        &[
            "roles.host.publishParams.video.bitRate must be between 30 and 2000",
            "roles.host.publishParams.video.frameRate must be between 1 and 30",
            "roles.host.priority must be between 1 and 5",
            "roles.host.maxPeerCount must be -1, 0 or more",
        ],
    );
    // A new role with bad values is not created either.
    assert_error(
        server
            .post(
                &format!("{roles}/newbie"),
                json!({"publishParams": {"audio": {"bitRate": 1}}}),
            )
            .await,
        400,
        "Invalid body param",
        &["roles.newbie.publishParams.audio.bitRate must be between 16 and 128"],
    );
    assert_error(server.get(&format!("{roles}/newbie")).await, 404, "Role not found", &[]);
    assert_eq!(fetch(&server, id).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_role_upserts_lose_nothing() {
    let server = Arc::new(TestServer::start());
    let template = create(&server, json!({"name": "busy", "roles": {"host": {}, "guest": {}}})).await;
    let id = str_of(&template, "id").to_owned();

    let mut tasks = tokio::task::JoinSet::new();
    for index in 0..20 {
        let server = Arc::clone(&server);
        let id = id.clone();
        tasks.spawn(async move {
            let name = format!("r{index:02}");
            let response = server
                .post(
                    &format!("/v2/templates/{id}/roles/{name}"),
                    json!({"subscribeParams": {"subscribeToRoles": ["host"]}}),
                )
                .await;
            (name, response)
        });
    }
    let mut failures = Vec::new();
    let mut succeeded = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (name, (status, body)) = joined.expect("task finishes");
        if (status, &body) == (StatusCode::OK, &default_role(&name, &["host"])) {
            succeeded.push(name);
        } else {
            failures.push(format!("{name}: {status} {body}"));
        }
    }
    let whole = fetch(&server, &id).await;
    let roles = whole["roles"].as_object().unwrap();
    // An acknowledged upsert must never be lost, whatever else happened.
    let lost: Vec<&String> = succeeded.iter().filter(|name| !roles.contains_key(*name)).collect();
    assert!(lost.is_empty(), "acknowledged upserts were lost: {lost:?}");
    // Distinct roles do not conflict, so every upsert must succeed.
    assert!(failures.is_empty(), "failed upserts: {failures:#?}");

    let mut names: Vec<&String> = roles.keys().collect();
    names.sort();
    let mut expected: Vec<String> = (0..20).map(|i| format!("r{i:02}")).collect();
    expected.push("guest".to_owned());
    expected.push("host".to_owned());
    expected.sort();
    assert_eq!(names, expected.iter().collect::<Vec<_>>(), "no lost update");
    for index in 0..20 {
        let name = format!("r{index:02}");
        assert_eq!(roles[&name], default_role(&name, &["host"]));
    }
}

// ---------------------------------------------------------------------------------------
// Settings and the storage secret
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn settings_are_validated_and_round_trip() {
    let server = TestServer::start();
    let template = create(&server, json!({"name": "cfg", "roles": {"host": {}}})).await;
    let id = str_of(&template, "id");
    let path = format!("/v2/templates/{id}/settings");

    let (status, settings) = server.get(&path).await;
    assert_eq!((status, settings), (StatusCode::OK, default_settings()));

    for region in ["in", "us", "eu", "auto"] {
        let (status, settings) = server.post(&path, json!({"region": region})).await;
        assert_eq!(
            (status, settings),
            (
                StatusCode::OK,
                json!({"region": region, "recording": null, "roomState": default_room_state(), "retry": {}})
            ),
            "{region}"
        );
    }

    let stored = json!({
        "region": "eu",
        "recording": {"enabled": true},
        "roomState": {"messageInterval": 3600, "sendPeerList": true, "stopRoomStateOnJoin": false, "enabled": true},
        "retry": {}
    });
    let (status, settings) = server.post(&path, stored.clone()).await;
    assert_eq!((status, settings), (StatusCode::OK, stored.clone()));
    let (status, settings) = server.get(&path).await;
    assert_eq!((status, settings), (StatusCode::OK, stored.clone()));
    assert_eq!(fetch(&server, id).await["settings"], stored);

    assert_error(
        server.post(&path, json!({"region": "mars"})).await,
        400,
        "Invalid body param",
        &[r#"settings.region must be one of in, us, eu, auto (got "mars")"#],
    );
    for interval in [0, 7, 3605, -5] {
        assert_error(
            server
                .post(
                    &path,
                    json!({"region": "eu", "roomState": {"messageInterval": interval}}),
                )
                .await,
            400,
            "Invalid body param",
            &["settings.roomState.messageInterval must be a multiple of 5 between 5 and 3600"],
        );
    }
    assert_error(
        server
            .post(&path, json!({"region": "eu", "recording": {"upload": {"type": "ftp"}}}))
            .await,
        400,
        "Invalid body param",
        &[
            r#"settings.recording.upload.type must be one of s3, gs, oss, azure (got "ftp")"#,
            "settings.recording.upload.location is required",
        ],
    );
    let (status, settings) = server.get(&path).await;
    assert_eq!(
        (status, settings),
        (StatusCode::OK, stored),
        "refused updates change nothing"
    );
}

#[tokio::test]
async fn storage_secret_is_never_returned_and_survives_round_trips() {
    let server = TestServer::start();
    let template = create(&server, json!({"name": "vault", "roles": {"host": {}}})).await;
    let id = str_of(&template, "id");
    let path = format!("/v2/templates/{id}");
    let settings_path = format!("{path}/settings");
    let upload = |credentials: Option<Value>| {
        let mut upload = json!({
            "type": "s3",
            "location": "bucket",
            "prefix": "rec/",
            "options": {"region": "eu-west-1"}
        });
        if let Some(credentials) = credentials {
            upload["credentials"] = credentials;
        }
        json!({
            "region": "eu",
            "recording": {"enabled": true, "upload": upload},
            "roomState": default_room_state(),
            "retry": {}
        })
    };
    let with_secret = upload(Some(json!({"key": "AKIA", "secretKey": SECRET_KEY})));
    let shown = upload(Some(json!({"key": "AKIA"})));
    let secret_required = [r"settings.recording.upload.credentials.secretKey is required"];

    // A fresh template has no secret to fall back on.
    assert_error(
        server.post(&settings_path, shown.clone()).await,
        400,
        "Invalid body param",
        &secret_required,
    );

    let (status, settings) = server.post(&settings_path, with_secret.clone()).await;
    assert_eq!((status, &settings), (StatusCode::OK, &shown));
    assert_no_secret(&settings);

    // No endpoint shows it.
    let (status, settings) = server.get(&settings_path).await;
    assert_eq!((status, &settings), (StatusCode::OK, &shown));
    let fetched = fetch(&server, id).await;
    assert_eq!(fetched["settings"], shown);
    assert_no_secret(&fetched);
    let (status, page) = server.get("/v2/templates").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["data"][0]["settings"], shown);
    assert_no_secret(&page);
    for sub in ["roles/host", "destinations", "recordings"] {
        let (status, body) = server.get(&format!("{path}/{sub}")).await;
        assert_eq!(status, StatusCode::OK, "{sub}: {body:#}");
        assert_no_secret(&body);
    }

    // Posting back the fetched template (no secretKey, same key) keeps the secret …
    let (status, replaced) = server.post(&path, fetched.clone()).await;
    assert_eq!(status, StatusCode::OK, "{replaced:#}");
    assert_eq!(replaced["settings"], shown);
    assert_no_secret(&replaced);
    let (status, settings) = server.get(&settings_path).await;
    assert_eq!((status, &settings), (StatusCode::OK, &shown));
    // … which the next post-back of the settings proves: without a stored secret, the same
    // body is refused as on the fresh template above.
    let (status, settings) = server.post(&settings_path, shown.clone()).await;
    assert_eq!((status, &settings), (StatusCode::OK, &shown));
    assert_no_secret(&settings);

    // The same through create-by-name (upsert).
    let mut upsert = fetch(&server, id).await;
    for key in [
        "id",
        "_id",
        "customerId",
        "customer",
        "createdAt",
        "updatedAt",
        "default",
        "appId",
    ] {
        upsert.as_object_mut().unwrap().remove(key);
    }
    let (status, upserted) = server.post("/v2/templates", upsert).await;
    assert_eq!(status, StatusCode::OK, "{upserted:#}");
    assert_eq!(upserted["id"], id);
    assert_eq!(upserted["settings"], shown);
    assert_no_secret(&upserted);
    let (status, settings) = server.post(&settings_path, shown.clone()).await;
    assert_eq!((status, &settings), (StatusCode::OK, &shown));

    // Another key without its secret is refused and changes nothing.
    assert_error(
        server.post(&settings_path, upload(Some(json!({"key": "OTHER"})))).await,
        400,
        "Invalid body param",
        &secret_required,
    );
    let (status, settings) = server.post(&settings_path, shown.clone()).await;
    assert_eq!((status, &settings), (StatusCode::OK, &shown), "secret still kept");

    // Settings without credentials remove them, secret included.
    let bare = upload(None);
    let (status, settings) = server.post(&settings_path, bare.clone()).await;
    assert_eq!((status, &settings), (StatusCode::OK, &bare));
    let (status, settings) = server.get(&settings_path).await;
    assert_eq!((status, &settings), (StatusCode::OK, &bare));
    assert_error(
        server.post(&settings_path, shown.clone()).await,
        400,
        "Invalid body param",
        &secret_required,
    );
    let (status, settings) = server.get(&settings_path).await;
    assert_eq!((status, settings), (StatusCode::OK, bare));
}

// ---------------------------------------------------------------------------------------
// Destinations
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn destinations_are_validated_and_round_trip() {
    let server = TestServer::start();
    let template = create(&server, json!({"name": "outputs", "roles": {"host": {}, "guest": {}}})).await;
    let id = str_of(&template, "id");
    let path = format!("/v2/templates/{id}/destinations");

    let (status, destinations) = server.get(&path).await;
    assert_eq!((status, destinations), (StatusCode::OK, json!({})));

    assert_error(
        server
            .post(
                &path,
                json!({"rtmpDestinations": {"yt": {"name": "yt", "rtmpUrls": [
                    "rtmp://a.example/live/1", "rtmp://b.example/live/2",
                    "rtmp://c.example/live/3", "rtmp://d.example/live/4"
                ]}}}),
            )
            .await,
        400,
        "Invalid body param",
        &["destinations.rtmpDestinations.yt.rtmpUrls must hold at most 3 URLs"],
    );
    assert_error(
        server
            .post(
                &path,
                json!({"hlsDestinations": {"hls": {"name": "hls", "playlistType": "vod"}}}),
            )
            .await,
        400,
        "Invalid body param",
        &[r#"destinations.hlsDestinations.hls.playlistType must be one of event, live (got "vod")"#],
    );
    assert_error(
        server
            .post(
                &path,
                json!({"hlsDestinations": {"hls": {"playlistType": "live", "numPlaylistSegments": 2}}}),
            )
            .await,
        400,
        "Invalid body param",
        &["destinations.hlsDestinations.hls.numPlaylistSegments must be between 3 and 150"],
    );
    assert_error(
        server
            .post(
                &path,
                json!({"transcriptions": {"captions": {"name": "captions", "role": "ghost"}}}),
            )
            .await,
        400,
        "Invalid body param",
        &[r#"destinations.transcriptions.captions.role names role "ghost", which does not exist in the template"#],
    );
    assert_error(
        server
            .post(&path, json!({"transcriptions": {"captions": {"name": "captions"}}}))
            .await,
        400,
        "Invalid body param",
        &["destinations.transcriptions.captions.role is required"],
    );
    let (status, destinations) = server.get(&path).await;
    assert_eq!(
        (status, destinations),
        (StatusCode::OK, json!({})),
        "refused updates change nothing"
    );

    let full = json!({
        "rtmpDestinations": {"yt": {
            "name": "yt",
            "width": 1280,
            "height": 720,
            "maxDuration": 1800,
            "rtmpUrls": ["rtmp://a.example/live/1", "rtmp://b.example/live/2", "rtmp://c.example/live/3"],
            "recordingEnabled": true,
            "autoStopTimeout": 300
        }},
        "hlsDestinations": {"hls": {
            "name": "hls",
            "maxDuration": 3600,
            "layers": [
                {"width": 1280, "height": 720, "videoBitrate": 2000, "audioBitrate": 128},
                {"width": 640, "height": 360, "videoBitrate": 800, "audioBitrate": 64},
                {}
            ],
            "playlistType": "live",
            "numPlaylistSegments": 5,
            "videoFrameRate": 30,
            "enableMetadataInsertion": true,
            "enableStaticUrl": true,
            "recording": {
                "hlsVod": true,
                "singleFilePerLayer": true,
                "enableZipUpload": false,
                "layers": [{"width": 1280, "height": 720, "videoBitrate": 2000, "audioBitrate": 128}],
                "thumbnails": {"enabled": true, "width": 320, "height": 180, "offsets": [2, 30], "fps": 1},
                "presignDuration": 604800
            },
            "autoStopTimeout": 120
        }},
        "transcriptions": {"captions": {
            "name": "captions",
            "role": "host",
            "modes": ["recorded", "caption"],
            "outputModes": ["txt", "srt", "json"],
            "customVocabulary": ["openhms", "simulcast"],
            "summary": {
                "enabled": true,
                "context": "a weekly stand-up",
                "temperature": 0.5,
                "sections": [{"title": "Action items", "format": "bullets"}]
            },
            "translation": {"enabled": true, "roleLanguages": {"host": "es", "guest": "fr"}}
        }}
    });
    let (status, destinations) = server.post(&path, full.clone()).await;
    assert_eq!((status, destinations), (StatusCode::OK, full.clone()));
    let (status, destinations) = server.get(&path).await;
    assert_eq!((status, destinations), (StatusCode::OK, full.clone()));
    assert_eq!(fetch(&server, id).await["destinations"], full);

    // A refused update after a stored one keeps the stored one.
    let mut bad = full.clone();
    bad["hlsDestinations"]["hls"]["playlistType"] = json!("vod");
    assert_error(
        server.post(&path, bad).await,
        400,
        "Invalid body param",
        &[r#"destinations.hlsDestinations.hls.playlistType must be one of event, live (got "vod")"#],
    );
    let (status, destinations) = server.get(&path).await;
    assert_eq!((status, destinations), (StatusCode::OK, full));
}

// ---------------------------------------------------------------------------------------
// Recording configs
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn recording_configs_hold_exactly_one_config() {
    let server = TestServer::start();
    let template = create(&server, json!({"name": "recorded", "roles": {"host": {}, "guest": {}}})).await;
    let id = str_of(&template, "id");
    let path = format!("/v2/templates/{id}/recordings");

    let (status, recordings) = server.get(&path).await;
    assert_eq!((status, recordings), (StatusCode::OK, json!([])));

    let config = json!({
        "name": "rec",
        "role": "host",
        "maxDuration": 3600,
        "presignDuration": 604800,
        "thumbnails": {"enabled": true, "width": 320, "height": 180, "offsets": [5, 60], "fps": 1},
        "compositeRecording": {
            "browserComposite": {"autoStart": true, "autoStopTimeout": 60, "width": 1280, "height": 720},
            "customComposite": {"enabled": true}
        },
        "trackRecording": {"enabled": true},
        "streamRecording": {"enabled": true, "width": 1280, "height": 720}
    });

    assert_error(
        server.post(&path, json!([config.clone(), config.clone()])).await,
        400,
        "Invalid body param",
        &["recordings must hold exactly one recording config, not 2"],
    );
    assert_error(
        server.post(&path, json!([])).await,
        400,
        "Invalid body param",
        &["recordings must hold exactly one recording config, not 0"],
    );
    let mut ghost = config.clone();
    ghost["role"] = json!("ghost");
    assert_error(
        server.post(&path, json!([ghost])).await,
        400,
        "Invalid body param",
        &[r#"recordings[0].role names role "ghost", which does not exist in the template"#],
    );
    let (status, recordings) = server.get(&path).await;
    assert_eq!((status, recordings), (StatusCode::OK, json!([])));

    let (status, recordings) = server.post(&path, json!([config.clone()])).await;
    assert_eq!((status, recordings), (StatusCode::OK, json!([config.clone()])));
    let (status, recordings) = server.get(&path).await;
    assert_eq!((status, recordings), (StatusCode::OK, json!([config.clone()])));

    // Refused later updates keep the stored config.
    assert_error(
        server.post(&path, json!([config.clone(), config.clone()])).await,
        400,
        "Invalid body param",
        &["recordings must hold exactly one recording config, not 2"],
    );
    let (status, recordings) = server.get(&path).await;
    assert_eq!((status, recordings), (StatusCode::OK, json!([config])));

    // The documented quirk: `false` booleans are dropped, their objects stay.
    let (status, recordings) = server
        .post(
            &path,
            json!([{
                "name": "tracks",
                "role": "guest",
                "trackRecording": {"enabled": false},
                "compositeRecording": {"customComposite": {"enabled": false}}
            }]),
        )
        .await;
    let stored = json!([{
        "name": "tracks",
        "role": "guest",
        "trackRecording": {},
        "compositeRecording": {"customComposite": {}}
    }]);
    assert_eq!((status, recordings), (StatusCode::OK, stored.clone()));
    let (status, recordings) = server.get(&path).await;
    assert_eq!((status, recordings), (StatusCode::OK, stored));
}

// ---------------------------------------------------------------------------------------
// Effects on rooms
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn rooms_show_the_template_name_and_follow_its_recording_switch() {
    let server = TestServer::start();
    let template = create(&server, json!({"name": "lecture", "roles": {"host": {}}})).await;
    let id = str_of(&template, "id");

    let (status, inheriting) = server
        .post("/v2/rooms", json!({"name": "inheriting", "template_id": id}))
        .await;
    assert_eq!(status, StatusCode::OK, "{inheriting:#}");
    assert_eq!(inheriting["template"], "lecture");
    assert_eq!(inheriting["template_id"], id);
    assert_eq!(inheriting["customer_id"], template["customerId"]);
    assert_eq!(inheriting["recording_info"], json!({"enabled": false}));
    assert_eq!(inheriting["recording_source_template"], true);

    let (status, own) = server
        .post(
            "/v2/rooms",
            json!({"name": "own", "template_id": id, "recording_info": {"enabled": false}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{own:#}");
    assert_eq!(own["template"], "lecture");
    assert_eq!(own["recording_info"], json!({"enabled": false}));
    assert_eq!(own["recording_source_template"], false);

    let inheriting_path = format!("/v2/rooms/{}", str_of(&inheriting, "id"));
    let own_path = format!("/v2/rooms/{}", str_of(&own, "id"));

    // Switch the template's recording on: only the inheriting room follows.
    let (status, settings) = server
        .post(
            &format!("/v2/templates/{id}/settings"),
            json!({"region": "auto", "recording": {"enabled": true}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{settings:#}");
    let (status, fetched) = server.get(&inheriting_path).await;
    assert_eq!(status, StatusCode::OK, "{fetched:#}");
    assert_eq!(fetched["recording_info"], json!({"enabled": true}));
    assert_eq!(fetched["recording_source_template"], true);
    assert_eq!(fetched["template"], "lecture");
    let (status, fetched) = server.get(&own_path).await;
    assert_eq!(status, StatusCode::OK, "{fetched:#}");
    assert_eq!(fetched["recording_info"], json!({"enabled": false}));

    // A room created now starts with the template's switch.
    let (status, later) = server
        .post("/v2/rooms", json!({"name": "later", "template_id": id}))
        .await;
    assert_eq!(status, StatusCode::OK, "{later:#}");
    assert_eq!(later["recording_info"], json!({"enabled": true}));

    // And back off.
    let (status, _) = server
        .post(
            &format!("/v2/templates/{id}/settings"),
            json!({"region": "auto", "recording": {"enabled": false}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, fetched) = server.get(&inheriting_path).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetched["recording_info"], json!({"enabled": false}));

    // `template` is the template's current name.
    let mut renamed = fetch(&server, id).await;
    renamed["name"] = json!("lecture-2");
    let (status, body) = server.post(&format!("/v2/templates/{id}"), renamed).await;
    assert_eq!(status, StatusCode::OK, "{body:#}");
    let (status, fetched) = server.get(&inheriting_path).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetched["template"], "lecture-2");
    assert_eq!(fetched["template_id"], id);

    // Without template_id a room gets the default template.
    let (status, default_room) = server.post("/v2/rooms", json!({"name": "plain"})).await;
    assert_eq!(status, StatusCode::OK, "{default_room:#}");
    assert_eq!(default_room["template"], "conferencing");
}
