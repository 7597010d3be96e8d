//! The openhms server: the 100ms v2 REST API and the room-code exchange over HTTP.
//!
//! Requests flow from a handler in [`api`] (HTTP in, HTTP out) to a service in
//! [`service`] (the rules of the API) to the [`hms_store::Store`] (persistence).

pub mod admin;
mod api;
mod auth;
mod config;
mod dashboard;
mod error;
mod extract;
mod idempotency;
mod ids;
mod keyed_lock;
mod limits;
mod listener;
mod metrics;
mod node;
mod overload;
mod retry;
mod rtc_metrics;
mod runtime;
mod service;
mod signal;
mod state;
mod tls;
mod webhooks;

use std::future::Future;
use std::sync::Arc;

use hms_store::Topic;
use node::{Node, NodeError};
use tokio::net::TcpListener;
use tokio::sync::{broadcast, watch};
use webhooks::Dispatcher;

use auth::CredentialCache;
pub use config::ServerConfig;
use runtime::RoomRuntime;
use service::workspaces::{CreatedWorkspace, InitialCredentials, WorkspaceError};
use state::AppState;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot open the store: {0}")]
    Store(#[from] hms_store::StoreError),
    #[error("cannot create the default workspace: {0}")]
    Bootstrap(WorkspaceError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Node(#[from] NodeError),
    #[error("unsupported database URL {0}: use postgres://user:password@host:port/database")]
    UnsupportedDatabase(hms_store::DatabaseUrl),
    #[error("cannot remove the peers of nodes that are gone: {0}")]
    Recovery(runtime::RuntimeError),
    #[error("invalid webhook configuration: {0}")]
    Webhooks(service::webhooks::WebhookError),
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error("cannot open the WebRTC UDP port {addr}: {source}")]
    Rtc {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("server failed: {0}")]
    Io(#[from] std::io::Error),
}

/// A server whose store is open and whose listener is bound, ready to serve.
pub struct Server {
    listener: TcpListener,
    metrics_listener: Option<TcpListener>,
    certificate: Option<tls::Certificate>,
    state: AppState,
    _node: Node,
}

impl Server {
    /// Opens the store (creating the default workspace on first start, reported through
    /// `on_first_start`) and binds the listener.
    pub async fn bind(
        config: ServerConfig,
        initial_credentials: Option<InitialCredentials>,
        on_first_start: impl FnOnce(&CreatedWorkspace),
    ) -> Result<Self, ServeError> {
        // A bad certificate is refused before anything is written.
        let certificate = tls::Certificate::from_config(&config)?;
        let node = Node::claim(&config.data_dir)?;
        if let Some(url) = config.database_url.as_ref().filter(|url| !url.is_postgres()) {
            return Err(ServeError::UnsupportedDatabase(url.clone()));
        }
        let store = config.store_location().open().await?;
        let bootstrapped = service::workspaces::bootstrap(store.as_ref(), initial_credentials)
            .await
            .map_err(ServeError::Bootstrap)?;
        if let Some(created) = bootstrapped {
            on_first_start(&created);
        }
        let credentials = Arc::new(CredentialCache::load(store.as_ref()).await?);
        let runtime = Arc::new(RoomRuntime::new(store.clone(), node.id.clone(), config.node_timeout()));
        let metrics = Arc::new(metrics::Metrics::new(node.id.clone()));
        let removed = runtime.start().await.map_err(ServeError::Recovery)?;
        if removed > 0 {
            tracing::info!(
                peers = removed,
                "removed the peers of a previous run and of nodes that are gone"
            );
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
        let metrics_listener = match config.metrics_listen {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .map_err(|source| ServeError::Listen { addr, source })?,
            ),
            None => None,
        };
        let limits = Arc::new(limits::Limits::new(&config, metrics.clone()));
        let rtc = bind_rtc(&config).await?;
        metrics.watch_rtc(rtc.stats());
        let placement = hms_store::Placement {
            node_id: node.id.clone(),
            url: public_url(&config, listener.local_addr()?, certificate.is_some()),
        };
        let config = Arc::new(config);
        let signal = signal::Signal::start(
            placement,
            runtime.clone(),
            store.clone(),
            credentials.clone(),
            config.clone(),
            rtc,
        );
        let state = AppState {
            store: store.clone(),
            credentials,
            config,
            runtime,
            metrics,
            limits,
            signal,
        };
        Ok(Self {
            listener,
            metrics_listener,
            certificate,
            state,
            _node: node,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.listener.local_addr()
    }

    /// Where `/metrics` is served, if anywhere.
    pub fn metrics_addr(&self) -> Option<std::net::SocketAddr> {
        self.metrics_listener.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// The address clients reach the listener at, with its scheme.
    pub fn url(&self) -> std::io::Result<String> {
        let scheme = if self.certificate.is_some() { "https" } else { "http" };
        Ok(format!("{scheme}://{}", self.local_addr()?))
    }

    /// The certificate served over HTTPS, if any.
    pub fn certificate(&self) -> Option<&tls::Certificate> {
        self.certificate.as_ref()
    }

    /// The UDP address of the node's WebRTC endpoint.
    pub fn rtc_addr(&self) -> std::net::SocketAddr {
        self.state.signal.rtc_addr()
    }

    /// Serves until `shutdown` resolves, then finishes the requests in flight and closes
    /// the store.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), ServeError> {
        let refresher = tokio::spawn(refresh_credentials(self.state.clone()));
        let runtime = self.state.runtime.clone();
        let keeping_alive = tokio::spawn(async move { runtime.keep_alive().await });
        let (store, runtime) = (self.state.store.clone(), self.state.runtime.clone());
        let dispatcher = Arc::new(
            Dispatcher::new(self.state.store.clone(), self.state.config.webhooks.clone())
                .with_metrics(self.state.metrics.clone()),
        );
        let metrics_serving = self.metrics_listener.map(|listener| {
            let app = metrics::router(self.state.metrics.clone(), self.state.store.clone());
            tokio::spawn(async move {
                if let Err(error) = axum::serve(listener, app).await {
                    tracing::error!(%error, "the metrics listener failed");
                }
            })
        });
        let (stop_dispatcher, stopped) = watch::channel(false);
        let dispatching = tokio::spawn(dispatcher.run(stopped));
        let purging = tokio::spawn(idempotency::purge_expired(self.state.store.clone()));
        let guard = overload::Guard::new(&self.state.config, self.state.metrics.clone());
        let limits = listener::ConnectionLimits {
            max_connections: self.state.config.max_connections,
            header_read_timeout: std::time::Duration::from_millis(self.state.config.header_read_timeout_ms.max(1)),
        };
        let app = overload::protect(api::router(self.state), guard);
        tracing::info!(addr = %self.listener.local_addr()?, tls = self.certificate.is_some(), "openhms is serving");
        // The accept loop gives each request its client's address (`ConnectInfo`), which
        // the rate limits and the dashboard's sign-in limit count.
        let transport = match &self.certificate {
            Some(certificate) => listener::Transport::Tls(certificate.acceptor()?),
            None => listener::Transport::Plain,
        };
        listener::serve(self.listener, transport, app, limits, shutdown).await?;
        refresher.abort();
        keeping_alive.abort();
        purging.abort();
        if let Some(serving) = metrics_serving {
            serving.abort();
        }
        let _ = stop_dispatcher.send(true);
        let _ = dispatching.await;
        runtime.stop().await;
        store.close().await;
        tracing::info!("openhms stopped");
        Ok(())
    }
}

/// The node's WebRTC endpoint: its UDP port on the listener's address, announced at the
/// configured addresses, else at the listener's (or, listening on every interface, at the
/// address of the interface that routes outward).
async fn bind_rtc(config: &ServerConfig) -> Result<hms_rtc::Endpoint, ServeError> {
    let bind = std::net::SocketAddr::new(config.listen.ip(), config.rtc.udp_port);
    let announce = if !config.rtc.announce_ips.is_empty() {
        config.rtc.announce_ips.clone()
    } else if !config.listen.ip().is_unspecified() {
        vec![config.listen.ip()]
    } else {
        vec![outward_ip().unwrap_or(std::net::IpAddr::from([127, 0, 0, 1]))]
    };
    hms_rtc::Endpoint::bind(bind, announce)
        .await
        .map_err(|source| ServeError::Rtc { addr: bind, source })
}

/// Where clients reach this node: its public URL, else its listener's address (on the
/// outward interface when it listens on every interface).
fn public_url(config: &ServerConfig, local: std::net::SocketAddr, tls: bool) -> String {
    if let Some(url) = &config.public_url {
        return url.as_str().trim_end_matches('/').to_owned();
    }
    let scheme = if tls { "https" } else { "http" };
    let ip = if local.ip().is_unspecified() {
        outward_ip().unwrap_or(local.ip())
    } else {
        local.ip()
    };
    format!("{scheme}://{}", std::net::SocketAddr::new(ip, local.port()))
}

/// The address of the interface the system routes outward through (no packet is sent:
/// connecting a UDP socket only picks a route).
fn outward_ip() -> Option<std::net::IpAddr> {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("192.0.2.1:9").ok()?;
    Some(socket.local_addr().ok()?.ip())
}

/// Keeps the credential cache in step with the store, whoever changed it: at once on the
/// store's notice, and on a timer in case a notice was lost.
async fn refresh_credentials(state: AppState) {
    let mut notices = state.store.subscribe();
    let mut tick = tokio::time::interval(state.config.credentials_refresh());
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            notice = notices.recv() => match notice {
                Ok(Topic::Credentials) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => notices = state.store.subscribe(),
            },
        }
        if let Err(error) = state.credentials.refresh(state.store.as_ref()).await {
            tracing::warn!(%error, "could not refresh workspace credentials");
        }
    }
}
