//! Safe retries: a management-API `POST` carrying an `Idempotency-Key` header runs at
//! most once per key and workspace. The first request with a key claims it in the store,
//! runs, and stores its response; a request with the same key and the same method, path
//! and body gets that response again, marked with `Idempotent-Replayed: true`, until the
//! key expires (`idempotency_ttl_secs`). Requests arriving while the first still runs wait
//! for its response. The same key with another request is refused with 422.
//!
//! Because claims live in the store, this holds across the nodes of a deployment. A
//! response the server failed to produce (5xx) or refused for load (429) is not stored:
//! the key is given up, and a retry runs the request again.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::header::{CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hms_store::{ClaimOutcome, IdempotencyClaim, Store, StoredResponse};
use hms_types::Timestamp;
use sha2::{Digest, Sha256};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
/// Set on a response that was stored for an earlier request with the same key.
pub const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");
/// The longest key accepted, in bytes.
pub const MAX_KEY_LEN: usize = 255;
/// How long a claim holds while its request runs; a claim left by a node that died is
/// taken over after it.
const CLAIM_LEASE: Duration = Duration::from_secs(60);
/// How long a request waits for a concurrent one with the same key before giving up (409).
const WAIT_FOR_FIRST: Duration = Duration::from_secs(30);
/// The largest response stored; POST responses are far smaller.
const MAX_STORED_RESPONSE: usize = 4 * 1024 * 1024;

/// The middleware: passes every request through, but management-API POSTs with a key.
pub async fn layer(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if request.method() != Method::POST
        || !request.headers().contains_key(&IDEMPOTENCY_KEY)
        || !applies_to(request.uri().path())
    {
        return next.run(request).await;
    }
    match idempotent(state, request, next).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

/// The management API: everything under `/v2/` but the unauthenticated code exchange.
fn applies_to(path: &str) -> bool {
    path.starts_with("/v2/") && path != "/v2/token"
}

async fn idempotent(state: AppState, request: Request, next: Next) -> Result<Response, ApiError> {
    let key = parse_key(request.headers().get(&IDEMPOTENCY_KEY))?;
    let (mut parts, body) = request.into_parts();
    let caller = Caller::from_request_parts(&mut parts, &state).await?;
    let bytes = crate::extract::read_body(body, state.config.max_body_bytes).await?;
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    let fingerprint = fingerprint(parts.method.as_str(), &path, &bytes);
    let workspace_id = caller.workspace_id().to_owned();
    let claim_id = crate::ids::uuid();
    let ttl = state.config.idempotency_ttl();
    let started = tokio::time::Instant::now();
    let mut pause = Duration::from_millis(20);
    loop {
        let now = Timestamp::now();
        let claim = IdempotencyClaim {
            workspace_id: workspace_id.clone(),
            key: key.clone(),
            fingerprint: fingerprint.clone(),
            claim: claim_id.clone(),
            now,
            locked_until: later(now, CLAIM_LEASE),
            expires_at: later(now, ttl),
        };
        match state.store.claim_idempotency_key(&claim).await? {
            ClaimOutcome::Claimed => {
                let request = Request::from_parts(parts, Body::from(bytes));
                // Run to the end even if the client goes away: its retry gets the response.
                let store = state.store.clone();
                return tokio::spawn(run_claimed(store, claim, request, next))
                    .await
                    .map_err(|_| ApiError::internal());
            }
            ClaimOutcome::Taken {
                fingerprint: theirs, ..
            } if theirs != fingerprint => {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "Idempotency-Key reused for a different request",
                )
                .with_detail(format!(
                    "the key `{key}` was first used with another method, path or body; send a new key for a new request"
                )));
            }
            ClaimOutcome::Taken {
                response: Some(stored), ..
            } => return Ok(replay(stored)),
            ClaimOutcome::Taken { response: None, .. } => {
                if started.elapsed() >= WAIT_FOR_FIRST {
                    let mut response = ApiError::conflict("Request in progress")
                        .with_detail(format!(
                            "a request with the Idempotency-Key `{key}` is still running; retry later"
                        ))
                        .into_response();
                    response
                        .headers_mut()
                        .insert(RETRY_AFTER, HeaderValue::from_static("1"));
                    return Ok(response);
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(250));
            }
        }
    }
}

/// Runs the request that holds the claim, then stores its response or gives the key up.
async fn run_claimed(
    store: std::sync::Arc<dyn Store>,
    claim: IdempotencyClaim,
    request: Request,
    next: Next,
) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
        if let Err(error) = store
            .release_idempotency_key(&claim.workspace_id, &claim.key, &claim.claim)
            .await
        {
            tracing::warn!(%error, "could not give up an idempotency key");
        }
        return response;
    }
    let (parts, body) = response.into_parts();
    let body = match axum::body::to_bytes(body, MAX_STORED_RESPONSE).await {
        Ok(body) => body,
        Err(_) => {
            let _ = store
                .release_idempotency_key(&claim.workspace_id, &claim.key, &claim.claim)
                .await;
            return ApiError::internal().into_response();
        }
    };
    let stored = StoredResponse {
        status: status.as_u16(),
        content_type: parts
            .headers
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned),
        body: body.to_vec(),
    };
    match store
        .finish_idempotency_key(&claim.workspace_id, &claim.key, &claim.claim, &stored)
        .await
    {
        Ok(true) => {}
        Ok(false) => tracing::warn!("an idempotency claim expired before its request finished"),
        Err(error) => tracing::warn!(%error, "could not store the response of an idempotent request"),
    }
    Response::from_parts(parts, Body::from(body))
}

fn replay(stored: StoredResponse) -> Response {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let mut response = (status, stored.body).into_response();
    let headers = response.headers_mut();
    headers.remove(CONTENT_TYPE);
    if let Some(value) = stored.content_type.and_then(|c| HeaderValue::from_str(&c).ok()) {
        headers.insert(CONTENT_TYPE, value);
    }
    headers.insert(REPLAYED, HeaderValue::from_static("true"));
    response
}

/// A key is 1 to 255 visible ASCII characters.
fn parse_key(value: Option<&HeaderValue>) -> Result<String, ApiError> {
    let invalid = || {
        ApiError::bad_request("Invalid Idempotency-Key header").with_detail(format!(
            "the key must be 1 to {MAX_KEY_LEN} visible ASCII characters, such as a UUID"
        ))
    };
    let bytes = value.map(HeaderValue::as_bytes).unwrap_or_default();
    if bytes.is_empty() || bytes.len() > MAX_KEY_LEN || !bytes.iter().all(|b| b.is_ascii_graphic()) {
        return Err(invalid());
    }
    String::from_utf8(bytes.to_vec()).map_err(|_| invalid())
}

/// SHA-256 of the method, the path with its query and the body, in hex.
fn fingerprint(method: &str, path: &str, body: &[u8]) -> String {
    let mut hash = Sha256::new();
    hash.update(method.as_bytes());
    hash.update(b"\n");
    hash.update(path.as_bytes());
    hash.update(b"\n");
    hash.update(body);
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn later(now: Timestamp, by: Duration) -> Timestamp {
    Timestamp::from_unix_millis(
        now.unix_millis()
            .saturating_add(i64::try_from(by.as_millis()).unwrap_or(i64::MAX)),
    )
}

/// Deletes expired keys now and then, a batch at a time.
pub async fn purge_expired(store: std::sync::Arc<dyn Store>) {
    const BATCH: u32 = 1000;
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        loop {
            match store.purge_idempotency_keys(Timestamp::now(), BATCH).await {
                Ok(purged) if purged == u64::from(BATCH) => tokio::task::yield_now().await,
                Ok(_) => break,
                Err(error) => {
                    tracing::warn!(%error, "could not purge expired idempotency keys");
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_visible_ascii_of_bounded_length() {
        let parse = |text: &str| parse_key(Some(&HeaderValue::from_str(text).unwrap()));
        assert_eq!(parse("a-key_1").unwrap(), "a-key_1");
        assert!(parse("").is_err());
        assert!(parse("has space").is_err());
        assert!(parse(&"k".repeat(MAX_KEY_LEN)).is_ok());
        assert!(parse(&"k".repeat(MAX_KEY_LEN + 1)).is_err());
        assert!(parse_key(None).is_err());
    }

    #[test]
    fn the_fingerprint_covers_method_path_and_body() {
        let base = fingerprint("POST", "/v2/rooms", b"{}");
        assert_eq!(base, fingerprint("POST", "/v2/rooms", b"{}"));
        assert_ne!(base, fingerprint("POST", "/v2/rooms/x", b"{}"));
        assert_ne!(base, fingerprint("POST", "/v2/rooms", b"{ }"));
        assert_eq!(base.len(), 64);
    }
}
