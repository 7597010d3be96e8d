//! `hms mcp`: every operation of the API as an MCP tool, for any 100ms-compatible API
//! (openhms or the hosted 100ms), over stdio (desktop agents) or streamable HTTP.
//!
//! Credentials come from `HMS_MANAGEMENT_TOKEN`, or `HMS_ACCESS_KEY` and `HMS_SECRET`
//! (the client then mints and renews its own management tokens).
//!
//! Over HTTP, who may use the endpoint:
//! - with `--require-bearer TOKEN` (or `HMS_MCP_BEARER`): clients that send
//!   `Authorization: Bearer TOKEN`; the tools act with this process's credentials;
//! - without it but with credentials: anyone who reaches the address, so the address must
//!   be a loopback one;
//! - without credentials: each client sends its management token as Bearer, and the tools
//!   act with that token (as openhms's own `/mcp` does).

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::sync::Arc;

use clap::Args;
use hms_client::{Client, Credentials, HOSTED_BASE_URL};
use hms_mcp::http::ClientAuth;
use hms_mcp::{HttpBackend, McpServer, ToolBackend, ToolOptions, ToolSet};

use crate::CliError;

#[derive(Args)]
pub struct McpArgs {
    /// Serve MCP over streamable HTTP at http://LISTEN/mcp instead of stdio.
    #[arg(long)]
    http: bool,
    /// Address to listen on with --http.
    #[arg(long, default_value = "127.0.0.1:9090", requires = "http")]
    listen: SocketAddr,
    /// The API to call: openhms's or the hosted 100ms's, ending in /v2.
    #[arg(long, env = "HMS_BASE_URL", default_value = HOSTED_BASE_URL)]
    base_url: String,
    /// Offer only the tools that only read.
    #[arg(long)]
    read_only: bool,
    /// Offer only these tools (comma-separated, such as hms-list-rooms,hms-get-room-codes).
    #[arg(long, value_delimiter = ',')]
    tools: Vec<String>,
    /// Offer the peer-simulator tools (the API is openhms run with --simulate-peers).
    #[arg(long)]
    simulator: bool,
    /// With --http: a host name (or host:port) clients may address besides the loopback
    /// names; repeat for several, `*` for any.
    #[arg(long = "allowed-host", requires = "http")]
    allowed_hosts: Vec<String>,
    /// With --http: the bearer token clients must send.
    #[arg(long, env = "HMS_MCP_BEARER", requires = "http", hide_env_values = true)]
    require_bearer: Option<String>,
}

pub async fn run(args: McpArgs) -> Result<(), CliError> {
    init_logging();
    let tools = ToolSet::new(&ToolOptions {
        read_only: args.read_only,
        allow: args.tools.clone(),
        simulator: args.simulator,
    })
    .map_err(CliError::new)?;
    let credentials = credentials()?;
    let base_url = match args.base_url.trim().trim_end_matches('/') {
        "" => HOSTED_BASE_URL.to_owned(),
        base_url => base_url.to_owned(),
    };

    if !args.http {
        let credentials = credentials.ok_or_else(|| {
            CliError::new("hms mcp needs credentials: set HMS_MANAGEMENT_TOKEN, or HMS_ACCESS_KEY and HMS_SECRET")
        })?;
        let server = McpServer::new("hms", tools, http_backend(credentials, &base_url)?);
        return hms_mcp::serve_stdio(server).await.map_err(CliError::new);
    }

    let (backend, auth): (Arc<dyn ToolBackend>, ClientAuth) = match (credentials, args.require_bearer) {
        (Some(credentials), Some(bearer)) => (http_backend(credentials, &base_url)?, ClientAuth::Bearer(bearer)),
        (Some(credentials), None) => {
            if !args.listen.ip().is_loopback() {
                return Err(CliError::new(format!(
                    "refusing to offer this process's credentials to anyone who reaches {}: listen on a loopback \
                     address, or set --require-bearer",
                    args.listen
                )));
            }
            (http_backend(credentials, &base_url)?, ClientAuth::Open)
        }
        (None, Some(_)) => {
            return Err(CliError::new(
                "--require-bearer needs credentials of this process: set HMS_MANAGEMENT_TOKEN, or HMS_ACCESS_KEY \
                 and HMS_SECRET (without them, clients send their own management token as Bearer)",
            ));
        }
        (None, None) => (
            Arc::new(HttpBackend::pass_through(base_url.clone())),
            ClientAuth::PassThrough,
        ),
    };
    let server = McpServer::new("hms", tools, backend);
    let router = hms_mcp::http::router(server, &args.allowed_hosts, auth);
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|error| CliError::new(format!("cannot listen on {}: {error}", args.listen)))?;
    let addr = listener.local_addr().map_err(CliError::new)?;
    // On stdout so that scripts and tests can learn the port when listening on port 0.
    println!(
        "hms mcp listening on http://{addr}{} (calling {base_url})",
        hms_mcp::http::MCP_PATH
    );
    hms_mcp::http::serve(listener, router, crate::serve::shutdown_signal())
        .await
        .map_err(CliError::new)
}

/// `HMS_MANAGEMENT_TOKEN`, or `HMS_ACCESS_KEY` and `HMS_SECRET`; none when neither is set.
fn credentials() -> Result<Option<Credentials>, CliError> {
    let var = |name: &str| std::env::var(name).ok().filter(|value| !value.trim().is_empty());
    match (var("HMS_MANAGEMENT_TOKEN"), var("HMS_ACCESS_KEY"), var("HMS_SECRET")) {
        (Some(token), _, _) => Ok(Some(Credentials::token(token.trim()))),
        (None, Some(access_key), Some(secret)) => Ok(Some(Credentials::key_and_secret(access_key, secret))),
        (None, Some(_), None) => Err(CliError::new("HMS_ACCESS_KEY is set but HMS_SECRET is not")),
        (None, None, Some(_)) => Err(CliError::new("HMS_SECRET is set but HMS_ACCESS_KEY is not")),
        (None, None, None) => Ok(None),
    }
}

fn http_backend(credentials: Credentials, base_url: &str) -> Result<Arc<dyn ToolBackend>, CliError> {
    let client = Client::builder(credentials)
        .base_url(base_url)
        .build()
        .map_err(CliError::new)?;
    Ok(Arc::new(HttpBackend::new(client)))
}

/// Logs on stderr: stdout carries the MCP messages over stdio.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
}
