//! The PostgreSQL store with several server processes on one database: each test opens a
//! fresh database and several `PgStore`s on it (one per simulated process), then races
//! them on the invariants that SQLite's single writer used to give for free.
//!
//! Runs only when `HMS_TEST_POSTGRES_URL` names an admin URL (`scripts/postgres.sh` starts
//! a throwaway cluster and prints one); every test here is ignored unless asked for with
//! `--include-ignored` (the PostgreSQL pass of `scripts/test.sh`).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hms_store::{
    AttemptOutcome, DeliveryClaim, DeliveryFilter, DeliveryState, EventRecord, LiveWrite, NewDelivery, NewWorkspace,
    PgStore, ReplayRecord, ReplayStart, RoomRecord, SessionRecord, SessionRevision, Store, StoreError, Topic,
};
use hms_types::{PreciseTime, Timestamp};
use sqlx::{Connection, Executor, PgConnection};

#[path = "postgres/parity.rs"]
mod parity;

mod common;

use common::{TEMPLATE, TestDatabase, WORKSPACE, new_workspace, secret};

const OTHER_WORKSPACE: &str = "ws-2";

impl TestDatabase {
    /// A database of its own for one test, dropped at the end (see [`TestDatabase::remove`]).
    async fn create() -> Self {
        Self::create_named("hms_test").await
    }

    /// Stores that share the database like separate server processes would.
    async fn stores(&self, count: usize) -> Vec<Arc<PgStore>> {
        let connecting = (0..count).map(|_| {
            let url = self.url.clone();
            async move { PgStore::connect(&url).await }
        });
        side_by_side(connecting)
            .await
            .into_iter()
            .map(|store| Arc::new(store.expect("connect and migrate")))
            .collect()
    }

    async fn connection(&self) -> PgConnection {
        PgConnection::connect(&self.url)
            .await
            .expect("connect to the test database")
    }

    /// Closes the stores and removes the database.
    async fn remove(self, stores: Vec<Arc<PgStore>>) {
        for store in stores {
            store.close().await;
        }
        self.destroy().await;
    }
}

/// Runs futures side by side (on the multi-threaded runtime) and answers their results in order.
async fn side_by_side<F>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let tasks: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut results = Vec::with_capacity(tasks.len());
    for task in tasks {
        results.push(task.await.expect("task finished"));
    }
    results
}

/// A second workspace, with ids and keys of its own.
fn other_workspace() -> NewWorkspace {
    let mut new = new_workspace();
    new.workspace.id = OTHER_WORKSPACE.into();
    new.workspace.name = "other".into();
    new.workspace.access_key = "access-key-2".into();
    new.secret = secret("secret-2");
    new.default_template.id = "tpl-2".into();
    new.default_template.workspace_id = OTHER_WORKSPACE.into();
    new
}

fn room(id: &str, name: &str) -> RoomRecord {
    common::room_on(id, name, TEMPLATE)
}

fn event(id: &str, room_id: &str) -> EventRecord {
    EventRecord {
        id: id.into(),
        workspace_id: WORKSPACE.into(),
        room_id: room_id.into(),
        kind: "peer.join.success".into(),
        payload: format!(r#"{{"id":"{id}","type":"peer.join.success"}}"#),
        created_at: PreciseTime::now(),
    }
}

fn session(id: &str, room_id: &str) -> SessionRecord {
    let now = PreciseTime::now();
    SessionRecord {
        id: id.into(),
        workspace_id: WORKSPACE.into(),
        room_id: room_id.into(),
        active: true,
        started_at: now,
        updated_at: now,
        revision: 0,
        peers: Vec::new(),
    }
}

/// Logs `event` on its own, as a change of live state would.
async fn log(store: &PgStore, event: EventRecord) {
    store
        .record_live(&LiveWrite {
            events: vec![event],
            ..LiveWrite::default()
        })
        .await
        .expect("log an event");
}

/// Codes no other call makes, in this test process.
fn unique_code() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!("code-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

fn later(time: PreciseTime, by: Duration) -> PreciseTime {
    PreciseTime::from_unix_nanos(time.unix_nanos() + by.as_nanos() as i128)
}

/// One delivery per event to `url_of(room)`, as the planner would queue it.
fn deliveries_for(events: &[hms_store::LoggedEvent], url_of: impl Fn(&str) -> String) -> Vec<NewDelivery> {
    let now = PreciseTime::now();
    events
        .iter()
        .map(|logged| NewDelivery {
            event_seq: logged.seq,
            workspace_id: logged.event.workspace_id.clone(),
            room_id: logged.event.room_id.clone(),
            url: url_of(&logged.event.room_id),
            headers: Vec::new(),
            replay_id: None,
            next_attempt_at: now,
            deadline: later(now, Duration::from_secs(3600)),
            created_at: logged.event.created_at,
        })
        .collect()
}

/// Plans every unplanned event, one delivery each.
async fn plan_all(store: &PgStore, url_of: impl Fn(&str) -> String) -> Vec<i64> {
    let events = store.unplanned_events(1000).await.unwrap();
    let planned: Vec<i64> = events.iter().map(|logged| logged.seq).collect();
    store
        .plan_deliveries(&planned, &deliveries_for(&events, url_of))
        .await
        .unwrap();
    planned
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL (HMS_TEST_POSTGRES_URL)"]
async fn one_room_name_is_created_once_across_processes() {
    let db = TestDatabase::create().await;
    let stores = db.stores(2).await;
    stores[0].create_workspace(&new_workspace()).await.unwrap();
    for round in 0..20 {
        let attempts = stores.iter().enumerate().map(|(process, store)| {
            let store = store.clone();
            // The same name in another case is the same room.
            let name = if process == 0 {
                format!("Standup-{round}")
            } else {
                format!("standup-{round}")
            };
            async move {
                store
                    .insert_room(&room(&format!("room-{round}-{process}"), &name))
                    .await
            }
        });
        let results = side_by_side(attempts).await;
        let created = results.iter().filter(|result| result.is_ok()).count();
        assert_eq!(created, 1, "round {round}: {results:?}");
        assert!(
            results
                .iter()
                .any(|result| matches!(result, Err(StoreError::Conflict("a room with this name")))),
            "round {round}: {results:?}"
        );
    }
    db.remove(stores).await;
}

/// PostgreSQL's text cannot hold U+0000: the store says so as its own error (a client's
/// mistake), not as a database failure, and writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL (HMS_TEST_POSTGRES_URL)"]
async fn text_with_a_nul_character_is_its_own_error() {
    let db = TestDatabase::create().await;
    let stores = db.stores(1).await;
    stores[0].create_workspace(&new_workspace()).await.unwrap();
    let mut nul = room("room-nul", "nul");
    nul.description = "a\0b".into();
    let refused = stores[0].insert_room(&nul).await;
    assert!(matches!(refused, Err(StoreError::NulInText)), "{refused:?}");
    assert_eq!(stores[0].room(WORKSPACE, "room-nul").await.unwrap(), None);
    db.remove(stores).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL (HMS_TEST_POSTGRES_URL)"]
async fn room_code_limits_hold_across_processes() {
    let db = TestDatabase::create().await;
    let stores = db.stores(3).await;
    stores[0].create_workspace(&new_workspace()).await.unwrap();
    stores[0].insert_room(&room("room-a", "a")).await.unwrap();
    let attempts = (0..120).map(|i| {
        let store = stores[i % stores.len()].clone();
        async move {
            store
                .create_room_code("room-a", "guest", &unique_code, Timestamp::now())
                .await
        }
    });
    let results = side_by_side(attempts).await;
    let created = results.iter().filter(|result| result.is_ok()).count();
    let refused = results
        .iter()
        .filter(|result| matches!(result, Err(StoreError::TooManyCodes)))
        .count();
    assert_eq!((created, refused), (hms_store::MAX_CODES_PER_ROOM, 20), "{results:?}");

    stores[0].insert_room(&room("room-b", "b")).await.unwrap();
    let roles = vec!["host".to_owned(), "guest".to_owned()];
    let reconciles = (0..12).map(|i| {
        let store = stores[i % stores.len()].clone();
        let roles = roles.clone();
        async move {
            store
                .reconcile_room_codes("room-b", &roles, &unique_code, Timestamp::now())
                .await
        }
    });
    for result in side_by_side(reconciles).await {
        assert_eq!(result.unwrap().len(), 2, "every reconcile sees one code per role");
    }
    let page = hms_store::PageRequest {
        limit: 100,
        start: None,
    };
    let codes = stores[1]
        .room_codes("room-b", &Default::default(), &page)
        .await
        .unwrap();
    let mut enabled_roles: Vec<&str> = codes.iter().filter(|c| c.enabled).map(|c| c.role.as_str()).collect();
    enabled_roles.sort();
    assert_eq!(enabled_roles, ["guest", "host"]);
    assert_eq!(codes.len(), 2);
    db.remove(stores).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL (HMS_TEST_POSTGRES_URL)"]
async fn template_replacements_from_one_revision_conflict() {
    let db = TestDatabase::create().await;
    let stores = db.stores(2).await;
    let workspace = new_workspace();
    stores[0].create_workspace(&workspace).await.unwrap();
    for revision in 0..10 {
        let replacements = stores.iter().map(|store| {
            let store = store.clone();
            let mut template = workspace.default_template.clone();
            template.revision = revision + 1;
            async move { store.replace_template(&template, revision).await }
        });
        let results = side_by_side(replacements).await;
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "{results:?}");
        assert!(
            results.iter().any(|r| matches!(r, Err(StoreError::Stale))),
            "{results:?}"
        );
    }
    let stored = stores[1].template(WORKSPACE, TEMPLATE).await.unwrap().unwrap();
    assert_eq!(stored.revision, 10);
    db.remove(stores).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL (HMS_TEST_POSTGRES_URL)"]
async fn the_last_live_secret_survives_concurrent_retirements() {
    let db = TestDatabase::create().await;
    let stores = db.stores(3).await;
    stores[0].create_workspace(&new_workspace()).await.unwrap();
    stores[0].add_secret(WORKSPACE, &secret("secret-2")).await.unwrap();
    stores[0].add_secret(WORKSPACE, &secret("secret-3")).await.unwrap();
    let retirements = stores.iter().enumerate().map(|(i, store)| {
        let store = store.clone();
        async move {
            store
                .retire_secret(WORKSPACE, &format!("secret-{}", i + 1), Timestamp::now())
                .await
        }
    });
    let results = side_by_side(retirements).await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 2, "{results:?}");
    assert!(
        results.iter().any(|r| matches!(r, Err(StoreError::LastLiveSecret))),
        "{results:?}"
    );
    let live = stores[1].secrets(WORKSPACE).await.unwrap();
    assert_eq!(live.iter().filter(|s| s.retired_at.is_none()).count(), 1);
    db.remove(stores).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL (HMS_TEST_POSTGRES_URL)"]
async fn credential_changes_reach_every_process() {
    let db = TestDatabase::create().await;
    let stores = db.stores(2).await;
    let mut notices = stores[1].subscribe();
    let before = stores[1].credentials_version().await.unwrap();
    stores[0].create_workspace(&new_workspace()).await.unwrap();
    stores[0].add_secret(WORKSPACE, &secret("secret-2")).await.unwrap();
    let notice = tokio::time::timeout(Duration::from_secs(10), notices.recv())
        .await
        .expect("a notice within 10 s");
    assert_eq!(notice.unwrap(), Topic::Credentials);
    assert_eq!(stores[1].credentials_version().await.unwrap(), before + 2);
    let credentials = stores[1].credentials().await.unwrap();
    assert_eq!(credentials[0].secrets.len(), 2, "the newest secret is visible");
    db.remove(stores).await;
}

/// Reads of one statement run on connections of their own, kept between reads, and cache
/// nothing: what another process commits is read at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL (HMS_TEST_POSTGRES_URL)"]
async fn reads_see_a_change_through_another_process_at_once() {
    let db = TestDatabase::create().await;
    let stores = db.stores(2).await;
    stores[0].create_workspace(&new_workspace()).await.unwrap();
    stores[0].insert_room(&room("room-a", "a")).await.unwrap();
    let code = stores[0]
        .create_room_code("room-a", "guest", &unique_code, Timestamp::now())
        .await
        .unwrap();
    let read = stores[1].room(WORKSPACE, "room-a").await.unwrap().expect("the room");
    assert!(read.room.enabled);
    assert!(stores[1].room_code(&code.code).await.unwrap().unwrap().room_enabled);

    let mut disabled = read.room.clone();
    disabled.enabled = false;
    disabled.updated_at = Timestamp::from_unix_millis(read.room.updated_at.unix_millis() + 1);
    stores[0].update_room(&disabled, read.room.updated_at).await.unwrap();
    stores[0]
        .set_room_code_enabled(&code.code, false, Timestamp::now())
        .await
        .unwrap();

    let again = stores[1].room(WORKSPACE, "room-a").await.unwrap().unwrap();
    assert!(!again.room.enabled, "the other process's update is read at once");
    let binding = stores[1].room_code(&code.code).await.unwrap().unwrap();
    assert!(!binding.room_enabled && !binding.code.enabled);
    db.remove(stores).await;
}

/// A kept read connection the database has cut since (a restart, an administrator) costs
/// the read nothing: it runs again on a new connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL (HMS_TEST_POSTGRES_URL)"]
async fn a_read_on_a_cut_connection_runs_again_on_a_new_one() {
    let db = TestDatabase::create().await;
    let stores = db.stores(1).await;
    let store = &stores[0];
    store.create_workspace(&new_workspace()).await.unwrap();
    store.insert_room(&room("room-a", "a")).await.unwrap();
    assert!(store.room(WORKSPACE, "room-a").await.unwrap().is_some());

    let mut control = db.connection().await;
    let cut: i64 = sqlx::query_scalar(
        "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid() AND query NOT LIKE 'LISTEN%'",
    )
    .fetch_one(&mut control)
    .await
    .unwrap();
    assert!(cut >= 1, "the kept read connection was cut");

    let read = store.room(WORKSPACE, "room-a").await.expect("read on a new connection");
    assert_eq!(read.unwrap().room.name, "a");
    db.remove(stores).await;
}

/// Notices sent while the listener was cut off are lost, so its return is announced.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL (HMS_TEST_POSTGRES_URL)"]
async fn a_lost_listener_announces_its_return() {
    let db = TestDatabase::create().await;
    let stores = db.stores(2).await;
    let mut notices = stores[1].subscribe();
    let mut control = db.connection().await;
    let cut: i64 = sqlx::query_scalar(
        "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE datname = current_database() AND query LIKE 'LISTEN%'",
    )
    .fetch_one(&mut control)
    .await
    .unwrap();
    assert_eq!(cut, 2, "each store has one listening connection");
    let notice = tokio::time::timeout(Duration::from_secs(10), notices.recv())
        .await
        .expect("a notice within 10 s");
    assert_eq!(notice.unwrap(), Topic::Credentials);
    // Listening again: a change made afterwards is heard too.
    stores[0].create_workspace(&new_workspace()).await.unwrap();
    let version = stores[0].credentials_version().await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), async {
        while notices.recv().await.is_ok() {
            if stores[1].credentials_version().await.unwrap() == version {
                return;
            }
        }
    })
    .await
    .expect("the change is announced");
    db.remove(stores).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL (HMS_TEST_POSTGRES_URL)"]
async fn one_session_change_wins_across_processes() {
    let db = TestDatabase::create().await;
    let stores = db.stores(2).await;
    stores[0].create_workspace(&new_workspace()).await.unwrap();
    stores[0].insert_room(&room("room-a", "a")).await.unwrap();
    let opens = stores.iter().enumerate().map(|(i, store)| {
        let store = store.clone();
        async move {
            let write = LiveWrite {
                opened: Some(session(&format!("session-{i}"), "room-a")),
                events: vec![event(&format!("open-{i}"), "room-a")],
                ..LiveWrite::default()
            };
            store.record_live(&write).await
        }
    });
    let results = side_by_side(opens).await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "{results:?}");
    assert!(
        results.iter().any(|r| matches!(r, Err(StoreError::Stale))),
        "{results:?}"
    );

    let open = stores[1]
        .live_session("room-a")
        .await
        .unwrap()
        .expect("an open session");
    let changes = stores.iter().enumerate().map(|(i, store)| {
        let store = store.clone();
        let read = SessionRevision {
            session_id: open.id.clone(),
            revision: open.revision,
        };
        async move {
            let write = LiveWrite {
                read: Some(read),
                events: vec![event(&format!("change-{i}"), "room-a")],
                ..LiveWrite::default()
            };
            store.record_live(&write).await
        }
    });
    let results = side_by_side(changes).await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "{results:?}");
    assert!(
        results.iter().any(|r| matches!(r, Err(StoreError::Stale))),
        "{results:?}"
    );
    let events = stores[0]
        .events(
            WORKSPACE,
            &hms_store::EventQuery {
                limit: 100,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(events.len(), 2, "only the winners' events are logged");
    db.remove(stores).await;
}

/// The advisory lock that holds the event `slow` back.
const SLOW_EVENT_GATE: i64 = 4242;

/// Installs a gate on the event log: the transaction logging the event `slow` waits,
/// after it took its seq, until the test lets it go. Answers the connection that holds
/// the gate.
async fn gate_slow_event(db: &TestDatabase) -> PgConnection {
    let mut control = db.connection().await;
    control
        .execute(
            "CREATE FUNCTION hold_slow_event() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
             IF NEW.id = 'slow' THEN PERFORM pg_advisory_xact_lock_shared(4242); END IF; RETURN NEW; END $$; \
             CREATE TRIGGER hold_slow_event AFTER INSERT ON events FOR EACH ROW EXECUTE FUNCTION hold_slow_event();",
        )
        .await
        .unwrap();
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(SLOW_EVENT_GATE)
        .execute(&mut control)
        .await
        .unwrap();
    control
}

async fn open_gate(control: &mut PgConnection) {
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(SLOW_EVENT_GATE)
        .execute(control)
        .await
        .unwrap();
}

/// A transaction that took a lower seq but commits later must still be planned. Events
/// of one workspace commit in seq order, so the two are of different workspaces.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL (HMS_TEST_POSTGRES_URL)"]
async fn the_planner_never_skips_an_event_committed_out_of_seq_order() {
    let db = TestDatabase::create().await;
    let stores = db.stores(2).await;
    stores[0].create_workspace(&new_workspace()).await.unwrap();
    stores[0].create_workspace(&other_workspace()).await.unwrap();
    let mut control = gate_slow_event(&db).await;
    let slow = tokio::spawn({
        let store = stores[0].clone();
        let mut slow = event("slow", "room-a");
        slow.workspace_id = OTHER_WORKSPACE.into();
        async move { log(&store, slow).await }
    });
    wait_for_waiting_locks(&mut control, 1).await;
    log(&stores[1], event("fast", "room-a")).await;

    let url = |_: &str| "http://hooks.test/a".to_owned();
    let first = stores[1].unplanned_events(100).await.unwrap();
    assert_eq!(first.iter().map(|e| e.event.id.as_str()).collect::<Vec<_>>(), ["fast"]);
    assert_eq!(plan_all(&stores[1], url).await.len(), 1);

    open_gate(&mut control).await;
    slow.await.unwrap();
    let second = stores[0].unplanned_events(100).await.unwrap();
    assert_eq!(second.iter().map(|e| e.event.id.as_str()).collect::<Vec<_>>(), ["slow"]);
    assert!(second[0].seq < first[0].seq, "the late event has the lower seq");
    plan_all(&stores[0], url).await;
    assert!(stores[0].unplanned_events(100).await.unwrap().is_empty());

    let mut planned = Vec::new();
    for workspace in [WORKSPACE, OTHER_WORKSPACE] {
        let (deliveries, total) = stores[0]
            .deliveries(workspace, &DeliveryFilter::default(), 0, 10)
            .await
            .unwrap();
        assert_eq!(total, 1, "each event has its delivery");
        planned.extend(deliveries);
    }
    // The lane goes in planning order.
    planned.sort_by_key(|delivery| delivery.id);
    assert_eq!(
        planned.iter().map(|d| d.event.id.as_str()).collect::<Vec<_>>(),
        ["fast", "slow"]
    );
    db.remove(stores).await;
}

/// A reader following a workspace's log with a seq cursor (as the event log API hands
/// out) never passes an event that commits later: a workspace's events commit in seq
/// order, whichever process logs them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL (HMS_TEST_POSTGRES_URL)"]
async fn events_of_one_workspace_commit_in_seq_order() {
    let db = TestDatabase::create().await;
    let stores = db.stores(2).await;
    stores[0].create_workspace(&new_workspace()).await.unwrap();
    let mut control = gate_slow_event(&db).await;
    let slow = tokio::spawn({
        let store = stores[0].clone();
        async move { log(&store, event("slow", "room-a")).await }
    });
    wait_for_waiting_locks(&mut control, 1).await;
    let fast = tokio::spawn({
        let store = stores[1].clone();
        async move { log(&store, event("fast", "room-b")).await }
    });
    // The fast event, of another room, waits for the slow one's commit.
    wait_for_waiting_locks(&mut control, 2).await;
    let all = hms_store::EventQuery {
        limit: 100,
        ..Default::default()
    };
    assert!(
        stores[1].events(WORKSPACE, &all).await.unwrap().is_empty(),
        "nothing committed yet"
    );

    open_gate(&mut control).await;
    slow.await.unwrap();
    fast.await.unwrap();
    let logged = stores[1].events(WORKSPACE, &all).await.unwrap();
    assert_eq!(
        logged.iter().map(|e| e.event.id.as_str()).collect::<Vec<_>>(),
        ["slow", "fast"]
    );
    assert!(logged[0].seq < logged[1].seq);
    db.remove(stores).await;
}

/// Waits until `count` transactions wait for an advisory lock.
async fn wait_for_waiting_locks(control: &mut PgConnection, count: i64) {
    for _ in 0..500 {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted \
                 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        )
        .fetch_one(&mut *control)
        .await
        .unwrap();
        if waiting >= count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{count} transactions never came to wait for an advisory lock");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL (HMS_TEST_POSTGRES_URL)"]
async fn concurrent_planners_plan_each_event_once() {
    let db = TestDatabase::create().await;
    let stores = db.stores(3).await;
    stores[0].create_workspace(&new_workspace()).await.unwrap();
    for i in 0..50 {
        log(&stores[i % 3], event(&format!("event-{i}"), "room-a")).await;
    }
    let planners = stores.iter().map(|store| {
        let store = store.clone();
        async move {
            let events = store.unplanned_events(1000).await.unwrap();
            let planned: Vec<i64> = events.iter().map(|e| e.seq).collect();
            let deliveries = deliveries_for(&events, |_| "http://hooks.test/a".to_owned());
            store.plan_deliveries(&planned, &deliveries).await
        }
    });
    let results = side_by_side(planners).await;
    assert!(results.iter().any(|r| r.is_ok()), "{results:?}");
    assert!(
        results.iter().all(|r| matches!(r, Ok(()) | Err(StoreError::Stale))),
        "{results:?}"
    );
    let (deliveries, total) = stores[0]
        .deliveries(WORKSPACE, &DeliveryFilter::default(), 0, 100)
        .await
        .unwrap();
    assert_eq!(total, 50);
    let seqs: HashSet<i64> = deliveries.iter().map(|d| d.event_seq).collect();
    assert_eq!(seqs.len(), 50, "no event is planned twice");
    db.remove(stores).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL (HMS_TEST_POSTGRES_URL)"]
async fn identical_replay_requests_start_one_replay_across_processes() {
    let db = TestDatabase::create().await;
    let stores = db.stores(3).await;
    stores[0].create_workspace(&new_workspace()).await.unwrap();
    for i in 0..5 {
        log(&stores[0], event(&format!("event-{i}"), "room-a")).await;
    }
    let seqs = plan_all(&stores[0], |_| "http://hooks.test/a".to_owned()).await;
    for round in 0..20 {
        let attempts = (0..6).map(|attempt| {
            let store = stores[attempt % stores.len()].clone();
            let now = PreciseTime::now();
            let replay = ReplayRecord {
                id: format!("replay-{round}-{attempt}"),
                workspace_id: WORKSPACE.into(),
                request_key: format!("request-{round}"),
                filters: "{}".into(),
                started_at: now,
            };
            let copies: Vec<NewDelivery> = seqs
                .iter()
                .map(|&seq| NewDelivery {
                    event_seq: seq,
                    workspace_id: WORKSPACE.into(),
                    room_id: "room-a".into(),
                    url: "http://hooks.test/a".into(),
                    headers: Vec::new(),
                    replay_id: Some(replay.id.clone()),
                    next_attempt_at: now,
                    deadline: later(now, Duration::from_secs(3600)),
                    created_at: now,
                })
                .collect();
            async move { store.create_replay(&replay, &copies).await }
        });
        let results = side_by_side(attempts).await;
        let started: Vec<usize> = (0..results.len())
            .filter(|&attempt| matches!(results[attempt], Ok(ReplayStart::Started)))
            .collect();
        assert_eq!(started.len(), 1, "round {round}: {results:?}");
        let first = format!("replay-{round}-{}", started[0]);
        for result in &results {
            match result {
                Ok(ReplayStart::Started) => {}
                Ok(ReplayStart::AlreadyRunning(running)) => assert_eq!(running.id, first, "round {round}"),
                Err(error) => panic!("round {round}: {error}"),
            }
        }
    }
    let pending_only = DeliveryFilter {
        states: vec![DeliveryState::Pending],
        ..DeliveryFilter::default()
    };
    let (_, pending) = stores[0].deliveries(WORKSPACE, &pending_only, 0, 1).await.unwrap();
    assert_eq!(pending, 5 + 20 * 5, "the originals and one replay of each request");
    db.remove(stores).await;
}

/// What the senders of every process have done, to check each claim against.
#[derive(Default)]
struct ClaimLog {
    claimed: HashSet<i64>,
    /// Deliveries whose success is about to be (or was) recorded.
    finished: HashSet<i64>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL (HMS_TEST_POSTGRES_URL)"]
async fn claims_never_overlap_and_keep_lane_order_across_processes() {
    let db = TestDatabase::create().await;
    let stores = db.stores(3).await;
    stores[0].create_workspace(&new_workspace()).await.unwrap();
    const ROOMS: usize = 6;
    const EVENTS: usize = 120;
    for i in 0..EVENTS {
        log(&stores[0], event(&format!("event-{i}"), &format!("room-{}", i % ROOMS))).await;
    }
    // Two endpoints, three rooms each: each room is one lane.
    let url_of = |room: &str| {
        let n: usize = room.trim_start_matches("room-").parse().unwrap();
        format!("http://hooks.test/{}", n % 2)
    };
    plan_all(&stores[0], url_of).await;
    let (all, _) = stores[0]
        .deliveries(WORKSPACE, &DeliveryFilter::default(), 0, 1000)
        .await
        .unwrap();
    let mut lanes: HashMap<i64, Vec<i64>> = HashMap::new();
    for delivery in &all {
        let earlier = all
            .iter()
            .filter(|other| other.event.room_id == delivery.event.room_id && other.id < delivery.id)
            .map(|other| other.id)
            .collect();
        lanes.insert(delivery.id, earlier);
    }
    // An endpoint this process is busy with is skipped, and what is given back is claimable again.
    let busy = [url_of("room-0")];
    let now = PreciseTime::now();
    let claim = DeliveryClaim {
        now,
        lease_until: later(now, Duration::from_secs(600)),
        limit: 100,
        per_url: 100,
        busy_urls: &busy,
    };
    let skipping = stores[1].claim_deliveries(&claim).await.unwrap();
    assert_eq!(skipping.len(), ROOMS / 2, "one head per lane of the other endpoint");
    assert!(skipping.iter().all(|d| d.url != busy[0]));
    let ids: Vec<i64> = skipping.iter().map(|d| d.id).collect();
    stores[2].release_deliveries(&ids).await.unwrap();

    let lanes = Arc::new(lanes);
    let log = Arc::new(Mutex::new(ClaimLog::default()));
    let senders = stores.iter().map(|store| {
        let (store, lanes, log) = (store.clone(), lanes.clone(), log.clone());
        async move { send_until_done(&store, &lanes, &log, EVENTS).await }
    });
    side_by_side(senders).await;
    assert_eq!(log.lock().unwrap().finished.len(), EVENTS);
    let delivered = DeliveryFilter {
        states: vec![DeliveryState::Delivered],
        kinds: vec!["peer.join.success".into()],
        ..DeliveryFilter::default()
    };
    let (_, total) = stores[0].deliveries(WORKSPACE, &delivered, 0, 10).await.unwrap();
    assert_eq!(total, EVENTS as u64);
    db.remove(stores).await;
}

/// Claims and delivers until `total` deliveries are done, checking every claim.
async fn send_until_done(store: &PgStore, lanes: &HashMap<i64, Vec<i64>>, log: &Mutex<ClaimLog>, total: usize) {
    const PER_URL: u32 = 2;
    let started = std::time::Instant::now();
    while log.lock().unwrap().finished.len() < total {
        assert!(started.elapsed() < Duration::from_secs(60), "deliveries stalled");
        let now = PreciseTime::now();
        let claim = DeliveryClaim {
            now,
            lease_until: later(now, Duration::from_secs(600)),
            limit: 4,
            per_url: PER_URL,
            busy_urls: &[],
        };
        let claimed = store.claim_deliveries(&claim).await.unwrap();
        let mut per_url: HashMap<&str, u32> = HashMap::new();
        for delivery in &claimed {
            *per_url.entry(delivery.url.as_str()).or_default() += 1;
        }
        assert!(per_url.values().all(|n| *n <= PER_URL), "{per_url:?}");
        for delivery in &claimed {
            {
                let mut log = log.lock().unwrap();
                assert!(log.claimed.insert(delivery.id), "delivery {} leased twice", delivery.id);
                let waiting: Vec<_> = lanes[&delivery.id]
                    .iter()
                    .filter(|earlier| !log.finished.contains(earlier))
                    .collect();
                assert!(waiting.is_empty(), "{} claimed before {waiting:?}", delivery.id);
                log.finished.insert(delivery.id);
            }
            store
                .finish_attempt(
                    delivery.id,
                    &AttemptOutcome::Delivered { status: 200 },
                    PreciseTime::now(),
                )
                .await
                .unwrap();
        }
        if claimed.is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL (HMS_TEST_POSTGRES_URL)"]
async fn concurrent_migrations_and_the_schema_round_trip_text() {
    let db = TestDatabase::create().await;
    // Four processes starting at once on an empty database migrate it once.
    let stores = db.stores(4).await;
    stores[0].create_workspace(&new_workspace()).await.unwrap();
    let payload = r#"{"b":1,  "a":"é\u00e9"}"#;
    let mut logged = event("exact", "room-a");
    logged.payload = payload.to_owned();
    log(&stores[1], logged).await;
    let events = stores[2]
        .events(
            WORKSPACE,
            &hms_store::EventQuery {
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(events[0].event.payload, payload, "payloads come back byte for byte");
    db.remove(stores).await;
}
