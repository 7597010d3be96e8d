//! Reads without sqlx: of one row by a unique key on the calling thread, and of a page of
//! a list on a blocking thread.
//!
//! sqlx gives each SQLite connection a thread of its own and hands it every query and
//! every row over channels: two cross-thread wake-ups per query and one per row, which
//! cost more than the query itself when the pages are cached (a profile of
//! `GET /v2/rooms/{id}` spent more than half its samples waking threads, one of
//! `GET /v2/rooms?limit=100` a quarter). A point read by a unique index touches a handful
//! of pages, microseconds of work, so it blocks the async worker for less than the handoff
//! would. A page of up to 100 rows is a scan of a few hundred microseconds: it runs with
//! `spawn_blocking` instead, one hand-off per page rather than per row, so that it never
//! holds up the requests queued behind it on an async worker.
//!
//! Connections are taken from an idle list and put back after the read; a read that finds
//! none idle opens one, so no read ever waits for another, and the list holds at most as
//! many as ever ran at once (one per thread that reads, as reads never cross an `.await`).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Params, Row, Statement};
use tokio::sync::Semaphore;

use crate::codec::{Columns, Value};
use crate::{StoreError, StoreResult};

pub(super) struct PointReads {
    path: PathBuf,
    cache_kib: i64,
    idle: Mutex<Vec<Connection>>,
    closed: AtomicBool,
    /// Scans running at once on blocking threads: more than the cores only add threads,
    /// connections and their caches, not throughput.
    scans: Semaphore,
}

impl PointReads {
    /// Reads of the database at `path`, each connection with a page cache of `cache_kib`.
    pub(super) fn new(path: PathBuf, cache_kib: i64) -> Self {
        Self {
            path,
            cache_kib,
            idle: Mutex::new(Vec::new()),
            closed: AtomicBool::new(false),
            scans: Semaphore::new(CONCURRENT_SCANS),
        }
    }

    /// The row `sql` selects with `params`, if any, decoded by `decode`. `sql` must select
    /// at most one row through a unique index: this runs on the caller's thread.
    pub(super) fn one<T>(
        &self,
        sql: &str,
        params: impl Params,
        decode: impl FnOnce(&NamedRow<'_, '_>) -> StoreResult<T>,
    ) -> StoreResult<Option<T>> {
        self.with_connection(|connection| read_one(connection, sql, params, decode))
    }

    /// Runs `read` with a connection, on the caller's thread; several statements in it see
    /// one snapshot of the database when `read` runs them in a transaction (see [`snapshot`]).
    pub(super) fn with_connection<T>(&self, read: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        let connection = self.take()?;
        let outcome = read(&connection);
        let mut idle = self.idle.lock().expect("idle list lock");
        // A read that finished after `close` must not leave its connection open.
        if !self.closed.load(Ordering::Acquire) {
            idle.push(connection);
        }
        outcome
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
        // Lists build their statements from the filters given: one per combination.
        connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(connection)
    }
}

/// Scans on blocking threads at once; later ones wait their turn without a thread.
const CONCURRENT_SCANS: usize = 4;

/// Statements each read connection keeps prepared.
const STATEMENT_CACHE: usize = 64;

/// Runs `read` with a connection of `reads` on a blocking thread: for reads that scan.
pub(super) async fn off_thread<T: Send + 'static>(
    reads: &Arc<PointReads>,
    read: impl FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
) -> StoreResult<T> {
    let _turn = reads
        .scans
        .acquire()
        .await
        .map_err(|_| StoreError::Database(sqlx::Error::PoolClosed))?;
    let reads = reads.clone();
    match tokio::task::spawn_blocking(move || reads.with_connection(read)).await {
        Ok(outcome) => outcome,
        Err(failed) if failed.is_panic() => std::panic::resume_unwind(failed.into_panic()),
        // Blocking tasks are cancelled only as the runtime shuts down.
        Err(_) => Err(StoreError::Database(sqlx::Error::PoolClosed)),
    }
}

/// Runs `read` in a read transaction, so that its statements see one snapshot.
pub(super) fn snapshot<T>(connection: &Connection, read: impl FnOnce() -> StoreResult<T>) -> StoreResult<T> {
    connection.execute_batch("BEGIN")?;
    let outcome = read();
    connection.execute_batch("COMMIT")?;
    outcome
}

/// Every row `sql` selects with `params`, decoded by `decode`.
pub(super) fn read_all<T>(
    connection: &Connection,
    sql: &str,
    params: impl Params,
    mut decode: impl FnMut(&NamedRow<'_, '_>) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    let mut statement = connection.prepare_cached(sql)?;
    let names = column_names(&statement);
    let mut rows = statement.query(params)?;
    let mut all = Vec::new();
    while let Some(row) = rows.next()? {
        all.push(decode(&NamedRow { row, names: &names })?);
    }
    Ok(all)
}

fn read_one<T>(
    connection: &Connection,
    sql: &str,
    params: impl Params,
    decode: impl FnOnce(&NamedRow<'_, '_>) -> StoreResult<T>,
) -> StoreResult<Option<T>> {
    let mut statement = connection.prepare_cached(sql)?;
    let names = column_names(&statement);
    let mut rows = statement.query(params)?;
    rows.next()?
        .map(|row| decode(&NamedRow { row, names: &names }))
        .transpose()
}

/// The names of the columns `statement` selects, in order. Copied, because the statement
/// is borrowed mutably while its rows are read.
fn column_names(statement: &Statement<'_>) -> Vec<String> {
    statement.column_names().into_iter().map(str::to_owned).collect()
}

/// A row whose columns are found by name among its statement's names, read once a query.
/// `rusqlite`'s own lookup by name asks SQLite for the name of each column before the one
/// it looks for, for every column read of every row: a sixth of the profile of a list.
pub(super) struct NamedRow<'r, 's> {
    row: &'r Row<'s>,
    names: &'r [String],
}

impl Columns for NamedRow<'_, '_> {
    fn get<T: Value>(&self, column: &str) -> StoreResult<T> {
        let index = self
            .names
            .iter()
            .position(|name| name.eq_ignore_ascii_case(column))
            .ok_or_else(|| StoreError::PointRead(rusqlite::Error::InvalidColumnName(column.to_owned())))?;
        T::from_direct(self.row, index)
    }
}
