//! Room codes: create for every role or one, list, enable and disable.

use hms_store::{CodeBinding, MAX_CODES_PER_ROOM, RoomView, Store, StoreError, Workspace};
use hms_types::room_code::{RoomCode, RoomCodeFilter, RoomCodeList};
use hms_types::{Page, Timestamp};

use crate::ids;

/// Why room codes cannot be made, listed or changed.
#[derive(Debug, thiserror::Error)]
pub enum RoomCodeError {
    #[error("no room has this id")]
    RoomNotFound,
    #[error("the room is disabled")]
    RoomDisabled,
    #[error("the room's template does not exist")]
    TemplateNotFound,
    #[error("the room's template has no such role")]
    RoleNotFound,
    #[error("no room code is named so")]
    CodeNotFound,
    /// Enabling a code whose role left the template.
    #[error("the code's role or room does not exist")]
    CannotEnable,
    #[error("a room holds at most {MAX_CODES_PER_ROOM} room codes")]
    TooManyCodes,
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for RoomCodeError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::TooManyCodes => RoomCodeError::TooManyCodes,
            other => RoomCodeError::Store(other),
        }
    }
}

type RoomCodeResult<T> = Result<T, RoomCodeError>;

/// A room that exists and is enabled, with the roles its template has now.
async fn usable_room(
    store: &dyn Store,
    workspace: &Workspace,
    room_id: &str,
) -> RoomCodeResult<(RoomView, Vec<String>)> {
    let view = store
        .room(&workspace.id, room_id)
        .await?
        .ok_or(RoomCodeError::RoomNotFound)?;
    if !view.room.enabled {
        return Err(RoomCodeError::RoomDisabled);
    }
    let template = store
        .template(&workspace.id, &view.room.template_id)
        .await?
        .ok_or(RoomCodeError::TemplateNotFound)?;
    let roles = template.body.roles.keys().cloned().collect();
    Ok((view, roles))
}

/// `POST /v2/room-codes/room/{room_id}`: one enabled code per current role, codes of
/// roles that left the template disabled, and every code of the room answered. Calling
/// it again changes nothing.
pub async fn create_for_all_roles(
    store: &dyn Store,
    workspace: &Workspace,
    room_id: &str,
) -> RoomCodeResult<RoomCodeList> {
    let (view, roles) = usable_room(store, workspace, room_id).await?;
    let data = store
        .reconcile_room_codes(&view.room.id, &roles, &ids::room_code, Timestamp::now())
        .await?;
    Ok(RoomCodeList { data })
}

/// `POST /v2/room-codes/room/{room_id}/role/{role}`: a new code on every call.
pub async fn create_for_role(
    store: &dyn Store,
    workspace: &Workspace,
    room_id: &str,
    role: &str,
) -> RoomCodeResult<RoomCode> {
    let (view, roles) = usable_room(store, workspace, room_id).await?;
    if !roles.iter().any(|r| r == role) {
        return Err(RoomCodeError::RoleNotFound);
    }
    store
        .create_room_code(&view.room.id, role, &ids::room_code, Timestamp::now())
        .await
        .map_err(RoomCodeError::from)
}

/// `GET /v2/room-codes/room/{room_id}`, in creation order; the cursor is a code.
pub async fn list(
    store: &dyn Store,
    workspace: &Workspace,
    room_id: &str,
    filter: RoomCodeFilter,
) -> RoomCodeResult<Page<RoomCode>> {
    let (view, roles) = usable_room(store, workspace, room_id).await?;
    if filter.role.as_ref().is_some_and(|role| !roles.contains(role)) {
        return Err(RoomCodeError::RoleNotFound);
    }
    let request = super::page_request(filter.page());
    let data = store.room_codes(&view.room.id, &filter, &request).await?;
    Ok(super::page(&request, data, |code| code.code.as_str()))
}

/// `POST /v2/room-codes/code[/{code}]`.
pub async fn set_enabled(
    store: &dyn Store,
    workspace: &Workspace,
    code: &str,
    enabled: bool,
) -> RoomCodeResult<RoomCode> {
    let binding = binding_in(store, workspace, code).await?;
    if enabled && !binding.template_roles.contains(&binding.code.role) {
        return Err(RoomCodeError::CannotEnable);
    }
    store
        .set_room_code_enabled(code, enabled, Timestamp::now())
        .await
        .map_err(|error| match error {
            StoreError::NotFound => RoomCodeError::CodeNotFound,
            other => other.into(),
        })
}

async fn binding_in(store: &dyn Store, workspace: &Workspace, code: &str) -> RoomCodeResult<CodeBinding> {
    store
        .room_code(code)
        .await?
        .filter(|binding| binding.workspace_id == workspace.id)
        .ok_or(RoomCodeError::CodeNotFound)
}
