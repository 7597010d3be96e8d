use axum::Json;
use axum::extract::State;
use axum::http::{Method, StatusCode, header};
use axum::routing::post;
use hms_types::token::{TokenRequest, TokenResponse};
use tower_http::cors::{Any, CorsLayer};

use super::bind::Routes;
use super::shape::shape_of;
use crate::error::ApiResult;
use crate::extract::JsonBody;
use crate::service::token_exchange;
use crate::state::AppState;

/// `POST /v2/token` is called from browsers on other origins: it answers CORS, preflight
/// included. It takes no authentication: the room code is the credential, so each client
/// address is rate-limited (inside CORS, so that browsers can read the 429).
pub fn routes() -> Routes {
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::POST, Method::OPTIONS])
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            header::ACCEPT,
            header::USER_AGENT,
        ])
        .max_age(std::time::Duration::from_secs(3600));
    // The CORS layer answers preflights itself; the OPTIONS route only makes the path
    // accept the method, which the router would otherwise refuse before the layer ran.
    let route = post(exchange)
        .options(|| async { StatusCode::NO_CONTENT })
        .route_layer(axum::middleware::from_fn(crate::limits::limit_clients));
    Routes::default().bind_with(&["exchange-room-code"], route.layer(cors), shape_of(&exchange))
}

async fn exchange(
    State(state): State<AppState>,
    JsonBody(request): JsonBody<TokenRequest>,
) -> ApiResult<Json<TokenResponse>> {
    let response = token_exchange::exchange(
        state.store.as_ref(),
        &state.credentials,
        request,
        state.config.app_token_validity_secs,
    )
    .await?;
    Ok(Json(response))
}
