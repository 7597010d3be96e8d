//! The closed-loop driver: `concurrency` connections, each sending its next request as soon
//! as the previous one is answered, for a warm-up and then a measured window. Every loop
//! ends at its deadline (and every request within `client::REQUEST_TIMEOUT`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::Method;
use hyper::header::HeaderValue;
use serde_json::json;

use crate::client::{Conn, Transport};
use crate::histogram::Histogram;
use crate::proc_stats;

/// What one request (or request pair) of a step does.
pub enum Op {
    /// `GET /healthz`: no token, no database; the HTTP stack alone, as a reference.
    Health,
    /// `GET /v2/rooms/{id}` of a random room among these.
    GetRoom { room_ids: Arc<Vec<String>> },
    /// `GET /v2/rooms/{id}` of a random room `65000000be0c000000{i:06x}`, `i < count`: the
    /// rooms written by the bulk loader.
    GetLoadedRoom { count: u64 },
    /// `POST /v2/rooms` with a name never used before.
    CreateRoom { prefix: String },
    /// `GET /v2/rooms?limit=100`.
    ListRooms,
    /// `POST /v2/room-codes/room/{id}` (idempotent) of a random room among these.
    RoomCodes { room_ids: Arc<Vec<String>> },
    /// `POST /v2/token` with a random room code among these.
    Exchange { codes: Arc<Vec<String>> },
    /// The Node token server's `POST {path}` for a random room among these.
    NodeToken {
        path: &'static str,
        room_ids: Arc<Vec<String>>,
    },
    /// A simulated peer joins a room (`POST /v2/simulate/rooms/{id}/peers`) and leaves it
    /// (`DELETE …/peers/{peer_id}`): two requests, timed together.
    PeerJoinLeave { room_ids: Arc<Vec<String>> },
    /// One of these, picked at random for each request (list one several times to weigh
    /// it more): the soak's mixed workload.
    Mixed { ops: Vec<Arc<Op>> },
}

#[derive(Clone)]
pub struct Target {
    /// The nodes serving the deployment: connection `i` goes to node `i % len`.
    pub addrs: Vec<SocketAddr>,
    /// `Bearer <management token>`, sent on every request of the management API.
    pub auth: HeaderValue,
    /// Processes whose CPU time is reported as the server's.
    pub pids: Vec<u32>,
    /// The PostgreSQL server's postmaster, whose CPU time (with its backends') is reported
    /// as the database's.
    pub database_pid: Option<u32>,
}

impl Target {
    pub fn one(addr: SocketAddr, auth: HeaderValue, pid: u32) -> Self {
        Self {
            addrs: vec![addr],
            auth,
            pids: vec![pid],
            database_pid: None,
        }
    }
}

#[derive(Default)]
pub struct StepResult {
    pub requests: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    pub window: Duration,
    pub latency: Histogram,
    /// CPU time of the server over the measured window, in cores.
    pub server_cores: f64,
    /// CPU time of the load generator itself over the measured window, in cores.
    pub client_cores: f64,
    /// CPU time of the PostgreSQL server over the measured window, in cores (NaN without one).
    pub database_cores: f64,
    /// CPU time of everything else on the machine over the window, in cores: other
    /// programs competing with the benchmark (steal time included).
    pub other_cores: f64,
    /// Largest resident set of the server sampled during the step, in KiB.
    pub server_rss_kib: u64,
}

impl StepResult {
    pub fn per_second(&self) -> f64 {
        self.requests as f64 / self.window.as_secs_f64()
    }
}

enum Failure {
    /// An answer that is not 2xx: the connection stays usable.
    Status(String),
    Transport(Transport),
}

impl From<Transport> for Failure {
    fn from(error: Transport) -> Self {
        Failure::Transport(error)
    }
}

/// A per-connection xorshift generator: cheap, and good enough to pick rooms.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

struct Worker {
    id: usize,
    sent: u64,
    rng: Rng,
    conn: Conn,
}

fn check(answer: crate::client::Answer, what: &str) -> Result<Bytes, Failure> {
    if answer.status.is_success() {
        Ok(answer.body)
    } else {
        let body = String::from_utf8_lossy(&answer.body);
        Err(Failure::Status(format!(
            "{what}: {} {}",
            answer.status.as_u16(),
            body.chars().take(200).collect::<String>()
        )))
    }
}

impl Worker {
    async fn run(&mut self, op: &Op, auth: &HeaderValue) -> Result<(), Failure> {
        if let Op::Mixed { ops } = op {
            let pick = ops[self.rng.below(ops.len())].clone();
            return Box::pin(self.run(&pick, auth)).await;
        }
        self.sent += 1;
        let auth = Some(auth);
        match op {
            Op::Health => {
                check(self.conn.send(Method::GET, "/healthz", None, None).await?, "healthz")?;
            }
            Op::GetRoom { room_ids } => {
                let path = format!("/v2/rooms/{}", room_ids[self.rng.below(room_ids.len())]);
                check(self.conn.send(Method::GET, &path, auth, None).await?, "get room")?;
            }
            Op::GetLoadedRoom { count } => {
                let i = self.rng.below(*count as usize);
                let path = format!("/v2/rooms/{}", crate::loader::room_id(i as u64));
                check(self.conn.send(Method::GET, &path, auth, None).await?, "get room")?;
            }
            Op::CreateRoom { prefix } => {
                let body = json!({ "name": format!("{prefix}-{}-{}", self.id, self.sent) }).to_string();
                let answer = self
                    .conn
                    .send(Method::POST, "/v2/rooms", auth, Some(body.into()))
                    .await?;
                check(answer, "create room")?;
            }
            Op::ListRooms => {
                let answer = self.conn.send(Method::GET, "/v2/rooms?limit=100", auth, None).await?;
                check(answer, "list rooms")?;
            }
            Op::RoomCodes { room_ids } => {
                let path = format!("/v2/room-codes/room/{}", room_ids[self.rng.below(room_ids.len())]);
                let answer = self
                    .conn
                    .send(Method::POST, &path, auth, Some(Bytes::from_static(b"{}")))
                    .await?;
                check(answer, "create room codes")?;
            }
            Op::Exchange { codes } => {
                let code = &codes[self.rng.below(codes.len())];
                let body = json!({ "code": code, "user_id": format!("user-{}-{}", self.id, self.sent) }).to_string();
                let answer = self
                    .conn
                    .send(Method::POST, "/v2/token", None, Some(body.into()))
                    .await?;
                check(answer, "code exchange")?;
            }
            Op::NodeToken { path, room_ids } => {
                let room_id = &room_ids[self.rng.below(room_ids.len())];
                let body = json!({
                    "room_id": room_id,
                    "role": "guest",
                    "user_id": format!("user-{}-{}", self.id, self.sent),
                })
                .to_string();
                let answer = self.conn.send(Method::POST, path, None, Some(body.into())).await?;
                check(answer, "node token")?;
            }
            Op::PeerJoinLeave { room_ids } => {
                // Each connection keeps to one room, as a client of a real room would.
                let room_id = &room_ids[self.id % room_ids.len()];
                let path = format!("/v2/simulate/rooms/{room_id}/peers");
                let body = json!({ "role": "guest", "name": format!("peer-{}", self.id) }).to_string();
                let joined = check(
                    self.conn.send(Method::POST, &path, auth, Some(body.into())).await?,
                    "peer join",
                )?;
                let peer: serde_json::Value = serde_json::from_slice(&joined)
                    .map_err(|e| Failure::Status(format!("peer join: not JSON: {e}")))?;
                let peer_id = peer["id"]
                    .as_str()
                    .ok_or_else(|| Failure::Status("peer join: no id in the answer".into()))?;
                let path = format!("{path}/{peer_id}");
                check(self.conn.send(Method::DELETE, &path, auth, None).await?, "peer leave")?;
            }
            Op::Mixed { .. } => unreachable!("picked above"),
        }
        Ok(())
    }
}

/// Runs `op` over `concurrency` connections: `warmup` unmeasured, then `duration` measured.
pub async fn run_step(
    target: &Target,
    op: Arc<Op>,
    concurrency: usize,
    warmup: Duration,
    duration: Duration,
) -> StepResult {
    let mut conns = Vec::with_capacity(concurrency);
    let mut errors = 0;
    let mut first_error = None;
    for i in 0..concurrency {
        match Conn::open(target.addrs[i % target.addrs.len()]).await {
            Ok(conn) => conns.push(conn),
            Err(Transport(e)) => {
                errors += 1;
                first_error.get_or_insert(e);
            }
        }
    }
    let measure_from = Instant::now() + warmup;
    let until = measure_from + duration;
    let sampler = tokio::spawn(sample(target.pids.clone(), target.database_pid, measure_from, until));
    let mut tasks = Vec::with_capacity(concurrency);
    for (id, conn) in conns.into_iter().enumerate() {
        let op = op.clone();
        let auth = target.auth.clone();
        let addr = target.addrs[id % target.addrs.len()];
        tasks.push(tokio::spawn(async move {
            let mut worker = Worker {
                id,
                sent: 0,
                rng: Rng(0x9e37_79b9_7f4a_7c15 ^ (id as u64 + 1).wrapping_mul(0x2545_f491_4f6c_dd1d)),
                conn,
            };
            let mut result = StepResult::default();
            loop {
                let started = Instant::now();
                if started >= until {
                    break;
                }
                let outcome = worker.run(&op, &auth).await;
                let took = started.elapsed();
                let error = match outcome {
                    Ok(()) => None,
                    Err(Failure::Status(e)) => Some(e),
                    Err(Failure::Transport(Transport(e))) => {
                        // Replace the connection; give up on this one if none can be had.
                        match Conn::open(addr).await {
                            Ok(conn) => worker.conn = conn,
                            Err(Transport(_)) => tokio::time::sleep(Duration::from_millis(10)).await,
                        }
                        Some(e)
                    }
                };
                // Errors count during the warm-up too; requests and latency only after it.
                if let Some(error) = error {
                    result.errors += 1;
                    result.first_error.get_or_insert(error);
                } else if started >= measure_from {
                    result.requests += 1;
                    result.latency.record(took.as_nanos() as u64);
                }
            }
            result
        }));
    }
    let mut total = StepResult {
        errors,
        first_error,
        window: duration,
        ..StepResult::default()
    };
    for task in tasks {
        let result = task.await.expect("a load task panicked");
        total.requests += result.requests;
        total.errors += result.errors;
        if total.first_error.is_none() {
            total.first_error = result.first_error;
        }
        total.latency.merge(&result.latency);
    }
    let sampled = sampler.await.expect("the sampler panicked");
    total.server_cores = sampled.server;
    total.client_cores = sampled.client;
    total.database_cores = sampled.database;
    let database = if sampled.database.is_nan() {
        0.0
    } else {
        sampled.database
    };
    total.other_cores = (sampled.machine - sampled.server - sampled.client - database).max(0.0);
    total.server_rss_kib = sampled.rss_kib;
    total
}

/// What a step's sampler measured, CPU in cores.
struct Sampled {
    server: f64,
    client: f64,
    database: f64,
    machine: f64,
    /// The largest resident set of the servers together, in KiB.
    rss_kib: u64,
}

/// CPU of the servers, of this process, of the database and of the whole machine over
/// [from, until], and the servers' largest resident set sampled every 50 ms meanwhile.
async fn sample(pids: Vec<u32>, database_pid: Option<u32>, from: Instant, until: Instant) -> Sampled {
    let mut rss = 0;
    let mut note_rss = || {
        let now: u64 = pids
            .iter()
            .filter_map(|&pid| proc_stats::status_kib(pid, "VmRSS"))
            .sum();
        rss = rss.max(now);
    };
    let servers = || -> Option<f64> { pids.iter().map(|&pid| proc_stats::cpu_secs(pid)).sum() };
    let database = || database_pid.and_then(proc_stats::tree_cpu_secs);
    tokio::time::sleep_until(from.into()).await;
    let (server0, client0, database0, machine0) = (
        servers(),
        proc_stats::cpu_secs(std::process::id()),
        database(),
        proc_stats::machine_busy_secs(),
    );
    while Instant::now() + Duration::from_millis(50) < until {
        note_rss();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep_until(until.into()).await;
    note_rss();
    let (server1, client1, database1, machine1) = (
        servers(),
        proc_stats::cpu_secs(std::process::id()),
        database(),
        proc_stats::machine_busy_secs(),
    );
    let window = (until - from).as_secs_f64();
    let cores = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) => (b - a) / window,
        _ => f64::NAN,
    };
    Sampled {
        server: cores(server0, server1),
        client: cores(client0, client1),
        database: cores(database0, database1),
        machine: cores(machine0, machine1),
        rss_kib: rss,
    }
}
