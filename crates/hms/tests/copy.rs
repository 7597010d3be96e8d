//! `hms database copy`: a data dir's SQLite database copied into PostgreSQL answers every
//! API call exactly as before, keeps accepting writes, and the copy refuses a target that
//! holds data and a data dir a server is running on.
//!
//! Needs PostgreSQL: `HMS_TEST_POSTGRES_URL` (an admin URL such as
//! postgres://postgres@127.0.0.1:55432/postgres). Every test here is ignored unless asked
//! for with `--include-ignored` (the PostgreSQL pass of `scripts/test.sh`).

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{ACCESS_KEY, SECRET, TestServer, management_token};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const ACME_KEY: &str = "acme-access-key-0001";
const ACME_FIRST_SECRET: &str = "acme-first-secret-0123456789abcdef";
const ACME_SECOND_SECRET: &str = "acme-second-secret-0123456789abcdef";
const TEN_SECONDS: Duration = Duration::from_secs(10);

/// A new, empty database (migrated by nobody yet), remembered in `data_dir` so that
/// servers started there use it.
fn fresh_database(data_dir: &Path) -> String {
    common::test_database_url(data_dir).expect("these tests need PostgreSQL: set HMS_TEST_POSTGRES_URL")
}

/// Runs `hms database copy` of `data_dir` into `url`.
fn copy(data_dir: &Path, url: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hms"))
        .args(["database", "copy", "--data-dir"])
        .arg(data_dir)
        .args(["--database-url", url])
        .env_remove("HMS_DATABASE_URL")
        .env_remove("HMS_DATA_DIR")
        .output()
        .expect("hms runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Runs `psql -c sql` on `url` and answers its unaligned output.
fn psql(url: &str, sql: &str) -> String {
    let output = Command::new("psql")
        .args([
            "--quiet",
            "--no-psqlrc",
            "--tuples-only",
            "--no-align",
            "-v",
            "ON_ERROR_STOP=1",
            url,
            "-c",
        ])
        .arg(sql)
        .output()
        .expect("psql runs");
    assert!(output.status.success(), "psql {sql}: {}", stderr(&output));
    stdout(&output).trim().to_owned()
}

fn text(value: &Value) -> String {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not a string: {value}"))
        .to_owned()
}

// ---------------------------------------------------------------------------------------
// A webhook endpoint on loopback
// ---------------------------------------------------------------------------------------

/// Refuses the first request it gets (503), so that one delivery takes two attempts, and
/// accepts every other one, counting them.
struct Receiver {
    url: String,
    accepted: Arc<AtomicUsize>,
}

impl Receiver {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("the receiver binds");
        let url = format!("http://{}/hooks", listener.local_addr().expect("address"));
        let accepted = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let first = requests.fetch_add(1, Ordering::SeqCst) == 0;
                let counter = counter.clone();
                tokio::spawn(async move {
                    if answer(stream, first).await.is_ok() && !first {
                        counter.fetch_add(1, Ordering::SeqCst);
                    }
                });
            }
        });
        Self { url, accepted }
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

/// Reads one request (head and `Content-Length` bytes of body) and answers it.
async fn answer(mut stream: TcpStream, refuse: bool) -> std::io::Result<()> {
    let mut received = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let read = stream.read(&mut chunk).await?;
        if read == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        received.extend_from_slice(&chunk[..read]);
        if let Some(at) = received.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&received[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0);
    while received.len() < head_end + length {
        let read = stream.read(&mut chunk).await?;
        if read == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        received.extend_from_slice(&chunk[..read]);
    }
    let status = if refuse { "503 Service Unavailable" } else { "200 OK" };
    let reply = format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    stream.write_all(reply.as_bytes()).await?;
    stream.shutdown().await
}

// ---------------------------------------------------------------------------------------
// The data set, and everything the API answers about it
// ---------------------------------------------------------------------------------------

/// What the data set is made of, to ask the API about.
struct DataSet {
    rooms: Vec<String>,
    /// (room, peer) of every simulated peer.
    peers: Vec<(String, String)>,
    enabled_code: String,
    disabled_code: String,
    replay: String,
    /// Id of acme's first secret, retired.
    retired_secret: String,
}

async fn ok(server: &TestServer, method: Method, path: &str, body: Option<Value>) -> Value {
    let (status, answer) = server.call(method, path, body).await;
    assert_eq!(status, StatusCode::OK, "{path}: {answer}");
    answer
}

fn cli_ok(server: &TestServer, args: &[&str]) -> String {
    let output = server.cli(args);
    assert!(output.status.success(), "hms {args:?}: {}", stderr(&output));
    stdout(&output)
}

/// Fills the server's data dir over the API and the CLI: a template with roles, rooms
/// (one disabled), room codes (one disabled), a session that peers joined and left, a
/// message to a peer, webhook deliveries (one retried) and a replay, and a second
/// workspace whose first secret was retired.
async fn make_data_set(server: &TestServer, receiver: &Receiver) -> DataSet {
    cli_ok(
        server,
        &[
            "workspace",
            "webhook",
            "set",
            "default",
            "--url",
            &receiver.url,
            "--header",
            "X-Env: copy",
            "--signing-secret",
            "whsec-copy",
        ],
    );
    let template = ok(
        server,
        Method::POST,
        "/v2/templates",
        Some(json!({"name": "stage", "roles": {"host": {}, "guest": {}, "viewer": {}}})),
    )
    .await;
    let standup = ok(server, Method::POST, "/v2/rooms", Some(json!({"name": "standup"}))).await;
    let town_hall = ok(
        server,
        Method::POST,
        "/v2/rooms",
        Some(json!({"name": "town-hall", "description": "Everyone", "template_id": template["id"]})),
    )
    .await;
    let archived = ok(server, Method::POST, "/v2/rooms", Some(json!({"name": "archived"}))).await;
    let archived_id = text(&archived["id"]);
    ok(
        server,
        Method::POST,
        &format!("/v2/rooms/{archived_id}"),
        Some(json!({"enabled": false})),
    )
    .await;
    let town_hall_id = text(&town_hall["id"]);

    let codes = ok(
        server,
        Method::POST,
        &format!("/v2/room-codes/room/{town_hall_id}"),
        None,
    )
    .await;
    let code_of = |role: &str| {
        let codes = codes["data"].as_array().expect("codes");
        let code = codes.iter().find(|code| code["role"] == role).expect("a code per role");
        text(&code["code"])
    };
    let (enabled_code, disabled_code) = (code_of("host"), code_of("viewer"));
    ok(
        server,
        Method::POST,
        "/v2/room-codes/code",
        Some(json!({"code": disabled_code, "enabled": false})),
    )
    .await;

    let peers = live_session(server, &town_hall_id).await;
    let events = ok(server, Method::GET, "/v2/simulate/events?limit=1000", None).await;
    let logged = events["events"].as_array().expect("events").len();
    wait_for_deliveries(server, logged).await;
    let replay = ok(
        server,
        Method::POST,
        "/v2/analytics/webhooks/replay",
        Some(json!({"status": "all"})),
    )
    .await;
    let replay = text(&replay["workflow_id"]);
    wait_for_replay(server, &replay).await;

    let retired_secret = second_workspace(server).await;
    DataSet {
        rooms: vec![text(&standup["id"]), town_hall_id, archived_id],
        peers,
        enabled_code,
        disabled_code,
        replay,
        retired_secret,
    }
}

/// A host and a guest join, the guest gets a message, both leave: the session closes.
async fn live_session(server: &TestServer, room: &str) -> Vec<(String, String)> {
    let host = join(server, room, "host", "Ann").await;
    let guest = join(server, room, "guest", "Bob").await;
    ok(
        server,
        Method::POST,
        &format!("/v2/active-rooms/{room}/send-message"),
        Some(json!({"peer_id": guest, "message": "welcome"})),
    )
    .await;
    for peer in [&guest, &host] {
        ok(
            server,
            Method::DELETE,
            &format!("/v2/simulate/rooms/{room}/peers/{peer}"),
            None,
        )
        .await;
    }
    vec![(room.to_owned(), host), (room.to_owned(), guest)]
}

/// A simulated peer joins `room`; answers its id.
async fn join(server: &TestServer, room: &str, role: &str, name: &str) -> String {
    let body = json!({"role": role, "name": name, "user_id": name.to_lowercase(), "metadata": "{\"a\":1}"});
    let peer = ok(
        server,
        Method::POST,
        &format!("/v2/simulate/rooms/{room}/peers"),
        Some(body),
    )
    .await;
    text(&peer["id"])
}

/// Creates workspace acme, adds a second secret and retires the first; answers its id.
async fn second_workspace(server: &TestServer) -> String {
    server.create_workspace("acme", ACME_KEY, ACME_FIRST_SECRET).await;
    let first = cli_ok(server, &["workspace", "secret", "list", "acme"]);
    let first_id = first
        .lines()
        .nth(1)
        .and_then(|line| line.split_whitespace().next())
        .expect("a secret");
    let first_id = first_id.to_owned();
    cli_ok(
        server,
        &["workspace", "secret", "add", "acme", "--secret", ACME_SECOND_SECRET],
    );
    cli_ok(server, &["workspace", "secret", "retire", "acme", &first_id]);
    let retired = management_token(ACME_KEY, ACME_FIRST_SECRET);
    assert!(
        server.wait_for_token(&retired, false, TEN_SECONDS).await,
        "the retired secret stays accepted"
    );
    let acme = management_token(ACME_KEY, ACME_SECOND_SECRET);
    let (status, room) = server
        .call_with(
            Method::POST,
            "/v2/rooms",
            Some(json!({"name": "acme-room"})),
            Some(&acme),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{room}");
    first_id
}

/// Waits until the webhook history shows `originals` original deliveries, all delivered.
async fn wait_for_deliveries(server: &TestServer, originals: usize) -> Value {
    let deadline = Instant::now() + TEN_SECONDS;
    loop {
        let history = ok(server, Method::GET, "/v2/analytics/webhooks?status=all&limit=100", None).await;
        let entries = history["events"].as_array().expect("history");
        let delivered = entries
            .iter()
            .filter(|entry| entry["event_name"] == "reporter.webhook.delivery.success")
            .filter(|entry| entry["payload"].get("is_replay").is_none())
            .count();
        if delivered == originals && entries.len() >= originals {
            return history;
        }
        assert!(
            Instant::now() < deadline,
            "{originals} deliveries never all succeeded: {history:#}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_for_replay(server: &TestServer, workflow: &str) {
    let deadline = Instant::now() + TEN_SECONDS;
    loop {
        let replay = ok(
            server,
            Method::GET,
            &format!("/v2/analytics/webhooks/replay/{workflow}"),
            None,
        )
        .await;
        if replay["status"] == "completed" {
            return;
        }
        assert!(Instant::now() < deadline, "replay {workflow} never completed: {replay}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// What the server answers about the data set, by question: the API's answers (status and
/// body) with each workspace's credentials, and the admin commands' output.
async fn answers(server: &TestServer, data: &DataSet) -> BTreeMap<String, Value> {
    let mut paths = vec![
        "/v2/rooms?limit=100".to_owned(),
        "/v2/templates?limit=100".to_owned(),
        "/v2/sessions?limit=100".to_owned(),
        "/v2/simulate/events?limit=1000".to_owned(),
        "/v2/analytics/webhooks?status=all&limit=100".to_owned(),
        format!("/v2/analytics/webhooks/replay/{}", data.replay),
    ];
    for room in &data.rooms {
        paths.push(format!("/v2/rooms/{room}"));
        paths.push(format!("/v2/room-codes/room/{room}"));
        paths.push(format!("/v2/active-rooms/{room}"));
        paths.push(format!("/v2/sessions?room_id={room}"));
    }
    for (room, peer) in &data.peers {
        paths.push(format!("/v2/simulate/rooms/{room}/peers/{peer}/messages"));
    }
    let (_, templates) = server.get("/v2/templates?limit=100").await;
    for template in templates["data"].as_array().expect("templates") {
        paths.push(format!("/v2/templates/{}", text(&template["id"])));
    }
    let (_, sessions) = server.get("/v2/sessions?limit=100").await;
    for session in sessions["data"].as_array().expect("sessions") {
        paths.push(format!("/v2/sessions/{}", text(&session["id"])));
    }

    let mut answers = BTreeMap::new();
    let workspaces = [("default", ACCESS_KEY, SECRET), ("acme", ACME_KEY, ACME_SECOND_SECRET)];
    for (workspace, key, secret) in workspaces {
        let token = management_token(key, secret);
        for path in &paths {
            let (status, body) = server.call_with(Method::GET, path, None, Some(&token)).await;
            answers.insert(
                format!("{workspace}: GET {path}"),
                json!({"status": status.as_u16(), "body": body}),
            );
        }
    }
    let retired = management_token(ACME_KEY, ACME_FIRST_SECRET);
    let (status, body) = server.call_with(Method::GET, "/v2/rooms", None, Some(&retired)).await;
    answers.insert(
        "acme's retired secret: GET /v2/rooms".into(),
        json!({"status": status.as_u16(), "body": body}),
    );
    let disabled = exchange(server, &data.disabled_code).await;
    answers.insert("exchange of the disabled code".into(), disabled);
    for args in [
        ["workspace", "list", "", ""],
        ["workspace", "secret", "list", "acme"],
        ["workspace", "webhook", "show", "default"],
    ] {
        let args: Vec<&str> = args.into_iter().filter(|arg| !arg.is_empty()).collect();
        answers.insert(format!("hms {}", args.join(" ")), json!(cli_ok(server, &args)));
    }
    answers
}

/// The room-code exchange's answer to `code`.
async fn exchange(server: &TestServer, code: &str) -> Value {
    let body = json!({"code": code, "user_id": "carol"});
    let reply = common::send(server.request(Method::POST, "/v2/token").json(&body)).await;
    json!({"status": reply.status.as_u16(), "body": reply.body})
}

// ---------------------------------------------------------------------------------------
// The copy
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL (HMS_TEST_POSTGRES_URL)"]
async fn a_copied_data_dir_answers_exactly_as_before_and_takes_new_writes() {
    let receiver = Receiver::start().await;
    let temp = tempfile::tempdir().expect("temp dir");
    let data_dir = temp.path();
    common::pin_embedded_database(data_dir);
    let mut sqlite = TestServer::start_in(data_dir, &["--simulate-peers"]);
    let data = make_data_set(&sqlite, &receiver).await;
    let before = answers(&sqlite, &data).await;
    let delivered_before = receiver.accepted();
    assert_eq!(sqlite.terminate().code(), Some(0));

    common::unpin_embedded_database(data_dir);
    let url = fresh_database(data_dir);
    let copied = copy(data_dir, &url);
    assert!(copied.status.success(), "the copy failed: {}", stderr(&copied));
    let report = stdout(&copied);
    assert!(
        !report.contains("postgres@"),
        "the report shows the database user: {report}"
    );
    for (table, rows) in [("workspaces", 2), ("rooms", 4), ("room_codes", 3), ("session_peers", 2)] {
        assert!(
            report
                .lines()
                .any(|line| line.split_whitespace().collect::<Vec<_>>() == [table, &rows.to_string()]),
            "no line `{table} {rows}` in the report:\n{report}"
        );
    }
    assert!(!report.contains("_sqlx_migrations"), "{report}");

    let postgres = TestServer::start_in(data_dir, &["--simulate-peers"]);
    let after = answers(&postgres, &data).await;
    assert_same_answers(&before, &after);
    assert_eq!(after["default: GET /v2/rooms?limit=100"]["status"], 200);
    assert_eq!(after["acme: GET /v2/rooms?limit=100"]["status"], 200);
    assert_eq!(after["acme's retired secret: GET /v2/rooms"]["status"], 401);
    assert_eq!(after["exchange of the disabled code"]["status"], 403);
    let exchanged = exchange(&postgres, &data.enabled_code).await;
    assert_eq!(exchanged["status"], 200, "{exchanged}");
    assert!(exchanged["body"]["token"].is_string(), "{exchanged}");
    let secrets = text(&after["hms workspace secret list acme"]);
    let retired = secrets.lines().find(|line| line.starts_with(&data.retired_secret));
    assert!(retired.is_some_and(|line| !line.ends_with("live")), "{secrets}");
    assert_eq!(receiver.accepted(), delivered_before, "the copy re-sent deliveries");

    new_writes_succeed(&postgres, &data, &before).await;
}

/// Prints the first difference rather than two whole maps.
fn assert_same_answers(before: &BTreeMap<String, Value>, after: &BTreeMap<String, Value>) {
    assert_eq!(before.keys().collect::<Vec<_>>(), after.keys().collect::<Vec<_>>());
    for (question, answer) in before {
        assert_eq!(
            &after[question], answer,
            "{question} answers differently after the copy"
        );
    }
}

/// A new room, a new session with its events, a message and webhook deliveries: every
/// numbered table takes rows after the copied ones.
async fn new_writes_succeed(server: &TestServer, data: &DataSet, before: &BTreeMap<String, Value>) {
    let old_events = before["default: GET /v2/simulate/events?limit=1000"]["body"]["events"]
        .as_array()
        .expect("events")
        .clone();
    ok(
        server,
        Method::POST,
        "/v2/rooms",
        Some(json!({"name": "after-the-copy"})),
    )
    .await;
    let peers = live_session(server, &data.rooms[0]).await;
    let log = ok(server, Method::GET, "/v2/simulate/events?limit=1000", None).await;
    let events = log["events"].as_array().expect("events");
    assert!(events.len() > old_events.len(), "no new events: {log}");
    assert_eq!(&events[..old_events.len()], &old_events[..], "the old events changed");
    let (room, guest) = &peers[1];
    let inbox = ok(
        server,
        Method::GET,
        &format!("/v2/simulate/rooms/{room}/peers/{guest}/messages"),
        None,
    )
    .await;
    assert!(inbox.to_string().contains("welcome"), "{inbox}");
    wait_for_deliveries(server, events.len()).await;
}

// ---------------------------------------------------------------------------------------
// Refusals
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL (HMS_TEST_POSTGRES_URL)"]
async fn a_target_that_holds_data_is_refused_and_left_unchanged() {
    let source_temp = tempfile::tempdir().expect("temp dir");
    let source_dir = source_temp.path();
    common::pin_embedded_database(source_dir);
    let mut source = TestServer::start_in(source_dir, &[]);
    ok(&source, Method::POST, "/v2/rooms", Some(json!({"name": "from-sqlite"}))).await;
    source.terminate();

    let target_temp = tempfile::tempdir().expect("temp dir");
    let target_dir = target_temp.path();
    let url = fresh_database(target_dir);
    let mut target = TestServer::start_in(target_dir, &[]);
    ok(
        &target,
        Method::POST,
        "/v2/rooms",
        Some(json!({"name": "already-here"})),
    )
    .await;
    let rooms_before = ok(&target, Method::GET, "/v2/rooms", None).await;
    target.terminate();
    let tables_before = table_digest(&url);

    let refused = copy(source_dir, &url);
    assert!(!refused.status.success(), "the copy went ahead: {}", stdout(&refused));
    assert!(
        stderr(&refused).contains("the target database already holds data (1 workspace(s))"),
        "{}",
        stderr(&refused)
    );
    assert_eq!(table_digest(&url), tables_before, "the refused copy changed the target");
    let target = TestServer::start_in(target_dir, &[]);
    assert_eq!(ok(&target, Method::GET, "/v2/rooms", None).await, rooms_before);
}

/// Every row of every table of the database at `url`, as one text.
fn table_digest(url: &str) -> String {
    let tables = psql(
        url,
        "SELECT string_agg(table_name::text, ' ' ORDER BY table_name) FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_name <> '_sqlx_migrations'",
    );
    tables
        .split_whitespace()
        .map(|table| {
            let rows = psql(
                url,
                &format!("SELECT coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '') FROM \"{table}\" t"),
            );
            format!("{table}:\n{rows}")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL (HMS_TEST_POSTGRES_URL)"]
async fn a_data_dir_in_use_is_refused() {
    let temp = tempfile::tempdir().expect("temp dir");
    let data_dir = temp.path();
    common::pin_embedded_database(data_dir);
    let server = TestServer::start_in(data_dir, &[]);
    let target_temp = tempfile::tempdir().expect("temp dir");
    let url = fresh_database(target_temp.path());

    let refused = copy(data_dir, &url);
    assert!(!refused.status.success(), "the copy went ahead: {}", stdout(&refused));
    assert!(
        stderr(&refused).contains("is in use by a running hms serve: stop it before copying"),
        "{}",
        stderr(&refused)
    );
    assert_eq!(
        psql(
            &url,
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()"
        ),
        "0",
        "the refused copy wrote to the target"
    );
    let (status, _) = server.get("/v2/rooms").await;
    assert_eq!(status, StatusCode::OK, "the server suffered from the refused copy");
}

/// Not a PostgreSQL URL, or a data dir without a database: refused before anything is
/// opened, and without showing the URL.
#[test]
fn bad_arguments_are_refused_without_showing_the_url() {
    let temp = tempfile::tempdir().expect("temp dir");
    let refused = copy(temp.path(), "mysql://root:hunter2@db/app");
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("must name a PostgreSQL database"),
        "{}",
        stderr(&refused)
    );
    assert!(!stderr(&refused).contains("hunter2"), "{}", stderr(&refused));

    let refused = copy(temp.path(), "postgres://app:hunter2@127.0.0.1:9/app");
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("holds no openhms database"),
        "{}",
        stderr(&refused)
    );
    assert!(!temp.path().join("openhms.db").exists(), "the copy created a database");
}
