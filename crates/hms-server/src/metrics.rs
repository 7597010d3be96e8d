//! Metrics in the Prometheus (OpenMetrics) text format, served at `/metrics` on a listener
//! of their own (`metrics_listen`), never on the API's.
//!
//! Names follow Prometheus conventions: an `hms_` prefix, base units (`_seconds`),
//! `_total` on counters. No label holds an unbounded value: operations are the catalogue's
//! names (or the route's template for the few routes outside it), statuses are HTTP codes,
//! and webhook endpoints are labelled only in the one gauge of the oldest pending
//! deliveries, by origin (no path, which may hold a secret), for the few endpoints furthest
//! behind ([`hms_store::GAUGED_ENDPOINTS`]): rooms may each name their own endpoint.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hms_store::{AttemptOutcome, Store};
use hms_types::PreciseTime;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

use crate::rtc_metrics::RtcMetrics;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    operation: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolNameLabels {
    pool: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    pool: &'static str,
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabels {
    endpoint: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LimitLabels {
    limit: &'static str,
}

/// The limits that refuse requests, as `hms_http_limited_requests_total` names them.
pub const LIMITS: [&str; 3] = ["rate_workspace", "rate_client", "overload"];

type FloatGauge = Gauge<f64, AtomicU64>;

/// Every metric of a server, and the registry that encodes them.
pub struct Metrics {
    registry: Registry,
    node_id: String,
    operations: HashMap<(&'static str, &'static str), &'static str>,
    requests: Family<RequestLabels, Counter>,
    durations: Family<OperationLabels, Histogram>,
    in_flight: Gauge,
    webhook_attempts: Family<OutcomeLabels, Counter>,
    webhook_pending: Gauge,
    webhook_oldest_pending: FloatGauge,
    webhook_endpoint_oldest_pending: Family<EndpointLabels, FloatGauge>,
    planning_lag: FloatGauge,
    live_rooms: Gauge,
    live_sessions: Gauge,
    live_peers: Gauge,
    pool_connections: Family<PoolLabels, Gauge>,
    pool_max: Family<PoolNameLabels, Gauge>,
    writer_queue: Gauge,
    store_up: Gauge,
    limited: Family<LimitLabels, Counter>,
    rtc: RtcMetrics,
}

impl Metrics {
    /// The metrics of node `node_id`, all at zero.
    pub fn new(node_id: String) -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "hms_http_requests",
            "HTTP requests answered, by operation and status",
            requests.clone(),
        );
        let durations = Family::<OperationLabels, Histogram>::new_with_constructor(latency_histogram as fn() -> _);
        registry.register_with_unit(
            "hms_http_request_duration",
            "Time to answer an HTTP request, by operation",
            Unit::Seconds,
            durations.clone(),
        );
        let in_flight = Gauge::default();
        registry.register(
            "hms_http_requests_in_flight",
            "HTTP requests being handled now",
            in_flight.clone(),
        );
        let webhook_attempts = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "hms_webhook_attempts",
            "Webhook delivery attempts by outcome: delivered, retry (failed, tried again later) or gave_up",
            webhook_attempts.clone(),
        );
        let webhook_pending = Gauge::default();
        registry.register(
            "hms_webhook_pending_deliveries",
            "Webhook deliveries queued, neither delivered nor given up (all nodes)",
            webhook_pending.clone(),
        );
        let webhook_oldest_pending = FloatGauge::default();
        registry.register_with_unit(
            "hms_webhook_oldest_pending_delivery_age",
            "Age of the oldest queued webhook delivery, 0 when none is queued",
            Unit::Seconds,
            webhook_oldest_pending.clone(),
        );
        let webhook_endpoint_oldest_pending = Family::<EndpointLabels, FloatGauge>::default();
        registry.register_with_unit(
            "hms_webhook_endpoint_oldest_pending_delivery_age",
            "Age of the oldest queued webhook delivery of each endpoint (by origin) among the \
             endpoints furthest behind; an endpoint with nothing queued has no series",
            Unit::Seconds,
            webhook_endpoint_oldest_pending.clone(),
        );
        let planning_lag = FloatGauge::default();
        registry.register_with_unit(
            "hms_event_log_planning_lag",
            "Age of the oldest logged event not yet planned into webhook deliveries, 0 when none",
            Unit::Seconds,
            planning_lag.clone(),
        );
        let live_rooms = Gauge::default();
        registry.register(
            "hms_live_rooms",
            "Rooms with an open session holding a peer of this node",
            live_rooms.clone(),
        );
        let live_sessions = Gauge::default();
        registry.register(
            "hms_live_sessions",
            "Open sessions holding a peer of this node",
            live_sessions.clone(),
        );
        let live_peers = Gauge::default();
        registry.register(
            "hms_live_peers",
            "Peers present that joined through this node",
            live_peers.clone(),
        );
        let pool_connections = Family::<PoolLabels, Gauge>::default();
        registry.register(
            "hms_db_pool_connections",
            "Database connections open, by pool and state (busy or idle)",
            pool_connections.clone(),
        );
        let pool_max = Family::<PoolNameLabels, Gauge>::default();
        registry.register(
            "hms_db_pool_max_connections",
            "Database connections a pool may open",
            pool_max.clone(),
        );
        let writer_queue = Gauge::default();
        registry.register(
            "hms_sqlite_writer_queue_length",
            "Writes waiting for the embedded database's single writer (0 on PostgreSQL)",
            writer_queue.clone(),
        );
        let store_up = Gauge::default();
        registry.register(
            "hms_store_up",
            "1 when the database answered the last scrape's queries, else 0",
            store_up.clone(),
        );
        let limited = Family::<LimitLabels, Counter>::default();
        registry.register(
            "hms_http_limited_requests",
            "Requests refused by a limit: rate_workspace, rate_client, overload (429 or 503)",
            limited.clone(),
        );
        // Series of known label values exist from the start, at 0, so that rates and
        // alerts over them work before the first event.
        for outcome in ["delivered", "retry", "gave_up"] {
            let _ = webhook_attempts.get_or_create(&OutcomeLabels { outcome });
        }
        for limit in LIMITS {
            let _ = limited.get_or_create(&LimitLabels { limit });
        }
        let rtc = RtcMetrics::register(&mut registry);
        let operations = hms_api::OPERATIONS
            .iter()
            .map(|operation| ((operation.method.as_str(), operation.path), operation.name))
            .collect();
        Self {
            registry,
            node_id,
            operations,
            requests,
            durations,
            in_flight,
            webhook_attempts,
            webhook_pending,
            webhook_oldest_pending,
            webhook_endpoint_oldest_pending,
            planning_lag,
            live_rooms,
            live_sessions,
            live_peers,
            pool_connections,
            pool_max,
            writer_queue,
            store_up,
            limited,
            rtc,
        }
    }

    /// Reports the figures of the node's WebRTC endpoint from now on.
    pub fn watch_rtc(&self, source: hms_rtc::StatsSource) {
        self.rtc.watch(source);
    }

    /// The label of a request: its operation's name, else its route, else `unmatched`.
    fn operation(&self, method: &str, route: Option<&MatchedPath>) -> String {
        match route {
            None => "unmatched".to_owned(),
            Some(route) => match self.operations.get(&(method, route.as_str())) {
                Some(name) => (*name).to_owned(),
                None => route.as_str().to_owned(),
            },
        }
    }

    pub fn webhook_attempt(&self, outcome: &AttemptOutcome) {
        let outcome = match outcome {
            AttemptOutcome::Delivered { .. } => "delivered",
            AttemptOutcome::Retry { .. } => "retry",
            AttemptOutcome::GiveUp { .. } => "gave_up",
        };
        self.webhook_attempts.get_or_create(&OutcomeLabels { outcome }).inc();
    }

    /// Counts a request refused by the limit named `limit`.
    pub fn limited(&self, limit: &'static str) {
        self.limited.get_or_create(&LimitLabels { limit }).inc();
    }

    /// Reads the store's gauges (within a second: a database that does not answer makes
    /// `hms_store_up` 0, never a hanging scrape) and encodes everything.
    pub async fn render(&self, store: &dyn Store) -> String {
        match tokio::time::timeout(Duration::from_secs(1), store.gauges(&self.node_id)).await {
            Ok(Ok(gauges)) => {
                let now = PreciseTime::now();
                let age = |then: Option<PreciseTime>| {
                    then.map_or(0.0, |then| ((now.unix_nanos() - then.unix_nanos()).max(0) as f64) / 1e9)
                };
                let int = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
                self.store_up.set(1);
                self.webhook_pending.set(int(gauges.pending_deliveries));
                self.webhook_oldest_pending.set(age(gauges.oldest_pending_delivery));
                self.set_endpoint_ages(
                    gauges
                        .oldest_pending_by_endpoint
                        .iter()
                        .map(|(url, oldest)| (origin(url), age(Some(*oldest)))),
                );
                self.planning_lag.set(age(gauges.oldest_unplanned_event));
                self.live_rooms.set(int(gauges.live_rooms));
                self.live_sessions.set(int(gauges.live_sessions));
                self.live_peers.set(int(gauges.live_peers));
                self.writer_queue.set(int(gauges.writer_queue.unwrap_or(0)));
                for pool in &gauges.pools {
                    let busy = pool.open.saturating_sub(pool.idle);
                    let labels = |state| PoolLabels { pool: pool.pool, state };
                    self.pool_connections
                        .get_or_create(&labels("busy"))
                        .set(i64::from(busy));
                    self.pool_connections
                        .get_or_create(&labels("idle"))
                        .set(i64::from(pool.idle));
                    self.pool_max
                        .get_or_create(&PoolNameLabels { pool: pool.pool })
                        .set(i64::from(pool.max));
                }
            }
            Ok(Err(error)) => {
                tracing::debug!(%error, "metrics could not read the store");
                self.store_up.set(0);
            }
            Err(_) => {
                self.store_up.set(0);
            }
        }
        self.rtc.refresh();
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry).expect("writing to a String succeeds");
        text
    }
}

impl Metrics {
    /// Replaces the series of the endpoints' oldest pending deliveries: endpoints that
    /// caught up leave, so that the series follow the endpoints behind now.
    fn set_endpoint_ages(&self, ages: impl Iterator<Item = (String, f64)>) {
        let mut oldest: HashMap<String, f64> = HashMap::new();
        for (endpoint, age) in ages {
            let entry = oldest.entry(endpoint).or_insert(age);
            *entry = entry.max(age);
        }
        self.webhook_endpoint_oldest_pending.clear();
        for (endpoint, age) in oldest {
            self.webhook_endpoint_oldest_pending
                .get_or_create(&EndpointLabels { endpoint })
                .set(age);
        }
    }
}

/// The origin of a webhook URL (`scheme://host:port`), or `invalid`: the label of its
/// endpoint, without the path or query, which may hold a secret.
fn origin(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(url) if url.has_host() => url.origin().ascii_serialization(),
        _ => "invalid".to_owned(),
    }
}

/// 1 ms to about 16 s, doubling.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

/// The middleware counting every request of the API listener.
pub async fn observe(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let operation = metrics.operation(request.method().as_str(), request.extensions().get::<MatchedPath>());
    let _in_flight = InFlight::enter(&metrics.in_flight);
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    metrics
        .durations
        .get_or_create(&OperationLabels {
            operation: operation.clone(),
        })
        .observe(started.elapsed().as_secs_f64());
    metrics
        .requests
        .get_or_create(&RequestLabels {
            operation,
            status: response.status().as_u16(),
        })
        .inc();
    response
}

/// Counts a request in flight until dropped, also when its client goes away.
struct InFlight(Gauge);

impl InFlight {
    fn enter(gauge: &Gauge) -> Self {
        gauge.inc();
        Self(gauge.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// The router of the metrics listener: `GET /metrics`.
pub fn router(metrics: Arc<Metrics>, store: Arc<dyn Store>) -> axum::Router {
    axum::Router::new()
        .route("/metrics", axum::routing::get(scrape))
        .with_state((metrics, store))
}

async fn scrape(State((metrics, store)): State<(Arc<Metrics>, Arc<dyn Store>)>) -> Response {
    let text = metrics.render(store.as_ref()).await;
    (
        [(
            CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endpoint_is_labelled_by_its_origin_only() {
        assert_eq!(
            origin("https://hooks.example.com/services/T0/B0/SECRET?token=x"),
            "https://hooks.example.com"
        );
        assert_eq!(origin("http://127.0.0.1:9000/hook"), "http://127.0.0.1:9000");
        assert_eq!(origin("not a url"), "invalid");
    }

    #[test]
    fn endpoints_that_caught_up_leave_and_one_origin_keeps_its_oldest() {
        let metrics = Metrics::new("node".to_owned());
        let series = |metrics: &Metrics| {
            let mut text = String::new();
            prometheus_client::encoding::text::encode(&mut text, &metrics.registry).unwrap();
            text.lines()
                .filter(|line| line.starts_with("hms_webhook_endpoint_oldest_pending_delivery_age_seconds{"))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        metrics.set_endpoint_ages([("https://a.test".to_owned(), 2.0), ("https://a.test".to_owned(), 5.0)].into_iter());
        assert_eq!(
            series(&metrics),
            ["hms_webhook_endpoint_oldest_pending_delivery_age_seconds{endpoint=\"https://a.test\"} 5.0"]
        );
        metrics.set_endpoint_ages([("https://b.test".to_owned(), 1.0)].into_iter());
        assert_eq!(
            series(&metrics),
            ["hms_webhook_endpoint_oldest_pending_delivery_age_seconds{endpoint=\"https://b.test\"} 1.0"]
        );
    }
}
