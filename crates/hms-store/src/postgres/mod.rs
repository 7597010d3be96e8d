//! The PostgreSQL store, for several server processes (nodes) sharing one database.
//!
//! It keeps every rule of the SQLite store, which gets them from its single writer: here
//! transactions run at READ COMMITTED side by side, from any number of processes, so each
//! write method says how it keeps its invariants — a row lock on the parent row before a
//! read-check-write (a room before its codes, a workspace before its secrets), a unique
//! index where two inserts may race (room and template names, one open session per room),
//! a revision in the `WHERE` of a conditional update (`Stale`), and for the webhook queue
//! an unplanned-events table and advisory locks (see `deliveries`).
//!
//! Changes that caches follow are announced with `NOTIFY` in the writing transaction, so
//! every process hears of them once they are committed (see `changes`).

mod changes;
mod connections;
mod deliveries;
mod gauges;
mod live;
mod rooms;
mod templates;
mod workspaces;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use hms_types::room::RoomFilter;
use hms_types::room_code::{RoomCode, RoomCodeFilter};
use hms_types::session::SessionFilter;
use hms_types::simulate::Delivery;
use hms_types::{PreciseTime, Timestamp};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Postgres, Transaction};
use tokio::sync::broadcast;

use crate::records::*;
use crate::{ClaimOutcome, IdempotencyClaim, StoreGauges, StoredResponse};
use crate::{CodeGenerator, Store, StoreError, StoreResult, Topic, shared};

/// Connections of one process for writes and reads of several statements, and for
/// single-statement reads. With the listener's own, five servers stay below PostgreSQL's
/// default limit of 100 connections.
const CONNECTIONS: u32 = 12;
const READ_CONNECTIONS: u32 = 6;
/// How long a query waits for a free connection (or for a new one, while the database
/// is unreachable) before failing: an outage answers 503 within a second, not a hang.
const ACQUIRE_TIMEOUT: Duration = Duration::from_millis(750);

pub struct PgStore {
    pub(crate) pool: PgPool,
    /// Where reads of one statement run, at one round trip each.
    reads: connections::Connections,
    changes: changes::Changes,
}

impl PgStore {
    /// Connects to the database at `url` (`postgres://user@host:port/db`) and applies
    /// migrations; several processes may do so at once.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let options = PgConnectOptions::from_str(url)?;
        let pool = PgPoolOptions::new()
            .max_connections(CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("./migrations/postgres")
            .run(&pool)
            .await
            .map_err(|e| StoreError::Database(e.into()))?;
        let reads = connections::Connections::new(options.clone(), READ_CONNECTIONS, ACQUIRE_TIMEOUT);
        let changes = changes::Changes::listen(options).await?;
        Ok(Self { pool, reads, changes })
    }
}

/// Runs a read of one statement on the store's read connections (see `connections`):
/// `read!(store, db => a future reading through db)`, run again on a new connection if
/// the reused one was lost.
macro_rules! read {
    ($store:expr, $db:ident => $read:expr) => {{
        let mut lease = $store.reads.lease().await?;
        loop {
            let $db = lease.connection();
            let result = $read.await;
            if !lease.retry_after(&result).await? {
                break lease.settle(result);
            }
        }
    }};
}

/// A read-only transaction whose reads all see one snapshot, for reads that must agree
/// with each other (a session and its peers, a page and its total).
async fn read_snapshot(pool: &PgPool) -> StoreResult<Transaction<'static, Postgres>> {
    Ok(pool
        .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .await?)
}

#[async_trait]
impl Store for PgStore {
    fn subscribe(&self) -> broadcast::Receiver<Topic> {
        self.changes.subscribe()
    }

    async fn close(&self) {
        self.changes.close().await;
        self.reads.close().await;
        self.pool.close().await;
    }

    async fn create_workspace(&self, new: &NewWorkspace) -> StoreResult<Workspace> {
        workspaces::create(&self.pool, new).await
    }

    async fn workspaces(&self) -> StoreResult<Vec<Workspace>> {
        shared::workspaces::all(&self.pool).await
    }

    async fn workspace_by_name(&self, name: &str) -> StoreResult<Option<Workspace>> {
        read!(self, db => shared::workspaces::by_name(db, name))
    }

    async fn credentials(&self) -> StoreResult<Vec<WorkspaceCredentials>> {
        workspaces::credentials(&self.pool).await
    }

    async fn credentials_version(&self) -> StoreResult<i64> {
        read!(self, db => shared::workspaces::credentials_version(db))
    }

    async fn add_secret(&self, workspace_id: &str, secret: &SecretRecord) -> StoreResult<()> {
        workspaces::add_secret(&self.pool, workspace_id, secret).await
    }

    async fn secrets(&self, workspace_id: &str) -> StoreResult<Vec<SecretRecord>> {
        shared::workspaces::secrets(&self.pool, workspace_id).await
    }

    async fn retire_secret(&self, workspace_id: &str, secret_id: &str, at: Timestamp) -> StoreResult<()> {
        workspaces::retire_secret(&self.pool, workspace_id, secret_id, at).await
    }

    async fn insert_template(&self, template: &TemplateRecord) -> StoreResult<()> {
        shared::templates::insert(&self.pool, template).await
    }

    async fn replace_template(&self, template: &TemplateRecord, expected_revision: i64) -> StoreResult<()> {
        templates::replace(&self.pool, template, expected_revision).await
    }

    async fn template(&self, workspace_id: &str, id: &str) -> StoreResult<Option<TemplateRecord>> {
        read!(self, db => templates::by_id(db, workspace_id, id))
    }

    async fn template_by_name(&self, workspace_id: &str, name: &str) -> StoreResult<Option<TemplateRecord>> {
        read!(self, db => shared::templates::by_name(db, workspace_id, name))
    }

    async fn default_template(&self, workspace_id: &str) -> StoreResult<Option<TemplateRecord>> {
        read!(self, db => shared::templates::default_of(db, workspace_id))
    }

    async fn templates(&self, workspace_id: &str, page: &PageRequest) -> StoreResult<Vec<TemplateRecord>> {
        templates::page(&self.pool, workspace_id, page).await
    }

    async fn insert_room(&self, room: &RoomRecord) -> StoreResult<()> {
        rooms::insert(&self.pool, room).await
    }

    async fn update_room(&self, room: &RoomRecord, read_updated_at: Timestamp) -> StoreResult<()> {
        rooms::update(&self.pool, room, read_updated_at).await
    }

    async fn room(&self, workspace_id: &str, id: &str) -> StoreResult<Option<RoomView>> {
        read!(self, db => rooms::by_id(db, workspace_id, id))
    }

    async fn room_by_name(&self, workspace_id: &str, name: &str) -> StoreResult<Option<RoomView>> {
        read!(self, db => rooms::by_name(db, workspace_id, name))
    }

    async fn rooms(&self, workspace_id: &str, filter: &RoomFilter, page: &PageRequest) -> StoreResult<Vec<RoomView>> {
        rooms::page(&self.pool, workspace_id, filter, page).await
    }

    async fn reconcile_room_codes(
        &self,
        room_id: &str,
        roles: &[String],
        generate: CodeGenerator<'_>,
        now: Timestamp,
    ) -> StoreResult<Vec<RoomCode>> {
        rooms::reconcile_codes(&self.pool, room_id, roles, generate, now).await
    }

    async fn create_room_code(
        &self,
        room_id: &str,
        role: &str,
        generate: CodeGenerator<'_>,
        now: Timestamp,
    ) -> StoreResult<RoomCode> {
        rooms::create_code(&self.pool, room_id, role, generate, now).await
    }

    async fn room_codes(
        &self,
        room_id: &str,
        filter: &RoomCodeFilter,
        page: &PageRequest,
    ) -> StoreResult<Vec<RoomCode>> {
        rooms::codes_page(&self.pool, room_id, filter, page).await
    }

    async fn room_code(&self, code: &str) -> StoreResult<Option<CodeBinding>> {
        read!(self, db => rooms::code_binding(db, code))
    }

    async fn set_room_code_enabled(&self, code: &str, enabled: bool, now: Timestamp) -> StoreResult<RoomCode> {
        rooms::set_code_enabled(&self.pool, code, enabled, now).await
    }

    async fn record_live(&self, write: &LiveWrite) -> StoreResult<()> {
        live::record(&self.pool, write).await
    }

    async fn session(&self, workspace_id: &str, id: &str) -> StoreResult<Option<SessionRecord>> {
        live::session(&self.pool, workspace_id, id).await
    }

    async fn sessions(
        &self,
        workspace_id: &str,
        filter: &SessionFilter,
        page: &PageRequest,
    ) -> StoreResult<Vec<SessionRecord>> {
        live::sessions(&self.pool, workspace_id, filter, page).await
    }

    async fn live_session(&self, room_id: &str) -> StoreResult<Option<SessionRecord>> {
        live::live_session(&self.pool, room_id).await
    }

    async fn live_revision(&self, room_id: &str) -> StoreResult<Option<SessionRevision>> {
        read!(self, db => live::live_revision(db, room_id))
    }

    async fn peer_inbox(&self, room_id: &str, peer_id: &str, limit: u32) -> StoreResult<Option<Vec<Delivery>>> {
        live::peer_inbox(&self.pool, room_id, peer_id, limit).await
    }

    async fn events(&self, workspace_id: &str, query: &EventQuery) -> StoreResult<Vec<LoggedEvent>> {
        shared::live::events(&self.pool, workspace_id, query).await
    }

    async fn heartbeat(&self, node_id: &str, now: PreciseTime) -> StoreResult<()> {
        shared::live::heartbeat(&self.pool, node_id, now).await
    }

    async fn forget_node(&self, node_id: &str) -> StoreResult<()> {
        shared::live::forget_node(&self.pool, node_id).await
    }

    async fn place_room(&self, room_id: &str, node: &Placement, alive_since: PreciseTime) -> StoreResult<Placement> {
        shared::placements::place_room(&self.pool, room_id, node, alive_since).await
    }

    async fn room_deliveries(&self, room_id: &str, after: i64, limit: u32) -> StoreResult<Vec<NumberedDelivery>> {
        shared::placements::room_deliveries(&self.pool, room_id, after, limit).await
    }

    async fn latest_room_delivery(&self, room_id: &str) -> StoreResult<i64> {
        shared::placements::latest_room_delivery(&self.pool, room_id).await
    }

    fn subscribe_rooms(&self) -> broadcast::Receiver<String> {
        self.changes.subscribe_rooms()
    }

    async fn stranded_peers(&self, alive_since: PreciseTime) -> StoreResult<Vec<StrandedPeer>> {
        shared::live::stranded_peers(&self.pool, alive_since).await
    }

    async fn set_workspace_webhook(&self, webhook: &WorkspaceWebhook) -> StoreResult<()> {
        workspaces::set_webhook(&self.pool, webhook).await
    }

    async fn clear_workspace_webhook(&self, workspace_id: &str) -> StoreResult<bool> {
        workspaces::clear_webhook(&self.pool, workspace_id).await
    }

    async fn workspace_webhooks(&self) -> StoreResult<Vec<WorkspaceWebhook>> {
        shared::workspaces::webhooks(&self.pool).await
    }

    async fn unplanned_events(&self, limit: u32) -> StoreResult<Vec<LoggedEvent>> {
        deliveries::unplanned_events(&self.pool, limit).await
    }

    async fn plan_deliveries(&self, planned: &[i64], deliveries: &[NewDelivery]) -> StoreResult<()> {
        deliveries::plan(&self.pool, planned, deliveries).await
    }

    async fn claim_deliveries(&self, claim: &DeliveryClaim<'_>) -> StoreResult<Vec<DeliveryRecord>> {
        deliveries::claim(&self.pool, claim).await
    }

    async fn finish_attempt(&self, delivery_id: i64, outcome: &AttemptOutcome, now: PreciseTime) -> StoreResult<()> {
        shared::deliveries::finish_attempt(&self.pool, delivery_id, outcome, now).await
    }

    async fn release_deliveries(&self, delivery_ids: &[i64]) -> StoreResult<()> {
        deliveries::release(&self.pool, delivery_ids).await
    }

    async fn deliveries(
        &self,
        workspace_id: &str,
        filter: &DeliveryFilter,
        offset: u64,
        limit: u32,
    ) -> StoreResult<(Vec<DeliveryRecord>, u64)> {
        deliveries::history(&self.pool, workspace_id, filter, offset, limit).await
    }

    async fn create_replay(&self, replay: &ReplayRecord, deliveries: &[NewDelivery]) -> StoreResult<ReplayStart> {
        deliveries::create_replay(&self.pool, replay, deliveries).await
    }

    async fn replay(&self, workspace_id: &str, id: &str) -> StoreResult<Option<(ReplayRecord, ReplayProgress)>> {
        deliveries::replay(&self.pool, workspace_id, id).await
    }

    async fn claim_idempotency_key(&self, claim: &IdempotencyClaim) -> StoreResult<ClaimOutcome> {
        crate::idempotency::claim(&self.pool, claim).await
    }

    async fn finish_idempotency_key(
        &self,
        workspace_id: &str,
        key: &str,
        claim: &str,
        response: &StoredResponse,
    ) -> StoreResult<bool> {
        crate::idempotency::finish(&self.pool, workspace_id, key, claim, response).await
    }

    async fn release_idempotency_key(&self, workspace_id: &str, key: &str, claim: &str) -> StoreResult<()> {
        crate::idempotency::release(&self.pool, workspace_id, key, claim).await
    }

    async fn purge_idempotency_keys(&self, now: Timestamp, limit: u32) -> StoreResult<u64> {
        crate::idempotency::purge(&self.pool, now, limit).await
    }

    async fn gauges(&self, node_id: &str) -> StoreResult<StoreGauges> {
        gauges::read(&self.pool, &self.reads, node_id).await
    }
}
