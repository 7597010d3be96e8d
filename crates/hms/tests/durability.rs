//! What the server acknowledged survives a crash and a shutdown.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::TestServer;
use reqwest::StatusCode;
use serde_json::json;

type Acknowledged = Arc<Mutex<Vec<String>>>;

/// Creates rooms from `writers` concurrent tasks until told to stop, recording in
/// `acknowledged` the id of every room whose creation was acknowledged with 200.
async fn write_burst(
    base: String,
    token: String,
    writers: usize,
    stop: tokio::sync::watch::Receiver<bool>,
    acknowledged: Acknowledged,
) {
    let tasks: Vec<_> = (0..writers)
        .map(|writer| {
            let (base, token, acknowledged, stop) = (base.clone(), token.clone(), acknowledged.clone(), stop.clone());
            tokio::spawn(async move {
                let client = common::client();
                for n in 0.. {
                    if *stop.borrow() {
                        break;
                    }
                    let sent = client
                        .post(format!("{base}/v2/rooms"))
                        .bearer_auth(&token)
                        .json(&json!({"name": format!("burst-{writer}-{n}"), "description": "x".repeat(200)}))
                        .send()
                        .await;
                    let Ok(response) = sent else { break };
                    if response.status() != StatusCode::OK {
                        break;
                    }
                    let Ok(room) = response.json::<serde_json::Value>().await else {
                        break;
                    };
                    acknowledged
                        .lock()
                        .unwrap()
                        .push(room["id"].as_str().unwrap().to_owned());
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
}

/// Waits (at most 60 s, however loaded the machine) until `count` writes were acknowledged.
async fn wait_for_writes(acknowledged: &Acknowledged, count: usize) {
    for _ in 0..600 {
        if acknowledged.lock().unwrap().len() >= count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the burst wrote fewer than {count} rooms in 60 s");
}

async fn assert_all_present(server: &TestServer, ids: &[String]) {
    for id in ids {
        let (status, room) = server.get(&format!("/v2/rooms/{id}")).await;
        assert_eq!(status, StatusCode::OK, "acknowledged room {id} was lost: {room}");
    }
}

/// A running `write_burst` against one server.
struct Burst {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    acknowledged: Acknowledged,
}

impl Burst {
    /// Starts `writers` writers and returns once `count` writes were acknowledged.
    async fn start(server: &TestServer, writers: usize, count: usize) -> Self {
        let (stop, stop_rx) = tokio::sync::watch::channel(false);
        let acknowledged = Acknowledged::default();
        let task = tokio::spawn(write_burst(
            server.base.clone(),
            server.token(),
            writers,
            stop_rx,
            acknowledged.clone(),
        ));
        wait_for_writes(&acknowledged, count).await;
        Self {
            stop,
            task,
            acknowledged,
        }
    }

    /// Stops the writers and returns every id that was acknowledged.
    async fn stop(self) -> Vec<String> {
        let _ = self.stop.send(true);
        self.task.await.unwrap();
        self.acknowledged.lock().unwrap().clone()
    }
}

#[tokio::test]
async fn acknowledged_writes_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = TestServer::start_in(dir.path(), &[]);
    let burst = Burst::start(&server, 8, 40).await;
    server.kill();
    let acknowledged = burst.stop().await;
    assert!(
        acknowledged.len() >= 40,
        "the burst wrote too little to prove anything: {}",
        acknowledged.len()
    );

    let restarted = TestServer::start_in(dir.path(), &[]);
    assert_all_present(&restarted, &acknowledged).await;
}

#[tokio::test]
async fn sigterm_drains_and_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = TestServer::start_in(dir.path(), &[]);
    let burst = Burst::start(&server, 4, 10).await;
    let status = tokio::task::spawn_blocking(move || {
        let status = server.terminate();
        (server, status)
    });
    let (server, exit) = status.await.unwrap();
    let acknowledged = burst.stop().await;
    assert!(exit.success(), "server exited with {exit}");
    drop(server);

    let restarted = TestServer::start_in(dir.path(), &[]);
    assert_all_present(&restarted, &acknowledged).await;
    let (status, page) = restarted.get("/v2/rooms?limit=100").await;
    assert_eq!(status, StatusCode::OK);
    assert!(!page["data"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn state_survives_a_restart_and_the_workspace_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = TestServer::start_in(dir.path(), &[]);
    let (_, room) = server.post("/v2/rooms", json!({"name": "kept"})).await;
    let (_, codes) = server
        .post(
            &format!("/v2/room-codes/room/{}", room["id"].as_str().unwrap()),
            json!({}),
        )
        .await;
    assert!(server.terminate().success());

    let restarted = TestServer::start_in(dir.path(), &[]);
    let (status, again) = restarted
        .get(&format!("/v2/rooms/{}", room["id"].as_str().unwrap()))
        .await;
    assert_eq!((status, &again), (StatusCode::OK, &room));
    let (status, listed) = restarted
        .get(&format!("/v2/room-codes/room/{}", room["id"].as_str().unwrap()))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["data"], codes["data"]);
}
