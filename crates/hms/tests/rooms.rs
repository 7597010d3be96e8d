//! `/v2/rooms` against the real server: create (and upsert by name), retrieve, list with
//! every filter and pagination, update of every field, enable/disable, and every
//! validation error with its exact envelope. A refused request must change nothing.

mod common;

use common::{TestServer, envelope, id_of, is_object_id, is_uuid_v4, page_ids, room_field_edits, timestamp_millis};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn create(server: &TestServer, body: Value) -> Value {
    let (status, room) = server.post("/v2/rooms", body.clone()).await;
    assert_eq!(status, StatusCode::OK, "create {body}: {room}");
    room
}

async fn fetch(server: &TestServer, id: &str) -> Value {
    let (status, room) = server.get(&format!("/v2/rooms/{id}")).await;
    assert_eq!(status, StatusCode::OK, "retrieve {id}: {room}");
    room
}

async fn update(server: &TestServer, id: &str, body: Value) -> Value {
    let (status, room) = server.post(&format!("/v2/rooms/{id}"), body.clone()).await;
    assert_eq!(status, StatusCode::OK, "update {id} with {body}: {room}");
    room
}

async fn list(server: &TestServer, query: &str) -> Value {
    server.get_ok(&format!("/v2/rooms{query}")).await
}

fn str_of<'a>(room: &'a Value, field: &str) -> &'a str {
    room[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} is no string in {room}"))
}

/// The default template's id, found by its name `conferencing`.
async fn default_template_id(server: &TestServer) -> String {
    let (status, page) = server.get("/v2/templates").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let found: Vec<&Value> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["name"] == "conferencing")
        .collect();
    assert_eq!(found.len(), 1, "one conferencing template in {page}");
    found[0]["id"].as_str().unwrap().to_owned()
}

async fn create_template(server: &TestServer, name: &str) -> String {
    let (status, template) = server.post("/v2/templates", json!({ "name": name })).await;
    assert_eq!(status, StatusCode::OK, "{template}");
    template["id"].as_str().unwrap().to_owned()
}

/// Checks the server-generated fields of a fresh room, and that it was created and
/// updated at the same moment.
fn check_generated(room: &Value) {
    assert!(is_object_id(str_of(room, "id")), "id of {room}");
    assert!(is_object_id(str_of(room, "customer_id")), "customer_id of {room}");
    assert_eq!(room["customer"], room["customer_id"], "{room}");
    assert!(is_object_id(str_of(room, "app_id")), "app_id of {room}");
    let created = timestamp_millis(str_of(room, "created_at"));
    assert!(created.is_some(), "created_at of {room}");
    assert_eq!(room["created_at"], room["updated_at"], "{room}");
    let now_millis = common::now_secs() * 1000;
    assert!(
        (created.unwrap() - now_millis).abs() < 60_000,
        "created_at is now: {room}"
    );
}

/// The room every field of which the create test sets.
fn full_body(name: &str) -> Value {
    json!({
        "name": name,
        "description": "All the fields",
        "recording_info": {
            "enabled": true,
            "upload_info": {
                "type": "s3",
                "location": "my-bucket",
                "prefix": "recordings/",
                "options": { "region": "us-east-1" },
                "credentials": { "key": "AKIAKEYVALUE", "secret": "super-secret-value" }
            }
        },
        "region": "eu",
        "large_room": true,
        "size": 5000,
        "max_duration_seconds": 3600,
        "polls": ["631b2654f771854d9bf633d1", "631b2654f771854d9bf633d2"],
        "webhook": {
            "url": "https://hooks.example.com/room",
            "headers": { "x-custom": "value" }
        }
    })
}

#[tokio::test]
async fn create_with_every_field_answers_the_exact_room() {
    let server = TestServer::start();
    let template_id = default_template_id(&server).await;
    let mut body = full_body("Full.room:1_a-b");
    body["template_id"] = json!(template_id);
    let room = create(&server, body).await;
    check_generated(&room);
    let expected = json!({
        "id": room["id"],
        "name": "Full.room:1_a-b",
        "enabled": true,
        "description": "All the fields",
        "customer_id": room["customer_id"],
        "customer": room["customer_id"],
        "app_id": room["app_id"],
        "recording_source_template": false,
        "recording_info": {
            "enabled": true,
            "upload_info": {
                "type": "s3",
                "location": "my-bucket",
                "prefix": "recordings/",
                "options": { "region": "us-east-1" }
            }
        },
        "template_id": template_id,
        "template": "conferencing",
        "region": "eu",
        "large_room": true,
        "size": 5000,
        "max_duration_seconds": 3600,
        "polls": ["631b2654f771854d9bf633d1", "631b2654f771854d9bf633d2"],
        "webhook": {
            "url": "https://hooks.example.com/room",
            "headers": { "x-custom": "value" }
        },
        "created_at": room["created_at"],
        "updated_at": room["created_at"]
    });
    assert_eq!(room, expected);
    let text = room.to_string();
    assert!(
        !text.contains("super-secret-value") && !text.contains("AKIAKEYVALUE"),
        "upload credentials echoed: {text}"
    );

    // The same object through retrieve and list.
    assert_eq!(fetch(&server, &id_of(&room)).await, expected);
    let page = list(&server, "?name=Full.room:1_a-b").await;
    assert_eq!(page, json!({ "limit": 10, "data": [expected], "last": room["id"] }));
    let page = list(&server, "").await;
    assert_eq!(page, json!({ "limit": 10, "data": [expected], "last": room["id"] }));
}

#[tokio::test]
async fn create_with_an_empty_body_generates_a_uuid_name_and_uses_the_default_template() {
    let server = TestServer::start();
    let template_id = default_template_id(&server).await;
    let first = create(&server, json!({})).await;
    check_generated(&first);
    let name = str_of(&first, "name");
    assert!(is_uuid_v4(name), "generated name {name} is a UUID v4");
    let expected = json!({
        "id": first["id"],
        "name": name,
        "enabled": true,
        "description": "",
        "customer_id": first["customer_id"],
        "customer": first["customer_id"],
        "app_id": first["app_id"],
        "recording_source_template": true,
        "recording_info": { "enabled": false },
        "template_id": template_id,
        "template": "conferencing",
        "region": "auto",
        "large_room": false,
        "created_at": first["created_at"],
        "updated_at": first["created_at"]
    });
    assert_eq!(first, expected);

    // An empty body without a content type is `{}` too, and a second room gets another
    // name and id.
    let (status, second) = server.send_raw(Method::POST, "/v2/rooms", None, "").await;
    assert_eq!(status, StatusCode::OK, "{second}");
    check_generated(&second);
    assert!(is_uuid_v4(str_of(&second, "name")), "{second}");
    assert_ne!(second["name"], first["name"]);
    assert_ne!(second["id"], first["id"]);
    assert_eq!(second["template_id"], json!(template_id));
    assert_eq!(
        first["customer_id"], second["customer_id"],
        "one workspace, one customer"
    );
    assert_eq!(first["app_id"], second["app_id"], "one workspace, one app");
}

#[tokio::test]
async fn create_with_an_existing_name_in_any_case_updates_that_room() {
    let server = TestServer::start();
    let original = create(
        &server,
        json!({ "name": "Upsert-Room", "description": "first", "size": 100 }),
    )
    .await;
    let id = id_of(&original);

    let again = create(
        &server,
        json!({ "name": "upsert-ROOM", "description": "second", "region": "in" }),
    )
    .await;
    let mut expected = original.clone();
    expected["name"] = json!("upsert-ROOM");
    expected["description"] = json!("second");
    expected["region"] = json!("in");
    expected["updated_at"] = again["updated_at"].clone();
    assert_eq!(again, expected, "same id, new fields applied, others kept");
    assert!(timestamp_millis(str_of(&again, "updated_at")) >= timestamp_millis(str_of(&original, "updated_at")));
    assert_eq!(fetch(&server, &id).await, expected);

    // Still exactly one room.
    let page = list(&server, "?limit=100").await;
    assert_eq!(page_ids(&page), vec![id.clone()]);
    let page = list(&server, "?enabled=false&limit=100").await;
    assert_eq!(page_ids(&page), Vec::<String>::new());

    // An upsert that would make the room invalid is refused and changes nothing.
    let (status, body) = server
        .post("/v2/rooms", json!({ "name": "UPSERT-room", "size": 3000 }))
        .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            envelope(
                400,
                "Invalid body param",
                &["Invalid body param: room size greater than 2500, set large_room flag as true"]
            )
        )
    );
    assert_eq!(fetch(&server, &id).await, expected);
}

#[tokio::test]
async fn retrieve_by_id_or_by_name_and_404_for_unknown() {
    let server = TestServer::start();
    let room = create(&server, json!({ "name": "Lookup.Me" })).await;
    let id = id_of(&room);
    assert_eq!(fetch(&server, &id).await, room);
    // A value that is no room id is tried as a name, in any case.
    assert_eq!(fetch(&server, "Lookup.Me").await, room);
    assert_eq!(fetch(&server, "lookup.me").await, room);

    // Disabled rooms are still retrievable.
    let disabled = update(&server, &id, json!({ "enabled": false })).await;
    assert_eq!(fetch(&server, &id).await, disabled);
    assert_eq!(fetch(&server, "LOOKUP.ME").await, disabled);

    for unknown in ["000000000000000000000000", "6b043907dae439bee10e3719", "no-such-room"] {
        let (status, body) = server.get(&format!("/v2/rooms/{unknown}")).await;
        assert_eq!(
            (status, body),
            (StatusCode::NOT_FOUND, envelope(404, "Room not found", &[])),
            "GET /v2/rooms/{unknown}"
        );
        let (status, body) = server
            .post(&format!("/v2/rooms/{unknown}"), json!({ "description": "x" }))
            .await;
        assert_eq!(
            (status, body),
            (StatusCode::NOT_FOUND, envelope(404, "Room not found", &[])),
            "POST /v2/rooms/{unknown}"
        );
    }
}

#[tokio::test]
async fn list_filters_by_enabled_name_and_template() {
    let server = TestServer::start();
    let default_template = default_template_id(&server).await;
    let second_template = create_template(&server, "second-template").await;
    let alpha = id_of(&create(&server, json!({ "name": "alpha" })).await);
    let beta = id_of(&create(&server, json!({ "name": "a:b.c_d-e" })).await);
    let gamma = id_of(&create(&server, json!({ "name": "gamma", "template_id": second_template })).await);
    let delta = id_of(&create(&server, json!({ "name": "delta", "template_id": second_template })).await);
    update(&server, &beta, json!({ "enabled": false })).await;
    update(&server, &delta, json!({ "enabled": false })).await;

    let cases: Vec<(String, Vec<&String>)> = vec![
        // Only enabled rooms by default, newest first.
        (String::new(), vec![&gamma, &alpha]),
        ("?enabled=true".into(), vec![&gamma, &alpha]),
        ("?enabled=false".into(), vec![&delta, &beta]),
        // A name lookup finds the room whatever its state (the Node SDK's
        // retrieveByName sends the name alone), in any case, with raw `:` `.` `_` `-`.
        ("?name=a:b.c_d-e".into(), vec![&beta]),
        ("?name=A:B.C_D-E".into(), vec![&beta]),
        ("?name=ALPHA".into(), vec![&alpha]),
        ("?name=alph".into(), vec![]),
        ("?name=nobody".into(), vec![]),
        // An explicit enabled filter still applies next to a name.
        ("?name=a:b.c_d-e&enabled=true".into(), vec![]),
        ("?name=a:b.c_d-e&enabled=false".into(), vec![&beta]),
        ("?name=alpha&enabled=false".into(), vec![]),
        (format!("?template_id={second_template}"), vec![&gamma]),
        (format!("?template_id={second_template}&enabled=false"), vec![&delta]),
        (format!("?template_id={default_template}"), vec![&alpha]),
        (format!("?template_id={default_template}&enabled=false"), vec![&beta]),
        ("?template_id=000000000000000000000000".into(), vec![]),
    ];
    for (query, expected) in cases {
        let page = list(&server, &query).await;
        let expected: Vec<String> = expected.into_iter().cloned().collect();
        assert_eq!(page_ids(&page), expected, "GET /v2/rooms{query}");
        assert_eq!(page["limit"], 10, "{query}");
        assert_eq!(
            page["last"],
            json!(expected.last().cloned().unwrap_or_default()),
            "last of {query}"
        );
        // Every listed room is exactly what retrieve answers.
        for room in page["data"].as_array().unwrap() {
            assert_eq!(*room, fetch(&server, &id_of(room)).await, "{query}");
        }
    }
}

#[tokio::test]
async fn list_filters_by_creation_time() {
    let server = TestServer::start();
    let mut rooms = Vec::new();
    for i in 0..5 {
        rooms.push(create(&server, json!({ "name": format!("timed-{i}") })).await);
    }
    let millis = |room: &Value| timestamp_millis(str_of(room, "created_at")).unwrap();
    let pivot = &rooms[2];
    let pivot_at = str_of(pivot, "created_at").to_owned();
    // Newest first, as the server lists; computed from the answered timestamps so that
    // rooms made in the same millisecond do not matter.
    let newest_first: Vec<&Value> = rooms.iter().rev().collect();
    let after: Vec<String> = newest_first
        .iter()
        .filter(|r| millis(r) >= millis(pivot))
        .map(|r| id_of(r))
        .collect();
    let before: Vec<String> = newest_first
        .iter()
        .filter(|r| millis(r) <= millis(pivot))
        .map(|r| id_of(r))
        .collect();
    let all: Vec<String> = newest_first.iter().map(|r| id_of(r)).collect();
    assert!(after.contains(&id_of(pivot)) && before.contains(&id_of(pivot)));

    assert_eq!(page_ids(&list(&server, &format!("?after={pivot_at}")).await), after);
    assert_eq!(page_ids(&list(&server, &format!("?before={pivot_at}")).await), before);
    assert_eq!(
        page_ids(&list(&server, &format!("?after={pivot_at}&before={pivot_at}")).await),
        after
            .iter()
            .filter(|id| before.contains(id))
            .cloned()
            .collect::<Vec<_>>()
    );
    // The documented `YYYY-MM-DDTHH:mm:ss.sssZ` form.
    assert_eq!(page_ids(&list(&server, "?after=2000-01-01T00:00:00.000Z").await), all);
    assert_eq!(
        page_ids(&list(&server, "?before=2000-01-01T00:00:00.000Z").await),
        Vec::<String>::new()
    );
    assert_eq!(
        page_ids(&list(&server, "?after=2999-01-01T00:00:00.000Z").await),
        Vec::<String>::new()
    );
    assert_eq!(page_ids(&list(&server, "?before=2999-01-01T00:00:00.000Z").await), all);
}

#[tokio::test]
async fn list_clamps_the_limit_and_refuses_bad_query_values() {
    let server = TestServer::start();
    for i in 0..12 {
        create(&server, json!({ "name": format!("room-{i:02}") })).await;
    }
    for (query, limit, count) in [
        ("", 10, 10),
        ("?limit=5", 10, 10),
        ("?limit=0", 10, 10),
        ("?limit=10", 10, 10),
        ("?limit=11", 11, 11),
        ("?limit=100", 100, 12),
        ("?limit=500", 100, 12),
    ] {
        let page = list(&server, query).await;
        assert_eq!(page["limit"], limit, "limit of GET /v2/rooms{query}");
        assert_eq!(page_ids(&page).len(), count, "rooms of GET /v2/rooms{query}");
    }
    for (query, parameter) in [
        ("?limit=abc", "limit"),
        ("?limit=-1", "limit"),
        ("?enabled=yes", "enabled"),
        ("?after=yesterday", "after"),
        ("?before=2024-13-45", "before"),
    ] {
        let (status, body) = server.get(&format!("/v2/rooms{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_eq!(body["code"], 400, "{query}: {body}");
        assert_eq!(body["message"], "Invalid query parameter", "{query}: {body}");
        let details = body["details"].as_array().expect("details");
        assert_eq!(details.len(), 1, "{query}: {body}");
        assert!(
            details[0].as_str().unwrap().starts_with(&format!("{parameter}: ")),
            "the detail names {parameter}: {body}"
        );
    }
    assert_eq!(
        server.get("/v2/rooms?limit=abc").await.1,
        envelope(
            400,
            "Invalid query parameter",
            &["limit: invalid digit found in string"]
        )
    );
}

/// Follows `last` as `start` until a short page, as the Node SDK does.
async fn walk(server: &TestServer, between_pages: &mut Vec<String>, make_more: bool) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut start: Option<String> = None;
    loop {
        let query = match &start {
            Some(start) => format!("?limit=10&start={start}"),
            None => "?limit=10".to_owned(),
        };
        let page = list(server, &query).await;
        let page_ids = page_ids(&page);
        assert_eq!(page["limit"], 10, "{query}");
        assert_eq!(
            page["last"],
            json!(page_ids.last().cloned().unwrap_or_default()),
            "last is the id of the last room of {query}"
        );
        let short = page_ids.len() < 10;
        start = page_ids.last().cloned();
        pages.push(page_ids);
        if short {
            return pages;
        }
        if make_more {
            for _ in 0..3 {
                between_pages.push(id_of(&create(server, json!({})).await));
            }
        }
    }
}

#[tokio::test]
async fn pagination_walks_every_room_newest_first_without_repeats_or_gaps() {
    let server = TestServer::start();
    let mut created = Vec::new();
    for i in 0..35 {
        created.push(id_of(
            &create(&server, json!({ "name": format!("paged-{i:02}") })).await,
        ));
    }
    let newest_first: Vec<String> = created.iter().rev().cloned().collect();

    let pages = walk(&server, &mut Vec::new(), false).await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), vec![10, 10, 10, 5]);
    assert_eq!(pages.concat(), newest_first);

    // Past the end: an empty page with an empty `last`.
    let page = list(&server, &format!("?limit=10&start={}", created[0])).await;
    assert_eq!(page, json!({ "limit": 10, "data": [], "last": "" }));

    // A bigger page size gives the same order.
    let page = list(&server, "?limit=100").await;
    assert_eq!(page_ids(&page), newest_first);
    assert_eq!(page["last"], json!(created[0]));
    let page = list(&server, &format!("?limit=20&start={}", newest_first[4])).await;
    assert_eq!(page_ids(&page), newest_first[5..25].to_vec());
}

#[tokio::test]
async fn pagination_never_repeats_or_skips_while_rooms_are_created() {
    let server = TestServer::start();
    let mut created = Vec::new();
    for i in 0..35 {
        created.push(id_of(
            &create(&server, json!({ "name": format!("stable-{i:02}") })).await,
        ));
    }
    let mut newcomers = Vec::new();
    let pages = walk(&server, &mut newcomers, true).await;
    let seen = pages.concat();
    let newest_first: Vec<String> = created.iter().rev().cloned().collect();
    assert_eq!(
        seen, newest_first,
        "the walk shows every room that existed when it began, once, in order"
    );
    assert_eq!(newcomers.len(), 9, "three rooms after each of three full pages");

    // A new walk sees everything, newcomers first.
    let pages = walk(&server, &mut Vec::new(), false).await;
    let mut all: Vec<String> = newcomers.iter().rev().cloned().collect();
    all.extend(newest_first);
    assert_eq!(pages.concat(), all);
}

#[tokio::test]
async fn update_changes_each_field_and_keeps_the_others() {
    let server = TestServer::start();
    let second_template = create_template(&server, "other-template").await;
    let mut expected = create(&server, json!({ "name": "updatable" })).await;
    let id = id_of(&expected);
    let created_at = expected["created_at"].clone();

    let steps: Vec<(Value, Value)> = vec![
        (json!({ "name": "Renamed.Room" }), json!({ "name": "Renamed.Room" })),
        (
            json!({ "description": "new description" }),
            json!({ "description": "new description" }),
        ),
        (json!({ "region": "us" }), json!({ "region": "us" })),
        (json!({ "large_room": true }), json!({ "large_room": true })),
        (json!({ "size": 15000 }), json!({ "size": 15000 })),
        (
            json!({ "max_duration_seconds": 120 }),
            json!({ "max_duration_seconds": 120 }),
        ),
        (
            json!({ "max_duration_seconds": 43200 }),
            json!({ "max_duration_seconds": 43200 }),
        ),
        (json!({ "polls": ["p-1", "p-2"] }), json!({ "polls": ["p-1", "p-2"] })),
        (
            json!({ "webhook": { "url": "http://127.0.0.1:9/hook", "headers": { "a": "b" } } }),
            json!({ "webhook": { "url": "http://127.0.0.1:9/hook", "headers": { "a": "b" } } }),
        ),
        (
            json!({ "recording_info": { "enabled": true } }),
            json!({ "recording_info": { "enabled": true }, "recording_source_template": false }),
        ),
        (
            json!({ "recording_info": { "enabled": false, "upload_info": {
                "type": "gs", "location": "bucket-2",
                "credentials": { "key": "k2", "secret": "hidden-secret-2" } } } }),
            json!({ "recording_info": { "enabled": false, "upload_info": {
                "type": "gs", "location": "bucket-2" } } }),
        ),
        (
            json!({ "template_id": second_template }),
            json!({ "template_id": second_template, "template": "other-template" }),
        ),
        (json!({ "enabled": false }), json!({ "enabled": false })),
        (json!({ "enabled": true }), json!({ "enabled": true })),
        // Several at once, and an empty update that changes nothing but `updated_at`.
        (
            json!({ "region": "auto", "description": "", "large_room": false, "size": 2500 }),
            json!({ "region": "auto", "description": "", "large_room": false, "size": 2500 }),
        ),
        (json!({}), json!({})),
    ];
    for (body, changes) in steps {
        let previous_update = timestamp_millis(str_of(&expected, "updated_at")).unwrap();
        let room = update(&server, &id, body.clone()).await;
        for (field, value) in changes.as_object().unwrap() {
            expected[field] = value.clone();
        }
        expected["updated_at"] = room["updated_at"].clone();
        assert_eq!(room, expected, "after update {body}");
        assert_eq!(room["created_at"], created_at, "{body}");
        let updated = timestamp_millis(str_of(&room, "updated_at")).expect("updated_at");
        assert!(updated >= previous_update, "updated_at moves forward: {body}");
        assert_eq!(fetch(&server, &id).await, expected, "retrieve after {body}");
    }
    assert!(!fetch(&server, &id).await.to_string().contains("hidden-secret-2"));
}

#[tokio::test]
async fn renaming_onto_another_rooms_name_is_refused() {
    let server = TestServer::start();
    let taken = create(&server, json!({ "name": "taken-name" })).await;
    let mover = create(&server, json!({ "name": "mover" })).await;
    let mover_id = id_of(&mover);
    for name in ["taken-name", "TAKEN-NAME"] {
        let (status, body) = server
            .post(
                &format!("/v2/rooms/{mover_id}"),
                json!({ "name": name, "description": "x" }),
            )
            .await;
        assert_eq!(
            (status, body),
            (
                StatusCode::BAD_REQUEST,
                envelope(
                    400,
                    "Invalid body param",
                    &[&format!("a room named {name} already exists")]
                )
            ),
            "rename to {name}"
        );
        assert_eq!(fetch(&server, &mover_id).await, mover, "nothing changed");
        assert_eq!(fetch(&server, &id_of(&taken)).await, taken);
    }
    // Renaming a room onto its own name in another case is fine.
    let renamed = update(&server, &mover_id, json!({ "name": "MOVER" })).await;
    assert_eq!(renamed["name"], "MOVER");
    assert_eq!(renamed["id"], mover["id"]);
    // A disabled room keeps its name reserved.
    update(&server, &id_of(&taken), json!({ "enabled": false })).await;
    let (status, _) = server
        .post(&format!("/v2/rooms/{mover_id}"), json!({ "name": "Taken-Name" }))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn enable_and_disable() {
    let server = TestServer::start();
    let room = create(&server, json!({ "name": "switch" })).await;
    let id = id_of(&room);
    let disabled = update(&server, &id, json!({ "enabled": false })).await;
    let mut expected = room.clone();
    expected["enabled"] = json!(false);
    expected["updated_at"] = disabled["updated_at"].clone();
    assert_eq!(disabled, expected);
    assert_eq!(page_ids(&list(&server, "").await), Vec::<String>::new());
    assert_eq!(page_ids(&list(&server, "?enabled=false").await), vec![id.clone()]);
    // Disabling twice is harmless.
    let again = update(&server, &id, json!({ "enabled": false })).await;
    assert_eq!(again["enabled"], false);

    let enabled = update(&server, &id, json!({ "enabled": true })).await;
    expected["enabled"] = json!(true);
    expected["updated_at"] = enabled["updated_at"].clone();
    assert_eq!(enabled, expected);
    assert_eq!(page_ids(&list(&server, "").await), vec![id.clone()]);
    assert_eq!(page_ids(&list(&server, "?enabled=false").await), Vec::<String>::new());

    // A room can be created disabled.
    let off = create(&server, json!({ "name": "born-off", "enabled": false })).await;
    assert_eq!(off["enabled"], false);
    assert_eq!(page_ids(&list(&server, "?enabled=false").await), vec![id_of(&off)]);
}

/// Bodies every create and update refuses, with the exact envelope.
fn invalid_bodies() -> Vec<(Value, Value)> {
    let body_param = |detail: &str| envelope(400, "Invalid body param", &[detail]);
    let room_size = |size: u64, large_room: Option<bool>| {
        let mut body = json!({ "size": size });
        if let Some(large_room) = large_room {
            body["large_room"] = json!(large_room);
        }
        body
    };
    let bad_name = "name must be 1 to 200 characters of a-z, A-Z, 0-9, '.', '-', ':' and '_'";
    let bad_webhook = "webhook.url must be an absolute http or https URL";
    let bad_upload = envelope(
        400,
        "Invalid upload configuration",
        &["upload_info.type must be one of s3, gs, oss, azure and credentials need both key and secret"],
    );
    let no_bucket = envelope(400, "Bucket location is missing", &[]);
    let bad_region = envelope(
        400,
        "Error: region not supported",
        &["region must be one of in, us, eu, auto"],
    );
    let over_2500 = body_param("Invalid body param: room size greater than 2500, set large_room flag as true");

    let mut cases = vec![
        (
            room_size(20001, Some(true)),
            body_param("Invalid body param: room size greater than 20000"),
        ),
        (room_size(2501, None), over_2500.clone()),
        (room_size(2501, Some(false)), over_2500),
        (
            json!({ "max_duration_seconds": 119 }),
            envelope(
                400,
                "Invalid body param: max_duration_seconds less than 120 seconds",
                &[],
            ),
        ),
        (
            json!({ "max_duration_seconds": 43201 }),
            envelope(
                400,
                "Invalid body param: max_duration_seconds greater than 43200 seconds",
                &[],
            ),
        ),
        (json!({ "region": "mars" }), bad_region.clone()),
        (json!({ "region": "EU" }), bad_region),
        (
            json!({ "template_id": "000000000000000000000000" }),
            envelope(400, "Error: template not found", &[]),
        ),
        (
            json!({ "template": "conferencing" }),
            envelope(400, "Invalid body param: template. Use template_id", &[]),
        ),
        (
            json!({ "description": "d".repeat(2001) }),
            body_param("description is longer than 2000 characters"),
        ),
        (
            json!({ "recording_info": { "enabled": true, "upload_info": { "type": "s3" } } }),
            no_bucket.clone(),
        ),
        (
            json!({ "recording_info": { "upload_info": { "type": "s3", "location": "  " } } }),
            no_bucket,
        ),
    ];
    let long_name = "n".repeat(201);
    for name in ["has space", "slash/name", "émoji", "", long_name.as_str()] {
        cases.push((json!({ "name": name }), body_param(bad_name)));
    }
    for url in ["not a url", "ftp://files.example.com/x", "/relative/path"] {
        cases.push((json!({ "webhook": { "url": url } }), body_param(bad_webhook)));
    }
    for upload_info in [
        json!({ "type": "dropbox", "location": "b" }),
        json!({ "location": "b" }),
        json!({ "type": "s3", "location": "b", "credentials": { "key": "", "secret": "s" } }),
    ] {
        cases.push((
            json!({ "recording_info": { "upload_info": upload_info } }),
            bad_upload.clone(),
        ));
    }
    cases
}

/// Ids of every room, enabled or not.
async fn all_rooms(server: &TestServer) -> Vec<String> {
    let mut all = page_ids(&list(server, "?limit=100").await);
    all.extend(page_ids(&list(server, "?limit=100&enabled=false").await));
    all
}

#[tokio::test]
async fn create_refuses_every_invalid_body_and_creates_nothing() {
    let server = TestServer::start();
    let existing = create(&server, json!({ "name": "existing" })).await;
    for (body, expected) in invalid_bodies() {
        let (status, answer) = server.post("/v2/rooms", body.clone()).await;
        assert_eq!(
            (status, answer),
            (StatusCode::BAD_REQUEST, expected.clone()),
            "POST /v2/rooms {body}"
        );
        // Also as an upsert of the existing room, when the body names no other room.
        if body.get("name").is_none() {
            let mut upsert = body.clone();
            upsert["name"] = json!("EXISTING");
            let (status, answer) = server.post("/v2/rooms", upsert.clone()).await;
            assert_eq!(
                (status, answer),
                (StatusCode::BAD_REQUEST, expected),
                "POST /v2/rooms {upsert}"
            );
        }
    }
    assert_eq!(all_rooms(&server).await, vec![id_of(&existing)]);
    assert_eq!(fetch(&server, &id_of(&existing)).await, existing);

    // The documented limits themselves are accepted.
    for body in [
        json!({ "size": 2500 }),
        json!({ "size": 20000, "large_room": true }),
        json!({ "size": 0 }),
        json!({ "max_duration_seconds": 120 }),
        json!({ "max_duration_seconds": 43200 }),
        json!({ "region": "in" }),
        json!({ "region": "us" }),
        json!({ "region": "eu" }),
        json!({ "region": "auto" }),
        json!({ "name": "n".repeat(200) }),
        json!({ "recording_info": { "upload_info": { "type": "azure", "location": "c" } } }),
        json!({ "recording_info": { "upload_info": { "type": "oss", "location": "c" } } }),
    ] {
        create(&server, body).await;
    }
}

/// Updates of different fields of one room, sent at once: each is acknowledged, so none
/// may undo another by writing back what it read before the other committed.
#[tokio::test]
async fn concurrent_updates_of_different_fields_all_take_effect() {
    let server = std::sync::Arc::new(TestServer::start());
    let changes = room_field_edits();
    for attempt in 0..4 {
        let id = create(&server, json!({"name": format!("busy-{attempt}")})).await["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let updates: Vec<_> = changes
            .iter()
            .map(|change| {
                let (server, id, change) = (server.clone(), id.clone(), change.clone());
                tokio::spawn(async move { update(&server, &id, change).await })
            })
            .collect();
        for update in updates {
            update.await.expect("the update finishes");
        }
        let stored = fetch(&server, &id).await;
        for change in &changes {
            let (field, value) = change.as_object().unwrap().iter().next().unwrap();
            assert_eq!(&stored[field], value, "the update of {field} was lost: {stored}");
        }
    }
}

#[tokio::test]
async fn refused_updates_change_nothing() {
    let server = TestServer::start();
    let other = create(&server, json!({ "name": "other-room" })).await;
    let mut body = full_body("target-room");
    body["recording_info"]["upload_info"]["credentials"] = json!({ "key": "k", "secret": "s" });
    let room = create(&server, body).await;
    let id = id_of(&room);
    let path = format!("/v2/rooms/{id}");

    // `{"size": 2501}` alone is fine for this large room.
    let mut cases: Vec<(Value, Value)> = invalid_bodies()
        .into_iter()
        .filter(|(body, _)| *body != json!({ "size": 2501 }))
        .collect();
    cases.push((
        json!({ "name": "OTHER-room" }),
        envelope(400, "Invalid body param", &["a room named OTHER-room already exists"]),
    ));
    // The room is large with 5000 seats: dropping the flag alone is refused.
    cases.push((
        json!({ "large_room": false, "description": "changed" }),
        envelope(
            400,
            "Invalid body param",
            &["Invalid body param: room size greater than 2500, set large_room flag as true"],
        ),
    ));
    for (body, expected) in cases {
        // A valid change next to the invalid one must not be applied either.
        let mut body = body;
        if body.get("description").is_none() {
            body["description"] = json!("must not stick");
        }
        let (status, answer) = server.post(&path, body.clone()).await;
        assert_eq!(
            (status, answer),
            (StatusCode::BAD_REQUEST, expected),
            "POST {path} {body}"
        );
        assert_eq!(fetch(&server, &id).await, room, "unchanged after {body}");
    }

    for (raw, field) in [
        (r#"{"enabled":"yes"}"#, "enabled"),
        (r#"{"size":-1}"#, "size"),
        (r#"{"size":"big"}"#, "size"),
        (r#"{"name":5}"#, "name"),
        (r#"{"polls":"p1"}"#, "polls"),
        (r#"{"large_room":1}"#, "large_room"),
        (r#"{"recording_info":{"enabled":"no"}}"#, "recording_info.enabled"),
        (
            r#"{"webhook":{"url":"http://x.example","headers":{"a":1}}}"#,
            "webhook.headers.a",
        ),
    ] {
        let (status, answer) = server
            .send_raw(Method::POST, &path, Some("application/json"), raw)
            .await;
        check_names_field(status, &answer, field, raw);
        assert_eq!(fetch(&server, &id).await, room, "unchanged after {raw}");
    }
    for raw in ["{", "not json", r#"{"description":"x"} trailing"#, "null", "\"text\""] {
        let (status, answer) = server
            .send_raw(Method::POST, &path, Some("application/json"), raw)
            .await;
        check_bad_json(status, &answer, raw);
        assert_eq!(fetch(&server, &id).await, room, "unchanged after {raw}");
    }
    let huge = format!(r#"{{"description":"{}"}}"#, "x".repeat(1024 * 1024 + 10));
    let (status, answer) = server
        .send_raw(Method::POST, &path, Some("application/json"), huge)
        .await;
    assert_eq!(
        (status, answer),
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            envelope(
                413,
                "Request body too large",
                &["the body may hold at most 1048576 bytes"]
            )
        )
    );
    assert_eq!(fetch(&server, &id).await, room, "unchanged after a huge body");
    assert_eq!(fetch(&server, &id_of(&other)).await, other);
}

/// A 400 `Invalid body param` whose only detail names `field`.
fn check_names_field(status: StatusCode, answer: &Value, field: &str, request: &str) {
    assert_eq!(status, StatusCode::BAD_REQUEST, "{request}: {answer}");
    assert_eq!(answer["code"], 400, "{request}: {answer}");
    assert_eq!(answer["message"], "Invalid body param", "{request}: {answer}");
    let details = answer["details"].as_array().expect("details");
    assert_eq!(details.len(), 1, "{request}: {answer}");
    assert!(
        details[0].as_str().unwrap().starts_with(&format!("{field}: ")),
        "the detail of {request} names {field}: {answer}"
    );
    assert_eq!(answer.as_object().unwrap().len(), 3, "{answer}");
}

/// A 400 `Invalid body param` envelope with one detail.
fn check_bad_json(status: StatusCode, answer: &Value, request: &str) {
    assert_eq!(status, StatusCode::BAD_REQUEST, "{request}: {answer}");
    assert_eq!(answer["code"], 400, "{request}: {answer}");
    assert_eq!(answer["message"], "Invalid body param", "{request}: {answer}");
    let details = answer["details"].as_array().expect("details");
    assert_eq!(details.len(), 1, "{request}: {answer}");
    assert!(details[0].is_string(), "{answer}");
    assert_eq!(answer.as_object().unwrap().len(), 3, "{answer}");
}

#[tokio::test]
async fn create_refuses_wrong_types_malformed_json_and_huge_bodies() {
    let server = TestServer::start();
    let (status, answer) = server
        .send_raw(
            Method::POST,
            "/v2/rooms",
            Some("application/json"),
            r#"{"enabled":"yes"}"#,
        )
        .await;
    assert_eq!(
        (status, answer),
        (
            StatusCode::BAD_REQUEST,
            envelope(
                400,
                "Invalid body param",
                &["enabled: invalid type: string \"yes\", expected a boolean at line 1 column 16"]
            )
        )
    );
    for (raw, field) in [
        (r#"{"size":20000.5}"#, "size"),
        (r#"{"max_duration_seconds":"3600"}"#, "max_duration_seconds"),
        (r#"{"description":["a"]}"#, "description"),
        (r#"{"region":1}"#, "region"),
        (r#"{"template_id":{}}"#, "template_id"),
    ] {
        let (status, answer) = server
            .send_raw(Method::POST, "/v2/rooms", Some("application/json"), raw)
            .await;
        check_names_field(status, &answer, field, raw);
    }
    for raw in ["{", "{\"name\":", "name=x", r#"{"a":1}{"b":2}"#, "17"] {
        let (status, answer) = server
            .send_raw(Method::POST, "/v2/rooms", Some("application/json"), raw)
            .await;
        check_bad_json(status, &answer, raw);
    }
    let huge = vec![b' '; 1024 * 1024 + 1];
    let (status, answer) = server
        .send_raw(Method::POST, "/v2/rooms", Some("application/json"), huge)
        .await;
    assert_eq!(
        (status, answer),
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            envelope(
                413,
                "Request body too large",
                &["the body may hold at most 1048576 bytes"]
            )
        )
    );
    assert_eq!(all_rooms(&server).await, Vec::<String>::new());
}

/// A room body is a JSON object: an array (which serde could read as a struct's fields
/// in order) is malformed input, and must neither create nor touch a room.
#[tokio::test]
async fn a_json_array_is_no_room_body() {
    let server = TestServer::start();
    let room = create(&server, json!({ "name": "array-target" })).await;
    let path = format!("/v2/rooms/{}", id_of(&room));
    for raw in ["[]", r#"["array-name"]"#] {
        let (status, answer) = server
            .send_raw(Method::POST, "/v2/rooms", Some("application/json"), raw)
            .await;
        check_bad_json(status, &answer, &format!("POST /v2/rooms {raw}"));
        let (status, answer) = server
            .send_raw(Method::POST, &path, Some("application/json"), raw)
            .await;
        check_bad_json(status, &answer, &format!("POST {path} {raw}"));
        assert_eq!(fetch(&server, &id_of(&room)).await, room, "unchanged after {raw}");
    }
    assert_eq!(all_rooms(&server).await, vec![id_of(&room)]);
}

/// PostgreSQL cannot store U+0000 in text, so neither backend accepts it: in a body, the
/// URL's path or its query, it is a 400 naming where, and nothing changes.
#[tokio::test]
async fn text_with_a_nul_character_is_refused_and_changes_nothing() {
    const NUL_REFUSED: &str = "text must not contain the NUL character (U+0000)";
    let server = TestServer::start();
    let room = create(&server, json!({ "name": "nul-test", "description": "kept" })).await;
    let id = id_of(&room);
    let refused_bodies = [
        ("/v2/rooms".to_owned(), json!({ "name": "a\u{0}b" }), "name"),
        (
            format!("/v2/rooms/{id}"),
            json!({ "description": "x\u{0}" }),
            "description",
        ),
        (
            "/v2/templates".to_owned(),
            json!({ "name": "t", "roles": { "host": { "name": "\u{0}" } } }),
            "roles.host.name",
        ),
    ];
    for (path, body, field) in refused_bodies {
        let (status, answer) = server.post(&path, body.clone()).await;
        let detail = format!("{field}: {NUL_REFUSED}");
        assert_eq!(
            (status, answer),
            (StatusCode::BAD_REQUEST, envelope(400, "Invalid body param", &[&detail])),
            "POST {path} {body}"
        );
    }
    let url_detail = format!("the URL: {NUL_REFUSED}");
    for path in [
        "/v2/rooms/%00",
        "/v2/rooms/ab%00cd",
        "/v2/rooms?name=a%00",
        "/v2/rooms?limit=1&start=%00",
    ] {
        let (status, answer) = server.get(path).await;
        assert_eq!(
            (status, answer),
            (
                StatusCode::BAD_REQUEST,
                envelope(400, "Invalid request", &[&url_detail])
            ),
            "GET {path}"
        );
    }
    assert_eq!(fetch(&server, &id).await, room, "the refused update changed nothing");
    assert_eq!(
        page_ids(&list(&server, "?limit=100").await),
        vec![id.clone()],
        "no room was created"
    );

    // A backslash followed by `u0000` is ordinary text.
    let literal = create(&server, json!({ "name": "literal", "description": "back\\u0000slash" })).await;
    assert_eq!(literal["description"], "back\\u0000slash");
    assert_eq!(fetch(&server, &id_of(&literal)).await, literal);
}
