//! The webhook history and replays of the analytics API.

use axum::Json;
use axum::extract::{RawQuery, State};
use hms_types::webhook::{ReplayRequest, ReplayStarted, ReplayStatus, WebhookHistory, WebhookHistoryQuery};

use super::PathParams;
use super::bind::{Routes, bind};
use super::list_json::ListJson;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::extract::{JsonBody, parse_query_with_lists};
use crate::service::webhooks;
use crate::state::AppState;

pub fn routes() -> Routes {
    bind!(history => "list-webhook-deliveries", replay => "replay-webhooks",
        replay_status => "get-webhook-replay")
}

async fn history(
    State(s): State<AppState>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> ApiResult<ListJson<WebhookHistory>> {
    let (mut parsed, mut lists) = parse_query_with_lists::<WebhookHistoryQuery>(query.as_deref(), &["event_names"])?;
    parsed.event_names = lists.remove("event_names").unwrap_or_default();
    let history = webhooks::history(s.store.as_ref(), caller.workspace(), parsed).await?;
    let items = history.events.len();
    Ok(ListJson::new(history, items))
}

async fn replay(
    State(s): State<AppState>,
    caller: Caller,
    JsonBody(request): JsonBody<ReplayRequest>,
) -> ApiResult<Json<ReplayStarted>> {
    Ok(Json(
        webhooks::replay(s.store.as_ref(), &s.config.webhooks, caller.workspace(), request).await?,
    ))
}

async fn replay_status(
    State(s): State<AppState>,
    caller: Caller,
    PathParams(workflow_id): PathParams<String>,
) -> ApiResult<Json<ReplayStatus>> {
    Ok(Json(
        webhooks::replay_status(s.store.as_ref(), caller.workspace(), &workflow_id).await?,
    ))
}
