//! Request rate limits: per workspace on the management API, per client address on the
//! endpoints that need no credentials (the room-code exchange `/v2/token` and `/init`,
//! each layered with [`per_client`]). Each is a token bucket per key: `per_sec`
//! requests a second on average, bursts of up to `burst`. Past it, 429 with `Retry-After`
//! and the error envelope.
//!
//! Buckets live in the memory of each node: a deployment of N nodes behind a balancer
//! admits up to N times the rate in all. Sharing them would cost a database round trip
//! per request, which is what the limits protect.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use std::sync::Arc;

use axum::Extension;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::state::AppState;

/// How many requests a key may make: `per_sec` on average, `burst` at once. A rate of
/// zero is no limit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub per_sec: f64,
    pub burst: f64,
}

impl Rate {
    pub fn new(per_sec: f64, burst: u32) -> Self {
        Self {
            per_sec,
            burst: f64::from(burst.max(1)),
        }
    }

    pub fn is_off(&self) -> bool {
        self.per_sec <= 0.0
    }
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// A token bucket per key, in memory. Keys whose bucket refilled are forgotten from time
/// to time, so that memory follows the keys active in the last few seconds, not every
/// key ever seen.
pub struct RateLimiter<K> {
    rate: Rate,
    buckets: Mutex<HashMap<K, Bucket>>,
}

/// Keys held before full buckets are swept out.
const SWEEP_ABOVE: usize = 10_000;

impl<K: Hash + Eq + Clone> RateLimiter<K> {
    pub fn new(rate: Rate) -> Self {
        Self {
            rate,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request for `key` at `now`: `Err(wait)` when it must wait that long.
    pub fn check(&self, key: &K, now: Instant) -> Result<(), Duration> {
        if self.rate.is_off() {
            return Ok(());
        }
        let Rate { per_sec, burst } = self.rate;
        let mut buckets = self.buckets.lock().expect("limiter lock");
        if buckets.len() >= SWEEP_ABOVE && !buckets.contains_key(key) {
            buckets.retain(|_, bucket| bucket.tokens + now.duration_since(bucket.at).as_secs_f64() * per_sec < burst);
        }
        let bucket = buckets.entry(key.clone()).or_insert(Bucket { tokens: burst, at: now });
        let refilled = bucket.tokens + now.saturating_duration_since(bucket.at).as_secs_f64() * per_sec;
        bucket.tokens = refilled.min(burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / per_sec))
        }
    }

    pub fn is_off(&self) -> bool {
        self.rate.is_off()
    }

    /// Keys held now.
    #[cfg(test)]
    pub fn keys(&self) -> usize {
        self.buckets.lock().expect("limiter lock").len()
    }
}

/// The limits of a server.
pub struct Limits {
    pub workspaces: RateLimiter<String>,
    pub clients: RateLimiter<IpAddr>,
    /// A header naming the client's address (set by a trusted proxy in front), whose
    /// last value is used instead of the connection's peer address.
    pub client_address_header: Option<axum::http::HeaderName>,
    /// Where refusals are counted.
    metrics: Arc<Metrics>,
}

impl Limits {
    pub fn new(config: &crate::config::ServerConfig, metrics: Arc<Metrics>) -> Self {
        Self {
            metrics,
            workspaces: RateLimiter::new(Rate::new(
                config.rate_limit_workspace_per_sec,
                config.rate_limit_workspace_burst,
            )),
            clients: RateLimiter::new(Rate::new(
                config.rate_limit_client_per_sec,
                config.rate_limit_client_burst,
            )),
            client_address_header: config
                .client_address_header
                .as_deref()
                .and_then(|name| axum::http::HeaderName::try_from(name).ok()),
        }
    }

    /// The address a request comes from: the configured header's last value, else the
    /// connection's peer.
    pub fn client_address(&self, headers: &HeaderMap, peer: Option<SocketAddr>) -> Option<IpAddr> {
        if let Some(header) = &self.client_address_header {
            let forwarded = headers
                .get_all(header)
                .iter()
                .filter_map(|value| value.to_str().ok())
                .flat_map(|value| value.split(','))
                .filter_map(|item| item.trim().parse::<IpAddr>().ok())
                .next_back();
            if forwarded.is_some() {
                return forwarded;
            }
        }
        peer.map(|peer| peer.ip())
    }
}

/// 429 with `Retry-After` (whole seconds, at least 1) and the envelope.
pub fn too_many_requests(detail: String, wait: Duration) -> Response {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let mut response = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "Too many requests")
        .with_detail(detail)
        .with_detail(format!("retry after {} s", seconds.max(1)))
        .into_response();
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(seconds.max(1)));
    response
}

/// The middleware limiting each workspace's rate on the management API (requests with a
/// valid management token); the others pass to their handlers, which refuse them.
pub async fn limit_workspaces(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if state.limits.workspaces.is_off() || !path.starts_with("/v2/") || path == "/v2/token" {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    if let Ok(caller) = Caller::from_request_parts(&mut parts, &state).await
        && let Err(wait) = state
            .limits
            .workspaces
            .check(&caller.workspace_id().to_owned(), Instant::now())
    {
        state.limits.metrics.limited("rate_workspace");
        let rate = state.config.rate_limit_workspace_per_sec;
        return too_many_requests(format!("this workspace may make {rate} requests per second"), wait);
    }
    next.run(Request::from_parts(parts, body)).await
}

/// The middleware limiting each client address's rate, for the routes that need no
/// credentials: `route_layer(from_fn(limit_clients))` on them, inside their CORS layer so
/// that browsers can read the 429. It needs no state where routes are built: the server's
/// [`Limits`] come in each request's extensions, put there by [`provide`].
pub async fn limit_clients(Extension(limits): Extension<Arc<Limits>>, request: Request, next: Next) -> Response {
    if limits.clients.is_off() {
        return next.run(request).await;
    }
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|info| info.0);
    if let Some(address) = limits.client_address(request.headers(), peer)
        && let Err(wait) = limits.clients.check(&address, Instant::now())
    {
        limits.metrics.limited("rate_client");
        let rate = limits.clients.rate.per_sec;
        return too_many_requests(
            format!("one client address may make {rate} such requests per second"),
            wait,
        );
    }
    next.run(request).await
}

/// The layer that hands every request the server's limits, for [`limit_clients`].
pub fn provide(limits: Arc<Limits>) -> Extension<Arc<Limits>> {
    Extension(limits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_admits_its_burst_then_its_rate() {
        let limiter = RateLimiter::new(Rate::new(2.0, 3));
        let start = Instant::now();
        for _ in 0..3 {
            assert!(limiter.check(&"a", start).is_ok());
        }
        let wait = limiter.check(&"a", start).unwrap_err();
        assert_eq!(wait, Duration::from_millis(500));
        assert!(limiter.check(&"b", start).is_ok(), "keys are independent");
        assert!(limiter.check(&"a", start + Duration::from_millis(500)).is_ok());
        assert!(limiter.check(&"a", start + Duration::from_millis(500)).is_err());
    }

    #[test]
    fn a_zero_rate_is_no_limit() {
        let limiter = RateLimiter::new(Rate::new(0.0, 1));
        let now = Instant::now();
        assert!((0..100).all(|_| limiter.check(&1, now).is_ok()));
        assert_eq!(limiter.keys(), 0);
    }

    #[test]
    fn full_buckets_are_forgotten_when_many_keys_are_held() {
        let limiter = RateLimiter::new(Rate::new(1000.0, 1));
        let start = Instant::now();
        for key in 0..SWEEP_ABOVE {
            limiter.check(&key, start).unwrap();
        }
        assert_eq!(limiter.keys(), SWEEP_ABOVE);
        // A second later every bucket refilled: a new key sweeps them out.
        limiter.check(&usize::MAX, start + Duration::from_secs(1)).unwrap();
        assert_eq!(limiter.keys(), 1);
    }
}
