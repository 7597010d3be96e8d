//! The embedded SQLite store: one file in the data dir, WAL mode, foreign keys on.
//!
//! Writes go through a pool of one connection, so they never contend inside a process and
//! each read-check-write is one transaction with nobody between its steps (where the
//! PostgreSQL store needs row and advisory locks). New rooms and live changes are
//! group-committed (see `room_inserts` and `live_writes`). Reads use their own pool and run
//! in parallel with writes, but for the hottest reads of one row by a unique key, which run
//! on the caller's thread, and the pages of lists, which run on a blocking thread, both
//! without sqlx (see `point_reads` and `lists`).
//!
//! The modules mirror the PostgreSQL store's one for one, each holding what this store does
//! its own way; the statements both run word for word are in `crate::shared`, the
//! decisions both make in `crate::rules`, the decoding of rows in `crate::codec`.

mod changes;
mod deliveries;
mod gauges;
mod lists;
mod live;
mod live_writes;
mod point_reads;
mod room_inserts;
mod rooms;
mod templates;
mod workspaces;

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use hms_types::room::RoomFilter;
use hms_types::room_code::{RoomCode, RoomCodeFilter};
use hms_types::session::SessionFilter;
use hms_types::simulate::Delivery;
use hms_types::{PreciseTime, Timestamp};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, Transaction};
use tokio::sync::broadcast;

use crate::gauges::pool_use;
use crate::records::*;
use crate::{ClaimOutcome, IdempotencyClaim, StoreGauges, StoredResponse};
use crate::{CodeGenerator, Store, StoreError, StoreResult, Topic, shared};
use changes::Changes;
use live_writes::LiveWrites;
use point_reads::PointReads;
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
    changes: Changes,
}

const FILE_NAME: &str = "openhms.db";
const READ_CONNECTIONS: u32 = 4;
/// Page cache of each read connection (negative: KiB): 16 MiB keeps the upper levels of a
/// million rooms' indexes in memory, where SQLite's default 2 MiB re-reads them; it is
/// filled only as pages are read, so an idle server does not pay for it.
const READER_CACHE_KIB: i64 = 16384;

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
        Ok(Self {
            reader,
            live_writes: LiveWrites::start(&path, durability)?,
            point_reads: Arc::new(PointReads::new(path, READER_CACHE_KIB)),
            room_inserts: RoomInserts::start(writer.clone()),
            writer,
            changes: Changes::new(),
        })
    }
}

/// A write transaction that holds the database's write lock from its start, so that its
/// reads see what it then writes over.
async fn begin(writer: &SqlitePool) -> StoreResult<Transaction<'static, Sqlite>> {
    Ok(writer.begin_with("BEGIN IMMEDIATE").await?)
}

#[async_trait]
impl Store for SqliteStore {
    fn subscribe(&self) -> broadcast::Receiver<Topic> {
        self.changes.subscribe()
    }

    async fn close(&self) {
        self.live_writes.close().await;
        self.point_reads.close();
        self.reader.close().await;
        self.writer.close().await;
    }

    async fn create_workspace(&self, new: &NewWorkspace) -> StoreResult<Workspace> {
        workspaces::create(&self.writer, &self.changes, new).await
    }

    async fn workspaces(&self) -> StoreResult<Vec<Workspace>> {
        shared::workspaces::all(&self.reader).await
    }

    async fn workspace_by_name(&self, name: &str) -> StoreResult<Option<Workspace>> {
        shared::workspaces::by_name(&self.reader, name).await
    }

    async fn credentials(&self) -> StoreResult<Vec<WorkspaceCredentials>> {
        workspaces::credentials(&self.reader).await
    }

    async fn credentials_version(&self) -> StoreResult<i64> {
        shared::workspaces::credentials_version(&self.reader).await
    }

    async fn add_secret(&self, workspace_id: &str, secret: &SecretRecord) -> StoreResult<()> {
        workspaces::add_secret(&self.writer, &self.changes, workspace_id, secret).await
    }

    async fn secrets(&self, workspace_id: &str) -> StoreResult<Vec<SecretRecord>> {
        shared::workspaces::secrets(&self.reader, workspace_id).await
    }

    async fn retire_secret(&self, workspace_id: &str, secret_id: &str, at: Timestamp) -> StoreResult<()> {
        workspaces::retire_secret(&self.writer, &self.changes, workspace_id, secret_id, at).await
    }

    async fn insert_template(&self, template: &TemplateRecord) -> StoreResult<()> {
        shared::templates::insert(&self.writer, template).await
    }

    async fn replace_template(&self, template: &TemplateRecord, expected_revision: i64) -> StoreResult<()> {
        templates::replace(&self.writer, template, expected_revision).await
    }

    async fn template(&self, workspace_id: &str, id: &str) -> StoreResult<Option<TemplateRecord>> {
        templates::by_id(&self.point_reads, workspace_id, id)
    }

    async fn template_by_name(&self, workspace_id: &str, name: &str) -> StoreResult<Option<TemplateRecord>> {
        shared::templates::by_name(&self.reader, workspace_id, name).await
    }

    async fn default_template(&self, workspace_id: &str) -> StoreResult<Option<TemplateRecord>> {
        shared::templates::default_of(&self.reader, workspace_id).await
    }

    async fn templates(&self, workspace_id: &str, page: &PageRequest) -> StoreResult<Vec<TemplateRecord>> {
        templates::page(&self.point_reads, workspace_id, page).await
    }

    async fn insert_room(&self, room: &RoomRecord) -> StoreResult<()> {
        self.room_inserts.insert(room).await
    }

    async fn update_room(&self, room: &RoomRecord, read_updated_at: Timestamp) -> StoreResult<()> {
        rooms::update(&self.writer, room, read_updated_at).await
    }

    async fn room(&self, workspace_id: &str, id: &str) -> StoreResult<Option<RoomView>> {
        rooms::by_id(&self.point_reads, workspace_id, id)
    }

    async fn room_by_name(&self, workspace_id: &str, name: &str) -> StoreResult<Option<RoomView>> {
        rooms::by_name(&self.point_reads, workspace_id, name)
    }

    async fn rooms(&self, workspace_id: &str, filter: &RoomFilter, page: &PageRequest) -> StoreResult<Vec<RoomView>> {
        rooms::page(&self.point_reads, workspace_id, filter, page).await
    }

    async fn write_rooms(
        &self,
        workspace_id: &str,
        filter: &RoomFilter,
        page: &PageRequest,
        out: Vec<u8>,
        write: RoomWriter,
    ) -> StoreResult<WrittenPage> {
        rooms::write_page(&self.point_reads, workspace_id, filter, page, out, write).await
    }

    async fn reconcile_room_codes(
        &self,
        room_id: &str,
        roles: &[String],
        generate: CodeGenerator<'_>,
        now: Timestamp,
    ) -> StoreResult<Vec<RoomCode>> {
        rooms::reconcile_codes(&self.writer, room_id, roles, generate, now).await
    }

    async fn create_room_code(
        &self,
        room_id: &str,
        role: &str,
        generate: CodeGenerator<'_>,
        now: Timestamp,
    ) -> StoreResult<RoomCode> {
        rooms::create_code(&self.writer, room_id, role, generate, now).await
    }

    async fn room_codes(
        &self,
        room_id: &str,
        filter: &RoomCodeFilter,
        page: &PageRequest,
    ) -> StoreResult<Vec<RoomCode>> {
        rooms::codes_page(&self.point_reads, room_id, filter, page).await
    }

    async fn room_code(&self, code: &str) -> StoreResult<Option<CodeBinding>> {
        rooms::code_binding(&self.point_reads, code)
    }

    async fn set_room_code_enabled(&self, code: &str, enabled: bool, now: Timestamp) -> StoreResult<RoomCode> {
        shared::rooms::set_code_enabled(&self.writer, code, enabled, now).await
    }

    async fn record_live(&self, write: &LiveWrite) -> StoreResult<()> {
        self.live_writes.record(write).await
    }

    async fn session(&self, workspace_id: &str, id: &str) -> StoreResult<Option<SessionRecord>> {
        live::session(&self.point_reads, workspace_id, id).await
    }

    async fn sessions(
        &self,
        workspace_id: &str,
        filter: &SessionFilter,
        page: &PageRequest,
    ) -> StoreResult<Vec<SessionRecord>> {
        live::sessions(&self.point_reads, workspace_id, filter, page).await
    }

    async fn live_session(&self, room_id: &str) -> StoreResult<Option<SessionRecord>> {
        live::live_session(&self.point_reads, room_id).await
    }

    async fn live_revision(&self, room_id: &str) -> StoreResult<Option<SessionRevision>> {
        live::live_revision(&self.point_reads, room_id)
    }

    async fn peer_inbox(&self, room_id: &str, peer_id: &str, limit: u32) -> StoreResult<Option<Vec<Delivery>>> {
        live::peer_inbox(&self.reader, room_id, peer_id, limit).await
    }

    async fn events(&self, workspace_id: &str, query: &EventQuery) -> StoreResult<Vec<LoggedEvent>> {
        shared::live::events(&self.reader, workspace_id, query).await
    }

    async fn heartbeat(&self, node_id: &str, now: PreciseTime) -> StoreResult<()> {
        shared::live::heartbeat(&self.writer, node_id, now).await
    }

    async fn forget_node(&self, node_id: &str) -> StoreResult<()> {
        shared::live::forget_node(&self.writer, node_id).await
    }

    async fn place_room(&self, room_id: &str, node: &Placement, alive_since: PreciseTime) -> StoreResult<Placement> {
        shared::placements::place_room(&self.writer, room_id, node, alive_since).await
    }

    async fn room_deliveries(&self, room_id: &str, after: i64, limit: u32) -> StoreResult<Vec<NumberedDelivery>> {
        shared::placements::room_deliveries(&self.reader, room_id, after, limit).await
    }

    async fn latest_room_delivery(&self, room_id: &str) -> StoreResult<i64> {
        shared::placements::latest_room_delivery(&self.reader, room_id).await
    }

    fn subscribe_rooms(&self) -> broadcast::Receiver<String> {
        self.changes.subscribe_rooms()
    }

    async fn stranded_peers(&self, alive_since: PreciseTime) -> StoreResult<Vec<StrandedPeer>> {
        shared::live::stranded_peers(&self.reader, alive_since).await
    }

    async fn set_workspace_webhook(&self, webhook: &WorkspaceWebhook) -> StoreResult<()> {
        workspaces::set_webhook(&self.writer, &self.changes, webhook).await
    }

    async fn clear_workspace_webhook(&self, workspace_id: &str) -> StoreResult<bool> {
        workspaces::clear_webhook(&self.writer, &self.changes, workspace_id).await
    }

    async fn workspace_webhooks(&self) -> StoreResult<Vec<WorkspaceWebhook>> {
        shared::workspaces::webhooks(&self.reader).await
    }

    async fn unplanned_events(&self, limit: u32) -> StoreResult<Vec<LoggedEvent>> {
        deliveries::unplanned_events(&self.reader, limit).await
    }

    async fn plan_deliveries(&self, planned: &[i64], deliveries: &[NewDelivery]) -> StoreResult<()> {
        deliveries::plan(&self.writer, planned, deliveries).await
    }

    async fn claim_deliveries(&self, claim: &DeliveryClaim<'_>) -> StoreResult<Vec<DeliveryRecord>> {
        deliveries::claim(&self.writer, claim).await
    }

    async fn finish_attempt(&self, delivery_id: i64, outcome: &AttemptOutcome, now: PreciseTime) -> StoreResult<()> {
        shared::deliveries::finish_attempt(&self.writer, delivery_id, outcome, now).await
    }

    async fn release_deliveries(&self, delivery_ids: &[i64]) -> StoreResult<()> {
        deliveries::release(&self.writer, delivery_ids).await
    }

    async fn deliveries(
        &self,
        workspace_id: &str,
        filter: &DeliveryFilter,
        offset: u64,
        limit: u32,
    ) -> StoreResult<(Vec<DeliveryRecord>, u64)> {
        deliveries::history(&self.point_reads, workspace_id, filter, offset, limit).await
    }

    async fn create_replay(&self, replay: &ReplayRecord, deliveries: &[NewDelivery]) -> StoreResult<ReplayStart> {
        deliveries::create_replay(&self.writer, replay, deliveries).await
    }

    async fn replay(&self, workspace_id: &str, id: &str) -> StoreResult<Option<(ReplayRecord, ReplayProgress)>> {
        deliveries::replay(&self.reader, workspace_id, id).await
    }

    async fn claim_idempotency_key(&self, claim: &IdempotencyClaim) -> StoreResult<ClaimOutcome> {
        crate::idempotency::claim(&self.writer, claim).await
    }

    async fn finish_idempotency_key(
        &self,
        workspace_id: &str,
        key: &str,
        claim: &str,
        response: &StoredResponse,
    ) -> StoreResult<bool> {
        crate::idempotency::finish(&self.writer, workspace_id, key, claim, response).await
    }

    async fn release_idempotency_key(&self, workspace_id: &str, key: &str, claim: &str) -> StoreResult<()> {
        crate::idempotency::release(&self.writer, workspace_id, key, claim).await
    }

    async fn purge_idempotency_keys(&self, now: Timestamp, limit: u32) -> StoreResult<u64> {
        crate::idempotency::purge(&self.writer, now, limit).await
    }

    async fn gauges(&self, node_id: &str) -> StoreResult<StoreGauges> {
        let mut gauges = gauges::read(&self.reader, node_id).await?;
        gauges.pools = vec![pool_use("read", &self.reader), pool_use("write", &self.writer)];
        gauges.writer_queue = Some(self.room_inserts.waiting());
        Ok(gauges)
    }
}
