//! The peer simulator, served only with `--simulate-peers`.

use axum::Json;
use axum::extract::State;
use hms_types::active_room::{Acknowledgement, ActivePeer};
use hms_types::simulate::{Deliveries, EventLog, EventLogQuery, SimulatedJoin};

use super::PathParams;
use super::bind::{Routes, bind};
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::extract::{JsonBody, QueryParams};
use crate::runtime::JoinRequest;
use crate::service::events;
use crate::state::AppState;

pub fn routes() -> Routes {
    bind!(join => "simulate-peer-join", leave => "simulate-peer-leave",
        messages => "list-simulated-peer-messages", event_log => "list-events")
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
    Ok(Json(events::list(s.store.as_ref(), caller.workspace(), query).await?))
}
