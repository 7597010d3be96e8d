use std::sync::Arc;

use hms_store::Store;

use crate::auth::CredentialCache;
use crate::config::ServerConfig;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub credentials: Arc<CredentialCache>,
    pub config: Arc<ServerConfig>,
}
