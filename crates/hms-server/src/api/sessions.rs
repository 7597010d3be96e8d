use axum::Json;
use hms_types::Page;
use hms_types::session::{Session, SessionFilter};

use super::bind::{Routes, bind};
use super::list_json::ListJson;
use super::{PathParams, Scope};
use crate::error::ApiResult;
use crate::extract::QueryParams;
use crate::service::sessions;

pub fn routes() -> Routes {
    // The docs write the list path with a trailing slash in one place.
    bind!(list => "list-sessions", list => "list-sessions-trailing-slash", retrieve => "get-session")
}

async fn list(s: Scope, QueryParams(filter): QueryParams<SessionFilter>) -> ApiResult<ListJson<Page<Session>>> {
    Ok(ListJson::page(sessions::list(s.store(), s.workspace(), filter).await?))
}

async fn retrieve(s: Scope, PathParams(session_id): PathParams<String>) -> ApiResult<Json<Session>> {
    Ok(Json(sessions::get(s.store(), s.workspace(), &session_id).await?))
}
