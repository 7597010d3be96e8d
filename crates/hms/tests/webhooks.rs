//! Webhook delivery against a real HTTP receiver on loopback (spec 20 §1–§3, §5.1–5.4;
//! spec 33 A3–A5): the envelope, custom headers and signature, room-level endpoints,
//! endpoints set from the config file and the CLI, retries and giving up, ordering under
//! failures, isolation of dead and hanging endpoints, a receiver that goes away, a crash
//! in the middle, slow and huge answers, the delivery history, replays, URL validation,
//! and secrets kept out of the logs.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{SECRET, TestServer, envelope, field_of, format_unix_secs, is_uuid_v4, now_secs, timestamp_millis};
use hmac::{Hmac, Mac};
use reqwest::{Method, StatusCode};
use serde_json::{Map, Value, json};
use sha2::Sha256;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

const TEN_SECONDS: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------
// The receiver: a small HTTP/1.1 server that records every request and answers as told
// ---------------------------------------------------------------------------------------

/// How the receiver answers one request.
#[derive(Clone, Copy, Debug)]
struct Answer {
    status: u16,
    /// Waited before answering.
    delay: Duration,
    /// Bytes of body sent.
    body_len: usize,
}

impl Answer {
    const OK: Answer = Answer {
        status: 200,
        delay: Duration::ZERO,
        body_len: 2,
    };

    fn status(status: u16) -> Self {
        Self { status, ..Self::OK }
    }

    fn slow(delay: Duration) -> Self {
        Self { delay, ..Self::OK }
    }
}

/// Decides the answer from the request's JSON body and how many requests for the same
/// event (and replay flag) came before it.
type Plan = Arc<dyn Fn(&Value, usize) -> Answer + Send + Sync>;

/// One request the receiver got.
#[derive(Clone, Debug)]
struct Hit {
    at: Instant,
    method: String,
    path: String,
    /// Names lowercased, in the order received.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    json: Value,
    /// Earlier requests for the same event id and replay flag.
    attempt: usize,
    status: u16,
    /// The status line and headers of the answer were written.
    answered: bool,
}

impl Hit {
    fn id(&self) -> &str {
        self.json["id"].as_str().unwrap_or("")
    }

    fn kind(&self) -> &str {
        self.json["type"].as_str().unwrap_or("")
    }

    fn room(&self) -> &str {
        self.json["data"]["room_id"].as_str().unwrap_or("")
    }

    fn is_replay(&self) -> bool {
        self.json.get("is_replay") == Some(&Value::Bool(true))
    }

    /// Answered with a 2xx.
    fn acked(&self) -> bool {
        self.answered && (200..300).contains(&self.status)
    }

    fn header_values(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The value of a header that may appear at most once.
    fn header(&self, name: &str) -> Option<&str> {
        let values = self.header_values(name);
        assert!(values.len() <= 1, "{name} sent {} times: {values:?}", values.len());
        values.first().copied()
    }
}

struct Shared {
    hits: Mutex<Vec<Hit>>,
    plan: Mutex<Plan>,
}

struct Receiver {
    port: u16,
    shared: Arc<Shared>,
    accept: Mutex<Option<JoinHandle<()>>>,
}

fn listen(port: u16) -> std::io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(SocketAddr::from(([127, 0, 0, 1], port)))?;
    socket.listen(1024)
}

impl Receiver {
    /// Listens on a fresh loopback port and answers 200 to everything.
    async fn start() -> Self {
        let plan: Plan = Arc::new(|_, _| Answer::OK);
        let shared = Arc::new(Shared {
            hits: Mutex::default(),
            plan: Mutex::new(plan),
        });
        let listener = listen(0).expect("the receiver binds");
        let port = listener.local_addr().expect("address").port();
        let receiver = Self {
            port,
            shared,
            accept: Mutex::new(None),
        };
        receiver.serve(listener);
        receiver
    }

    fn serve(&self, listener: TcpListener) {
        let shared = self.shared.clone();
        let task = tokio::spawn(async move {
            // Dropping this task (on `stop`) drops the set, which aborts every connection.
            let mut connections = JoinSet::new();
            loop {
                while connections.try_join_next().is_some() {}
                if let Ok((stream, _)) = listener.accept().await {
                    connections.spawn(serve_connection(stream, shared.clone()));
                }
            }
        });
        *self.accept.lock().unwrap() = Some(task);
    }

    /// Goes away: stops listening and drops every open connection.
    async fn stop(&self) {
        let task = self.accept.lock().unwrap().take();
        if let Some(task) = task {
            task.abort();
            let _ = task.await;
        }
    }

    /// Comes back on the same port.
    async fn resume(&self) {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match listen(self.port) {
                Ok(listener) => return self.serve(listener),
                Err(error) if Instant::now() < deadline => {
                    eprintln!("rebinding port {}: {error}", self.port);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(error) => panic!("cannot listen on port {} again: {error}", self.port),
            }
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn answer_with(&self, plan: impl Fn(&Value, usize) -> Answer + Send + Sync + 'static) {
        *self.shared.plan.lock().unwrap() = Arc::new(plan);
    }

    fn hits(&self) -> Vec<Hit> {
        self.shared.hits.lock().unwrap().clone()
    }

    /// Polls until `done` holds for the requests received so far (at most `within`).
    async fn wait_for(&self, what: &str, within: Duration, done: impl Fn(&[Hit]) -> bool) -> Vec<Hit> {
        let deadline = Instant::now() + within;
        loop {
            let hits = self.hits();
            if done(&hits) {
                return hits;
            }
            if Instant::now() >= deadline {
                panic!("{what}: not within {within:?}; the receiver got:\n{}", describe(&hits));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(task) = self.accept.lock().unwrap().take() {
            task.abort();
        }
    }
}

fn describe(hits: &[Hit]) -> String {
    let start = hits.first().map(|h| h.at);
    hits.iter()
        .map(|h| {
            format!(
                "  +{:>5} ms {} {} room={} id={} attempt={} status={} answered={} replay={}",
                start.map_or(0, |s| h.at.duration_since(s).as_millis()),
                h.method,
                h.kind(),
                h.room(),
                h.id(),
                h.attempt,
                h.status,
                h.answered,
                h.is_replay()
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

async fn read_line(reader: &mut BufReader<OwnedReadHalf>) -> Option<String> {
    let mut line = String::new();
    match reader.read_line(&mut line).await {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(line.trim_end_matches(['\r', '\n']).to_owned()),
    }
}

async fn read_request(reader: &mut BufReader<OwnedReadHalf>) -> Option<Request> {
    let mut line = read_line(reader).await?;
    while line.trim().is_empty() {
        line = read_line(reader).await?;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let path = parts.next()?.to_owned();
    let mut headers = Vec::new();
    loop {
        let header = read_line(reader).await?;
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    let find = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    let mut body = Vec::new();
    if let Some(length) = find("content-length") {
        body.resize(length.parse().ok()?, 0);
        reader.read_exact(&mut body).await.ok()?;
    } else if find("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            let size = read_line(reader).await?;
            let size = usize::from_str_radix(size.split(';').next()?.trim(), 16).ok()?;
            if size == 0 {
                while !read_line(reader).await?.is_empty() {}
                break;
            }
            let start = body.len();
            body.resize(start + size, 0);
            reader.read_exact(&mut body[start..]).await.ok()?;
            let mut crlf = [0u8; 2];
            reader.read_exact(&mut crlf).await.ok()?;
        }
    }
    Some(Request {
        method,
        path,
        headers,
        body,
    })
}

fn answer_head(answer: &Answer) -> String {
    let reason = match answer.status {
        200 => "OK",
        204 => "No Content",
        302 => "Found",
        500 => "Internal Server Error",
        _ => "Whatever",
    };
    if answer.status == 204 {
        "HTTP/1.1 204 No Content\r\n\r\n".to_owned()
    } else {
        format!(
            "HTTP/1.1 {} {reason}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\r\n",
            answer.status, answer.body_len
        )
    }
}

async fn write_body(writer: &mut OwnedWriteHalf, len: usize) -> bool {
    let chunk = vec![b'x'; 64 * 1024];
    let mut left = len;
    while left > 0 {
        let n = left.min(chunk.len());
        if writer.write_all(&chunk[..n]).await.is_err() {
            return false;
        }
        left -= n;
    }
    writer.flush().await.is_ok()
}

async fn serve_connection(stream: TcpStream, shared: Arc<Shared>) {
    let (reader, mut writer) = stream.into_split();
    let mut reader = BufReader::new(reader);
    while let Some(request) = read_request(&mut reader).await {
        let close = request
            .headers
            .iter()
            .any(|(n, v)| n == "connection" && v.eq_ignore_ascii_case("close"));
        let json: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let plan = shared.plan.lock().unwrap().clone();
        let (index, answer) = {
            let mut hits = shared.hits.lock().unwrap();
            let replay = json.get("is_replay") == Some(&Value::Bool(true));
            let attempt = hits
                .iter()
                .filter(|h| h.id() == json["id"].as_str().unwrap_or("") && h.is_replay() == replay)
                .count();
            let answer = plan(&json, attempt);
            hits.push(Hit {
                at: Instant::now(),
                method: request.method,
                path: request.path,
                headers: request.headers,
                body: request.body,
                json,
                attempt,
                status: answer.status,
                answered: false,
            });
            (hits.len() - 1, answer)
        };
        if !answer.delay.is_zero() {
            tokio::time::sleep(answer.delay).await;
        }
        let head = answer_head(&answer);
        if writer.write_all(head.as_bytes()).await.is_err() || writer.flush().await.is_err() {
            return;
        }
        shared.hits.lock().unwrap()[index].answered = true;
        if answer.status != 204 && !write_body(&mut writer, answer.body_len).await {
            return;
        }
        if close {
            return;
        }
    }
}

/// A port where nothing listens.
fn dead_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address").port()
}

/// An endpoint that accepts connections and never answers; answers its port.
fn hanging_endpoint() -> (u16, JoinHandle<()>) {
    let listener = listen(0).expect("bind");
    let port = listener.local_addr().expect("address").port();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    (port, task)
}

fn hmac_hex(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key");
    mac.update(body);
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// A deterministic number in [0, 1) from a seed, an event id and an attempt.
fn chance(seed: u64, id: &str, attempt: usize) -> f64 {
    let mut x = seed ^ (attempt as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    for b in id.bytes() {
        x = (x ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^= x >> 31;
    (x >> 11) as f64 / (1u64 << 53) as f64
}

// ---------------------------------------------------------------------------------------
// The server: a config file with a short retry schedule
// ---------------------------------------------------------------------------------------

#[derive(Clone)]
struct Config {
    values: BTreeMap<&'static str, String>,
    workspace: String,
}

fn config() -> Config {
    let values = [
        ("retry_schedule_ms", "[100, 200, 300]"),
        ("max_backoff_ms", "500"),
        ("retry_window_secs", "300"),
        ("timeout_ms", "1000"),
        ("poll_ms", "20"),
        ("replay_per_sec", "5"),
    ];
    Config {
        values: values.into_iter().map(|(k, v)| (k, v.to_owned())).collect(),
        workspace: String::new(),
    }
}

/// A TOML basic string.
fn toml_string(text: &str) -> String {
    serde_json::to_string(text).expect("string")
}

impl Config {
    fn with(mut self, key: &'static str, value: impl ToString) -> Self {
        self.values.insert(key, value.to_string());
        self
    }

    /// The default workspace's endpoint, as `[[webhooks.workspaces]]`.
    fn workspace_webhook(mut self, url: &str, headers: &[(&str, &str)], secret: Option<&str>) -> Self {
        let mut text = format!(
            "\n[[webhooks.workspaces]]\nworkspace = \"default\"\nurl = {}\n",
            toml_string(url)
        );
        if let Some(secret) = secret {
            text += &format!("signing_secret = {}\n", toml_string(secret));
        }
        if !headers.is_empty() {
            text += "[webhooks.workspaces.headers]\n";
            for (name, value) in headers {
                text += &format!("{} = {}\n", toml_string(name), toml_string(value));
            }
        }
        self.workspace = text;
        self
    }

    fn render(&self) -> String {
        let mut text = "[webhooks]\n".to_owned();
        for (key, value) in &self.values {
            text += &format!("{key} = {value}\n");
        }
        text + &self.workspace
    }
}

/// A server with the peer simulator and a config file, on a data dir of its own.
struct Hms {
    server: TestServer,
    dir: tempfile::TempDir,
}

impl Deref for Hms {
    type Target = TestServer;

    fn deref(&self) -> &TestServer {
        &self.server
    }
}

impl DerefMut for Hms {
    fn deref_mut(&mut self) -> &mut TestServer {
        &mut self.server
    }
}

impl Hms {
    fn start(config: &Config) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("hms.toml"), config.render()).expect("config file");
        std::fs::create_dir(dir.path().join("data")).expect("data dir");
        let server = Self::spawn(&dir);
        Self { server, dir }
    }

    fn spawn(dir: &tempfile::TempDir) -> TestServer {
        let config = dir.path().join("hms.toml").display().to_string();
        TestServer::start_in(&dir.path().join("data"), &["--simulate-peers", "--config", &config])
    }

    /// Starts the server again on the same data dir and config (after `kill`).
    fn restart(&mut self) {
        self.server = Self::spawn(&self.dir);
    }
}

// ---------------------------------------------------------------------------------------
// API helpers
// ---------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct Room {
    id: String,
    name: String,
    customer_id: String,
    app_id: String,
    template_id: String,
}

fn text(value: &Value) -> String {
    value
        .as_str()
        .unwrap_or_else(|| panic!("{value} is no string"))
        .to_owned()
}

async fn create_room(server: &TestServer, name: &str, webhook: Option<Value>) -> Room {
    let mut body = json!({ "name": name });
    if let Some(webhook) = webhook {
        body["webhook"] = webhook;
    }
    let (status, room) = server.post("/v2/rooms", body).await;
    assert_eq!(status, StatusCode::OK, "create room {name}: {room}");
    Room {
        id: text(&room["id"]),
        name: text(&room["name"]),
        customer_id: text(&room["customer_id"]),
        app_id: text(&room["app_id"]),
        template_id: text(&room["template_id"]),
    }
}

async fn join_with(server: &TestServer, room: &str, body: Value) -> Value {
    let (status, peer) = server
        .post(&format!("/v2/simulate/rooms/{room}/peers"), body.clone())
        .await;
    assert_eq!(status, StatusCode::OK, "join {body}: {peer}");
    peer
}

async fn join(server: &TestServer, room: &str, name: &str) -> Value {
    let body = json!({ "role": "guest", "name": name, "user_id": name.to_lowercase() });
    join_with(server, room, body).await
}

async fn leave(server: &TestServer, room: &str, peer: &Value) {
    let path = format!("/v2/simulate/rooms/{room}/peers/{}", text(&peer["id"]));
    let (status, body) = server.call(Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::OK, "leave: {body}");
}

/// The event log of one room, oldest first.
async fn logged(server: &TestServer, room: &str) -> Vec<Value> {
    let (status, log) = server
        .get(&format!("/v2/simulate/events?limit=1000&room_id={room}"))
        .await;
    assert_eq!(status, StatusCode::OK, "events: {log}");
    log["events"].as_array().expect("events").clone()
}

/// The whole event log of the workspace, oldest first.
async fn all_logged(server: &TestServer) -> Vec<Value> {
    let (status, log) = server.get("/v2/simulate/events?limit=1000").await;
    assert_eq!(status, StatusCode::OK, "events: {log}");
    log["events"].as_array().expect("events").clone()
}

fn kinds(events: &[Value]) -> Vec<String> {
    events.iter().map(|e| text(&e["type"])).collect()
}

async fn history(server: &TestServer, query: &str) -> Value {
    let (status, body) = server.get(&format!("/v2/analytics/webhooks?{query}")).await;
    assert_eq!(status, StatusCode::OK, "history?{query}: {body}");
    body
}

fn history_events(history: &Value) -> Vec<Value> {
    history["events"].as_array().expect("events").clone()
}

/// Polls the history for `query` until `done` holds (at most `within`).
async fn wait_for_history(server: &TestServer, query: &str, within: Duration, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let answer = history(server, query).await;
        if done(&answer) {
            return answer;
        }
        assert!(Instant::now() < deadline, "history?{query} never got there: {answer:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A history entry as spec 33 A3 describes it (plus the `attempts` and `is_replay` that
/// openhms adds to `payload`).
fn report(event: &Value, url: &str, outcome: &str, attempts: usize, error: Option<&str>, replay: bool) -> Value {
    let data = &event["data"];
    let mut event_data = Map::new();
    for key in ["session_id", "peer_id", "user_id"] {
        if let Some(value) = data.get(key) {
            event_data.insert(key.to_owned(), value.clone());
        }
    }
    let mut payload = json!({
        "event_data": event_data,
        "webhook_url": url,
        "original_event_name": event["type"],
        "attempts": attempts,
    });
    if let Some(error) = error {
        payload["error_reason"] = json!(error);
    }
    if replay {
        payload["is_replay"] = json!(true);
    }
    json!({
        "event_id": event["id"],
        "event_name": format!("reporter.webhook.delivery.{outcome}"),
        "room_id": data["room_id"],
        "event_timestamp": event["timestamp"],
        "payload": payload,
    })
}

fn pagination(page: u64, size: u64, items: u64) -> Value {
    let pages = items.div_ceil(size);
    json!({
        "current_page": page, "page_size": size, "total_pages": pages, "total_items": items,
        "has_next": page < pages, "has_prev": page > 1,
    })
}

/// The original deliveries (not replays) of `room`, in arrival order.
fn originals<'a>(hits: &'a [Hit], room: &str) -> Vec<&'a Hit> {
    hits.iter().filter(|h| h.room() == room && !h.is_replay()).collect()
}

/// Whether every event of `events` has an acknowledged original delivery.
fn all_acked(hits: &[Hit], events: &[Value]) -> bool {
    let acked: HashSet<&str> = hits
        .iter()
        .filter(|h| h.acked() && !h.is_replay())
        .map(Hit::id)
        .collect();
    events.iter().all(|e| acked.contains(e["id"].as_str().unwrap_or("?")))
}

/// A barrier instead of a pause: `room`, whose events go to `receiver`, logs a later event
/// (a peer joins) and this waits until it is acknowledged. Events are planned in the order
/// they are logged and a room's events are delivered one after the other in that order, so
/// once the later one is in, whatever the earlier ones were going to cause has arrived.
/// Returns what the receiver got, less the later event's deliveries.
async fn after_a_later_event(server: &TestServer, receiver: &Receiver, room: &str) -> Vec<Hit> {
    let seen = logged(server, room).await.len();
    join(server, room, "Barrier").await;
    let later = logged(server, room).await.split_off(seen);
    let hits = receiver
        .wait_for("a later event", TEN_SECONDS, |h| all_acked(h, &later))
        .await;
    let later: HashSet<&str> = later.iter().filter_map(|e| e["id"].as_str()).collect();
    hits.into_iter().filter(|h| !later.contains(h.id())).collect()
}

/// `room`'s original deliveries are, event after event in log order, one run of requests
/// each: failed attempts, then one acknowledged one (the events in `unknown`, whose
/// outcome was lost, may be acknowledged more than once). Every body is exactly the
/// logged event and every attempt of an event sends the same bytes.
fn assert_delivered_in_order(hits: &[Hit], room: &str, log: &[Value], unknown: &HashSet<String>) {
    let mine = originals(hits, room);
    let mut runs: Vec<Vec<&Hit>> = Vec::new();
    for hit in mine {
        match runs.last_mut() {
            Some(run) if run[0].id() == hit.id() => run.push(hit),
            _ => runs.push(vec![hit]),
        }
    }
    let run_ids: Vec<&str> = runs.iter().map(|run| run[0].id()).collect();
    let log_ids: Vec<&str> = log.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(
        run_ids,
        log_ids,
        "room {room}: one run of requests per event, in log order {:?}; got\n{}",
        kinds(log),
        describe(hits)
    );
    for (run, event) in runs.iter().zip(log) {
        let last = run.last().unwrap();
        assert!(
            last.acked(),
            "the last request for {} was acknowledged:\n{}",
            event["id"],
            describe(hits)
        );
        if !unknown.contains(last.id()) {
            let acked = run.iter().filter(|h| h.acked()).count();
            assert_eq!(acked, 1, "{} acknowledged once:\n{}", event["id"], describe(hits));
        }
        for hit in run {
            assert_eq!(&hit.json, event, "the body is the logged event");
            assert_eq!(hit.body, run[0].body, "every attempt sends the same bytes");
        }
    }
}

/// The exact envelope of spec 20 §3 and the `data` fields of §5.1–5.2.
fn assert_envelope(event: &Value, room: &Room) {
    let keys: Vec<&str> = event.as_object().expect("object").keys().map(String::as_str).collect();
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        [
            "account_id",
            "app_id",
            "data",
            "id",
            "template_id",
            "timestamp",
            "type",
            "version"
        ],
        "{event}"
    );
    assert_eq!(event["version"], json!("2.0"));
    assert!(is_uuid_v4(&text(&event["id"])), "{event}");
    assert_eq!(event["account_id"], json!(room.customer_id));
    assert_eq!(event["app_id"], json!(room.app_id));
    assert_eq!(event["template_id"], json!(room.template_id));
    let timestamp = text(&event["timestamp"]);
    assert!(
        timestamp.len() == 20 && timestamp_millis(&timestamp).is_some_and(|ms| ms % 1000 == 0),
        "whole-second RFC 3339: {timestamp}"
    );
    let kind = text(&event["type"]);
    let mut expected = vec![
        "room_id",
        "room_name",
        "session_id",
        "template_id",
        "session_started_at",
    ];
    match kind.as_str() {
        "session.open.success" => {}
        "session.close.success" => expected.extend(["session_duration", "session_stopped_at"]),
        "peer.join.success" | "peer.leave.success" => {
            expected.extend([
                "peer_id",
                "user_id",
                "user_name",
                "user_data",
                "role",
                "joined_at",
                "type",
            ]);
            if kind == "peer.leave.success" {
                expected.extend(["left_at", "duration", "reason", "message"]);
            }
        }
        other => panic!("unexpected event {other}"),
    }
    expected.sort_unstable();
    let mut data: Vec<&str> = event["data"]
        .as_object()
        .expect("data")
        .keys()
        .map(String::as_str)
        .collect();
    data.sort_unstable();
    assert_eq!(data, expected, "data of {kind}");
    assert_eq!(event["data"]["room_id"], json!(room.id));
    assert_eq!(event["data"]["room_name"], json!(room.name));
    assert_eq!(event["data"]["template_id"], json!(room.template_id));
}

fn since(earlier: &Hit, later: &Hit) -> Duration {
    later.at.duration_since(earlier.at)
}

// ---------------------------------------------------------------------------------------
// Delivery: envelope, headers, signature, endpoints
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_file_endpoint_gets_exact_signed_events_and_a_room_webhook_replaces_it() {
    let workspace_hook = Receiver::start().await;
    let room_hook = Receiver::start().await;
    let secret = "whsec-config-3f1c9a";
    let url = workspace_hook.url("/hooks/100ms?source=openhms");
    let headers = [("X-Api-Key", "key-123"), ("Authorization", "Bearer hook-token")];
    let hms = Hms::start(&config().workspace_webhook(&url, &headers, Some(secret)));

    let room = create_room(&hms, "envelope", None).await;
    let body = json!({"role": "host", "name": "Alice", "user_id": "alice-1", "metadata": "{\"a\":1}"});
    let alice = join_with(&hms, &room.id, body).await;
    leave(&hms, &room.id, &alice).await;
    let log = logged(&hms, &room.id).await;
    assert_eq!(
        kinds(&log),
        [
            "session.open.success",
            "peer.join.success",
            "peer.leave.success",
            "session.close.success"
        ]
    );
    let hits = workspace_hook
        .wait_for("the room's four events", TEN_SECONDS, |h| all_acked(h, &log))
        .await;
    assert_delivered_in_order(&hits, &room.id, &log, &HashSet::new());
    assert_eq!(hits.len(), 4, "{}", describe(&hits));
    for hit in &hits {
        assert_eq!(hit.method, "POST");
        assert_eq!(hit.path, "/hooks/100ms?source=openhms");
        assert_eq!(hit.header_values("content-type"), ["application/json"]);
        assert_eq!(hit.header_values("x-api-key"), ["key-123"]);
        assert_eq!(hit.header_values("authorization"), ["Bearer hook-token"]);
        let signature = hit.header("x-100ms-signature").expect("a signature");
        assert_eq!(signature, hmac_hex(secret, &hit.body), "HMAC-SHA256 of the raw body");
        assert!(
            signature.len() == 64 && signature.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
            "lowercase hex: {signature}"
        );
        assert_envelope(&hit.json, &room);
    }
    let joined = &hits[1].json["data"];
    let expected_peer = json!({
        "peer_id": alice["id"], "user_id": "alice-1", "user_name": "Alice",
        "user_data": "{\"a\":1}", "role": "host", "type": "regular",
    });
    for (key, value) in expected_peer.as_object().unwrap() {
        assert_eq!(&joined[key], value, "peer.join.success data.{key}");
    }
    assert_eq!(hits[2].json["data"]["reason"], json!("client request"));
    assert_eq!(hits[2].json["data"]["message"], json!(""));
    let session_id = &hits[0].json["data"]["session_id"];
    assert!(hits.iter().all(|h| &h.json["data"]["session_id"] == session_id));

    // A room with its own webhook: its events go there only, with its headers instead of
    // the workspace's, still signed with the workspace's secret.
    let webhook = json!({"url": room_hook.url("/room-hook"), "headers": {"X-Room-Token": "room-token-1"}});
    let own = create_room(&hms, "own-hook", Some(webhook)).await;
    join(&hms, &own.id, "Bob").await;
    let own_log = logged(&hms, &own.id).await;
    assert_eq!(kinds(&own_log), ["session.open.success", "peer.join.success"]);
    let own_hits = room_hook
        .wait_for("the room's own endpoint", TEN_SECONDS, |h| all_acked(h, &own_log))
        .await;
    assert_delivered_in_order(&own_hits, &own.id, &own_log, &HashSet::new());
    assert_eq!(own_hits.len(), 2);
    for hit in &own_hits {
        assert_eq!(hit.path, "/room-hook");
        assert_eq!(hit.header_values("content-type"), ["application/json"]);
        assert_eq!(hit.header_values("x-room-token"), ["room-token-1"]);
        assert_eq!(hit.header_values("x-api-key"), Vec::<&str>::new());
        assert_eq!(hit.header_values("authorization"), Vec::<&str>::new());
        assert_eq!(
            hit.header("x-100ms-signature"),
            Some(hmac_hex(secret, &hit.body).as_str())
        );
        assert_envelope(&hit.json, &own);
    }
    let workspace_hits = after_a_later_event(&hms, &workspace_hook, &room.id).await;
    assert_eq!(
        workspace_hits.len(),
        4,
        "the workspace endpoint got none of the room's events"
    );

    // Changing the room's webhook sends its later events to the new URL.
    let webhook = json!({"url": room_hook.url("/moved"), "headers": {"X-Room-Token": "room-token-2"}});
    let (status, updated) = hms
        .post(&format!("/v2/rooms/{}", own.id), json!({ "webhook": webhook }))
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    let bob = join(&hms, &own.id, "Bobby").await;
    let own_log = logged(&hms, &own.id).await;
    assert_eq!(own_log.len(), 3);
    let own_hits = room_hook
        .wait_for("the join after the move", TEN_SECONDS, |h| all_acked(h, &own_log))
        .await;
    assert_eq!(own_hits.len(), 3, "{}", describe(&own_hits));
    assert_eq!(own_hits[2].path, "/moved");
    assert_eq!(own_hits[2].header_values("x-room-token"), ["room-token-2"]);
    assert_eq!(own_hits[2].json["data"]["peer_id"], bob["id"]);

    // The history: nine successful first attempts (the barrier's two
    // included), newest first.
    let everything = all_logged(&hms).await;
    let expected: Vec<Value> = everything
        .iter()
        .rev()
        .map(|e| {
            let target = if e["data"]["room_id"] != json!(own.id) {
                url.clone()
            } else if e["data"]["peer_id"] == bob["id"] {
                room_hook.url("/moved")
            } else {
                room_hook.url("/room-hook")
            };
            report(e, &target, "success", 1, None, false)
        })
        .collect();
    let answer = wait_for_history(&hms, "status=success", TEN_SECONDS, |h| {
        h["summary"]["total_events"] == json!(9)
    })
    .await;
    assert_eq!(
        answer,
        json!({"events": expected, "pagination": pagination(1, 50, 9), "summary": {"total_events": 9}})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_secret_nothing_is_signed_and_any_2xx_is_delivered_once() {
    let receiver = Receiver::start().await;
    receiver.answer_with(|_, _| Answer::status(204));
    let hms = Hms::start(&config());
    let hooked = create_room(&hms, "hooked", Some(json!({"url": receiver.url("/h")}))).await;
    let silent = create_room(&hms, "no-webhook", None).await;
    let peer = join(&hms, &hooked.id, "Carol").await;
    join(&hms, &silent.id, "Dan").await;
    leave(&hms, &hooked.id, &peer).await;
    let log = logged(&hms, &hooked.id).await;
    assert_eq!(log.len(), 4);
    receiver
        .wait_for("four events answered 204", TEN_SECONDS, |h| all_acked(h, &log))
        .await;
    // Nothing is sent again.
    let hits = after_a_later_event(&hms, &receiver, &hooked.id).await;
    assert_delivered_in_order(&hits, &hooked.id, &log, &HashSet::new());
    assert_eq!(hits.len(), 4, "each event once:\n{}", describe(&hits));
    for hit in &hits {
        assert_eq!(hit.header("x-100ms-signature"), None, "no secret, no signature");
        assert_eq!(hit.header_values("content-type"), ["application/json"]);
        assert_envelope(&hit.json, &hooked);
    }
    // The history has them, and the barrier's: the session it opened and its join.
    let log = logged(&hms, &hooked.id).await;
    assert_eq!(log.len(), 6);
    let expected: Vec<Value> = log
        .iter()
        .rev()
        .map(|e| report(e, &receiver.url("/h"), "success", 1, None, false))
        .collect();
    let answer = wait_for_history(&hms, "status=success", TEN_SECONDS, |h| {
        h["summary"]["total_events"] == json!(6)
    })
    .await;
    assert_eq!(
        answer,
        json!({"events": expected, "pagination": pagination(1, 50, 6), "summary": {"total_events": 6}})
    );
}

/// Custom headers that collide with the ones openhms sets itself must not give the
/// receiver two `Content-Type`s or a second, forged signature: the room is either refused
/// or its deliveries carry exactly openhms's own values.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_headers_cannot_duplicate_the_content_type_or_the_signature() {
    let receiver = Receiver::start().await;
    let secret = "whsec-collide";
    let hms = Hms::start(&config().workspace_webhook(&receiver.url("/ws"), &[], Some(secret)));
    let headers = json!({"Content-Type": "text/plain", "X-100ms-Signature": "forged"});
    let body = json!({"name": "collide", "webhook": {"url": receiver.url("/collide"), "headers": headers}});
    let (status, room) = hms.post("/v2/rooms", body).await;
    if status == StatusCode::BAD_REQUEST {
        assert_eq!(room["code"], json!(400), "{room}");
        return;
    }
    assert_eq!(status, StatusCode::OK, "{room}");
    let room = text(&room["id"]);
    join(&hms, &room, "Collider").await;
    let log = logged(&hms, &room).await;
    let hits = receiver
        .wait_for("the room's events", TEN_SECONDS, |h| all_acked(h, &log))
        .await;
    for hit in &hits {
        assert_eq!(
            hit.header_values("content-type"),
            ["application/json"],
            "{:?}",
            hit.headers
        );
        let signature = hmac_hex(secret, &hit.body);
        assert_eq!(
            hit.header_values("x-100ms-signature"),
            [signature.as_str()],
            "{:?}",
            hit.headers
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_sets_shows_and_clears_the_workspace_webhook_of_a_running_server() {
    let receiver = Receiver::start().await;
    let hms = Hms::start(&config());
    let room = create_room(&hms, "cli", None).await;
    let early = join(&hms, &room.id, "Early").await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    let url = receiver.url("/cli-hook");
    let secret = "cli-signing-secret-5e2";
    let output = hms.cli(&[
        "workspace",
        "webhook",
        "set",
        "default",
        "--url",
        &url,
        "--header",
        "X-Cli: yes",
        "--header",
        "X-Second: two words",
        "--signing-secret",
        secret,
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "webhook set: {stderr}");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        format!("events of workspace default now go to {url}\n")
    );
    let show = hms.cli(&["workspace", "webhook", "show", "default"]);
    assert!(show.status.success());
    assert_eq!(
        String::from_utf8_lossy(&show.stdout),
        format!("url: {url}\nheader: X-Cli: yes\nheader: X-Second: two words\nsigned: yes\n")
    );

    // Picked up without a restart.
    let late = join(&hms, &room.id, "Late").await;
    let log = logged(&hms, &room.id).await;
    let late_join = log
        .iter()
        .find(|e| e["type"] == json!("peer.join.success") && e["data"]["peer_id"] == late["id"])
        .expect("the late join is logged")
        .clone();
    let hits = receiver
        .wait_for("the join after the CLI set the endpoint", TEN_SECONDS, |h| {
            all_acked(h, std::slice::from_ref(&late_join))
        })
        .await;
    for hit in &hits {
        assert!(log.contains(&hit.json), "a logged event: {}", hit.json);
        assert_eq!(hit.path, "/cli-hook");
        assert_eq!(hit.header_values("x-cli"), ["yes"]);
        assert_eq!(hit.header_values("x-second"), ["two words"]);
        assert_eq!(
            hit.header("x-100ms-signature"),
            Some(hmac_hex(secret, &hit.body).as_str())
        );
    }

    // A bad URL is refused and changes nothing.
    let bad = hms.cli(&["workspace", "webhook", "set", "default", "--url", "ftp://x"]);
    assert!(!bad.status.success(), "ftp URL accepted");
    let stderr = String::from_utf8_lossy(&bad.stderr);
    // The domain's error, not an HTTP envelope.
    assert_eq!(stderr, "error: webhook.url must be an absolute http or https URL\n");
    let bad = hms.cli(&["workspace", "webhook", "set", "default", "--url", "not a url"]);
    assert!(!bad.status.success(), "`not a url` accepted");
    let show_again = hms.cli(&["workspace", "webhook", "show", "default"]);
    assert_eq!(show_again.stdout, show.stdout);

    // Cleared: later events go nowhere.
    let clear = hms.cli(&["workspace", "webhook", "clear", "default"]);
    assert!(clear.status.success());
    assert_eq!(String::from_utf8_lossy(&clear.stdout), "webhook removed\n");
    let show = hms.cli(&["workspace", "webhook", "show", "default"]);
    assert_eq!(
        String::from_utf8_lossy(&show.stdout),
        "workspace default has no webhook\n"
    );
    let before = receiver.hits().len();
    leave(&hms, &room.id, &early).await;
    // A room of its own sending to the same receiver, as the barrier: its events are logged
    // after the leave, so once they are in, the leave has been planned (to nowhere).
    let barrier = create_room(&hms, "barrier", Some(json!({"url": receiver.url("/barrier")}))).await;
    let hits = after_a_later_event(&hms, &receiver, &barrier.id).await;
    assert_eq!(hits.len(), before, "nothing is sent after clear");
    let clear = hms.cli(&["workspace", "webhook", "clear", "default"]);
    assert!(clear.status.success());
    assert_eq!(String::from_utf8_lossy(&clear.stdout), "the workspace had no webhook\n");
}

// ---------------------------------------------------------------------------------------
// Retries and giving up
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_attempts_are_retried_on_schedule_in_order() {
    let receiver = Receiver::start().await;
    // A redirect is no success either (and is not followed).
    receiver.answer_with(|_, attempt| match attempt {
        0 => Answer::status(500),
        1 => Answer::status(302),
        _ => Answer::OK,
    });
    let url = receiver.url("/retry");
    let hms = Hms::start(&config().workspace_webhook(&url, &[], None));
    let room = create_room(&hms, "retries", None).await;
    let peer = join(&hms, &room.id, "Eve").await;
    leave(&hms, &room.id, &peer).await;
    let log = logged(&hms, &room.id).await;
    assert_eq!(log.len(), 4);
    let hits = receiver
        .wait_for("four events, third attempts", TEN_SECONDS, |h| all_acked(h, &log))
        .await;
    assert_delivered_in_order(&hits, &room.id, &log, &HashSet::new());
    assert_eq!(hits.len(), 12, "three attempts per event:\n{}", describe(&hits));
    for run in hits.chunks(3) {
        let statuses: Vec<u16> = run.iter().map(|h| h.status).collect();
        assert_eq!(statuses, [500, 302, 200]);
        // The configured schedule: +100 ms, then +200 ms (not 100ms's +1 s, +3 s).
        let (first, second) = (since(&run[0], &run[1]), since(&run[1], &run[2]));
        assert!(
            first >= Duration::from_millis(100) && first < Duration::from_millis(900),
            "first retry after {first:?}"
        );
        assert!(
            second >= Duration::from_millis(200) && second < Duration::from_millis(1000),
            "second retry after {second:?}"
        );
    }
    let expected: Vec<Value> = log
        .iter()
        .rev()
        .map(|e| report(e, &url, "success", 3, None, false))
        .collect();
    let answer = wait_for_history(&hms, "", TEN_SECONDS, |h| {
        history_events(h)
            .iter()
            .all(|e| e["event_name"] == json!("reporter.webhook.delivery.success"))
            && h["summary"]["total_events"] == json!(4)
    })
    .await;
    assert_eq!(answer["events"], json!(expected));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_failing_past_the_retry_window_is_marked_failed_and_the_room_moves_on() {
    let receiver = Receiver::start().await;
    let refuse_opens = |event: &Value, _| {
        if event["type"] == json!("session.open.success") {
            Answer::status(500)
        } else {
            Answer::OK
        }
    };
    receiver.answer_with(refuse_opens);
    let url = receiver.url("/window");
    let hms = Hms::start(&config().with("retry_window_secs", 2).workspace_webhook(&url, &[], None));
    let room = create_room(&hms, "window", None).await;
    join(&hms, &room.id, "Frank").await;
    let log = logged(&hms, &room.id).await;
    assert_eq!(kinds(&log), ["session.open.success", "peer.join.success"]);
    let hits = receiver
        .wait_for("the join after the open gave up", TEN_SECONDS, |h| {
            all_acked(h, &log[1..])
        })
        .await;
    let opens: Vec<&Hit> = hits.iter().filter(|h| h.id() == log[0]["id"]).collect();
    let joins: Vec<&Hit> = hits.iter().filter(|h| h.id() == log[1]["id"]).collect();
    assert_eq!(opens.len() + joins.len(), hits.len());
    assert_eq!(joins.len(), 1, "{}", describe(&hits));
    assert!(opens.iter().all(|h| h.status == 500));
    // 0, +100, +200, +300 and then +500 ms: about six attempts (fewer when they run late).
    // None past the 2 s window, and the last is the one whose next retry would be past it.
    assert!((4..=6).contains(&opens.len()), "attempts:\n{}", describe(&hits));
    let (first, last) = (opens[0], opens[opens.len() - 1]);
    let span = since(first, last);
    assert!(
        span < Duration::from_millis(2300),
        "an attempt {span:?} after the first"
    );
    let next_delay = Duration::from_millis([100, 200, 300, 500, 500, 500][opens.len() - 1]);
    assert!(
        span + next_delay >= Duration::from_millis(1900),
        "gave up {span:?} after the first attempt, with the next retry still within the window"
    );
    assert!(joins[0].at > last.at, "the join waits for the open to be given up");
    assert_eq!(joins[0].json, log[1]);

    let failed_report = report(
        &log[0],
        &url,
        "failed",
        opens.len(),
        Some("endpoint answered 500"),
        false,
    );
    let failed = wait_for_history(&hms, "status=failed", TEN_SECONDS, |h| {
        h["summary"]["total_events"] == json!(1)
    })
    .await;
    assert_eq!(
        failed,
        json!({"events": [failed_report.clone()], "pagination": pagination(1, 50, 1), "summary": {"total_events": 1}})
    );
    let succeeded = wait_for_history(&hms, "status=success", TEN_SECONDS, |h| {
        h["summary"]["total_events"] == json!(1)
    })
    .await;
    assert_eq!(
        succeeded["events"],
        json!([report(&log[1], &url, "success", 1, None, false)])
    );

    // A replay of the failed delivery (the default status is `failed`) that fails again
    // within the window ends `completed_with_failures`.
    let (status, started) = hms.post("/v2/analytics/webhooks/replay", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{started}");
    assert_eq!(started["status"], json!("started"));
    assert_eq!(started["filters"]["status"], json!("failed"));
    let workflow = text(&started["workflow_id"]);
    let done = wait_for_replay(&hms, &workflow).await;
    assert_eq!(done["status"], json!("completed_with_failures"), "{done}");
    assert_eq!(done["progress"], json!({"total": 1, "completed": 0, "failed": 1}));
    assert_eq!(
        done["result"],
        json!({"total": 1, "completed": 0, "failed": 1, "failed_events": [log[0]["id"]]})
    );

    // Once the receiver takes it, a second replay delivers it, marked as a replay.
    receiver.answer_with(|_, _| Answer::OK);
    let (status, started) = hms.post("/v2/analytics/webhooks/replay", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{started}");
    assert_eq!(started["status"], json!("started"));
    let second = text(&started["workflow_id"]);
    assert_ne!(second, workflow);
    let done = wait_for_replay(&hms, &second).await;
    assert_eq!(done["status"], json!("completed"), "{done}");
    assert_eq!(
        done["result"],
        json!({"total": 1, "completed": 1, "failed": 0, "failed_events": []})
    );
    let hits = receiver.hits();
    let replayed: Vec<&Hit> = hits.iter().filter(|h| h.is_replay() && h.acked()).collect();
    assert_eq!(replayed.len(), 1, "{}", describe(&hits));
    let mut expected = log[0].clone();
    expected["is_replay"] = json!(true);
    assert_eq!(replayed[0].json, expected);
}

/// Polls a replay until it is no longer `Running` (at most 10 s).
async fn wait_for_replay(server: &TestServer, workflow: &str) -> Value {
    let deadline = Instant::now() + TEN_SECONDS;
    loop {
        let (status, body) = server.get(&format!("/v2/analytics/webhooks/replay/{workflow}")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        if body["status"] != json!("Running") {
            return body;
        }
        assert!(Instant::now() < deadline, "replay {workflow} still running: {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ---------------------------------------------------------------------------------------
// Ordering, isolation, a receiver that goes away, a crash
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_failures_keep_each_rooms_events_in_log_order() {
    let receiver = Receiver::start().await;
    receiver.answer_with(|event, attempt| {
        let id = event["id"].as_str().unwrap_or("");
        if attempt < 4 && chance(0x0005_eed0_f0dd, id, attempt) < 0.4 {
            Answer::status(500)
        } else {
            Answer::OK
        }
    });
    let secret = "whsec-order";
    let hms = Hms::start(&config().workspace_webhook(&receiver.url("/order"), &[], Some(secret)));
    let mut rooms = Vec::new();
    for n in 0..3 {
        rooms.push(create_room(&hms, &format!("order-{n}"), None).await);
    }
    // The rooms' joins and leaves interleave in the log.
    let server = &hms.server;
    let sessions = rooms.iter().enumerate().map(|(n, room)| async move {
        let mut peers = Vec::new();
        for p in 0..5 {
            peers.push(join(server, &room.id, &format!("P{n}x{p}")).await);
        }
        for p in [2, 0, 4, 1, 3] {
            leave(server, &room.id, &peers[p]).await;
        }
    });
    futures::future::join_all(sessions).await;
    let mut logs = Vec::new();
    for room in &rooms {
        let log = logged(&hms, &room.id).await;
        assert_eq!(log.len(), 12, "open, five joins, five leaves, close");
        logs.push(log);
    }
    let hits = receiver
        .wait_for("every event of every room", Duration::from_secs(20), |h| {
            logs.iter().all(|log| all_acked(h, log))
        })
        .await;
    for (room, log) in rooms.iter().zip(&logs) {
        assert_delivered_in_order(&hits, &room.id, log, &HashSet::new());
    }
    assert!(hits.iter().any(|h| h.status == 500), "some attempts failed");
    for hit in &hits {
        assert_eq!(
            hit.header("x-100ms-signature"),
            Some(hmac_hex(secret, &hit.body).as_str())
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_and_hanging_endpoints_hold_back_only_their_own_rooms() {
    let healthy = Receiver::start().await;
    let dead_url = format!("http://127.0.0.1:{}/dead", dead_port());
    let (hanging_port, hanging) = hanging_endpoint();
    let hanging_url = format!("http://127.0.0.1:{hanging_port}/hang");
    let hms = Hms::start(&config().with("max_in_flight", 8).with("per_endpoint_concurrency", 2));
    let mut dead_rooms = Vec::new();
    let mut hanging_rooms = Vec::new();
    for n in 0..4 {
        let dead = create_room(&hms, &format!("dead-{n}"), Some(json!({"url": dead_url}))).await;
        join(&hms, &dead.id, "D").await;
        dead_rooms.push(dead);
        let hang = create_room(&hms, &format!("hang-{n}"), Some(json!({"url": hanging_url}))).await;
        join(&hms, &hang.id, "H").await;
        hanging_rooms.push(hang);
    }
    let room = create_room(&hms, "healthy", Some(json!({"url": healthy.url("/ok")}))).await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    // The healthy room's events arrive, again and again, while the dead and hanging rooms
    // are still waiting at their first event (checked below): they hold nothing back. How
    // soon they arrive is the benchmark's business.
    let mut peers = Vec::new();
    for round in 0..3 {
        peers.push(join(&hms, &room.id, &format!("B{round}")).await);
        let log = logged(&hms, &room.id).await;
        healthy
            .wait_for("the healthy room's events", TEN_SECONDS, |h| all_acked(h, &log))
            .await;
    }
    for peer in &peers {
        leave(&hms, &room.id, peer).await;
    }
    let log = logged(&hms, &room.id).await;
    let hits = healthy
        .wait_for("the healthy room's leaves", TEN_SECONDS, |h| all_acked(h, &log))
        .await;
    assert_delivered_in_order(&hits, &room.id, &log, &HashSet::new());

    // The API keeps answering.
    let (status, _) = hms.get("/v2/rooms").await;
    assert_eq!(status, StatusCode::OK);

    // The dead and hanging rooms are still waiting at their first event, with the reason.
    for (rooms, url, reason) in [
        (&dead_rooms, &dead_url, "connection failed"),
        (&hanging_rooms, &hanging_url, "timeout"),
    ] {
        for stuck in rooms {
            let query = format!("room_id={}", stuck.id);
            let answer = wait_for_history(&hms, &query, TEN_SECONDS, |h| {
                h["events"][1]["payload"]["attempts"].as_u64().is_some_and(|n| n >= 1)
            })
            .await;
            let log = logged(&hms, &stuck.id).await;
            let attempts = answer["events"][1]["payload"]["attempts"].as_u64().unwrap() as usize;
            assert_eq!(
                answer["events"],
                json!([
                    report(&log[1], url, "pending", 0, None, false),
                    report(&log[0], url, "pending", attempts, Some(reason), false),
                ]),
                "{}",
                stuck.name
            );
        }
    }
    hanging.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_wait_while_the_receiver_is_away_and_arrive_when_it_comes_back() {
    let receiver = Receiver::start().await;
    let url = receiver.url("/away");
    let hms = Hms::start(&config().workspace_webhook(&url, &[], None));
    let room = create_room(&hms, "away", None).await;
    let first = join(&hms, &room.id, "First").await;
    let log = logged(&hms, &room.id).await;
    receiver
        .wait_for("the first events", TEN_SECONDS, |h| all_acked(h, &log))
        .await;

    receiver.stop().await;
    let second = join(&hms, &room.id, "Second").await;
    join(&hms, &room.id, "Third").await;
    leave(&hms, &room.id, &first).await;
    leave(&hms, &room.id, &second).await;
    // The first event after it went away heads the queue, failing to connect.
    let query = format!("room_id={}", room.id);
    let pending = wait_for_history(&hms, &query, TEN_SECONDS, |h| {
        h["summary"]["total_events"] == json!(6)
            && h["events"][3]["payload"]["attempts"].as_u64().is_some_and(|n| n >= 2)
    })
    .await;
    let log = logged(&hms, &room.id).await;
    let attempts = pending["events"][3]["payload"]["attempts"].as_u64().unwrap() as usize;
    assert_eq!(
        pending["events"],
        json!([
            report(&log[5], &url, "pending", 0, None, false),
            report(&log[4], &url, "pending", 0, None, false),
            report(&log[3], &url, "pending", 0, None, false),
            report(&log[2], &url, "pending", attempts, Some("connection failed"), false),
            report(&log[1], &url, "success", 1, None, false),
            report(&log[0], &url, "success", 1, None, false),
        ])
    );
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let during = receiver.hits().len();

    receiver.resume().await;
    assert_eq!(log.len(), 6);
    let hits = receiver
        .wait_for("everything after the receiver came back", TEN_SECONDS, |h| {
            all_acked(h, &log)
        })
        .await;
    assert_eq!(during, 2, "nothing arrived while the receiver was away");
    assert_delivered_in_order(&hits, &room.id, &log, &HashSet::new());
    assert_eq!(hits.len(), 6, "{}", describe(&hits));
    // Every delivery ends delivered: the head after its failed connection attempts.
    let settled = wait_for_history(&hms, "status=success", TEN_SECONDS, |h| {
        h["summary"]["total_events"] == json!(6)
    })
    .await;
    let head = settled["events"][3]["payload"]["attempts"].as_u64().unwrap() as usize;
    assert!(head > attempts, "{settled}");
    let expected: Vec<Value> = log
        .iter()
        .enumerate()
        .rev()
        .map(|(n, e)| report(e, &url, "success", if n == 2 { head } else { 1 }, None, false))
        .collect();
    assert_eq!(settled["events"], json!(expected));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_loses_nothing_and_marks_nothing_delivered_that_was_not() {
    let receiver = Receiver::start().await;
    let secret = "whsec-crash";
    let url = receiver.url("/crash");
    let mut hms = Hms::start(&config().workspace_webhook(&url, &[], Some(secret)));
    let failing = create_room(&hms, "failing", None).await;
    let hanging = create_room(&hms, "hanging", None).await;
    let first = join(&hms, &failing.id, "F1").await;
    join(&hms, &hanging.id, "H1").await;
    receiver
        .wait_for("the first events", TEN_SECONDS, |h| {
            h.iter().filter(|h| h.acked()).count() == 4
        })
        .await;

    // One room's deliveries fail, the other's hang until the server is gone.
    let (f, h) = (failing.id.clone(), hanging.id.clone());
    receiver.answer_with(move |event, _| {
        let room = event["data"]["room_id"].as_str().unwrap_or("");
        if room == f {
            Answer::status(500)
        } else if room == h {
            Answer::slow(Duration::from_secs(3))
        } else {
            Answer::OK
        }
    });
    join(&hms, &failing.id, "F2").await;
    leave(&hms, &failing.id, &first).await;
    join(&hms, &hanging.id, "H2").await;
    let hits = receiver
        .wait_for("a failing and a hanging delivery", TEN_SECONDS, |hits| {
            hits.iter()
                .filter(|x| x.room() == failing.id && x.status == 500)
                .count()
                >= 2
                && hits.iter().any(|x| x.room() == hanging.id && !x.answered)
        })
        .await;
    let in_flight = hits
        .iter()
        .find(|x| x.room() == hanging.id && !x.answered)
        .unwrap()
        .id()
        .to_owned();
    hms.kill();

    receiver.answer_with(|_, _| Answer::OK);
    hms.restart();
    // The restart closed both sessions, and those events are delivered too.
    let failing_log = logged(&hms, &failing.id).await;
    let hanging_log = logged(&hms, &hanging.id).await;
    assert_eq!(
        kinds(&failing_log),
        [
            "session.open.success",
            "peer.join.success",
            "peer.join.success",
            "peer.leave.success",
            "peer.leave.success",
            "session.close.success"
        ]
    );
    assert_eq!(kinds(&hanging_log).last().unwrap(), "session.close.success");
    let hits = receiver
        .wait_for("every event after the restart", Duration::from_secs(20), |h| {
            all_acked(h, &failing_log) && all_acked(h, &hanging_log)
        })
        .await;
    assert_delivered_in_order(&hits, &failing.id, &failing_log, &HashSet::new());
    assert_delivered_in_order(&hits, &hanging.id, &hanging_log, &HashSet::from([in_flight.clone()]));
    for hit in &hits {
        assert_eq!(
            hit.header("x-100ms-signature"),
            Some(hmac_hex(secret, &hit.body).as_str())
        );
    }
    // Duplicates only of the delivery whose outcome the crash lost, with the same id.
    let mut acked_ids = HashSet::new();
    for hit in hits.iter().filter(|h| h.acked()) {
        if !acked_ids.insert(hit.id().to_owned()) {
            assert_eq!(hit.id(), in_flight, "only the in-flight delivery is sent again");
        }
    }
    assert_eq!(acked_ids.len(), failing_log.len() + hanging_log.len());

    // The history agrees with what the receiver acknowledged.
    let total = json!(acked_ids.len());
    let delivered = wait_for_history(&hms, "status=success&limit=100", TEN_SECONDS, |h| {
        h["summary"]["total_events"] == total
    })
    .await;
    let delivered_ids: HashSet<String> = history_events(&delivered)
        .iter()
        .map(|e| text(&e["event_id"]))
        .collect();
    assert_eq!(delivered_ids, acked_ids);
    let all = history(&hms, "status=all&limit=100").await;
    assert_eq!(
        all["summary"]["total_events"], total,
        "nothing pending or failed: {all}"
    );
    // The kill can land between the receiver answering an attempt and the server recording
    // its outcome: that one attempt (a room's lane has at most one in flight) goes unrecorded,
    // like the hanging delivery above. Every other attempt is counted exactly once.
    let failing_attempts = hits.iter().filter(|x| x.room() == failing.id).count();
    let reported = history_events(&all)
        .iter()
        .filter(|e| e["room_id"] == json!(failing.id))
        .map(|e| e["payload"]["attempts"].as_u64().unwrap() as usize)
        .sum::<usize>();
    assert!(
        reported == failing_attempts || reported + 1 == failing_attempts,
        "attempts recorded across the crash: {reported} of the {failing_attempts} the receiver saw"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_rooms_on_a_dead_endpoint_do_not_starve_a_healthy_one() {
    let healthy = Receiver::start().await;
    let dead_url = format!("http://127.0.0.1:{}/dead", dead_port());
    // The default poll interval, one attempt at a time per endpoint, four in all.
    let hms = Hms::start(
        &config()
            .with("poll_ms", 100)
            .with("per_endpoint_concurrency", 1)
            .with("max_in_flight", 4)
            .workspace_webhook(&dead_url, &[], None),
    );
    for n in 0..30 {
        let room = create_room(&hms, &format!("dead-{n}"), None).await;
        join(&hms, &room.id, "D").await;
    }
    let room = create_room(&hms, "healthy", Some(json!({"url": healthy.url("/ok")}))).await;
    // The dead endpoint's retries are under way.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    join(&hms, &room.id, "B").await;
    let log = logged(&hms, &room.id).await;
    healthy
        .wait_for("the healthy room's events", Duration::from_secs(15), |h| {
            all_acked(h, &log)
        })
        .await;
    // Not held back by the dead endpoint: none of its events has been given up yet, they
    // are all still being retried. (How soon is the benchmark's business.)
    let failed = history(&hms, "status=failed").await;
    assert_eq!(failed["summary"]["total_events"], json!(0), "{failed:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_stop_lets_the_attempt_in_flight_finish() {
    let receiver = Receiver::start().await;
    let url = receiver.url("/term");
    let mut hms = Hms::start(&config().workspace_webhook(&url, &[], None));
    let room = create_room(&hms, "term", None).await;
    join(&hms, &room.id, "T1").await;
    let log = logged(&hms, &room.id).await;
    receiver
        .wait_for("the first events", TEN_SECONDS, |h| all_acked(h, &log))
        .await;
    // Answered well within timeout_ms (1 s), but after the stop began.
    receiver.answer_with(|_, _| Answer::slow(Duration::from_millis(600)));
    join(&hms, &room.id, "T2").await;
    let hits = receiver
        .wait_for("an attempt in flight", TEN_SECONDS, |h| h.iter().any(|x| !x.answered))
        .await;
    let in_flight = hits.iter().find(|x| !x.answered).unwrap().id().to_owned();
    let stopped = hms.terminate();
    assert!(stopped.success(), "{stopped:?}");
    receiver.answer_with(|_, _| Answer::OK);
    hms.restart();
    let log = logged(&hms, &room.id).await;
    let hits = receiver
        .wait_for("every event after the restart", Duration::from_secs(20), |h| {
            all_acked(h, &log)
        })
        .await;
    let sent = hits.iter().filter(|h| h.id() == in_flight).count();
    assert_eq!(
        sent,
        1,
        "the delivery answered 200 during a graceful stop was sent again after the restart:\n{}",
        describe(&hits)
    );
    assert_delivered_in_order(&hits, &room.id, &log, &HashSet::new());
}

// ---------------------------------------------------------------------------------------
// Slow and huge answers
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_receiver_times_out_and_is_retried() {
    let receiver = Receiver::start().await;
    receiver.answer_with(|_, attempt| {
        if attempt == 0 {
            Answer::slow(Duration::from_millis(2500))
        } else {
            Answer::OK
        }
    });
    let url = receiver.url("/slow");
    let hms = Hms::start(&config().workspace_webhook(&url, &[], None));
    let room = create_room(&hms, "slow", None).await;
    join(&hms, &room.id, "Slowpoke").await;
    let log = logged(&hms, &room.id).await;
    let hits = receiver
        .wait_for("both events after a timeout each", TEN_SECONDS, |h| {
            h.iter().filter(|h| h.attempt == 1 && h.acked()).count() == 2
        })
        .await;
    let order: Vec<(String, usize)> = hits.iter().map(|h| (h.id().to_owned(), h.attempt)).collect();
    let ids: Vec<String> = log.iter().map(|e| text(&e["id"])).collect();
    assert_eq!(
        order,
        [
            (ids[0].clone(), 0),
            (ids[0].clone(), 1),
            (ids[1].clone(), 0),
            (ids[1].clone(), 1)
        ],
        "{}",
        describe(&hits)
    );
    for pair in hits.chunks(2) {
        // Given up after timeout_ms (1 s), retried 100 ms later: before the slow answer.
        let gap = since(&pair[0], &pair[1]);
        assert!(
            gap >= Duration::from_millis(1050) && gap < Duration::from_millis(2000),
            "retry after {gap:?}"
        );
    }
    let expected: Vec<Value> = log
        .iter()
        .rev()
        .map(|e| report(e, &url, "success", 2, None, false))
        .collect();
    let answer = wait_for_history(&hms, "", TEN_SECONDS, |h| h["events"] == json!(expected)).await;
    assert_eq!(answer["events"], json!(expected));
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_answer_body_is_not_read() {
    let receiver = Receiver::start().await;
    receiver.answer_with(|_, _| Answer {
        body_len: 50 * 1024 * 1024,
        ..Answer::OK
    });
    let url = receiver.url("/huge");
    let hms = Hms::start(&config().workspace_webhook(&url, &[], None));
    let room = create_room(&hms, "huge", None).await;
    let before = rss_kib(hms.pid());
    let peer = join(&hms, &room.id, "Big").await;
    leave(&hms, &room.id, &peer).await;
    let log = logged(&hms, &room.id).await;
    receiver
        .wait_for("four events answered with 50 MB each", TEN_SECONDS, |h| {
            all_acked(h, &log)
        })
        .await;
    let hits = after_a_later_event(&hms, &receiver, &room.id).await;
    assert_delivered_in_order(&hits, &room.id, &log, &HashSet::new());
    assert_eq!(hits.len(), 4, "delivered once each:\n{}", describe(&hits));
    let after = rss_kib(hms.pid());
    assert!(
        after < before + 40 * 1024,
        "RSS grew from {before} KiB to {after} KiB after 200 MB of answers"
    );
    let (status, _) = hms.get("/v2/rooms").await;
    assert_eq!(status, StatusCode::OK, "the server keeps serving");
    // The history has them, and the barrier's.
    let log = logged(&hms, &room.id).await;
    let expected: Vec<Value> = log
        .iter()
        .rev()
        .map(|e| report(e, &url, "success", 1, None, false))
        .collect();
    let answer = wait_for_history(&hms, "", TEN_SECONDS, |h| h["events"] == json!(expected)).await;
    assert_eq!(answer["events"], json!(expected));
}

// ---------------------------------------------------------------------------------------
// History
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_filters_pages_and_validates_times() {
    let receiver = Receiver::start().await;
    let url = receiver.url("/history");
    let hms = Hms::start(&config().with("retry_window_secs", 1).workspace_webhook(&url, &[], None));
    let one = create_room(&hms, "history-one", None).await;
    let two = create_room(&hms, "history-two", None).await;
    let two_id = two.id.clone();
    receiver.answer_with(move |event, _| {
        if event["data"]["room_id"] == json!(two_id) && event["type"] == json!("session.open.success") {
            Answer::status(500)
        } else {
            Answer::OK
        }
    });
    let a = join(&hms, &one.id, "A").await;
    join(&hms, &one.id, "B").await;
    leave(&hms, &one.id, &a).await;
    join(&hms, &two.id, "C").await;
    let everything = all_logged(&hms).await;
    assert_eq!(everything.len(), 6);
    receiver
        .wait_for("all but the failed open", TEN_SECONDS, |h| {
            all_acked(
                h,
                &everything
                    .iter()
                    .filter(|e| e != &&everything[4])
                    .cloned()
                    .collect::<Vec<_>>(),
            )
        })
        .await;
    let failed_open = &everything[4];
    assert_eq!(failed_open["data"]["room_id"], json!(two.id));
    assert_eq!(failed_open["type"], json!("session.open.success"));
    let failed_attempts = receiver.hits().iter().filter(|h| h.id() == failed_open["id"]).count();

    let entry = |event: &Value| {
        if event == failed_open {
            report(
                event,
                &url,
                "failed",
                failed_attempts,
                Some("endpoint answered 500"),
                false,
            )
        } else {
            report(event, &url, "success", 1, None, false)
        }
    };
    let newest_first: Vec<Value> = everything.iter().rev().map(entry).collect();
    let page = |events: Vec<Value>, page: u64, size: u64, total: u64| json!({"events": events, "pagination": pagination(page, size, total), "summary": {"total_events": total}});
    let answer = wait_for_history(&hms, "status=failed", TEN_SECONDS, |h| {
        h["summary"]["total_events"] == json!(1)
    })
    .await;
    assert_eq!(answer, page(vec![entry(failed_open)], 1, 50, 1));
    wait_for_history(&hms, "status=success", TEN_SECONDS, |h| {
        h["summary"]["total_events"] == json!(5)
    })
    .await;

    let pick = |keep: &dyn Fn(&Value) -> bool| -> Vec<Value> {
        everything.iter().rev().filter(|e| keep(e)).map(entry).collect()
    };
    let cases: Vec<(String, Vec<Value>)> = vec![
        (String::new(), newest_first.clone()),
        ("status=all".into(), newest_first.clone()),
        ("status=success".into(), pick(&|e| e != failed_open)),
        (
            format!("room_id={}", two.id),
            pick(&|e| e["data"]["room_id"] == json!(two.id)),
        ),
        (
            format!("room_id={}&status=success", one.id),
            pick(&|e| e["data"]["room_id"] == json!(one.id)),
        ),
        (
            "event_names=peer.join.success&event_names=session.open.success".into(),
            pick(&|e| e["type"] != json!("peer.leave.success")),
        ),
        (
            "event_names=peer.leave.success".into(),
            pick(&|e| e["type"] == json!("peer.leave.success")),
        ),
        (
            format!("room_id={}&event_names=peer.join.success&status=success", one.id),
            pick(&|e| e["data"]["room_id"] == json!(one.id) && e["type"] == json!("peer.join.success")),
        ),
        (
            "event_names=session.open.success&status=success".into(),
            pick(&|e| e["type"] == json!("session.open.success") && e != failed_open),
        ),
        (format!("room_id={}", "000000000000000000000000"), vec![]),
        (
            format!(
                "start_time={}&end_time={}",
                format_unix_secs(now_secs() - 10 * 86_400),
                format_unix_secs(now_secs() + 60)
            ),
            newest_first.clone(),
        ),
        (
            format!(
                "start_time={}&end_time={}",
                format_unix_secs(now_secs() + 60),
                format_unix_secs(now_secs() + 120)
            ),
            vec![],
        ),
    ];
    for (query, expected) in cases {
        let total = expected.len() as u64;
        assert_eq!(
            history(&hms, &query).await,
            page(expected, 1, 50, total),
            "history?{query}"
        );
    }

    // Pages by number.
    assert_eq!(
        history(&hms, "limit=4").await,
        page(newest_first[..4].to_vec(), 1, 4, 6)
    );
    assert_eq!(
        history(&hms, "limit=4&page=2").await,
        page(newest_first[4..].to_vec(), 2, 4, 6)
    );
    assert_eq!(history(&hms, "limit=4&page=3").await, page(vec![], 3, 4, 6));
    assert_eq!(
        history(&hms, "limit=1&page=6").await,
        page(newest_first[5..].to_vec(), 6, 1, 6)
    );
    assert_eq!(history(&hms, "limit=100").await, page(newest_first.clone(), 1, 100, 6));

    // Refusals, with the documented messages for the time range.
    let day = 86_400;
    let now = now_secs();
    let refusals: Vec<(String, Value)> = vec![
        (
            format!("start_time={}", format_unix_secs(now - 31 * day)),
            envelope(400, "start_time must be within the last 30 days", &[]),
        ),
        (
            format!(
                "start_time={}&end_time={}",
                format_unix_secs(now - 20 * day),
                format_unix_secs(now - 5 * day)
            ),
            envelope(400, "end_time must be within 14 days after start_time", &[]),
        ),
        (
            format!("start_time={}", format_unix_secs(now - 20 * day)),
            envelope(400, "end_time must be within 14 days after start_time", &[]),
        ),
        (
            format!(
                "start_time={}&end_time={}",
                format_unix_secs(now - 60),
                format_unix_secs(now - 120)
            ),
            envelope(400, "end_time must be within 14 days after start_time", &[]),
        ),
        (
            "start_time=yesterday".into(),
            envelope(400, "Invalid query parameter", &["start_time must be an RFC 3339 time"]),
        ),
        (
            "status=pending".into(),
            envelope(
                400,
                "Invalid query parameter",
                &["status must be all, failed or success"],
            ),
        ),
        (
            "limit=0".into(),
            envelope(400, "Invalid query parameter", &["limit must be between 1 and 100"]),
        ),
        (
            "limit=101".into(),
            envelope(400, "Invalid query parameter", &["limit must be between 1 and 100"]),
        ),
        (
            "page=0".into(),
            envelope(400, "Invalid query parameter", &["page starts at 1"]),
        ),
    ];
    for (query, expected) in refusals {
        let (status, body) = hms.get(&format!("/v2/analytics/webhooks?{query}")).await;
        assert_eq!((status.as_u16(), body), (400, expected), "history?{query}");
    }
}

// ---------------------------------------------------------------------------------------
// Replay
// ---------------------------------------------------------------------------------------

/// A server with ten delivered events in one room (replays run at 5 per second).
async fn ten_delivered_events(receiver: &Receiver, secret: &str) -> (Hms, Room, Vec<Value>) {
    let hms = Hms::start(&config().workspace_webhook(&receiver.url("/replay"), &[], Some(secret)));
    let room = create_room(&hms, "replay", None).await;
    let mut peers = Vec::new();
    for n in 0..4 {
        peers.push(join(&hms, &room.id, &format!("R{n}")).await);
    }
    for peer in &peers {
        leave(&hms, &room.id, peer).await;
    }
    let log = logged(&hms, &room.id).await;
    assert_eq!(log.len(), 10);
    receiver
        .wait_for("the ten events", TEN_SECONDS, |h| all_acked(h, &log))
        .await;
    wait_for_history(&hms, "status=success", TEN_SECONDS, |h| {
        h["summary"]["total_events"] == json!(10)
    })
    .await;
    (hms, room, log)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_resends_marked_events_at_a_bounded_rate_and_reports_progress() {
    let receiver = Receiver::start().await;
    let secret = "whsec-replay";
    let (hms, room, log) = ten_delivered_events(&receiver, secret).await;

    let (start, end) = (format_unix_secs(now_secs() - 600), format_unix_secs(now_secs() + 600));
    let body = json!({"status": "all", "start_time": start, "end_time": end});
    let asked = Instant::now();
    let (status, started) = hms.post("/v2/analytics/webhooks/replay", body.clone()).await;
    assert_eq!(status, StatusCode::OK, "{started}");
    let workflow = text(&started["workflow_id"]);
    let suffix = workflow
        .strip_prefix(&format!("webhook-replay-{}-", room.customer_id))
        .unwrap_or_else(|| panic!("workflow id {workflow}"));
    assert_eq!(suffix.len(), 8, "{workflow}");
    let filters = json!({
        "start_time": start, "end_time": end, "room_id": "", "event_types": [],
        "limit": 50000, "offset": 0, "status": "all",
    });
    assert_eq!(
        started,
        json!({
            "workflow_id": workflow, "status": "started",
            "message": "Webhook replay has been queued for processing", "filters": filters,
        })
    );
    // The same filters while it runs: the same workflow.
    let (status, again) = hms.post("/v2/analytics/webhooks/replay", body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        again,
        json!({
            "workflow_id": workflow, "status": "already_running",
            "message": "Webhook replay has been queued for processing", "filters": filters,
        })
    );
    let (status, running) = hms.get(&format!("/v2/analytics/webhooks/replay/{workflow}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(running["status"], json!("Running"), "{running}");
    assert_eq!(running["completed_at"], Value::Null);
    assert_eq!(running["result"], Value::Null);
    assert_eq!(running["filters"], filters);
    assert_eq!(running["progress"]["total"], json!(10));
    assert_eq!(running["progress"]["failed"], json!(0));
    assert!(running["progress"]["completed"].as_i64().unwrap() < 10, "{running}");

    let (status, missing) = hms.get("/v2/analytics/webhooks/replay/webhook-replay-nope").await;
    assert_eq!(
        (status.as_u16(), missing),
        (404, envelope(404, "workflow not found", &[]))
    );

    let hits = receiver
        .wait_for("ten replayed events", TEN_SECONDS, |h| {
            h.iter().filter(|h| h.is_replay() && h.acked()).count() == 10
        })
        .await;
    let replayed: Vec<&Hit> = hits.iter().filter(|h| h.is_replay()).collect();
    assert_eq!(replayed.len(), 10, "{}", describe(&hits));
    for (hit, event) in replayed.iter().zip(&log) {
        let mut expected = event.clone();
        expected["is_replay"] = json!(true);
        assert_eq!(hit.json, expected, "the same event, same id, marked");
        assert_eq!(
            hit.header("x-100ms-signature"),
            Some(hmac_hex(secret, &hit.body).as_str())
        );
    }
    // 5 per second: the k-th replayed event leaves no earlier than k × 200 ms after the
    // request, so ten take at least 1.8 s.
    for (k, hit) in replayed.iter().enumerate() {
        let after = hit.at.duration_since(asked);
        assert!(
            after >= Duration::from_millis(200) * k as u32,
            "replay #{k} sent {after:?} after the request:\n{}",
            describe(&hits)
        );
    }
    assert!(
        since(replayed[0], replayed[9]) < Duration::from_secs(4),
        "{}",
        describe(&hits)
    );

    let done = wait_for_replay(&hms, &workflow).await;
    let started_at = text(&done["started_at"]);
    let completed_at = text(&done["completed_at"]);
    let took = timestamp_millis(&completed_at).unwrap() - timestamp_millis(&started_at).unwrap();
    assert!((1000..=5000).contains(&took), "{started_at} to {completed_at}");
    assert_eq!(
        done,
        json!({
            "workflow_id": workflow, "status": "completed", "started_at": started_at,
            "completed_at": completed_at, "filters": filters,
            "progress": {"total": 10, "completed": 10, "failed": 0},
            "result": {"total": 10, "completed": 10, "failed": 0, "failed_events": []},
        })
    );
    // The history lists the replayed deliveries too.
    let answer = history(&hms, "status=all").await;
    let url = receiver.url("/replay");
    let mut expected: Vec<Value> = log
        .iter()
        .rev()
        .map(|e| report(e, &url, "success", 1, None, true))
        .collect();
    expected.extend(log.iter().rev().map(|e| report(e, &url, "success", 1, None, false)));
    assert_eq!(answer["events"], json!(expected));

    // A replay of one room's delivered opens and closes only.
    let kinds = ["session.open.success", "session.close.success"];
    let body = json!({"status": "success", "room_id": room.id, "event_names": kinds});
    let (status, started) = hms.post("/v2/analytics/webhooks/replay", body).await;
    assert_eq!(status, StatusCode::OK, "{started}");
    assert_eq!(started["status"], json!("started"));
    let mut filters = started["filters"].clone();
    assert!(timestamp_millis(&text(&filters["start_time"])).is_some(), "{filters}");
    assert!(timestamp_millis(&text(&filters["end_time"])).is_some(), "{filters}");
    filters.as_object_mut().unwrap().remove("start_time");
    filters.as_object_mut().unwrap().remove("end_time");
    assert_eq!(
        filters,
        json!({"room_id": room.id, "event_types": kinds, "limit": 50000, "offset": 0, "status": "success"})
    );
    let done = wait_for_replay(&hms, &text(&started["workflow_id"])).await;
    assert_eq!(done["status"], json!("completed"), "{done}");
    assert_eq!(done["progress"], json!({"total": 2, "completed": 2, "failed": 0}));
    let hits = receiver.hits();
    let replayed: Vec<&str> = hits
        .iter()
        .filter(|h| h.is_replay() && h.acked())
        .map(Hit::id)
        .collect();
    let mut expected_ids: Vec<&str> = log.iter().map(|e| e["id"].as_str().unwrap()).collect();
    expected_ids.push(log[0]["id"].as_str().unwrap());
    expected_ids.push(log[9]["id"].as_str().unwrap());
    assert_eq!(replayed, expected_ids, "{}", describe(&hits));

    // Refusals.
    let old = json!({"start_time": format_unix_secs(now_secs() - 31 * 86_400)});
    let (status, body) = hms.post("/v2/analytics/webhooks/replay", old).await;
    assert_eq!(
        (status.as_u16(), body),
        (400, envelope(400, "start_time must be within the last 30 days", &[]))
    );
    let wide = json!({
        "start_time": format_unix_secs(now_secs() - 20 * 86_400),
        "end_time": format_unix_secs(now_secs() - 5 * 86_400),
    });
    let (status, body) = hms.post("/v2/analytics/webhooks/replay", wide).await;
    assert_eq!(
        (status.as_u16(), body),
        (
            400,
            envelope(400, "end_time must be within 14 days after start_time", &[])
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeating_a_replay_request_with_default_times_while_it_runs_is_already_running() {
    let receiver = Receiver::start().await;
    let (hms, _room, _log) = ten_delivered_events(&receiver, "whsec-again").await;
    let (status, started) = hms
        .post("/v2/analytics/webhooks/replay", json!({"status": "all"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{started}");
    assert_eq!(started["status"], json!("started"));
    // The same request a second later, while the first still runs (for 1.8 s).
    tokio::time::sleep(Duration::from_millis(1050)).await;
    let (status, again) = hms
        .post("/v2/analytics/webhooks/replay", json!({"status": "all"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (&again["status"], &again["workflow_id"]),
        (&json!("already_running"), &started["workflow_id"]),
        "first {started}, then {again}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identical_replay_requests_arriving_together_start_one_replay() {
    let receiver = Receiver::start().await;
    let (hms, _room, log) = ten_delivered_events(&receiver, "whsec-together").await;
    // One open connection per request, so that the requests reach the server together
    // rather than one connection set-up apart.
    let clients: Vec<reqwest::Client> = (0..8).map(|_| common::client()).collect();
    for client in &clients {
        let warm = common::send(client.get(hms.url("/v2/rooms")).bearer_auth(hms.token())).await;
        assert_eq!(warm.status, StatusCode::OK, "{}", warm.body);
    }
    let body = json!({"status": "success"});
    let replies = futures::future::join_all(clients.iter().map(|client| {
        let request = client
            .post(hms.url("/v2/analytics/webhooks/replay"))
            .bearer_auth(hms.token())
            .json(&body);
        common::send(request)
    }))
    .await;
    for reply in &replies {
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    }
    let answers: Vec<&Value> = replies.iter().map(|reply| &reply.body).collect();
    let (started, repeats): (Vec<&Value>, Vec<&Value>) = answers
        .iter()
        .copied()
        .partition(|answer| answer["status"] == json!("started"));
    assert_eq!(started.len(), 1, "{answers:#?}");
    let mut repeat = started[0].clone();
    repeat["status"] = json!("already_running");
    for answer in repeats {
        assert_eq!(answer, &repeat, "first {}", started[0]);
    }
    // Every answer came after its replay (if any) was queued: ten originals, ten copies.
    let all = history(&hms, "status=all").await;
    assert_eq!(all["summary"]["total_events"], json!(20), "{all:#}");

    let workflow = text(&started[0]["workflow_id"]);
    let done = wait_for_replay(&hms, &workflow).await;
    assert_eq!(done["status"], json!("completed"), "{done}");
    assert_eq!(done["progress"], json!({"total": 10, "completed": 10, "failed": 0}));
    let hits = receiver.hits();
    let replayed: Vec<&str> = hits.iter().filter(|h| h.is_replay()).map(Hit::id).collect();
    let logged: Vec<&str> = log.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(replayed, logged, "{}", describe(&hits));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_workspace_has_its_own_endpoint_history_and_replays() {
    let mine = Receiver::start().await;
    let theirs = Receiver::start().await;
    let hms = Hms::start(&config().workspace_webhook(&mine.url("/mine"), &[], Some("whsec-mine")));
    let (key, secret) = ("74b0e1f0a1b2c3d4e5f60718", "other-secret-0123456789abcdef0123456789");
    let other = hms.other_workspace("other", key, secret).await;
    let set = hms.cli(&[
        "workspace",
        "webhook",
        "set",
        "other",
        "--url",
        &theirs.url("/theirs"),
        "--signing-secret",
        "whsec-theirs",
    ]);
    assert!(set.status.success(), "{}", String::from_utf8_lossy(&set.stderr));

    let room = create_room(&hms, "mine", None).await;
    join(&hms, &room.id, "Me").await;
    let (status, their_room) = other
        .call(Method::POST, "/v2/rooms", Some(json!({"name": "theirs"})))
        .await;
    assert_eq!(status, StatusCode::OK, "{their_room}");
    let their_room = text(&their_room["id"]);
    let join_path = format!("/v2/simulate/rooms/{their_room}/peers");
    let (status, _) = other
        .call(Method::POST, join_path, Some(json!({"role": "guest", "name": "Them"})))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, their_log) = other.call(Method::GET, "/v2/simulate/events", None).await;
    let their_log = their_log["events"].as_array().unwrap().clone();
    assert_eq!(their_log.len(), 2);
    let my_log = logged(&hms, &room.id).await;

    let my_hits = mine.wait_for("my events", TEN_SECONDS, |h| all_acked(h, &my_log)).await;
    let their_hits = theirs
        .wait_for("their events", TEN_SECONDS, |h| all_acked(h, &their_log))
        .await;
    // A later event of mine as the barrier (it makes three events of my workspace).
    assert_eq!(
        after_a_later_event(&hms, &mine, &room.id).await.len(),
        2,
        "only my events reach my endpoint:\n{}",
        describe(&mine.hits())
    );
    assert_eq!(
        theirs.hits().len(),
        2,
        "only theirs reach theirs:\n{}",
        describe(&theirs.hits())
    );
    for hit in &my_hits {
        assert_eq!(
            hit.header("x-100ms-signature"),
            Some(hmac_hex("whsec-mine", &hit.body).as_str())
        );
    }
    for hit in &their_hits {
        assert_eq!(
            hit.header("x-100ms-signature"),
            Some(hmac_hex("whsec-theirs", &hit.body).as_str())
        );
    }

    // Each workspace sees its own history, and only its own replays.
    wait_for_history(&hms, "", TEN_SECONDS, |h| h["summary"]["total_events"] == json!(3)).await;
    let (status, their_history) = other.call(Method::GET, "/v2/analytics/webhooks", None).await;
    assert_eq!(status, StatusCode::OK);
    let their_ids = field_of(&their_history["events"], "event_id");
    let expected: Vec<&Value> = their_log.iter().rev().map(|e| &e["id"]).collect();
    assert_eq!(their_ids, expected, "{their_history}");
    let (status, started) = hms
        .post("/v2/analytics/webhooks/replay", json!({"status": "all"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let workflow = text(&started["workflow_id"]);
    let (status, body) = other
        .call(Method::GET, format!("/v2/analytics/webhooks/replay/{workflow}"), None)
        .await;
    assert_eq!((status.as_u16(), body), (404, envelope(404, "workflow not found", &[])));
    let done = wait_for_replay(&hms, &workflow).await;
    // Done: every delivery of the replay has been made.
    assert_eq!(done["progress"], json!({"total": 3, "completed": 3, "failed": 0}));
    assert_eq!(theirs.hits().len(), 2, "my replay does not reach their endpoint");
}

// ---------------------------------------------------------------------------------------
// Validation and secrets
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_urls_and_headers_are_validated() {
    let hms = Hms::start(&config());
    let bad_url = envelope(
        400,
        "Invalid body param",
        &["webhook.url must be an absolute http or https URL"],
    );
    for url in ["ftp://x", "not a url", "http://", "/relative"] {
        let body = json!({"name": "validated", "webhook": {"url": url}});
        let (status, answer) = hms.post("/v2/rooms", body).await;
        assert_eq!((status.as_u16(), answer), (400, bad_url.clone()), "url {url}");
    }
    let body = json!({"name": "validated", "webhook": {"url": "http://127.0.0.1:9/x", "headers": {"bad name": "v"}}});
    let (status, answer) = hms.post("/v2/rooms", body).await;
    assert_eq!(
        (status.as_u16(), answer),
        (
            400,
            envelope(
                400,
                "Invalid body param",
                &["webhook header \"bad name\" is not a valid HTTP header"]
            )
        )
    );
    let room = create_room(&hms, "valid", Some(json!({"url": "https://example.com/hook"}))).await;
    let (status, answer) = hms
        .post(
            &format!("/v2/rooms/{}", room.id),
            json!({"webhook": {"url": "ftp://x"}}),
        )
        .await;
    assert_eq!((status.as_u16(), answer), (400, bad_url));

    for url in ["ftp://x", "not a url"] {
        let output = hms.cli(&["workspace", "webhook", "set", "default", "--url", url]);
        assert!(!output.status.success(), "CLI accepted {url}");
    }
    let output = hms.cli(&[
        "workspace",
        "webhook",
        "set",
        "default",
        "--url",
        "http://127.0.0.1:9/x",
        "--header",
        "no colon",
    ]);
    assert!(!output.status.success(), "CLI accepted a header without a colon");
    let unknown = hms.cli(&["workspace", "webhook", "set", "nobody", "--url", "http://127.0.0.1:9/x"]);
    assert!(
        !unknown.status.success(),
        "CLI set a webhook on a workspace that does not exist"
    );
    let show = hms.cli(&["workspace", "webhook", "show", "default"]);
    assert_eq!(
        String::from_utf8_lossy(&show.stdout),
        "workspace default has no webhook\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_the_logs() {
    let receiver = Receiver::start().await;
    receiver.answer_with(|_, attempt| if attempt == 0 { Answer::status(500) } else { Answer::OK });
    let signing_secret = "signing-secret-LOGS-4242";
    let header_secret = "header-secret-LOGS-9999";
    let query_secret = "query-secret-LOGS-7777";
    let url = receiver.url(&format!("/logs?token={query_secret}"));
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("hms.toml");
    let rendered = config()
        .workspace_webhook(&url, &[("X-Api-Key", header_secret)], Some(signing_secret))
        .render();
    std::fs::write(&config_path, rendered).unwrap();
    let data = dir.path().join("data");
    let log_path = dir.path().join("server.log");
    let config_arg = config_path.display().to_string();
    let mut server = TestServer::start_logged(
        &data,
        &["--simulate-peers", "--config", &config_arg],
        &log_path,
        "debug",
    );
    let room = create_room(&server, "logs", None).await;
    let peer = join(&server, &room.id, "Logged").await;
    leave(&server, &room.id, &peer).await;
    let log = logged(&server, &room.id).await;
    receiver
        .wait_for("the events, each after one failure", TEN_SECONDS, |h| {
            all_acked(h, &log)
        })
        .await;
    // A room endpoint that refuses connections, and a CLI change with another secret.
    let dead = format!("http://127.0.0.1:{}/dead?token={query_secret}", dead_port());
    let dead_room = create_room(
        &server,
        "logs-dead",
        Some(json!({"url": dead, "headers": {"X-Api-Key": header_secret}})),
    )
    .await;
    join(&server, &dead_room.id, "Nobody").await;
    let cli_secret = "cli-secret-LOGS-1234";
    let set = server.cli(&[
        "workspace",
        "webhook",
        "set",
        "default",
        "--url",
        &url,
        "--signing-secret",
        cli_secret,
    ]);
    assert!(set.status.success());
    let show = server.cli(&["workspace", "webhook", "show", "default"]);
    let shown = String::from_utf8_lossy(&show.stdout).into_owned() + &String::from_utf8_lossy(&show.stderr);
    assert!(!shown.contains(cli_secret), "webhook show: {shown}");
    let later = join(&server, &room.id, "Later").await;
    let log = logged(&server, &room.id).await;
    receiver
        .wait_for("the later event", TEN_SECONDS, |h| all_acked(h, &log))
        .await;
    assert!(later["id"].is_string());
    tokio::time::sleep(Duration::from_millis(500)).await;
    server.terminate();

    let logs = std::fs::read_to_string(&log_path).expect("server log");
    assert!(
        logs.contains("webhook delivery will be retried"),
        "debug logs were written: {logs}"
    );
    for (what, secret) in [
        ("the signing secret", signing_secret),
        ("the CLI's signing secret", cli_secret),
        ("the app secret", SECRET),
        ("a custom header value", header_secret),
        ("a token in the endpoint's query", query_secret),
        ("a JWT (management or app token)", "eyJ"),
    ] {
        let lines: Vec<&str> = logs.lines().filter(|l| l.contains(secret)).collect();
        assert!(lines.is_empty(), "{what} is in the logs:\n{}", lines.join("\n"));
    }
}

#[test]
fn serve_refuses_a_bad_webhook_in_its_config_with_the_domain_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("hms.toml");
    for (entry, said) in [
        (
            "workspace = \"default\"\nurl = \"ftp://x\"",
            "invalid webhook configuration: webhook.url must be an absolute http or https URL",
        ),
        (
            "workspace = \"nobody\"\nurl = \"http://127.0.0.1:9/hook\"",
            "invalid webhook configuration: no workspace is named nobody",
        ),
    ] {
        std::fs::write(&config, format!("[[webhooks.workspaces]]\n{entry}\n")).unwrap();
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_hms"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path().join("data"))
            .arg("--config")
            .arg(&config)
            .output()
            .expect("hms runs");
        assert!(!output.status.success(), "{entry}: served");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(said), "{entry}: {stderr}");
        assert!(
            !stderr.contains("400") && !stderr.contains("\"code\""),
            "{entry}: {stderr}"
        );
    }
}
