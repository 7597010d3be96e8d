//! The processes under test: the `hms` server and the Node token server, started on
//! loopback ports they choose, timed until they answer, and stopped with SIGTERM.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use hyper::Method;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::client::Conn;

pub struct Credentials {
    pub access_key: String,
    pub secret: String,
}

pub struct Process {
    pub name: &'static str,
    child: Child,
    pub pid: u32,
    pub addr: SocketAddr,
    /// From spawning the process to its first healthy answer.
    pub ready_in: Duration,
}

const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Starts `hms serve` on a free loopback port with the peer simulator, and waits until
/// `GET /healthz` answers 200.
pub async fn start_hms(bin: &Path, data_dir: &Path, credentials: &Credentials) -> Result<Process, String> {
    start_hms_on(bin, data_dir, None, credentials).await
}

/// [`start_hms`] on the PostgreSQL database at `database_url` when given.
pub async fn start_hms_on(
    bin: &Path,
    data_dir: &Path,
    database_url: Option<&str>,
    credentials: &Credentials,
) -> Result<Process, String> {
    let log = std::fs::File::create(data_dir.with_extension("log")).map_err(|e| format!("server log: {e}"))?;
    let mut command = Command::new(bin);
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--simulate-peers", "--data-dir"])
        .arg(data_dir);
    if let Some(url) = database_url {
        command.arg("--database-url").arg(url);
    }
    command
        .env("HMS_ACCESS_KEY", &credentials.access_key)
        .env("HMS_SECRET", &credentials.secret)
        .stderr(log);
    start(
        command,
        "openhms",
        "openhms listening on http://",
        "/healthz",
        Method::GET,
    )
    .await
}

/// Starts the Node token server of `dir` on a free loopback port.
pub async fn start_node(dir: &Path, credentials: &Credentials) -> Result<Process, String> {
    let mut command = Command::new("node");
    command
        .arg("server.js")
        .current_dir(dir)
        .env("HMS_ACCESS_KEY", &credentials.access_key)
        .env("HMS_SECRET", &credentials.secret)
        .env("PORT", "0")
        .stderr(Stdio::inherit());
    // Express answers an empty POST with 400: any answer means it is serving.
    start(
        command,
        "node",
        "node token server listening on http://",
        "/api/token",
        Method::POST,
    )
    .await
}

async fn start(
    mut command: Command,
    name: &'static str,
    banner: &str,
    probe: &str,
    probe_method: Method,
) -> Result<Process, String> {
    let started = Instant::now();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start {name}: {e}"))?;
    let pid = child.id().ok_or_else(|| format!("{name} exited at once"))?;
    let mut lines = BufReader::new(child.stdout.take().expect("stdout is piped")).lines();
    let addr = tokio::time::timeout(START_TIMEOUT, async {
        while let Some(line) = lines.next_line().await.map_err(|e| e.to_string())? {
            if let Some(addr) = line.trim().strip_prefix(banner) {
                return addr.parse::<SocketAddr>().map_err(|e| format!("{addr}: {e}"));
            }
        }
        Err(format!("{name} exited before it listened"))
    })
    .await
    .map_err(|_| format!("{name} did not listen within {START_TIMEOUT:?}"))??;
    // Keep reading stdout so that the server never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    loop {
        if let Ok(mut conn) = Conn::open(addr).await
            && let Ok(answer) = conn.send(probe_method.clone(), probe, None, None).await
            && (answer.status.is_success() || probe_method != Method::GET)
        {
            break;
        }
        if started.elapsed() > START_TIMEOUT {
            return Err(format!("{name} did not become healthy within {START_TIMEOUT:?}"));
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    Ok(Process {
        name,
        child,
        pid,
        addr,
        ready_in: started.elapsed(),
    })
}

impl Process {
    /// SIGTERM, then up to 30 s for a graceful stop (the server closes its database), then
    /// SIGKILL.
    pub async fn stop(mut self) -> Result<(), String> {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status();
        match tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await {
            Ok(Ok(_)) => Ok(()),
            _ => {
                let _ = self.child.kill().await;
                Err(format!("{} did not stop on SIGTERM within 30 s", self.name))
            }
        }
    }
}
