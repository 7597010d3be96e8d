//! Which database a server (or an admin command) works on.

use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::{Durability, PgStore, SqliteStore, Store, StoreResult};

/// A PostgreSQL connection URL. It may hold a password, so it shows only its host and
/// database when printed.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether it names a PostgreSQL database, the only server database openhms speaks.
    pub fn is_postgres(&self) -> bool {
        self.0.starts_with("postgres://") || self.0.starts_with("postgresql://")
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (scheme, rest) = self.0.split_once("://").unwrap_or(("?", &self.0));
        let host_and_path = rest.rsplit_once('@').map_or(rest, |(_, after)| after);
        let without_query = host_and_path.split('?').next().unwrap_or_default();
        write!(f, "{scheme}://…@{without_query}")
    }
}

impl std::fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, f)
    }
}

/// Where the data lives: the embedded SQLite database of a data dir, or a PostgreSQL
/// database that several nodes share.
#[derive(Debug, Clone)]
pub enum StoreLocation {
    Embedded { data_dir: PathBuf, durability: Durability },
    Postgres(DatabaseUrl),
}

impl StoreLocation {
    /// PostgreSQL when a database URL is given, else the data dir's own database.
    pub fn choose(database_url: Option<&DatabaseUrl>, data_dir: PathBuf, durability: Durability) -> Self {
        match database_url {
            Some(url) => Self::Postgres(url.clone()),
            None => Self::Embedded { data_dir, durability },
        }
    }

    /// Opens the store, creating and migrating the database as needed.
    pub async fn open(&self) -> StoreResult<Arc<dyn Store>> {
        Ok(match self {
            Self::Embedded { data_dir, durability } => Arc::new(SqliteStore::open(data_dir, *durability).await?),
            Self::Postgres(url) => Arc::new(PgStore::connect(url.expose()).await?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printing_a_url_hides_its_credentials() {
        let url = DatabaseUrl::new("postgres://app:s3cret@db.internal:5432/openhms?sslmode=require");
        assert_eq!(format!("{url:?}"), "postgres://…@db.internal:5432/openhms");
        assert_eq!(url.to_string(), "postgres://…@db.internal:5432/openhms");
        assert!(url.is_postgres());
        assert!(!DatabaseUrl::new("mysql://x").is_postgres());
    }
}
