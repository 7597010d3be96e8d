//! `/mcp`: every operation as an MCP tool, over streamable HTTP.
//!
//! A request must carry a management token as Bearer, like every REST call; the tools act
//! in that token's workspace. A tool call is dispatched to the server's own REST router
//! with the caller's `Authorization` header, so that it behaves exactly as the REST call
//! does, errors included.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use hms_api::Operation;
use hms_api::OperationInput;
use hms_mcp::{McpServer, ToolBackend, ToolError, ToolOptions, ToolOutcome, ToolSet, UnknownTools};
use serde_json::Value;

use crate::auth::Caller;
use crate::config::ServerConfig;
use crate::state::AppState;

/// The MCP endpoint, whose tools call `rest` (the server's REST router).
pub fn routes(state: &AppState, rest: Router) -> Router {
    let config = &state.config;
    let tools = ToolSet::new(&tool_options(config)).unwrap_or_else(|error| {
        // `hms serve` refuses such a configuration before it gets here.
        tracing::error!(%error, "mcp_tools names unknown tools: /mcp offers no tool");
        ToolSet::empty()
    });
    let backend = Arc::new(RouterBackend { rest });
    let server = McpServer::new("openhms", tools, backend);
    let service = hms_mcp::http::streamable_http_service(server, &config.mcp_allowed_hosts, config.max_body_bytes);
    Router::new()
        .route_service(hms_mcp::http::MCP_PATH, service)
        .layer(middleware::from_fn_with_state(state.clone(), authenticate))
}

/// The tools `config` offers.
pub fn tool_options(config: &ServerConfig) -> ToolOptions {
    ToolOptions {
        read_only: config.mcp_read_only,
        allow: config.mcp_tools.clone(),
        simulator: config.simulate_peers,
    }
}

/// Checks the MCP settings of `config`: an allow-list may name only tools that exist.
pub fn check_config(config: &ServerConfig) -> Result<(), UnknownTools> {
    ToolSet::new(&tool_options(config)).map(|_| ())
}

/// Refuses a request without a valid management token with the REST API's 401 envelope.
async fn authenticate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    if let Err(error) =
        <Caller as axum::extract::FromRequestParts<AppState>>::from_request_parts(&mut parts, &state).await
    {
        let mut response = error.into_response();
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return response;
    }
    next.run(Request::from_parts(parts, body)).await
}

/// Largest REST answer a tool passes on.
const MAX_ANSWER_BYTES: usize = 64 * 1024 * 1024;

/// Runs a tool call through the REST router, as the caller.
struct RouterBackend {
    rest: Router,
}

#[async_trait::async_trait]
impl ToolBackend for RouterBackend {
    async fn call(&self, op: &'static Operation, input: OperationInput, request: Option<&Parts>) -> ToolOutcome {
        let path = op.fill_path(&input.path).map_err(ToolError::Input)?;
        let pairs = hms_mcp::query_pairs(&input.query);
        let uri = if pairs.is_empty() {
            path
        } else {
            let query = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&pairs)
                .finish();
            format!("{path}?{query}")
        };
        let body = match op.body {
            hms_api::Body::None => None,
            hms_api::Body::Fixed(fixed) => Some(fixed()),
            hms_api::Body::Json(_) => Some(input.body.unwrap_or_else(|| Value::Object(Default::default()))),
        };
        let mut builder = http::Request::builder()
            .method(op.method.as_str())
            .uri(&uri)
            .header(header::ACCEPT, "application/json");
        if let Some(authorization) = request.and_then(|parts| parts.headers.get(header::AUTHORIZATION)) {
            builder = builder.header(header::AUTHORIZATION, authorization);
        }
        let request = match body {
            Some(body) => builder
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string())),
            None => builder.body(Body::empty()),
        }
        .map_err(|error| ToolError::Input(error.to_string()))?;

        let response = super::call_rest(&self.rest, request).await;
        let status = response.status().as_u16();
        tracing::debug!(tool = %op.tool_name(), status, "mcp tool call");
        let bytes = axum::body::to_bytes(response.into_body(), MAX_ANSWER_BYTES)
            .await
            .map_err(|error| ToolError::Unavailable(format!("cannot read the answer: {error}")))?;
        if (200..300).contains(&status) {
            if bytes.is_empty() {
                return Ok(None);
            }
            return serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|error| ToolError::Unavailable(format!("the answer is no JSON: {error}")));
        }
        let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| hms_types::ErrorBody {
            code: status,
            message: String::from_utf8_lossy(&bytes).chars().take(500).collect(),
            details: Vec::new(),
        });
        Err(ToolError::Api { status, body })
    }
}
