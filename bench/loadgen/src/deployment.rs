//! What the benchmark runs against: one `hms` node on its embedded SQLite store, or one
//! or several nodes sharing a PostgreSQL database, each run on a fresh store.

use std::path::{Path, PathBuf};

use hyper::header::HeaderValue;

use crate::load::Target;
use crate::server::{Credentials, Process, start_hms_on};

/// The store of a run: SQLite in the first node's data dir, or a database of its own on a
/// PostgreSQL server.
pub enum Backend {
    Sqlite,
    Postgres {
        /// A URL of the server with the right to create databases (as `scripts/postgres.sh`
        /// prints it).
        admin_url: String,
        /// The server's postmaster, whose CPU (with its backends') is reported.
        postmaster: Option<u32>,
    },
}

impl Backend {
    /// PostgreSQL when `admin_url` is given; `data_dir` (the server's) finds its postmaster.
    pub fn new(admin_url: Option<String>, data_dir: Option<&Path>) -> Result<Self, String> {
        let Some(admin_url) = admin_url else {
            return Ok(Backend::Sqlite);
        };
        let postmaster = match data_dir {
            Some(dir) => Some(postmaster_pid(dir)?),
            None => None,
        };
        Ok(Backend::Postgres { admin_url, postmaster })
    }

    /// A new empty store named after `name` (its database URL on PostgreSQL).
    pub async fn fresh_store(&self, name: &str) -> Result<Store, String> {
        match self {
            Backend::Sqlite => Ok(Store { database_url: None }),
            Backend::Postgres { admin_url, .. } => {
                let database = format!("hms_bench_{name}_{}", std::process::id());
                let admin = sqlx::postgres::PgPoolOptions::new()
                    .max_connections(1)
                    .connect(admin_url)
                    .await
                    .map_err(|e| format!("PostgreSQL at {admin_url}: {e}"))?;
                for statement in [
                    format!("DROP DATABASE IF EXISTS {database}"),
                    format!("CREATE DATABASE {database}"),
                ] {
                    sqlx::query(sqlx::AssertSqlSafe(statement))
                        .execute(&admin)
                        .await
                        .map_err(|e| format!("creating database {database}: {e}"))?;
                }
                admin.close().await;
                Ok(Store {
                    database_url: Some(with_database(admin_url, &database)),
                })
            }
        }
    }

    fn postmaster(&self) -> Option<u32> {
        match self {
            Backend::Sqlite => None,
            Backend::Postgres { postmaster, .. } => *postmaster,
        }
    }
}

/// A store the nodes of a run share.
pub struct Store {
    pub database_url: Option<String>,
}

/// The nodes of a run, each with a data dir of its own under `work`.
pub struct Deployment {
    pub nodes: Vec<Process>,
    postmaster: Option<u32>,
}

impl Deployment {
    /// Starts `count` nodes on `store`, one after the other (the first creates the schema
    /// and the workspace).
    pub async fn start(
        bin: &Path,
        work: &Path,
        name: &str,
        backend: &Backend,
        store: &Store,
        count: usize,
        credentials: &Credentials,
    ) -> Result<Self, String> {
        let mut nodes = Vec::with_capacity(count);
        for i in 0..count.max(1) {
            let data_dir = node_dir(work, name, i);
            nodes.push(start_hms_on(bin, &data_dir, store.database_url.as_deref(), credentials).await?);
        }
        Ok(Self {
            nodes,
            postmaster: backend.postmaster(),
        })
    }

    /// The first node: the one set up through and whose footprint is reported.
    pub fn first(&self) -> &Process {
        &self.nodes[0]
    }

    pub fn target(&self, auth: &HeaderValue) -> Target {
        Target {
            addrs: self.nodes.iter().map(|node| node.addr).collect(),
            auth: auth.clone(),
            pids: self.nodes.iter().map(|node| node.pid).collect(),
            database_pid: self.postmaster,
        }
    }

    pub async fn stop(self) -> Result<(), String> {
        for node in self.nodes {
            node.stop().await?;
        }
        Ok(())
    }
}

/// The data dir of node `i` of the run `name`.
pub fn node_dir(work: &Path, name: &str, i: usize) -> PathBuf {
    if i == 0 {
        work.join(name)
    } else {
        work.join(format!("{name}-node{}", i + 1))
    }
}

/// `url` with its database replaced by `database`.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let server = base.rsplit_once('/').map_or(base, |(server, _)| server);
    match query {
        Some(query) => format!("{server}/{database}?{query}"),
        None => format!("{server}/{database}"),
    }
}

/// The pid on the first line of a PostgreSQL data dir's `postmaster.pid`.
fn postmaster_pid(data_dir: &Path) -> Result<u32, String> {
    let file = data_dir.join("postmaster.pid");
    let text = std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
    text.lines()
        .next()
        .and_then(|line| line.trim().parse().ok())
        .ok_or_else(|| format!("{}: no pid on its first line", file.display()))
}
