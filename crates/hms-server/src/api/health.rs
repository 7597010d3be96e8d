use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/healthz", get(healthz))
}

/// The listener is bound only once the store is open and migrated, so any answer
/// means ready.
async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}
