//! Copying the embedded SQLite database of a data dir into a PostgreSQL database: how a
//! deployment grows from one node to several.
//!
//! The copy knows no table by name (but one, see [`DERIVED`]): it copies every table of
//! the target's schema, column by column, from the source table of the same name, after
//! checking that both have the same columns. A migration that adds a table or a column to
//! both schemas is therefore copied without any change here.

mod schema;
mod value;

use std::collections::{BTreeMap, BTreeSet};

use futures::TryStreamExt;
use sqlx::sqlite::SqliteRow;
use sqlx::{AssertSqlSafe, Postgres, QueryBuilder, Sqlite, Transaction};

use crate::{PgStore, SqliteStore};
use schema::{TargetColumn, TargetTable, quoted};
use value::TargetValue;
pub use value::{ColumnKind, SourceValue};

/// A target table whose rows are computed from the source instead of copied, because the
/// two stores keep that state in different shapes.
struct Derived {
    table: &'static str,
    /// The source table that holds the same state, which has no target table of its own.
    replaces: &'static str,
    /// Answers the target table's columns, by name.
    query: &'static str,
}

/// SQLite's webhook planner keeps a cursor on `events.seq` (its one writer commits events
/// in seq order); PostgreSQL's queues every event that is not planned yet (see migration
/// 0003): the events after the cursor.
static DERIVED: &[Derived] = &[Derived {
    table: "webhook_unplanned",
    replaces: "webhook_planner",
    query: "SELECT seq FROM events WHERE seq > (SELECT last_seq FROM webhook_planner WHERE id = 1)",
}];

/// PostgreSQL takes at most this many parameters in one statement.
const MAX_PARAMETERS: usize = u16::MAX as usize;
/// Rows per `INSERT`, at most: enough to make round trips cheap, few enough to keep
/// statements small.
const MAX_BATCH_ROWS: usize = 500;

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error(
        "the target database already holds data ({workspaces} workspace(s)); copy only into a database no \
         server has used yet"
    )]
    TargetNotEmpty { workspaces: i64 },
    #[error("the schemas differ: table {0} of the target database has no counterpart in the data dir's database")]
    MissingInSource(String),
    #[error("the schemas differ: table {0} of the data dir's database has no counterpart in the target database")]
    MissingInTarget(String),
    #[error(
        "the schemas differ: table {table} has columns {only_in_source:?} only in the data dir's database and \
         {only_in_target:?} only in the target database"
    )]
    ColumnsDiffer {
        table: String,
        only_in_source: Vec<String>,
        only_in_target: Vec<String>,
    },
    #[error("column {table}.{column} of the target database has type {data_type}, which the copy cannot fill")]
    UnsupportedType {
        table: String,
        column: String,
        data_type: String,
    },
    #[error("row {row} of table {table}: column {column} holds {value}, which has no {kind} equivalent")]
    Unconvertible {
        table: String,
        /// Counted from 1, in the source's order.
        row: u64,
        column: String,
        value: SourceValue,
        kind: ColumnKind,
    },
    #[error("the foreign keys of tables {0:?} form a cycle: no order of inserts satisfies them")]
    ForeignKeyCycle(Vec<String>),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

/// How many rows each table received, in the order they were copied.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CopyReport {
    pub tables: Vec<CopiedTable>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopiedTable {
    pub name: String,
    pub rows: u64,
}

impl CopyReport {
    pub fn total_rows(&self) -> u64 {
        self.tables.iter().map(|table| table.rows).sum()
    }
}

/// Copies everything `source` holds into `target`, which must hold no workspace yet, in
/// one transaction of the target: when it fails, the target is left as it was. Both
/// stores are migrated to the latest schema by opening them. The source is read from one
/// snapshot, so what a server wrote to it after the snapshot would be missing: the caller
/// holds the data dir's node lock.
pub async fn sqlite_to_postgres(source: &SqliteStore, target: &PgStore) -> Result<CopyReport, CopyError> {
    let mut writer = target.pool.begin().await?;
    claim_empty_target(&mut writer).await?;
    let target_tables = schema::in_dependency_order(schema::target_tables(&mut writer).await?)?;
    // One read transaction: every table is read from the same snapshot.
    let mut reader = source.reader.begin().await?;
    let plans = plan(target_tables, &schema::source_tables(&mut reader).await?)?;
    let ids_used = schema::source_ids_used(&mut reader).await?;
    clear_seeded_rows(&mut writer, &plans).await?;
    let mut report = CopyReport::default();
    for table in &plans {
        let rows = copy_table(&mut reader, &mut writer, table).await?;
        move_sequences_past(&mut writer, table, ids_used.get(table.source_table()).copied()).await?;
        report.tables.push(CopiedTable {
            name: table.target.name.clone(),
            rows,
        });
    }
    writer.commit().await?;
    Ok(report)
}

/// Refuses a target that holds a workspace (and so data of its own), and holds off writes
/// to the workspaces until the copy commits, so that none slips in between this check and
/// the copy.
async fn claim_empty_target(writer: &mut Transaction<'static, Postgres>) -> Result<(), CopyError> {
    sqlx::query("LOCK TABLE workspaces IN EXCLUSIVE MODE")
        .execute(&mut **writer)
        .await?;
    let workspaces: i64 = sqlx::query_scalar("SELECT count(*) FROM workspaces")
        .fetch_one(&mut **writer)
        .await?;
    if workspaces > 0 {
        return Err(CopyError::TargetNotEmpty { workspaces });
    }
    Ok(())
}

/// Where a target table's rows come from.
enum Source {
    Table(String),
    Derived(&'static Derived),
}

/// One target table to fill.
struct TablePlan {
    target: TargetTable,
    source: Source,
}

impl TablePlan {
    fn source_table(&self) -> &str {
        match &self.source {
            Source::Table(name) => name,
            Source::Derived(derived) => derived.replaces,
        }
    }

    fn column_list(&self) -> String {
        let names: Vec<String> = self.target.columns.iter().map(|c| quoted(&c.name)).collect();
        names.join(", ")
    }

    /// Selects the target's columns, in the target's order, from the source; rows in the
    /// order they were inserted, so that the copy keeps it too.
    fn select(&self) -> String {
        match &self.source {
            Source::Table(name) => format!("SELECT {} FROM {} ORDER BY rowid", self.column_list(), quoted(name)),
            Source::Derived(derived) => format!("SELECT {} FROM ({}) ORDER BY 1", self.column_list(), derived.query),
        }
    }

    /// Inserts given values even into identity columns that number rows themselves.
    fn insert(&self) -> String {
        format!(
            "INSERT INTO {} ({}) OVERRIDING SYSTEM VALUE ",
            quoted(&self.target.name),
            self.column_list()
        )
    }

    fn rows_per_insert(&self) -> usize {
        (MAX_PARAMETERS / self.target.columns.len().max(1)).clamp(1, MAX_BATCH_ROWS)
    }

    /// A source row as values of the target's columns.
    fn convert(&self, row: &SqliteRow, number: u64) -> Result<Vec<TargetValue>, CopyError> {
        self.target
            .columns
            .iter()
            .enumerate()
            .map(|(index, column)| {
                let value = SourceValue::read(row, index)?;
                column.kind.convert(value).map_err(|value| CopyError::Unconvertible {
                    table: self.target.name.clone(),
                    row: number,
                    column: column.name.clone(),
                    value,
                    kind: column.kind,
                })
            })
            .collect()
    }
}

/// Pairs every target table with its source, and refuses schemas that differ.
fn plan(
    target_tables: Vec<TargetTable>,
    source_tables: &BTreeMap<String, BTreeSet<String>>,
) -> Result<Vec<TablePlan>, CopyError> {
    let accounted_for: BTreeSet<&str> = target_tables
        .iter()
        .map(|table| table.name.as_str())
        .chain(DERIVED.iter().map(|derived| derived.replaces))
        .collect();
    if let Some(extra) = source_tables.keys().find(|name| !accounted_for.contains(name.as_str())) {
        return Err(CopyError::MissingInTarget(extra.clone()));
    }
    target_tables
        .into_iter()
        .map(|target| {
            let source = source_of(&target, source_tables)?;
            Ok(TablePlan { target, source })
        })
        .collect()
}

fn source_of(target: &TargetTable, source_tables: &BTreeMap<String, BTreeSet<String>>) -> Result<Source, CopyError> {
    if let Some(derived) = DERIVED.iter().find(|derived| derived.table == target.name) {
        if !source_tables.contains_key(derived.replaces) {
            return Err(CopyError::MissingInSource(derived.replaces.to_owned()));
        }
        return Ok(Source::Derived(derived));
    }
    let source_columns = source_tables
        .get(&target.name)
        .ok_or_else(|| CopyError::MissingInSource(target.name.clone()))?;
    let target_columns: BTreeSet<String> = target.columns.iter().map(|c| c.name.clone()).collect();
    if &target_columns != source_columns {
        return Err(CopyError::ColumnsDiffer {
            table: target.name.clone(),
            only_in_source: source_columns.difference(&target_columns).cloned().collect(),
            only_in_target: target_columns.difference(source_columns).cloned().collect(),
        });
    }
    Ok(Source::Table(target.name.clone()))
}

/// Empties the target's tables, children first. The target holds no workspace, so all
/// they can hold is what the migrations seed (the credentials version, for one), which
/// the source holds too, with its current values.
async fn clear_seeded_rows(writer: &mut Transaction<'static, Postgres>, plans: &[TablePlan]) -> Result<(), CopyError> {
    for table in plans.iter().rev() {
        let delete = format!("DELETE FROM {}", quoted(&table.target.name));
        sqlx::query(AssertSqlSafe(delete)).execute(&mut **writer).await?;
    }
    Ok(())
}

/// Streams the source rows of one table into the target, a batch of rows per `INSERT`;
/// answers how many were copied.
async fn copy_table(
    reader: &mut Transaction<'static, Sqlite>,
    writer: &mut Transaction<'static, Postgres>,
    table: &TablePlan,
) -> Result<u64, CopyError> {
    let mut rows = sqlx::query(AssertSqlSafe(table.select())).fetch(&mut **reader);
    let mut batch = Vec::with_capacity(table.rows_per_insert());
    let mut copied = 0;
    while let Some(row) = rows.try_next().await? {
        copied += 1;
        batch.push(table.convert(&row, copied)?);
        if batch.len() == table.rows_per_insert() {
            insert(writer, table, std::mem::take(&mut batch)).await?;
        }
    }
    if !batch.is_empty() {
        insert(writer, table, batch).await?;
    }
    Ok(copied)
}

async fn insert(
    writer: &mut Transaction<'static, Postgres>,
    table: &TablePlan,
    rows: Vec<Vec<TargetValue>>,
) -> Result<(), CopyError> {
    let mut insert = QueryBuilder::<Postgres>::new(table.insert());
    insert.push_values(rows, |mut tuple, row| {
        for value in row {
            value.bind(&mut tuple);
        }
    });
    insert.build().execute(&mut **writer).await?;
    Ok(())
}

/// Moves the sequence of every numbered column past the highest number in use, and past
/// `source_used` (the highest the source ever handed out), so that rows inserted after the
/// copy never take a copied row's number.
async fn move_sequences_past(
    writer: &mut Transaction<'static, Postgres>,
    table: &TablePlan,
    source_used: Option<i64>,
) -> Result<(), CopyError> {
    for column in table.target.columns.iter().filter(|column| column.numbered) {
        let highest = highest_in(writer, &table.target.name, column).await?;
        let last_used = highest.max(source_used.unwrap_or(0));
        // A sequence cannot be set to 0: an unused one is set to 1, not yet handed out.
        sqlx::query("SELECT setval(pg_get_serial_sequence($1, $2), $3, $4)")
            .bind(quoted(&table.target.name))
            .bind(&column.name)
            .bind(last_used.max(1))
            .bind(last_used >= 1)
            .execute(&mut **writer)
            .await?;
    }
    Ok(())
}

async fn highest_in(
    writer: &mut Transaction<'static, Postgres>,
    table: &str,
    column: &TargetColumn,
) -> Result<i64, CopyError> {
    let select = format!(
        "SELECT coalesce(max({})::bigint, 0) FROM {}",
        quoted(&column.name),
        quoted(table)
    );
    Ok(sqlx::query_scalar(AssertSqlSafe(select))
        .fetch_one(&mut **writer)
        .await?)
}
