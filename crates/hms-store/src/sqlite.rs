//! The embedded SQLite store: one file in the data dir, WAL mode, foreign keys on.
//!
//! Writes go through a pool of one connection, so they never contend inside a process;
//! reads use their own pool and run in parallel with them, but for the hottest reads of
//! one row by a unique key, which run on the caller's thread, and the pages of lists, which
//! run on a blocking thread, both without sqlx (see `point_reads` and `lists`).

use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use async_trait::async_trait;
use hms_auth::AppSecret;
use hms_types::room::RoomFilter;
use hms_types::room_code::{RoomCode, RoomCodeFilter};
use hms_types::session::SessionFilter;
use hms_types::simulate::Delivery;
use hms_types::{PreciseTime, Timestamp};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, Row, Sqlite, Transaction};
use tokio::sync::broadcast;

mod gauges;
mod idempotency;
mod lists;
mod live_writes;
mod placements;
mod point_reads;
mod room_inserts;

use crate::codec::*;
use crate::records::*;
use crate::{ClaimOutcome, IdempotencyClaim, StoreGauges, StoredResponse};
use crate::{CodeGenerator, MAX_CODES_PER_ROOM, Store, StoreError, StoreResult, Topic};
use live_writes::LiveWrites;
use point_reads::{PointReads, off_thread, snapshot};
use room_inserts::RoomInserts;

/// How hard a commit tries to reach the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// Survives a crash of the process (`kill -9`); the last commits may be lost on power
    /// loss. SQLite's `synchronous=NORMAL` in WAL mode.
    #[default]
    Process,
    /// Survives power loss too, at the price of an fsync per commit (`synchronous=FULL`).
    Power,
}

pub struct SqliteStore {
    pub(crate) reader: SqlitePool,
    point_reads: Arc<PointReads>,
    writer: SqlitePool,
    room_inserts: RoomInserts,
    live_writes: LiveWrites,
    notices: broadcast::Sender<Topic>,
    /// Never sent on: one process at a time serves an embedded database.
    room_notices: broadcast::Sender<String>,
}

const FILE_NAME: &str = "openhms.db";
const READ_CONNECTIONS: u32 = 4;
/// Page cache of each read connection (negative: KiB): 16 MiB keeps the upper levels of a
/// million rooms' indexes in memory, where SQLite's default 2 MiB re-reads them; it is
/// filled only as pages are read, so an idle server does not pay for it.
const READER_CACHE_KIB: i64 = 16384;
/// Notices a slow subscriber may fall behind by; it then reloads everything anyway.
const NOTICE_BACKLOG: usize = 16;

impl SqliteStore {
    /// Whether `data_dir` holds a database (`open` would create an empty one otherwise).
    pub fn exists_in(data_dir: &Path) -> bool {
        data_dir.join(FILE_NAME).is_file()
    }

    /// Opens (creating if needed) the database in `data_dir` and applies migrations.
    pub async fn open(data_dir: &Path, durability: Durability) -> StoreResult<Self> {
        std::fs::create_dir_all(data_dir).map_err(|e| StoreError::Database(sqlx::Error::Io(e)))?;
        let path = data_dir.join(FILE_NAME);
        let options = SqliteConnectOptions::from_str("sqlite:")?
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(match durability {
                Durability::Process => SqliteSynchronous::Normal,
                Durability::Power => SqliteSynchronous::Full,
            })
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        // No ping before each acquire: it costs a round trip to the connection's thread,
        // as much as a query, and a local file does not go away like a network peer.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&writer)
            .await
            .map_err(|e| StoreError::Database(e.into()))?;
        let reader = SqlitePoolOptions::new()
            .max_connections(READ_CONNECTIONS)
            .test_before_acquire(false)
            .connect_with(
                options
                    .read_only(true)
                    .pragma("cache_size", (-READER_CACHE_KIB).to_string()),
            )
            .await?;
        let (notices, _) = broadcast::channel(NOTICE_BACKLOG);
        let (room_notices, _) = broadcast::channel(1);
        Ok(Self {
            reader,
            live_writes: LiveWrites::start(&path, durability)?,
            point_reads: Arc::new(PointReads::new(path, READER_CACHE_KIB)),
            room_inserts: RoomInserts::start(writer.clone()),
            writer,
            notices,
            room_notices,
        })
    }

    /// Commits a change of credentials and tells this process's caches; no other process
    /// opens the data dir.
    async fn commit_credentials(&self, mut tx: Transaction<'static, Sqlite>) -> StoreResult<()> {
        bump_credentials_version(&mut tx).await?;
        tx.commit().await?;
        let _ = self.notices.send(Topic::Credentials);
        Ok(())
    }

    async fn begin(&self) -> StoreResult<Transaction<'static, Sqlite>> {
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
    }
}

// The point reads' statements, built once: they run on every room get and code exchange.
static ROOM_BY_ID: LazyLock<String> =
    LazyLock::new(|| format!("{ROOM_VIEW_SELECT} WHERE r.workspace_id = ? AND r.id = ?"));
static ROOM_BY_NAME: LazyLock<String> =
    LazyLock::new(|| format!("{ROOM_VIEW_SELECT} WHERE r.workspace_id = ? AND r.name_key = ?"));
static CODE_BINDING_BY_CODE: LazyLock<String> = LazyLock::new(|| format!("{CODE_BINDING_SELECT} WHERE c.code = ?"));

const CODE_COLUMNS: &str = "code, room_id, role, enabled, created_at, updated_at";

async fn bump_credentials_version(tx: &mut Transaction<'static, Sqlite>) -> StoreResult<()> {
    sqlx::query("UPDATE credentials_version SET version = version + 1 WHERE id = 1")
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn insert_template_in(tx: &mut Transaction<'static, Sqlite>, t: &TemplateRecord) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO templates (id, workspace_id, name, name_key, is_default, role_names, recording_enabled, \
         body, revision, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&t.id)
    .bind(&t.workspace_id)
    .bind(&t.body.name)
    .bind(name_key(&t.body.name))
    .bind(t.is_default)
    .bind(role_names(&t.body))
    .bind(recording_enabled(&t.body))
    .bind(to_json(&t.body))
    .bind(t.revision)
    .bind(t.created_at.unix_millis())
    .bind(t.updated_at.unix_millis())
    .execute(&mut **tx)
    .await
    .map_err(|e| unique_violation(e, "a template with this name"))?;
    Ok(())
}

async fn insert_code_in(
    tx: &mut Transaction<'static, Sqlite>,
    room_id: &str,
    role: &str,
    generate: CodeGenerator<'_>,
    now: Timestamp,
) -> StoreResult<RoomCode> {
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM room_codes WHERE room_id = ?")
        .bind(room_id)
        .fetch_one(&mut **tx)
        .await?;
    if count as usize >= MAX_CODES_PER_ROOM {
        return Err(StoreError::TooManyCodes);
    }
    // Codes are random; a clash with an existing one is rare but possible, so try again.
    const ATTEMPTS: usize = 8;
    for _ in 0..ATTEMPTS {
        let code = generate();
        let inserted = sqlx::query(
            "INSERT INTO room_codes (code, room_id, role, enabled, seq, created_at, updated_at) \
             SELECT ?, ?, ?, 1, COALESCE(MAX(seq), 0) + 1, ?, ? FROM room_codes WHERE room_id = ? \
             ON CONFLICT (code) DO NOTHING",
        )
        .bind(&code)
        .bind(room_id)
        .bind(role)
        .bind(now.unix_millis())
        .bind(now.unix_millis())
        .bind(room_id)
        .execute(&mut **tx)
        .await?;
        if inserted.rows_affected() == 1 {
            return Ok(RoomCode {
                code,
                room_id: room_id.to_owned(),
                role: role.to_owned(),
                enabled: true,
                created_at: now,
                updated_at: now,
            });
        }
    }
    Err(StoreError::Conflict("a room code"))
}

#[async_trait]
impl Store for SqliteStore {
    fn subscribe(&self) -> broadcast::Receiver<Topic> {
        self.notices.subscribe()
    }

    async fn close(&self) {
        self.live_writes.close().await;
        self.point_reads.close();
        self.reader.close().await;
        self.writer.close().await;
    }

    async fn create_workspace(&self, new: &NewWorkspace) -> StoreResult<Workspace> {
        let mut tx = self.begin().await?;
        let w = &new.workspace;
        sqlx::query(
            "INSERT INTO workspaces (id, name, access_key, customer_id, app_id, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&w.id)
        .bind(&w.name)
        .bind(&w.access_key)
        .bind(&w.customer_id)
        .bind(&w.app_id)
        .bind(w.created_at.unix_millis())
        .execute(&mut *tx)
        .await
        .map_err(|e| unique_violation(e, "a workspace with this name or access key"))?;
        insert_secret_in(&mut tx, &w.id, &new.secret).await?;
        insert_template_in(&mut tx, &new.default_template).await?;
        self.commit_credentials(tx).await?;
        Ok(w.clone())
    }

    async fn workspaces(&self) -> StoreResult<Vec<Workspace>> {
        sqlx::query("SELECT * FROM workspaces ORDER BY created_at, id")
            .fetch_all(&self.reader)
            .await?
            .iter()
            .map(workspace_from)
            .collect()
    }

    async fn workspace_by_name(&self, name: &str) -> StoreResult<Option<Workspace>> {
        sqlx::query("SELECT * FROM workspaces WHERE name = ?")
            .bind(name)
            .fetch_optional(&self.reader)
            .await?
            .as_ref()
            .map(workspace_from)
            .transpose()
    }

    async fn credentials(&self) -> StoreResult<Vec<WorkspaceCredentials>> {
        let mut all: Vec<WorkspaceCredentials> = self
            .workspaces()
            .await?
            .into_iter()
            .map(|workspace| WorkspaceCredentials {
                workspace,
                secrets: Vec::new(),
            })
            .collect();
        let rows = sqlx::query(
            "SELECT workspace_id, secret FROM app_secrets WHERE retired_at IS NULL ORDER BY created_at DESC, id",
        )
        .fetch_all(&self.reader)
        .await?;
        for row in rows {
            let workspace_id: String = row.try_get("workspace_id")?;
            if let Some(entry) = all.iter_mut().find(|c| c.workspace.id == workspace_id) {
                entry.secrets.push(AppSecret::new(row.try_get::<String, _>("secret")?));
            }
        }
        Ok(all)
    }

    async fn credentials_version(&self) -> StoreResult<i64> {
        Ok(
            sqlx::query_scalar("SELECT version FROM credentials_version WHERE id = 1")
                .fetch_one(&self.reader)
                .await?,
        )
    }

    async fn add_secret(&self, workspace_id: &str, secret: &SecretRecord) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        insert_secret_in(&mut tx, workspace_id, secret).await?;
        self.commit_credentials(tx).await?;
        Ok(())
    }

    async fn secrets(&self, workspace_id: &str) -> StoreResult<Vec<SecretRecord>> {
        sqlx::query("SELECT * FROM app_secrets WHERE workspace_id = ? ORDER BY created_at, id")
            .bind(workspace_id)
            .fetch_all(&self.reader)
            .await?
            .iter()
            .map(secret_from)
            .collect()
    }

    async fn retire_secret(&self, workspace_id: &str, secret_id: &str, at: Timestamp) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        let live: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM app_secrets WHERE workspace_id = ? AND retired_at IS NULL")
                .bind(workspace_id)
                .fetch_one(&mut *tx)
                .await?;
        let retired = sqlx::query(
            "UPDATE app_secrets SET retired_at = ? WHERE workspace_id = ? AND id = ? AND retired_at IS NULL",
        )
        .bind(at.unix_millis())
        .bind(workspace_id)
        .bind(secret_id)
        .execute(&mut *tx)
        .await?;
        if retired.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        if live <= 1 {
            return Err(StoreError::LastLiveSecret);
        }
        self.commit_credentials(tx).await?;
        Ok(())
    }

    async fn insert_template(&self, template: &TemplateRecord) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        insert_template_in(&mut tx, template).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn replace_template(&self, t: &TemplateRecord, expected_revision: i64) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        let updated = sqlx::query(
            "UPDATE templates SET name = ?, name_key = ?, role_names = ?, recording_enabled = ?, body = ?, \
             revision = ?, updated_at = ? WHERE workspace_id = ? AND id = ? AND revision = ?",
        )
        .bind(&t.body.name)
        .bind(name_key(&t.body.name))
        .bind(role_names(&t.body))
        .bind(recording_enabled(&t.body))
        .bind(to_json(&t.body))
        .bind(t.revision)
        .bind(t.updated_at.unix_millis())
        .bind(&t.workspace_id)
        .bind(&t.id)
        .bind(expected_revision)
        .execute(&mut *tx)
        .await
        .map_err(|e| unique_violation(e, "a template with this name"))?;
        if updated.rows_affected() == 0 {
            let exists: Option<i64> =
                sqlx::query_scalar("SELECT revision FROM templates WHERE workspace_id = ? AND id = ?")
                    .bind(&t.workspace_id)
                    .bind(&t.id)
                    .fetch_optional(&mut *tx)
                    .await?;
            return Err(if exists.is_some() {
                StoreError::Stale
            } else {
                StoreError::NotFound
            });
        }
        tx.commit().await?;
        Ok(())
    }

    async fn template(&self, workspace_id: &str, id: &str) -> StoreResult<Option<TemplateRecord>> {
        // A point read: every join reads its room's template.
        self.point_reads.one(
            "SELECT * FROM templates WHERE workspace_id = ? AND id = ?",
            (workspace_id, id),
            |row| template_from(row),
        )
    }

    async fn template_by_name(&self, workspace_id: &str, name: &str) -> StoreResult<Option<TemplateRecord>> {
        sqlx::query("SELECT * FROM templates WHERE workspace_id = ? AND name_key = ?")
            .bind(workspace_id)
            .bind(name_key(name))
            .fetch_optional(&self.reader)
            .await?
            .as_ref()
            .map(template_from)
            .transpose()
    }

    async fn default_template(&self, workspace_id: &str) -> StoreResult<Option<TemplateRecord>> {
        sqlx::query("SELECT * FROM templates WHERE workspace_id = ? AND is_default = 1 ORDER BY id LIMIT 1")
            .bind(workspace_id)
            .fetch_optional(&self.reader)
            .await?
            .as_ref()
            .map(template_from)
            .transpose()
    }

    async fn templates(&self, workspace_id: &str, page: &PageRequest) -> StoreResult<Vec<TemplateRecord>> {
        let select = lists::templates(workspace_id, page);
        off_thread(&self.point_reads, move |c| select.all(c, |row| template_from(row))).await
    }

    async fn insert_room(&self, room: &RoomRecord) -> StoreResult<()> {
        self.room_inserts.insert(room).await
    }

    async fn update_room(&self, room: &RoomRecord, read_updated_at: Timestamp) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        let updated = sqlx::query(
            "UPDATE rooms SET name = ?, name_key = ?, enabled = ?, description = ?, template_id = ?, region = ?, \
             large_room = ?, options = ?, updated_at = ? WHERE workspace_id = ? AND id = ? AND updated_at = ?",
        )
        .bind(&room.name)
        .bind(name_key(&room.name))
        .bind(room.enabled)
        .bind(&room.description)
        .bind(&room.template_id)
        .bind(&room.region)
        .bind(room.large_room)
        .bind(to_json(&room.options))
        .bind(room.updated_at.unix_millis())
        .bind(&room.workspace_id)
        .bind(&room.id)
        .bind(read_updated_at.unix_millis())
        .execute(&mut *tx)
        .await
        .map_err(|e| unique_violation(e, "a room with this name"))?;
        if updated.rows_affected() == 0 {
            let exists: Option<i64> = sqlx::query_scalar("SELECT 1 FROM rooms WHERE workspace_id = ? AND id = ?")
                .bind(&room.workspace_id)
                .bind(&room.id)
                .fetch_optional(&mut *tx)
                .await?;
            return Err(if exists.is_some() {
                StoreError::Stale
            } else {
                StoreError::NotFound
            });
        }
        tx.commit().await?;
        Ok(())
    }

    async fn room(&self, workspace_id: &str, id: &str) -> StoreResult<Option<RoomView>> {
        self.point_reads
            .one(&ROOM_BY_ID, (workspace_id, id), |row| room_view_from(row))
    }

    async fn room_by_name(&self, workspace_id: &str, name: &str) -> StoreResult<Option<RoomView>> {
        self.point_reads
            .one(&ROOM_BY_NAME, (workspace_id, name_key(name)), |row| room_view_from(row))
    }

    async fn rooms(&self, workspace_id: &str, filter: &RoomFilter, page: &PageRequest) -> StoreResult<Vec<RoomView>> {
        let select = lists::rooms(workspace_id, filter, page);
        off_thread(&self.point_reads, move |c| select.all(c, |row| room_view_from(row))).await
    }

    async fn reconcile_room_codes(
        &self,
        room_id: &str,
        roles: &[String],
        generate: CodeGenerator<'_>,
        now: Timestamp,
    ) -> StoreResult<Vec<RoomCode>> {
        let mut tx = self.begin().await?;
        let existing: Vec<RoomCode> = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CODE_COLUMNS} FROM room_codes WHERE room_id = ? ORDER BY seq"
        )))
        .bind(room_id)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(room_code_from)
        .collect::<StoreResult<_>>()?;
        for orphan in existing.iter().filter(|c| c.enabled && !roles.contains(&c.role)) {
            sqlx::query("UPDATE room_codes SET enabled = 0, updated_at = ? WHERE code = ?")
                .bind(now.unix_millis())
                .bind(&orphan.code)
                .execute(&mut *tx)
                .await?;
        }
        for role in roles {
            if !existing.iter().any(|c| c.enabled && &c.role == role) {
                insert_code_in(&mut tx, room_id, role, generate, now).await?;
            }
        }
        let all = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {CODE_COLUMNS} FROM room_codes WHERE room_id = ? ORDER BY seq"
        )))
        .bind(room_id)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(room_code_from)
        .collect::<StoreResult<_>>()?;
        tx.commit().await?;
        Ok(all)
    }

    async fn create_room_code(
        &self,
        room_id: &str,
        role: &str,
        generate: CodeGenerator<'_>,
        now: Timestamp,
    ) -> StoreResult<RoomCode> {
        let mut tx = self.begin().await?;
        let code = insert_code_in(&mut tx, room_id, role, generate, now).await?;
        tx.commit().await?;
        Ok(code)
    }

    async fn room_codes(
        &self,
        room_id: &str,
        filter: &RoomCodeFilter,
        page: &PageRequest,
    ) -> StoreResult<Vec<RoomCode>> {
        let select = lists::room_codes(room_id, filter, page);
        off_thread(&self.point_reads, move |c| select.all(c, |row| room_code_from(row))).await
    }

    async fn room_code(&self, code: &str) -> StoreResult<Option<CodeBinding>> {
        self.point_reads
            .one(&CODE_BINDING_BY_CODE, [code], |row| code_binding_from(row))
    }

    async fn set_room_code_enabled(&self, code: &str, enabled: bool, now: Timestamp) -> StoreResult<RoomCode> {
        let mut tx = self.begin().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE room_codes SET enabled = ?, updated_at = ? WHERE code = ? RETURNING {CODE_COLUMNS}"
        )))
        .bind(enabled)
        .bind(now.unix_millis())
        .bind(code)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        let updated = room_code_from(&row)?;
        tx.commit().await?;
        Ok(updated)
    }
    async fn record_live(&self, write: &LiveWrite) -> StoreResult<()> {
        self.live_writes.record(write).await
    }

    async fn session(&self, workspace_id: &str, id: &str) -> StoreResult<Option<SessionRecord>> {
        let select = lists::session(workspace_id, id);
        let found = off_thread(&self.point_reads, move |c| sessions_with_peers(c, &select, false)).await?;
        Ok(found.into_iter().next())
    }

    async fn sessions(
        &self,
        workspace_id: &str,
        filter: &SessionFilter,
        page: &PageRequest,
    ) -> StoreResult<Vec<SessionRecord>> {
        let select = lists::sessions(workspace_id, filter, page);
        off_thread(&self.point_reads, move |c| sessions_with_peers(c, &select, false)).await
    }

    async fn live_session(&self, room_id: &str) -> StoreResult<Option<SessionRecord>> {
        let select = lists::live_session(room_id);
        let found = off_thread(&self.point_reads, move |c| sessions_with_peers(c, &select, true)).await?;
        Ok(found.into_iter().next())
    }

    async fn live_revision(&self, room_id: &str) -> StoreResult<Option<SessionRevision>> {
        let decode = |row: &rusqlite::Row<'_>| {
            Ok(SessionRevision {
                session_id: row.get("id")?,
                revision: row.get("revision")?,
            })
        };
        self.point_reads.one(
            "SELECT id, revision FROM sessions WHERE room_id = ? AND active = 1",
            [room_id],
            decode,
        )
    }

    async fn peer_inbox(&self, room_id: &str, peer_id: &str, limit: u32) -> StoreResult<Option<Vec<Delivery>>> {
        let known: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM session_peers p JOIN sessions s ON s.id = p.session_id WHERE p.id = ? AND s.room_id = ?",
        )
        .bind(peer_id)
        .bind(room_id)
        .fetch_optional(&self.reader)
        .await?;
        if known.is_none() {
            return Ok(None);
        }
        let mut latest = sqlx::query(
            "SELECT kind, fields, at_ns FROM peer_deliveries WHERE peer_id = ? AND room_id = ? ORDER BY id DESC LIMIT ?",
        )
        .bind(peer_id)
        .bind(room_id)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?
        .iter()
        .map(peer_delivery_from)
        .collect::<StoreResult<Vec<_>>>()?;
        latest.reverse();
        Ok(Some(latest))
    }

    async fn events(&self, workspace_id: &str, query: &EventQuery) -> StoreResult<Vec<LoggedEvent>> {
        let mut sql = QueryBuilder::<Sqlite>::new("SELECT * FROM events WHERE workspace_id = ");
        sql.push_bind(workspace_id);
        if let Some(room_id) = &query.room_id {
            sql.push(" AND room_id = ").push_bind(room_id);
        }
        if let Some(kind) = &query.kind {
            sql.push(" AND kind = ").push_bind(kind);
        }
        if let Some(after) = query.after_seq {
            sql.push(" AND seq > ").push_bind(after);
        }
        sql.push(" ORDER BY seq LIMIT ").push_bind(i64::from(query.limit));
        sql.build()
            .fetch_all(&self.reader)
            .await?
            .iter()
            .map(logged_event_from)
            .collect()
    }
    async fn heartbeat(&self, node_id: &str, now: PreciseTime) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO nodes (id, heartbeat_ns) VALUES (?, ?) \
             ON CONFLICT (id) DO UPDATE SET heartbeat_ns = excluded.heartbeat_ns",
        )
        .bind(node_id)
        .bind(nanos(now))
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn place_room(&self, room_id: &str, node: &Placement, alive_since: PreciseTime) -> StoreResult<Placement> {
        placements::place_room(&self.writer, room_id, node, alive_since).await
    }

    async fn room_deliveries(&self, room_id: &str, after: i64, limit: u32) -> StoreResult<Vec<NumberedDelivery>> {
        placements::room_deliveries(&self.reader, room_id, after, limit).await
    }

    async fn latest_room_delivery(&self, room_id: &str) -> StoreResult<i64> {
        placements::latest_room_delivery(&self.reader, room_id).await
    }

    fn subscribe_rooms(&self) -> broadcast::Receiver<String> {
        self.room_notices.subscribe()
    }

    async fn forget_node(&self, node_id: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM nodes WHERE id = ?")
            .bind(node_id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn stranded_peers(&self, alive_since: PreciseTime) -> StoreResult<Vec<StrandedPeer>> {
        sqlx::query(
            "SELECT s.workspace_id, s.room_id, p.id AS peer_id FROM session_peers p \
             JOIN sessions s ON s.id = p.session_id LEFT JOIN nodes n ON n.id = p.node_id \
             WHERE s.active = 1 AND p.left_ns IS NULL AND (n.id IS NULL OR n.heartbeat_ns < ?) \
             ORDER BY s.room_id, p.joined_ns, p.id",
        )
        .bind(nanos(alive_since))
        .fetch_all(&self.reader)
        .await?
        .iter()
        .map(stranded_peer_from)
        .collect()
    }

    async fn set_workspace_webhook(&self, webhook: &WorkspaceWebhook) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO workspace_webhooks (workspace_id, url, headers, signing_secret) VALUES (?, ?, ?, ?) \
             ON CONFLICT (workspace_id) DO UPDATE SET url = excluded.url, headers = excluded.headers, \
             signing_secret = excluded.signing_secret",
        )
        .bind(&webhook.workspace_id)
        .bind(&webhook.url)
        .bind(to_json(&webhook.headers))
        .bind(webhook.signing_secret.as_ref().map(AppSecret::expose))
        .execute(&mut *tx)
        .await?;
        self.commit_credentials(tx).await?;
        Ok(())
    }

    async fn clear_workspace_webhook(&self, workspace_id: &str) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let removed = sqlx::query("DELETE FROM workspace_webhooks WHERE workspace_id = ?")
            .bind(workspace_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        self.commit_credentials(tx).await?;
        Ok(removed > 0)
    }

    async fn workspace_webhooks(&self) -> StoreResult<Vec<WorkspaceWebhook>> {
        sqlx::query("SELECT * FROM workspace_webhooks ORDER BY workspace_id")
            .fetch_all(&self.reader)
            .await?
            .iter()
            .map(workspace_webhook_from)
            .collect()
    }

    async fn unplanned_events(&self, limit: u32) -> StoreResult<Vec<LoggedEvent>> {
        // The one writer commits events in seq order, so a cursor tells what is planned.
        sqlx::query(
            "SELECT * FROM events WHERE seq > (SELECT last_seq FROM webhook_planner WHERE id = 1) \
             ORDER BY seq LIMIT ?",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?
        .iter()
        .map(logged_event_from)
        .collect()
    }

    async fn plan_deliveries(&self, planned: &[i64], deliveries: &[NewDelivery]) -> StoreResult<()> {
        let (Some(first), Some(last)) = (planned.iter().min(), planned.iter().max()) else {
            return Ok(());
        };
        let mut tx = self.begin().await?;
        // `planned` followed the cursor: a planner that moved it since planned `first` too.
        let moved = sqlx::query("UPDATE webhook_planner SET last_seq = ? WHERE id = 1 AND last_seq < ?")
            .bind(last)
            .bind(first)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if moved == 0 {
            return Err(StoreError::Stale);
        }
        insert_deliveries_in(&mut tx, deliveries).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn claim_deliveries(
        &self,
        now: PreciseTime,
        lease_until: PreciseTime,
        limit: u32,
        per_url: u32,
        busy_urls: &[String],
    ) -> StoreResult<Vec<DeliveryRecord>> {
        let mut tx = self.begin().await?;
        // The heads of the lanes that are due, ranked within their endpoint, so that one
        // endpoint with a large backlog cannot take every slot of a claim.
        let mut heads = QueryBuilder::<Sqlite>::new(
            "SELECT id FROM (SELECT d.id, d.next_attempt_ns, \
             ROW_NUMBER() OVER (PARTITION BY d.url ORDER BY d.next_attempt_ns, d.id) AS rank \
             FROM webhook_deliveries d WHERE d.state = 'pending' AND d.next_attempt_ns <= ",
        );
        heads.push_bind(nanos(now)).push(" AND d.lease_until_ns <= ").push_bind(nanos(now)).push(
            " AND d.id = (SELECT MIN(q.id) FROM webhook_deliveries q WHERE q.lane = d.lane AND q.state = 'pending')",
        );
        if !busy_urls.is_empty() {
            heads.push(" AND d.url NOT IN (");
            let mut urls = heads.separated(", ");
            for url in busy_urls {
                urls.push_bind(url);
            }
            heads.push(")");
        }
        heads.push(") WHERE rank <= ").push_bind(i64::from(per_url));
        heads
            .push(" ORDER BY next_attempt_ns, id LIMIT ")
            .push_bind(i64::from(limit));
        let ids: Vec<i64> = heads.build_query_scalar().fetch_all(&mut *tx).await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut lease = QueryBuilder::<Sqlite>::new("UPDATE webhook_deliveries SET lease_until_ns = ");
        lease.push_bind(nanos(lease_until)).push(" WHERE id IN (");
        let mut list = lease.separated(", ");
        for id in &ids {
            list.push_bind(id);
        }
        lease.push(")");
        lease.build().execute(&mut *tx).await?;
        let mut select = QueryBuilder::<Sqlite>::new(DELIVERY_SELECT);
        select.push(" WHERE d.id IN (");
        let mut list = select.separated(", ");
        for id in &ids {
            list.push_bind(id);
        }
        select.push(") ORDER BY d.id");
        let claimed = select
            .build()
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(delivery_from)
            .collect::<StoreResult<Vec<_>>>()?;
        tx.commit().await?;
        Ok(claimed)
    }

    async fn finish_attempt(&self, delivery_id: i64, outcome: &AttemptOutcome, now: PreciseTime) -> StoreResult<()> {
        let (state, status, error, next_attempt) = match outcome {
            AttemptOutcome::Delivered { status } => (DeliveryState::Delivered, Some(*status), None, None),
            AttemptOutcome::Retry {
                status,
                error,
                next_attempt_at,
            } => (
                DeliveryState::Pending,
                *status,
                Some(error.as_str()),
                Some(*next_attempt_at),
            ),
            AttemptOutcome::GiveUp { status, error } => (DeliveryState::Failed, *status, Some(error.as_str()), None),
        };
        let finished = (state != DeliveryState::Pending).then(|| nanos(now));
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE webhook_deliveries SET state = ?, attempts = attempts + 1, last_status = ?, last_error = ?, \
             next_attempt_ns = COALESCE(?, next_attempt_ns), lease_until_ns = 0, finished_ns = ? \
             WHERE id = ? AND state = 'pending'",
        )
        .bind(state.as_str())
        .bind(status.map(i64::from))
        .bind(error)
        .bind(next_attempt.map(nanos))
        .bind(finished)
        .bind(delivery_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn release_deliveries(&self, delivery_ids: &[i64]) -> StoreResult<()> {
        if delivery_ids.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin().await?;
        let mut release = QueryBuilder::<Sqlite>::new("UPDATE webhook_deliveries SET lease_until_ns = 0 WHERE id IN (");
        let mut list = release.separated(", ");
        for id in delivery_ids {
            list.push_bind(id);
        }
        release.push(") AND state = 'pending'");
        release.build().execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn deliveries(
        &self,
        workspace_id: &str,
        filter: &DeliveryFilter,
        offset: u64,
        limit: u32,
    ) -> StoreResult<(Vec<DeliveryRecord>, u64)> {
        let count = lists::deliveries(
            "SELECT COUNT(*) FROM webhook_deliveries d JOIN events e ON e.seq = d.event_seq",
            workspace_id,
            filter,
        );
        let page = lists::deliveries_page(lists::deliveries(DELIVERY_SELECT, workspace_id, filter), offset, limit);
        off_thread(&self.point_reads, move |c| {
            snapshot(c, || {
                let total = count.count(c)?;
                let records = page.all(c, |row| delivery_from(row))?;
                Ok((records, u64::try_from(total).unwrap_or(0)))
            })
        })
        .await
    }

    async fn create_replay(&self, replay: &ReplayRecord, deliveries: &[NewDelivery]) -> StoreResult<ReplayStart> {
        // Looked up in the write transaction, not on a reader: writes run one at a time, so
        // this sees the replay of an identical request that came just before.
        let mut tx = self.begin().await?;
        let running = sqlx::query(
            "SELECT r.* FROM webhook_replays r WHERE r.workspace_id = ? AND r.request_key = ? AND EXISTS \
             (SELECT 1 FROM webhook_deliveries d WHERE d.replay_id = r.id AND d.state = 'pending') LIMIT 1",
        )
        .bind(&replay.workspace_id)
        .bind(&replay.request_key)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(running) = running {
            return Ok(ReplayStart::AlreadyRunning(replay_from(&running)?));
        }
        sqlx::query(
            "INSERT INTO webhook_replays (id, workspace_id, request_key, filters, started_ns) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&replay.id)
        .bind(&replay.workspace_id)
        .bind(&replay.request_key)
        .bind(&replay.filters)
        .bind(nanos(replay.started_at))
        .execute(&mut *tx)
        .await
        .map_err(|e| unique_violation(e, "a replay with this id"))?;
        insert_deliveries_in(&mut tx, deliveries).await?;
        tx.commit().await?;
        Ok(ReplayStart::Started)
    }

    async fn replay(&self, workspace_id: &str, id: &str) -> StoreResult<Option<(ReplayRecord, ReplayProgress)>> {
        let row = sqlx::query("SELECT * FROM webhook_replays WHERE workspace_id = ? AND id = ?")
            .bind(workspace_id)
            .bind(id)
            .fetch_optional(&self.reader)
            .await?;
        let Some(row) = row else { return Ok(None) };
        let replay = replay_from(&row)?;
        let counts = sqlx::query(
            "SELECT COUNT(*) AS total, \
             COALESCE(SUM(CASE WHEN state = 'delivered' THEN 1 ELSE 0 END), 0) AS delivered, \
             COALESCE(SUM(CASE WHEN state = 'failed' THEN 1 ELSE 0 END), 0) AS failed, \
             MAX(finished_ns) AS finished FROM webhook_deliveries WHERE replay_id = ?",
        )
        .bind(id)
        .fetch_one(&self.reader)
        .await?;
        let failed_event_ids: Vec<String> = sqlx::query_scalar(
            "SELECT e.id FROM webhook_deliveries d JOIN events e ON e.seq = d.event_seq \
             WHERE d.replay_id = ? AND d.state = 'failed' ORDER BY d.id",
        )
        .bind(id)
        .fetch_all(&self.reader)
        .await?;
        let progress = replay_progress_from(&counts, &replay, failed_event_ids)?;
        Ok(Some((replay, progress)))
    }

    async fn claim_idempotency_key(&self, claim: &IdempotencyClaim) -> StoreResult<ClaimOutcome> {
        idempotency::claim(&self.writer, claim).await
    }

    async fn finish_idempotency_key(
        &self,
        workspace_id: &str,
        key: &str,
        claim: &str,
        response: &StoredResponse,
    ) -> StoreResult<bool> {
        idempotency::finish(&self.writer, workspace_id, key, claim, response).await
    }

    async fn release_idempotency_key(&self, workspace_id: &str, key: &str, claim: &str) -> StoreResult<()> {
        idempotency::release(&self.writer, workspace_id, key, claim).await
    }

    async fn purge_idempotency_keys(&self, now: Timestamp, limit: u32) -> StoreResult<u64> {
        idempotency::purge(&self.writer, now, limit).await
    }

    async fn gauges(&self, node_id: &str) -> StoreResult<StoreGauges> {
        let mut gauges = gauges::read(&self.reader, node_id).await?;
        gauges.pools = vec![
            gauges::pool_use("read", &self.reader),
            gauges::pool_use("write", &self.writer),
        ];
        gauges.writer_queue = Some(self.room_inserts.waiting());
        Ok(gauges)
    }
}

async fn insert_deliveries_in(tx: &mut Transaction<'static, Sqlite>, deliveries: &[NewDelivery]) -> StoreResult<()> {
    for delivery in deliveries {
        let lane = format!(
            "{} {} {}",
            delivery.url,
            delivery.room_id,
            delivery.replay_id.as_deref().unwrap_or("")
        );
        sqlx::query(
            "INSERT INTO webhook_deliveries (event_seq, workspace_id, room_id, url, headers, replay_id, lane, state, \
             attempts, next_attempt_ns, lease_until_ns, deadline_ns, created_ns) \
             VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, 0, ?, ?)",
        )
        .bind(delivery.event_seq)
        .bind(&delivery.workspace_id)
        .bind(&delivery.room_id)
        .bind(&delivery.url)
        .bind(to_json(&delivery.headers))
        .bind(&delivery.replay_id)
        .bind(lane)
        .bind(nanos(delivery.next_attempt_at))
        .bind(nanos(delivery.deadline))
        .bind(nanos(delivery.created_at))
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// The sessions `select` reads, each with its peers (`present_only`: those still in it),
/// from one snapshot.
fn sessions_with_peers(
    connection: &rusqlite::Connection,
    select: &lists::Select,
    present_only: bool,
) -> StoreResult<Vec<SessionRecord>> {
    snapshot(connection, || {
        let mut sessions = select.all(connection, |row| session_from(row))?;
        lists::attach_peers(connection, &mut sessions, present_only)?;
        Ok(sessions)
    })
}

async fn insert_secret_in(
    tx: &mut Transaction<'static, Sqlite>,
    workspace_id: &str,
    secret: &SecretRecord,
) -> StoreResult<()> {
    sqlx::query("INSERT INTO app_secrets (id, workspace_id, secret, created_at, retired_at) VALUES (?, ?, ?, ?, ?)")
        .bind(&secret.id)
        .bind(workspace_id)
        .bind(secret.secret.expose())
        .bind(secret.created_at.unix_millis())
        .bind(secret.retired_at.map(Timestamp::unix_millis))
        .execute(&mut **tx)
        .await
        .map_err(|e| unique_violation(e, "a secret with this id"))?;
    Ok(())
}
