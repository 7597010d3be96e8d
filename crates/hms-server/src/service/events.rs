//! The event log, as the simulator shows it.

use hms_store::{EventQuery, Store, Workspace};
use hms_types::simulate::{EventLog, EventLogQuery};
use hms_types::webhook::WebhookEvent;

/// Why the event log cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum EventLogError {
    #[error("a logged event does not parse: {0}")]
    Unreadable(serde_json::Error),
    #[error(transparent)]
    Store(#[from] hms_store::StoreError),
}

const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 1000;

pub async fn list(store: &dyn Store, workspace: &Workspace, query: EventLogQuery) -> Result<EventLog, EventLogError> {
    let query = EventQuery {
        room_id: query.room_id,
        kind: query.kind,
        after_seq: query.after,
        limit: query.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT),
    };
    let logged = store.events(&workspace.id, &query).await?;
    let last = logged.last().map(|entry| entry.seq);
    let events = logged
        .into_iter()
        .map(|entry| serde_json::from_str::<WebhookEvent>(&entry.event.payload))
        .collect::<Result<Vec<_>, _>>()
        .map_err(EventLogError::Unreadable)?;
    Ok(EventLog { events, last })
}
