//! The peer simulator, served only with `--simulate-peers`.

use axum::Json;
use hms_types::active_room::{Acknowledgement, ActivePeer};
use hms_types::simulate::{Deliveries, EventLog, EventLogQuery, SimulatedJoin};

use super::bind::{Routes, bind};
use super::{Acknowledged, PathParams, Scope};
use crate::error::ApiResult;
use crate::extract::{JsonBody, QueryParams};
use crate::runtime::JoinRequest;
use crate::service::events;

pub fn routes() -> Routes {
    bind!(join => "simulate-peer-join", leave => "simulate-peer-leave",
        messages => "list-simulated-peer-messages", event_log => "list-events")
}

async fn join(
    s: Scope,
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
    Ok(Json(s.runtime().join(s.workspace(), &room_id, request).await?))
}

async fn leave(s: Scope, PathParams((room_id, peer_id)): PathParams<(String, String)>) -> Acknowledged {
    s.runtime().leave(s.workspace(), &room_id, &peer_id).await?;
    Ok(Json(Acknowledgement::new("peer left")))
}

async fn messages(
    s: Scope,
    PathParams((room_id, peer_id)): PathParams<(String, String)>,
) -> ApiResult<Json<Deliveries>> {
    let messages = s.runtime().deliveries(s.workspace(), &room_id, &peer_id).await?;
    Ok(Json(Deliveries { messages }))
}

async fn event_log(s: Scope, QueryParams(query): QueryParams<EventLogQuery>) -> ApiResult<Json<EventLog>> {
    Ok(Json(events::list(s.store(), s.workspace(), query).await?))
}
