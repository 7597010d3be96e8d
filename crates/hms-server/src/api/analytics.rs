//! The webhook history and replays of the analytics API.

use axum::Json;
use axum::extract::RawQuery;
use hms_types::webhook::{ReplayRequest, ReplayStarted, ReplayStatus, WebhookHistory, WebhookHistoryQuery};

use super::bind::{Routes, bind};
use super::list_json::ListJson;
use super::{PathParams, Scope};
use crate::error::ApiResult;
use crate::extract::{JsonBody, parse_query_with_lists};
use crate::service::webhooks;

pub fn routes() -> Routes {
    bind!(history => "list-webhook-deliveries", replay => "replay-webhooks",
        replay_status => "get-webhook-replay")
}

async fn history(s: Scope, RawQuery(query): RawQuery) -> ApiResult<ListJson<WebhookHistory>> {
    let (mut parsed, mut lists) = parse_query_with_lists::<WebhookHistoryQuery>(query.as_deref(), &["event_names"])?;
    parsed.event_names = lists.remove("event_names").unwrap_or_default();
    let history = webhooks::history(s.store(), s.workspace(), parsed).await?;
    let items = history.events.len();
    Ok(ListJson::new(history, items))
}

async fn replay(s: Scope, JsonBody(request): JsonBody<ReplayRequest>) -> ApiResult<Json<ReplayStarted>> {
    Ok(Json(
        webhooks::replay(s.store(), &s.state().config.webhooks, s.workspace(), request).await?,
    ))
}

async fn replay_status(s: Scope, PathParams(workflow_id): PathParams<String>) -> ApiResult<Json<ReplayStatus>> {
    Ok(Json(
        webhooks::replay_status(s.store(), s.workspace(), &workflow_id).await?,
    ))
}
