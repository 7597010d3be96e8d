use axum::Json;
use axum::http::StatusCode;
use hms_types::template::{Destinations, RecordingConfig, Role, RoleParams, Settings, Template, TemplateParams};
use hms_types::{Page, PageQuery};

use super::bind::{Routes, bind};
use super::list_json::ListJson;
use super::{PathParams, Scope};
use crate::error::ApiResult;
use crate::extract::{JsonArrayBody, JsonBody, QueryParams};
use crate::service::templates;

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

async fn create(s: Scope, JsonBody(params): JsonBody<TemplateParams>) -> ApiResult<Json<Template>> {
    Ok(Json(templates::create(s.store(), s.workspace(), params).await?))
}

async fn list(s: Scope, QueryParams(page): QueryParams<PageQuery>) -> ApiResult<ListJson<Page<Template>>> {
    Ok(ListJson::page(templates::list(s.store(), s.workspace(), page).await?))
}

async fn retrieve(s: Scope, PathParams(id): Id) -> ApiResult<Json<Template>> {
    Ok(Json(templates::get(s.store(), s.workspace(), &id).await?))
}

async fn replace(
    s: Scope,
    PathParams(id): Id,
    JsonBody(params): JsonBody<TemplateParams>,
) -> ApiResult<Json<Template>> {
    Ok(Json(templates::replace(s.store(), s.workspace(), &id, params).await?))
}

async fn role(s: Scope, PathParams((id, role)): IdAndRole) -> ApiResult<Json<Role>> {
    Ok(Json(templates::role(s.store(), s.workspace(), &id, &role).await?))
}

async fn upsert_role(
    s: Scope,
    PathParams((id, role)): IdAndRole,
    JsonBody(params): JsonBody<RoleParams>,
) -> ApiResult<Json<Role>> {
    Ok(Json(
        templates::upsert_role(s.store(), s.workspace(), &id, &role, params).await?,
    ))
}

async fn delete_role(s: Scope, PathParams((id, role)): IdAndRole) -> ApiResult<StatusCode> {
    templates::delete_role(s.store(), s.workspace(), &id, &role).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn settings(s: Scope, PathParams(id): Id) -> ApiResult<Json<Settings>> {
    Ok(Json(templates::settings(s.store(), s.workspace(), &id).await?))
}

async fn replace_settings(
    s: Scope,
    PathParams(id): Id,
    JsonBody(settings): JsonBody<Settings>,
) -> ApiResult<Json<Settings>> {
    Ok(Json(
        templates::replace_settings(s.store(), s.workspace(), &id, settings).await?,
    ))
}

async fn destinations(s: Scope, PathParams(id): Id) -> ApiResult<Json<Destinations>> {
    Ok(Json(templates::destinations(s.store(), s.workspace(), &id).await?))
}

async fn replace_destinations(
    s: Scope,
    PathParams(id): Id,
    JsonBody(destinations): JsonBody<Destinations>,
) -> ApiResult<Json<Destinations>> {
    Ok(Json(
        templates::replace_destinations(s.store(), s.workspace(), &id, destinations).await?,
    ))
}

async fn recordings(s: Scope, PathParams(id): Id) -> ApiResult<Json<Vec<RecordingConfig>>> {
    Ok(Json(templates::recordings(s.store(), s.workspace(), &id).await?))
}

async fn replace_recordings(
    s: Scope,
    PathParams(id): Id,
    JsonArrayBody(recordings): JsonArrayBody<Vec<RecordingConfig>>,
) -> ApiResult<Json<Vec<RecordingConfig>>> {
    Ok(Json(
        templates::replace_recordings(s.store(), s.workspace(), &id, recordings).await?,
    ))
}
