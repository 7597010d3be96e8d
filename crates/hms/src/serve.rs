//! `hms serve`: configuration from defaults, a TOML file, `HMS_*` variables and flags, in
//! increasing order of precedence.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use hms_auth::AppSecret;
use hms_server::admin::{self, CreatedWorkspace, InitialCredentials};
use hms_server::{Server, ServerConfig};
use hms_store::Durability;
use serde::Serialize;

use crate::CliError;

#[derive(Args, Serialize)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    listen: Option<SocketAddr>,
    /// Address of the Prometheus metrics listener (/metrics), e.g. 127.0.0.1:9100 [default: none].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    metrics_listen: Option<SocketAddr>,
    /// Directory of the embedded database [default: ./hms-data].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    data_dir: Option<PathBuf>,
    /// PostgreSQL database shared by the nodes of a deployment (postgres://…); without it,
    /// the embedded SQLite database in the data dir.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    database_url: Option<String>,
    /// What an acknowledged write survives: `process` (a crash) or `power` (power loss).
    #[arg(long, value_parser = parse_durability)]
    #[serde(skip_serializing_if = "Option::is_none")]
    durability: Option<Durability>,
    /// Longest management-token lifetime accepted, in seconds [default: 14 days].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    max_token_lifetime_secs: Option<i64>,
    /// Serve the peer simulator under `/v2/simulate` (for tests of your own backend).
    #[arg(long)]
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    simulate_peers: bool,
    /// A host name (or host:port) /mcp answers to besides the loopback names: the
    /// deployment's own; repeat for several, `*` for any.
    #[arg(long = "mcp-allowed-host")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    mcp_allowed_hosts: Vec<String>,
    /// Offer only the MCP tools that only read.
    #[arg(long)]
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    mcp_read_only: bool,
    /// Offer only these MCP tools (comma-separated, such as hms-list-rooms,hms-get-room-codes).
    #[arg(long, value_delimiter = ',')]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    mcp_tools: Vec<String>,
    /// How long an Idempotency-Key answers its stored response, in seconds [default: 86400].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    idempotency_ttl_secs: Option<u64>,
    /// Management-API requests per second each workspace may make on this node; 0 is no
    /// limit [default: 0].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    rate_limit_workspace_per_sec: Option<f64>,
    /// Requests a workspace may make at once beyond its rate [default: 100].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    rate_limit_workspace_burst: Option<u32>,
    /// Requests per second each client address may make to /v2/token on this node; 0 is no
    /// limit [default: 0].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    rate_limit_client_per_sec: Option<f64>,
    /// Such requests a client address may make at once beyond its rate [default: 20].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    rate_limit_client_burst: Option<u32>,
    /// A header a trusted proxy sets to the client's address (its last value is used),
    /// such as X-Forwarded-For [default: the connection's peer].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    client_address_header: Option<String>,
    /// Requests handled at once; past it, 503 at once [default: 1024].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    max_requests_in_flight: Option<usize>,
    /// Time limit of a whole request, in milliseconds [default: 30000].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    request_timeout_ms: Option<u64>,
    /// Time limit for receiving a request body, in milliseconds [default: 10000].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    body_read_timeout_ms: Option<u64>,
    /// Time limit for receiving request headers, in milliseconds [default: 10000].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    header_read_timeout_ms: Option<u64>,
    /// Connections open at once [default: 4096].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    max_connections: Option<usize>,
    /// Serve HTTPS with this PEM certificate chain (with --tls-key).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    tls_key: Option<PathBuf>,
    /// Serve HTTPS with a certificate for localhost made once and kept in the data dir.
    #[arg(long)]
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    tls_self_signed: bool,
    /// A name (host or IP) the self-signed certificate is also for; repeat for several.
    #[arg(long = "tls-name")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tls_names: Vec<String>,
    /// The origin clients reach this node at, when a proxy stands in front (https://…).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    public_url: Option<String>,
    #[command(flatten)]
    #[serde(rename = "rtc", skip_serializing_if = "RtcArgs::is_empty")]
    rtc: RtcArgs,
    /// TOML configuration file (also `HMS_CONFIG`).
    #[arg(long, env = "HMS_CONFIG")]
    #[serde(skip)]
    config: Option<PathBuf>,
    /// Log as JSON lines instead of text.
    #[arg(long, env = "HMS_LOG_JSON")]
    #[serde(skip)]
    log_json: bool,
}

/// The `[rtc]` settings flags can set.
#[derive(Args, Serialize, Default)]
pub struct RtcArgs {
    /// UDP port of every WebRTC connection of this node; 0 picks a free one [default: 0].
    #[arg(long = "rtc-udp-port")]
    #[serde(rename = "udp_port", skip_serializing_if = "Option::is_none")]
    udp_port: Option<u16>,
    /// An address announced to clients for WebRTC; repeat for several [default: the
    /// listener's].
    #[arg(long = "rtc-ip")]
    #[serde(rename = "announce_ips", skip_serializing_if = "Vec::is_empty")]
    announce_ips: Vec<std::net::IpAddr>,
}

impl RtcArgs {
    fn is_empty(&self) -> bool {
        self.udp_port.is_none() && self.announce_ips.is_empty()
    }
}

fn parse_durability(text: &str) -> Result<Durability, String> {
    match text {
        "process" => Ok(Durability::Process),
        "power" => Ok(Durability::Power),
        _ => Err("use `process` or `power`".into()),
    }
}

/// Keys of [`ServerConfig`] that `HMS_<KEY>` variables may set.
const ENV_KEYS: [&str; 34] = [
    "listen",
    "metrics_listen",
    "data_dir",
    "database_url",
    "durability",
    "max_token_lifetime_secs",
    "token_leeway_secs",
    "app_token_validity_secs",
    "max_body_bytes",
    "credentials_refresh_ms",
    "node_timeout_ms",
    "simulate_peers",
    "mcp_allowed_hosts",
    "mcp_read_only",
    "mcp_tools",
    "idempotency_ttl_secs",
    "rate_limit_workspace_per_sec",
    "rate_limit_workspace_burst",
    "rate_limit_client_per_sec",
    "rate_limit_client_burst",
    "client_address_header",
    "max_requests_in_flight",
    "request_timeout_ms",
    "body_read_timeout_ms",
    "header_read_timeout_ms",
    "max_connections",
    "dashboard",
    "dashboard_session_secs",
    "dashboard_sign_in_limit",
    "tls_cert",
    "tls_key",
    "tls_self_signed",
    "tls_names",
    "public_url",
];

/// `HMS_RTC_<KEY>` variables set these keys of `[rtc]`.
const RTC_ENV_KEYS: [&str; 3] = ["udp_port", "announce_ips", "reconnect_window_ms"];

pub async fn run(args: ServeArgs) -> Result<(), CliError> {
    init_logging(args.log_json);
    let config = load_config(&args)?;
    admin::check_mcp_config(&config).map_err(|e| CliError::new(format!("invalid configuration: {e}")))?;
    let dashboard = config.dashboard;
    let server = Server::bind(config, initial_credentials()?, print_first_start)
        .await
        .map_err(CliError::new)?;
    // On stdout so that scripts and tests can learn the port when listening on port 0.
    let url = server.url().map_err(CliError::new)?;
    println!("openhms listening on {url}");
    if let Some(addr) = server.metrics_addr() {
        println!("  metrics:            http://{addr}/metrics");
    }
    print_addresses(&url, dashboard);
    println!("  WebRTC (UDP):       {}", server.rtc_addr());
    if let Some(certificate) = server.certificate() {
        println!("  TLS certificate:    {}", certificate.path.display());
        println!("  SHA-256 fingerprint: {}", certificate.fingerprint());
    }
    let stopping = async {
        shutdown_signal().await;
        tracing::info!("shutting down: finishing requests in flight");
    };
    server.run(stopping).await.map_err(CliError::new)
}

/// Where the dashboard (when served) and the API's documentation are, on the lines after
/// the listening address.
fn print_addresses(base: &str, dashboard: bool) {
    if dashboard {
        println!("  Dashboard:          {base}/dashboard");
    }
    println!("  API docs:           {base}/docs");
    println!("  OpenAPI document:   {base}/openapi.json");
    println!("  Postman collection: {base}/postman.json (set APP_ACCESS_KEY, APP_SECRET and BASE_URL)");
    tracing::info!(
        docs = %format!("{base}/docs"),
        openapi = %format!("{base}/openapi.json"),
        postman = %format!("{base}/postman.json"),
        "API documentation"
    );
}

fn load_config(args: &ServeArgs) -> Result<ServerConfig, CliError> {
    let mut figment = Figment::from(Serialized::defaults(ServerConfig::default()));
    if let Some(path) = &args.config {
        if !path.exists() {
            return Err(CliError::new(format!("config file {} does not exist", path.display())));
        }
        figment = figment.merge(Toml::file(path));
    }
    figment
        .merge(Env::prefixed("HMS_").only(&ENV_KEYS))
        .merge(
            Env::prefixed("HMS_RTC_")
                .only(&RTC_ENV_KEYS)
                .map(|key| format!("rtc.{key}").into()),
        )
        .merge(Serialized::defaults(args))
        .extract()
        .map_err(|error| CliError::new(format!("invalid configuration: {error}")))
}

/// `HMS_ACCESS_KEY` and `HMS_SECRET`, used for the default workspace on first start.
fn initial_credentials() -> Result<Option<InitialCredentials>, CliError> {
    match (std::env::var("HMS_ACCESS_KEY"), std::env::var("HMS_SECRET")) {
        (Ok(access_key), Ok(secret)) if !access_key.is_empty() && !secret.is_empty() => Ok(Some(InitialCredentials {
            access_key,
            secret: AppSecret::new(secret),
        })),
        _ => Ok(None),
    }
}

/// Shown once, like the 100ms dashboard's developer section: the secret is not shown again.
fn print_first_start(created: &CreatedWorkspace) {
    println!(
        "Created workspace `{}` (this is shown only once):",
        created.workspace.name
    );
    println!("  HMS_ACCESS_KEY={}", created.workspace.access_key);
    println!("  HMS_SECRET={}", created.secret.expose());
    println!("  management token (valid 7 days):");
    println!("  {}", created.management_token);
}

fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tower_http=info,sqlx=warn,rmcp=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Resolves on SIGINT or SIGTERM: how `hms serve` and `hms mcp --listen` are told to stop.
pub(crate) async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    let mut terminate =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("can listen for SIGTERM");
    tokio::select! {
        _ = interrupt => {}
        _ = terminate.recv() => {}
    }
}
