//! The peer simulator, served only with `--simulate-peers`.

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use hms_types::active_room::{Acknowledgement, ActivePeer};
use hms_types::simulate::{Deliveries, EventLog, EventLogQuery, SimulatedJoin};

use super::PathParams;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::extract::{JsonBody, QueryParams};
use crate::runtime::JoinRequest;
use crate::service::events;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v2/simulate/rooms/{room_id}/peers", post(join))
        .route(
            "/v2/simulate/rooms/{room_id}/peers/{peer_id}",
            axum::routing::delete(leave),
        )
        .route("/v2/simulate/rooms/{room_id}/peers/{peer_id}/messages", get(messages))
        .route("/v2/simulate/events", get(event_log))
}

async fn join(
    State(s): State<AppState>,
    caller: Caller,
    PathParams(room_id): PathParams<String>,
    JsonBody(join): JsonBody<SimulatedJoin>,
) -> ApiResult<Json<ActivePeer>> {
    let request = JoinRequest {
        role: join.role,
        name: join.name,
        user_id: join.user_id,
        metadata: join.metadata,
        ..JoinRequest::default()
    };
    Ok(Json(s.runtime.join(caller.workspace(), &room_id, request).await?))
}

async fn leave(
    State(s): State<AppState>,
    caller: Caller,
    PathParams((room_id, peer_id)): PathParams<(String, String)>,
) -> ApiResult<Json<Acknowledgement>> {
    s.runtime.leave(caller.workspace(), &room_id, &peer_id).await?;
    Ok(Json(Acknowledgement::new("peer left")))
}

async fn messages(
    State(s): State<AppState>,
    caller: Caller,
    PathParams((room_id, peer_id)): PathParams<(String, String)>,
) -> ApiResult<Json<Deliveries>> {
    let messages = s.runtime.deliveries(caller.workspace(), &room_id, &peer_id).await?;
    Ok(Json(Deliveries { messages }))
}

async fn event_log(
    State(s): State<AppState>,
    caller: Caller,
    QueryParams(query): QueryParams<EventLogQuery>,
) -> ApiResult<Json<EventLog>> {
    events::list(s.store.as_ref(), caller.workspace(), query)
        .await
        .map(Json)
}
