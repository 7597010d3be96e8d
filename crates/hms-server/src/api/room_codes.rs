use axum::Json;
use axum::extract::Request;
use hms_types::Page;
use hms_types::room_code::{RoomCode, RoomCodeFilter, RoomCodeList, RoomCodeUpdate};

use super::bind::{Routes, bind};
use super::list_json::ListJson;
use super::{PathParams, Scope};
use crate::error::{ApiError, ApiResult};
use crate::extract::{QueryParams, Shape, parse_json, read_body};
use crate::service::room_codes;
use crate::state::AppState;

pub fn routes() -> Routes {
    bind!(list => "get-room-codes", create_for_all_roles => "create-room-codes",
        create_for_role => "create-room-code-for-role", update => "update-room-code-by-body",
        update_by_path => "update-room-code")
}

async fn create_for_all_roles(s: Scope, PathParams(room_id): PathParams<String>) -> ApiResult<Json<RoomCodeList>> {
    Ok(Json(
        room_codes::create_for_all_roles(s.store(), s.workspace(), &room_id).await?,
    ))
}

async fn create_for_role(
    s: Scope,
    PathParams((room_id, role)): PathParams<(String, String)>,
) -> ApiResult<Json<RoomCode>> {
    Ok(Json(
        room_codes::create_for_role(s.store(), s.workspace(), &room_id, &role).await?,
    ))
}

async fn list(
    s: Scope,
    PathParams(room_id): PathParams<String>,
    QueryParams(filter): QueryParams<RoomCodeFilter>,
) -> ApiResult<ListJson<Page<RoomCode>>> {
    Ok(ListJson::page(
        room_codes::list(s.store(), s.workspace(), &room_id, filter).await?,
    ))
}

/// `POST /v2/room-codes/code` with the code in the body, as the Node SDK sends it.
async fn update(s: Scope, request: Request) -> ApiResult<Json<RoomCode>> {
    let body = update_body(s.state(), request).await?;
    let code = body
        .code
        .ok_or_else(|| ApiError::bad_request("Invalid body parameter").with_detail("code is required"))?;
    Ok(Json(
        room_codes::set_enabled(s.store(), s.workspace(), &code, body.enabled).await?,
    ))
}

/// `POST /v2/room-codes/code/{code}`, as other clients send it.
async fn update_by_path(s: Scope, PathParams(code): PathParams<String>, request: Request) -> ApiResult<Json<RoomCode>> {
    let body = update_body(s.state(), request).await?;
    if body.code.as_ref().is_some_and(|in_body| *in_body != code) {
        return Err(
            ApiError::bad_request("Invalid body parameter").with_detail("code in the body differs from the path")
        );
    }
    Ok(Json(
        room_codes::set_enabled(s.store(), s.workspace(), &code, body.enabled).await?,
    ))
}

/// This endpoint alone refuses unknown fields, with its own documented message.
async fn update_body(state: &AppState, request: Request) -> ApiResult<RoomCodeUpdate> {
    let bytes = read_body(request.into_body(), state.config.max_body_bytes).await?;
    parse_json(&bytes, Shape::Object, "Invalid body parameter")
}
