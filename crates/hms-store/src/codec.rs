//! How records are written to and read from rows, once for every backend: both stores hold
//! the same logical data in the same encodings (times as integers, documents as JSON text),
//! so a record is decoded by one function whichever driver produced the row.
//!
//! Only what the drivers disagree on stays with each store: SQL dialects, locks, and
//! booleans, which each driver's own decoding already maps to `bool`.

use hms_auth::AppSecret;
use hms_types::simulate::Delivery;
use hms_types::template::TemplateBody;
use hms_types::{PreciseTime, Timestamp};
use sqlx::Row as _;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;

use crate::records::*;
use crate::{StoreError, StoreResult};

/// A result row of any of the drivers, read by column name.
pub(crate) trait Columns {
    fn get<T: Value>(&self, column: &str) -> StoreResult<T>;

    fn millis(&self, column: &str) -> StoreResult<Timestamp> {
        Ok(Timestamp::from_unix_millis(self.get(column)?))
    }

    fn nanos(&self, column: &str) -> StoreResult<PreciseTime> {
        Ok(from_nanos(self.get(column)?))
    }

    fn nanos_opt(&self, column: &str) -> StoreResult<Option<PreciseTime>> {
        Ok(self.get::<Option<i64>>(column)?.map(from_nanos))
    }

    fn json<T: serde::de::DeserializeOwned>(&self, column: &str) -> StoreResult<T> {
        from_json(&self.get::<String>(column)?)
    }
}

/// A column type every driver decodes.
pub(crate) trait Value: Sized {
    fn from_sqlite(row: &SqliteRow, column: &str) -> StoreResult<Self>;
    fn from_postgres(row: &PgRow, column: &str) -> StoreResult<Self>;
    /// From the column at `index` of a row read through `rusqlite` (see `sqlite::point_reads`).
    fn from_direct(row: &rusqlite::Row<'_>, index: usize) -> StoreResult<Self>;
}

macro_rules! values {
    ($($ty:ty),*) => {$(
        impl Value for $ty {
            fn from_sqlite(row: &SqliteRow, column: &str) -> StoreResult<Self> {
                Ok(row.try_get(column)?)
            }
            fn from_postgres(row: &PgRow, column: &str) -> StoreResult<Self> {
                Ok(row.try_get(column)?)
            }
            fn from_direct(row: &rusqlite::Row<'_>, index: usize) -> StoreResult<Self> {
                Ok(row.get(index)?)
            }
        }
    )*};
}

values!(String, Option<String>, i64, Option<i64>, bool, Option<Vec<u8>>);

impl Columns for SqliteRow {
    fn get<T: Value>(&self, column: &str) -> StoreResult<T> {
        T::from_sqlite(self, column)
    }
}

impl Columns for PgRow {
    fn get<T: Value>(&self, column: &str) -> StoreResult<T> {
        T::from_postgres(self, column)
    }
}

/// Rows decoded one by one: every row of a `Vec`, the row of an `Option` if there is one.
pub(crate) trait Decoded<R> {
    type Out<T>;
    fn decoded<T>(self, decode: impl Fn(&R) -> StoreResult<T>) -> StoreResult<Self::Out<T>>;
}

impl<R> Decoded<R> for Vec<R> {
    type Out<T> = Vec<T>;

    fn decoded<T>(self, decode: impl Fn(&R) -> StoreResult<T>) -> StoreResult<Vec<T>> {
        self.iter().map(decode).collect()
    }
}

impl<R> Decoded<R> for Option<R> {
    type Out<T> = Option<T>;

    fn decoded<T>(self, decode: impl Fn(&R) -> StoreResult<T>) -> StoreResult<Option<T>> {
        self.as_ref().map(decode).transpose()
    }
}

/// Maps the failure of an insert or update that broke a unique index to `Conflict(what)`.
pub(crate) fn unique_violation(error: sqlx::Error, what: &'static str) -> StoreError {
    match error.as_database_error() {
        Some(db) if db.is_unique_violation() => StoreError::Conflict(what),
        _ => error.into(),
    }
}

pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("stored documents always serialise")
}

pub(crate) fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> StoreResult<T> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Template names and room names are unique regardless of case; the key is computed here,
/// not by the database, so that both stores compare names alike.
pub(crate) fn name_key(name: &str) -> String {
    name.to_lowercase()
}

pub(crate) fn role_names(body: &TemplateBody) -> String {
    to_json(&body.roles.keys().collect::<Vec<_>>())
}

pub(crate) fn nanos(time: PreciseTime) -> i64 {
    i128_to_i64(time.unix_nanos())
}

/// Unix nanoseconds fit an i64 until the year 2262.
pub(crate) fn i128_to_i64(value: i128) -> i64 {
    value.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

pub(crate) fn from_nanos(ns: i64) -> PreciseTime {
    PreciseTime::from_unix_nanos(i128::from(ns))
}

pub(crate) fn workspace_from(row: &impl Columns) -> StoreResult<Workspace> {
    Ok(Workspace {
        id: row.get("id")?,
        name: row.get("name")?,
        access_key: row.get("access_key")?,
        customer_id: row.get("customer_id")?,
        app_id: row.get("app_id")?,
        created_at: row.millis("created_at")?,
    })
}

/// Every workspace (rows of `workspaces`) with its live secrets (rows of `workspace_id`
/// and `secret`), in their order.
pub(crate) fn credentials_from(
    workspaces: &[impl Columns],
    live_secrets: &[impl Columns],
) -> StoreResult<Vec<WorkspaceCredentials>> {
    let mut all = workspaces
        .iter()
        .map(|row| {
            Ok(WorkspaceCredentials {
                workspace: workspace_from(row)?,
                secrets: Vec::new(),
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
    for row in live_secrets {
        let workspace_id: String = row.get("workspace_id")?;
        if let Some(entry) = all.iter_mut().find(|c| c.workspace.id == workspace_id) {
            entry.secrets.push(AppSecret::new(row.get::<String>("secret")?));
        }
    }
    Ok(all)
}

pub(crate) fn secret_from(row: &impl Columns) -> StoreResult<SecretRecord> {
    Ok(SecretRecord {
        id: row.get("id")?,
        secret: AppSecret::new(row.get::<String>("secret")?),
        created_at: row.millis("created_at")?,
        retired_at: row.get::<Option<i64>>("retired_at")?.map(Timestamp::from_unix_millis),
    })
}

pub(crate) fn template_from(row: &impl Columns) -> StoreResult<TemplateRecord> {
    Ok(TemplateRecord {
        id: row.get("id")?,
        workspace_id: row.get("workspace_id")?,
        is_default: row.get("is_default")?,
        body: row.json("body")?,
        revision: row.get("revision")?,
        created_at: row.millis("created_at")?,
        updated_at: row.millis("updated_at")?,
    })
}

/// The rooms (`r`) with their templates (`t`), as `room_view_from` reads them.
pub(crate) const ROOM_VIEW_SELECT: &str = "SELECT r.id, r.workspace_id, r.name, r.enabled, r.description, \
     r.template_id, r.region, r.large_room, r.options, r.created_at, r.updated_at, \
     t.name AS template_name, t.recording_enabled AS template_recording_enabled \
     FROM rooms r JOIN templates t ON t.id = r.template_id";

pub(crate) fn room_view_from(row: &impl Columns) -> StoreResult<RoomView> {
    Ok(RoomView {
        room: RoomRecord {
            id: row.get("id")?,
            workspace_id: row.get("workspace_id")?,
            name: row.get("name")?,
            enabled: row.get("enabled")?,
            description: row.get("description")?,
            template_id: row.get("template_id")?,
            region: row.get("region")?,
            large_room: row.get("large_room")?,
            options: row.json("options")?,
            created_at: row.millis("created_at")?,
            updated_at: row.millis("updated_at")?,
        },
        template: TemplateSummary {
            name: row.get("template_name")?,
            recording_enabled: row.get("template_recording_enabled")?,
        },
    })
}

/// The columns `room_code_from` reads from `room_codes`.
pub(crate) const CODE_COLUMNS: &str = "code, room_id, role, enabled, created_at, updated_at";

pub(crate) fn room_code_from(row: &impl Columns) -> StoreResult<hms_types::room_code::RoomCode> {
    Ok(hms_types::room_code::RoomCode {
        code: row.get("code")?,
        room_id: row.get("room_id")?,
        role: row.get("role")?,
        enabled: row.get("enabled")?,
        created_at: row.millis("created_at")?,
        updated_at: row.millis("updated_at")?,
    })
}

/// The room codes (`c`) with their rooms (`r`) and the rooms' templates (`t`), as
/// `code_binding_from` reads them.
pub(crate) const CODE_BINDING_SELECT: &str = "SELECT c.code, c.room_id, c.role, c.enabled, c.created_at, \
     c.updated_at, r.workspace_id, r.enabled AS room_enabled, t.role_names \
     FROM room_codes c JOIN rooms r ON r.id = c.room_id JOIN templates t ON t.id = r.template_id";

pub(crate) fn code_binding_from(row: &impl Columns) -> StoreResult<CodeBinding> {
    Ok(CodeBinding {
        code: room_code_from(row)?,
        workspace_id: row.get("workspace_id")?,
        room_enabled: row.get("room_enabled")?,
        template_roles: row.json("role_names")?,
    })
}

pub(crate) fn session_from(row: &impl Columns) -> StoreResult<SessionRecord> {
    Ok(SessionRecord {
        id: row.get("id")?,
        workspace_id: row.get("workspace_id")?,
        room_id: row.get("room_id")?,
        active: row.get("active")?,
        started_at: row.nanos("started_ns")?,
        updated_at: row.nanos("updated_ns")?,
        revision: row.get("revision")?,
        peers: Vec::new(),
    })
}

pub(crate) fn session_peer_from(row: &impl Columns) -> StoreResult<SessionPeerRecord> {
    Ok(SessionPeerRecord {
        id: row.get("id")?,
        session_id: row.get("session_id")?,
        name: row.get("name")?,
        role: row.get("role")?,
        user_id: row.get("user_id")?,
        metadata: row.get("metadata")?,
        joined_at: row.nanos("joined_ns")?,
        left_at: row.nanos_opt("left_ns")?,
        current: PeerProfile {
            name: row.get("current_name")?,
            role: row.get("current_role")?,
            metadata: row.get("current_metadata")?,
        },
        node_id: row.get("node_id")?,
        tracks: row.json("tracks")?,
    })
}

pub(crate) fn session_revision_from(row: &impl Columns) -> StoreResult<SessionRevision> {
    Ok(SessionRevision {
        session_id: row.get("id")?,
        revision: row.get("revision")?,
    })
}

/// What a simulated peer received.
pub(crate) fn peer_delivery_from(row: &impl Columns) -> StoreResult<Delivery> {
    Ok(Delivery {
        kind: row.get("kind")?,
        at: row.nanos("at_ns")?,
        fields: row.json("fields")?,
    })
}

pub(crate) fn numbered_delivery_from(row: &impl Columns) -> StoreResult<NumberedDelivery> {
    Ok(NumberedDelivery {
        id: row.get("id")?,
        delivery: PeerDelivery {
            room_id: row.get("room_id")?,
            peer_id: row.get("peer_id")?,
            delivery: peer_delivery_from(row)?,
        },
    })
}

pub(crate) fn placement_from(row: &impl Columns) -> StoreResult<Placement> {
    Ok(Placement {
        node_id: row.get("node_id")?,
        url: row.get("url")?,
    })
}

pub(crate) fn logged_event_from(row: &impl Columns) -> StoreResult<LoggedEvent> {
    Ok(LoggedEvent {
        seq: row.get("seq")?,
        event: EventRecord {
            id: row.get("id")?,
            workspace_id: row.get("workspace_id")?,
            room_id: row.get("room_id")?,
            kind: row.get("kind")?,
            payload: row.get("payload")?,
            created_at: row.nanos("created_ns")?,
        },
    })
}

/// The webhook deliveries with their events, as `delivery_from` reads them.
pub(crate) const DELIVERY_SELECT: &str = "SELECT d.*, e.id AS event_id, e.workspace_id AS event_workspace_id, \
     e.room_id AS event_room_id, e.kind, e.payload, e.created_ns AS event_created_ns \
     FROM webhook_deliveries d JOIN events e ON e.seq = d.event_seq";

pub(crate) fn delivery_from(row: &impl Columns) -> StoreResult<DeliveryRecord> {
    let state: String = row.get("state")?;
    Ok(DeliveryRecord {
        id: row.get("id")?,
        event_seq: row.get("event_seq")?,
        event: EventRecord {
            id: row.get("event_id")?,
            workspace_id: row.get("event_workspace_id")?,
            room_id: row.get("event_room_id")?,
            kind: row.get("kind")?,
            payload: row.get("payload")?,
            created_at: row.nanos("event_created_ns")?,
        },
        url: row.get("url")?,
        headers: row.json("headers")?,
        replay_id: row.get("replay_id")?,
        state: DeliveryState::parse(&state).ok_or_else(|| StoreError::Corrupt(format!("delivery state {state}")))?,
        attempts: row.get("attempts")?,
        deadline: row.nanos("deadline_ns")?,
        last_status: row.get("last_status")?,
        last_error: row.get("last_error")?,
        created_at: row.nanos("created_ns")?,
        finished_at: row.nanos_opt("finished_ns")?,
    })
}

/// How many deliveries match a filter, with the joins `DELIVERY_SELECT` makes.
pub(crate) const DELIVERY_COUNT: &str =
    "SELECT COUNT(*) FROM webhook_deliveries d JOIN events e ON e.seq = d.event_seq";

pub(crate) fn replay_from(row: &impl Columns) -> StoreResult<ReplayRecord> {
    Ok(ReplayRecord {
        id: row.get("id")?,
        workspace_id: row.get("workspace_id")?,
        request_key: row.get("request_key")?,
        filters: row.get("filters")?,
        started_at: row.nanos("started_ns")?,
    })
}

/// A replay's progress from the counts of its deliveries: `total`, `delivered`, `failed`,
/// and `finished`, the latest time one of them finished.
pub(crate) fn replay_progress_from(
    counts: &impl Columns,
    replay: &ReplayRecord,
    failed_event_ids: Vec<String>,
) -> StoreResult<ReplayProgress> {
    let total: i64 = counts.get("total")?;
    let delivered: i64 = counts.get("delivered")?;
    let failed: i64 = counts.get("failed")?;
    let finished = counts.nanos_opt("finished")?;
    let done = delivered + failed == total;
    Ok(ReplayProgress {
        total,
        delivered,
        failed,
        failed_event_ids,
        finished_at: done.then(|| finished.unwrap_or(replay.started_at)),
    })
}

pub(crate) fn stranded_peer_from(row: &impl Columns) -> StoreResult<StrandedPeer> {
    Ok(StrandedPeer {
        workspace_id: row.get("workspace_id")?,
        room_id: row.get("room_id")?,
        peer_id: row.get("peer_id")?,
    })
}

pub(crate) fn workspace_webhook_from(row: &impl Columns) -> StoreResult<WorkspaceWebhook> {
    Ok(WorkspaceWebhook {
        workspace_id: row.get("workspace_id")?,
        url: row.get("url")?,
        headers: row.json("headers")?,
        signing_secret: row.get::<Option<String>>("signing_secret")?.map(AppSecret::new),
    })
}
