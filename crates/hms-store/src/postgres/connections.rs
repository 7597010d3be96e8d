//! A pool of connections whose use costs one round trip per statement and nothing more.
//!
//! sqlx's pool tests a connection with a round trip (`ping`) when it hands it out and
//! again when it takes it back, so a read of one statement through it costs three round
//! trips, each waking a PostgreSQL backend and this process. Here a connection is trusted
//! while it works: one whose work fails or is cancelled midway is closed instead of
//! returned, and a read that fails on a reused connection for want of the connection (the
//! database restarted since) is run once more on a new one, which reads may, since they
//! change nothing.

use std::sync::Mutex;
use std::time::Duration;

use sqlx::ConnectOptions;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::gauges::PoolUse;
use crate::{Outage, StoreError, StoreResult};

pub(super) struct Connections {
    options: PgConnectOptions,
    /// How long `lease` waits for a free connection, or for a new one, before failing.
    acquire_timeout: Duration,
    /// Connections that finished their last work cleanly.
    idle: Mutex<Vec<PgConnection>>,
    /// One permit per connection that may be open.
    permits: Semaphore,
    max: u32,
}

impl Connections {
    pub(super) fn new(options: PgConnectOptions, max: u32, acquire_timeout: Duration) -> Self {
        Self {
            options,
            acquire_timeout,
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(max as usize),
            max,
        }
    }

    /// A connection for reads, a reused one if any is idle; see [`Lease`].
    pub(super) async fn lease(&self) -> StoreResult<Lease<'_>> {
        let permit = tokio::time::timeout(self.acquire_timeout, self.permits.acquire())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)?
            .map_err(|_| sqlx::Error::PoolClosed)?;
        let reused = self.idle.lock().expect("idle connections").pop();
        let (connection, reused) = match reused {
            Some(connection) => (connection, true),
            None => (self.connect().await?, false),
        };
        Ok(Lease {
            pool: self,
            connection: Some(connection),
            reused,
            _permit: permit,
        })
    }

    async fn connect(&self) -> StoreResult<PgConnection> {
        tokio::time::timeout(self.acquire_timeout, self.options.connect())
            .await
            .map_err(|_| StoreError::Database(sqlx::Error::PoolTimedOut))?
            .map_err(StoreError::Database)
    }

    /// Closes the idle connections and refuses new work; work under way finishes.
    pub(super) async fn close(&self) {
        self.permits.close();
        let idle = std::mem::take(&mut *self.idle.lock().expect("idle connections"));
        for connection in idle {
            let _ = sqlx::Connection::close(connection).await;
        }
    }

    /// Use of the pool, named `name` in the metrics.
    pub(super) fn usage(&self, name: &'static str) -> PoolUse {
        let idle = self.idle.lock().expect("idle connections").len();
        let busy = self.max as usize - self.permits.available_permits();
        PoolUse {
            pool: name,
            open: u32::try_from(idle + busy).unwrap_or(u32::MAX),
            idle: u32::try_from(idle).unwrap_or(u32::MAX),
            max: self.max,
        }
    }
}

/// A connection taken from [`Connections`]: used by `read!`, which runs a read on it, asks
/// [`Lease::retry_after`] whether to run it again, and ends with [`Lease::settle`]. A lease
/// dropped before it settles (its request cancelled midway) closes its connection, whose
/// state is then unknown.
pub(super) struct Lease<'p> {
    pool: &'p Connections,
    connection: Option<PgConnection>,
    /// Whether the connection served an earlier read, so may have been cut since.
    reused: bool,
    _permit: SemaphorePermit<'p>,
}

impl Lease<'_> {
    pub(super) fn connection(&mut self) -> &mut PgConnection {
        self.connection
            .as_mut()
            .expect("a lease holds its connection until it settles")
    }

    /// Whether a read that ended in `result` should run again: it failed for want of a
    /// connection that had served before (the database restarted or cut it since), and
    /// a new connection has now replaced it.
    pub(super) async fn retry_after<T>(&mut self, result: &StoreResult<T>) -> StoreResult<bool> {
        let lost = matches!(result, Err(error) if error.outage() == Some(Outage::Unavailable));
        if !(lost && self.reused) {
            return Ok(false);
        }
        self.connection = None;
        self.connection = Some(self.pool.connect().await?);
        self.reused = false;
        Ok(true)
    }

    /// Returns the connection to the pool if the read succeeded and left no transaction
    /// open; after a failure it is closed, since what it was doing is unknown.
    pub(super) fn settle<T>(mut self, result: StoreResult<T>) -> StoreResult<T> {
        let connection = self.connection.take().expect("a lease settles once");
        if result.is_ok() && !sqlx::Connection::is_in_transaction(&connection) {
            self.pool.idle.lock().expect("idle connections").push(connection);
        }
        result
    }
}
