//! Bounded work: at most `max_requests_in_flight` requests are handled at once, and past
//! it a request is refused at once with 503 and `Retry-After` rather than queued; a
//! request's body must arrive within `body_read_timeout_ms` (408), and the whole request,
//! body and handling, must be done within `request_timeout_ms` (503). With the cap on
//! connections and the body size limit, this bounds the memory any load can take.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{CONTENT_LENGTH, RETRY_AFTER, TRANSFER_ENCODING};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;

use crate::error::ApiError;
use crate::metrics::Metrics;

pub struct Guard {
    in_flight: Arc<Semaphore>,
    max_in_flight: usize,
    max_body_bytes: usize,
    body_read_timeout: Duration,
    request_timeout: Duration,
    metrics: Arc<Metrics>,
}

impl Guard {
    pub fn new(config: &crate::config::ServerConfig, metrics: Arc<Metrics>) -> Self {
        let max_in_flight = config.max_requests_in_flight.clamp(1, Semaphore::MAX_PERMITS);
        Self {
            in_flight: Arc::new(Semaphore::new(max_in_flight)),
            max_in_flight,
            max_body_bytes: config.max_body_bytes,
            body_read_timeout: Duration::from_millis(config.body_read_timeout_ms.max(1)),
            request_timeout: Duration::from_millis(config.request_timeout_ms.max(1)),
            metrics,
        }
    }
}

/// Wraps the whole API in the guard.
pub fn protect(app: axum::Router, guard: Guard) -> axum::Router {
    app.layer(axum::middleware::from_fn_with_state(Arc::new(guard), guard_request))
}

fn unavailable(message: &str, detail: String) -> Response {
    let mut response = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, message)
        .with_detail(detail)
        .into_response();
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

async fn guard_request(State(guard): State<Arc<Guard>>, request: Request, next: Next) -> Response {
    let Ok(_slot) = guard.in_flight.clone().try_acquire_owned() else {
        guard.metrics.limited("overload");
        return unavailable(
            "Server overloaded",
            format!(
                "more than {} requests are in flight; retry after 1 s",
                guard.max_in_flight
            ),
        );
    };
    let limit = guard.request_timeout;
    match tokio::time::timeout(limit, read_body_then_handle(&guard, request, next)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(limit_ms = limit.as_millis() as u64, "a request ran out of time");
            unavailable(
                "Request timed out",
                format!("the request was not done within {} ms", limit.as_millis()),
            )
        }
    }
}

async fn read_body_then_handle(guard: &Guard, request: Request, next: Next) -> Response {
    let has_body = request.headers().contains_key(TRANSFER_ENCODING)
        || request
            .headers()
            .get(CONTENT_LENGTH)
            .is_some_and(|length| length.as_bytes() != b"0");
    if !has_body {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let limit = guard.body_read_timeout;
    let bytes = match tokio::time::timeout(limit, crate::extract::read_body(body, guard.max_body_bytes)).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(error)) => return error.into_response(),
        Err(_) => {
            return ApiError::new(StatusCode::REQUEST_TIMEOUT, "Request body too slow")
                .with_detail(format!("the body must arrive within {} ms", limit.as_millis()))
                .into_response();
        }
    };
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}
