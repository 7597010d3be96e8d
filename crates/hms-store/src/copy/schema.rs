//! What the two databases hold: the tables and columns of each, as their catalogues
//! describe them, so that the copy follows the migrations without knowing them.

use std::collections::{BTreeMap, BTreeSet};

use sqlx::{PgConnection, Row, SqliteConnection};

use super::CopyError;
use super::value::ColumnKind;

/// The bookkeeping of sqlx's migrator: each database keeps its own.
pub const MIGRATIONS_TABLE: &str = "_sqlx_migrations";

/// A column of a PostgreSQL table.
#[derive(Debug, Clone)]
pub struct TargetColumn {
    pub name: String,
    pub kind: ColumnKind,
    /// Filled from a sequence (an identity or serial column) when inserted without a value.
    pub numbered: bool,
}

/// A PostgreSQL table of the schema, with the tables its foreign keys refer to.
#[derive(Debug, Clone)]
pub struct TargetTable {
    pub name: String,
    pub columns: Vec<TargetColumn>,
    pub parents: BTreeSet<String>,
}

/// The tables of the target's current schema, migration bookkeeping aside.
pub async fn target_tables(db: &mut PgConnection) -> Result<Vec<TargetTable>, CopyError> {
    let mut tables = BTreeMap::new();
    let names = sqlx::query_scalar::<_, String>(
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' AND table_name <> $1",
    )
    .bind(MIGRATIONS_TABLE)
    .fetch_all(&mut *db)
    .await?;
    for name in names {
        let table = TargetTable {
            columns: target_columns(db, &name).await?,
            parents: parents_of(db, &name).await?,
            name: name.clone(),
        };
        tables.insert(name, table);
    }
    Ok(tables.into_values().collect())
}

async fn target_columns(db: &mut PgConnection, table: &str) -> Result<Vec<TargetColumn>, CopyError> {
    let rows = sqlx::query(
        "SELECT column_name::text AS name, data_type::text AS data_type, \
         is_identity = 'YES' OR coalesce(column_default, '') LIKE 'nextval(%' AS numbered \
         FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
    )
    .bind(table)
    .fetch_all(&mut *db)
    .await?;
    rows.iter()
        .map(|row| {
            let name: String = row.try_get("name")?;
            let data_type: String = row.try_get("data_type")?;
            let kind = ColumnKind::of(&data_type).ok_or_else(|| CopyError::UnsupportedType {
                table: table.to_owned(),
                column: name.clone(),
                data_type,
            })?;
            Ok(TargetColumn {
                name,
                kind,
                numbered: row.try_get("numbered")?,
            })
        })
        .collect()
}

/// The other tables that rows of `table` refer to; a table referring to itself needs no
/// other table first.
async fn parents_of(db: &mut PgConnection, table: &str) -> Result<BTreeSet<String>, CopyError> {
    let parents = sqlx::query_scalar::<_, String>(
        "SELECT DISTINCT parent.table_name::text FROM information_schema.referential_constraints r \
         JOIN information_schema.table_constraints child \
           ON child.constraint_schema = r.constraint_schema AND child.constraint_name = r.constraint_name \
         JOIN information_schema.table_constraints parent \
           ON parent.constraint_schema = r.unique_constraint_schema \
          AND parent.constraint_name = r.unique_constraint_name \
         WHERE r.constraint_schema = current_schema() AND child.table_name = $1",
    )
    .bind(table)
    .fetch_all(&mut *db)
    .await?;
    Ok(parents.into_iter().filter(|parent| parent != table).collect())
}

/// The tables of the source with their columns, SQLite's own tables and the migration
/// bookkeeping aside.
pub async fn source_tables(db: &mut SqliteConnection) -> Result<BTreeMap<String, BTreeSet<String>>, CopyError> {
    let names = sqlx::query_scalar::<_, String>(
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
         AND name <> ?",
    )
    .bind(MIGRATIONS_TABLE)
    .fetch_all(&mut *db)
    .await?;
    let mut tables = BTreeMap::new();
    for name in names {
        let columns = sqlx::query_scalar::<_, String>("SELECT name FROM pragma_table_info(?)")
            .bind(&name)
            .fetch_all(&mut *db)
            .await?;
        tables.insert(name, columns.into_iter().collect());
    }
    Ok(tables)
}

/// The highest id each `AUTOINCREMENT` table ever handed out, which may exceed the highest
/// id it still holds: SQLite never hands an id out twice, and neither may the target.
pub async fn source_ids_used(db: &mut SqliteConnection) -> Result<BTreeMap<String, i64>, CopyError> {
    let has_sequences: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE name = 'sqlite_sequence')")
            .fetch_one(&mut *db)
            .await?;
    if !has_sequences {
        return Ok(BTreeMap::new());
    }
    let rows = sqlx::query("SELECT name, seq FROM sqlite_sequence")
        .fetch_all(&mut *db)
        .await?;
    rows.iter()
        .map(|row| Ok((row.try_get("name")?, row.try_get("seq")?)))
        .collect()
}

/// The tables in an order in which every table comes after the tables it refers to
/// (alphabetical among those that are free to go), so that inserting them in this order
/// satisfies every foreign key.
pub fn in_dependency_order(tables: Vec<TargetTable>) -> Result<Vec<TargetTable>, CopyError> {
    let mut waiting: BTreeMap<String, TargetTable> = tables.into_iter().map(|t| (t.name.clone(), t)).collect();
    let mut ordered: Vec<TargetTable> = Vec::with_capacity(waiting.len());
    while !waiting.is_empty() {
        let done: BTreeSet<&str> = ordered.iter().map(|t| t.name.as_str()).collect();
        let next = waiting
            .values()
            .find(|table| table.parents.iter().all(|parent| done.contains(parent.as_str())))
            .map(|table| table.name.clone());
        let Some(next) = next else {
            return Err(CopyError::ForeignKeyCycle(waiting.into_keys().collect()));
        };
        let table = waiting.remove(&next).expect("found among the waiting tables");
        ordered.push(table);
    }
    Ok(ordered)
}

/// `name` as an SQL identifier, quoted so that any name works (`current_role` is a
/// keyword of PostgreSQL) in both databases.
pub fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(name: &str, parents: &[&str]) -> TargetTable {
        TargetTable {
            name: name.into(),
            columns: Vec::new(),
            parents: parents.iter().map(|p| p.to_string()).collect(),
        }
    }

    #[test]
    fn parents_come_first() {
        let tables = vec![
            table("rooms", &["templates", "workspaces"]),
            table("events", &["workspaces"]),
            table("templates", &["workspaces"]),
            table("workspaces", &[]),
            table("room_codes", &["rooms"]),
        ];
        let order: Vec<String> = in_dependency_order(tables)
            .unwrap()
            .into_iter()
            .map(|t| t.name)
            .collect();
        assert_eq!(order, ["workspaces", "events", "templates", "rooms", "room_codes"]);
    }

    #[test]
    fn a_cycle_is_refused() {
        let tables = vec![table("a", &["b"]), table("b", &["a"]), table("c", &[])];
        match in_dependency_order(tables) {
            Err(CopyError::ForeignKeyCycle(names)) => assert_eq!(names, ["a", "b"]),
            other => panic!("expected a cycle, got {other:?}"),
        }
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quoted("current_role"), "\"current_role\"");
        assert_eq!(quoted("we\"ird"), "\"we\"\"ird\"");
    }
}
