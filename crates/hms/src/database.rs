//! `hms database …`: moving a deployment's data from one database to another.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use hms_server::admin::{Node, NodeError};
use hms_store::copy::{self, CopyError, CopyReport};
use hms_store::{DatabaseUrl, Durability, PgStore, SqliteStore, Store, StoreError};

#[derive(Subcommand)]
pub enum DatabaseCommand {
    /// Copy everything in a data dir's embedded SQLite database into an empty PostgreSQL
    /// database, in one transaction, to run one or more servers on it with --database-url.
    Copy(CopyArgs),
}

#[derive(Args)]
pub struct CopyArgs {
    /// The data dir whose database is copied; no server may run on it meanwhile.
    #[arg(long, env = "HMS_DATA_DIR", default_value = "./hms-data")]
    data_dir: PathBuf,
    /// The PostgreSQL database to copy into (postgres://…); no server may have used it yet.
    #[arg(long, env = "HMS_DATABASE_URL", hide_env_values = true)]
    database_url: String,
}

#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    /// The URL itself is not shown: it may hold a password.
    #[error("--database-url must name a PostgreSQL database (postgres://user:password@host:port/database)")]
    NotPostgres,
    #[error("{0} holds no openhms database: nothing to copy")]
    NoDatabase(String),
    #[error("the data dir {0} is in use by a running hms serve: stop it before copying its database")]
    InUse(String),
    #[error(transparent)]
    Node(NodeError),
    #[error("cannot open the data dir's database: {0}")]
    Source(StoreError),
    #[error("cannot open the database {url}: {error}")]
    Target { url: DatabaseUrl, error: StoreError },
    #[error("nothing was copied: {0}")]
    Copy(#[from] CopyError),
}

pub async fn run(command: DatabaseCommand) -> Result<(), DatabaseError> {
    match command {
        DatabaseCommand::Copy(args) => copy_data_dir(args).await,
    }
}

async fn copy_data_dir(args: CopyArgs) -> Result<(), DatabaseError> {
    let url = DatabaseUrl::new(args.database_url);
    if !url.is_postgres() {
        return Err(DatabaseError::NotPostgres);
    }
    let data_dir = args.data_dir;
    if !SqliteStore::exists_in(&data_dir) {
        return Err(DatabaseError::NoDatabase(data_dir.display().to_string()));
    }
    // Held until the copy ends, as a server holds it: none can start on the data dir
    // and write to the database while it is read.
    let _node = claim(&data_dir)?;
    let source = SqliteStore::open(&data_dir, Durability::Process)
        .await
        .map_err(DatabaseError::Source)?;
    let target = match PgStore::connect(url.expose()).await {
        Ok(target) => target,
        Err(error) => {
            source.close().await;
            return Err(DatabaseError::Target { url, error });
        }
    };
    let copied = copy::sqlite_to_postgres(&source, &target).await;
    source.close().await;
    target.close().await;
    print_report(&data_dir, &url, &copied?);
    Ok(())
}

fn claim(data_dir: &Path) -> Result<Node, DatabaseError> {
    Node::claim(data_dir).map_err(|error| match error {
        NodeError::InUse(dir) => DatabaseError::InUse(dir),
        other => DatabaseError::Node(other),
    })
}

fn print_report(data_dir: &Path, url: &DatabaseUrl, report: &CopyReport) {
    println!("Copied the database of {} into {url}:", data_dir.display());
    let width = report.tables.iter().map(|table| table.name.len()).max().unwrap_or(0);
    println!("  {:<width$}  {:>8}", "TABLE", "ROWS");
    for table in &report.tables {
        println!("  {:<width$}  {:>8}", table.name, table.rows);
    }
    println!(
        "{} rows in {} tables. Start the servers with --database-url to use it.",
        report.total_rows(),
        report.tables.len()
    );
}
