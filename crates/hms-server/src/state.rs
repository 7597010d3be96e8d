use std::sync::Arc;

use hms_store::Store;

use crate::auth::CredentialCache;
use crate::config::ServerConfig;
use crate::limits::Limits;
use crate::metrics::Metrics;
use crate::runtime::RoomRuntime;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub credentials: Arc<CredentialCache>,
    pub config: Arc<ServerConfig>,
    pub runtime: Arc<RoomRuntime>,
    pub metrics: Arc<Metrics>,
    pub limits: Arc<Limits>,
    pub signal: Arc<crate::signal::Signal>,
}
