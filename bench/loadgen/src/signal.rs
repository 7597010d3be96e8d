//! The signalling step: real peers on the client protocol's WebSocket, of a role that
//! neither publishes nor subscribes (so they join without WebRTC, as the protocol lets
//! them). It joins 1,000 peers into one room and 1,000 into 100 rooms, and times
//! broadcasts from one peer to the 999 others.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use hms_auth::{AppSecret, Claims};
use hyper::Method;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::{Semaphore, mpsc};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::client::Conn;
use crate::histogram::Histogram;
use crate::report::latency;
use crate::server::{Credentials, Process, start_hms};
use crate::{call, credentials, management_auth, now_secs, progress};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Peers joined in each scenario.
const PEERS: usize = 1_000;
/// Joins in flight at once.
const JOINING_AT_ONCE: usize = 64;
/// Broadcasts timed to the whole room.
const BROADCASTS: usize = 20;
/// The role the peers join as: it publishes nothing and subscribes to nobody.
const ROLE: &str = "listener";
/// Silence that tells a socket has been told everything so far.
const QUIET: Duration = Duration::from_millis(500);
/// The longest any one protocol step may take before the step fails.
const PATIENCE: Duration = Duration::from_secs(30);

struct Scenario {
    name: String,
    joined: usize,
    took: Duration,
    join_p50: u64,
    join_p99: u64,
    cpu_ms_per_join: f64,
    kib_per_peer: f64,
}

/// Runs the step against a fresh server and answers its markdown section.
pub async fn run(hms: &Path, work_dir: &Path) -> Result<String, String> {
    let credentials = credentials();
    let data_dir = work_dir.join("signal");
    let server = start_hms(hms, &data_dir, &credentials).await?;
    let outcome = scenarios(&server, &credentials).await;
    server.stop().await?;
    let (scenarios, broadcast) = outcome?;
    Ok(render(&scenarios, &broadcast))
}

async fn scenarios(server: &Process, credentials: &Credentials) -> Result<(Vec<Scenario>, Histogram), String> {
    let mut conn = Conn::open(server.addr).await.map_err(|e| e.0)?;
    let auth = management_auth(credentials);
    let templates = call(&mut conn, Method::GET, "/v2/templates", &auth, None).await?;
    let template_id = templates["data"][0]["id"]
        .as_str()
        .ok_or("no default template")?
        .to_owned();
    let role = json!({"name": ROLE, "publishParams": {"allowed": []}, "subscribeParams": {"subscribeToRoles": []}});
    let path = format!("/v2/templates/{template_id}/roles/{ROLE}");
    call(&mut conn, Method::POST, &path, &auth, Some(role)).await?;

    progress(format!("signalling: {PEERS} peers into one room"));
    let one_room = crate::create_rooms(&mut conn, &auth, "signal-one", 1).await?;
    let (one, mut sockets) = join_all(server, credentials, &vec![one_room[0].clone(); PEERS], "1 room").await?;
    progress(format!(
        "signalling: joined in {:.2} s, {:.0} KiB per peer; broadcasts to the whole room",
        one.took.as_secs_f64(),
        one.kib_per_peer
    ));
    // Each peer has first been told of every later join; broadcasts are timed after that.
    sockets = settle(sockets).await;
    let broadcast = broadcast_latency(&mut sockets).await?;
    drop(sockets);

    progress(format!("signalling: {PEERS} peers into 100 rooms"));
    // The first connection sat idle through the steps above, longer than the server keeps one.
    let mut conn = Conn::open(server.addr).await.map_err(|e| e.0)?;
    let rooms = crate::create_rooms(&mut conn, &auth, "signal-many", 100).await?;
    let spread: Vec<String> = (0..PEERS).map(|i| rooms[i % rooms.len()].clone()).collect();
    let (many, sockets) = join_all(server, credentials, &spread, "100 rooms").await?;
    drop(sockets);
    Ok((vec![one, many], broadcast))
}

/// Joins one peer per entry of `rooms`, `JOINING_AT_ONCE` at a time, and keeps them.
async fn join_all(
    server: &Process,
    credentials: &Credentials,
    rooms: &[String],
    name: &str,
) -> Result<(Scenario, Vec<Socket>), String> {
    let rss_before = crate::proc_stats::status_kib(server.pid, "VmRSS").unwrap_or(0);
    let cpu_before = crate::proc_stats::cpu_secs(server.pid).unwrap_or(0.0);
    let gate = Arc::new(Semaphore::new(JOINING_AT_ONCE));
    let started = Instant::now();
    let mut joining = Vec::with_capacity(rooms.len());
    for (index, room_id) in rooms.iter().enumerate() {
        let token = app_token(credentials, room_id, ROLE, &format!("bench-{index}"));
        let peer_id = format!("{}-{index}", name.replace(' ', "-"));
        let (gate, addr) = (gate.clone(), server.addr);
        joining.push(tokio::spawn(async move {
            let _turn = gate.acquire_owned().await.map_err(|e| e.to_string())?;
            let began = Instant::now();
            let socket = join(addr, &token, &peer_id).await?;
            Ok::<_, String>((socket, began.elapsed()))
        }));
    }
    let mut latencies = Histogram::default();
    let mut sockets = Vec::with_capacity(rooms.len());
    for joined in joining {
        let (socket, took) = joined.await.map_err(|e| e.to_string())??;
        latencies.record(took.as_nanos() as u64);
        sockets.push(socket);
    }
    let took = started.elapsed();
    let rss_after = crate::proc_stats::status_kib(server.pid, "VmRSS").unwrap_or(0);
    let cpu_after = crate::proc_stats::cpu_secs(server.pid).unwrap_or(0.0);
    let scenario = Scenario {
        name: name.to_owned(),
        joined: sockets.len(),
        took,
        join_p50: latencies.quantile(0.50),
        join_p99: latencies.quantile(0.99),
        cpu_ms_per_join: (cpu_after - cpu_before) * 1000.0 / sockets.len() as f64,
        kib_per_peer: rss_after.saturating_sub(rss_before) as f64 / sockets.len() as f64,
    };
    Ok((scenario, sockets))
}

/// An app token for `user_id` in room `room_id` with role `role`.
pub fn app_token(credentials: &Credentials, room_id: &str, role: &str, user_id: &str) -> String {
    let claims = Claims::app(&credentials.access_key, room_id, role, user_id, now_secs() - 10, 3600);
    hms_auth::mint(&claims, &AppSecret::new(credentials.secret.clone()))
}

/// Connects, joins and waits for the peer list, as the SDK does.
async fn join(addr: SocketAddr, token: &str, peer_id: &str) -> Result<Socket, String> {
    let url = format!("ws://{addr}/v2/ws?peer={peer_id}&token={token}&protocol_version=2.5");
    let (mut socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let join = json!({"method": "join", "params": {"name": peer_id}, "id": "join", "jsonrpc": "2.0"});
    socket
        .send(Message::Text(join.to_string().into()))
        .await
        .map_err(|e| format!("join: {e}"))?;
    loop {
        let message = next(&mut socket).await?;
        if message["id"] == "join" && message.get("error").is_some() {
            return Err(format!("join refused: {message}"));
        }
        if message["method"] == "peer-list" {
            return Ok(socket);
        }
    }
}

async fn next(socket: &mut Socket) -> Result<Value, String> {
    loop {
        let frame = tokio::time::timeout(PATIENCE, socket.next())
            .await
            .map_err(|_| "no message within 30 s".to_owned())?
            .ok_or("the socket closed")?
            .map_err(|e| e.to_string())?;
        if let Message::Text(text) = frame {
            return serde_json::from_str(&text).map_err(|e| e.to_string());
        }
    }
}

/// Reads every socket until it has been quiet for a moment.
async fn settle(sockets: Vec<Socket>) -> Vec<Socket> {
    let reading: Vec<_> = sockets
        .into_iter()
        .map(|mut socket| {
            tokio::spawn(async move {
                while let Ok(Some(Ok(_))) = tokio::time::timeout(QUIET, socket.next()).await {}
                socket
            })
        })
        .collect();
    let mut settled = Vec::with_capacity(reading.len());
    for task in reading {
        if let Ok(socket) = task.await {
            settled.push(socket);
        }
    }
    settled
}

/// Sends `BROADCASTS` messages from the first peer and times each one's arrival at every
/// other peer.
async fn broadcast_latency(sockets: &mut Vec<Socket>) -> Result<Histogram, String> {
    let mut sender = sockets.remove(0);
    let receivers = std::mem::take(sockets);
    let expected = receivers.len() * BROADCASTS;
    let (arrivals, mut arrived) = mpsc::unbounded_channel::<(usize, Instant)>();
    let listening: Vec<_> = receivers
        .into_iter()
        .map(|mut socket| {
            let arrivals = arrivals.clone();
            tokio::spawn(async move {
                let mut seen = 0;
                while seen < BROADCASTS {
                    let Ok(message) = next(&mut socket).await else { break };
                    if message["method"] == "on-broadcast" {
                        let number = message["params"]["info"]["message"].as_str().unwrap_or("0");
                        let _ = arrivals.send((number.parse().unwrap_or(0), Instant::now()));
                        seen += 1;
                    }
                }
                socket
            })
        })
        .collect();
    drop(arrivals);
    let mut sent_at = Vec::with_capacity(BROADCASTS);
    let mut latencies = Histogram::default();
    let mut received = 0;
    for number in 0..BROADCASTS {
        let request = json!({"method": "broadcast", "params": {"info": {"message": number.to_string(), "type": "chat"}}, "id": format!("b{number}"), "jsonrpc": "2.0"});
        sent_at.push(Instant::now());
        sender
            .send(Message::Text(request.to_string().into()))
            .await
            .map_err(|e| e.to_string())?;
        // One broadcast at a time: each is timed to its last receiver before the next.
        let this_round = received + expected / BROADCASTS;
        while received < this_round {
            let (arrived_number, at) = tokio::time::timeout(PATIENCE, arrived.recv())
                .await
                .map_err(|_| "a broadcast did not reach everyone within 30 s")?
                .ok_or("the receivers stopped")?;
            latencies.record(at.duration_since(sent_at[arrived_number]).as_nanos() as u64);
            received += 1;
        }
    }
    for listener in listening {
        if let Ok(socket) = listener.await {
            sockets.push(socket);
        }
    }
    sockets.push(sender);
    Ok(latencies)
}

/// The step's targets: 1,000 peers into one room within 10 s, a broadcast to all of them
/// at p99 under 500 ms, under 100 KiB of server memory per peer.
const JOIN_TARGET: Duration = Duration::from_secs(10);
const BROADCAST_P99_TARGET: Duration = Duration::from_millis(500);
const KIB_PER_PEER_TARGET: f64 = 100.0;

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "**missed**" }
}

fn render(scenarios: &[Scenario], broadcast: &Histogram) -> String {
    let mut out = String::from(
        "| signalling step | peers | took | joins/s | join p50 | join p99 | server CPU per join | server memory per peer |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for s in scenarios {
        out.push_str(&format!(
            "| {} peers into {} | {} | {:.2} s | {:.0} | {} | {} | {:.2} ms | {:.0} KiB |\n",
            PEERS,
            s.name,
            s.joined,
            s.took.as_secs_f64(),
            s.joined as f64 / s.took.as_secs_f64(),
            latency(s.join_p50),
            latency(s.join_p99),
            s.cpu_ms_per_join,
            s.kib_per_peer,
        ));
    }
    out.push_str(&format!(
        "\nBroadcast from one peer to the {} others of its room ({BROADCASTS} broadcasts, one at a time): \
         arrival p50 {}, p99 {}, max {}.\n",
        PEERS - 1,
        latency(broadcast.quantile(0.50)),
        latency(broadcast.quantile(0.99)),
        latency(broadcast.quantile(1.0)),
    ));
    let one_room = &scenarios[0];
    let broadcast_p99 = Duration::from_nanos(broadcast.quantile(0.99));
    out.push_str(&format!(
        "\n| target | figure | verdict |\n|---|---:|---|\n| {PEERS} peers joined into one room within {} s | {:.2} s | {} |\n| broadcast to the whole room, p99 under {} | {} | {} |\n| server memory per signalling peer under {KIB_PER_PEER_TARGET:.0} KiB | {:.0} KiB | {} |\n",
        JOIN_TARGET.as_secs(),
        one_room.took.as_secs_f64(),
        verdict(one_room.took <= JOIN_TARGET),
        latency(BROADCAST_P99_TARGET.as_nanos() as u64),
        latency(broadcast_p99.as_nanos() as u64),
        verdict(broadcast_p99 <= BROADCAST_P99_TARGET),
        one_room.kib_per_peer,
        verdict(one_room.kib_per_peer <= KIB_PER_PEER_TARGET),
    ));
    out
}
