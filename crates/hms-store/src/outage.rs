//! Failures that are not the request's nor a bug: the database cannot be reached, or its
//! disk is full. The server answers them with 503 or 507 instead of 500, and they end by
//! themselves once the database is back or space is freed.

use crate::StoreError;

/// Why the database cannot serve now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outage {
    /// Down, unreachable, restarting, or out of connections.
    Unavailable,
    /// Out of disk space: writes fail, reads may still work.
    DiskFull,
}

/// SQLite's primary result code for a full disk (`SQLITE_FULL`).
const SQLITE_FULL: i32 = 13;

impl StoreError {
    /// The outage this error is a symptom of, if it is one.
    pub fn outage(&self) -> Option<Outage> {
        match self {
            StoreError::Database(error) => sqlx_outage(error),
            StoreError::PointRead(rusqlite::Error::SqliteFailure(failure, _)) => {
                (failure.extended_code & 0xff == SQLITE_FULL).then_some(Outage::DiskFull)
            }
            _ => None,
        }
    }
}

fn sqlx_outage(error: &sqlx::Error) -> Option<Outage> {
    match error {
        sqlx::Error::Io(io) if io.raw_os_error() == Some(28) => Some(Outage::DiskFull),
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => Some(Outage::Unavailable),
        sqlx::Error::Database(db) => {
            let code = db.code()?;
            // PostgreSQL: 53100 disk_full; class 08 connection exceptions, 57P01-57P03
            // the server shutting down or starting, 53300 too many connections.
            // SQLite: its result code, whose low byte is the primary code.
            if code == "53100" {
                return Some(Outage::DiskFull);
            }
            if code.starts_with("08") || matches!(code.as_ref(), "57P01" | "57P02" | "57P03" | "53300") {
                return Some(Outage::Unavailable);
            }
            let sqlite_code = code.parse::<i32>().ok()?;
            (sqlite_code & 0xff == SQLITE_FULL).then_some(Outage::DiskFull)
        }
        _ => None,
    }
}
