//! The markdown report: throughput and latency, the comparison with the Node token
//! server, growth, footprint, and each target with whether it was met.

use std::fmt::Write;
use std::time::Duration;

use crate::load::StepResult;

pub struct Row {
    pub operation: &'static str,
    pub concurrency: usize,
    pub result: StepResult,
}

pub struct GrowthRow {
    pub rooms: u64,
    pub row: Row,
}

#[derive(Default)]
pub struct Footprint {
    pub ready_fresh: Duration,
    pub ready_loaded: Vec<(u64, Duration)>,
    pub idle_rss_kib: u64,
    pub peak_rss_kib: u64,
    pub idle_after_kib: u64,
    pub idle_loaded_kib: Vec<(u64, u64)>,
    pub node_ready: Option<Duration>,
    pub node_idle_kib: Option<u64>,
    pub node_peak_kib: Option<u64>,
}

/// What the report's steps ran against, which decides the targets that apply.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    Sqlite,
    Postgres { nodes: usize },
}

impl BackendKind {
    pub fn of(backend: &crate::deployment::Backend, nodes: usize) -> Self {
        match backend {
            crate::deployment::Backend::Sqlite => BackendKind::Sqlite,
            crate::deployment::Backend::Postgres { .. } => BackendKind::Postgres { nodes },
        }
    }
}

pub struct Report {
    pub title: String,
    pub backend: BackendKind,
    pub rows: Vec<Row>,
    pub growth: Vec<GrowthRow>,
    pub footprint: Footprint,
}

pub const HEALTH: &str = "reference: GET /healthz (no token, no database)";
pub const GET_ROOM: &str = "GET /v2/rooms/{id}";
pub const CREATE_ROOM: &str = "POST /v2/rooms (new name)";
pub const LIST_ROOMS: &str = "GET /v2/rooms?limit=100";
pub const ROOM_CODES: &str = "POST /v2/room-codes/room/{id}";
pub const EXCHANGE: &str = "POST /v2/token (code exchange)";
pub const NODE_TOKEN: &str = "Node: POST /api/token (Express + jsonwebtoken, as 100ms's sample)";
pub const NODE_TOKEN_TUNED: &str = "Node, tuned: the same with the secret made a KeyObject once";
pub const PEER_JOIN_LEAVE: &str = "peer join + leave (2 requests, simulator)";

/// A target: what it asks, what was measured, whether it was met.
type Target = (String, String, bool);

/// The concurrency at which the targets are judged.
pub const TARGET_CONCURRENCY: usize = 64;

pub fn latency(nanos: u64) -> String {
    let micros = nanos as f64 / 1000.0;
    if micros < 1000.0 {
        format!("{micros:.0} µs")
    } else if micros < 10_000.0 {
        format!("{:.2} ms", micros / 1000.0)
    } else {
        format!("{:.1} ms", micros / 1000.0)
    }
}

fn rate(per_second: f64) -> String {
    let whole = per_second.round() as u64;
    let digits = whole.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn millis(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

fn cores(c: f64) -> String {
    if c.is_nan() { "?".into() } else { format!("{c:.2}") }
}

/// The cells every table of steps has: requests/s, p50, p99, errors and server CPU.
fn step_cells(r: &StepResult) -> String {
    format!(
        "{} | {} | {} | {} | {}",
        rate(r.per_second()),
        latency(r.latency.quantile(0.5)),
        latency(r.latency.quantile(0.99)),
        r.errors,
        cores(r.server_cores),
    )
}

fn rooms(n: u64) -> String {
    match n {
        n if n >= 1_000_000 && n.is_multiple_of(1_000_000) => format!("{}M", n / 1_000_000),
        n if n >= 1_000 && n.is_multiple_of(1_000) => format!("{}k", n / 1_000),
        n => n.to_string(),
    }
}

fn met(ok: bool) -> &'static str {
    if ok { "**met**" } else { "**missed**" }
}

impl Report {
    fn find(&self, operation: &str, concurrency: usize) -> Option<&StepResult> {
        self.rows
            .iter()
            .find(|r| r.operation == operation && r.concurrency == concurrency)
            .map(|r| &r.result)
    }

    fn growth_p99(&self, operation: &str, rooms: u64) -> Option<u64> {
        self.growth
            .iter()
            .find(|g| g.rooms == rooms && g.row.operation == operation && g.row.concurrency == TARGET_CONCURRENCY)
            .map(|g| g.row.result.latency.quantile(0.99))
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{}\n", self.title);
        let database = self.backend != BackendKind::Sqlite;
        let _ = writeln!(
            out,
            "| operation | connections | requests/s | p50 | p99 | errors | server CPU |{} load generator CPU | other CPU |",
            if database { " database CPU |" } else { "" }
        );
        let _ = writeln!(
            out,
            "|---|---:|---:|---:|---:|---:|---:|{}---:|---:|",
            if database { "---:|" } else { "" }
        );
        for row in &self.rows {
            let r = &row.result;
            let database_cell = if database {
                format!(" {} |", cores(r.database_cores))
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} |{database_cell} {} | {} |",
                row.operation,
                row.concurrency,
                step_cells(r),
                cores(r.client_cores),
                cores(r.other_cores),
            );
        }
        self.render_ratio(&mut out);
        self.render_growth(&mut out);
        self.render_footprint(&mut out);
        self.render_targets(&mut out);
        self.render_errors(&mut out);
        out
    }

    fn render_ratio(&self, out: &mut String) {
        let rows: Vec<(usize, &StepResult, Option<&StepResult>, Option<&StepResult>)> = self
            .rows
            .iter()
            .filter(|r| r.operation == EXCHANGE)
            .map(|r| {
                (
                    r.concurrency,
                    &r.result,
                    self.find(NODE_TOKEN, r.concurrency),
                    self.find(NODE_TOKEN_TUNED, r.concurrency),
                )
            })
            .filter(|(_, _, sample, tuned)| sample.is_some() || tuned.is_some())
            .collect();
        if rows.is_empty() {
            return;
        }
        let _ = writeln!(
            out,
            "\nCode exchange against the Node token server, same load generator:\n"
        );
        let _ = writeln!(
            out,
            "| connections | openhms `POST /v2/token` req/s | Node, as the sample, req/s | ratio | Node, tuned, req/s | ratio |"
        );
        let _ = writeln!(out, "|---:|---:|---:|---:|---:|---:|");
        let cell = |node: Option<&StepResult>, ours: &StepResult| match node {
            Some(node) => (
                rate(node.per_second()),
                format!("{:.1}×", ours.per_second() / node.per_second()),
            ),
            None => ("–".into(), "–".into()),
        };
        for (concurrency, ours, sample, tuned) in rows {
            let (sample_rate, sample_ratio) = cell(sample, ours);
            let (tuned_rate, tuned_ratio) = cell(tuned, ours);
            let _ = writeln!(
                out,
                "| {concurrency} | {} | {sample_rate} | {sample_ratio} | {tuned_rate} | {tuned_ratio} |",
                rate(ours.per_second()),
            );
        }
    }

    fn render_growth(&self, out: &mut String) {
        if self.growth.is_empty() {
            return;
        }
        let _ = writeln!(out, "\nGrowth: the same reads with more rooms in the store:\n");
        let _ = writeln!(
            out,
            "| rooms | operation | connections | requests/s | p50 | p99 | errors | server CPU | database CPU | other CPU |"
        );
        let _ = writeln!(out, "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        for g in &self.growth {
            let r = &g.row.result;
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                rooms(g.rooms),
                g.row.operation,
                g.row.concurrency,
                step_cells(r),
                cores(r.database_cores),
                cores(r.other_cores),
            );
        }
    }

    fn render_footprint(&self, out: &mut String) {
        let f = &self.footprint;
        let node = |v: Option<String>| v.unwrap_or_else(|| "–".into());
        let _ = writeln!(out, "\nFootprint:\n");
        let _ = writeln!(out, "| measure | openhms | Node token server |");
        let _ = writeln!(out, "|---|---:|---:|");
        let _ = writeln!(
            out,
            "| start → healthy, empty data dir | {} | {} |",
            millis(f.ready_fresh),
            node(f.node_ready.map(millis))
        );
        for (n, d) in &f.ready_loaded {
            let _ = writeln!(out, "| start → healthy, {} rooms | {} | – |", rooms(*n), millis(*d));
        }
        let _ = writeln!(
            out,
            "| resident memory, idle after start | {} | {} |",
            mib(f.idle_rss_kib),
            node(f.node_idle_kib.map(mib))
        );
        let _ = writeln!(
            out,
            "| resident memory, peak under load (VmHWM) | {} | {} |",
            mib(f.peak_rss_kib),
            node(f.node_peak_kib.map(mib))
        );
        let _ = writeln!(
            out,
            "| resident memory, idle after the load | {} | – |",
            mib(f.idle_after_kib)
        );
        for (n, kib) in &f.idle_loaded_kib {
            let _ = writeln!(
                out,
                "| resident memory, idle after start with {} rooms | {} | – |",
                rooms(*n),
                mib(*kib)
            );
        }
    }

    fn render_targets(&self, out: &mut String) {
        let mut targets = match self.backend {
            BackendKind::Sqlite => self.sqlite_targets(),
            BackendKind::Postgres { .. } => self.postgres_targets(),
        };
        targets.extend(self.growth_targets());
        let errors: u64 = self
            .rows
            .iter()
            .map(|r| r.result.errors)
            .chain(self.growth.iter().map(|g| g.row.result.errors))
            .sum();
        targets.push((
            "zero errors at every concurrency".into(),
            format!("{errors} errors"),
            errors == 0,
        ));
        let _ = writeln!(out, "\nTargets:\n");
        let _ = writeln!(out, "| target | measured | |");
        let _ = writeln!(out, "|---|---:|---|");
        for (target, measured, ok) in targets {
            let _ = writeln!(out, "| {target} | {measured} | {} |", met(ok));
        }
    }

    /// `operation` at `c` connections at `floor` requests per second or more.
    fn rate_target(&self, operation: &str, what: &str, floor: f64) -> Option<Target> {
        let c = TARGET_CONCURRENCY;
        let step = self.find(operation, c)?;
        Some((
            format!("{what} ≥ {} req/s at {c} connections", rate(floor)),
            format!("{} req/s", rate(step.per_second())),
            step.per_second() >= floor,
        ))
    }

    /// `what`: the code exchange at five times the rate of the Node token server `node` or more.
    fn exchange_target(&self, node: &str, what: &str) -> Option<Target> {
        let c = TARGET_CONCURRENCY;
        let ratio = self.find(EXCHANGE, c)?.per_second() / self.find(node, c)?.per_second();
        Some((
            format!("{what} at {c} connections"),
            format!("{ratio:.1}×"),
            ratio >= 5.0,
        ))
    }

    fn sqlite_targets(&self) -> Vec<Target> {
        let c = TARGET_CONCURRENCY;
        let mut targets: Vec<Target> = Vec::new();
        targets.extend(self.exchange_target(NODE_TOKEN, "code exchange ≥ 5× the Node token server (as the sample)"));
        targets.extend(self.exchange_target(
            NODE_TOKEN_TUNED,
            "(stricter) code exchange ≥ 5× the tuned Node token server",
        ));
        if let Some(get) = self.find(GET_ROOM, c) {
            let (rps, p99) = (get.per_second(), get.latency.quantile(0.99));
            targets.push((
                format!("room get ≥ 15 000 req/s with p99 < 10 ms at {c} connections"),
                format!("{} req/s, p99 {}", rate(rps), latency(p99)),
                rps >= 15_000.0 && p99 < 10_000_000,
            ));
        }
        if let Some(create) = self.find(CREATE_ROOM, c) {
            targets.push((
                format!("room creation ≥ 3 000/s at {c} connections"),
                format!("{}/s", rate(create.per_second())),
                create.per_second() >= 3_000.0,
            ));
        }
        targets.extend(self.rate_target(LIST_ROOMS, "list of 100 rooms", 5_000.0));
        let f = &self.footprint;
        targets.push((
            "healthy < 200 ms from start (empty data dir)".into(),
            millis(f.ready_fresh),
            f.ready_fresh < Duration::from_millis(200),
        ));
        targets.push((
            "< 40 MB resident at idle".into(),
            mib(f.idle_rss_kib),
            f.idle_rss_kib * 1024 < 40_000_000,
        ));
        targets
    }

    fn postgres_targets(&self) -> Vec<Target> {
        [
            self.rate_target(GET_ROOM, "room get", 10_000.0),
            self.rate_target(EXCHANGE, "code exchange", 10_000.0),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    /// The p99 of the largest store within a bound of the smallest's: 1.5× for a get, 1.2×
    /// for a list.
    fn growth_targets(&self) -> Vec<Target> {
        let c = TARGET_CONCURRENCY;
        let mut targets = Vec::new();
        let smallest = self.growth.iter().map(|g| g.rooms).min();
        let largest = self.growth.iter().map(|g| g.rooms).max();
        let (Some(small), Some(large)) = (smallest, largest) else {
            return targets;
        };
        if small == large {
            return targets;
        }
        for (operation, bound) in [(GET_ROOM, 1.5), (LIST_ROOMS, 1.2)] {
            if let (Some(p_small), Some(p_large)) =
                (self.growth_p99(operation, small), self.growth_p99(operation, large))
            {
                let ratio = p_large as f64 / p_small as f64;
                targets.push((
                    format!(
                        "`{operation}` p99 with {} rooms ≤ {bound}× its p99 with {} ({c} connections)",
                        rooms(large),
                        rooms(small)
                    ),
                    format!("{} vs {} ({ratio:.2}×)", latency(p_large), latency(p_small)),
                    ratio <= bound,
                ));
            }
        }
        targets
    }

    fn render_errors(&self, out: &mut String) {
        let all = self.rows.iter().chain(self.growth.iter().map(|g| &g.row));
        let failed: Vec<&Row> = all.filter(|r| r.result.errors > 0).collect();
        if failed.is_empty() {
            return;
        }
        let _ = writeln!(out, "\nFirst error of each step that had errors:\n");
        for row in failed {
            let _ = writeln!(
                out,
                "- {} at {} connections: {}",
                row.operation,
                row.concurrency,
                row.result.first_error.as_deref().unwrap_or("?")
            );
        }
    }
}
