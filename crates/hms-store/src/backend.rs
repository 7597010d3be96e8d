//! What a statement both stores run word for word needs from its driver, so that it is
//! written once (in the backend-neutral modules) and run on either: its values bound as
//! [`Param`]s, its rows read through [`Columns`], and what it changed counted.
//!
//! Such statements use `$N` placeholders, which PostgreSQL and sqlx's SQLite driver both
//! bind by number, and SQL that both dialects read alike. Where the dialects or the locking
//! differ, each store keeps its own statement.

use sqlx::query::Query;
use sqlx::{Database, Encode, Executor, IntoArguments, Postgres, Sqlite, Transaction, Type};

use crate::codec::Columns;

/// A value bound to a statement; each driver encodes it as the Rust type it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Param {
    Text(String),
    OptionalText(Option<String>),
    Int(i64),
    OptionalInt(Option<i64>),
    Bool(bool),
    Bytes(Vec<u8>),
}

impl From<&str> for Param {
    fn from(value: &str) -> Self {
        Param::Text(value.to_owned())
    }
}

impl From<&String> for Param {
    fn from(value: &String) -> Self {
        Param::Text(value.clone())
    }
}

impl From<String> for Param {
    fn from(value: String) -> Self {
        Param::Text(value)
    }
}

impl From<&Option<String>> for Param {
    fn from(value: &Option<String>) -> Self {
        Param::OptionalText(value.clone())
    }
}

impl From<Option<&str>> for Param {
    fn from(value: Option<&str>) -> Self {
        Param::OptionalText(value.map(str::to_owned))
    }
}

impl From<i64> for Param {
    fn from(value: i64) -> Self {
        Param::Int(value)
    }
}

impl From<Option<i64>> for Param {
    fn from(value: Option<i64>) -> Self {
        Param::OptionalInt(value)
    }
}

impl From<bool> for Param {
    fn from(value: bool) -> Self {
        Param::Bool(value)
    }
}

impl From<&Vec<u8>> for Param {
    fn from(value: &Vec<u8>) -> Self {
        Param::Bytes(value.clone())
    }
}

impl<'q, DB: Database> Encode<'q, DB> for Param
where
    String: Encode<'q, DB> + Type<DB>,
    Option<String>: Encode<'q, DB> + Type<DB>,
    i64: Encode<'q, DB> + Type<DB>,
    Option<i64>: Encode<'q, DB> + Type<DB>,
    bool: Encode<'q, DB> + Type<DB>,
    Vec<u8>: Encode<'q, DB> + Type<DB>,
{
    fn encode_by_ref(
        &self,
        buf: &mut <DB as Database>::ArgumentBuffer,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        match self {
            Param::Text(value) => value.encode_by_ref(buf),
            Param::OptionalText(value) => value.encode_by_ref(buf),
            Param::Int(value) => value.encode_by_ref(buf),
            Param::OptionalInt(value) => value.encode_by_ref(buf),
            Param::Bool(value) => value.encode_by_ref(buf),
            Param::Bytes(value) => value.encode_by_ref(buf),
        }
    }

    /// The type of the value held, which PostgreSQL checks against the column's.
    fn produces(&self) -> Option<DB::TypeInfo> {
        Some(match self {
            Param::Text(_) | Param::OptionalText(_) => <String as Type<DB>>::type_info(),
            Param::Int(_) | Param::OptionalInt(_) => <i64 as Type<DB>>::type_info(),
            Param::Bool(_) => <bool as Type<DB>>::type_info(),
            Param::Bytes(_) => <Vec<u8> as Type<DB>>::type_info(),
        })
    }
}

/// Stands for the type of every [`Param`], each of which names its own (see `produces`).
impl<DB: Database> Type<DB> for Param
where
    String: Type<DB>,
{
    fn type_info() -> DB::TypeInfo {
        <String as Type<DB>>::type_info()
    }
}

/// SQLite's group commit of live writes binds them without sqlx.
impl rusqlite::ToSql for Param {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        match self {
            Param::Text(value) => value.to_sql(),
            Param::OptionalText(value) => value.to_sql(),
            Param::Int(value) => value.to_sql(),
            Param::OptionalInt(value) => value.to_sql(),
            Param::Bool(value) => value.to_sql(),
            Param::Bytes(value) => value.to_sql(),
        }
    }
}

/// A driver that runs the shared statements.
pub(crate) trait Backend: Database<Arguments: IntoArguments<Self>, Row: Columns> {
    fn bind(query: Query<'_, Self, Self::Arguments>, param: Param) -> Query<'_, Self, Self::Arguments>;
    fn rows_affected(result: &Self::QueryResult) -> u64;
    /// Runs a statement in `tx`.
    fn on<'e>(tx: &'e mut Transaction<'_, Self>) -> impl Executor<'e, Database = Self>;
}

macro_rules! backend {
    ($($db:ty),*) => {$(
        impl Backend for $db {
            fn bind(query: Query<'_, Self, Self::Arguments>, param: Param) -> Query<'_, Self, Self::Arguments> {
                query.bind(param)
            }

            fn rows_affected(result: &Self::QueryResult) -> u64 {
                result.rows_affected()
            }

            fn on<'e>(tx: &'e mut Transaction<'_, Self>) -> impl Executor<'e, Database = Self> {
                &mut **tx
            }
        }
    )*};
}

backend!(Sqlite, Postgres);

/// Binds the next placeholder of a shared statement.
pub(crate) trait BindParam {
    fn param(self, value: impl Into<Param>) -> Self;
}

impl<'q, DB: Backend> BindParam for Query<'q, DB, DB::Arguments> {
    fn param(self, value: impl Into<Param>) -> Self {
        DB::bind(self, value.into())
    }
}
