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

macro_rules! param_from {
    ($($from:ty => $variant:ident($value:ident) $convert:expr),* $(,)?) => {$(
        impl From<$from> for Param {
            fn from($value: $from) -> Self {
                Param::$variant($convert)
            }
        }
    )*};
}

param_from! {
    &str => Text(value) value.to_owned(),
    &String => Text(value) value.clone(),
    String => Text(value) value,
    &Option<String> => OptionalText(value) value.clone(),
    Option<&str> => OptionalText(value) value.map(str::to_owned),
    i64 => Int(value) value,
    Option<i64> => OptionalInt(value) value,
    bool => Bool(value) value,
    &Vec<u8> => Bytes(value) value.clone(),
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
