//! `hms-bench soak`: a mixed workload (room reads, creates, code exchanges, peers joining
//! and leaving, whose events go as webhooks to a local receiver) at a fixed number of
//! connections for a long time; a row per interval with its throughput, errors, p99 and
//! the server's resident memory and open file descriptors, and the verdict: errors
//! (target 0), memory and descriptors flat within 10 % from the first interval to the last.

use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::client::Conn;
use crate::load::{Op, Target, run_step};
use crate::proc_stats;

#[derive(clap::Args)]
pub struct SoakArgs {
    /// The `hms` binary to soak.
    #[arg(long)]
    pub hms: PathBuf,
    /// How long, in seconds.
    #[arg(long, env = "BENCH_SOAK_SECONDS", default_value_t = 600)]
    pub seconds: u64,
    /// Length of one row of the report, in seconds.
    #[arg(long, env = "BENCH_SOAK_INTERVAL", default_value_t = 60)]
    pub interval: u64,
    /// Connections.
    #[arg(long, env = "BENCH_SOAK_CONCURRENCY", default_value_t = 256)]
    pub concurrency: usize,
    /// Also write the report to this file.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Open file descriptors of a process.
fn open_fds(pid: u32) -> Option<usize> {
    std::fs::read_dir(format!("/proc/{pid}/fd")).ok().map(|dir| dir.count())
}

/// A webhook endpoint answering 200 to every delivery, counting them.
async fn receiver() -> Result<(String, Arc<AtomicU64>), String> {
    let listener = TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
    let url = format!("http://{}/soak", listener.local_addr().map_err(|e| e.to_string())?);
    let received = Arc::new(AtomicU64::new(0));
    let count = received.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let count = count.clone();
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let mut buffer = [0u8; 8192];
                loop {
                    let Ok(n) = stream.read(&mut buffer).await else { return };
                    if n == 0 {
                        return;
                    }
                    seen.extend_from_slice(&buffer[..n]);
                    let text = String::from_utf8_lossy(&seen);
                    let Some(end) = text.find("\r\n\r\n") else { continue };
                    let length: usize = text[..end]
                        .lines()
                        .find_map(|line| {
                            let line = line.to_ascii_lowercase();
                            line.strip_prefix("content-length:").and_then(|v| v.trim().parse().ok())
                        })
                        .unwrap_or(0);
                    if seen.len() >= end + 4 + length {
                        break;
                    }
                }
                count.fetch_add(1, Ordering::Relaxed);
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
            });
        }
    });
    Ok((url, received))
}

/// Points the workspace's webhook at `url`, through the CLI, while the server runs.
fn set_webhook(hms: &Path, data_dir: &Path, url: &str) -> Result<(), String> {
    let output = std::process::Command::new(hms)
        .args(["workspace", "webhook", "set", "default", "--url", url, "--data-dir"])
        .arg(data_dir)
        .output()
        .map_err(|e| format!("hms workspace webhook set: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "hms workspace webhook set: {}",
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

pub async fn soak(args: &SoakArgs, work: &Path) -> Result<String, String> {
    let credentials = crate::credentials();
    let auth = crate::management_auth(&credentials);
    let data_dir = work.join("soak");
    crate::progress("soak: starting openhms on an empty data dir");
    let hms = crate::server::start_hms(&args.hms, &data_dir, &credentials).await?;
    let (url, received) = receiver().await?;
    set_webhook(&args.hms, &data_dir, &url)?;

    let mut setup = Conn::open(hms.addr).await.map_err(|e| e.0)?;
    let room_ids = Arc::new(crate::create_rooms(&mut setup, &auth, "soak-room", crate::ROOMS).await?);
    let codes = Arc::new(crate::room_codes(&mut setup, &auth, &room_ids).await?);
    drop(setup);

    // Reads weigh most, as in a real deployment; every join and leave makes webhooks.
    let get = Arc::new(Op::GetRoom {
        room_ids: room_ids.clone(),
    });
    let exchange = Arc::new(Op::Exchange { codes });
    let mixed = Arc::new(Op::Mixed {
        ops: vec![
            get.clone(),
            get.clone(),
            get,
            Arc::new(Op::CreateRoom { prefix: "soak".into() }),
            exchange.clone(),
            exchange,
            Arc::new(Op::PeerJoinLeave { room_ids }),
        ],
    });
    let target = Target::one(hms.addr, auth, hms.pid);
    let intervals = (args.seconds / args.interval.max(1)).max(1);
    let mut table = String::from(
        "| at s | requests/s | errors | p50 ms | p99 ms | RSS MiB | open fds | webhooks received |\n|---|---|---|---|---|---|---|---|\n",
    );
    let mut errors = 0;
    let mut first_error = None;
    let mut samples = Vec::new();
    for i in 0..intervals {
        crate::progress(format!("soak: interval {}/{intervals}", i + 1));
        let step = run_step(
            &target,
            mixed.clone(),
            args.concurrency,
            Duration::ZERO,
            Duration::from_secs(args.interval.max(1)),
        )
        .await;
        let rss = proc_stats::status_kib(hms.pid, "VmRSS").unwrap_or(0);
        let fds = open_fds(hms.pid).unwrap_or(0);
        errors += step.errors;
        if first_error.is_none() {
            first_error = step.first_error.clone();
        }
        samples.push((rss, fds));
        let _ = writeln!(
            table,
            "| {} | {:.0} | {} | {:.1} | {:.1} | {:.0} | {fds} | {} |",
            (i + 1) * args.interval,
            step.per_second(),
            step.errors,
            step.latency.quantile(0.5) as f64 / 1e6,
            step.latency.quantile(0.99) as f64 / 1e6,
            rss as f64 / 1024.0,
            received.load(Ordering::Relaxed),
        );
    }
    hms.stop().await?;

    let (first, last) = (samples[0], samples[samples.len() - 1]);
    let change = |a: usize, b: usize| (b as f64 - a as f64) / (a.max(1) as f64) * 100.0;
    let rss_change = change(first.0 as usize, last.0 as usize);
    let fds_change = change(first.1, last.1);
    let mut report = format!(
        "Soak: {} connections, {} s, mixed workload (room reads, creates, code exchanges, peers joining and leaving with webhooks to a local receiver).\n\n{table}\n",
        args.concurrency, args.seconds
    );
    let _ = writeln!(
        report,
        "- errors: {errors} (target 0){}",
        first_error.map(|e| format!("; first: {e}")).unwrap_or_default()
    );
    let verdict = |change: f64| if change.abs() <= 10.0 { "flat" } else { "NOT flat" };
    let _ = writeln!(
        report,
        "- resident memory: {:.0} MiB after the first interval, {:.0} MiB at the end ({rss_change:+.1} %, {})",
        first.0 as f64 / 1024.0,
        last.0 as f64 / 1024.0,
        verdict(rss_change)
    );
    let _ = writeln!(
        report,
        "- open file descriptors: {} after the first interval, {} at the end ({fds_change:+.1} %, {})",
        first.1,
        last.1,
        verdict(fds_change)
    );
    Ok(report)
}
