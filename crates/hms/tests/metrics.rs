//! Metrics (issue 17): `/metrics` on its own listener, off by default, parsed with a
//! Prometheus text parser and checked against the traffic the test sent.

mod common;

use std::net::TcpListener as StdListener;
use std::time::{Duration, Instant};

use common::{TestServer, send};
use prometheus_parse::{Sample, Scrape, Value};
use reqwest::{Method, StatusCode};
use serde_json::json;

/// A free loopback port, for a listener the server binds right after.
fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn scrape(addr: &str) -> Scrape {
    let response = common::client()
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .expect("the metrics listener answers");
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    let text = response.text().await.unwrap();
    Scrape::parse(text.lines().map(|line| Ok(line.to_owned()))).expect("Prometheus text format")
}

fn number(value: &Value) -> f64 {
    match value {
        Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
        other => panic!("not a number: {other:?}"),
    }
}

/// The value of the sample `name` whose labels include `labels`; 0 when there is none.
fn value(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    let found: Vec<&Sample> = scrape
        .samples
        .iter()
        .filter(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .collect();
    assert!(found.len() <= 1, "{name} {labels:?} matches {} samples", found.len());
    found.first().map_or(0.0, |s| number(&s.value))
}

#[tokio::test]
async fn metrics_are_off_unless_asked_for() {
    let server = TestServer::start();
    // The API listener does not serve them.
    let (status, _) = server.get("/metrics").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn metrics_count_known_traffic() {
    let dir = tempfile::tempdir().unwrap();
    let hook = common::webhook_receiver("hook", |_| {}).await;
    let config = dir.path().join("hms.toml");
    std::fs::write(
        &config,
        format!("[webhooks]\npoll_ms = 20\n[[webhooks.workspaces]]\nworkspace = \"default\"\nurl = \"{hook}\"\n"),
    )
    .unwrap();
    let metrics_addr = format!("127.0.0.1:{}", free_port());
    let data = dir.path().join("data");
    let server = TestServer::start_in(
        &data,
        &[
            "--simulate-peers",
            "--metrics-listen",
            &metrics_addr,
            "--config",
            config.to_str().unwrap(),
        ],
    );

    for name in ["m-1", "m-2", "m-3"] {
        assert_eq!(
            server.post("/v2/rooms", json!({ "name": name })).await.0,
            StatusCode::OK
        );
    }
    let anonymous = send(server.request(Method::GET, "/v2/rooms")).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    let unmatched = send(server.request(Method::GET, "/no/such/path")).await;
    assert_eq!(unmatched.status, StatusCode::NOT_FOUND);
    let (room_id, peer) = simulated_host(&server, "live").await;

    // The join logged two events (session open, peer join): wait for both deliveries.
    let deadline = Instant::now() + Duration::from_secs(15);
    let metrics = loop {
        let metrics = scrape(&metrics_addr).await;
        if value(&metrics, "hms_webhook_attempts_total", &[("outcome", "delivered")]) >= 2.0 {
            break metrics;
        }
        assert!(Instant::now() < deadline, "the webhooks were never delivered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    let requests = |operation: &str, status: &str| {
        value(
            &metrics,
            "hms_http_requests_total",
            &[("operation", operation), ("status", status)],
        )
    };
    assert_eq!(requests("create-room", "200"), 4.0);
    assert_eq!(requests("list-rooms", "401"), 1.0);
    assert_eq!(requests("unmatched", "404"), 1.0);
    assert_eq!(requests("simulate-peer-join", "200"), 1.0);
    assert_eq!(value(&metrics, "hms_http_requests_in_flight", &[]), 0.0);
    assert_eq!(
        value(&metrics, "hms_webhook_attempts_total", &[("outcome", "delivered")]),
        2.0
    );
    assert_eq!(
        value(&metrics, "hms_webhook_attempts_total", &[("outcome", "retry")]),
        0.0
    );
    assert_eq!(value(&metrics, "hms_live_rooms", &[]), 1.0);
    assert_eq!(value(&metrics, "hms_live_sessions", &[]), 1.0);
    assert_eq!(value(&metrics, "hms_live_peers", &[]), 1.0);
    assert_eq!(value(&metrics, "hms_store_up", &[]), 1.0);
    assert_eq!(value(&metrics, "hms_webhook_pending_deliveries", &[]), 0.0);
    assert_eq!(
        value(&metrics, "hms_webhook_oldest_pending_delivery_age_seconds", &[]),
        0.0
    );
    assert_eq!(value(&metrics, "hms_event_log_planning_lag_seconds", &[]), 0.0);
    let pools: Vec<&Sample> = metrics
        .samples
        .iter()
        .filter(|s| s.metric == "hms_db_pool_max_connections")
        .collect();
    let expected_pools = if common::on_postgres() {
        vec!["main", "read"]
    } else {
        vec!["read", "write"]
    };
    let mut names: Vec<&str> = pools.iter().map(|s| s.labels.get("pool").unwrap()).collect();
    names.sort();
    assert_eq!(names, expected_pools);
    assert!(pools.iter().all(|s| number(&s.value) >= 1.0));

    // The latency histogram of create-room holds the four requests.
    let histogram = metrics
        .samples
        .iter()
        .find(|s| s.metric == "hms_http_request_duration_seconds" && s.labels.get("operation") == Some("create-room"))
        .expect("a histogram of create-room");
    match &histogram.value {
        Value::Histogram(buckets) => {
            let infinite = buckets.iter().find(|b| b.less_than.is_infinite()).expect("+Inf bucket");
            assert_eq!(infinite.count, 4.0);
            assert!(
                buckets.windows(2).all(|w| w[0].count <= w[1].count),
                "buckets are cumulative"
            );
        }
        other => panic!("not a histogram: {other:?}"),
    }

    // No label holds a room id or any other unbounded value.
    for sample in &metrics.samples {
        for (name, label) in sample.labels.iter() {
            assert!(
                !label.contains(room_id.as_str()) && !label.contains("m-1"),
                "{} has {name}={label}",
                sample.metric
            );
        }
    }

    // The peer leaves: the live gauges follow.
    let peer_id = peer["id"].as_str().unwrap();
    let left = server
        .delete(&format!("/v2/simulate/rooms/{room_id}/peers/{peer_id}"))
        .await;
    assert!(left.status.is_success());
    let after = scrape(&metrics_addr).await;
    assert_eq!(value(&after, "hms_live_peers", &[]), 0.0);
    assert_eq!(value(&after, "hms_live_rooms", &[]), 0.0);
}

#[tokio::test]
async fn the_grafana_dashboard_queries_only_metrics_the_server_has() {
    let dir = tempfile::tempdir().unwrap();
    let metrics_addr = format!("127.0.0.1:{}", free_port());
    let server = TestServer::start_in(dir.path(), &["--metrics-listen", &metrics_addr]);
    // Request series exist once a request was answered; the others from the start.
    assert_eq!(server.get("/v2/rooms").await.0, StatusCode::OK);
    let scrape = scrape(&metrics_addr).await;
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../packaging/grafana/openhms-dashboard.json"
    );
    let dashboard: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut queried = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            let mut rest = expr;
            while let Some(at) = rest.find("hms_") {
                let name: String = rest[at..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                rest = &rest[at + name.len()..];
                queried.push(name);
            }
        }
    }
    assert!(queried.len() >= 10, "{queried:?}");
    for name in queried {
        let family = name.trim_end_matches("_bucket").trim_end_matches("_total");
        assert!(
            scrape.docs.contains_key(family),
            "the dashboard queries {name}, which the server does not serve"
        );
    }
}

#[tokio::test]
async fn an_endpoint_that_is_behind_has_its_own_oldest_pending_age_labelled_by_origin() {
    let dir = tempfile::tempdir().unwrap();
    // Nobody listens on this port: every attempt fails and is retried later.
    let dead = format!("127.0.0.1:{}", free_port());
    let config = dir.path().join("hms.toml");
    std::fs::write(
        &config,
        format!(
            "[webhooks]\npoll_ms = 20\n[[webhooks.workspaces]]\nworkspace = \"default\"\n\
             url = \"http://{dead}/hook/SECRET-PATH?token=SECRET-QUERY\"\n"
        ),
    )
    .unwrap();
    let metrics_addr = format!("127.0.0.1:{}", free_port());
    let server = TestServer::start_in(
        &dir.path().join("data"),
        &[
            "--simulate-peers",
            "--metrics-listen",
            &metrics_addr,
            "--config",
            config.to_str().unwrap(),
        ],
    );
    simulated_host(&server, "behind").await;

    let endpoint = format!("http://{dead}");
    let name = "hms_webhook_endpoint_oldest_pending_delivery_age_seconds";
    let deadline = Instant::now() + Duration::from_secs(15);
    let metrics = loop {
        let metrics = scrape(&metrics_addr).await;
        let failed = value(&metrics, "hms_webhook_attempts_total", &[("outcome", "retry")]);
        if failed >= 1.0 && value(&metrics, name, &[("endpoint", &endpoint)]) > 0.0 {
            break metrics;
        }
        assert!(Instant::now() < deadline, "no age for the endpoint behind");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let series: Vec<&Sample> = metrics.samples.iter().filter(|s| s.metric == name).collect();
    assert_eq!(series.len(), 1, "one series, for the one endpoint");
    assert!(
        value(&metrics, name, &[("endpoint", &endpoint)])
            <= value(&metrics, "hms_webhook_oldest_pending_delivery_age_seconds", &[]),
        "an endpoint's oldest is no older than the oldest of all"
    );
    for sample in &metrics.samples {
        for (label, text) in sample.labels.iter() {
            assert!(!text.contains("SECRET"), "{} has {label}={text}", sample.metric);
        }
    }
}

/// Creates a room named `name` and joins a simulated host to it: the room's id and the peer.
async fn simulated_host(server: &TestServer, name: &str) -> (String, serde_json::Value) {
    let room = server.post("/v2/rooms", json!({ "name": name })).await.1;
    let room_id = room["id"].as_str().unwrap().to_owned();
    let peer = server
        .post_ok(
            &format!("/v2/simulate/rooms/{room_id}/peers"),
            json!({ "role": "host" }),
        )
        .await;
    (room_id, peer)
}
