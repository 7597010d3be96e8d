//! What the dashboard offers that the API has no operation for: the workspace's app
//! secrets, management tokens, and its webhook endpoint. These go through the services
//! that the `hms workspace` commands use, with the same rules.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use hms_auth::AppSecret;
use hms_store::WorkspaceCredentials;
use hms_types::Timestamp;
use serde::Deserialize;
use serde_json::{Value, json};

use super::Shared;
use super::guard::{self, Refusal, SignedIn};
use crate::error::ApiError;
use crate::service::{webhooks, workspaces};

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/dashboard/workspace/secrets", get(secrets).post(add_secret))
        .route("/dashboard/workspace/secrets/{secret_id}/retire", post(retire_secret))
        .route("/dashboard/workspace/token", post(generate_token))
        .route("/dashboard/workspace/webhook", get(webhook).post(set_webhook))
        .route("/dashboard/workspace/webhook/clear", post(clear_webhook))
}

/// Shortest and longest validity of a generated management token.
const MIN_TOKEN_SECS: i64 = 60;
const MAX_TOKEN_SECS: i64 = 14 * 24 * 3600;

/// The session's workspace, for a request that only reads.
fn reading(dashboard: &Shared, headers: &HeaderMap) -> Result<Arc<WorkspaceCredentials>, Refusal> {
    let signed_in = dashboard.signed_in(headers).ok_or(Refusal::NoSession)?;
    workspace_of(dashboard, &signed_in)
}

/// The session's workspace, for a request that changes something: it must be the
/// dashboard's own.
fn changing(dashboard: &Shared, headers: &HeaderMap) -> Result<Arc<WorkspaceCredentials>, Refusal> {
    let signed_in = dashboard.signed_in(headers).ok_or(Refusal::NoSession)?;
    if !guard::not_forged(headers, &signed_in, guard::csrf_header(headers)) {
        return Err(Refusal::Forged);
    }
    workspace_of(dashboard, &signed_in)
}

fn workspace_of(dashboard: &Shared, signed_in: &SignedIn) -> Result<Arc<WorkspaceCredentials>, Refusal> {
    dashboard
        .app
        .credentials
        .by_workspace_id(&signed_in.session.workspace_id)
        .ok_or(Refusal::NoSession)
}

/// The live secrets, each named by its id and its last characters only.
async fn secrets(State(dashboard): State<Shared>, headers: HeaderMap) -> Response {
    let credentials = match reading(&dashboard, &headers) {
        Ok(credentials) => credentials,
        Err(refused) => return refused.into_response(),
    };
    match dashboard.app.store.secrets(&credentials.workspace.id).await {
        Ok(records) => {
            let live: Vec<Value> = records
                .iter()
                .filter(|record| record.retired_at.is_none())
                .map(|record| {
                    json!({"id": record.id, "created_at": record.created_at, "ends_with": last_chars(record.secret.expose())})
                })
                .collect();
            Json(json!({"access_key": credentials.workspace.access_key, "secrets": live})).into_response()
        }
        Err(error) => ApiError::from(error).into_response(),
    }
}

fn last_chars(secret: &str) -> String {
    let start = secret.len().saturating_sub(4);
    secret.get(start..).unwrap_or_default().to_owned()
}

/// Adds a generated secret and shows it, this once.
async fn add_secret(State(dashboard): State<Shared>, headers: HeaderMap) -> Response {
    let credentials = match changing(&dashboard, &headers) {
        Ok(credentials) => credentials,
        Err(refused) => return refused.into_response(),
    };
    match workspaces::add_secret(dashboard.app.store.as_ref(), &credentials.workspace.name, None).await {
        Ok(record) => Json(json!({"id": record.id, "secret": record.secret.expose()})).into_response(),
        Err(error) => ApiError::from(error).into_response(),
    }
}

async fn retire_secret(State(dashboard): State<Shared>, Path(secret_id): Path<String>, headers: HeaderMap) -> Response {
    let credentials = match changing(&dashboard, &headers) {
        Ok(credentials) => credentials,
        Err(refused) => return refused.into_response(),
    };
    match workspaces::retire_secret(dashboard.app.store.as_ref(), &credentials.workspace.name, &secret_id).await {
        Ok(()) => Json(json!({"retired": secret_id})).into_response(),
        Err(error) => ApiError::from(error).into_response(),
    }
}

#[derive(Deserialize)]
struct TokenRequest {
    validity_secs: i64,
}

/// A management token of the workspace, signed with its newest secret.
async fn generate_token(State(dashboard): State<Shared>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let credentials = match changing(&dashboard, &headers) {
        Ok(credentials) => credentials,
        Err(refused) => return refused.into_response(),
    };
    let longest = MAX_TOKEN_SECS.min(dashboard.app.config.max_token_lifetime_secs);
    let validity = match serde_json::from_slice::<TokenRequest>(&body) {
        Ok(request) if (MIN_TOKEN_SECS..=longest).contains(&request.validity_secs) => request.validity_secs,
        _ => {
            return ApiError::invalid_body(format!(
                "validity_secs must be a number of seconds from {MIN_TOKEN_SECS} to {longest}"
            ))
            .into_response();
        }
    };
    let Some(secret) = credentials.secrets.first() else {
        return ApiError::internal().into_response();
    };
    let token = workspaces::management_token(&credentials.workspace.access_key, secret, validity);
    let expires_at = Timestamp::from_unix_millis((Timestamp::now().unix_seconds() + validity) * 1000);
    Json(json!({"token": token, "expires_at": expires_at})).into_response()
}

/// The workspace's endpoint; its signing secret is never shown, only whether there is one.
async fn webhook(State(dashboard): State<Shared>, headers: HeaderMap) -> Response {
    let credentials = match reading(&dashboard, &headers) {
        Ok(credentials) => credentials,
        Err(refused) => return refused.into_response(),
    };
    match dashboard.app.store.workspace_webhooks().await {
        Ok(all) => {
            let endpoint = all
                .into_iter()
                .find(|webhook| webhook.workspace_id == credentials.workspace.id);
            Json(match endpoint {
                Some(webhook) => json!({
                    "url": webhook.url,
                    "headers": webhook.headers.into_iter().collect::<BTreeMap<_, _>>(),
                    "signed": webhook.signing_secret.is_some(),
                }),
                None => json!({"url": null, "headers": {}, "signed": false}),
            })
            .into_response()
        }
        Err(error) => ApiError::from(error).into_response(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WebhookRequest {
    url: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    /// A new signing secret; absent or empty keeps the current one.
    #[serde(default)]
    signing_secret: Option<String>,
    /// Sends deliveries unsigned from now on.
    #[serde(default)]
    unsigned: bool,
}

async fn set_webhook(State(dashboard): State<Shared>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let credentials = match changing(&dashboard, &headers) {
        Ok(credentials) => credentials,
        Err(refused) => return refused.into_response(),
    };
    let request: WebhookRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(error) => return ApiError::invalid_body(error.to_string()).into_response(),
    };
    let store = dashboard.app.store.as_ref();
    let current = match store.workspace_webhooks().await {
        Ok(all) => all
            .into_iter()
            .find(|webhook| webhook.workspace_id == credentials.workspace.id),
        Err(error) => return ApiError::from(error).into_response(),
    };
    let signing_secret = match request.signing_secret.filter(|secret| !secret.is_empty()) {
        _ if request.unsigned => None,
        Some(secret) => Some(AppSecret::new(secret)),
        None => current.and_then(|webhook| webhook.signing_secret),
    };
    let headers = request.headers.into_iter().collect();
    match webhooks::set_workspace_webhook(store, &credentials.workspace, &request.url, headers, signing_secret).await {
        Ok(()) => Json(json!({"url": request.url})).into_response(),
        Err(error) => ApiError::from(error).into_response(),
    }
}

async fn clear_webhook(State(dashboard): State<Shared>, headers: HeaderMap) -> Response {
    let credentials = match changing(&dashboard, &headers) {
        Ok(credentials) => credentials,
        Err(refused) => return refused.into_response(),
    };
    match dashboard
        .app
        .store
        .clear_workspace_webhook(&credentials.workspace.id)
        .await
    {
        Ok(cleared) => Json(json!({"cleared": cleared})).into_response(),
        Err(error) => ApiError::from(error).into_response(),
    }
}
