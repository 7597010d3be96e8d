//! Room codes: create for every role or one, list, enable and disable.

use hms_store::{CodeBinding, PageRequest, RoomView, Store, StoreError, Workspace};
use hms_types::room_code::{RoomCode, RoomCodeFilter, RoomCodeList};
use hms_types::{Page, Timestamp};

use crate::error::{ApiError, ApiResult};
use crate::ids;
use crate::service::rooms;

fn role_not_found() -> ApiError {
    ApiError::not_found("Role not found")
}

fn code_not_found() -> ApiError {
    ApiError::not_found("Code not found")
}

/// A room that exists and is enabled, with the roles its template has now.
async fn usable_room(store: &dyn Store, workspace: &Workspace, room_id: &str) -> ApiResult<(RoomView, Vec<String>)> {
    let view = store
        .room(&workspace.id, room_id)
        .await?
        .ok_or_else(rooms::room_not_found)?;
    if !view.room.enabled {
        return Err(ApiError::forbidden("Room is disabled"));
    }
    let template = store
        .template(&workspace.id, &view.room.template_id)
        .await?
        .ok_or_else(|| ApiError::not_found("Template not found"))?;
    let roles = template.body.roles.keys().cloned().collect();
    Ok((view, roles))
}

/// `POST /v2/room-codes/room/{room_id}`: one enabled code per current role, codes of
/// roles that left the template disabled, and every code of the room answered. Calling
/// it again changes nothing.
pub async fn create_for_all_roles(store: &dyn Store, workspace: &Workspace, room_id: &str) -> ApiResult<RoomCodeList> {
    let (view, roles) = usable_room(store, workspace, room_id).await?;
    let data = store
        .reconcile_room_codes(&view.room.id, &roles, &ids::room_code, Timestamp::now())
        .await
        .map_err(too_many_codes)?;
    Ok(RoomCodeList { data })
}

/// `POST /v2/room-codes/room/{room_id}/role/{role}`: a new code on every call.
pub async fn create_for_role(
    store: &dyn Store,
    workspace: &Workspace,
    room_id: &str,
    role: &str,
) -> ApiResult<RoomCode> {
    let (view, roles) = usable_room(store, workspace, room_id).await?;
    if !roles.iter().any(|r| r == role) {
        return Err(role_not_found());
    }
    store
        .create_room_code(&view.room.id, role, &ids::room_code, Timestamp::now())
        .await
        .map_err(too_many_codes)
}

fn too_many_codes(error: StoreError) -> ApiError {
    match error {
        StoreError::TooManyCodes => ApiError::bad_request("Room code limit reached").with_detail(error.to_string()),
        other => other.into(),
    }
}

/// `GET /v2/room-codes/room/{room_id}`, in creation order; the cursor is a code.
pub async fn list(
    store: &dyn Store,
    workspace: &Workspace,
    room_id: &str,
    filter: RoomCodeFilter,
) -> ApiResult<Page<RoomCode>> {
    let (view, roles) = usable_room(store, workspace, room_id).await?;
    if filter.role.as_ref().is_some_and(|role| !roles.contains(role)) {
        return Err(role_not_found());
    }
    let page = filter.page();
    let limit = page.effective_limit();
    let data = store
        .room_codes(
            &view.room.id,
            &filter,
            &PageRequest {
                limit,
                start: page.start,
            },
        )
        .await?;
    let last = data.last().map(|code| code.code.clone()).unwrap_or_default();
    Ok(Page { limit, data, last })
}

/// `POST /v2/room-codes/code[/{code}]`.
pub async fn set_enabled(store: &dyn Store, workspace: &Workspace, code: &str, enabled: bool) -> ApiResult<RoomCode> {
    let binding = binding_in(store, workspace, code).await?;
    if enabled && !binding.template_roles.contains(&binding.code.role) {
        return Err(ApiError::forbidden(
            "Code can not be enabled (role/room does not exist)",
        ));
    }
    store
        .set_room_code_enabled(code, enabled, Timestamp::now())
        .await
        .map_err(|error| match error {
            StoreError::NotFound => code_not_found(),
            other => other.into(),
        })
}

async fn binding_in(store: &dyn Store, workspace: &Workspace, code: &str) -> ApiResult<CodeBinding> {
    store
        .room_code(code)
        .await?
        .filter(|binding| binding.workspace_id == workspace.id)
        .ok_or_else(code_not_found)
}
