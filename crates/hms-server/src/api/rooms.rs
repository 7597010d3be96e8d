use axum::Json;
use axum::extract::State;
use hms_types::Page;
use hms_types::room::{Room, RoomFilter, RoomParams};

use super::PathParams;
use super::bind::{Routes, bind};
use super::list_json::ListJson;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::extract::{JsonBody, QueryParams};
use crate::service::rooms;
use crate::state::AppState;

pub fn routes() -> Routes {
    bind!(list => "list-rooms", create => "create-room", retrieve => "get-room",
        update => "update-room" | "enable-room" | "disable-room")
}

async fn create(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(params): JsonBody<RoomParams>,
) -> ApiResult<Json<Room>> {
    Ok(Json(
        rooms::create(state.store.as_ref(), caller.workspace(), params).await?,
    ))
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    QueryParams(filter): QueryParams<RoomFilter>,
) -> ApiResult<ListJson<Page<Room>>> {
    let page = rooms::list(state.store.as_ref(), caller.workspace(), filter).await?;
    let items = page.data.len();
    Ok(ListJson::new(page, items))
}

async fn retrieve(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(room_id): PathParams<String>,
) -> ApiResult<Json<Room>> {
    Ok(Json(
        rooms::get(state.store.as_ref(), caller.workspace(), &room_id).await?,
    ))
}

async fn update(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(room_id): PathParams<String>,
    JsonBody(params): JsonBody<RoomParams>,
) -> ApiResult<Json<Room>> {
    Ok(Json(
        rooms::update(state.store.as_ref(), caller.workspace(), &room_id, params).await?,
    ))
}
