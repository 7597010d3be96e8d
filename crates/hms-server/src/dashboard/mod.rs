//! `/dashboard`: a web console for a workspace, served from the binary.
//!
//! A person signs in with the workspace's access key and app secret (or a management
//! token) and gets a session cookie; the browser never holds a secret. Every action on the
//! API's objects is dispatched through the server's own REST router ([`proxy`]) with a
//! short-lived management token minted for the session's workspace, as `/mcp` dispatches
//! its tools, so the dashboard follows the API's rules and cannot disagree with it. Only
//! what the API has no operation for (app secrets, management tokens, the workspace's
//! webhook endpoint) is served by [`workspace`], through the same services the `hms
//! workspace` commands use.

mod guard;
mod pages;
mod proxy;
mod session;
mod sign_in;
mod workspace;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{any, get, post};

use crate::state::AppState;
use session::{Sessions, SignInLimiter};

/// The address a connection came from, over plain TCP or TLS alike: failed sign-ins are
/// counted per client address.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub SocketAddr);

/// Where the dashboard lives.
pub const PATH: &str = "/dashboard";

/// What the dashboard's handlers share.
pub struct Dashboard {
    app: AppState,
    /// The REST API, which every action on the API's objects goes through.
    rest: Router,
    sessions: Sessions,
    sign_ins: SignInLimiter,
    pages: pages::Pages,
}

type Shared = Arc<Dashboard>;

/// How long failed sign-ins count against their client address.
const SIGN_IN_WINDOW: Duration = Duration::from_secs(60);

/// The dashboard's routes, whose actions call `rest` (the server's REST router); `/`
/// sends browsers to the dashboard.
pub fn routes(state: &AppState, rest: Router) -> Router {
    let dashboard = Arc::new(Dashboard {
        app: state.clone(),
        rest,
        sessions: Sessions::default(),
        sign_ins: SignInLimiter::new(state.config.dashboard_sign_in_limit, SIGN_IN_WINDOW),
        pages: pages::Pages::new(),
    });
    Router::new()
        .route("/", any(root))
        .route(PATH, get(pages::home))
        .route("/dashboard/", get(pages::home))
        .route("/dashboard/sign-in", get(sign_in::form).post(sign_in::sign_in))
        .route("/dashboard/sign-out", post(sign_in::sign_out))
        .route("/dashboard/assets/{file}", get(pages::asset))
        .route("/dashboard/api/{*path}", any(proxy::dispatch))
        .merge(workspace::routes())
        .route("/dashboard/{*page}", get(pages::page))
        .layer(middleware::from_fn(security_headers))
        .with_state(dashboard)
}

/// A browser opening `/` is sent to the dashboard; API clients get the API's 404.
async fn root(method: Method, uri: Uri, headers: HeaderMap) -> Response {
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|accept| accept.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    if method == Method::GET && wants_html {
        Redirect::to(PATH).into_response()
    } else {
        crate::api::no_route(method, uri).await.into_response()
    }
}

/// The policy of every dashboard answer: only the dashboard's own scripts, styles and
/// requests, never inside a frame, never cached unless an asset says otherwise.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let fixed = [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        // Not `no-referrer`: under it browsers send `Origin: null` on the pages' own forms.
        (header::REFERRER_POLICY, "same-origin"),
        (
            header::HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}
