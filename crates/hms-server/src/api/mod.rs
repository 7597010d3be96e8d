//! HTTP handlers: one module per resource, named as the API names it. Handlers only
//! translate between HTTP and the services.

mod active_rooms;
mod health;
mod room_codes;
mod rooms;
mod sessions;
mod simulate;
mod templates;
mod token_exchange;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::{Method, Uri};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

use crate::error::ApiError;
use crate::state::AppState;

/// Path parameters whose rejection is the error envelope.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct PathParams<T>(pub T);

/// The whole HTTP surface of the server.
pub fn router(state: AppState) -> Router {
    let mut router = Router::new()
        .merge(health::routes())
        .merge(rooms::routes())
        .merge(room_codes::routes())
        .merge(templates::routes())
        .merge(sessions::routes())
        .merge(active_rooms::routes())
        .merge(token_exchange::routes());
    if state.config.simulate_peers {
        router = router.merge(simulate::routes());
    }
    router
        .fallback(no_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(CatchPanicLayer::custom(|_| {
            tracing::error!("a handler panicked");
            axum::response::IntoResponse::into_response(ApiError::internal())
        }))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn no_route(method: Method, uri: Uri) -> ApiError {
    ApiError::not_found("Not found").with_detail(format!("no route for {method} {}", uri.path()))
}

async fn wrong_method(method: Method, uri: Uri) -> ApiError {
    ApiError::new(axum::http::StatusCode::METHOD_NOT_ALLOWED, "Method not allowed")
        .with_detail(format!("{method} is not allowed on {}", uri.path()))
}
