//! `/dashboard/api/…`: the dashboard's scripts call the API's operations here, and each
//! call is dispatched through the REST router with a management token minted for the
//! session's workspace, as `/mcp` dispatches its tools. The answer is the API's own,
//! errors included.

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{Method, header};
use axum::response::{IntoResponse, Response};

use super::Shared;
use super::guard::{self, SignedIn};
use crate::error::ApiError;
use crate::service::workspaces::management_token;

/// Validity of the token each dispatched call carries: long enough for one call.
const CALL_TOKEN_SECS: i64 = 60;

pub async fn dispatch(State(dashboard): State<Shared>, Path(path): Path<String>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let Some(signed_in) = dashboard.signed_in(&parts.headers) else {
        return guard::Refusal::NoSession.into_response();
    };
    let changes_state = parts.method != Method::GET && parts.method != Method::HEAD;
    if changes_state && !guard::not_forged(&parts.headers, &signed_in, guard::csrf_header(&parts.headers)) {
        return guard::Refusal::Forged.into_response();
    }
    let path = format!("/{path}");
    if !is_operation(&parts.method, &path) {
        return ApiError::not_found("Not found")
            .with_detail(format!("the API has no operation {} {path}", parts.method))
            .into_response();
    }
    let Some(token) = call_token(&dashboard, &signed_in) else {
        return guard::Refusal::NoSession.into_response();
    };
    let uri = match parts.uri.query() {
        Some(query) => format!("{path}?{query}"),
        None => path,
    };
    let mut call = axum::http::Request::builder()
        .method(parts.method)
        .uri(uri)
        .header(header::ACCEPT, "application/json")
        .header(header::AUTHORIZATION, format!("Bearer {token}"));
    if let Some(content_type) = parts.headers.get(header::CONTENT_TYPE) {
        call = call.header(header::CONTENT_TYPE, content_type);
    }
    let Ok(call) = call.body(Body::new(body)) else {
        return ApiError::bad_request("Invalid request").into_response();
    };
    pass_on(crate::api::call_rest(&dashboard.rest, call).await)
}

/// Whether `method` and `path` are one of the catalogue's operations (so that the
/// dashboard reaches the API and nothing else the router serves).
fn is_operation(method: &Method, path: &str) -> bool {
    let segments: Vec<&str> = path.split('/').collect();
    hms_api::OPERATIONS.iter().any(|op| {
        op.method.as_str() == method.as_str() && {
            let template: Vec<&str> = op.path.split('/').collect();
            template.len() == segments.len()
                && template
                    .iter()
                    .zip(&segments)
                    .all(|(expected, actual)| expected == actual || (expected.starts_with('{') && !actual.is_empty()))
        }
    })
}

/// A management token of the session's workspace, signed with its newest secret; `None`
/// when the workspace is gone.
fn call_token(dashboard: &Shared, signed_in: &SignedIn) -> Option<String> {
    let credentials = dashboard
        .app
        .credentials
        .by_workspace_id(&signed_in.session.workspace_id)?;
    let secret = credentials.secrets.first()?;
    Some(management_token(
        &credentials.workspace.access_key,
        secret,
        CALL_TOKEN_SECS,
    ))
}

/// The REST answer as the browser gets it: status, type and body, under the dashboard's
/// own headers.
fn pass_on(answer: Response) -> Response {
    let (parts, body) = answer.into_parts();
    let mut response = Response::new(body);
    *response.status_mut() = parts.status;
    if let Some(content_type) = parts.headers.get(header::CONTENT_TYPE) {
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, content_type.clone());
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_catalogue_is_reachable() {
        assert!(is_operation(&Method::GET, "/v2/rooms"));
        assert!(is_operation(&Method::POST, "/v2/rooms/abc"));
        assert!(is_operation(&Method::POST, "/v2/active-rooms/abc/end-room"));
        assert!(!is_operation(&Method::DELETE, "/v2/rooms/abc"));
        assert!(!is_operation(&Method::POST, "/mcp"));
        assert!(!is_operation(&Method::GET, "/v2/rooms//"));
    }
}
