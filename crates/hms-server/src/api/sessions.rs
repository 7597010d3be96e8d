use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use hms_types::Page;
use hms_types::session::{Session, SessionFilter};

use super::PathParams;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::extract::QueryParams;
use crate::service::sessions;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v2/sessions", get(list))
        // The docs write the list path with a trailing slash in one place.
        .route("/v2/sessions/", get(list))
        .route("/v2/sessions/{session_id}", get(retrieve))
}

async fn list(
    State(state): State<AppState>,
    caller: Caller,
    QueryParams(filter): QueryParams<SessionFilter>,
) -> ApiResult<Json<Page<Session>>> {
    sessions::list(state.store.as_ref(), caller.workspace(), filter)
        .await
        .map(Json)
}

async fn retrieve(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(session_id): PathParams<String>,
) -> ApiResult<Json<Session>> {
    sessions::get(state.store.as_ref(), caller.workspace(), &session_id)
        .await
        .map(Json)
}
