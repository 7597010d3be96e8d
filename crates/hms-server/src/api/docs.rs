//! The API's own documentation: the OpenAPI document, the Postman collection and the docs
//! page that renders the document. Generated once from the catalogue and served from
//! memory; the page's assets are in the binary, so it works offline. No authentication:
//! it is the same for everyone.

use std::sync::LazyLock;

use axum::Router;
use axum::http::header::{self, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::state::AppState;

static OPENAPI: LazyLock<String> = LazyLock::new(|| pretty(&hms_docs::openapi()));
static POSTMAN: LazyLock<String> = LazyLock::new(|| pretty(&hms_docs::postman_collection()));

fn pretty(document: &serde_json::Value) -> String {
    serde_json::to_string_pretty(document).expect("documents serialize")
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/openapi.json",
            get(|| async { serve("application/json", OPENAPI.as_str()) }),
        )
        .route(
            "/postman.json",
            get(|| async { serve("application/json", POSTMAN.as_str()) }),
        )
        .route(
            "/docs",
            get(|| async { serve("text/html; charset=utf-8", hms_docs::page::HTML) }),
        )
        .route(
            "/docs/",
            get(|| async { serve("text/html; charset=utf-8", hms_docs::page::HTML) }),
        )
        .route(
            "/docs/docs.css",
            get(|| async { serve("text/css; charset=utf-8", hms_docs::page::CSS) }),
        )
        .route(
            "/docs/docs.js",
            get(|| async { serve("text/javascript; charset=utf-8", hms_docs::page::JS) }),
        )
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
