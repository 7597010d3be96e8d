use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use hms_store::{DatabaseUrl, Durability, StoreLocation};
use serde::{Deserialize, Serialize};

/// Everything `hms serve` can be told. Read from flags, environment and a config file
/// by the binary; the defaults are what a developer wants on their own machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Address of the Prometheus metrics listener (`/metrics`); none serves no metrics.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_listen: Option<SocketAddr>,
    /// Directory of the embedded database, and of this node's identity (each node of a
    /// deployment has its own).
    pub data_dir: PathBuf,
    /// A PostgreSQL database (`postgres://…`) shared by every node of a deployment, used
    /// instead of the embedded database.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<DatabaseUrl>,
    /// What a commit must survive.
    pub durability: Durability,
    /// Longest management-token lifetime accepted, in seconds.
    pub max_token_lifetime_secs: i64,
    /// Clock skew tolerated on `exp` and `nbf`, in seconds.
    pub token_leeway_secs: i64,
    /// Lifetime of app tokens handed out by the room-code exchange, in seconds.
    pub app_token_validity_secs: i64,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// How often a server checks whether workspaces or secrets changed, in milliseconds.
    pub credentials_refresh_ms: u64,
    /// A node silent for this long is taken for gone, and the peers that joined through it
    /// are removed by the other nodes, in milliseconds. Nodes send a heartbeat six times
    /// as often.
    pub node_timeout_ms: u64,
    /// Serve the peer simulator under `/v2/simulate`.
    pub simulate_peers: bool,
    /// Host names (or `host:port`) the MCP endpoint answers to besides the loopback names,
    /// which it always answers to: the deployment's own hostnames. `*` allows any host.
    /// A list, or one comma-separated string (as in `HMS_MCP_ALLOWED_HOSTS`).
    #[serde(deserialize_with = "list_or_commas")]
    pub mcp_allowed_hosts: Vec<String>,
    /// Offer only the MCP tools that only read.
    pub mcp_read_only: bool,
    /// Offer only these MCP tools (such as `hms-list-rooms`); empty offers all. A list, or
    /// one comma-separated string.
    #[serde(deserialize_with = "list_or_commas")]
    pub mcp_tools: Vec<String>,
    /// How long an `Idempotency-Key` answers its stored response, in seconds.
    pub idempotency_ttl_secs: u64,
    /// Management-API requests a workspace may make per second, on average, on each node;
    /// 0 is no limit.
    pub rate_limit_workspace_per_sec: f64,
    /// Requests a workspace may make at once, beyond its rate.
    pub rate_limit_workspace_burst: u32,
    /// Requests to the endpoints without credentials (`/v2/token`) one client address
    /// may make per second, on average, on each node; 0 is no limit.
    pub rate_limit_client_per_sec: f64,
    /// Such requests one client address may make at once, beyond its rate.
    pub rate_limit_client_burst: u32,
    /// A header set by a trusted proxy in front of the server, whose last address is
    /// the client's (such as `X-Forwarded-For`); without it, the connection's peer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_address_header: Option<String>,
    /// Requests handled at once; past it, requests are refused at once with 503.
    pub max_requests_in_flight: usize,
    /// Time limit of a whole request, body and handling, in milliseconds (503 past it).
    pub request_timeout_ms: u64,
    /// Time limit for receiving a request's body, in milliseconds (408 past it).
    pub body_read_timeout_ms: u64,
    /// Time limit for receiving a request's headers, also between the requests of a
    /// kept-alive connection, in milliseconds; past it the connection is closed.
    pub header_read_timeout_ms: u64,
    /// Connections open at once; past it, new connections wait to be accepted.
    pub max_connections: usize,
    /// Serve the web console under `/dashboard` (and send browsers opening `/` there).
    pub dashboard: bool,
    /// How long a dashboard sign-in lasts, in seconds.
    pub dashboard_session_secs: u64,
    /// Failed dashboard sign-ins allowed per client address and minute.
    pub dashboard_sign_in_limit: u32,
    /// Webhook delivery (`[webhooks]` in the file).
    pub webhooks: WebhookConfig,
    /// A PEM certificate chain to serve HTTPS with, with `tls_key`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of `tls_cert`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<PathBuf>,
    /// Serve HTTPS with a certificate made once for this machine and kept in the data dir.
    pub tls_self_signed: bool,
    /// Names the self-signed certificate is made for besides `localhost`, `127.0.0.1`
    /// and `::1`. A list, or one comma-separated string.
    #[serde(deserialize_with = "list_or_commas")]
    pub tls_names: Vec<String>,
    /// The origin clients reach this node at (`https://meet.example.com`), when it is not
    /// the address they asked for, such as behind a reverse proxy that terminates TLS.
    /// `/init` sends clients to this origin's signalling socket.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<url::Url>,
    /// The real-time plane (`[rtc]` in the file).
    pub rtc: RtcConfig,
}

/// How real peers connect: WebRTC over one UDP port, and the ICE servers clients get.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RtcConfig {
    /// The UDP port every peer connection of this node uses; 0 picks a free one.
    pub udp_port: u16,
    /// Addresses announced to clients as this node's ICE candidates; by default the
    /// listener's address (or, listening on every interface, the main interface's).
    pub announce_ips: Vec<std::net::IpAddr>,
    /// STUN and TURN servers for clients (`[[rtc.ice_servers]]`: `urls`, `username`,
    /// `credential`), such as a coturn for clients behind strict firewalls.
    pub ice_servers: Vec<hms_types::signal::IceServer>,
    /// How long a peer whose signalling socket dropped is kept for it to reconnect, in
    /// milliseconds (the web SDK retries for 60 s).
    pub reconnect_window_ms: u64,
}

impl Default for RtcConfig {
    fn default() -> Self {
        Self {
            udp_port: 0,
            announce_ips: Vec::new(),
            ice_servers: Vec::new(),
            reconnect_window_ms: 60_000,
        }
    }
}

impl RtcConfig {
    pub fn reconnect_window(&self) -> Duration {
        Duration::from_millis(self.reconnect_window_ms)
    }
}

/// How webhooks are delivered, and the workspace-level endpoints set from the file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookConfig {
    /// Delays before the first retries, in milliseconds: 100ms's own schedule.
    pub retry_schedule_ms: Vec<u64>,
    /// After the schedule, the delay doubles up to this, in milliseconds.
    pub max_backoff_ms: u64,
    /// How long a failing delivery is retried before it is marked failed, in seconds.
    pub retry_window_secs: u64,
    /// Time limit of one attempt, in milliseconds.
    pub timeout_ms: u64,
    /// Attempts in flight to one endpoint at once.
    pub per_endpoint_concurrency: usize,
    /// Attempts in flight in all.
    pub max_in_flight: usize,
    /// How often the dispatcher looks for new events and due retries, in milliseconds.
    pub poll_ms: u64,
    /// Replayed events sent per second, per replay.
    pub replay_per_sec: u32,
    /// Workspace-level endpoints (`[[webhooks.workspaces]]`), applied at start.
    pub workspaces: Vec<WorkspaceWebhookConfig>,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            retry_schedule_ms: vec![1_000, 3_000, 10_000],
            max_backoff_ms: 3_600_000,
            retry_window_secs: 24 * 3600,
            timeout_ms: 10_000,
            per_endpoint_concurrency: 4,
            max_in_flight: 64,
            poll_ms: 100,
            replay_per_sec: 10,
            workspaces: Vec::new(),
        }
    }
}

/// A workspace's webhook as the config file sets it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceWebhookConfig {
    /// The workspace's name.
    pub workspace: String,
    pub url: String,
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    pub signing_secret: Option<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            metrics_listen: None,
            data_dir: PathBuf::from("./hms-data"),
            database_url: None,
            durability: Durability::default(),
            max_token_lifetime_secs: hms_auth::VerifyPolicy::DEFAULT_MAX_LIFETIME_SECS,
            token_leeway_secs: hms_auth::VerifyPolicy::DEFAULT_LEEWAY_SECS,
            app_token_validity_secs: 24 * 3600,
            max_body_bytes: 1024 * 1024,
            credentials_refresh_ms: 1000,
            node_timeout_ms: 30_000,
            simulate_peers: false,
            mcp_allowed_hosts: Vec::new(),
            mcp_read_only: false,
            mcp_tools: Vec::new(),
            idempotency_ttl_secs: 24 * 3600,
            rate_limit_workspace_per_sec: 0.0,
            rate_limit_workspace_burst: 100,
            rate_limit_client_per_sec: 0.0,
            rate_limit_client_burst: 20,
            client_address_header: None,
            max_requests_in_flight: 1024,
            request_timeout_ms: 30_000,
            body_read_timeout_ms: 10_000,
            header_read_timeout_ms: 10_000,
            max_connections: 4096,
            dashboard: true,
            dashboard_session_secs: 12 * 3600,
            dashboard_sign_in_limit: 10,
            webhooks: WebhookConfig::default(),
            tls_cert: None,
            tls_key: None,
            tls_self_signed: false,
            tls_names: Vec::new(),
            public_url: None,
            rtc: RtcConfig::default(),
        }
    }
}

impl ServerConfig {
    /// Where the server's data lives.
    pub fn store_location(&self) -> StoreLocation {
        StoreLocation::choose(self.database_url.as_ref(), self.data_dir.clone(), self.durability)
    }

    pub fn node_timeout(&self) -> Duration {
        Duration::from_millis(self.node_timeout_ms.max(600))
    }

    pub fn idempotency_ttl(&self) -> Duration {
        Duration::from_secs(self.idempotency_ttl_secs.max(1))
    }

    /// Whether the listener serves HTTPS.
    pub fn serves_tls(&self) -> bool {
        self.tls_self_signed || self.tls_cert.is_some()
    }

    pub fn credentials_refresh(&self) -> Duration {
        Duration::from_millis(self.credentials_refresh_ms.max(50))
    }
}

/// A list of strings, or one string of comma-separated items.
fn list_or_commas<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ListOrCommas {
        List(Vec<String>),
        Commas(String),
    }
    let items = match ListOrCommas::deserialize(deserializer)? {
        ListOrCommas::List(items) => items,
        ListOrCommas::Commas(text) => text.split(',').map(str::to_owned).collect(),
    };
    Ok(items
        .into_iter()
        .map(|item| item.trim().to_owned())
        .filter(|item| !item.is_empty())
        .collect())
}
