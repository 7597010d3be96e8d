//! Persistence of openhms.
//!
//! [`Store`] is what the server needs from a database, one method per atomic use case:
//! each write method is one transaction. [`SqliteStore`] implements it on an embedded
//! SQLite file. No SQL lives outside this crate.

mod records;
mod sqlite;

pub use records::*;
pub use sqlite::{Durability, SqliteStore};

use async_trait::async_trait;
use hms_types::Timestamp;
use hms_types::room::RoomFilter;
use hms_types::room_code::{RoomCode, RoomCodeFilter};
use hms_types::session::SessionFilter;

/// The most codes one room may hold, enabled or not (a 100ms rule).
pub const MAX_CODES_PER_ROOM: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was broken; the string says which.
    #[error("{0} already exists")]
    Conflict(&'static str),
    #[error("not found")]
    NotFound,
    /// The object changed since it was read; read it again and retry.
    #[error("changed concurrently")]
    Stale,
    #[error("a room holds at most {MAX_CODES_PER_ROOM} room codes")]
    TooManyCodes,
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Makes the code strings of new room codes; the store asks again when one is taken.
pub type CodeGenerator<'a> = &'a (dyn Fn() -> String + Send + Sync);

#[async_trait]
pub trait Store: Send + Sync + 'static {
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
    /// Retires a secret; refused with `Conflict` when it is the last live one.
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
    async fn update_room(&self, room: &RoomRecord) -> StoreResult<()>;
    async fn room(&self, workspace_id: &str, id: &str) -> StoreResult<Option<RoomView>>;
    async fn room_by_name(&self, workspace_id: &str, name: &str) -> StoreResult<Option<RoomView>>;
    async fn rooms(&self, workspace_id: &str, filter: &RoomFilter, page: &PageRequest) -> StoreResult<Vec<RoomView>>;

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

    /// Writes one change of live state and its events atomically.
    async fn record_live(&self, write: &LiveWrite) -> StoreResult<()>;
    async fn session(&self, workspace_id: &str, id: &str) -> StoreResult<Option<SessionRecord>>;
    async fn sessions(
        &self,
        workspace_id: &str,
        filter: &SessionFilter,
        page: &PageRequest,
    ) -> StoreResult<Vec<SessionRecord>>;
    /// Sessions still open, of every workspace: after a restart they are owed a close.
    async fn open_sessions(&self) -> StoreResult<Vec<SessionRecord>>;
    async fn events(&self, workspace_id: &str, query: &EventQuery) -> StoreResult<Vec<LoggedEvent>>;
}
