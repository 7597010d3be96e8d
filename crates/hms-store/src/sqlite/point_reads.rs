//! Reads of one row by a unique key, run on the calling thread.
//!
//! sqlx gives each SQLite connection a thread of its own and hands it every query and
//! every row over channels: two cross-thread wake-ups per query, which cost more than the
//! query itself when the pages are cached (a profile of `GET /v2/rooms/{id}` spent more
//! than half its samples waking threads). A point read by a unique index touches a handful
//! of pages, microseconds of work, so it blocks the async worker for less than the handoff
//! would; reads that may scan (lists, filters) stay on sqlx's pool.
//!
//! Connections are taken from an idle list and put back after the read; a read that finds
//! none idle opens one, so no read ever waits for another, and the list holds at most as
//! many as ever ran at once (one per thread that reads, as reads never cross an `.await`).

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Params};

use crate::{StoreError, StoreResult};

pub(super) struct PointReads {
    path: PathBuf,
    cache_kib: i64,
    idle: Mutex<Vec<Connection>>,
    closed: AtomicBool,
}

impl PointReads {
    /// Reads of the database at `path`, each connection with a page cache of `cache_kib`.
    pub(super) fn new(path: PathBuf, cache_kib: i64) -> Self {
        Self {
            path,
            cache_kib,
            idle: Mutex::new(Vec::new()),
            closed: AtomicBool::new(false),
        }
    }

    /// The row `sql` selects with `params`, if any, decoded by `decode`. `sql` must select
    /// at most one row through a unique index: this runs on the caller's thread.
    pub(super) fn one<T>(
        &self,
        sql: &str,
        params: impl Params,
        decode: impl FnOnce(&rusqlite::Row<'_>) -> StoreResult<T>,
    ) -> StoreResult<Option<T>> {
        let connection = self.take()?;
        let found = read_one(&connection, sql, params, decode);
        let mut idle = self.idle.lock().expect("idle list lock");
        // A read that finished after `close` must not leave its connection open.
        if !self.closed.load(Ordering::Acquire) {
            idle.push(connection);
        }
        found
    }

    /// Drops the idle connections and refuses later reads, as sqlx's closed pools do.
    pub(super) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.idle.lock().expect("idle list lock").clear();
    }

    fn take(&self) -> StoreResult<Connection> {
        if self.closed.load(Ordering::Acquire) {
            return Err(StoreError::Database(sqlx::Error::PoolClosed));
        }
        if let Some(connection) = self.idle.lock().expect("idle list lock").pop() {
            return Ok(connection);
        }
        let connection = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        connection.busy_timeout(Duration::from_secs(10))?;
        connection.pragma_update(None, "cache_size", -self.cache_kib)?;
        Ok(connection)
    }
}

fn read_one<T>(
    connection: &Connection,
    sql: &str,
    params: impl Params,
    decode: impl FnOnce(&rusqlite::Row<'_>) -> StoreResult<T>,
) -> StoreResult<Option<T>> {
    let mut statement = connection.prepare_cached(sql)?;
    let mut rows = statement.query(params)?;
    rows.next()?.map(decode).transpose()
}
