//! The openhms server: the 100ms v2 REST API and the room-code exchange over HTTP.
//!
//! Requests flow from a handler in [`api`] (HTTP in, HTTP out) to a service in
//! [`service`] (the rules of the API) to the [`hms_store::Store`] (persistence).

pub mod api;
pub mod auth;
pub mod config;
pub mod error;
pub mod extract;
pub mod ids;
pub mod keyed_lock;
pub mod runtime;
pub mod service;
pub mod state;
pub mod webhooks;

use std::future::Future;
use std::sync::Arc;

use hms_store::{SqliteStore, Store};
use tokio::net::TcpListener;
use tokio::sync::watch;
use webhooks::Dispatcher;

use auth::CredentialCache;
pub use config::ServerConfig;
use runtime::RoomRuntime;
use service::workspaces::{CreatedWorkspace, InitialCredentials};
use state::AppState;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot open the store: {0}")]
    Store(#[from] hms_store::StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot close the sessions left open: {0}")]
    Recovery(runtime::RuntimeError),
    #[error("invalid webhook configuration: {0}")]
    Webhooks(error::ApiError),
    #[error("server failed: {0}")]
    Io(#[from] std::io::Error),
}

/// A server whose store is open and whose listener is bound, ready to serve.
pub struct Server {
    listener: TcpListener,
    state: AppState,
    store: Arc<SqliteStore>,
}

impl Server {
    /// Opens the store (creating the default workspace on first start, reported through
    /// `on_first_start`) and binds the listener.
    pub async fn bind(
        config: ServerConfig,
        initial_credentials: Option<InitialCredentials>,
        on_first_start: impl FnOnce(&CreatedWorkspace),
    ) -> Result<Self, ServeError> {
        let store = Arc::new(SqliteStore::open(&config.data_dir, config.durability).await?);
        if let Some(created) = service::workspaces::bootstrap(store.as_ref(), initial_credentials).await? {
            on_first_start(&created);
        }
        let credentials = Arc::new(CredentialCache::load(store.as_ref()).await?);
        let runtime = Arc::new(RoomRuntime::new(store.clone()));
        let closed = runtime.recover().await.map_err(ServeError::Recovery)?;
        if closed > 0 {
            tracing::info!(sessions = closed, "closed the sessions a previous run left open");
        }
        service::webhooks::apply_config(store.as_ref(), &config.webhooks.workspaces)
            .await
            .map_err(ServeError::Webhooks)?;
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|source| ServeError::Listen {
                addr: config.listen,
                source,
            })?;
        let state = AppState {
            store: store.clone(),
            credentials,
            config: Arc::new(config),
            runtime,
        };
        Ok(Self { listener, state, store })
    }

    pub fn local_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` resolves, then finishes the requests in flight and closes
    /// the store.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), ServeError> {
        let refresher = tokio::spawn(refresh_credentials(self.state.clone()));
        let dispatcher = Arc::new(Dispatcher::new(
            self.state.store.clone(),
            self.state.config.webhooks.clone(),
        ));
        let (stop_dispatcher, stopped) = watch::channel(false);
        let dispatching = tokio::spawn(dispatcher.run(stopped));
        let app = api::router(self.state);
        tracing::info!(addr = %self.listener.local_addr()?, "openhms is serving");
        axum::serve(self.listener, app).with_graceful_shutdown(shutdown).await?;
        refresher.abort();
        let _ = stop_dispatcher.send(true);
        let _ = dispatching.await;
        self.store.close().await;
        tracing::info!("openhms stopped");
        Ok(())
    }
}

/// Keeps the credential cache in step with the store, whoever changed it.
async fn refresh_credentials(state: AppState) {
    let mut tick = tokio::time::interval(state.config.credentials_refresh());
    loop {
        tick.tick().await;
        if let Err(error) = state.credentials.refresh(state.store.as_ref() as &dyn Store).await {
            tracing::warn!(%error, "could not refresh workspace credentials");
        }
    }
}
