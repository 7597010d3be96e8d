//! The API's accept loop, over plain TCP or TLS: a cap on open connections (a connection
//! counts from the moment it is accepted, its TLS handshake included, so that a flood of
//! half-open handshakes meets the cap as plain connections do), a time limit for the TLS
//! handshake and one for reading a request's headers (a client sending either byte by byte
//! cannot hold a connection), and graceful shutdown that lets the requests in flight
//! finish.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::rt::{Read, Write};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

/// How the listener protects itself.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Connections open at once, TLS handshakes under way included; past it, new ones
    /// wait in the kernel's backlog.
    pub max_connections: usize,
    /// Time to finish a TLS handshake, and then to receive a request's headers (also
    /// between requests of a kept-alive connection); past either the connection is closed.
    pub header_read_timeout: Duration,
}

/// What a connection speaks once accepted: HTTP at once, or HTTP inside TLS.
#[derive(Clone)]
pub enum Transport {
    Plain,
    Tls(TlsAcceptor),
}

/// Serves `app` on `listener` until `shutdown` resolves, then stops accepting, lets each
/// connection finish its request in flight, and returns once all are closed.
pub async fn serve(
    listener: TcpListener,
    transport: Transport,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let max = limits
        .max_connections
        .clamp(1, Semaphore::MAX_PERMITS.min(u32::MAX as usize));
    let permits = Arc::new(Semaphore::new(max));
    let (stop, stopping) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            _ = &mut shutdown => break,
            permit = permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
        };
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = accept(&listener) => accepted,
        };
        let connection = Connection {
            app: app.clone(),
            peer,
            limits,
            stopping: stopping.clone(),
            _permit: permit,
        };
        tokio::spawn(connection.run(stream, transport.clone()));
    }
    let _ = stop.send(true);
    // Every connection holds a permit until it closes.
    let _all_closed = permits.acquire_many(max as u32).await;
    Ok(())
}

/// The next connection; failures to accept (out of file descriptors and the like) are
/// waited out rather than spun on.
async fn accept(listener: &TcpListener) -> (TcpStream, SocketAddr) {
    loop {
        match listener.accept().await {
            Ok(accepted) => return accepted,
            Err(error) => {
                tracing::warn!(%error, "could not accept a connection");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// One accepted connection, holding its place under the cap until it closes.
struct Connection {
    app: Router,
    peer: SocketAddr,
    limits: ConnectionLimits,
    stopping: watch::Receiver<bool>,
    _permit: OwnedSemaphorePermit,
}

impl Connection {
    async fn run(self, stream: TcpStream, transport: Transport) {
        // A signalling socket writes several small messages in a row (a join's answer, then
        // the subscribe offer): with Nagle's algorithm the second waits for the peer's
        // delayed ACK of the first, about 40 ms on Linux.
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(peer = %self.peer, %error, "could not turn off Nagle's algorithm");
        }
        match transport {
            Transport::Plain => self.serve_http(TokioIo::new(stream)).await,
            Transport::Tls(acceptor) => {
                let peer = self.peer;
                match tokio::time::timeout(self.limits.header_read_timeout, acceptor.accept(stream)).await {
                    Ok(Ok(tls)) => self.serve_http(TokioIo::new(tls)).await,
                    Ok(Err(error)) => tracing::debug!(%peer, %error, "TLS handshake failed"),
                    Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                }
            }
        }
    }

    /// HTTP/1.1 on the connection until the client closes it, a limit cuts it, or the
    /// server stops (then after the request in flight).
    async fn serve_http<I>(mut self, io: I)
    where
        I: Read + Write + Unpin + Send + 'static,
    {
        let peer = self.peer;
        let service = self
            .app
            .clone()
            .map_request(move |mut request: axum::http::Request<Incoming>| {
                request.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
                request
                    .extensions_mut()
                    .insert(ConnectInfo(crate::dashboard::ClientAddr(peer)));
                request
            });
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(self.limits.header_read_timeout)
            .keep_alive(true);
        let connection = http
            .serve_connection(io, TowerToHyperService::new(service))
            .with_upgrades();
        tokio::pin!(connection);
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%error, "connection ended with an error");
                }
            }
            _ = stopped(&mut self.stopping) => {
                connection.as_mut().graceful_shutdown();
                let _ = connection.await;
            }
        }
    }
}

async fn stopped(stopping: &mut watch::Receiver<bool>) {
    let _ = stopping.wait_for(|stop| *stop).await;
}
