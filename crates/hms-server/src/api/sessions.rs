use axum::Json;
use axum::extract::State;
use hms_types::Page;
use hms_types::session::{Session, SessionFilter};

use super::PathParams;
use super::bind::{Routes, bind};
use super::list_json::ListJson;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::extract::QueryParams;
use crate::service::sessions;
use crate::state::AppState;

pub fn routes() -> Routes {
    // The docs write the list path with a trailing slash in one place.
    bind!(list => "list-sessions", list => "list-sessions-trailing-slash", retrieve => "get-session")
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    QueryParams(filter): QueryParams<SessionFilter>,
) -> ApiResult<ListJson<Page<Session>>> {
    let page = sessions::list(state.store.as_ref(), caller.workspace(), filter).await?;
    let items = page.data.len();
    Ok(ListJson::new(page, items))
}

async fn retrieve(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(session_id): PathParams<String>,
) -> ApiResult<Json<Session>> {
    Ok(Json(
        sessions::get(state.store.as_ref(), caller.workspace(), &session_id).await?,
    ))
}
