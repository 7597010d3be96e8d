//! Fixtures the store's test binaries share: a workspace to start from, its records, and
//! throwaway PostgreSQL databases. Each binary uses some of them.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use hms_auth::AppSecret;
use hms_store::{NewWorkspace, RoomOptions, RoomRecord, SecretRecord, TemplateRecord, Workspace};
use hms_types::Timestamp;
use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};

pub const WORKSPACE: &str = "ws-1";
pub const TEMPLATE: &str = "tpl-1";

/// Workspace `WORKSPACE` with secret `secret-1` and its default template `TEMPLATE`.
pub fn new_workspace() -> NewWorkspace {
    let now = Timestamp::now();
    NewWorkspace {
        workspace: Workspace {
            id: WORKSPACE.into(),
            name: "default".into(),
            access_key: "access-key-1".into(),
            customer_id: "customer-1".into(),
            app_id: "app-1".into(),
            created_at: now,
        },
        secret: secret("secret-1"),
        default_template: TemplateRecord {
            id: TEMPLATE.into(),
            workspace_id: WORKSPACE.into(),
            is_default: true,
            body: serde_json::from_value(serde_json::json!({"name": "default", "roles": {}})).unwrap(),
            revision: 0,
            created_at: now,
            updated_at: now,
        },
    }
}

pub fn secret(id: &str) -> SecretRecord {
    SecretRecord {
        id: id.into(),
        secret: AppSecret::new(format!("{id}-value")),
        created_at: Timestamp::now(),
        retired_at: None,
    }
}

/// A room of `WORKSPACE` on `template_id`.
pub fn room_on(id: &str, name: &str, template_id: &str) -> RoomRecord {
    let now = Timestamp::now();
    RoomRecord {
        id: id.into(),
        workspace_id: WORKSPACE.into(),
        name: name.into(),
        enabled: true,
        description: String::new(),
        template_id: template_id.into(),
        region: "in".into(),
        large_room: false,
        options: RoomOptions::default(),
        created_at: now,
        updated_at: now,
    }
}

const ADMIN_URL_VAR: &str = "HMS_TEST_POSTGRES_URL";

/// The PostgreSQL admin URL the tests were given. Panics when none was (the tests that
/// call this are ignored unless asked for).
pub fn admin_url() -> String {
    std::env::var(ADMIN_URL_VAR)
        .unwrap_or_else(|_| panic!("set {ADMIN_URL_VAR} to a PostgreSQL admin URL (scripts/postgres.sh)"))
}

/// A database of its own for one test, on the server of [`admin_url`].
pub struct TestDatabase {
    admin_url: String,
    pub name: String,
    pub url: String,
}

impl TestDatabase {
    /// Creates an empty database named after `prefix`, with a collation that does not sort
    /// byte by byte where ICU is there (so that any ordering that forgot SQLite's byte
    /// order shows). Panics when no PostgreSQL was given (the tests that call this are
    /// ignored unless asked for).
    pub async fn create_named(prefix: &str) -> Self {
        static CREATED: AtomicU64 = AtomicU64::new(0);
        let admin_url = admin_url();
        let stamp = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
        let name = format!("{prefix}_{stamp}_{}", CREATED.fetch_add(1, Ordering::Relaxed));
        let mut admin = PgConnection::connect(&admin_url).await.expect("connect as admin");
        let icu = format!("CREATE DATABASE {name} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US'");
        if admin.execute(AssertSqlSafe(icu)).await.is_err() {
            admin
                .execute(AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .await
                .expect("create the test database");
        }
        let url = with_database(&admin_url, &name);
        Self { admin_url, name, url }
    }

    /// Drops the database, closing what is still connected to it.
    pub async fn destroy(self) {
        let mut admin = PgConnection::connect(&self.admin_url).await.expect("connect as admin");
        admin
            .execute(AssertSqlSafe(format!("DROP DATABASE {} WITH (FORCE)", self.name)))
            .await
            .expect("drop the test database");
    }
}

/// The admin URL with its database replaced by `name`.
fn with_database(admin_url: &str, name: &str) -> String {
    let (base, query) = admin_url
        .split_once('?')
        .map_or((admin_url, None), |(b, q)| (b, Some(q)));
    let server = base.rsplit_once('/').map_or(base, |(server, _)| server);
    match query {
        Some(query) => format!("{server}/{name}?{query}"),
        None => format!("{server}/{name}"),
    }
}
