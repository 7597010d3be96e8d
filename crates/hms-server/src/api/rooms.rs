use axum::Json;
use hms_types::Page;
use hms_types::room::{Room, RoomFilter, RoomParams};

use super::bind::{Routes, bind};
use super::list_json::ListJson;
use super::{PathParams, Scope};
use crate::error::ApiResult;
use crate::extract::{JsonBody, QueryParams};
use crate::service::rooms;

pub fn routes() -> Routes {
    bind!(list => "list-rooms", create => "create-room", retrieve => "get-room",
        update => "update-room" | "enable-room" | "disable-room")
}

async fn create(s: Scope, JsonBody(params): JsonBody<RoomParams>) -> ApiResult<Json<Room>> {
    Ok(Json(rooms::create(s.store(), s.workspace(), params).await?))
}

async fn list(s: Scope, QueryParams(filter): QueryParams<RoomFilter>) -> ApiResult<ListJson<Page<Room>>> {
    Ok(ListJson::written(
        rooms::list_json(s.store(), s.workspace(), filter).await?,
    ))
}

async fn retrieve(s: Scope, PathParams(room_id): PathParams<String>) -> ApiResult<Json<Room>> {
    Ok(Json(rooms::get(s.store(), s.workspace(), &room_id).await?))
}

async fn update(
    s: Scope,
    PathParams(room_id): PathParams<String>,
    JsonBody(params): JsonBody<RoomParams>,
) -> ApiResult<Json<Room>> {
    Ok(Json(rooms::update(s.store(), s.workspace(), &room_id, params).await?))
}
