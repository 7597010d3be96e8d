//! Two `hms serve` nodes on one PostgreSQL database (issue 9): what is written through one
//! node is served by the other at once; concurrent writes through both keep every
//! invariant (one room per name, one enabled code per role, one open session per room,
//! role limits, no lost update of a room or a template); credential changes reach every
//! node by NOTIFY; live state is shared; the event log can be followed with its cursor
//! while both nodes write it; the webhooks of a concurrent workload arrive once each and
//! in each room's order; and the peers of a node that dies are removed by the survivor.
//!
//! Several nodes need PostgreSQL: every test here is ignored unless asked for with
//! `--include-ignored` (the PostgreSQL pass of `scripts/test.sh`), and then needs
//! `HMS_TEST_POSTGRES_URL`.

mod common;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{
    ACCESS_KEY, SECRET, TestServer, assert_reply, envelope, management_token, now_secs, room_field_edits,
    timestamp_millis,
};
use futures::FutureExt;
use futures::future::BoxFuture;
use hms_auth::{AppSecret, TokenType, VerifyPolicy};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Requests in flight at once in a concurrent workload.
const IN_FLIGHT: usize = 16;
/// How long a credential change may take to reach a node. Nodes run with a credentials
/// refresh timer of ten minutes, so only the NOTIFY of the change can make it this quick.
const PROMPTLY: Duration = Duration::from_secs(3);
const NOT_ACTIVE: &str = "no session is running in this room";
const BAD_SIGNATURE: &str = "token signature does not match any app secret of the access key";

// ---------------------------------------------------------------------------------------
// Two nodes, one database
// ---------------------------------------------------------------------------------------

struct Cluster {
    nodes: [TestServer; 2],
    _dirs: tempfile::TempDir,
}

impl Cluster {
    /// Two nodes with the peer simulator on a fresh database, each with its own data dir
    /// and the extra environment `env`.
    fn start(env: &[(&str, &str)]) -> Self {
        assert!(
            common::on_postgres(),
            "several nodes need PostgreSQL: set HMS_TEST_POSTGRES_URL"
        );
        let dirs = tempfile::tempdir().expect("temp dir");
        let (first, second) = (dirs.path().join("node-a"), dirs.path().join("node-b"));
        common::share_test_database(&first, &second);
        // One after the other: the first creates the default workspace.
        let a = TestServer::start_node(&first, &["--simulate-peers"], env);
        let b = TestServer::start_node(&second, &["--simulate-peers"], env);
        Self {
            nodes: [a, b],
            _dirs: dirs,
        }
    }

    fn a(&self) -> &TestServer {
        &self.nodes[0]
    }

    fn b(&self) -> &TestServer {
        &self.nodes[1]
    }

    /// Node `index % 2`, to spread a workload over both.
    fn node(&self, index: usize) -> &TestServer {
        &self.nodes[index % 2]
    }

    fn database_url(&self) -> String {
        std::fs::read_to_string(self.a().data_dir.join("test-database-url")).expect("the shared database")
    }
}

/// Runs every job as a tokio task, `IN_FLIGHT` at a time, and answers their outputs in
/// the order of the jobs.
async fn concurrently<F>(jobs: Vec<F>) -> Vec<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let permits = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
    let tasks: Vec<JoinHandle<F::Output>> = jobs
        .into_iter()
        .map(|job| {
            let permits = permits.clone();
            tokio::spawn(async move {
                let _permit = permits.acquire_owned().await.expect("the semaphore stays open");
                job.await
            })
        })
        .collect();
    let mut outputs = Vec::with_capacity(tasks.len());
    for task in tasks {
        outputs.push(task.await.expect("a job panicked"));
    }
    outputs
}

type Reply = (StatusCode, Value);

/// A request with a management token through node `node`, as a job for `concurrently`.
fn api_job(
    cluster: &Arc<Cluster>,
    node: usize,
    method: Method,
    path: String,
    body: Option<Value>,
) -> BoxFuture<'static, Reply> {
    let cluster = cluster.clone();
    async move { cluster.node(node).call(method, &path, body).await }.boxed()
}

/// A room-code exchange through node `node` (no authorization), as a job.
fn exchange_job(cluster: &Arc<Cluster>, node: usize, code: &str, user_id: &str) -> BoxFuture<'static, Reply> {
    let cluster = cluster.clone();
    let body = json!({ "code": code, "user_id": user_id });
    async move {
        cluster
            .node(node)
            .call_with(Method::POST, "/v2/token", Some(body), None)
            .await
    }
    .boxed()
}

// ---------------------------------------------------------------------------------------
// Answers
// ---------------------------------------------------------------------------------------

fn text(value: &Value) -> String {
    value
        .as_str()
        .unwrap_or_else(|| panic!("{value} is no string"))
        .to_owned()
}

/// The body of a 200 answer.
fn ok(reply: Reply, what: &str) -> Value {
    assert_eq!(reply.0, StatusCode::OK, "{what}: {}", reply.1);
    reply.1
}

fn ack(message: &str) -> Value {
    json!({ "message": message })
}

/// A peer as the list of peers shows it: without tracks.
fn listed(peer: &Value) -> Value {
    let mut peer = peer.clone();
    peer.as_object_mut().expect("a peer object").remove("tracks");
    peer
}

/// Deliveries without their time, which the tests cannot know.
fn timeless(deliveries: &[Value]) -> Vec<Value> {
    deliveries
        .iter()
        .map(|delivery| {
            let mut delivery = delivery.clone();
            assert!(delivery["at"].is_string(), "a delivery time: {delivery}");
            delivery.as_object_mut().expect("a delivery object").remove("at");
            delivery
        })
        .collect()
}

/// The app token of a successful exchange, checked against the code's room and role and
/// the secret it must be signed with.
fn assert_exchanged(reply: Reply, room_id: &str, role: &str, user_id: &str, secret: &str, what: &str) {
    let body = ok(reply, what);
    let token = text(&body["token"]);
    let policy = VerifyPolicy {
        expected_type: TokenType::App,
        leeway_secs: 5,
        max_lifetime_secs: 24 * 3600,
    };
    let claims = hms_auth::verify(&token, |_| Some(vec![AppSecret::new(secret)]), &policy, now_secs())
        .unwrap_or_else(|error| panic!("{what}: the app token does not verify: {error}"))
        .claims;
    assert_eq!(
        (
            claims.access_key.as_str(),
            claims.room_id.as_deref(),
            claims.role.as_deref()
        ),
        (ACCESS_KEY, Some(room_id), Some(role)),
        "{what}"
    );
    assert_eq!(claims.user_id.as_deref(), Some(user_id), "{what}");
    let expires_at = common::format_unix_secs(claims.exp);
    assert_eq!(body, json!({ "token": token, "expires_at": expires_at }), "{what}");
}

// ---------------------------------------------------------------------------------------
// API helpers
// ---------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct Room {
    id: String,
    name: String,
    template_id: String,
}

impl Room {
    fn of(body: &Value) -> Self {
        Self {
            id: text(&body["id"]),
            name: text(&body["name"]),
            template_id: text(&body["template_id"]),
        }
    }

    fn peers(&self) -> String {
        format!("/v2/simulate/rooms/{}/peers", self.id)
    }

    fn peer(&self, peer: &Value) -> String {
        format!("{}/{}", self.peers(), text(&peer["id"]))
    }

    fn active(&self) -> String {
        format!("/v2/active-rooms/{}", self.id)
    }

    fn active_peer(&self, peer: &Value) -> String {
        format!("{}/peers/{}", self.active(), text(&peer["id"]))
    }

    fn inbox(&self, peer: &Value) -> String {
        format!("{}/messages", self.peer(peer))
    }
}

async fn create_room(node: &TestServer, name: &str) -> Room {
    Room::of(&ok(node.post("/v2/rooms", json!({ "name": name })).await, name))
}

async fn join(node: &TestServer, room: &Room, role: &str, name: &str) -> Value {
    let body = json!({ "role": role, "name": name, "user_id": name.to_lowercase() });
    ok(node.post(&room.peers(), body).await, &format!("{name} joins"))
}

/// What a peer received, read through `node`.
async fn inbox(node: &TestServer, room: &Room, peer: &Value) -> Vec<Value> {
    let body = ok(node.get(&room.inbox(peer)).await, "inbox");
    body["messages"].as_array().expect("messages").clone()
}

/// Every room of the default workspace, enabled or not, page by page.
async fn all_rooms(node: &TestServer) -> Vec<Value> {
    let mut rooms = Vec::new();
    for enabled in [true, false] {
        let mut after = String::new();
        loop {
            let path = format!("/v2/rooms?enabled={enabled}&limit=100{after}");
            let page = ok(node.get(&path).await, "rooms");
            let data = page["data"].as_array().expect("data").clone();
            if data.is_empty() {
                break;
            }
            rooms.extend(data);
            after = format!("&start={}", text(&page["last"]));
        }
    }
    rooms
}

/// Every code of a room, in creation order.
async fn room_codes(node: &TestServer, room: &Room) -> Vec<Value> {
    let page = ok(
        node.get(&format!("/v2/room-codes/room/{}?limit=100", room.id)).await,
        "room codes",
    );
    page["data"].as_array().expect("data").clone()
}

/// The sessions of a room (the newest first).
async fn sessions(node: &TestServer, room: &Room, query: &str) -> Vec<Value> {
    let page = ok(
        node.get(&format!("/v2/sessions?room_id={}&limit=100{query}", room.id))
            .await,
        "sessions",
    );
    page["data"].as_array().expect("data").clone()
}

/// The whole event log of the default workspace, oldest first, read page by page.
async fn event_log(node: &TestServer) -> Vec<Value> {
    let mut events = Vec::new();
    let mut after = String::new();
    loop {
        let page = ok(
            node.get(&format!("/v2/simulate/events?limit=50{after}")).await,
            "events",
        );
        let batch = page["events"].as_array().expect("events");
        if batch.is_empty() {
            return events;
        }
        events.extend(batch.iter().cloned());
        after = format!("&after={}", page["last"].as_i64().expect("a cursor"));
    }
}

fn event_ids(events: &[Value]) -> Vec<String> {
    events.iter().map(|e| text(&e["id"])).collect()
}

fn of_room<'a>(events: &'a [Value], room: &Room) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e["data"]["room_id"] == room.id.as_str())
        .collect()
}

fn kinds(events: &[&Value]) -> Vec<String> {
    events.iter().map(|e| text(&e["type"])).collect()
}

fn count(events: &[&Value], kind: &str) -> usize {
    events.iter().filter(|e| e["type"] == kind).count()
}

/// Sets `maxPeerCount` of a role of a template through `node`.
async fn set_max_peers(node: &TestServer, template_id: &str, role: &str, max: i64) {
    let path = format!("/v2/templates/{template_id}/roles/{role}");
    let mut body = ok(node.get(&path).await, "role");
    body["maxPeerCount"] = json!(max);
    assert_reply(node.post(&path, body.clone()).await, 200, &body, "role update");
}

/// Runs the CLI on `node`'s data dir, naming the shared database; answers its stdout.
fn admin(cluster: &Cluster, node: &TestServer, args: &[&str]) -> String {
    let url = cluster.database_url();
    let mut args = args.to_vec();
    args.extend(["--database-url", &url]);
    let output = node.cli(&args);
    assert!(
        output.status.success(),
        "hms {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

// ---------------------------------------------------------------------------------------
// Reads after writes
// ---------------------------------------------------------------------------------------

#[tokio::test]
#[ignore = "needs PostgreSQL (HMS_TEST_POSTGRES_URL)"]
async fn writes_through_one_node_are_served_by_the_other_at_once() {
    let cluster = Cluster::start(&[]);
    let (a, b) = (cluster.a(), cluster.b());

    // Rooms: each read comes right after the acknowledged write, through the other node.
    let created = ok(
        a.post("/v2/rooms", json!({"name": "read-your-writes", "description": "first"}))
            .await,
        "create",
    );
    let room = Room::of(&created);
    let path = format!("/v2/rooms/{}", room.id);
    assert_reply(b.get(&path).await, 200, &created, "B reads the room A created");
    let by_name = ok(b.get("/v2/rooms?name=read-your-writes").await, "by name");
    assert_eq!(by_name["data"], json!([created]), "B finds it by name");
    let updated = ok(b.post(&path, json!({"description": "second"})).await, "update");
    assert_eq!(updated["description"], "second");
    assert_reply(a.get(&path).await, 200, &updated, "A reads B's update");
    let disabled = ok(a.post(&path, json!({"enabled": false})).await, "disable");
    assert_eq!(disabled["enabled"], false);
    assert_reply(b.get(&path).await, 200, &disabled, "B reads A's disable");
    let listed = ok(b.get("/v2/rooms?enabled=false").await, "disabled rooms");
    assert_eq!(listed["data"], json!([disabled]));
    let enabled = ok(b.post(&path, json!({"enabled": true})).await, "enable");
    assert_reply(a.get(&path).await, 200, &enabled, "A reads B's enable");

    // Templates.
    let role_path = format!("/v2/templates/{}/roles/guest", room.template_id);
    let mut role = ok(a.get(&role_path).await, "role");
    role["maxPeerCount"] = json!(7);
    assert_reply(b.post(&role_path, role.clone()).await, 200, &role, "B changes a role");
    assert_reply(a.get(&role_path).await, 200, &role, "A reads the role B changed");
    let template_path = format!("/v2/templates/{}", room.template_id);
    assert_eq!(
        ok(a.get(&template_path).await, "template"),
        ok(b.get(&template_path).await, "template"),
        "both nodes serve the same template"
    );

    // Room codes, and the exchange that reads them.
    let codes = ok(
        a.post(&format!("/v2/room-codes/room/{}", room.id), json!({})).await,
        "codes",
    );
    let codes = codes["data"].as_array().expect("codes").clone();
    assert_eq!(room_codes(b, &room).await, codes, "B lists the codes A created");
    let code = text(&codes[0]["code"]);
    let role_of_code = text(&codes[0]["role"]);
    let off = ok(
        b.post("/v2/room-codes/code", json!({"code": code, "enabled": false}))
            .await,
        "disable code",
    );
    assert_eq!(off["enabled"], false);
    let exchange = json!({"code": code, "user_id": "u"});
    assert_reply(
        a.call_with(Method::POST, "/v2/token", Some(exchange.clone()), None)
            .await,
        403,
        &envelope(403, "Room code is disabled", &[]),
        "A refuses the code B disabled",
    );
    let on = ok(
        a.post(&format!("/v2/room-codes/code/{code}"), json!({"enabled": true}))
            .await,
        "enable code",
    );
    assert_eq!(room_codes(b, &room).await[0], on, "B lists A's enable");
    let reply = b.call_with(Method::POST, "/v2/token", Some(exchange), None).await;
    assert_exchanged(
        reply,
        &room.id,
        &role_of_code,
        "u",
        SECRET,
        "B exchanges the code A enabled",
    );

    // A room created through B is found through A, by id and by name.
    let other = ok(b.post("/v2/rooms", json!({"name": "from-b"})).await, "create on B");
    assert_reply(
        a.get(&format!("/v2/rooms/{}", text(&other["id"]))).await,
        200,
        &other,
        "A reads B's room",
    );
    assert_reply(a.get("/v2/rooms/from-b").await, 200, &other, "A reads B's room by name");
}

/// Rooms each updated field by field, all at once, through both nodes.
const EDITED_ROOMS: usize = 4;

#[tokio::test]
#[ignore = "needs PostgreSQL (HMS_TEST_POSTGRES_URL)"]
async fn concurrent_room_updates_through_both_nodes_lose_nothing() {
    let cluster = Cluster::start(&[]);
    let cluster = Arc::new(cluster);
    let changes = room_field_edits();
    let mut rooms = Vec::new();
    for r in 0..EDITED_ROOMS {
        rooms.push(create_room(cluster.node(r), &format!("edited-{r}")).await);
    }
    let mut jobs = Vec::new();
    for room in &rooms {
        for (i, change) in changes.iter().enumerate() {
            let path = format!("/v2/rooms/{}", room.id);
            jobs.push(api_job(&cluster, i, Method::POST, path, Some(change.clone())));
        }
    }
    for answer in concurrently(jobs).await {
        ok(answer, "update");
    }
    for room in &rooms {
        let path = format!("/v2/rooms/{}", room.id);
        let stored = ok(cluster.a().get(&path).await, "room");
        assert_reply(cluster.b().get(&path).await, 200, &stored, "B serves the same room");
        for change in &changes {
            let (field, value) = change.as_object().expect("one field").iter().next().expect("a field");
            assert_eq!(
                &stored[field], value,
                "the acknowledged update of {field} was lost: {stored}"
            );
        }
    }
}

/// Roles upserted at once into one template, through both nodes.
const ROLE_UPSERTS: usize = 24;

#[tokio::test]
#[ignore = "needs PostgreSQL (HMS_TEST_POSTGRES_URL)"]
async fn concurrent_role_upserts_through_both_nodes_lose_nothing() {
    let cluster = Cluster::start(&[]);
    let cluster = Arc::new(cluster);
    let body = json!({"name": "busy", "roles": {"host": {}, "guest": {}}});
    let template = ok(cluster.a().post("/v2/templates", body).await, "template");
    let path = format!("/v2/templates/{}", text(&template["id"]));
    let names: Vec<String> = (0..ROLE_UPSERTS).map(|i| format!("r{i:02}")).collect();
    let jobs = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let body = json!({"subscribeParams": {"subscribeToRoles": ["host"]}});
            api_job(&cluster, i, Method::POST, format!("{path}/roles/{name}"), Some(body))
        })
        .collect();
    for (name, answer) in names.iter().zip(concurrently(jobs).await) {
        // Distinct roles do not conflict: every upsert succeeds.
        let role = ok(answer, name);
        assert_eq!(role["name"], name.as_str());
    }
    let whole = ok(cluster.a().get(&path).await, "template");
    assert_reply(cluster.b().get(&path).await, 200, &whole, "B serves the same template");
    let roles: BTreeSet<String> = whole["roles"].as_object().expect("roles").keys().cloned().collect();
    let mut expected: BTreeSet<String> = names.iter().cloned().collect();
    expected.extend(["host".to_owned(), "guest".to_owned()]);
    assert_eq!(roles, expected, "no acknowledged upsert was lost");
}

// ---------------------------------------------------------------------------------------
// Credentials
// ---------------------------------------------------------------------------------------

/// `hms workspace secret list default`: (id, state) of each secret.
fn secret_list(cluster: &Cluster) -> Vec<(String, String)> {
    admin(cluster, cluster.a(), &["workspace", "secret", "list", "default"])
        .lines()
        .skip(1)
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            (fields[0].to_owned(), fields[fields.len() - 1].to_owned())
        })
        .collect()
}

#[tokio::test]
#[ignore = "needs PostgreSQL (HMS_TEST_POSTGRES_URL)"]
async fn credential_changes_reach_every_node_by_notify() {
    let env = [("HMS_CREDENTIALS_REFRESH_MS", "600000")];
    let cluster = Cluster::start(&env);
    const NEW_SECRET: &str = "node-rotated-secret-5f4e3d2c1b0a9988";
    let old_token = management_token(ACCESS_KEY, SECRET);
    let new_token = management_token(ACCESS_KEY, NEW_SECRET);
    let refused = envelope(
        401,
        &format!("Token validation error: {BAD_SIGNATURE}"),
        &[BAD_SIGNATURE],
    );
    for node in &cluster.nodes {
        let reply = node.call_with(Method::GET, "/v2/rooms", None, Some(&new_token)).await;
        assert_reply(reply, 401, &refused, "a secret nobody added yet");
    }
    let secrets = secret_list(&cluster);
    assert_eq!(secrets.len(), 1, "{secrets:?}");
    let old_id = secrets[0].0.clone();

    // Added through one data dir: both nodes accept it promptly.
    admin(
        &cluster,
        cluster.a(),
        &["workspace", "secret", "add", "default", "--secret", NEW_SECRET],
    );
    for (name, node) in ["A", "B"].iter().zip(&cluster.nodes) {
        assert!(
            node.wait_for_token(&new_token, true, PROMPTLY).await,
            "node {name} accepts the added secret within {PROMPTLY:?}"
        );
    }
    // The exchange of both nodes signs with the newest secret.
    let room = create_room(cluster.a(), "rotation").await;
    let codes = ok(
        cluster
            .b()
            .post(&format!("/v2/room-codes/room/{}", room.id), json!({}))
            .await,
        "codes",
    );
    let (code, role) = (text(&codes["data"][0]["code"]), text(&codes["data"][0]["role"]));
    for (index, node) in cluster.nodes.iter().enumerate() {
        let user = format!("user-{index}");
        let body = json!({"code": code, "user_id": user});
        let reply = node.call_with(Method::POST, "/v2/token", Some(body), None).await;
        assert_exchanged(reply, &room.id, &role, &user, NEW_SECRET, "signed with the new secret");
    }

    // Retired through the other data dir: both nodes refuse it promptly.
    admin(
        &cluster,
        cluster.b(),
        &["workspace", "secret", "retire", "default", &old_id],
    );
    for (name, node) in ["A", "B"].iter().zip(&cluster.nodes) {
        assert!(
            node.wait_for_token(&old_token, false, PROMPTLY).await,
            "node {name} refuses the retired secret within {PROMPTLY:?}"
        );
        let reply = node.call_with(Method::GET, "/v2/rooms", None, Some(&old_token)).await;
        assert_reply(reply, 401, &refused, "the retired secret");
        let reply = node.call_with(Method::GET, "/v2/rooms", None, Some(&new_token)).await;
        assert_eq!(reply.0, StatusCode::OK, "the new secret still works: {}", reply.1);
    }

    // A workspace created through the CLI is served by both nodes, and only its own rooms.
    let (key, secret) = ("node-test-access-key-0001", "node-test-secret-0123456789abcdef");
    admin(
        &cluster,
        cluster.a(),
        &["workspace", "create", "acme", "--access-key", key, "--secret", secret],
    );
    let token = management_token(key, secret);
    for (name, node) in ["A", "B"].iter().zip(&cluster.nodes) {
        assert!(
            node.wait_for_token(&token, true, PROMPTLY).await,
            "node {name} accepts the new workspace within {PROMPTLY:?}"
        );
        let reply = node.call_with(Method::GET, "/v2/rooms", None, Some(&token)).await;
        assert_reply(
            reply,
            200,
            &json!({"limit": 10, "data": [], "last": ""}),
            "acme has no rooms",
        );
    }
}

// ---------------------------------------------------------------------------------------
// Live state
// ---------------------------------------------------------------------------------------

#[tokio::test]
#[ignore = "needs PostgreSQL (HMS_TEST_POSTGRES_URL)"]
async fn live_state_is_shared_by_both_nodes() {
    let cluster = Cluster::start(&[]);
    let (a, b) = (cluster.a(), cluster.b());
    let room = create_room(a, "live").await;
    let pam = join(a, &room, "host", "Pam").await;
    let quinn = join(b, &room, "guest", "Quinn").await;

    // A peer that joined through A is seen through B, exactly as it joined.
    assert_reply(b.get(&room.active_peer(&pam)).await, 200, &pam, "B retrieves Pam");
    assert_reply(a.get(&room.active_peer(&quinn)).await, 200, &quinn, "A retrieves Quinn");
    let both = json!({"peers": {text(&pam["id"]): listed(&pam), text(&quinn["id"]): listed(&quinn)}});
    for node in [a, b] {
        assert_reply(node.get(&format!("{}/peers", room.active())).await, 200, &both, "peers");
    }
    let active = ok(a.get(&room.active()).await, "active room");
    assert_eq!(active["session"]["peers"], json!([pam["id"], quinn["id"]]));
    assert_eq!(active["session"]["created_at"], pam["joined_at"]);
    assert_reply(b.get(&room.active()).await, 200, &active, "B's active room");

    // Messaged through B, received in the inbox read through A.
    let message = json!({"peer_id": pam["id"], "message": "hello from B"});
    assert_reply(
        b.post(&format!("{}/send-message", room.active()), message).await,
        200,
        &ack("message sent"),
        "send",
    );
    let hello = json!({"type": "message", "message": "hello from B", "message_type": "chat"});
    assert_eq!(timeless(&inbox(a, &room, &pam).await), std::slice::from_ref(&hello));
    assert_eq!(inbox(a, &room, &quinn).await, Vec::<Value>::new());

    // Updated through B: A serves the update and Pam was told.
    let mut renamed = pam.clone();
    renamed["name"] = json!("Pamela");
    renamed["metadata"] = json!("{\"hand\":true}");
    let update = json!({"name": "Pamela", "metadata": "{\"hand\":true}"});
    assert_reply(b.post(&room.active_peer(&pam), update).await, 200, &renamed, "update");
    assert_reply(
        a.get(&room.active_peer(&pam)).await,
        200,
        &renamed,
        "A reads the update",
    );
    let told = [
        hello.clone(),
        json!({"type": "name_changed", "name": "Pamela"}),
        json!({"type": "metadata_changed", "metadata": "{\"hand\":true}"}),
    ];
    assert_eq!(timeless(&inbox(a, &room, &pam).await), told);

    // Removed through B: gone for A, and told so.
    let removal = json!({"peer_id": pam["id"], "reason": "moderated"});
    assert_reply(
        b.post(&format!("{}/remove-peers", room.active()), removal).await,
        200,
        &ack("peer remove request submitted"),
        "remove",
    );
    assert_reply(
        a.get(&room.active_peer(&pam)).await,
        404,
        &envelope(404, "Peer not found", &[]),
        "A no longer has Pam",
    );
    let mut told = told.to_vec();
    told.push(json!({"type": "removed", "reason": "moderated"}));
    assert_eq!(timeless(&inbox(a, &room, &pam).await), told);
    let only_quinn = json!({"peers": {text(&quinn["id"]): listed(&quinn)}});
    assert_reply(
        a.get(&format!("{}/peers", room.active())).await,
        200,
        &only_quinn,
        "A's peers",
    );

    // Ended through B: the room is not active for A either.
    assert_reply(
        b.post(&format!("{}/end-room", room.active()), json!({"reason": "wrap up"}))
            .await,
        200,
        &ack("session is ending"),
        "end room",
    );
    for node in [a, b] {
        assert_reply(
            node.get(&room.active()).await,
            404,
            &envelope(404, "Room is not active", &[NOT_ACTIVE]),
            "after the end",
        );
    }
    let ended = json!({"type": "room_ended", "reason": "wrap up", "lock": false});
    assert_eq!(timeless(&inbox(a, &room, &quinn).await), [ended]);
    let history = sessions(a, &room, "").await;
    assert_eq!(history.len(), 1, "one session: {history:?}");
    assert_eq!(history[0]["id"], active["session"]["id"]);
    assert_eq!(history[0]["active"], false);
    assert_eq!(sessions(b, &room, "").await, history, "B shows the same session");

    // One story of the room, told the same by both nodes.
    let log = event_log(a).await;
    assert_eq!(event_log(b).await, log, "both nodes serve the same event log");
    let events = of_room(&log, &room);
    assert_eq!(
        kinds(&events),
        [
            "session.open.success",
            "peer.join.success",
            "peer.join.success",
            "peer.leave.success",
            "room.end.success",
            "peer.leave.success",
            "session.close.success",
        ]
    );
    let leave = |event: &Value| {
        (
            text(&event["data"]["peer_id"]),
            text(&event["data"]["reason"]),
            text(&event["data"]["message"]),
        )
    };
    assert_eq!(
        leave(events[3]),
        (text(&pam["id"]), "peer kicked".to_owned(), "moderated".to_owned())
    );
    assert_eq!(
        leave(events[5]),
        (text(&quinn["id"]), "peer kicked".to_owned(), "wrap up".to_owned())
    );
    for event in &events {
        assert_eq!(event["data"]["session_id"], active["session"]["id"], "{event}");
    }
}

// ---------------------------------------------------------------------------------------
// A concurrent workload, with webhooks
// ---------------------------------------------------------------------------------------

/// A loopback webhook endpoint that answers 200 to every request and records each body in
/// the order received.
struct Receiver {
    url: String,
    received: Arc<Mutex<Vec<Value>>>,
    task: JoinHandle<()>,
}

impl Receiver {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("the receiver binds");
        let url = format!("http://{}/hooks", listener.local_addr().expect("address"));
        let received = Arc::new(Mutex::new(Vec::new()));
        let recording = received.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(answer_connection(stream, recording.clone()));
            }
        });
        Self { url, received, task }
    }

    fn received(&self) -> Vec<Value> {
        self.received.lock().expect("receiver lock").clone()
    }

    /// Waits until every event of `log` was received (at most `within`).
    async fn wait_for(&self, log: &[Value], within: Duration) -> Vec<Value> {
        let deadline = Instant::now() + within;
        let wanted: HashSet<String> = log.iter().map(|e| text(&e["id"])).collect();
        loop {
            let received = self.received();
            let ids: HashSet<String> = received.iter().map(|e| text(&e["id"])).collect();
            if wanted.is_subset(&ids) {
                return received;
            }
            let missing = wanted.difference(&ids).count();
            assert!(
                Instant::now() < deadline,
                "{missing} of {} logged events never reached the receiver",
                wanted.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Records each request's JSON body, then answers 200, until the connection closes.
/// Each node keeps a copy of the sessions it changed, checked against the store's revision
/// before every use: a node that changed a room last must still see, at once, what the
/// other node changes next, and act on it (the copy never answers for the store).
#[tokio::test]
#[ignore = "needs PostgreSQL (HMS_TEST_POSTGRES_URL)"]
async fn a_node_sees_at_once_what_the_other_changed_after_it() {
    let cluster = Cluster::start(&[]);
    let (a, b) = (cluster.a(), cluster.b());
    let room = create_room(a, "copies").await;
    let peers_of = |node: &'static str| format!("{node}'s peers");
    let listed_by = |peers: &[&Value]| {
        let peers: serde_json::Map<String, Value> =
            peers.iter().map(|peer| (text(&peer["id"]), listed(peer))).collect();
        json!({ "peers": peers })
    };
    // A joins two peers (its copy is now the newest); B renames one and removes the other.
    let ann = join(a, &room, "guest", "Ann").await;
    let bob = join(a, &room, "guest", "Bob").await;
    let mut renamed = ann.clone();
    renamed["name"] = json!("Annie");
    assert_reply(
        b.post(&room.active_peer(&ann), json!({"name": "Annie"})).await,
        200,
        &renamed,
        "B renames",
    );
    assert_reply(
        b.call(Method::DELETE, &room.peer(&bob), None).await,
        200,
        &ack("peer left"),
        "B removes Bob",
    );
    assert_reply(
        a.get(&format!("{}/peers", room.active())).await,
        200,
        &listed_by(&[&renamed]),
        &peers_of("A"),
    );
    // A acts on what B did: Bob cannot leave twice, a peer joined through B can be removed.
    assert_reply(
        a.call(Method::DELETE, &room.peer(&bob), None).await,
        404,
        &envelope(404, "Peer not found", &[]),
        "A: Bob already left",
    );
    let cy = join(b, &room, "guest", "Cy").await;
    assert_reply(
        a.call(Method::DELETE, &room.peer(&cy), None).await,
        200,
        &ack("peer left"),
        "A removes Cy",
    );
    assert_reply(
        b.get(&format!("{}/peers", room.active())).await,
        200,
        &listed_by(&[&renamed]),
        &peers_of("B"),
    );
    // The last peer leaves through A: the session B saw open is closed for B too.
    assert_reply(
        a.call(Method::DELETE, &room.peer(&ann), None).await,
        200,
        &ack("peer left"),
        "A: Ann leaves",
    );
    assert_reply(
        b.get(&room.active()).await,
        404,
        &envelope(404, "Room is not active", &[NOT_ACTIVE]),
        "B after the last leave",
    );
}

async fn answer_connection(stream: TcpStream, received: Arc<Mutex<Vec<Value>>>) {
    let (reader, mut writer) = stream.into_split();
    let mut reader = BufReader::new(reader);
    while let Some(body) = read_request_body(&mut reader).await {
        let event = serde_json::from_slice(&body).unwrap_or(Value::Null);
        received.lock().expect("receiver lock").push(event);
        let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
        if writer.write_all(answer).await.is_err() {
            return;
        }
    }
}

/// The body of the next HTTP/1.1 request on the connection (webhook bodies always come
/// with a `content-length`); `None` once the connection ends.
async fn read_request_body(reader: &mut BufReader<OwnedReadHalf>) -> Option<Vec<u8>> {
    let mut length = 0;
    let mut started = false;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await.ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            if started {
                break;
            }
            continue;
        }
        started = true;
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().ok()?;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).await.ok()?;
    Some(body)
}

const ROOMS: usize = 4;
/// Upserts of each room name, alternating nodes.
const UPSERTS: usize = 4;
/// `POST /v2/room-codes/room/{id}` calls per room, alternating nodes.
const CODE_CALLS: usize = 4;
const HOST_LIMIT: usize = 3;
const HOST_ATTEMPTS: usize = 8;
const GUESTS: usize = 4;
const BROADCASTS: usize = 4;

/// The refusal of one more host.
fn role_full() -> Value {
    let detail = format!("role \"host\" already has {HOST_LIMIT} peers, its maxPeerCount");
    envelope(403, "Role limit reached", &[&detail])
}

/// `name` in one of a few spellings: upserts match names in any case.
fn spelled(name: &str, variant: usize) -> String {
    match variant % 3 {
        0 => name.to_owned(),
        1 => name.to_uppercase(),
        _ => name[..1].to_uppercase() + &name[1..],
    }
}

/// A simulated peer that joined, and the node it joined through.
#[derive(Clone, Debug)]
struct Joined {
    room: usize,
    node: usize,
    peer: Value,
}

impl Joined {
    fn id(&self) -> String {
        text(&self.peer["id"])
    }

    /// The node the peer did not join through, where the tests look at it.
    fn other_node(&self) -> usize {
        self.node + 1
    }
}

#[tokio::test]
#[ignore = "needs PostgreSQL (HMS_TEST_POSTGRES_URL)"]
async fn a_concurrent_workload_through_both_nodes_keeps_every_invariant() {
    let cluster = Cluster::start(&[]);
    let cluster = Arc::new(cluster);
    let receiver = Receiver::start().await;
    admin(
        &cluster,
        cluster.b(),
        &["workspace", "webhook", "set", "default", "--url", &receiver.url],
    );

    let follower = LogFollower::start(&cluster, Duration::from_millis(10));
    let rooms = upsert_rooms(&cluster).await;
    set_max_peers(cluster.b(), &rooms[0].template_id, "host", HOST_LIMIT as i64).await;
    let codes = create_codes(&cluster, &rooms).await;
    let peers = exchange_and_join(&cluster, &rooms, &codes).await;
    let mut departed = message_update_and_leave(&cluster, &rooms, &peers).await;
    departed.extend(promote_two_guests(&cluster, &rooms, &peers).await);
    end_every_session(&cluster, &rooms, &peers, &departed).await;

    let log = event_log(cluster.a()).await;
    assert_eq!(event_log(cluster.b()).await, log, "both nodes serve the same event log");
    assert_eq!(
        event_ids(&follower.stop().await),
        event_ids(&log),
        "following the log with its cursor while it grew saw every event, in order"
    );
    for (index, room) in rooms.iter().enumerate() {
        let mine: Vec<Joined> = peers.iter().filter(|p| p.room == index).cloned().collect();
        assert_room_story(&cluster, room, &of_room(&log, room), &mine, index < 2).await;
    }
    assert_webhooks(&receiver, &log, &rooms).await;
}

/// Reads the event log while a workload makes it grow, as a consumer polling it would:
/// each read asks for the events after the last one seen, through either node in turn.
struct LogFollower {
    stopping: Arc<AtomicBool>,
    task: JoinHandle<Vec<Value>>,
}

impl LogFollower {
    /// Reads with `pause` between rounds of reads.
    fn start(cluster: &Arc<Cluster>, pause: Duration) -> Self {
        let stopping = Arc::new(AtomicBool::new(false));
        let (cluster, stop) = (cluster.clone(), stopping.clone());
        let task = tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut after = String::new();
            for read in 0.. {
                // The last round starts after the workload ended, and so sees its end.
                let last_round = stop.load(Ordering::SeqCst);
                loop {
                    let path = format!("/v2/simulate/events?limit=1000{after}");
                    let page = ok(cluster.node(read).get(&path).await, "events");
                    let batch = page["events"].as_array().expect("events");
                    if batch.is_empty() {
                        break;
                    }
                    seen.extend(batch.iter().cloned());
                    after = format!("&after={}", page["last"].as_i64().expect("a cursor"));
                }
                if last_round {
                    break;
                }
                tokio::time::sleep(pause).await;
            }
            seen
        });
        Self { stopping, task }
    }

    /// Every event seen, in the order seen.
    async fn stop(self) -> Vec<Value> {
        self.stopping.store(true, Ordering::SeqCst);
        self.task.await.expect("the follower ran")
    }
}

/// Upserts of a few names from many tasks over both nodes: one room per name.
async fn upsert_rooms(cluster: &Arc<Cluster>) -> Vec<Room> {
    let names: Vec<String> = (0..ROOMS).map(|r| format!("standup-{r}")).collect();
    let jobs = (0..ROOMS * UPSERTS)
        .map(|i| {
            let (room, variant) = (i % ROOMS, i / ROOMS);
            let body = json!({"name": spelled(&names[room], variant), "description": format!("upsert {variant}")});
            api_job(cluster, variant, Method::POST, "/v2/rooms".into(), Some(body))
        })
        .collect();
    let answers = concurrently(jobs).await;
    let mut rooms: Vec<Option<Room>> = vec![None; ROOMS];
    for (i, answer) in answers.into_iter().enumerate() {
        let body = ok(answer, "upsert");
        let room = Room::of(&body);
        assert_eq!(room.name.to_lowercase(), names[i % ROOMS], "{body}");
        let first = rooms[i % ROOMS].get_or_insert_with(|| room.clone());
        assert_eq!(
            first.id,
            room.id,
            "every upsert of {} answers one room",
            names[i % ROOMS]
        );
    }
    let rooms: Vec<Room> = rooms.into_iter().map(|room| room.expect("answered")).collect();

    for node in &cluster.nodes {
        for (room, name) in rooms.iter().zip(&names) {
            let page = ok(node.get(&format!("/v2/rooms?name={name}")).await, "by name");
            let ids: Vec<String> = page["data"]
                .as_array()
                .expect("data")
                .iter()
                .map(|r| text(&r["id"]))
                .collect();
            assert_eq!(ids, std::slice::from_ref(&room.id), "one room named {name}");
        }
    }
    let listed = all_rooms(cluster.a()).await;
    assert_eq!(all_rooms(cluster.b()).await, listed, "both nodes list the same rooms");
    let listed_ids: BTreeSet<String> = listed.iter().map(|r| text(&r["id"])).collect();
    let ids: BTreeSet<String> = rooms.iter().map(|r| r.id.clone()).collect();
    assert_eq!(listed_ids, ids, "no other room was made");
    rooms
}

/// Codes of every role, created concurrently through both nodes: at most one enabled code
/// per role, listed the same by both. Answers each room's codes.
async fn create_codes(cluster: &Arc<Cluster>, rooms: &[Room]) -> Vec<Vec<Value>> {
    let template = ok(
        cluster
            .a()
            .get(&format!("/v2/templates/{}", rooms[0].template_id))
            .await,
        "template",
    );
    let roles: BTreeSet<String> = template["roles"].as_object().expect("roles").keys().cloned().collect();
    let jobs = (0..rooms.len() * CODE_CALLS)
        .map(|i| {
            let path = format!("/v2/room-codes/room/{}", rooms[i % rooms.len()].id);
            api_job(cluster, i / rooms.len(), Method::POST, path, Some(json!({})))
        })
        .collect();
    let answers = concurrently(jobs).await;
    let mut codes: Vec<Option<Vec<Value>>> = vec![None; rooms.len()];
    for (i, answer) in answers.into_iter().enumerate() {
        let data = ok(answer, "codes")["data"].as_array().expect("data").clone();
        let first = codes[i % rooms.len()].get_or_insert_with(|| data.clone());
        assert_eq!(first, &data, "every call for a room answers the same codes");
    }
    let codes: Vec<Vec<Value>> = codes.into_iter().map(|c| c.expect("answered")).collect();
    for (room, room_codes_made) in rooms.iter().zip(&codes) {
        let enabled: Vec<String> = room_codes_made
            .iter()
            .filter(|c| c["enabled"] == true)
            .map(|c| text(&c["role"]))
            .collect();
        let distinct: BTreeSet<String> = enabled.iter().cloned().collect();
        assert_eq!(
            enabled.len(),
            distinct.len(),
            "one enabled code per role: {room_codes_made:?}"
        );
        assert_eq!(distinct, roles, "a code for every role: {room_codes_made:?}");
        for node in &cluster.nodes {
            assert_eq!(
                &room_codes(node, room).await,
                room_codes_made,
                "both nodes list every code"
            );
        }
    }
    codes
}

/// Exchanges of every code through both nodes, and joins beyond the host limit through
/// both nodes, all at once. Answers the peers that joined.
async fn exchange_and_join(cluster: &Arc<Cluster>, rooms: &[Room], codes: &[Vec<Value>]) -> Vec<Joined> {
    enum Planned {
        Exchange {
            room: usize,
            role: String,
            user_id: String,
        },
        Join {
            room: usize,
            node: usize,
            role: &'static str,
        },
    }
    let mut plan = Vec::new();
    let mut jobs = Vec::new();
    for (r, room) in rooms.iter().enumerate() {
        let mut exchanges = codes[r].iter().flat_map(|code| [(code, 0), (code, 1)]);
        for attempt in 0..HOST_ATTEMPTS {
            let node = attempt + r;
            let body = json!({"role": "host", "name": format!("Host {r}.{attempt}")});
            jobs.push(api_job(cluster, node, Method::POST, room.peers(), Some(body)));
            plan.push(Planned::Join {
                room: r,
                node,
                role: "host",
            });
            if attempt < GUESTS {
                let body = json!({"role": "guest", "name": format!("Guest {r}.{attempt}")});
                jobs.push(api_job(cluster, node + 1, Method::POST, room.peers(), Some(body)));
                plan.push(Planned::Join {
                    room: r,
                    node: node + 1,
                    role: "guest",
                });
            }
            if let Some((code, node)) = exchanges.next() {
                let user_id = format!("user-{r}-{attempt}");
                jobs.push(exchange_job(cluster, node, &text(&code["code"]), &user_id));
                let role = text(&code["role"]);
                plan.push(Planned::Exchange { room: r, role, user_id });
            }
        }
    }
    let answers = concurrently(jobs).await;
    let full = role_full();
    let mut joined = Vec::new();
    let mut hosts = vec![0; rooms.len()];
    for (planned, answer) in plan.into_iter().zip(answers) {
        match planned {
            Planned::Exchange { room, role, user_id } => {
                assert_exchanged(answer, &rooms[room].id, &role, &user_id, SECRET, "concurrent exchange");
            }
            Planned::Join { room, node, role } if answer.0 == StatusCode::OK => {
                hosts[room] += usize::from(role == "host");
                joined.push(Joined {
                    room,
                    node,
                    peer: answer.1,
                });
            }
            Planned::Join { role, .. } => {
                assert_eq!(role, "host", "only hosts are limited: {}", answer.1);
                assert_reply(answer, 403, &full, "a host beyond the limit");
            }
        }
    }
    assert_eq!(
        hosts,
        vec![HOST_LIMIT; rooms.len()],
        "exactly the limit of hosts joined each room"
    );

    // One open session per room, holding every peer that joined, the same through both.
    for (r, room) in rooms.iter().enumerate() {
        let active = ok(cluster.a().get(&room.active()).await, "active room");
        assert_reply(cluster.b().get(&room.active()).await, 200, &active, "B's active room");
        let in_session: BTreeSet<String> = active["session"]["peers"]
            .as_array()
            .expect("peers")
            .iter()
            .map(text)
            .collect();
        let mine: BTreeSet<String> = joined.iter().filter(|p| p.room == r).map(Joined::id).collect();
        assert_eq!(in_session, mine, "every peer that joined is in the one session");
        for node in &cluster.nodes {
            let open = sessions(node, room, "&active=true").await;
            assert_eq!(open.len(), 1, "one open session: {open:?}");
            assert_eq!(open[0]["id"], active["session"]["id"]);
        }
    }
    joined
}

/// Broadcasts through both nodes while a guest leaves and another is updated, each
/// through the node it did not join through.
async fn message_update_and_leave(cluster: &Arc<Cluster>, rooms: &[Room], peers: &[Joined]) -> HashSet<String> {
    let mut departed = HashSet::new();
    let mut jobs = Vec::new();
    let mut expected = Vec::new();
    for (r, room) in rooms.iter().enumerate() {
        let guests: Vec<&Joined> = peers
            .iter()
            .filter(|p| p.room == r && p.peer["role"] == "guest")
            .collect();
        for k in 0..BROADCASTS {
            let body = json!({"message": format!("broadcast {r}.{k}")});
            let path = format!("{}/send-message", room.active());
            jobs.push(api_job(cluster, k, Method::POST, path, Some(body)));
            expected.push(ack("message sent"));
        }
        let leaving = guests[0];
        departed.insert(leaving.id());
        jobs.push(api_job(
            cluster,
            leaving.other_node(),
            Method::DELETE,
            room.peer(&leaving.peer),
            None,
        ));
        expected.push(ack("peer left"));
        let raising = guests[1];
        let body = json!({"metadata": "{\"hand\":true}"});
        let path = room.active_peer(&raising.peer);
        jobs.push(api_job(cluster, raising.other_node(), Method::POST, path, Some(body)));
        let mut raised = raising.peer.clone();
        raised["metadata"] = json!("{\"hand\":true}");
        expected.push(raised);
    }
    for (answer, expected) in concurrently(jobs).await.into_iter().zip(expected) {
        assert_reply(answer, 200, &expected, "messages, updates and leaves");
    }

    // Every peer still in a room got its broadcasts, all in one order.
    for (r, room) in rooms.iter().enumerate() {
        let guests: Vec<&Joined> = peers
            .iter()
            .filter(|p| p.room == r && p.peer["role"] == "guest")
            .collect();
        let mut orders = Vec::new();
        for peer in peers.iter().filter(|p| p.room == r && p.id() != guests[0].id()) {
            let received = inbox(cluster.node(peer.other_node()), room, &peer.peer).await;
            let texts: Vec<String> = received
                .iter()
                .filter(|d| d["type"] == "message")
                .map(|d| text(&d["message"]))
                .collect();
            orders.push(texts);
        }
        let sent: BTreeSet<String> = (0..BROADCASTS).map(|k| format!("broadcast {r}.{k}")).collect();
        assert_eq!(orders[0].iter().cloned().collect::<BTreeSet<_>>(), sent);
        assert_eq!(orders[0].len(), BROADCASTS, "each broadcast once");
        assert!(orders.iter().all(|o| o == &orders[0]), "one order: {orders:?}");
    }
    departed
}

/// One host of each room leaves; then two guests ask at once, through both nodes, to
/// become hosts: the role has room for one. Answers the hosts that left.
async fn promote_two_guests(cluster: &Arc<Cluster>, rooms: &[Room], peers: &[Joined]) -> HashSet<String> {
    let of_role = |r: usize, role: &str| -> Vec<&Joined> {
        peers.iter().filter(|p| p.room == r && p.peer["role"] == role).collect()
    };
    let leaving: Vec<&Joined> = (0..rooms.len()).map(|r| of_role(r, "host")[0]).collect();
    let jobs = leaving
        .iter()
        .map(|host| {
            api_job(
                cluster,
                host.other_node(),
                Method::DELETE,
                rooms[host.room].peer(&host.peer),
                None,
            )
        })
        .collect();
    for answer in concurrently(jobs).await {
        assert_reply(answer, 200, &ack("peer left"), "a host leaves");
    }

    let candidates: Vec<&Joined> = (0..rooms.len())
        .flat_map(|r| of_role(r, "guest")[2..4].to_vec())
        .collect();
    let jobs = candidates
        .iter()
        .enumerate()
        .map(|(i, guest)| {
            let path = rooms[guest.room].active_peer(&guest.peer);
            // The two candidates of a room ask through different nodes.
            api_job(cluster, i, Method::POST, path, Some(json!({"role": "host"})))
        })
        .collect();
    let full = role_full();
    let mut promoted = vec![0; rooms.len()];
    for (guest, answer) in candidates.iter().zip(concurrently(jobs).await) {
        if answer.0 == StatusCode::OK {
            let mut host = guest.peer.clone();
            host["role"] = json!("host");
            assert_eq!(answer.1, host, "the promoted guest");
            promoted[guest.room] += 1;
        } else {
            assert_reply(answer, 403, &full, "a promotion beyond the limit");
        }
    }
    assert_eq!(promoted, vec![1; rooms.len()], "one promotion per room");
    for room in rooms {
        for node in &cluster.nodes {
            let hosts = ok(node.get(&format!("{}/peers?role=host", room.active())).await, "hosts");
            let count = hosts["peers"].as_object().expect("peers").len();
            assert_eq!(count, HOST_LIMIT, "hosts in {}: {hosts}", room.name);
        }
    }
    leaving.iter().map(|host| host.id()).collect()
}

/// The first two rooms are ended, the first one locked while another node edits it; in
/// the others every peer leaves; all at once.
async fn end_every_session(cluster: &Arc<Cluster>, rooms: &[Room], peers: &[Joined], departed: &HashSet<String>) {
    let mut jobs = Vec::new();
    // The exact answer of each job; `None` where it depends on the order of the writes.
    let mut expected = Vec::new();
    for (r, room) in rooms.iter().enumerate() {
        if r < 2 {
            let path = format!("{}/end-room", room.active());
            let body = json!({"reason": "done", "lock": r == 0});
            jobs.push(api_job(cluster, r, Method::POST, path, Some(body)));
            expected.push(Some(ack("session is ending")));
            if r == 0 {
                let edit = json!({"description": "ended"});
                jobs.push(api_job(
                    cluster,
                    r + 1,
                    Method::POST,
                    format!("/v2/rooms/{}", room.id),
                    Some(edit),
                ));
                expected.push(None);
            }
            continue;
        }
        for peer in peers.iter().filter(|p| p.room == r && !departed.contains(&p.id())) {
            jobs.push(api_job(
                cluster,
                peer.other_node(),
                Method::DELETE,
                room.peer(&peer.peer),
                None,
            ));
            expected.push(Some(ack("peer left")));
        }
    }
    for (answer, expected) in concurrently(jobs).await.into_iter().zip(expected) {
        match expected {
            Some(expected) => assert_reply(answer, 200, &expected, "ends and leaves"),
            None => {
                ok(answer, "edit of a room being locked");
            }
        }
    }
    for room in rooms {
        for node in &cluster.nodes {
            assert_reply(
                node.get(&room.active()).await,
                404,
                &envelope(404, "Room is not active", &[NOT_ACTIVE]),
                "after the last peer",
            );
        }
    }
    // Both the lock and the edit hold, whichever was written first.
    for node in &cluster.nodes {
        let locked = ok(node.get(&format!("/v2/rooms/{}", rooms[0].id)).await, "locked room");
        assert_eq!(
            (&locked["enabled"], &locked["description"]),
            (&json!(false), &json!("ended")),
            "{locked}"
        );
        assert_reply(
            node.post(&rooms[0].peers(), json!({"role": "guest"})).await,
            403,
            &envelope(403, "Room is disabled", &[]),
            "a join into the locked room",
        );
    }
}

/// A room's events tell one session: opened once, each peer joining once and leaving
/// once after it joined, the refused hosts, and one close at the end.
async fn assert_room_story(cluster: &Cluster, room: &Room, events: &[&Value], peers: &[Joined], ended: bool) {
    let history = sessions(cluster.a(), room, "").await;
    assert_eq!(sessions(cluster.b(), room, "").await, history);
    assert_eq!(history.len(), 1, "one session in {}: {history:?}", room.name);
    assert_eq!(history[0]["active"], false);
    let session_id = &history[0]["id"];

    let kinds = kinds(events);
    assert_eq!(
        kinds.first().map(String::as_str),
        Some("session.open.success"),
        "{kinds:?}"
    );
    assert_eq!(
        kinds.last().map(String::as_str),
        Some("session.close.success"),
        "{kinds:?}"
    );
    assert_eq!(count(events, "session.open.success"), 1, "{kinds:?}");
    assert_eq!(count(events, "session.close.success"), 1, "{kinds:?}");
    assert_eq!(
        count(events, "peer.join.failure"),
        HOST_ATTEMPTS - HOST_LIMIT,
        "{kinds:?}"
    );
    assert_eq!(count(events, "room.end.success"), usize::from(ended), "{kinds:?}");
    assert_eq!(count(events, "role.change.success"), 1, "{kinds:?}");
    assert_eq!(count(events, "role.change.failure"), 1, "{kinds:?}");
    let mut positions: HashMap<String, (Vec<usize>, Vec<usize>)> = HashMap::new();
    for (at, event) in events.iter().enumerate() {
        let data = &event["data"];
        if event["type"] != "peer.join.failure" {
            assert_eq!(&data["session_id"], session_id, "{event}");
        }
        let entry = || data["peer_id"].as_str().map(str::to_owned).unwrap_or_default();
        match event["type"].as_str() {
            Some("peer.join.success") => positions.entry(entry()).or_default().0.push(at),
            Some("peer.leave.success") => positions.entry(entry()).or_default().1.push(at),
            _ => {}
        }
    }
    let expected: BTreeSet<String> = peers.iter().map(Joined::id).collect();
    let seen: BTreeSet<String> = positions.keys().cloned().collect();
    assert_eq!(seen, expected, "the peers in the events are those that joined");
    for (peer, (joins, leaves)) in &positions {
        assert_eq!((joins.len(), leaves.len()), (1, 1), "{peer} joins once and leaves once");
        assert!(joins[0] < leaves[0], "{peer} leaves after it joined");
    }
}

/// Every logged event reached the receiver exactly once, as logged, each room's in the
/// order of the log.
async fn assert_webhooks(receiver: &Receiver, log: &[Value], rooms: &[Room]) {
    receiver.wait_for(log, Duration::from_secs(20)).await;
    // A duplicate would come from a second claim of a delivery: give it time to show.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let received = receiver.received();
    let mut seen = HashSet::new();
    for event in &received {
        assert!(seen.insert(text(&event["id"])), "{} was delivered twice", event["id"]);
    }
    assert_eq!(received.len(), log.len(), "nothing but the log was delivered");
    let logged: HashMap<String, &Value> = log.iter().map(|e| (text(&e["id"]), e)).collect();
    for event in &received {
        assert_eq!(Some(&event), logged.get(&text(&event["id"])), "delivered as logged");
    }
    for room in rooms {
        let ids = |events: Vec<&Value>| events.iter().map(|e| text(&e["id"])).collect::<Vec<_>>();
        assert_eq!(
            ids(of_room(&received, room)),
            ids(of_room(log, room)),
            "{} received in log order",
            room.name
        );
    }
}

// ---------------------------------------------------------------------------------------
// Following the event log
// ---------------------------------------------------------------------------------------

/// Rooms whose events are logged at once, and joins into each.
const BUSY_ROOMS: usize = 16;
const JOINS_PER_ROOM: usize = 20;

/// The cursor the event log hands out (`last`, passed back as `after`) is safe to follow
/// while both nodes log the events of many rooms at once: no event becomes visible behind
/// one already read.
#[tokio::test]
#[ignore = "needs PostgreSQL (HMS_TEST_POSTGRES_URL)"]
async fn following_the_event_log_while_both_nodes_write_misses_no_event() {
    let cluster = Cluster::start(&[]);
    let cluster = Arc::new(cluster);
    let mut rooms = Vec::new();
    for r in 0..BUSY_ROOMS {
        rooms.push(create_room(cluster.node(r), &format!("busy-{r}")).await);
    }
    // No pause between reads: the more often it reads, the likelier it reads between two
    // commits, where a log committed out of seq order would show its gap.
    let follower = LogFollower::start(&cluster, Duration::ZERO);
    let jobs = (0..JOINS_PER_ROOM)
        .flat_map(|round| {
            let cluster = cluster.clone();
            rooms.iter().enumerate().map(move |(r, room)| {
                let body = json!({"role": "guest", "name": format!("Peer {r}.{round}")});
                api_job(&cluster, r + round, Method::POST, room.peers(), Some(body))
            })
        })
        .collect();
    for answer in concurrently(jobs).await {
        ok(answer, "join");
    }
    let log = event_log(cluster.a()).await;
    assert_eq!(
        log.len(),
        BUSY_ROOMS * (1 + JOINS_PER_ROOM),
        "each room's open and joins"
    );
    let (seen, logged) = (event_ids(&follower.stop().await), event_ids(&log));
    let missed: Vec<&String> = logged.iter().filter(|id| !seen.contains(id)).collect();
    assert_eq!(
        seen, logged,
        "the follower sees every event, in log order; it missed {missed:?}"
    );
}

// ---------------------------------------------------------------------------------------
// A node dies
// ---------------------------------------------------------------------------------------

#[tokio::test]
#[ignore = "needs PostgreSQL (HMS_TEST_POSTGRES_URL)"]
async fn the_peers_of_a_dead_node_are_removed_by_the_survivor() {
    let env = [("HMS_NODE_TIMEOUT_MS", "2000")];
    let mut cluster = Cluster::start(&env);
    let (a, b) = (cluster.a(), cluster.b());
    let shared = create_room(a, "shared").await;
    let doomed = create_room(a, "doomed").await;
    let safe = create_room(b, "safe").await;
    let lost = [
        join(a, &shared, "host", "Ada").await,
        join(a, &shared, "guest", "Abe").await,
        join(a, &doomed, "host", "Amy").await,
        join(a, &doomed, "guest", "Art").await,
    ];
    let kept = [
        (shared.clone(), join(b, &shared, "guest", "Bea").await),
        (safe.clone(), join(b, &safe, "host", "Bob").await),
    ];
    let before = event_log(b).await.len();

    let killed_at = now_millis();
    cluster.nodes[0].kill();
    let b = cluster.b();
    let deadline = Instant::now() + Duration::from_secs(10);
    let removed = loop {
        let log = event_log(b).await;
        let new: Vec<Value> = log[before..].to_vec();
        if new.iter().filter(|e| e["type"] == "peer.leave.success").count() >= lost.len()
            && new.iter().any(|e| e["type"] == "session.close.success")
        {
            break new;
        }
        assert!(
            Instant::now() < deadline,
            "the dead node's peers are still there: {new:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let removed_at = now_millis();

    // Each of A's peers left once, removed by the server, not before the node timeout;
    // the room that only A's peers were in closed.
    let story = |room: &Room| kinds(&of_room(&removed, room));
    assert_eq!(story(&shared), ["peer.leave.success", "peer.leave.success"]);
    assert_eq!(
        story(&doomed),
        ["peer.leave.success", "peer.leave.success", "session.close.success"]
    );
    assert_eq!(story(&safe), Vec::<String>::new());
    assert_eq!(removed.len(), 5, "nothing else happened: {removed:#?}");
    let leaves: Vec<&Value> = removed.iter().filter(|e| e["type"] == "peer.leave.success").collect();
    let left_ids: BTreeSet<String> = leaves.iter().map(|e| text(&e["data"]["peer_id"])).collect();
    let lost_ids: BTreeSet<String> = lost.iter().map(|p| text(&p["id"])).collect();
    assert_eq!(left_ids, lost_ids);
    for leave in &leaves {
        assert_eq!(
            (&leave["data"]["reason"], &leave["data"]["message"]),
            (&json!("server removed peer"), &json!("")),
            "{leave}"
        );
        let left_at = timestamp_millis(&text(&leave["data"]["left_at"])).expect("an API time");
        assert!(
            left_at >= killed_at + 1000 && left_at <= removed_at,
            "removed {} ms after the kill, with a node timeout of 2 s",
            left_at - killed_at
        );
    }

    // The survivor's own peers are untouched.
    for (room, peer) in &kept {
        assert_reply(b.get(&room.active_peer(peer)).await, 200, peer, "B's peer stays");
    }
    let (shared_room, bea) = &kept[0];
    let only_bea = json!({"peers": {text(&bea["id"]): listed(bea)}});
    assert_reply(
        b.get(&format!("{}/peers", shared_room.active())).await,
        200,
        &only_bea,
        "the shared room holds B's peer alone",
    );
    assert_reply(
        b.get(&doomed.active()).await,
        404,
        &envelope(404, "Room is not active", &[NOT_ACTIVE]),
        "the room of A's peers alone",
    );
    assert_eq!(sessions(b, &doomed, "").await[0]["active"], false);
    // And the survivor goes on: a peer joins the shared room through it.
    join(b, &shared, "host", "Ben").await;
}

fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as i64
}
