//! Persistence of openhms.
//!
//! [`Store`] is what the server needs from a database, one method per atomic use case:
//! each write method is one transaction. [`SqliteStore`] implements it on an embedded
//! SQLite file for one process; [`PgStore`] on PostgreSQL for several processes (nodes)
//! sharing one database, and [`copy`] moves the first into the second. No SQL lives
//! outside this crate.

mod backend;
mod codec;
pub mod copy;
mod gauges;
mod idempotency;
mod location;
mod outage;
mod postgres;
mod records;
mod rules;
mod shared;
mod sqlite;

pub use gauges::{GAUGED_ENDPOINTS, PoolUse, StoreGauges};
pub use idempotency::{ClaimOutcome, IdempotencyClaim, StoredResponse};
pub use location::{DatabaseUrl, StoreLocation};
pub use outage::Outage;
pub use postgres::PgStore;
pub use records::*;
pub use sqlite::{Durability, SqliteStore};

use async_trait::async_trait;
use hms_types::room::RoomFilter;
use hms_types::room_code::{RoomCode, RoomCodeFilter};
use hms_types::session::SessionFilter;
use hms_types::simulate::Delivery;
use hms_types::{PreciseTime, Timestamp};
use tokio::sync::broadcast;

/// The most codes one room may hold, enabled or not (a 100ms rule).
pub const MAX_CODES_PER_ROOM: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was broken; the string says which.
    #[error("{0} already exists")]
    Conflict(&'static str),
    #[error("not found")]
    NotFound,
    /// Retiring this secret would leave its workspace without a live one.
    #[error("the last live secret of a workspace cannot be retired")]
    LastLiveSecret,
    /// The object changed since it was read; read it again and retry.
    #[error("changed concurrently")]
    Stale,
    #[error("a room holds at most {MAX_CODES_PER_ROOM} room codes")]
    TooManyCodes,
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// Text with a NUL character, which PostgreSQL's text type cannot hold. The server
    /// refuses such input first; this keeps anything that slips past a client error.
    #[error("text must not contain the NUL character")]
    NulInText,
    #[error("database error: {0}")]
    Database(sqlx::Error),
    /// A failure of the SQLite store's point reads and live writes, which bypass sqlx (see
    /// `sqlite::point_reads` and `sqlite::live_writes`).
    #[error("database error: {0}")]
    PointRead(#[from] rusqlite::Error),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// PostgreSQL's `character_not_in_repertoire`, its answer to a NUL in a text value.
const NUL_IN_TEXT_SQLSTATE: &str = "22021";

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        match error.as_database_error().and_then(|db| db.code()) {
            Some(code) if code == NUL_IN_TEXT_SQLSTATE => StoreError::NulInText,
            _ => StoreError::Database(error),
        }
    }
}

/// The room notice that stands for every room (see [`Store::subscribe_rooms`]).
pub const EVERY_ROOM: &str = "*";

/// What a change notice is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topic {
    /// A workspace or one of its secrets changed: credential caches are stale.
    Credentials,
}

/// Makes the code strings of new room codes; the store asks again when one is taken.
pub type CodeGenerator<'a> = &'a (dyn Fn() -> String + Send + Sync);

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Notices of changes that caches must follow, made by this process or any other.
    fn subscribe(&self) -> broadcast::Receiver<Topic>;
    /// Waits for in-flight queries and closes the database cleanly.
    async fn close(&self);

    // Workspaces and their credentials.

    /// Creates a workspace with its first secret and its default template.
    async fn create_workspace(&self, workspace: &NewWorkspace) -> StoreResult<Workspace>;
    async fn workspaces(&self) -> StoreResult<Vec<Workspace>>;
    async fn workspace_by_name(&self, name: &str) -> StoreResult<Option<Workspace>>;
    /// Every workspace with its live (not retired) secrets, newest secret first.
    async fn credentials(&self) -> StoreResult<Vec<WorkspaceCredentials>>;
    /// Changes whenever a workspace or a secret changes.
    async fn credentials_version(&self) -> StoreResult<i64>;
    async fn add_secret(&self, workspace_id: &str, secret: &SecretRecord) -> StoreResult<()>;
    async fn secrets(&self, workspace_id: &str) -> StoreResult<Vec<SecretRecord>>;
    /// Retires a secret; refused with `LastLiveSecret` when it is the last live one.
    async fn retire_secret(&self, workspace_id: &str, secret_id: &str, at: Timestamp) -> StoreResult<()>;

    // Templates.

    async fn insert_template(&self, template: &TemplateRecord) -> StoreResult<()>;
    /// Replaces the body of a template if its revision is still `expected_revision`.
    async fn replace_template(&self, template: &TemplateRecord, expected_revision: i64) -> StoreResult<()>;
    async fn template(&self, workspace_id: &str, id: &str) -> StoreResult<Option<TemplateRecord>>;
    async fn template_by_name(&self, workspace_id: &str, name: &str) -> StoreResult<Option<TemplateRecord>>;
    async fn default_template(&self, workspace_id: &str) -> StoreResult<Option<TemplateRecord>>;
    async fn templates(&self, workspace_id: &str, page: &PageRequest) -> StoreResult<Vec<TemplateRecord>>;

    // Rooms.

    async fn insert_room(&self, room: &RoomRecord) -> StoreResult<()>;
    /// Replaces a room if nobody wrote it since it was read with `updated_at` equal to
    /// `read_updated_at` (`Stale` otherwise). Every write of a room moves its `updated_at`
    /// forward, so that it tells whether the room changed.
    async fn update_room(&self, room: &RoomRecord, read_updated_at: Timestamp) -> StoreResult<()>;
    async fn room(&self, workspace_id: &str, id: &str) -> StoreResult<Option<RoomView>>;
    async fn room_by_name(&self, workspace_id: &str, name: &str) -> StoreResult<Option<RoomView>>;
    async fn rooms(&self, workspace_id: &str, filter: &RoomFilter, page: &PageRequest) -> StoreResult<Vec<RoomView>>;
    /// The page `rooms` reads, each room handed to `write` as it is read, with `out` to
    /// write it into: a list answer made straight from the rows, with no record of each
    /// room in between. The default reads the records first.
    async fn write_rooms(
        &self,
        workspace_id: &str,
        filter: &RoomFilter,
        page: &PageRequest,
        out: Vec<u8>,
        mut write: RoomWriter,
    ) -> StoreResult<WrittenPage> {
        let views = self.rooms(workspace_id, filter, page).await?;
        let mut out = out;
        for (index, view) in views.iter().enumerate() {
            write(&mut out, index, &view.borrowed());
        }
        Ok(WrittenPage {
            out,
            items: views.len(),
            last_id: views.last().map(|view| view.room.id.clone()).unwrap_or_default(),
        })
    }

    // Room codes.

    /// Gives every role in `roles` without an enabled code a new one, disables the codes
    /// of roles not in `roles`, and answers every code of the room.
    async fn reconcile_room_codes(
        &self,
        room_id: &str,
        roles: &[String],
        generate: CodeGenerator<'_>,
        now: Timestamp,
    ) -> StoreResult<Vec<RoomCode>>;
    async fn create_room_code(
        &self,
        room_id: &str,
        role: &str,
        generate: CodeGenerator<'_>,
        now: Timestamp,
    ) -> StoreResult<RoomCode>;
    async fn room_codes(
        &self,
        room_id: &str,
        filter: &RoomCodeFilter,
        page: &PageRequest,
    ) -> StoreResult<Vec<RoomCode>>;
    /// A code with what the exchange and the update need to know about its room.
    async fn room_code(&self, code: &str) -> StoreResult<Option<CodeBinding>>;
    async fn set_room_code_enabled(&self, code: &str, enabled: bool, now: Timestamp) -> StoreResult<RoomCode>;

    // Sessions and the event log.

    /// Writes one change of live state and its events atomically. Changes that arrive
    /// together may share a transaction, each on its own: one refused does not refuse the
    /// others.
    async fn record_live(&self, write: &LiveWrite) -> StoreResult<()>;
    async fn session(&self, workspace_id: &str, id: &str) -> StoreResult<Option<SessionRecord>>;
    async fn sessions(
        &self,
        workspace_id: &str,
        filter: &SessionFilter,
        page: &PageRequest,
    ) -> StoreResult<Vec<SessionRecord>>;
    /// The open session of a room, with the peers in it now (in the order they joined).
    async fn live_session(&self, room_id: &str) -> StoreResult<Option<SessionRecord>>;
    /// The id and revision of a room's open session, if it has one: enough to tell whether
    /// a copy of it read earlier is still what the store has.
    async fn live_revision(&self, room_id: &str) -> StoreResult<Option<SessionRevision>>;
    /// The latest deliveries (at most `limit`) of a peer that was ever in `room_id`, oldest
    /// first; `None` for a peer the room never had.
    async fn peer_inbox(&self, room_id: &str, peer_id: &str, limit: u32) -> StoreResult<Option<Vec<Delivery>>>;
    async fn events(&self, workspace_id: &str, query: &EventQuery) -> StoreResult<Vec<LoggedEvent>>;
    /// What the peers of `room_id` received after delivery `after`, in commit order, at
    /// most `limit`.
    async fn room_deliveries(&self, room_id: &str, after: i64, limit: u32) -> StoreResult<Vec<NumberedDelivery>>;
    /// The number of the room's latest delivery (0 when it has none).
    async fn latest_room_delivery(&self, room_id: &str) -> StoreResult<i64>;
    /// Rooms whose live state another process changed; `*` for every room, when notices
    /// may have been lost. (Changes by this process are known to it already.)
    fn subscribe_rooms(&self) -> broadcast::Receiver<String>;

    // Nodes: the server processes sharing the store, each speaking for the peers that
    // joined through it.

    /// Records that `node_id` is alive at `now` (registering it on first call).
    async fn heartbeat(&self, node_id: &str, now: PreciseTime) -> StoreResult<()>;
    /// Forgets a node: its peers are stranded at once.
    async fn forget_node(&self, node_id: &str) -> StoreResult<()>;
    /// Peers of open sessions whose node is forgotten or was last alive before
    /// `alive_since`, grouped by room.
    async fn stranded_peers(&self, alive_since: PreciseTime) -> StoreResult<Vec<StrandedPeer>>;
    /// The node serving `room_id`'s real peers: the one placed there while it is alive (a
    /// heartbeat at or after `alive_since`), else `node`, which takes the room.
    async fn place_room(&self, room_id: &str, node: &Placement, alive_since: PreciseTime) -> StoreResult<Placement>;

    // Webhooks.

    async fn set_workspace_webhook(&self, webhook: &WorkspaceWebhook) -> StoreResult<()>;
    /// Removes a workspace's webhook; false when it had none.
    async fn clear_workspace_webhook(&self, workspace_id: &str) -> StoreResult<bool>;
    async fn workspace_webhooks(&self) -> StoreResult<Vec<WorkspaceWebhook>>;
    /// Events not yet turned into deliveries, oldest first.
    async fn unplanned_events(&self, limit: u32) -> StoreResult<Vec<LoggedEvent>>;
    /// Queues `deliveries` and marks the events `planned` (seqs that `unplanned_events`
    /// answered) as planned; `Stale`, writing nothing, when another planner planned one of
    /// them first.
    async fn plan_deliveries(&self, planned: &[i64], deliveries: &[NewDelivery]) -> StoreResult<()>;
    /// Leases the deliveries that `claim` asks for (see [`DeliveryClaim`]).
    async fn claim_deliveries(&self, claim: &DeliveryClaim<'_>) -> StoreResult<Vec<DeliveryRecord>>;
    async fn finish_attempt(&self, delivery_id: i64, outcome: &AttemptOutcome, now: PreciseTime) -> StoreResult<()>;
    /// Gives back leased deliveries that will not be attempted now.
    async fn release_deliveries(&self, delivery_ids: &[i64]) -> StoreResult<()>;
    /// A page of deliveries, newest first, and how many match in all.
    async fn deliveries(
        &self,
        workspace_id: &str,
        filter: &DeliveryFilter,
        offset: u64,
        limit: u32,
    ) -> StoreResult<(Vec<DeliveryRecord>, u64)>;
    /// Creates a replay with its deliveries, unless a replay of its workspace made from the
    /// same request (`request_key`) still has pending deliveries. Looking and creating are
    /// one step: of identical requests arriving together, exactly one starts a replay.
    async fn create_replay(&self, replay: &ReplayRecord, deliveries: &[NewDelivery]) -> StoreResult<ReplayStart>;
    async fn replay(&self, workspace_id: &str, id: &str) -> StoreResult<Option<(ReplayRecord, ReplayProgress)>>;

    // Idempotency keys (the `Idempotency-Key` header of management-API POSTs).

    /// Claims a key for a request, unless a live claim holds it: then answers what that
    /// claim is (its fingerprint, and its response once stored). An expired key, or one
    /// whose claim was left running past `locked_until`, is claimed afresh. One step: of
    /// concurrent claims of one key, from any processes, exactly one wins.
    async fn claim_idempotency_key(&self, claim: &IdempotencyClaim) -> StoreResult<ClaimOutcome>;
    /// Stores the response of the request holding `claim`; false when the claim was lost.
    async fn finish_idempotency_key(
        &self,
        workspace_id: &str,
        key: &str,
        claim: &str,
        response: &StoredResponse,
    ) -> StoreResult<bool>;
    /// Gives a claimed key up without a response (the request failed on the server's
    /// side), so that a retry runs the request again.
    async fn release_idempotency_key(&self, workspace_id: &str, key: &str, claim: &str) -> StoreResult<()>;
    /// Deletes up to `limit` keys that expired by `now`; answers how many.
    async fn purge_idempotency_keys(&self, now: Timestamp, limit: u32) -> StoreResult<u64>;

    /// The store's queues and pools, and the live state of node `node_id`, for metrics.
    async fn gauges(&self, node_id: &str) -> StoreResult<StoreGauges>;
}
