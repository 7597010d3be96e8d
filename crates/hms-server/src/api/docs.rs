//! The API's own documentation: the OpenAPI document, the Postman collection and the docs
//! page that renders the document. Generated once from the catalogue and served from
//! memory; they list what the server serves as it is configured (the peer simulator's
//! operations only with `--simulate-peers`). The page's assets are in the binary, so it
//! works offline. No authentication: it is the same for everyone.

use std::sync::LazyLock;

use axum::Router;
use axum::http::header::{self, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hms_api::Served;

use crate::state::AppState;

/// The OpenAPI document and the Postman collection of one configuration.
struct Documents {
    openapi: String,
    postman: String,
}

impl Documents {
    fn of(served: Served) -> Self {
        Self {
            openapi: pretty(&hms_docs::openapi(served)),
            postman: pretty(&hms_docs::postman_collection(served)),
        }
    }
}

static WITHOUT_SIMULATOR: LazyLock<Documents> = LazyLock::new(|| Documents::of(Served { simulator: false }));
static WITH_SIMULATOR: LazyLock<Documents> = LazyLock::new(|| Documents::of(Served { simulator: true }));

fn pretty(document: &serde_json::Value) -> String {
    serde_json::to_string_pretty(document).expect("documents serialize")
}

/// The documents of a server configured as `served`: only the operations it serves.
pub fn routes(served: Served) -> Router<AppState> {
    let documents: &'static LazyLock<Documents> = if served.simulator {
        &WITH_SIMULATOR
    } else {
        &WITHOUT_SIMULATOR
    };
    Router::new()
        .route(
            "/openapi.json",
            get(move || async move { serve("application/json", documents.openapi.as_str()) }),
        )
        .route(
            "/postman.json",
            get(move || async move { serve("application/json", documents.postman.as_str()) }),
        )
        .merge(page_routes())
}

/// The documentation page and its assets, the same for every configuration.
fn page_routes() -> Router<AppState> {
    const HTML: &str = "text/html; charset=utf-8";
    let files = [
        ("/docs", HTML, hms_docs::page::HTML),
        ("/docs/", HTML, hms_docs::page::HTML),
        ("/docs/docs.css", "text/css; charset=utf-8", hms_docs::page::CSS),
        ("/docs/docs.js", "text/javascript; charset=utf-8", hms_docs::page::JS),
    ];
    files
        .into_iter()
        .fold(Router::new(), |router, (path, content_type, body)| {
            router.route(path, get(move || async move { serve(content_type, body) }))
        })
}

fn serve(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response()
}
