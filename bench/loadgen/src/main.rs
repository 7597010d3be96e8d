//! `hms-bench`: openhms's benchmark. `bench/run.sh` builds everything and runs
//! `hms-bench run`, which starts the server (and the Node token server) on loopback ports,
//! drives them, and prints one markdown report.

mod client;
mod deployment;
mod histogram;
mod load;
mod loader;
mod media;
mod proc_stats;
mod report;
mod server;
mod signal;
mod soak;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use clap::{Parser, Subcommand};
use hms_auth::{AppSecret, Claims};
use hyper::Method;
use hyper::header::HeaderValue;
use serde_json::{Value, json};

use client::Conn;
use deployment::{Backend, Deployment};
use load::{Op, run_step};
use report::{Footprint, GrowthRow, Report, Row};
use server::Credentials;

#[derive(Parser)]
#[command(name = "hms-bench", about = "openhms's benchmark (run it with bench/run.sh)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole benchmark and print the report.
    Run(RunArgs),
    /// Add benchmark rooms straight into a stopped server's SQLite store.
    LoadRooms {
        /// The server's data dir, holding at least one room created through the API.
        #[arg(long)]
        data_dir: PathBuf,
        /// How many loaded rooms the store should hold.
        #[arg(long)]
        count: u64,
    },
    /// Soak the server: a mixed workload at many connections for a long time.
    Soak(soak::SoakArgs),
    /// Real peers on the signalling socket: joins into one room and into 100 rooms, and
    /// broadcasts to a whole room; prints its markdown section.
    Signal {
        /// The `hms` binary to benchmark.
        #[arg(long)]
        hms: PathBuf,
    },
    /// Real WebRTC peers: one publisher to 10-400 subscribers, and a room where everyone
    /// publishes and subscribes; prints its markdown section.
    Media(media::MediaArgs),
    /// Summarize criterion's results as a markdown table.
    CriterionSummary {
        /// criterion's output directory (target/criterion).
        #[arg(long)]
        dir: PathBuf,
    },
}

#[derive(clap::Args)]
struct RunArgs {
    /// The `hms` binary to benchmark.
    #[arg(long)]
    hms: PathBuf,
    /// Directory of the Node token server (its dependencies installed); none skips it.
    #[arg(long)]
    node_dir: Option<PathBuf>,
    /// Measured seconds per step.
    #[arg(long, env = "BENCH_SECONDS", default_value_t = 5.0)]
    seconds: f64,
    /// Unmeasured warm-up per step, in milliseconds.
    #[arg(long, env = "BENCH_WARMUP_MS", default_value_t = 500)]
    warmup_ms: u64,
    /// Connection counts of each operation.
    #[arg(
        long,
        env = "BENCH_CONCURRENCY",
        value_delimiter = ',',
        default_value = "1,16,64,256"
    )]
    concurrency: Vec<usize>,
    /// Store sizes (rooms) of the growth part, comma-separated; empty skips it.
    #[arg(long, env = "BENCH_GROWTH", default_value = "1000,100000,1000000")]
    growth: String,
    /// Connection counts of the growth part.
    #[arg(
        long,
        env = "BENCH_GROWTH_CONCURRENCY",
        value_delimiter = ',',
        default_value = "1,64"
    )]
    growth_concurrency: Vec<usize>,
    /// Run only the operations whose name contains one of these (comma-separated), for
    /// profiling one of them.
    #[arg(long, env = "BENCH_ONLY", value_delimiter = ',')]
    only: Vec<String>,
    /// A PostgreSQL server to run on instead of SQLite, as a URL allowed to create
    /// databases (`scripts/postgres.sh` prints one): each server run gets a new database.
    #[arg(long)]
    database_url: Option<String>,
    /// That PostgreSQL server's data dir, to report the CPU it uses.
    #[arg(long, requires = "database_url")]
    postgres_dir: Option<PathBuf>,
    /// Nodes serving one deployment on the PostgreSQL database, the load spread over them.
    #[arg(long, default_value_t = 1, requires = "database_url")]
    nodes: usize,
    /// Where to keep the data dirs (a fresh temporary directory by default; removed after).
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Also write the report to this file.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Rooms made for the main part: gets, codes, exchanges and peers spread over them.
const ROOMS: usize = 100;

fn main() {
    let cli = Cli::parse();
    let threads = std::env::var("BENCH_CLIENT_THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(2);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let outcome = runtime.block_on(async {
        match cli.command {
            Command::Run(args) => run(args).await,
            Command::LoadRooms { data_dir, count } => loader::load_rooms(&data_dir, count).await.map(|loaded| {
                println!("added {} rooms in {:.1} s", loaded.added, loaded.took.as_secs_f64());
            }),
            Command::Soak(args) => run_soak(args).await,
            Command::Signal { hms } => in_work_dir("signal", |work| async move { signal::run(&hms, &work).await })
                .await
                .map(|section| print!("{section}")),
            Command::Media(args) => in_work_dir("media", |work| async move { media::run(&args, &work).await })
                .await
                .map(|section| print!("{section}")),
            Command::CriterionSummary { dir } => criterion_summary(&dir).map(|table| print!("{table}")),
        }
    });
    if let Err(error) = outcome {
        eprintln!("hms-bench: {error}");
        std::process::exit(1);
    }
}

/// Runs a step in a temporary work dir of its own, removed after.
async fn in_work_dir<F, Step>(name: &str, step: F) -> Result<String, String>
where
    F: FnOnce(PathBuf) -> Step,
    Step: Future<Output = Result<String, String>>,
{
    let work = std::env::temp_dir().join(format!("hms-bench-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&work).map_err(|e| format!("work dir: {e}"))?;
    let outcome = step(work.clone()).await;
    let _ = std::fs::remove_dir_all(&work);
    outcome
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn credentials() -> Credentials {
    Credentials {
        access_key: "be0c00000000000000000001".into(),
        secret: format!("bench-secret-{:x}-{}", now_secs(), std::process::id()),
    }
}

fn management_auth(credentials: &Credentials) -> HeaderValue {
    let claims = Claims::management(&credentials.access_key, now_secs() - 10, 24 * 3600);
    let token = hms_auth::mint(&claims, &AppSecret::new(credentials.secret.clone()));
    HeaderValue::from_str(&format!("Bearer {token}")).expect("a JWT is a valid header value")
}

fn progress(message: impl AsRef<str>) {
    eprintln!("[hms-bench] {}", message.as_ref());
}

/// Sends one setup request and returns its JSON answer, which must be 2xx.
async fn call(
    conn: &mut Conn,
    method: Method,
    path: &str,
    auth: &HeaderValue,
    body: Option<Value>,
) -> Result<Value, String> {
    let answer = conn
        .send(
            method.clone(),
            path,
            Some(auth),
            body.map(|b| Bytes::from(b.to_string())),
        )
        .await
        .map_err(|e| format!("{method} {path}: {}", e.0))?;
    if !answer.status.is_success() {
        return Err(format!(
            "{method} {path}: {} {}",
            answer.status,
            String::from_utf8_lossy(&answer.body)
        ));
    }
    serde_json::from_slice(&answer.body).map_err(|e| format!("{method} {path}: {e}"))
}

/// Creates `count` rooms named `{prefix}-{i}` and returns their ids.
async fn create_rooms(conn: &mut Conn, auth: &HeaderValue, prefix: &str, count: usize) -> Result<Vec<String>, String> {
    let mut ids = Vec::with_capacity(count);
    for i in 0..count {
        let room = call(
            conn,
            Method::POST,
            "/v2/rooms",
            auth,
            Some(json!({ "name": format!("{prefix}-{i}") })),
        )
        .await?;
        ids.push(room["id"].as_str().ok_or("a room without id")?.to_owned());
    }
    Ok(ids)
}

/// Creates the room codes of these rooms and returns them all.
async fn room_codes(conn: &mut Conn, auth: &HeaderValue, room_ids: &[String]) -> Result<Vec<String>, String> {
    let mut codes = Vec::new();
    for id in room_ids {
        let answer = call(
            conn,
            Method::POST,
            &format!("/v2/room-codes/room/{id}"),
            auth,
            Some(json!({})),
        )
        .await?;
        for code in answer["data"].as_array().ok_or("room codes without data")? {
            codes.push(code["code"].as_str().ok_or("a room code without code")?.to_owned());
        }
    }
    Ok(codes)
}

/// `hms-bench soak`, in a temporary work dir.
async fn run_soak(args: soak::SoakArgs) -> Result<(), String> {
    let work = std::env::temp_dir().join(format!("hms-soak-{}", std::process::id()));
    std::fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    let outcome = soak::soak(&args, &work).await;
    let _ = std::fs::remove_dir_all(&work);
    let report = outcome?;
    print!("{report}");
    if let Some(out) = &args.out {
        std::fs::write(out, &report).map_err(|e| format!("{}: {e}", out.display()))?;
    }
    Ok(())
}

fn seconds(seconds: f64) -> Duration {
    Duration::from_secs_f64(seconds.max(0.1))
}

async fn run(args: RunArgs) -> Result<(), String> {
    let (work, temporary) = match &args.work_dir {
        Some(dir) => (dir.clone(), false),
        None => (
            std::env::temp_dir().join(format!("hms-bench-{}", std::process::id())),
            true,
        ),
    };
    std::fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    let outcome = run_in(&args, &work).await;
    if temporary {
        let _ = std::fs::remove_dir_all(&work);
    }
    let report = outcome?;
    let text = report.render();
    print!("{text}");
    if let Some(out) = &args.out {
        std::fs::write(out, &text).map_err(|e| format!("{}: {e}", out.display()))?;
    }
    Ok(())
}

async fn run_in(args: &RunArgs, work: &Path) -> Result<Report, String> {
    let credentials = credentials();
    let auth = management_auth(&credentials);
    let duration = seconds(args.seconds);
    let warmup = Duration::from_millis(args.warmup_ms);
    let backend = Backend::new(args.database_url.clone(), args.postgres_dir.as_deref())?;
    let mut footprint = Footprint::default();
    let mut rows = Vec::new();

    progress(format!("main: starting {} on an empty store", deployment_name(args)));
    let store = backend.fresh_store("main").await?;
    let hms = Deployment::start(&args.hms, work, "main", &backend, &store, args.nodes, &credentials).await?;
    footprint.ready_fresh = hms.first().ready_in;
    tokio::time::sleep(Duration::from_secs(1)).await;
    footprint.idle_rss_kib = proc_stats::status_kib(hms.first().pid, "VmRSS").unwrap_or(0);

    let mut setup = Conn::open(hms.first().addr).await.map_err(|e| e.0)?;
    let room_ids = Arc::new(create_rooms(&mut setup, &auth, "bench-room", ROOMS).await?);
    let codes = Arc::new(room_codes(&mut setup, &auth, &room_ids).await?);
    drop(setup);

    let node = match &args.node_dir {
        Some(dir) => {
            progress("main: starting the Node token server");
            let node = server::start_node(dir, &credentials).await?;
            footprint.node_ready = Some(node.ready_in);
            tokio::time::sleep(Duration::from_secs(1)).await;
            footprint.node_idle_kib = proc_stats::status_kib(node.pid, "VmRSS");
            Some(node)
        }
        None => None,
    };

    let hms_target = hms.target(&auth);
    let node_target = node
        .as_ref()
        .map(|node| load::Target::one(node.addr, auth.clone(), node.pid));
    let mut plan: Vec<(&'static str, Arc<Op>, bool)> = vec![
        (report::HEALTH, Arc::new(Op::Health), false),
        (
            report::GET_ROOM,
            Arc::new(Op::GetRoom {
                room_ids: room_ids.clone(),
            }),
            false,
        ),
        (
            report::CREATE_ROOM,
            Arc::new(Op::CreateRoom { prefix: String::new() }),
            false,
        ),
        (report::LIST_ROOMS, Arc::new(Op::ListRooms), false),
        (
            report::ROOM_CODES,
            Arc::new(Op::RoomCodes {
                room_ids: room_ids.clone(),
            }),
            false,
        ),
        (report::EXCHANGE, Arc::new(Op::Exchange { codes: codes.clone() }), false),
    ];
    if node.is_some() {
        plan.push((
            report::NODE_TOKEN,
            Arc::new(Op::NodeToken {
                path: "/api/token",
                room_ids: room_ids.clone(),
            }),
            true,
        ));
        plan.push((
            report::NODE_TOKEN_TUNED,
            Arc::new(Op::NodeToken {
                path: "/api/token-keyobject",
                room_ids: room_ids.clone(),
            }),
            true,
        ));
    }
    plan.push((
        report::PEER_JOIN_LEAVE,
        Arc::new(Op::PeerJoinLeave {
            room_ids: room_ids.clone(),
        }),
        false,
    ));
    plan.retain(|(operation, _, _)| args.only.is_empty() || args.only.iter().any(|o| operation.contains(o.as_str())));
    for (operation, op, on_node) in plan {
        for &concurrency in &args.concurrency {
            progress(format!("main: {operation} at {concurrency} connections"));
            let op = match &*op {
                // Room names must be new at every step.
                Op::CreateRoom { .. } => Arc::new(Op::CreateRoom {
                    prefix: format!("bench-new-{concurrency}-{:x}", now_secs()),
                }),
                _ => op.clone(),
            };
            let target = match (&node_target, on_node) {
                (Some(node), true) => node,
                _ => &hms_target,
            };
            let result = run_step(target, op, concurrency, warmup, duration).await;
            rows.push(Row {
                operation,
                concurrency,
                result,
            });
        }
    }
    footprint.peak_rss_kib = proc_stats::status_kib(hms.first().pid, "VmHWM").unwrap_or(0);
    if let Some(node) = node {
        footprint.node_peak_kib = proc_stats::status_kib(node.pid, "VmHWM");
        node.stop().await?;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    footprint.idle_after_kib = proc_stats::status_kib(hms.first().pid, "VmRSS").unwrap_or(0);
    hms.stop().await?;

    let growth = growth(
        args,
        &backend,
        work,
        &credentials,
        &auth,
        warmup,
        duration,
        &mut footprint,
    )
    .await?;
    Ok(Report {
        title: format!(
            "{}. Each step: {} connections in a closed loop for {:.1} s after a {} ms warm-up; load generator on \
             the same machine. CPU columns are in cores; \"other\" is what the rest of the machine used meanwhile.",
            deployment_name(args),
            args.concurrency
                .iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join("/"),
            duration.as_secs_f64(),
            warmup.as_millis()
        ),
        backend: report::BackendKind::of(&backend, args.nodes),
        rows,
        growth,
        footprint,
    })
}

/// What the run is against, for the report and the progress lines.
fn deployment_name(args: &RunArgs) -> String {
    match (&args.database_url, args.nodes) {
        (None, _) => "openhms on SQLite".into(),
        (Some(_), 1) => "openhms on PostgreSQL".into(),
        (Some(_), nodes) => format!("{nodes} openhms nodes on one PostgreSQL database"),
    }
}

#[allow(clippy::too_many_arguments)]
async fn growth(
    args: &RunArgs,
    backend: &Backend,
    work: &Path,
    credentials: &Credentials,
    auth: &HeaderValue,
    warmup: Duration,
    duration: Duration,
    footprint: &mut Footprint,
) -> Result<Vec<GrowthRow>, String> {
    let mut sizes = args
        .growth
        .split(',')
        .map(str::trim)
        .filter(|size| !size.is_empty())
        .map(|size| size.parse::<u64>().map_err(|e| format!("BENCH_GROWTH: {size}: {e}")))
        .collect::<Result<Vec<u64>, String>>()?;
    sizes.sort_unstable();
    sizes.dedup();
    let mut rows = Vec::new();
    if sizes.is_empty() {
        return Ok(rows);
    }
    progress("growth: a fresh store with one room made through the API");
    let store = backend.fresh_store("growth").await?;
    let start = || Deployment::start(&args.hms, work, "growth", backend, &store, args.nodes, credentials);
    let hms = start().await?;
    let mut setup = Conn::open(hms.first().addr).await.map_err(|e| e.0)?;
    create_rooms(&mut setup, auth, "bench-model", 1).await?;
    drop(setup);
    hms.stop().await?;
    for rooms in sizes {
        // The model room counts: the store holds `rooms` rooms.
        let loaded_count = rooms.saturating_sub(1).max(1);
        progress(format!("growth: loading the store up to {rooms} rooms"));
        let loaded = match &store.database_url {
            Some(url) => loader::load_rooms_postgres(url, loaded_count).await?,
            None => loader::load_rooms(&deployment::node_dir(work, "growth", 0), loaded_count).await?,
        };
        progress(format!(
            "growth: added {} rooms in {:.1} s",
            loaded.added,
            loaded.took.as_secs_f64()
        ));
        let hms = start().await?;
        footprint.ready_loaded.push((rooms, hms.first().ready_in));
        tokio::time::sleep(Duration::from_secs(1)).await;
        footprint
            .idle_loaded_kib
            .push((rooms, proc_stats::status_kib(hms.first().pid, "VmRSS").unwrap_or(0)));
        let target = hms.target(auth);
        let ops: [(&'static str, Arc<Op>); 2] = [
            (report::GET_ROOM, Arc::new(Op::GetLoadedRoom { count: loaded_count })),
            (report::LIST_ROOMS, Arc::new(Op::ListRooms)),
        ];
        for (operation, op) in ops {
            for &concurrency in &args.growth_concurrency {
                progress(format!(
                    "growth: {rooms} rooms, {operation} at {concurrency} connections"
                ));
                let result = run_step(&target, op.clone(), concurrency, warmup, duration).await;
                rows.push(GrowthRow {
                    rooms,
                    row: Row {
                        operation,
                        concurrency,
                        result,
                    },
                });
            }
        }
        hms.stop().await?;
    }
    Ok(rows)
}

/// criterion's mean estimate of every benchmark under `dir`, as a markdown table.
fn criterion_summary(dir: &Path) -> Result<String, String> {
    let mut found = Vec::new();
    collect_estimates(dir, &mut found)?;
    if found.is_empty() {
        return Err(format!("no criterion results under {}", dir.display()));
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out =
        String::from("| micro-benchmark (criterion) | time per call | calls per core-second |\n|---|---:|---:|\n");
    for (name, mean_ns) in found {
        out.push_str(&format!("| {name} | {} | {:.0} |\n", nanos(mean_ns), 1e9 / mean_ns));
    }
    Ok(out)
}

fn nanos(ns: f64) -> String {
    if ns < 1000.0 {
        format!("{ns:.0} ns")
    } else {
        format!("{:.2} µs", ns / 1000.0)
    }
}

fn collect_estimates(dir: &Path, found: &mut Vec<(String, f64)>) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        let benchmark = path.join("new/benchmark.json");
        let estimates = path.join("new/estimates.json");
        if benchmark.is_file() && estimates.is_file() {
            let read = |p: &Path| -> Result<Value, String> {
                let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
                serde_json::from_str(&text).map_err(|e| format!("{}: {e}", p.display()))
            };
            let name = read(&benchmark)?["full_id"].as_str().unwrap_or("?").to_owned();
            // criterion's headline figure: the slope of the linear fit when it made one.
            let estimates = read(&estimates)?;
            let mean = estimates["slope"]["point_estimate"]
                .as_f64()
                .or_else(|| estimates["mean"]["point_estimate"].as_f64())
                .unwrap_or(f64::NAN);
            found.push((name, mean));
        } else {
            collect_estimates(&path, found)?;
        }
    }
    Ok(())
}
