//! The MCP server: lists the tools and runs a call through a [`ToolBackend`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use hms_api::Operation;
use hms_api::OperationInput;
use hms_types::ErrorBody;
use http::request::Parts;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::{Value, json};

use crate::input::operation_input;
use crate::tools::ToolSet;

/// Why a call failed.
#[derive(Debug, Clone, PartialEq)]
pub enum ToolError {
    /// The API answered with its error envelope.
    Api { status: u16, body: ErrorBody },
    /// The arguments cannot make a request.
    Input(String),
    /// The API could not be reached, or answered something that is not the API's.
    Unavailable(String),
}

impl ToolError {
    /// An API refusal made here, with the envelope the API would answer.
    pub fn api(status: u16, message: impl Into<String>, details: Vec<String>) -> Self {
        ToolError::Api {
            status,
            body: ErrorBody {
                code: status,
                message: message.into(),
                details,
            },
        }
    }
}

impl From<hms_client::Error> for ToolError {
    fn from(error: hms_client::Error) -> Self {
        match error {
            hms_client::Error::Api { status, body } => ToolError::Api { status, body },
            hms_client::Error::Input(message) => ToolError::Input(message),
            other => ToolError::Unavailable(other.to_string()),
        }
    }
}

/// What a tool call answers: the API's JSON (none for 204 No Content), or what went wrong.
pub type ToolOutcome = Result<Option<Value>, ToolError>;

/// Where the calls go: the server's own router (openhms's `/mcp`) or an HTTP API
/// (`hms mcp`).
#[async_trait::async_trait]
pub trait ToolBackend: Send + Sync + 'static {
    /// Runs `op`. `request` is the MCP request's HTTP head when the MCP transport is
    /// HTTP: the backend may act with its credentials.
    async fn call(&self, op: &'static Operation, input: OperationInput, request: Option<&Parts>) -> ToolOutcome;
}

/// Calls a 100ms-compatible API over HTTP (`hms mcp`).
pub struct HttpBackend {
    mode: HttpMode,
}

enum HttpMode {
    /// With the client's own credentials.
    Own(hms_client::Client),
    /// With the bearer token of each MCP request as the management token.
    PassThrough {
        base_url: String,
        clients: Mutex<HashMap<String, hms_client::Client>>,
    },
}

/// How many pass-through clients (one per token) are kept.
const PASS_THROUGH_CLIENTS: usize = 32;

impl HttpBackend {
    /// Acts with `client`'s credentials.
    pub fn new(client: hms_client::Client) -> Self {
        Self {
            mode: HttpMode::Own(client),
        }
    }

    /// Acts with the bearer token of each MCP request (over HTTP) as the management
    /// token of the API at `base_url`.
    pub fn pass_through(base_url: impl Into<String>) -> Self {
        Self {
            mode: HttpMode::PassThrough {
                base_url: base_url.into(),
                clients: Mutex::new(HashMap::new()),
            },
        }
    }

    fn client(&self, request: Option<&Parts>) -> Result<hms_client::Client, ToolError> {
        let (base_url, clients) = match &self.mode {
            HttpMode::Own(client) => return Ok(client.clone()),
            HttpMode::PassThrough { base_url, clients } => (base_url, clients),
        };
        let token = request.and_then(bearer_of).ok_or_else(|| {
            ToolError::api(
                401,
                "Authentication error",
                vec!["send a management token as `Authorization: Bearer <token>`".into()],
            )
        })?;
        let mut clients = clients.lock().expect("client cache lock");
        if let Some(client) = clients.get(token) {
            return Ok(client.clone());
        }
        let client = hms_client::Client::builder(hms_client::Credentials::token(token))
            .base_url(base_url.as_str())
            .build()
            .map_err(ToolError::from)?;
        if clients.len() >= PASS_THROUGH_CLIENTS {
            clients.clear();
        }
        clients.insert(token.to_owned(), client.clone());
        Ok(client)
    }
}

/// The token of the request's `Authorization: Bearer <token>` header.
pub fn bearer_of(request: &Parts) -> Option<&str> {
    let value = request.headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[async_trait::async_trait]
impl ToolBackend for HttpBackend {
    async fn call(&self, op: &'static Operation, input: OperationInput, request: Option<&Parts>) -> ToolOutcome {
        let client = self.client(request)?;
        Ok(client.execute(op, &input).await?)
    }
}

/// The MCP server of a tool set and a backend. Cheap to clone: one per MCP session.
#[derive(Clone)]
pub struct McpServer {
    tools: ToolSet,
    backend: Arc<dyn ToolBackend>,
    name: &'static str,
    instructions: String,
}

impl McpServer {
    /// `name` is the implementation name reported to clients.
    pub fn new(name: &'static str, tools: ToolSet, backend: Arc<dyn ToolBackend>) -> Self {
        let instructions = "Tools for the 100ms server-side REST API v2, acting in one workspace: each tool is one \
                            API operation (rooms, room codes, templates and roles, sessions, active rooms, …) and \
                            answers the API's JSON; an API error is a tool error with the API's message. List \
                            operations page: pass a result's `last` as `start` to get the next page."
            .to_owned();
        Self {
            tools,
            backend,
            name,
            instructions,
        }
    }

    pub fn tools(&self) -> &ToolSet {
        &self.tools
    }

    /// Runs a tool call. Unknown tools are a protocol error; everything that went wrong
    /// in the call itself is a tool error (`isError`) whose text says what.
    pub async fn call(
        &self,
        name: &str,
        arguments: Option<serde_json::Map<String, Value>>,
        request: Option<&Parts>,
    ) -> Result<CallToolResult, ErrorData> {
        let Some(entry) = self.tools.get(name) else {
            return Err(ErrorData::invalid_params(
                format!("unknown tool: {name}"),
                Some(json!({"tool": name})),
            ));
        };
        let input = match operation_input(entry, arguments.unwrap_or_default()) {
            Ok(input) => input,
            Err(message) => return Ok(CallToolResult::error(vec![ContentBlock::text(message)])),
        };
        let result = self.backend.call(entry.op, input, request).await;
        Ok(tool_result(result))
    }
}

/// The API's JSON as text, and as structured content when it is an object (MCP's
/// structured content is an object); errors carry the envelope's message and status.
pub fn tool_result(result: ToolOutcome) -> CallToolResult {
    match result {
        Ok(Some(value)) => {
            let mut result = CallToolResult::success(vec![ContentBlock::text(value.to_string())]);
            if value.is_object() {
                result.structured_content = Some(value);
            }
            result
        }
        Ok(None) => CallToolResult::success(vec![ContentBlock::text("Done (the API answered 204 No Content).")]),
        Err(ToolError::Api { status, body }) => {
            let mut text = format!("{} (HTTP {status})", body.message);
            if !body.details.is_empty() {
                text.push_str(": ");
                text.push_str(&body.details.join("; "));
            }
            let mut result = CallToolResult::error(vec![ContentBlock::text(text)]);
            result.structured_content = Some(json!({
                "status": status,
                "code": body.code,
                "message": body.message,
                "details": body.details,
            }));
            result
        }
        Err(ToolError::Input(message)) => {
            CallToolResult::error(vec![ContentBlock::text(format!("invalid input: {message}"))])
        }
        Err(ToolError::Unavailable(message)) => CallToolResult::error(vec![ContentBlock::text(message)]),
    }
}

impl ServerHandler for McpServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(self.name, env!("CARGO_PKG_VERSION")))
            .with_instructions(self.instructions.clone())
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(self.tools.tools()))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.tools.get(name).map(|entry| entry.tool.clone())
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let parts = context.extensions.get::<Parts>();
        self.call(&request.name, request.arguments, parts)
            .await
            .map(CallToolResponse::from)
    }
}
