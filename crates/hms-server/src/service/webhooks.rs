//! Webhook endpoints, the delivery history and replays.

use hms_auth::AppSecret;
use hms_store::{
    DeliveryFilter, DeliveryRecord, DeliveryState, NewDelivery, ReplayRecord, ReplayStart, Store, Workspace,
    WorkspaceWebhook,
};
use hms_types::PreciseTime;
use hms_types::webhook::{
    DeliveryPayload, DeliveryReport, HistorySummary, PageNumbers, ReplayCounts, ReplayFilters, ReplayRequest,
    ReplayResult, ReplayStarted, ReplayStatus, WebhookHistory, WebhookHistoryQuery,
};
use serde_json::{Map, Value};
use std::time::Duration;

use crate::config::{WebhookConfig, WorkspaceWebhookConfig};
use crate::ids;
use crate::webhooks::{Endpoints, SIGNATURE_HEADER, later};

const DAY: Duration = Duration::from_secs(24 * 3600);
/// How far back the history and replays reach, and the widest window they take.
const HISTORY_DAYS: u32 = 30;
const WINDOW_DAYS: u32 = 14;
const MAX_REPLAY: u32 = 50_000;
const DEFAULT_HISTORY_PAGE: u32 = 50;
const MAX_HISTORY_PAGE: u32 = 100;

/// Why a webhook endpoint is refused or cannot be set, or the delivery history or a
/// replay cannot be read or started.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("webhook.url must be an absolute http or https URL")]
    InvalidUrl,
    #[error("webhook header {0:?} is set by the server")]
    ReservedHeader(String),
    #[error("webhook header {0:?} is not a valid HTTP header")]
    InvalidHeader(String),
    #[error("no workspace is named {0}")]
    NoSuchWorkspace(String),
    #[error("{0} must be an RFC 3339 time")]
    InvalidTime(&'static str),
    #[error("start_time must be within the last {HISTORY_DAYS} days")]
    StartTooEarly,
    #[error("end_time must be within {WINDOW_DAYS} days after start_time")]
    WindowTooWide,
    #[error("status must be all, failed or success")]
    InvalidStatus,
    #[error("limit must be between 1 and {MAX_HISTORY_PAGE}")]
    InvalidPageSize,
    #[error("page starts at 1")]
    PageZero,
    #[error("limit must be between 1 and {MAX_REPLAY}")]
    InvalidReplayLimit,
    #[error("no replay has this workflow id")]
    ReplayNotFound,
    #[error("stored replay filters do not parse: {0}")]
    UnreadableReplay(serde_json::Error),
    #[error(transparent)]
    Store(#[from] hms_store::StoreError),
}

type WebhookResult<T> = Result<T, WebhookError>;

/// A webhook endpoint must be an absolute http or https URL.
pub fn validate_url(url: &str) -> Result<(), WebhookError> {
    let valid = url::Url::parse(url)
        .ok()
        .is_some_and(|url| matches!(url.scheme(), "http" | "https") && url.host().is_some());
    if valid { Ok(()) } else { Err(WebhookError::InvalidUrl) }
}

/// Headers the server sets itself on every delivery: a custom header may not replace them.
const RESERVED_HEADERS: [&str; 7] = [
    "content-type",
    "content-length",
    "transfer-encoding",
    "host",
    "connection",
    "user-agent",
    SIGNATURE_HEADER,
];

/// Header names and values must be sendable as they are, and not the server's own.
pub fn validate_headers<'a>(headers: impl IntoIterator<Item = (&'a String, &'a String)>) -> Result<(), WebhookError> {
    for (name, value) in headers {
        if RESERVED_HEADERS
            .iter()
            .any(|reserved| name.eq_ignore_ascii_case(reserved))
        {
            return Err(WebhookError::ReservedHeader(name.clone()));
        }
        let valid = axum::http::HeaderName::from_bytes(name.as_bytes()).is_ok()
            && axum::http::HeaderValue::from_str(value).is_ok();
        if !valid {
            return Err(WebhookError::InvalidHeader(name.clone()));
        }
    }
    Ok(())
}

/// Sets the workspace-level endpoint, used for every room without its own.
pub async fn set_workspace_webhook(
    store: &dyn Store,
    workspace: &Workspace,
    url: &str,
    headers: Vec<(String, String)>,
    signing_secret: Option<AppSecret>,
) -> Result<(), WebhookError> {
    validate_url(url)?;
    validate_headers(headers.iter().map(|(name, value)| (name, value)))?;
    let webhook = WorkspaceWebhook {
        workspace_id: workspace.id.clone(),
        url: url.to_owned(),
        headers,
        signing_secret,
    };
    Ok(store.set_workspace_webhook(&webhook).await?)
}

/// Applies the `[[webhooks.workspaces]]` of the config file.
pub async fn apply_config(store: &dyn Store, entries: &[WorkspaceWebhookConfig]) -> Result<(), WebhookError> {
    for entry in entries {
        let workspace = store
            .workspace_by_name(&entry.workspace)
            .await?
            .ok_or_else(|| WebhookError::NoSuchWorkspace(entry.workspace.clone()))?;
        let headers = entry.headers.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        let secret = entry.signing_secret.clone().map(AppSecret::new);
        set_workspace_webhook(store, &workspace, &entry.url, headers, secret).await?;
    }
    Ok(())
}

/// `GET /v2/analytics/webhooks`: deliveries newest first, by page number.
pub async fn history(
    store: &dyn Store,
    workspace: &Workspace,
    query: WebhookHistoryQuery,
) -> WebhookResult<WebhookHistory> {
    let (from, to) = time_range(query.start_time.as_deref(), query.end_time.as_deref())?;
    let states = states_for(query.status.as_deref().unwrap_or("all"))?;
    let page_size = query.limit.unwrap_or(DEFAULT_HISTORY_PAGE);
    if !(1..=MAX_HISTORY_PAGE).contains(&page_size) {
        return Err(WebhookError::InvalidPageSize);
    }
    let page = query.page.unwrap_or(1);
    if page == 0 {
        return Err(WebhookError::PageZero);
    }
    let filter = DeliveryFilter {
        created_from: Some(from),
        created_to: Some(to),
        room_id: query.room_id,
        states,
        kinds: query.event_names,
        originals_only: false,
    };
    let offset = u64::from(page - 1) * u64::from(page_size);
    let (records, total) = store.deliveries(&workspace.id, &filter, offset, page_size).await?;
    let total_pages = total.div_ceil(u64::from(page_size));
    Ok(WebhookHistory {
        events: records.iter().map(report).collect(),
        pagination: PageNumbers {
            current_page: page,
            page_size,
            total_pages,
            total_items: total,
            has_next: u64::from(page) < total_pages,
            has_prev: page > 1,
        },
        summary: HistorySummary { total_events: total },
    })
}

fn report(delivery: &DeliveryRecord) -> DeliveryReport {
    let envelope: Value = serde_json::from_str(&delivery.event.payload).unwrap_or(Value::Null);
    let event_data: Map<String, Value> = ["session_id", "peer_id", "user_id"]
        .into_iter()
        .filter_map(|key| envelope["data"].get(key).map(|value| (key.to_owned(), value.clone())))
        .collect();
    let outcome = match delivery.state {
        DeliveryState::Delivered => "success",
        DeliveryState::Failed => "failed",
        DeliveryState::Pending => "pending",
    };
    DeliveryReport {
        event_id: delivery.event.id.clone(),
        event_name: format!("reporter.webhook.delivery.{outcome}"),
        room_id: delivery.event.room_id.clone(),
        event_timestamp: delivery.event.created_at.to_seconds_string(),
        payload: DeliveryPayload {
            event_data,
            webhook_url: delivery.url.clone(),
            original_event_name: delivery.event.kind.clone(),
            error_reason: delivery
                .last_error
                .clone()
                .filter(|_| delivery.state != DeliveryState::Delivered),
            attempts: delivery.attempts,
            is_replay: delivery.replay_id.is_some(),
        },
    }
}

/// `POST /v2/analytics/webhooks/replay`: re-sends the matching events, marked
/// `is_replay`, to the endpoints configured now, at `replay_per_sec`. The same request
/// while a replay of it still runs answers that replay, `already_running`.
pub async fn replay(
    store: &dyn Store,
    config: &WebhookConfig,
    workspace: &Workspace,
    request: ReplayRequest,
) -> WebhookResult<ReplayStarted> {
    // The request as sent identifies a running replay: its default window moves with
    // the clock, so the resolved filters of a repeat would never match.
    let request_key = serde_json::to_string(&request).expect("requests serialise");
    let (from, to) = time_range(request.start_time.as_deref(), request.end_time.as_deref())?;
    let status = request.status.unwrap_or_else(|| "failed".to_owned());
    let states = states_for(&status)?;
    let limit = request.limit.unwrap_or(MAX_REPLAY);
    if !(1..=MAX_REPLAY).contains(&limit) {
        return Err(WebhookError::InvalidReplayLimit);
    }
    let offset = request.offset.unwrap_or(0);
    let filters = ReplayFilters {
        start_time: from.to_seconds_string(),
        end_time: to.to_seconds_string(),
        room_id: request.room_id.clone().unwrap_or_default(),
        event_types: request.event_names.clone(),
        limit,
        offset,
        status,
    };
    let filters_json = serde_json::to_string(&filters).expect("filters serialise");
    let filter = DeliveryFilter {
        created_from: Some(from),
        created_to: Some(to),
        room_id: request.room_id.filter(|id| !id.is_empty()),
        states,
        kinds: request.event_names,
        originals_only: true,
    };
    let (mut matched, _) = store
        .deliveries(&workspace.id, &filter, u64::from(offset), limit)
        .await?;
    matched.reverse();
    matched.dedup_by_key(|delivery| delivery.event_seq);
    let id = format!("webhook-replay-{}-{}", workspace.customer_id, &ids::random_token(8));
    let deliveries = replay_deliveries(store, config, &id, &matched).await?;
    let record = ReplayRecord {
        id: id.clone(),
        workspace_id: workspace.id.clone(),
        request_key,
        filters: filters_json,
        started_at: PreciseTime::now(),
    };
    match store.create_replay(&record, &deliveries).await? {
        ReplayStart::Started => Ok(started(id, "started", filters)),
        ReplayStart::AlreadyRunning(running) => {
            let filters = serde_json::from_str(&running.filters).unwrap_or(filters);
            Ok(started(running.id, "already_running", filters))
        }
    }
}

/// One delivery per event, spaced so that the replay sends `replay_per_sec` at most.
async fn replay_deliveries(
    store: &dyn Store,
    config: &WebhookConfig,
    replay_id: &str,
    matched: &[DeliveryRecord],
) -> WebhookResult<Vec<NewDelivery>> {
    let mut endpoints = Endpoints::load(store).await?;
    let spacing = Duration::from_secs(1) / config.replay_per_sec.max(1);
    let now = PreciseTime::now();
    let mut deliveries = Vec::new();
    for original in matched {
        let event = &original.event;
        let Some((url, headers)) = endpoints.resolve(&event.workspace_id, &event.room_id).await? else {
            continue;
        };
        let next_attempt_at = later(now, spacing * deliveries.len() as u32);
        deliveries.push(NewDelivery {
            event_seq: original.event_seq,
            workspace_id: event.workspace_id.clone(),
            room_id: event.room_id.clone(),
            url,
            headers,
            replay_id: Some(replay_id.to_owned()),
            next_attempt_at,
            deadline: later(next_attempt_at, Duration::from_secs(config.retry_window_secs)),
            created_at: now,
        });
    }
    Ok(deliveries)
}

fn started(workflow_id: String, status: &str, filters: ReplayFilters) -> ReplayStarted {
    ReplayStarted {
        workflow_id,
        status: status.to_owned(),
        message: "Webhook replay has been queued for processing".to_owned(),
        filters,
    }
}

/// `GET /v2/analytics/webhooks/replay/{workflow_id}`.
pub async fn replay_status(store: &dyn Store, workspace: &Workspace, id: &str) -> WebhookResult<ReplayStatus> {
    let (replay, progress) = store
        .replay(&workspace.id, id)
        .await?
        .ok_or(WebhookError::ReplayNotFound)?;
    let filters: ReplayFilters = serde_json::from_str(&replay.filters).map_err(WebhookError::UnreadableReplay)?;
    let status = match (progress.finished_at, progress.failed) {
        (None, _) => "Running",
        (Some(_), 0) => "completed",
        (Some(_), _) => "completed_with_failures",
    };
    let result = progress.finished_at.map(|_| ReplayResult {
        total: progress.total,
        completed: progress.delivered,
        failed: progress.failed,
        failed_events: progress.failed_event_ids.clone(),
    });
    Ok(ReplayStatus {
        workflow_id: replay.id,
        status: status.to_owned(),
        started_at: replay.started_at.to_seconds_string(),
        completed_at: progress.finished_at.map(PreciseTime::to_seconds_string),
        filters,
        progress: ReplayCounts {
            total: progress.total,
            completed: progress.delivered,
            failed: progress.failed,
        },
        result,
    })
}

fn states_for(status: &str) -> WebhookResult<Vec<DeliveryState>> {
    match status {
        "all" => Ok(Vec::new()),
        "failed" => Ok(vec![DeliveryState::Failed]),
        "success" => Ok(vec![DeliveryState::Delivered]),
        _ => Err(WebhookError::InvalidStatus),
    }
}

/// The window of a history or replay request: default the last 24 hours, starting at
/// most 30 days ago and at most 14 days wide, as 100ms has it.
fn time_range(start: Option<&str>, end: Option<&str>) -> WebhookResult<(PreciseTime, PreciseTime)> {
    let now = PreciseTime::now();
    let parse = |name: &'static str, text: &str| PreciseTime::parse(text).ok_or(WebhookError::InvalidTime(name));
    let start = match start {
        Some(text) => parse("start_time", text)?,
        None => earlier(now, DAY),
    };
    let end = match end {
        Some(text) => parse("end_time", text)?,
        None => now,
    };
    if start < earlier(now, DAY * HISTORY_DAYS) {
        return Err(WebhookError::StartTooEarly);
    }
    if end > later(start, DAY * WINDOW_DAYS) || end < start {
        return Err(WebhookError::WindowTooWide);
    }
    Ok((start, end))
}

fn earlier(time: PreciseTime, delay: Duration) -> PreciseTime {
    PreciseTime::from_unix_nanos(time.unix_nanos() - delay.as_nanos() as i128)
}
