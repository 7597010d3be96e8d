use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use hms_types::template::{Destinations, RecordingConfig, Role, RoleParams, Settings, Template, TemplateParams};
use hms_types::{Page, PageQuery};

use super::PathParams;
use super::bind::{Routes, bind};
use super::list_json::ListJson;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::extract::{JsonArrayBody, JsonBody, QueryParams};
use crate::service::templates;
use crate::state::AppState;

pub fn routes() -> Routes {
    bind!(list => "list-templates", create => "create-template", retrieve => "get-template",
        replace => "update-template", role => "get-role", upsert_role => "upsert-role",
        delete_role => "delete-role", settings => "get-template-settings",
        replace_settings => "update-template-settings", destinations => "get-template-destinations",
        replace_destinations => "update-template-destinations", recordings => "get-template-recordings",
        replace_recordings => "update-template-recordings")
}

type Id = PathParams<String>;
type IdAndRole = PathParams<(String, String)>;

async fn create(
    State(s): State<AppState>,
    caller: Caller,
    JsonBody(params): JsonBody<TemplateParams>,
) -> ApiResult<Json<Template>> {
    Ok(Json(
        templates::create(s.store.as_ref(), caller.workspace(), params).await?,
    ))
}

async fn list(
    State(s): State<AppState>,
    caller: Caller,
    QueryParams(page): QueryParams<PageQuery>,
) -> ApiResult<ListJson<Page<Template>>> {
    let page = templates::list(s.store.as_ref(), caller.workspace(), page).await?;
    let items = page.data.len();
    Ok(ListJson::new(page, items))
}

async fn retrieve(State(s): State<AppState>, caller: Caller, PathParams(id): Id) -> ApiResult<Json<Template>> {
    Ok(Json(templates::get(s.store.as_ref(), caller.workspace(), &id).await?))
}

async fn replace(
    State(s): State<AppState>,
    caller: Caller,
    PathParams(id): Id,
    JsonBody(params): JsonBody<TemplateParams>,
) -> ApiResult<Json<Template>> {
    Ok(Json(
        templates::replace(s.store.as_ref(), caller.workspace(), &id, params).await?,
    ))
}

async fn role(State(s): State<AppState>, caller: Caller, PathParams((id, role)): IdAndRole) -> ApiResult<Json<Role>> {
    Ok(Json(
        templates::role(s.store.as_ref(), caller.workspace(), &id, &role).await?,
    ))
}

async fn upsert_role(
    State(s): State<AppState>,
    caller: Caller,
    PathParams((id, role)): IdAndRole,
    JsonBody(params): JsonBody<RoleParams>,
) -> ApiResult<Json<Role>> {
    Ok(Json(
        templates::upsert_role(s.store.as_ref(), caller.workspace(), &id, &role, params).await?,
    ))
}

async fn delete_role(
    State(s): State<AppState>,
    caller: Caller,
    PathParams((id, role)): IdAndRole,
) -> ApiResult<StatusCode> {
    templates::delete_role(s.store.as_ref(), caller.workspace(), &id, &role).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn settings(State(s): State<AppState>, caller: Caller, PathParams(id): Id) -> ApiResult<Json<Settings>> {
    Ok(Json(
        templates::settings(s.store.as_ref(), caller.workspace(), &id).await?,
    ))
}

async fn replace_settings(
    State(s): State<AppState>,
    caller: Caller,
    PathParams(id): Id,
    JsonBody(settings): JsonBody<Settings>,
) -> ApiResult<Json<Settings>> {
    Ok(Json(
        templates::replace_settings(s.store.as_ref(), caller.workspace(), &id, settings).await?,
    ))
}

async fn destinations(State(s): State<AppState>, caller: Caller, PathParams(id): Id) -> ApiResult<Json<Destinations>> {
    Ok(Json(
        templates::destinations(s.store.as_ref(), caller.workspace(), &id).await?,
    ))
}

async fn replace_destinations(
    State(s): State<AppState>,
    caller: Caller,
    PathParams(id): Id,
    JsonBody(destinations): JsonBody<Destinations>,
) -> ApiResult<Json<Destinations>> {
    Ok(Json(
        templates::replace_destinations(s.store.as_ref(), caller.workspace(), &id, destinations).await?,
    ))
}

async fn recordings(
    State(s): State<AppState>,
    caller: Caller,
    PathParams(id): Id,
) -> ApiResult<Json<Vec<RecordingConfig>>> {
    Ok(Json(
        templates::recordings(s.store.as_ref(), caller.workspace(), &id).await?,
    ))
}

async fn replace_recordings(
    State(s): State<AppState>,
    caller: Caller,
    PathParams(id): Id,
    JsonArrayBody(recordings): JsonArrayBody<Vec<RecordingConfig>>,
) -> ApiResult<Json<Vec<RecordingConfig>>> {
    Ok(Json(
        templates::replace_recordings(s.store.as_ref(), caller.workspace(), &id, recordings).await?,
    ))
}
