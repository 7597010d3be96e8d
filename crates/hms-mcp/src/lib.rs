//! Every operation of the catalogue ([`hms_api::OPERATIONS`]) as an MCP tool.
//!
//! One tool per operation (aliases excepted), named `hms-<operation>`, whose input schema,
//! description and hints are derived from the catalogue. The same [`McpServer`] is served
//! by openhms at `/mcp`, where each call runs through the server's own router with the
//! caller's management token, and by `hms mcp`, which calls any 100ms-compatible API
//! over HTTP ([`HttpBackend`]).

pub mod http;
mod input;
mod server;
mod tools;

pub use input::{operation_input, query_pairs};
pub use server::{HttpBackend, McpServer, ToolBackend, ToolError, ToolOutcome, bearer_of, tool_result};
pub use tools::{
    ToolEntry, ToolOptions, ToolSet, UnknownTools, allow_list, annotations, input_schema, tool_operations,
};

/// Serves `server` over stdio (newline-delimited JSON-RPC on stdin and stdout) until the
/// client closes stdin.
pub async fn serve_stdio(server: McpServer) -> Result<(), std::io::Error> {
    use rmcp::ServiceExt;
    let running = server
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|error| std::io::Error::other(error.to_string()))?;
    running
        .waiting()
        .await
        .map_err(|error| std::io::Error::other(error.to_string()))?;
    Ok(())
}
