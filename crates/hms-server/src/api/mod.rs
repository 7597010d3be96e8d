//! HTTP handlers: one module per resource, named as the API names it. Handlers only
//! translate between HTTP and the services.

mod active_rooms;
mod analytics;
mod bind;
mod docs;
mod health;
mod list_json;
pub mod mcp;
mod room_codes;
mod rooms;
mod sessions;
mod shape;
mod simulate;
mod status;
mod templates;
mod token_exchange;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{Method, Uri};
use axum::{Json, Router};
use hms_store::{Store, Workspace};
use hms_types::active_room::Acknowledgement;
use tower::ServiceExt;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

use bind::Routes;
use hms_api::Served;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::runtime::RoomRuntime;
use crate::state::AppState;

/// Path parameters whose rejection is the error envelope.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct PathParams<T>(pub T);

/// The answer of an action the API acknowledges with a message.
pub type Acknowledged = ApiResult<Json<Acknowledgement>>;

/// What a management handler acts in: the server's state and the workspace of the caller,
/// whose management token it verified (answering the 401 envelope otherwise).
pub struct Scope {
    state: AppState,
    caller: Caller,
}

impl Scope {
    pub fn state(&self) -> &AppState {
        &self.state
    }

    pub fn store(&self) -> &dyn Store {
        self.state.store.as_ref()
    }

    pub fn runtime(&self) -> &RoomRuntime {
        &self.state.runtime
    }

    pub fn workspace(&self) -> &Workspace {
        self.caller.workspace()
    }
}

impl FromRequestParts<AppState> for Scope {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        Ok(Self {
            state: state.clone(),
            caller,
        })
    }
}

/// The whole HTTP surface of the server: the REST API, and `/mcp` and `/dashboard`,
/// which act through the REST API.
pub fn router(state: AppState) -> Router {
    let rest = rest_router(state.clone());
    let mut router = mcp::routes(&state, rest.clone()).merge(crate::signal::routes().with_state(state.clone()));
    if state.config.dashboard {
        router = router.merge(crate::dashboard::routes(&state, rest.clone()));
    }
    router
        .merge(rest)
        .layer(axum::middleware::from_fn_with_state(
            state.metrics.clone(),
            crate::metrics::observe,
        ))
        .layer(crate::limits::provide(state.limits.clone()))
        .layer(TraceLayer::new_for_http())
}

/// The operations of the catalogue a server configured as `served` serves, each bound to
/// its handler (see [`bind`]).
fn operation_routes(served: Served) -> Routes {
    let mut routes = rooms::routes()
        .merge(room_codes::routes())
        .merge(templates::routes())
        .merge(sessions::routes())
        .merge(active_rooms::routes())
        .merge(analytics::routes())
        .merge(token_exchange::routes());
    if served.simulator {
        routes = routes.merge(simulate::routes());
    }
    routes
}

/// The REST API: the served operations of the catalogue, the health check and the
/// documents, and the error envelope for the rest.
fn rest_router(state: AppState) -> Router {
    let served = Served {
        simulator: state.config.simulate_peers,
    };
    Router::new()
        .merge(health::routes())
        .merge(docs::routes(served))
        .merge(operation_routes(served).into_router())
        .fallback(no_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(axum::middleware::from_fn(crate::extract::refuse_nul_in_url))
        .layer(CatchPanicLayer::custom(|_| {
            tracing::error!("a handler panicked");
            axum::response::IntoResponse::into_response(ApiError::internal())
        }))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::idempotency::layer,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::limits::limit_workspaces,
        ))
        .layer(crate::limits::provide(state.limits.clone()))
        .with_state(state)
}

/// Answers `request` through the REST API `rest` in process, as MCP and the dashboard act.
pub(crate) async fn call_rest(rest: &Router, request: axum::extract::Request) -> axum::response::Response {
    rest.clone()
        .oneshot(request)
        .await
        .unwrap_or_else(|never| match never {})
}

pub(crate) async fn no_route(method: Method, uri: Uri) -> ApiError {
    ApiError::not_found("Not found").with_detail(format!("no route for {method} {}", uri.path()))
}

async fn wrong_method(method: Method, uri: Uri) -> ApiError {
    ApiError::new(axum::http::StatusCode::METHOD_NOT_ALLOWED, "Method not allowed")
        .with_detail(format!("{method} is not allowed on {}", uri.path()))
}
