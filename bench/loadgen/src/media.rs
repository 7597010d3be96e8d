//! The media step: real WebRTC peers (str0m, as the server uses) that join as the web SDK
//! does, publish synthetic VP8 and Opus and receive what the server forwards. Scenarios:
//! one publisher seen by 10 to 400 subscribers, and a room where everyone publishes and
//! subscribes. Each runs on a fresh server; after every subscriber has its media, a
//! measured window counts what arrived, against the server's CPU and memory.

mod frames;
mod peer;
mod received;
mod shard;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::Method;
use serde_json::json;
use tokio::sync::{Semaphore, oneshot, watch};
use tokio::task::JoinHandle;

use crate::client::Conn;
use crate::histogram::Histogram;
use crate::proc_stats::{cpu_secs, machine_busy_secs, status_kib};
use crate::report::latency;
use crate::server::{Credentials, Process, start_hms};
use crate::{call, credentials, management_auth, progress};
use peer::PeerPlan;
use received::Kind;
use shard::{Shard, ShardReport, SubscriberReport, TrackReport};

#[derive(clap::Args)]
pub struct MediaArgs {
    /// The `hms` binary to benchmark.
    #[arg(long)]
    pub hms: PathBuf,
    /// Subscribers of the one-publisher scenarios, one scenario each.
    #[arg(
        long,
        env = "BENCH_MEDIA_SUBSCRIBERS",
        value_delimiter = ',',
        default_value = "10,50,100,200,400"
    )]
    pub subscribers: Vec<usize>,
    /// Peers of the room where everyone publishes and subscribes; 0 skips it.
    #[arg(long, env = "BENCH_MEDIA_ROOM", default_value_t = 10)]
    pub room: usize,
    /// Measured seconds per scenario, once every subscriber has its media.
    #[arg(long, env = "BENCH_MEDIA_SECONDS", default_value_t = 10.0)]
    pub seconds: f64,
}

/// Publishers: they send audio and video, and receive each other's.
const STAGE: &str = "bench-stage";
/// Subscribers that publish nothing.
const VIEWER: &str = "bench-viewer";
/// Tracks each publisher sends: one audio, one video.
const TRACKS_PER_PUBLISHER: usize = 2;
/// Joins in flight at once.
const JOINING_AT_ONCE: usize = 10;
/// Shard tasks driving the connections (the client's runtime has two threads).
const SHARDS: usize = 2;
/// The longest any one peer may take to join (and publish).
const JOIN_PATIENCE: Duration = Duration::from_secs(30);
/// How long after the last join every subscriber may take to receive every track.
const MEDIA_PATIENCE: Duration = Duration::from_secs(15);
/// How often the client looks at its counters while it waits for media.
const POLL: Duration = Duration::from_millis(100);

/// Who joins: `first` publishers, then `joiners`, who publish too in a full room.
struct Scenario {
    name: String,
    first: usize,
    joiners: usize,
    joiners_publish: bool,
}

impl Scenario {
    fn peers(&self) -> usize {
        self.first + self.joiners
    }

    fn publishers(&self) -> usize {
        self.first + if self.joiners_publish { self.joiners } else { 0 }
    }

    fn publishes(&self, index: usize) -> bool {
        index < self.first || self.joiners_publish
    }

    /// Tracks peer `index` receives: every other publisher's.
    fn expected_tracks(&self, index: usize) -> usize {
        let others = self.publishers() - usize::from(self.publishes(index));
        others * TRACKS_PER_PUBLISHER
    }
}

fn scenarios(args: &MediaArgs) -> Vec<Scenario> {
    let mut scenarios: Vec<Scenario> = args
        .subscribers
        .iter()
        .map(|&subscribers| Scenario {
            name: format!("1 → {subscribers}"),
            first: 1,
            joiners: subscribers,
            joiners_publish: false,
        })
        .collect();
    if args.room > 1 {
        scenarios.push(Scenario {
            name: format!("room of {}", args.room),
            first: 1,
            joiners: args.room - 1,
            joiners_publish: true,
        });
    }
    scenarios
}

/// One scenario's figures.
struct Measured {
    name: String,
    peers: usize,
    /// Peers that receive anything, and those of them that received every track.
    receivers: usize,
    complete: usize,
    window: Duration,
    forwarded_bytes: u64,
    forwarded_packets: u64,
    lost: u64,
    expected: u64,
    jitter_audio_ms: f64,
    jitter_video_ms: f64,
    server_cores: f64,
    client_cores: f64,
    other_cores: f64,
    kib_per_peer: f64,
    /// From each joiner's `join` to its first video packet, and to its first keyframe.
    first_video: Histogram,
    first_keyframe: Histogram,
    /// The same joiners' way to their first video, step by step.
    join_steps: JoinSteps,
    /// Over the whole scenario: keyframe requests that reached the publishers, and
    /// keyframes they sent.
    keyframe_requests: u64,
    keyframes: u64,
}

/// Each step from a subscriber's `join` to its first video packet: the server's first
/// offer on the subscribe connection, ICE and DTLS up on it, and the video's first packet.
#[derive(Default)]
struct JoinSteps {
    to_offer: Histogram,
    to_connected: Histogram,
    to_video: Histogram,
}

impl JoinSteps {
    fn record(&mut self, joined_at: Instant, subscriber: &SubscriberReport, first_video: Option<Instant>) {
        let (Some(connected), Some(video)) = (subscriber.connected_at, first_video) else {
            return;
        };
        let steps = [
            (&mut self.to_offer, joined_at, subscriber.opened_at),
            (&mut self.to_connected, subscriber.opened_at, connected),
            (&mut self.to_video, connected, video),
        ];
        for (histogram, from, to) in steps {
            histogram.record(to.saturating_duration_since(from).as_nanos() as u64);
        }
    }

    fn render(&self) -> String {
        [&self.to_offer, &self.to_connected, &self.to_video]
            .map(|h| format!("{} / {}", latency(h.quantile(0.50)), latency(h.quantile(0.99))))
            .join(" | ")
    }
}

impl Measured {
    fn mbit_per_second(&self) -> f64 {
        self.forwarded_bytes as f64 * 8.0 / self.window.as_secs_f64() / 1e6
    }

    fn loss(&self) -> f64 {
        if self.expected == 0 {
            return 0.0;
        }
        self.lost as f64 / self.expected as f64
    }
}

/// Runs every scenario, each against a fresh server, and answers the markdown section.
pub async fn run(args: &MediaArgs, work_dir: &Path) -> Result<String, String> {
    let window = Duration::from_secs_f64(args.seconds.max(1.0));
    let mut results = Vec::new();
    for scenario in scenarios(args) {
        progress(format!("media: {}", scenario.name));
        let data_dir = work_dir.join(format!("media-{}", results.len()));
        let credentials = credentials();
        let server = start_hms(&args.hms, &data_dir, &credentials).await?;
        let outcome = measure(&server, &credentials, &scenario, window).await;
        server.stop().await?;
        results.push(outcome.map_err(|e| format!("media, {}: {e}", scenario.name))?);
    }
    Ok(render(&results, window))
}

/// The peers of one scenario, running until `stop`.
struct Peers {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<Result<(), String>>>,
    /// When each peer sent its `join`, by index.
    joined_at: HashMap<usize, Instant>,
}

async fn measure(
    server: &Process,
    credentials: &Credentials,
    scenario: &Scenario,
    window: Duration,
) -> Result<Measured, String> {
    let room_id = prepare_room(server, credentials).await?;
    let shards: Vec<Shard> = (0..SHARDS).map(|_| Shard::start()).collect();
    let rss_before = status_kib(server.pid, "VmRSS").unwrap_or(0);
    let (stop, stopped) = watch::channel(false);
    let mut peers = Peers {
        stop,
        tasks: Vec::new(),
        joined_at: HashMap::new(),
    };
    let plan = |index: usize| {
        let role = if scenario.publishes(index) { STAGE } else { VIEWER };
        let peer_id = format!("media-{index}");
        let token = crate::signal::app_token(credentials, &room_id, role, &peer_id);
        PeerPlan {
            index,
            url: format!(
                "ws://{}/v2/ws?peer={peer_id}&token={token}&protocol_version=2.5&protocol_spec=20250115",
                server.addr
            ),
            peer_id,
            publishes: scenario.publishes(index),
        }
    };
    let outcome = async {
        join((0..scenario.first).map(plan), &shards, &stopped, &mut peers).await?;
        wait_for_publishers(&shards, scenario.first).await?;
        let joiners = (scenario.first..scenario.peers()).map(plan);
        join(joiners, &shards, &stopped, &mut peers).await?;
        wait_for_media(&shards, scenario).await?;
        observe(server, &shards, window).await
    }
    .await;
    let rss_after = status_kib(server.pid, "VmRSS").unwrap_or(0);
    let _ = peers.stop.send(true);
    let mut peer_failure = None;
    for task in peers.tasks {
        match task.await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => peer_failure = peer_failure.or(Some(error)),
            Err(error) => peer_failure = peer_failure.or(Some(error.to_string())),
        }
    }
    let (before, after, usage) = outcome?;
    if let Some(error) = peer_failure {
        return Err(error);
    }
    let mut measured = figures(scenario, &peers.joined_at, &before, &after, usage, window);
    measured.kib_per_peer = rss_after.saturating_sub(rss_before) as f64 / scenario.peers() as f64;
    Ok(measured)
}

/// Adds the benchmark's roles to the default template and creates a room.
async fn prepare_room(server: &Process, credentials: &Credentials) -> Result<String, String> {
    let mut conn = Conn::open(server.addr).await.map_err(|e| e.0)?;
    let auth = management_auth(credentials);
    let templates = call(&mut conn, Method::GET, "/v2/templates", &auth, None).await?;
    let template_id = templates["data"][0]["id"].as_str().ok_or("no default template")?;
    let roles = [
        (STAGE, json!(["audio", "video"]), json!([STAGE])),
        (VIEWER, json!([]), json!([STAGE])),
    ];
    for (name, allowed, subscribe_to) in roles {
        let role = json!({"name": name, "publishParams": {"allowed": allowed}, "subscribeParams": {"subscribeToRoles": subscribe_to}});
        let path = format!("/v2/templates/{template_id}/roles/{name}");
        call(&mut conn, Method::POST, &path, &auth, Some(role)).await?;
    }
    let rooms = crate::create_rooms(&mut conn, &auth, &format!("media-{:x}", crate::now_secs()), 1).await?;
    Ok(rooms[0].clone())
}

/// Starts these peers, `JOINING_AT_ONCE` at a time, and waits until each has joined (and
/// published, when it publishes).
async fn join(
    plans: impl Iterator<Item = PeerPlan>,
    shards: &[Shard],
    stopped: &watch::Receiver<bool>,
    peers: &mut Peers,
) -> Result<(), String> {
    let gate = Arc::new(Semaphore::new(JOINING_AT_ONCE));
    let mut joining = Vec::new();
    for plan in plans {
        let index = plan.index;
        let shard = shards[index % shards.len()].clone();
        let (gate, stopped) = (gate.clone(), stopped.clone());
        joining.push(tokio::spawn(async move {
            let _turn = gate.acquire_owned().await.ok();
            let (ready, readied) = oneshot::channel();
            let task = tokio::spawn(peer::run(plan, shard, ready, stopped));
            (index, ready_or_why(task, readied).await)
        }));
    }
    let mut failure = None;
    for joined in joining {
        let (index, outcome) = joined.await.map_err(|e| e.to_string())?;
        match outcome {
            Ok((task, at)) => {
                peers.tasks.push(task);
                peers.joined_at.insert(index, at);
            }
            Err(error) => failure = failure.or(Some(error)),
        }
    }
    failure.map_or(Ok(()), Err)
}

/// The peer task once it is ready, or why it is not.
async fn ready_or_why(
    task: JoinHandle<Result<(), String>>,
    readied: oneshot::Receiver<Instant>,
) -> Result<(JoinHandle<Result<(), String>>, Instant), String> {
    match tokio::time::timeout(JOIN_PATIENCE, readied).await {
        Ok(Ok(at)) => Ok((task, at)),
        Ok(Err(_)) => match task.await {
            Ok(Err(error)) => Err(error),
            _ => Err("a peer stopped before it joined".into()),
        },
        Err(_) => {
            task.abort();
            Err(format!("a peer did not join within {} s", JOIN_PATIENCE.as_secs()))
        }
    }
}

async fn reports(shards: &[Shard]) -> Result<ShardReport, String> {
    let mut all = ShardReport::default();
    for shard in shards {
        let report = shard.report().await?;
        all.tracks.extend(report.tracks);
        all.publishers.extend(report.publishers);
        all.subscribers.extend(report.subscribers);
        all.failures.extend(report.failures);
        all.send_errors += report.send_errors;
    }
    Ok(all)
}

/// Waits until the first publishers' connections are up and sending.
async fn wait_for_publishers(shards: &[Shard], publishers: usize) -> Result<(), String> {
    let started = Instant::now();
    loop {
        let report = reports(shards).await?;
        let sending = report
            .publishers
            .iter()
            .filter(|p| p.connected && p.video_frames > 0)
            .count();
        if sending >= publishers {
            return Ok(());
        }
        if started.elapsed() > MEDIA_PATIENCE {
            return Err(format!(
                "{sending} of {publishers} publishers had a connection up and sending within {} s{}",
                MEDIA_PATIENCE.as_secs(),
                failures(&report)
            ));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Waits until every peer receives every track it should, or for `MEDIA_PATIENCE`; fails
/// clearly when no media came at all (a partial failure shows in the figures).
async fn wait_for_media(shards: &[Shard], scenario: &Scenario) -> Result<(), String> {
    let started = Instant::now();
    let receivers = (0..scenario.peers())
        .filter(|&index| scenario.expected_tracks(index) > 0)
        .count();
    loop {
        let report = reports(shards).await?;
        let complete = complete_receivers(&report.tracks, scenario);
        if complete == receivers {
            return Ok(());
        }
        if started.elapsed() > MEDIA_PATIENCE {
            let sent: u64 = report.publishers.iter().map(|p| p.video_frames).sum();
            let connected = report.subscribers.iter().filter(|s| s.connected_at.is_some()).count();
            let state = format!(
                "subscribe connections up: {connected} of {}; video frames the publishers sent: {sent}; \
                 tracks receiving: {}{}",
                report.subscribers.len(),
                report.tracks.len(),
                failures(&report)
            );
            let patience = MEDIA_PATIENCE.as_secs();
            if report.tracks.is_empty() {
                return Err(format!(
                    "no media arrived within {patience} s of the last join ({state})"
                ));
            }
            progress(format!(
                "media: only {complete} of {receivers} peers received every track within {patience} s ({state})"
            ));
            return Ok(());
        }
        tokio::time::sleep(POLL).await;
    }
}

fn failures(report: &ShardReport) -> String {
    match report.failures.first() {
        Some((owner, why)) => format!("; {} connections failed, peer {owner}: {why}", report.failures.len()),
        None => String::new(),
    }
}

/// Peers that receive every track they should.
fn complete_receivers(tracks: &[TrackReport], scenario: &Scenario) -> usize {
    let mut per_peer: HashMap<usize, usize> = HashMap::new();
    for track in tracks {
        *per_peer.entry(track.owner).or_default() += 1;
    }
    per_peer
        .iter()
        .filter(|(index, count)| scenario.expected_tracks(**index) > 0 && **count >= scenario.expected_tracks(**index))
        .count()
}

/// CPU seconds over the window: the server's, this client's and the whole machine's.
struct Usage {
    server: f64,
    client: f64,
    machine: f64,
}

fn cpu_now(server: &Process) -> Usage {
    Usage {
        server: cpu_secs(server.pid).unwrap_or(0.0),
        client: cpu_secs(std::process::id()).unwrap_or(0.0),
        machine: machine_busy_secs().unwrap_or(0.0),
    }
}

/// The counters at the start and at the end of the window, and the CPU spent in between.
async fn observe(
    server: &Process,
    shards: &[Shard],
    window: Duration,
) -> Result<(ShardReport, ShardReport, Usage), String> {
    let before = reports(shards).await?;
    let cpu_before = cpu_now(server);
    tokio::time::sleep(window).await;
    let after = reports(shards).await?;
    let cpu_after = cpu_now(server);
    let usage = Usage {
        server: cpu_after.server - cpu_before.server,
        client: cpu_after.client - cpu_before.client,
        machine: cpu_after.machine - cpu_before.machine,
    };
    Ok((before, after, usage))
}

fn figures(
    scenario: &Scenario,
    joined_at: &HashMap<usize, Instant>,
    before: &ShardReport,
    after: &ShardReport,
    usage: Usage,
    window: Duration,
) -> Measured {
    let seconds = window.as_secs_f64();
    let start: HashMap<(u64, u32), &TrackReport> = before.tracks.iter().map(|t| (t.key, t)).collect();
    let mut measured = Measured {
        name: scenario.name.clone(),
        peers: scenario.peers(),
        receivers: (0..scenario.peers())
            .filter(|&index| scenario.expected_tracks(index) > 0)
            .count(),
        complete: complete_receivers(&after.tracks, scenario),
        window,
        forwarded_bytes: 0,
        forwarded_packets: 0,
        lost: 0,
        expected: 0,
        jitter_audio_ms: mean_jitter(&after.tracks, Kind::Audio),
        jitter_video_ms: mean_jitter(&after.tracks, Kind::Video),
        server_cores: usage.server / seconds,
        client_cores: usage.client / seconds,
        other_cores: (usage.machine - usage.server - usage.client).max(0.0) / seconds,
        kib_per_peer: 0.0,
        first_video: Histogram::default(),
        first_keyframe: Histogram::default(),
        join_steps: JoinSteps::default(),
        keyframe_requests: after.publishers.iter().map(|p| p.keyframe_requests).sum(),
        keyframes: after.publishers.iter().map(|p| p.keyframes).sum(),
    };
    for track in &after.tracks {
        let end = &track.received;
        let (packets, bytes, expected) = match start.get(&track.key) {
            Some(begin) => (
                end.packets - begin.received.packets,
                end.bytes - begin.received.bytes,
                end.highest_seq - begin.received.highest_seq,
            ),
            None => (end.packets, end.bytes, end.expected()),
        };
        measured.forwarded_packets += packets;
        measured.forwarded_bytes += bytes;
        measured.expected += expected;
        measured.lost += expected.saturating_sub(packets);
    }
    for (index, at) in joined_at {
        let videos = after
            .tracks
            .iter()
            .filter(|t| t.owner == *index && t.received.kind == Kind::Video);
        let first_video = videos.clone().map(|t| t.received.first_packet_at).min();
        let first_keyframe = videos.filter_map(|t| t.received.first_keyframe_at).min();
        // The first publishers joined before anyone sent them video: only joiners are timed.
        if *index < scenario.first {
            continue;
        }
        if let Some(first) = first_video {
            measured.first_video.record(first.duration_since(*at).as_nanos() as u64);
        }
        if let Some(subscriber) = after.subscribers.iter().find(|s| s.owner == *index) {
            measured.join_steps.record(*at, subscriber, first_video);
        }
        if let Some(first) = first_keyframe {
            measured
                .first_keyframe
                .record(first.duration_since(*at).as_nanos() as u64);
        }
    }
    measured
}

fn mean_jitter(tracks: &[TrackReport], kind: Kind) -> f64 {
    let of_kind: Vec<f64> = tracks
        .iter()
        .filter(|t| t.received.kind == kind)
        .map(|t| t.received.jitter_ms())
        .collect();
    if of_kind.is_empty() {
        return 0.0;
    }
    of_kind.iter().sum::<f64>() / of_kind.len() as f64
}

/// The targets: 1 → 200 under 0.5 % loss; join to first video p99 under 500 ms.
const LOSS_TARGET: f64 = 0.005;
const FIRST_VIDEO_P99_TARGET: Duration = Duration::from_millis(500);
const TARGET_SUBSCRIBERS: &str = "1 → 200";

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "**missed**" }
}

fn render(results: &[Measured], window: Duration) -> String {
    let mut out = String::from(
        "| media step | peers | forwarded | packets/s | loss | jitter audio / video | server CPU | server CPU per Gbit/s | server memory per peer | join → first video p50 / p99 | join → keyframe p99 | client / other CPU |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for m in results {
        let gbit = m.mbit_per_second() / 1000.0;
        out.push_str(&format!(
            "| {} | {} | {:.1} Mbit/s | {:.0} | {:.3} % | {:.1} / {:.1} ms | {:.2} cores | {} | {:.0} KiB | {} / {} | {} | {:.2} / {:.2} cores |\n",
            m.name,
            m.peers,
            m.mbit_per_second(),
            m.forwarded_packets as f64 / m.window.as_secs_f64(),
            m.loss() * 100.0,
            m.jitter_audio_ms,
            m.jitter_video_ms,
            m.server_cores,
            if gbit > 0.0 { format!("{:.2} cores", m.server_cores / gbit) } else { "–".into() },
            m.kib_per_peer,
            latency(m.first_video.quantile(0.50)),
            latency(m.first_video.quantile(0.99)),
            latency(m.first_keyframe.quantile(0.99)),
            m.client_cores,
            m.other_cores,
        ));
    }
    out.push_str(&format!(
        "\nEach publisher sends VP8 at 30 fps, about 1 Mbit/s (a keyframe every 3 s and whenever the server asks), \
         and Opus at 32 kbit/s in 20 ms frames. Forwarded: the RTP (headers included) the subscribers received in \
         the {:.0} s window that starts once every peer receives every track; loss from the RTP sequence numbers \
         (after retransmissions); jitter per RFC 3550, the mean over tracks. Peers join {JOINING_AT_ONCE} at a time. \
         Keyframe requests that reached the publishers, and keyframes they sent, over each scenario: {}.\n",
        window.as_secs_f64(),
        results
            .iter()
            .map(|m| format!("{} and {} in {}", m.keyframe_requests, m.keyframes, m.name))
            .collect::<Vec<_>>()
            .join(", "),
    ));
    out.push_str(
        "\nThe joiners' way to their first video, step by step (p50 / p99 of each step):\n\n\
         | media step | join → server's offer | → ICE and DTLS up | → first video |\n\
         |---|---:|---:|---:|\n",
    );
    for m in results {
        out.push_str(&format!("| {} | {} |\n", m.name, m.join_steps.render()));
    }
    out.push_str(&targets(results));
    out
}

fn targets(results: &[Measured]) -> String {
    let mut out = String::from("\n| target | figure | verdict |\n|---|---:|---|\n");
    match results.iter().find(|m| m.name == TARGET_SUBSCRIBERS) {
        Some(m) => {
            let p99 = Duration::from_nanos(m.first_video.quantile(0.99));
            out.push_str(&format!(
                "| {TARGET_SUBSCRIBERS} subscribers under {:.1} % loss | {:.3} % | {} |\n\
                 | {TARGET_SUBSCRIBERS}: join to first video packet p99 under {} | {} | {} |\n",
                LOSS_TARGET * 100.0,
                m.loss() * 100.0,
                verdict(m.loss() < LOSS_TARGET),
                latency(FIRST_VIDEO_P99_TARGET.as_nanos() as u64),
                latency(p99.as_nanos() as u64),
                verdict(p99 < FIRST_VIDEO_P99_TARGET),
            ));
        }
        None => out.push_str(&format!("| {TARGET_SUBSCRIBERS} subscribers | not run | – |\n")),
    }
    let (complete, receivers) = results
        .iter()
        .fold((0, 0), |(c, r), m| (c + m.complete, r + m.receivers));
    out.push_str(&format!(
        "| every peer receives every track it subscribes to | {complete} of {receivers} | {} |\n",
        verdict(complete == receivers)
    ));
    out
}
