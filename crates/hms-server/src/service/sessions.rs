//! Sessions: list and retrieve. Sessions are written by the room runtime.

use hms_store::{SessionRecord, Store, Workspace};
use hms_types::Page;
use hms_types::session::{Session, SessionFilter, SessionPeer};

/// Why sessions cannot be listed or found.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("no session has this id")]
    NotFound,
    #[error(transparent)]
    Store(#[from] hms_store::StoreError),
}

/// `GET /v2/sessions`. Without `active`, sessions of both states are listed: the docs'
/// own examples do so, although their text says the filter defaults to `true`.
pub async fn list(
    store: &dyn Store,
    workspace: &Workspace,
    filter: SessionFilter,
) -> Result<Page<Session>, SessionError> {
    let request = super::page_request(filter.page());
    let records = store.sessions(&workspace.id, &filter, &request).await?;
    let data: Vec<Session> = records.iter().map(|record| to_wire(workspace, record)).collect();
    Ok(super::page(&request, data, |session| session.id.as_str()))
}

pub async fn get(store: &dyn Store, workspace: &Workspace, id: &str) -> Result<Session, SessionError> {
    let record = store.session(&workspace.id, id).await?.ok_or(SessionError::NotFound)?;
    Ok(to_wire(workspace, &record))
}

fn to_wire(workspace: &Workspace, record: &SessionRecord) -> Session {
    let peers = record.peers.iter().map(|peer| {
        let wire = SessionPeer {
            id: peer.id.clone(),
            session_id: record.id.clone(),
            name: peer.name.clone(),
            role: peer.role.clone(),
            user_id: peer.user_id.clone(),
            joined_at: peer.joined_at.to_millis(),
            left_at: peer.left_at.map(|at| at.to_millis()),
        };
        (peer.id.clone(), wire)
    });
    Session {
        id: record.id.clone(),
        room_id: record.room_id.clone(),
        customer_id: workspace.customer_id.clone(),
        app_id: workspace.app_id.clone(),
        active: record.active,
        peers: peers.collect(),
        created_at: record.started_at.to_millis(),
        updated_at: record.updated_at.to_millis(),
    }
}
