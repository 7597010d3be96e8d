//! MCP over streamable HTTP.
//!
//! The service is stateless: every POST carries one JSON-RPC message and is answered on
//! its own with JSON, so that any node of a deployment can answer any request and no
//! session outlives a request. Each request is checked against the allowed hosts (rmcp's
//! defence against DNS rebinding), which always include the loopback names.

use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};

use crate::server::McpServer;

/// The path the MCP endpoint is served at.
pub const MCP_PATH: &str = "/mcp";

/// Hosts that are always allowed: a client on the same machine.
pub const LOOPBACK_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// The streamable-HTTP service of `server`, accepting requests addressed to a loopback
/// name or to one of `allowed_hosts` (host names, or `host:port`); `*` accepts any host.
pub fn streamable_http_service(
    server: McpServer,
    allowed_hosts: &[String],
    max_body_bytes: usize,
) -> StreamableHttpService<McpServer, NeverSessionManager> {
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_sse_keep_alive(None)
        .with_max_request_body_bytes(max_body_bytes);
    let config = if allowed_hosts.iter().any(|host| host.trim() == "*") {
        config.disable_allowed_hosts()
    } else {
        config.with_allowed_hosts(
            LOOPBACK_HOSTS
                .iter()
                .map(|host| (*host).to_owned())
                .chain(allowed_hosts.iter().map(|host| host.trim().to_owned()))
                .filter(|host| !host.is_empty()),
        )
    };
    StreamableHttpService::new(
        move || Ok(server.clone()),
        Arc::new(NeverSessionManager::default()),
        config,
    )
}

/// Who may use an `hms mcp --http` endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientAuth {
    /// Anyone who reaches the address (meant for loopback).
    Open,
    /// Requests must carry `Authorization: Bearer <this>`.
    Bearer(String),
    /// Requests must carry a bearer token, which the backend passes on to the API as the
    /// management token.
    PassThrough,
}

/// A router serving `server` at [`MCP_PATH`], with `auth` checked before MCP sees a
/// request; refusals are the 100ms error envelope with status 401.
pub fn router(server: McpServer, allowed_hosts: &[String], auth: ClientAuth) -> Router {
    let service = streamable_http_service(server, allowed_hosts, 4 * 1024 * 1024);
    let auth = Arc::new(auth);
    Router::new()
        .route_service(MCP_PATH, service)
        .layer(middleware::from_fn(move |request: Request, next: Next| {
            let auth = auth.clone();
            async move {
                match check_client(&auth, &request) {
                    Ok(()) => next.run(request).await,
                    Err((message, detail)) => unauthorized(message, detail),
                }
            }
        }))
}

/// Whether `request` may use the endpoint; the refusal's message and detail otherwise.
fn check_client(auth: &ClientAuth, request: &Request) -> Result<(), (&'static str, &'static str)> {
    let presented = request.headers().get(header::AUTHORIZATION).and_then(|value| {
        let (scheme, token) = value.to_str().ok()?.split_once(' ')?;
        let token = token.trim();
        (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
    });
    match (auth, presented) {
        (ClientAuth::Open, _) | (ClientAuth::PassThrough, Some(_)) => Ok(()),
        (ClientAuth::Bearer(expected), Some(token)) if constant_time_eq(expected.as_bytes(), token.as_bytes()) => {
            Ok(())
        }
        (ClientAuth::Bearer(_), Some(_)) => Err(("Token validation error", "the bearer token is not this server's")),
        (_, None) => Err(("Authentication error", "send `Authorization: Bearer <token>`")),
    }
}

fn unauthorized(message: &str, detail: &str) -> Response {
    let body = hms_types::ErrorBody {
        code: 401,
        message: message.to_owned(),
        details: vec![detail.to_owned()],
    };
    let mut response = (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Serves `router` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router).with_graceful_shutdown(shutdown).await
}
