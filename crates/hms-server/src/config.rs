use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use hms_store::Durability;
use serde::{Deserialize, Serialize};

/// Everything `hms serve` can be told. Read from flags, environment and a config file
/// by the binary; the defaults are what a developer wants on their own machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Directory of the embedded database.
    pub data_dir: PathBuf,
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
    /// Serve the peer simulator under `/v2/simulate`.
    pub simulate_peers: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./hms-data"),
            durability: Durability::default(),
            max_token_lifetime_secs: hms_auth::VerifyPolicy::DEFAULT_MAX_LIFETIME_SECS,
            token_leeway_secs: hms_auth::VerifyPolicy::DEFAULT_LEEWAY_SECS,
            app_token_validity_secs: 24 * 3600,
            max_body_bytes: 1024 * 1024,
            credentials_refresh_ms: 1000,
            simulate_peers: false,
        }
    }
}

impl ServerConfig {
    pub fn credentials_refresh(&self) -> Duration {
        Duration::from_millis(self.credentials_refresh_ms.max(50))
    }
}
