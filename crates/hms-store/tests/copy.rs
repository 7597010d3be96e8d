//! `copy::sqlite_to_postgres` on databases changed behind the stores' backs: ids SQLite
//! handed out and deleted, the webhook planner's cursor, and schemas or values that do not
//! fit, which must leave the target as it was.
//!
//! Runs only when `HMS_TEST_POSTGRES_URL` names an admin URL (`scripts/postgres.sh` starts
//! a throwaway cluster and prints one); every test here is ignored unless asked for with
//! `--include-ignored` (the PostgreSQL pass of `scripts/test.sh`).

use std::path::Path;
use std::str::FromStr;

use hms_store::copy::{self, CopyError, SourceValue};
use hms_store::{Durability, PgStore, SqliteStore, Store};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection, SqliteConnection};

mod common;

use common::{TestDatabase, new_workspace};

/// A data dir with a database holding one workspace, and an empty PostgreSQL database.
struct Databases {
    _data_dir: tempfile::TempDir,
    source: SqliteStore,
    /// A connection of its own to the source, for what the store never does.
    source_sql: SqliteConnection,
    target: PgStore,
    target_db: TestDatabase,
    workspace_id: String,
}

impl Databases {
    /// Panics when no PostgreSQL was given (the tests that call this are ignored unless
    /// asked for).
    async fn create() -> Self {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let source = SqliteStore::open(data_dir.path(), Durability::Process)
            .await
            .expect("open the source");
        let workspace = source.create_workspace(&new_workspace()).await.expect("a workspace");
        let source_sql = connect_sqlite(data_dir.path()).await;
        let target_db = TestDatabase::create_named("hms_test_copy").await;
        let target = PgStore::connect(&target_db.url).await.expect("open the target");
        Self {
            _data_dir: data_dir,
            source,
            source_sql,
            target,
            target_db,
            workspace_id: workspace.id,
        }
    }

    async fn source_sql(&mut self, sql: &str) {
        self.source_sql
            .execute(AssertSqlSafe(sql.to_owned()))
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    async fn target_number(&self, sql: &str) -> i64 {
        let mut db = PgConnection::connect(&self.target_db.url)
            .await
            .expect("connect to the target");
        sqlx::query_scalar(AssertSqlSafe(sql.to_owned()))
            .fetch_one(&mut db)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    async fn copy(&self) -> Result<copy::CopyReport, CopyError> {
        copy::sqlite_to_postgres(&self.source, &self.target).await
    }

    /// The copy failed and wrote nothing: the target has no workspace.
    async fn assert_target_empty(&self) {
        assert_eq!(self.target_number("SELECT count(*) FROM workspaces").await, 0);
        assert_eq!(self.target_number("SELECT count(*) FROM templates").await, 0);
    }

    /// Closes the stores and removes the target database.
    async fn close(self) {
        self.source.close().await;
        self.target.close().await;
        self.target_db.destroy().await;
    }
}

/// The error of a copy from a source changed by `sql` first, which must write nothing.
async fn refused_copy(sql: &str) -> CopyError {
    let mut db = Databases::create().await;
    db.source_sql(sql).await;
    let error = db.copy().await.expect_err("the copy is refused");
    db.assert_target_empty().await;
    db.close().await;
    error
}

async fn connect_sqlite(data_dir: &Path) -> SqliteConnection {
    let options = SqliteConnectOptions::from_str("sqlite:")
        .expect("options")
        .filename(data_dir.join("openhms.db"))
        .foreign_keys(true);
    SqliteConnection::connect_with(&options)
        .await
        .expect("connect to the source")
}

fn rows_of(report: &copy::CopyReport, table: &str) -> u64 {
    report
        .tables
        .iter()
        .find(|copied| copied.name == table)
        .unwrap_or_else(|| panic!("{table} was not copied: {report:?}"))
        .rows
}

#[tokio::test]
#[ignore = "needs PostgreSQL (HMS_TEST_POSTGRES_URL)"]
async fn ids_are_never_handed_out_twice_and_unplanned_events_stay_unplanned() {
    let mut db = Databases::create().await;
    for n in 1..=5 {
        db.source_sql(&format!(
            "INSERT INTO peer_deliveries (room_id, peer_id, kind, fields, at_ns) VALUES ('r', 'p', 'message', '{{}}', {n})"
        ))
        .await;
        db.source_sql(&format!(
            "INSERT INTO events (id, workspace_id, room_id, kind, payload, created_ns) \
             VALUES ('event-{n}', '{}', 'r', 'peer.join.success', '{{}}', {n})",
            db.workspace_id
        ))
        .await;
    }
    db.source_sql("DELETE FROM peer_deliveries WHERE id > 3").await;
    db.source_sql("UPDATE webhook_planner SET last_seq = 2").await;

    let report = db.copy().await.expect("the copy succeeds");
    assert_eq!(rows_of(&report, "workspaces"), 1);
    assert_eq!(rows_of(&report, "peer_deliveries"), 3);
    assert_eq!(rows_of(&report, "events"), 5);
    assert_eq!(rows_of(&report, "webhook_unplanned"), 3);
    assert_eq!(rows_of(&report, "credentials_version"), 1);
    assert!(report.tables.iter().all(|copied| copied.name != "_sqlx_migrations"));
    assert!(report.tables.iter().all(|copied| copied.name != "webhook_planner"));
    let position = |table: &str| report.tables.iter().position(|copied| copied.name == table);
    assert!(position("workspaces") < position("templates"));
    assert!(position("events") < position("webhook_unplanned"));

    assert_eq!(
        db.target_number("SELECT nextval(pg_get_serial_sequence('peer_deliveries', 'id'))")
            .await,
        6,
        "ids 4 and 5 were handed out by SQLite"
    );
    assert_eq!(
        db.target_number("SELECT nextval(pg_get_serial_sequence('events', 'seq'))")
            .await,
        6
    );
    assert_eq!(
        db.target_number("SELECT nextval(pg_get_serial_sequence('webhook_deliveries', 'id'))")
            .await,
        1
    );
    assert_eq!(
        db.target_number("SELECT min(seq) * 10 + max(seq) FROM webhook_unplanned")
            .await,
        35
    );
    let version = db.source.credentials_version().await.expect("a version");
    assert_eq!(db.target.credentials_version().await.expect("a version"), version);
    assert!(version > 0);
    db.close().await;
}

#[tokio::test]
#[ignore = "needs PostgreSQL (HMS_TEST_POSTGRES_URL)"]
async fn a_column_only_one_database_has_is_refused() {
    match refused_copy("ALTER TABLE rooms ADD COLUMN colour TEXT").await {
        CopyError::ColumnsDiffer {
            table,
            only_in_source,
            only_in_target,
        } => {
            assert_eq!(table, "rooms");
            assert_eq!(only_in_source, ["colour"]);
            assert!(only_in_target.is_empty());
        }
        other => panic!("expected differing columns, got {other:?}"),
    }
}

#[tokio::test]
#[ignore = "needs PostgreSQL (HMS_TEST_POSTGRES_URL)"]
async fn a_table_only_the_source_has_is_refused() {
    match refused_copy("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)").await {
        CopyError::MissingInTarget(table) => assert_eq!(table, "notes"),
        other => panic!("expected a missing table, got {other:?}"),
    }
}

#[tokio::test]
#[ignore = "needs PostgreSQL (HMS_TEST_POSTGRES_URL)"]
async fn a_value_without_meaning_in_the_target_fails_the_whole_copy() {
    // SQLite takes any value in any column; a boolean of 2 means nothing. The workspace,
    // copied before the template, goes with the rolled-back transaction.
    let error = refused_copy("UPDATE templates SET is_default = 2").await;
    match &error {
        CopyError::Unconvertible {
            table,
            row,
            column,
            value,
            ..
        } => {
            assert_eq!((table.as_str(), *row, column.as_str()), ("templates", 1, "is_default"));
            assert_eq!(value, &SourceValue::Integer(2));
        }
        other => panic!("expected an unconvertible value, got {other:?}"),
    }
    assert_eq!(
        error.to_string(),
        "row 1 of table templates: column is_default holds the integer 2, which has no boolean equivalent"
    );
}
