//! How values are written to and read from PostgreSQL rows: the same encodings as the
//! SQLite store, so that both hold the same logical data.

use hms_types::template::TemplateBody;
use hms_types::{PreciseTime, Timestamp};
use sqlx::Row;
use sqlx::postgres::PgRow;

use crate::StoreError;
use crate::StoreResult;

/// Maps the failure of an insert or update that broke a unique index to `Conflict(what)`.
pub(super) fn unique_violation(error: sqlx::Error, what: &'static str) -> StoreError {
    match error.as_database_error() {
        Some(db) if db.is_unique_violation() => StoreError::Conflict(what),
        _ => StoreError::Database(error),
    }
}

pub(super) fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("stored documents always serialise")
}

pub(super) fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> StoreResult<T> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Template names and room names are unique regardless of case; the key is computed here,
/// not by the database, so that it is the SQLite store's key exactly.
pub(super) fn name_key(name: &str) -> String {
    name.to_lowercase()
}

pub(super) fn role_names(body: &TemplateBody) -> String {
    to_json(&body.roles.keys().collect::<Vec<_>>())
}

pub(super) fn millis(row: &PgRow, column: &str) -> StoreResult<Timestamp> {
    Ok(Timestamp::from_unix_millis(row.try_get(column)?))
}

pub(super) fn nanos(time: PreciseTime) -> i64 {
    i128_to_i64(time.unix_nanos())
}

/// Unix nanoseconds fit an i64 until the year 2262.
pub(super) fn i128_to_i64(value: i128) -> i64 {
    value.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

pub(super) fn from_nanos(ns: i64) -> PreciseTime {
    PreciseTime::from_unix_nanos(i128::from(ns))
}

pub(super) fn precise(row: &PgRow, column: &str) -> StoreResult<PreciseTime> {
    Ok(from_nanos(row.try_get(column)?))
}

pub(super) fn precise_opt(row: &PgRow, column: &str) -> StoreResult<Option<PreciseTime>> {
    let ns: Option<i64> = row.try_get(column)?;
    Ok(ns.map(from_nanos))
}
