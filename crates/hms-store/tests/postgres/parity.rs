//! One script of calls covering every method of `Store`, run on a SQLite store and on a
//! PostgreSQL store: both must answer the same, call for call.

use std::sync::atomic::{AtomicU64, Ordering};

use hms_store::*;
use hms_types::active_room::Track;
use hms_types::room::RoomFilter;
use hms_types::room_code::RoomCodeFilter;
use hms_types::session::SessionFilter;
use hms_types::simulate::Delivery;
use hms_types::{PreciseTime, Timestamp};

use super::{TEMPLATE, TestDatabase, WORKSPACE, new_workspace, room, secret};

const T0_MILLIS: i64 = 1_700_000_000_000;

fn at(offset_ms: i64) -> Timestamp {
    Timestamp::from_unix_millis(T0_MILLIS + offset_ms)
}

fn precise_at(offset_ms: i64) -> PreciseTime {
    PreciseTime::from_unix_nanos(i128::from(T0_MILLIS + offset_ms) * 1_000_000 + 123)
}

/// A claim at `now` of up to ten deliveries (ten of one endpoint), leased until `lease_until`.
fn claim_at(now: i64, lease_until: i64, busy_urls: &[String]) -> DeliveryClaim<'_> {
    DeliveryClaim {
        now: precise_at(now),
        lease_until: precise_at(lease_until),
        limit: 10,
        per_url: 10,
        busy_urls,
    }
}

fn page(limit: u32, start: Option<&str>) -> PageRequest {
    PageRequest {
        limit,
        start: start.map(str::to_owned),
    }
}

/// What each call answered, in order, to compare between the stores.
#[derive(Default)]
struct Transcript(Vec<String>);

impl Transcript {
    fn note(&mut self, step: &str, answer: impl std::fmt::Debug) {
        self.0.push(format!("{step}: {answer:?}"));
    }
}

#[tokio::test]
#[ignore = "needs PostgreSQL (HMS_TEST_POSTGRES_URL)"]
async fn postgres_answers_like_sqlite() {
    let db = TestDatabase::create().await;
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteStore::open(dir.path(), Durability::Process).await.unwrap();
    let postgres = db.stores(1).await;
    let expected = script(&sqlite).await;
    let actual = script(postgres[0].as_ref()).await;
    for (expected, actual) in expected.0.iter().zip(&actual.0) {
        assert_eq!(actual, expected);
    }
    assert_eq!(actual.0.len(), expected.0.len());
    sqlite.close().await;
    db.remove(postgres).await;
}

async fn script(store: &dyn Store) -> Transcript {
    let mut transcript = Transcript::default();
    workspaces(store, &mut transcript).await;
    templates(store, &mut transcript).await;
    rooms(store, &mut transcript).await;
    room_codes(store, &mut transcript).await;
    live(store, &mut transcript).await;
    webhooks(store, &mut transcript).await;
    idempotency_keys(store, &mut transcript).await;
    transcript
}

async fn idempotency_keys(store: &dyn Store, t: &mut Transcript) {
    let claim = |key: &str, claim: &str, fingerprint: &str, now_ms: i64| IdempotencyClaim {
        workspace_id: WORKSPACE.into(),
        key: key.into(),
        fingerprint: fingerprint.into(),
        claim: claim.into(),
        now: at(now_ms),
        locked_until: at(now_ms + 10),
        expires_at: at(now_ms + 100),
    };
    let response = StoredResponse {
        status: 201,
        content_type: Some("application/json".into()),
        body: b"{\"id\":\"room-1\"}".to_vec(),
    };
    t.note("claim", store.claim_idempotency_key(&claim("k1", "c1", "f1", 0)).await);
    t.note(
        "running",
        store.claim_idempotency_key(&claim("k1", "c2", "f2", 1)).await,
    );
    t.note(
        "finish by another claim",
        store.finish_idempotency_key(WORKSPACE, "k1", "c2", &response).await,
    );
    t.note(
        "finish",
        store.finish_idempotency_key(WORKSPACE, "k1", "c1", &response).await,
    );
    t.note(
        "finished",
        store.claim_idempotency_key(&claim("k1", "c3", "f1", 20)).await,
    );
    t.note(
        "claim another",
        store.claim_idempotency_key(&claim("k2", "c4", "f1", 0)).await,
    );
    t.note(
        "abandoned",
        store.claim_idempotency_key(&claim("k2", "c5", "f1", 11)).await,
    );
    t.note(
        "release by a lost claim",
        store.release_idempotency_key(WORKSPACE, "k2", "c4").await,
    );
    t.note("release", store.release_idempotency_key(WORKSPACE, "k2", "c5").await);
    t.note(
        "released",
        store.claim_idempotency_key(&claim("k2", "c6", "f1", 12)).await,
    );
    t.note("purge none", store.purge_idempotency_keys(at(50), 10).await);
    t.note("purge", store.purge_idempotency_keys(at(200), 1).await);
    t.note("purge the rest", store.purge_idempotency_keys(at(200), 10).await);
    t.note(
        "expired",
        store.claim_idempotency_key(&claim("k1", "c7", "f2", 200)).await,
    );
}

async fn workspaces(store: &dyn Store, t: &mut Transcript) {
    let mut workspace = new_workspace();
    workspace.workspace.created_at = at(0);
    workspace.secret.created_at = at(0);
    workspace.default_template.created_at = at(0);
    workspace.default_template.updated_at = at(0);
    t.note("create workspace", store.create_workspace(&workspace).await);
    t.note("create it again", store.create_workspace(&workspace).await);
    t.note("workspaces", store.workspaces().await);
    t.note("by name", store.workspace_by_name("default").await);
    t.note("by name in another case", store.workspace_by_name("DEFAULT").await);
    let mut second = secret("secret-2");
    second.created_at = at(1);
    t.note("add secret", store.add_secret(WORKSPACE, &second).await);
    t.note("credentials", store.credentials().await);
    t.note("version", store.credentials_version().await);
    t.note("retire", store.retire_secret(WORKSPACE, "secret-1", at(2)).await);
    t.note(
        "retire the last",
        store.retire_secret(WORKSPACE, "secret-2", at(2)).await,
    );
    t.note(
        "retire a retired one",
        store.retire_secret(WORKSPACE, "secret-1", at(3)).await,
    );
    t.note("secrets", store.secrets(WORKSPACE).await);
    t.note("version after", store.credentials_version().await);
}

async fn templates(store: &dyn Store, t: &mut Transcript) {
    let mut other = new_workspace().default_template;
    other.id = "tpl-0".into();
    other.is_default = false;
    other.body.name = "Other".into();
    other.created_at = at(5);
    other.updated_at = at(5);
    t.note("insert template", store.insert_template(&other).await);
    let mut clash = other.clone();
    clash.id = "tpl-9".into();
    clash.body.name = "OTHER".into();
    t.note("insert a taken name", store.insert_template(&clash).await);
    t.note("templates", store.templates(WORKSPACE, &page(10, None)).await);
    t.note(
        "templates after",
        store.templates(WORKSPACE, &page(10, Some("tpl-1"))).await,
    );
    t.note("by name", store.template_by_name(WORKSPACE, "other").await);
    t.note("default", store.default_template(WORKSPACE).await);
    t.note("by id elsewhere", store.template("ws-x", TEMPLATE).await);
    other.revision = 1;
    other.body.name = "renamed".into();
    t.note("replace", store.replace_template(&other, 0).await);
    t.note("replace from an old revision", store.replace_template(&other, 0).await);
    other.body.name = "default".into();
    t.note("replace onto a taken name", store.replace_template(&other, 1).await);
    other.id = "tpl-missing".into();
    t.note("replace a missing one", store.replace_template(&other, 0).await);
    t.note("template", store.template(WORKSPACE, "tpl-0").await);
}

async fn rooms(store: &dyn Store, t: &mut Transcript) {
    // Upper case sorts before lower case byte by byte, as SQLite compares ids.
    for (i, (id, name)) in [("room-a", "alpha"), ("room-B", "Beta"), ("room-c", "gamma")]
        .into_iter()
        .enumerate()
    {
        let mut record = room(id, name);
        record.created_at = at(10 + i as i64);
        record.updated_at = record.created_at;
        record.enabled = id != "room-c";
        record.options.size = Some(7);
        t.note("insert room", store.insert_room(&record).await);
    }
    t.note("insert a taken name", store.insert_room(&room("room-x", "ALPHA")).await);
    let everything = RoomFilter::default();
    t.note("rooms", store.rooms(WORKSPACE, &everything, &page(10, None)).await);
    t.note(
        "rooms after",
        store.rooms(WORKSPACE, &everything, &page(1, Some("room-a"))).await,
    );
    let filters = [
        RoomFilter {
            enabled: Some(false),
            ..RoomFilter::default()
        },
        RoomFilter {
            name: Some("BETA".into()),
            ..RoomFilter::default()
        },
        RoomFilter {
            template_id: Some(TEMPLATE.into()),
            after: Some(at(11)),
            before: Some(at(11)),
            ..RoomFilter::default()
        },
    ];
    for filter in &filters {
        t.note("rooms filtered", store.rooms(WORKSPACE, filter, &page(10, None)).await);
    }
    // SQLite writes its rooms from the rows it reads; PostgreSQL from its records.
    let described: RoomWriter = Box::new(|out, index, room| out.extend(format!("{index} {room:?}\n").bytes()));
    t.note(
        "rooms written",
        store
            .write_rooms(
                WORKSPACE,
                &everything,
                &page(2, Some("room-c")),
                b"page\n".to_vec(),
                described,
            )
            .await
            .map(|written| (String::from_utf8(written.out), written.items, written.last_id)),
    );
    let enabled_by_name = RoomFilter {
        enabled: Some(true),
        name: Some("GAMMA".into()),
        ..RoomFilter::default()
    };
    t.note(
        "rooms filtered on both",
        store.rooms(WORKSPACE, &enabled_by_name, &page(10, None)).await,
    );
    t.note("room", store.room(WORKSPACE, "room-B").await);
    t.note("room by name", store.room_by_name(WORKSPACE, "Gamma").await);
    let mut renamed = room("room-a", "Beta");
    renamed.created_at = at(10);
    renamed.updated_at = at(20);
    t.note("rename onto a taken name", store.update_room(&renamed, at(10)).await);
    renamed.name = "delta".into();
    t.note("rename", store.update_room(&renamed, at(10)).await);
    renamed.name = "epsilon".into();
    t.note("update from a stale read", store.update_room(&renamed, at(10)).await);
    renamed.id = "room-missing".into();
    t.note("update a missing room", store.update_room(&renamed, at(20)).await);
    t.note("renamed", store.room(WORKSPACE, "room-a").await);
}

async fn room_codes(store: &dyn Store, t: &mut Transcript) {
    let next = AtomicU64::new(0);
    let generate = || format!("code-{}", next.fetch_add(1, Ordering::Relaxed));
    let roles = ["host".to_owned(), "guest".to_owned()];
    t.note(
        "reconcile",
        store.reconcile_room_codes("room-a", &roles, &generate, at(30)).await,
    );
    t.note(
        "reconcile again",
        store
            .reconcile_room_codes("room-a", &roles[..1], &generate, at(31))
            .await,
    );
    t.note(
        "create",
        store.create_room_code("room-a", "viewer", &generate, at(32)).await,
    );
    // The first candidate is taken: the store asks for another.
    let clash = AtomicU64::new(0);
    let generate_clashing = || format!("code-{}", 2 + clash.fetch_add(1, Ordering::Relaxed));
    t.note(
        "create on a clash",
        store
            .create_room_code("room-a", "viewer", &generate_clashing, at(33))
            .await,
    );
    let all = RoomCodeFilter::default();
    t.note("codes", store.room_codes("room-a", &all, &page(10, None)).await);
    t.note(
        "codes after",
        store.room_codes("room-a", &all, &page(2, Some("code-1"))).await,
    );
    let enabled_guests = RoomCodeFilter {
        role: Some("guest".into()),
        enabled: Some(false),
        ..RoomCodeFilter::default()
    };
    t.note(
        "codes filtered",
        store.room_codes("room-a", &enabled_guests, &page(10, None)).await,
    );
    t.note("code", store.room_code("code-0").await);
    t.note("missing code", store.room_code("nope").await);
    t.note("disable", store.set_room_code_enabled("code-0", false, at(34)).await);
    t.note(
        "disable a missing code",
        store.set_room_code_enabled("nope", false, at(34)).await,
    );
    for _ in 0..(MAX_CODES_PER_ROOM - 5) {
        store
            .create_room_code("room-B", "guest", &generate, at(35))
            .await
            .unwrap();
    }
    let mut full = Vec::new();
    for _ in 0..6 {
        full.push(
            store
                .create_room_code("room-B", "guest", &generate, at(36))
                .await
                .is_ok(),
        );
    }
    t.note("create until full", full);
}

fn track(id: &str) -> Track {
    Track {
        id: id.into(),
        stream_id: "stream-1".into(),
        mute: false,
        kind: "audio".into(),
        source: "regular".into(),
        started_at: precise_at(40),
        description: String::new(),
    }
}

fn peer(id: &str, session_id: &str, node_id: &str, joined_ms: i64) -> SessionPeerRecord {
    SessionPeerRecord {
        id: id.into(),
        session_id: session_id.into(),
        name: format!("name of {id}"),
        role: "host".into(),
        user_id: format!("user of {id}"),
        metadata: "{\"a\": 1}".into(),
        joined_at: precise_at(joined_ms),
        left_at: None,
        current: PeerProfile {
            name: format!("name of {id}"),
            role: "host".into(),
            metadata: "{\"a\": 1}".into(),
        },
        node_id: node_id.into(),
        tracks: vec![track(&format!("{id}-audio"))],
    }
}

fn logged(id: &str, room_id: &str, kind: &str, offset_ms: i64) -> EventRecord {
    EventRecord {
        id: id.into(),
        workspace_id: WORKSPACE.into(),
        room_id: room_id.into(),
        kind: kind.into(),
        payload: format!("{{\"id\":\"{id}\", \"type\": \"{kind}\"}}"),
        created_at: precise_at(offset_ms),
    }
}

async fn live(store: &dyn Store, t: &mut Transcript) {
    let opened = SessionRecord {
        id: "session-1".into(),
        workspace_id: WORKSPACE.into(),
        room_id: "room-a".into(),
        active: true,
        started_at: precise_at(40),
        updated_at: precise_at(40),
        revision: 0,
        peers: Vec::new(),
    };
    let mut fields = serde_json::Map::new();
    fields.insert("message".into(), "hi".into());
    let open = LiveWrite {
        opened: Some(opened.clone()),
        joined: vec![
            peer("peer-1", "session-1", "node-1", 41),
            peer("peer-2", "session-1", "node-2", 41),
        ],
        deliveries: vec![PeerDelivery {
            room_id: "room-a".into(),
            peer_id: "peer-1".into(),
            delivery: Delivery {
                kind: "message".into(),
                at: precise_at(42),
                fields,
            },
        }],
        events: vec![
            logged("event-1", "room-a", "session.open.success", 40),
            logged("event-2", "room-a", "peer.join.success", 41),
        ],
        ..LiveWrite::default()
    };
    t.note("open", store.record_live(&open).await);
    let mut second = opened.clone();
    second.id = "session-2".into();
    let again = LiveWrite {
        opened: Some(second),
        ..LiveWrite::default()
    };
    t.note("open a second session", store.record_live(&again).await);
    t.note("live session", store.live_session("room-a").await);
    t.note("heartbeat", store.heartbeat("node-1", precise_at(50)).await);
    t.note("heartbeat", store.heartbeat("node-2", precise_at(45)).await);
    t.note("stranded", store.stranded_peers(precise_at(48)).await);
    t.note("forget", store.forget_node("node-1").await);
    t.note("stranded", store.stranded_peers(precise_at(40)).await);
    let change = LiveWrite {
        read: Some(SessionRevision {
            session_id: "session-1".into(),
            revision: 0,
        }),
        changed: vec![PeerChanged {
            session_id: "session-1".into(),
            peer_id: "peer-2".into(),
            profile: PeerProfile {
                name: "new name".into(),
                role: "guest".into(),
                metadata: "{}".into(),
            },
        }],
        left: vec![PeerLeft {
            session_id: "session-1".into(),
            peer_id: "peer-1".into(),
            at: precise_at(60),
        }],
        events: vec![logged("event-3", "room-a", "peer.leave.success", 60)],
        ..LiveWrite::default()
    };
    t.note("change", store.record_live(&change).await);
    t.note("change from an old revision", store.record_live(&change).await);
    let close = LiveWrite {
        read: Some(SessionRevision {
            session_id: "session-1".into(),
            revision: 1,
        }),
        left: vec![PeerLeft {
            session_id: "session-1".into(),
            peer_id: "peer-2".into(),
            at: precise_at(70),
        }],
        closed: Some(SessionClosed {
            session_id: "session-1".into(),
            at: precise_at(70),
        }),
        events: vec![logged("event-4", "room-a", "session.close.success", 70)],
        ..LiveWrite::default()
    };
    t.note("close", store.record_live(&close).await);
    t.note("no live session", store.live_session("room-a").await);
    t.note("session", store.session(WORKSPACE, "session-1").await);
    t.note("inbox", store.peer_inbox("room-a", "peer-1", 10).await);
    t.note("inbox of a stranger", store.peer_inbox("room-a", "peer-9", 10).await);
    t.note("room deliveries", store.room_deliveries("room-a", 0, 10).await);
    t.note(
        "room deliveries after the last",
        store.room_deliveries("room-a", 1, 10).await,
    );
    t.note("latest room delivery", store.latest_room_delivery("room-a").await);
    t.note(
        "latest delivery of a quiet room",
        store.latest_room_delivery("room-b").await,
    );
    placements(store, t).await;
    let filters = [
        SessionFilter::default(),
        SessionFilter {
            room_id: Some("room-a".into()),
            active: Some(false),
            after: Some(at(40)),
            before: Some(at(40)),
            ..SessionFilter::default()
        },
        SessionFilter {
            active: Some(true),
            ..SessionFilter::default()
        },
    ];
    for filter in &filters {
        t.note("sessions", store.sessions(WORKSPACE, filter, &page(10, None)).await);
    }
    t.note(
        "sessions after",
        store
            .sessions(WORKSPACE, &SessionFilter::default(), &page(10, Some("session-2")))
            .await,
    );
    t.note("session elsewhere", store.session("ws-x", "session-1").await);
    let queries = [
        EventQuery {
            limit: 10,
            ..EventQuery::default()
        },
        EventQuery {
            room_id: Some("room-a".into()),
            kind: Some("peer.join.success".into()),
            after_seq: Some(1),
            limit: 10,
        },
    ];
    for query in &queries {
        t.note("events", store.events(WORKSPACE, query).await);
    }
}

/// Rooms are placed on the asking node unless a live node has them.
async fn placements(store: &dyn Store, t: &mut Transcript) {
    let node = |id: &str| Placement {
        node_id: id.into(),
        url: format!("https://{id}.internal:8443"),
    };
    t.note("heartbeat", store.heartbeat("node-a", precise_at(100)).await);
    t.note("heartbeat", store.heartbeat("node-b", precise_at(100)).await);
    t.note(
        "first placement",
        store.place_room("room-a", &node("node-a"), precise_at(90)).await,
    );
    t.note(
        "a live node keeps it",
        store.place_room("room-a", &node("node-b"), precise_at(90)).await,
    );
    let moved = Placement {
        url: "https://node-a.example:9443".into(),
        ..node("node-a")
    };
    t.note(
        "its own node may move",
        store.place_room("room-a", &moved, precise_at(90)).await,
    );
    t.note(
        "a silent node loses it",
        store.place_room("room-a", &node("node-b"), precise_at(110)).await,
    );
    t.note("forget", store.forget_node("node-b").await);
    t.note(
        "a forgotten node loses it",
        store.place_room("room-a", &node("node-a"), precise_at(0)).await,
    );
}

async fn webhooks(store: &dyn Store, t: &mut Transcript) {
    let webhook = WorkspaceWebhook {
        workspace_id: WORKSPACE.into(),
        url: "http://hooks.test/a".into(),
        headers: vec![("x-a".into(), "1".into())],
        signing_secret: Some(hms_auth::AppSecret::new("signing")),
    };
    t.note("set webhook", store.set_workspace_webhook(&webhook).await);
    t.note("webhooks", store.workspace_webhooks().await);
    let events = store.unplanned_events(3).await.unwrap();
    t.note("unplanned", &events);
    let deliveries: Vec<NewDelivery> = events
        .iter()
        .map(|logged| NewDelivery {
            event_seq: logged.seq,
            workspace_id: WORKSPACE.into(),
            room_id: logged.event.room_id.clone(),
            url: webhook.url.clone(),
            headers: webhook.headers.clone(),
            replay_id: None,
            next_attempt_at: precise_at(100),
            deadline: precise_at(100_000),
            created_at: logged.event.created_at,
        })
        .collect();
    let planned: Vec<i64> = events.iter().map(|logged| logged.seq).collect();
    t.note("plan", store.plan_deliveries(&planned, &deliveries).await);
    t.note("plan again", store.plan_deliveries(&planned, &deliveries).await);
    t.note("unplanned", store.unplanned_events(10).await);
    t.note(
        "claim too early",
        store.claim_deliveries(&claim_at(99, 10_000, &[])).await,
    );
    let claimed = store.claim_deliveries(&claim_at(101, 10_000, &[])).await.unwrap();
    t.note("claim", &claimed);
    t.note(
        "claim while leased",
        store.claim_deliveries(&claim_at(102, 10_000, &[])).await,
    );
    let retry = AttemptOutcome::Retry {
        status: Some(500),
        error: "server error".into(),
        next_attempt_at: precise_at(200),
    };
    t.note(
        "retry",
        store.finish_attempt(claimed[0].id, &retry, precise_at(103)).await,
    );
    t.note(
        "claim the retry early",
        store.claim_deliveries(&claim_at(150, 10_000, &[])).await,
    );
    let again = store.claim_deliveries(&claim_at(201, 10_000, &[])).await.unwrap();
    t.note("claim the retry", &again);
    let ids: Vec<i64> = again.iter().map(|d| d.id).collect();
    t.note("release", store.release_deliveries(&ids).await);
    let delivered = AttemptOutcome::Delivered { status: 204 };
    t.note(
        "deliver",
        store.finish_attempt(claimed[0].id, &delivered, precise_at(202)).await,
    );
    let next = store.claim_deliveries(&claim_at(203, 10_000, &[])).await.unwrap();
    t.note("claim the next", &next);
    let give_up = AttemptOutcome::GiveUp {
        status: None,
        error: "timed out".into(),
    };
    t.note(
        "give up",
        store.finish_attempt(next[0].id, &give_up, precise_at(204)).await,
    );
    let busy = [webhook.url.clone()];
    t.note(
        "claim busy",
        store.claim_deliveries(&claim_at(205, 10_000, &busy)).await,
    );
    history(store, t, &webhook, &events).await;
    t.note("clear webhook", store.clear_workspace_webhook(WORKSPACE).await);
    t.note("clear it again", store.clear_workspace_webhook(WORKSPACE).await);
    t.note("version", store.credentials_version().await);
}

async fn history(store: &dyn Store, t: &mut Transcript, webhook: &WorkspaceWebhook, events: &[LoggedEvent]) {
    let filters = [
        DeliveryFilter::default(),
        DeliveryFilter {
            created_from: Some(precise_at(41)),
            created_to: Some(precise_at(60)),
            room_id: Some("room-a".into()),
            states: vec![DeliveryState::Failed, DeliveryState::Pending],
            kinds: vec!["peer.join.success".into()],
            originals_only: true,
        },
    ];
    for filter in &filters {
        t.note("history", store.deliveries(WORKSPACE, filter, 0, 10).await);
        t.note("history page", store.deliveries(WORKSPACE, filter, 1, 1).await);
    }
    let replay = ReplayRecord {
        id: "replay-1".into(),
        workspace_id: WORKSPACE.into(),
        request_key: "key".into(),
        filters: "{\"a\":1}".into(),
        started_at: precise_at(300),
    };
    let copies = |replay: &ReplayRecord| -> Vec<NewDelivery> {
        events
            .iter()
            .take(2)
            .map(|logged| NewDelivery {
                event_seq: logged.seq,
                workspace_id: WORKSPACE.into(),
                room_id: logged.event.room_id.clone(),
                url: webhook.url.clone(),
                headers: Vec::new(),
                replay_id: Some(replay.id.clone()),
                next_attempt_at: replay.started_at,
                deadline: precise_at(100_000),
                created_at: replay.started_at,
            })
            .collect()
    };
    let another = |id: &str, request_key: &str| ReplayRecord {
        id: id.into(),
        request_key: request_key.into(),
        started_at: precise_at(500),
        ..replay.clone()
    };
    t.note("replay", store.create_replay(&replay, &copies(&replay)).await);
    let repeat = another("replay-2", "key");
    t.note("replay again", store.create_replay(&repeat, &copies(&repeat)).await);
    let taken = another("replay-1", "other key");
    t.note(
        "replay with a taken id",
        store.create_replay(&taken, &copies(&taken)).await,
    );
    t.note("progress", store.replay(WORKSPACE, "replay-1").await);
    t.note("the repeat wrote nothing", store.replay(WORKSPACE, "replay-2").await);
    let mut due = store.claim_deliveries(&claim_at(1_000, 10_000, &[])).await.unwrap();
    t.note("claim with the replay", &due);
    let outcome = AttemptOutcome::GiveUp {
        status: Some(410),
        error: "gone".into(),
    };
    for round in 0.. {
        for delivery in &due {
            store
                .finish_attempt(delivery.id, &outcome, precise_at(400 + round))
                .await
                .unwrap();
        }
        t.note("progress", store.replay(WORKSPACE, "replay-1").await);
        if due.is_empty() {
            break;
        }
        due = store.claim_deliveries(&claim_at(1_000, 10_000, &[])).await.unwrap();
        t.note("claim what is due next", &due);
    }
    t.note(
        "replay after it ran",
        store.create_replay(&repeat, &copies(&repeat)).await,
    );
    t.note("progress", store.replay(WORKSPACE, "replay-2").await);
    let third = another("replay-3", "key");
    t.note(
        "replay while it runs",
        store.create_replay(&third, &copies(&third)).await,
    );
}
