//! Values on their way from a SQLite row to a PostgreSQL column.
//!
//! SQLite stores each value with its own type (integer, real, text, blob or null), whatever
//! the column declares; PostgreSQL columns have one type. A value is converted to the
//! target column's type when it means the same thing there — the integers 0 and 1 of a
//! SQLite boolean become `false` and `true`, an integer becomes a `BIGINT`, `INTEGER` or
//! `SMALLINT` when it fits — and refused otherwise: nothing is rounded, parsed or truncated.

use std::fmt;

use sqlx::postgres::Postgres;
use sqlx::query_builder::Separated;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, TypeInfo, ValueRef};

/// The types of PostgreSQL columns the copy can fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    Boolean,
    SmallInt,
    Integer,
    BigInt,
    Real,
    Double,
    Text,
    Bytes,
}

impl ColumnKind {
    /// The kind of a column whose `information_schema.columns.data_type` is `data_type`.
    pub fn of(data_type: &str) -> Option<Self> {
        Some(match data_type {
            "boolean" => Self::Boolean,
            "smallint" => Self::SmallInt,
            "integer" => Self::Integer,
            "bigint" => Self::BigInt,
            "real" => Self::Real,
            "double precision" => Self::Double,
            "text" | "character varying" | "character" => Self::Text,
            "bytea" => Self::Bytes,
            _ => return None,
        })
    }

    /// `value` as a value of this kind; the value itself when it has no such meaning.
    pub fn convert(self, value: SourceValue) -> Result<TargetValue, SourceValue> {
        use SourceValue as S;
        use TargetValue as T;
        Ok(match (self, value) {
            (kind, S::Null) => T::Null(kind),
            (Self::Boolean, S::Integer(0)) => T::Boolean(false),
            (Self::Boolean, S::Integer(1)) => T::Boolean(true),
            (Self::SmallInt, S::Integer(n)) => T::SmallInt(i16::try_from(n).map_err(|_| S::Integer(n))?),
            (Self::Integer, S::Integer(n)) => T::Integer(i32::try_from(n).map_err(|_| S::Integer(n))?),
            (Self::BigInt, S::Integer(n)) => T::BigInt(n),
            (Self::Real, S::Real(x)) if f64::from(x as f32) == x => T::Real(x as f32),
            (Self::Double, S::Real(x)) => T::Double(x),
            (Self::Double, S::Integer(n)) if (n as f64) as i64 == n => T::Double(n as f64),
            (Self::Text, S::Text(text)) => T::Text(text),
            (Self::Bytes, S::Blob(bytes)) => T::Bytes(bytes),
            (_, value) => return Err(value),
        })
    }
}

impl fmt::Display for ColumnKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Boolean => "boolean",
            Self::SmallInt => "smallint",
            Self::Integer => "integer",
            Self::BigInt => "bigint",
            Self::Real => "real",
            Self::Double => "double precision",
            Self::Text => "text",
            Self::Bytes => "bytea",
        })
    }
}

/// A value as SQLite holds it.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceValue {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

impl SourceValue {
    /// The value in column `index` of `row`, read by the type SQLite stored it with.
    pub fn read(row: &SqliteRow, index: usize) -> Result<Self, sqlx::Error> {
        let raw = row.try_get_raw(index)?;
        if raw.is_null() {
            return Ok(Self::Null);
        }
        let stored_as = raw.type_info().name().to_owned();
        Ok(match stored_as.as_str() {
            "INTEGER" => Self::Integer(row.try_get_unchecked(index)?),
            "REAL" => Self::Real(row.try_get_unchecked(index)?),
            "TEXT" => Self::Text(row.try_get_unchecked(index)?),
            _ => Self::Blob(row.try_get_unchecked(index)?),
        })
    }
}

/// Long texts are cut in error messages: they only need to identify the value.
const SHOWN_CHARS: usize = 40;

impl fmt::Display for SourceValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Null => f.write_str("NULL"),
            Self::Integer(n) => write!(f, "the integer {n}"),
            Self::Real(x) => write!(f, "the real {x}"),
            Self::Text(text) if text.chars().count() > SHOWN_CHARS => {
                let start: String = text.chars().take(SHOWN_CHARS).collect();
                write!(f, "the text {start:?}…")
            }
            Self::Text(text) => write!(f, "the text {text:?}"),
            Self::Blob(bytes) => write!(f, "a blob of {} bytes", bytes.len()),
        }
    }
}

/// A value ready to be bound to a PostgreSQL parameter of its column's type.
#[derive(Debug, Clone, PartialEq)]
pub enum TargetValue {
    /// Typed like its column, so that PostgreSQL need not guess the parameter's type.
    Null(ColumnKind),
    Boolean(bool),
    SmallInt(i16),
    Integer(i32),
    BigInt(i64),
    Real(f32),
    Double(f64),
    Text(String),
    Bytes(Vec<u8>),
}

impl TargetValue {
    /// Appends the value to a `VALUES` tuple as a parameter.
    pub fn bind(self, tuple: &mut Separated<'_, Postgres, &'static str>) {
        use ColumnKind as K;
        match self {
            Self::Null(K::Boolean) => tuple.push_bind(None::<bool>),
            Self::Null(K::SmallInt) => tuple.push_bind(None::<i16>),
            Self::Null(K::Integer) => tuple.push_bind(None::<i32>),
            Self::Null(K::BigInt) => tuple.push_bind(None::<i64>),
            Self::Null(K::Real) => tuple.push_bind(None::<f32>),
            Self::Null(K::Double) => tuple.push_bind(None::<f64>),
            Self::Null(K::Text) => tuple.push_bind(None::<String>),
            Self::Null(K::Bytes) => tuple.push_bind(None::<Vec<u8>>),
            Self::Boolean(value) => tuple.push_bind(value),
            Self::SmallInt(value) => tuple.push_bind(value),
            Self::Integer(value) => tuple.push_bind(value),
            Self::BigInt(value) => tuple.push_bind(value),
            Self::Real(value) => tuple.push_bind(value),
            Self::Double(value) => tuple.push_bind(value),
            Self::Text(value) => tuple.push_bind(value),
            Self::Bytes(value) => tuple.push_bind(value),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_booleans_become_booleans_and_nothing_else_does() {
        let boolean = ColumnKind::Boolean;
        assert_eq!(
            boolean.convert(SourceValue::Integer(0)),
            Ok(TargetValue::Boolean(false))
        );
        assert_eq!(boolean.convert(SourceValue::Integer(1)), Ok(TargetValue::Boolean(true)));
        assert_eq!(boolean.convert(SourceValue::Integer(2)), Err(SourceValue::Integer(2)));
        let text = SourceValue::Text("true".into());
        assert_eq!(boolean.convert(text.clone()), Err(text));
    }

    #[test]
    fn integers_must_fit_their_column() {
        assert_eq!(
            ColumnKind::BigInt.convert(SourceValue::Integer(i64::MAX)),
            Ok(TargetValue::BigInt(i64::MAX))
        );
        assert_eq!(
            ColumnKind::Integer.convert(SourceValue::Integer(-7)),
            Ok(TargetValue::Integer(-7))
        );
        let too_big = SourceValue::Integer(i64::from(i32::MAX) + 1);
        assert_eq!(ColumnKind::Integer.convert(too_big.clone()), Err(too_big));
        assert_eq!(
            ColumnKind::SmallInt.convert(SourceValue::Integer(40_000)),
            Err(SourceValue::Integer(40_000))
        );
        let real = SourceValue::Real(1.0);
        assert_eq!(ColumnKind::BigInt.convert(real.clone()), Err(real));
    }

    #[test]
    fn nulls_keep_their_column_type_and_texts_stay_texts() {
        assert_eq!(
            ColumnKind::Text.convert(SourceValue::Null),
            Ok(TargetValue::Null(ColumnKind::Text))
        );
        assert_eq!(
            ColumnKind::Text.convert(SourceValue::Text("{\"a\":1}".into())),
            Ok(TargetValue::Text("{\"a\":1}".into()))
        );
        assert_eq!(
            ColumnKind::Text.convert(SourceValue::Integer(5)),
            Err(SourceValue::Integer(5))
        );
        assert_eq!(
            ColumnKind::Bytes.convert(SourceValue::Blob(vec![0, 1])),
            Ok(TargetValue::Bytes(vec![0, 1]))
        );
    }

    #[test]
    fn reals_are_never_rounded() {
        let cases = [
            (ColumnKind::Double, SourceValue::Real(0.1), Ok(TargetValue::Double(0.1))),
            (
                ColumnKind::Double,
                SourceValue::Integer(3),
                Ok(TargetValue::Double(3.0)),
            ),
            (ColumnKind::Real, SourceValue::Real(0.5), Ok(TargetValue::Real(0.5))),
            (ColumnKind::Real, SourceValue::Real(0.1), Err(SourceValue::Real(0.1))),
        ];
        for (kind, value, expected) in cases {
            let what = format!("{value} as {kind:?}");
            assert_eq!(kind.convert(value), expected, "{what}");
        }
    }

    #[test]
    fn long_texts_are_cut_in_messages() {
        let shown = SourceValue::Text("x".repeat(100)).to_string();
        assert_eq!(shown, format!("the text \"{}\"…", "x".repeat(SHOWN_CHARS)));
    }
}
