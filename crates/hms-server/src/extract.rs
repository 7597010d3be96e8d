//! Extractors that answer malformed input with the error envelope, naming the field.

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::state::AppState;

/// A JSON object body, parsed whatever its `Content-Type` says: the web SDK sends the
/// room-code exchange as `text/plain`, and the Node SDK sends `{}` where no body is due.
/// An empty body counts as `{}`.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        read_json(request, state, Shape::Object).await.map(JsonBody)
    }
}

/// A JSON array body (the recording configs of a template).
pub struct JsonArrayBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonArrayBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        read_json(request, state, Shape::Array).await.map(JsonArrayBody)
    }
}

/// The JSON value a body must be. Checked before parsing, because serde also reads a
/// struct from an array of its fields, which no client means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Object,
    Array,
}

/// The body of `request`, read within the body limit and parsed as a JSON value of `shape`
/// (see [`parse_json`]).
async fn read_json<T: DeserializeOwned>(request: Request, state: &AppState, shape: Shape) -> Result<T, ApiError> {
    let bytes = read_body(request.into_body(), state.config.max_body_bytes).await?;
    parse_json(&bytes, shape, "Invalid body param")
}

/// Reads a whole body, refusing it with 413 beyond `limit` bytes.
pub async fn read_body(body: Body, limit: usize) -> Result<bytes::Bytes, ApiError> {
    http_body_util::BodyExt::collect(http_body_util::Limited::new(body, limit))
        .await
        .map(|collected| collected.to_bytes())
        .map_err(|error| {
            if error.is::<http_body_util::LengthLimitError>() {
                ApiError::payload_too_large(limit)
            } else {
                ApiError::bad_request("Could not read the request body")
            }
        })
}

/// Parses `bytes` as a JSON value of `shape` into `T`; a failure names the offending
/// field under `message`.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8], shape: Shape, message: &str) -> Result<T, ApiError> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    let bytes = match (first, shape) {
        (None, Shape::Object) => b"{}".as_slice(),
        (Some(b'{'), Shape::Object) | (Some(b'['), Shape::Array) => bytes,
        (_, Shape::Object) => return Err(ApiError::bad_request(message).with_detail("the body must be a JSON object")),
        (_, Shape::Array) => return Err(ApiError::bad_request(message).with_detail("the body must be a JSON array")),
    };
    if let Some(path) = nul_in_json(bytes) {
        return Err(ApiError::bad_request(message).with_detail(format!("{path}: {NUL_REFUSED}")));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let detail = match error.path().to_string().as_str() {
            "." | "" => error.inner().to_string(),
            path => format!("{path}: {}", error.inner()),
        };
        ApiError::bad_request(message).with_detail(detail)
    })?;
    deserializer
        .end()
        .map_err(|error| ApiError::bad_request(message).with_detail(error.to_string()))?;
    Ok(value)
}

/// Why input with U+0000 is refused: PostgreSQL cannot store it in text, and both
/// backends must answer alike.
pub const NUL_REFUSED: &str = "text must not contain the NUL character (U+0000)";

/// Where the JSON document `bytes` has a string or key with a NUL, if anywhere. JSON can
/// only carry NUL escaped, as `\u0000` after an odd run of backslashes (an even run is
/// literal backslashes), so the document is parsed again only when that is found.
fn nul_in_json(bytes: &[u8]) -> Option<String> {
    let escaped_nul = bytes.windows(6).enumerate().any(|(at, window)| {
        window == b"\\u0000" && bytes[..at].iter().rev().take_while(|b| **b == b'\\').count() % 2 == 0
    });
    if !escaped_nul {
        return None;
    }
    let value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    nul_path(&value, String::new())
}

fn nul_path(value: &serde_json::Value, path: String) -> Option<String> {
    let here = || if path.is_empty() { ".".to_owned() } else { path.clone() };
    match value {
        serde_json::Value::String(text) => text.contains('\0').then(here),
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(index, item)| nul_path(item, format!("{path}[{index}]"))),
        serde_json::Value::Object(fields) => fields.iter().find_map(|(key, field)| {
            let child = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            if key.contains('\0') {
                Some(child)
            } else {
                nul_path(field, child)
            }
        }),
        _ => None,
    }
}

/// Refuses a URL whose path or query carries an encoded NUL (`%00`), for the reason of
/// `NUL_REFUSED`; a raw NUL cannot reach here, the HTTP parser refuses it.
pub async fn refuse_nul_in_url(request: Request, next: axum::middleware::Next) -> axum::response::Response {
    let uri = request.uri();
    let carries_nul = |part: &str| part.as_bytes().windows(3).any(|w| w.eq_ignore_ascii_case(b"%00"));
    if carries_nul(uri.path()) || uri.query().is_some_and(carries_nul) {
        return axum::response::IntoResponse::into_response(
            ApiError::bad_request("Invalid request").with_detail(format!("the URL: {NUL_REFUSED}")),
        );
    }
    next.run(request).await
}

/// A query string, parsed into `T`; a failure names the offending parameter.
pub struct QueryParams<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default();
        let deserializer = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(deserializer)
            .map(QueryParams)
            .map_err(|error| ApiError::invalid_query(format!("{}: {}", error.path(), error.inner())))
    }
}

/// Parses a query string into `T`, except the keys in `lists`, which may repeat and are
/// answered as lists (`event_names=a&event_names=b`).
pub fn parse_query_with_lists<T: DeserializeOwned>(
    query: Option<&str>,
    lists: &[&str],
) -> Result<(T, std::collections::HashMap<String, Vec<String>>), ApiError> {
    let mut collected: std::collections::HashMap<String, Vec<String>> = std::collections::HashMap::new();
    let mut rest = form_urlencoded::Serializer::new(String::new());
    for (key, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        if lists.contains(&key.as_ref()) {
            collected.entry(key.into_owned()).or_default().push(value.into_owned());
        } else {
            rest.append_pair(&key, &value);
        }
    }
    let rest = rest.finish();
    let deserializer = serde_urlencoded::Deserializer::new(form_urlencoded::parse(rest.as_bytes()));
    let parsed = serde_path_to_error::deserialize(deserializer)
        .map_err(|error| ApiError::invalid_query(format!("{}: {}", error.path(), error.inner())))?;
    Ok((parsed, collected))
}

#[cfg(test)]
mod tests {
    use super::nul_in_json;

    #[test]
    fn finds_an_escaped_nul_wherever_it_is_and_only_there() {
        let found = |text: &str| nul_in_json(text.as_bytes());
        assert_eq!(found(r#"{"name": "a\u0000b"}"#), Some("name".into()));
        assert_eq!(found(r#"{"a": {"b": ["x", "\u0000"]}}"#), Some("a.b[1]".into()));
        assert_eq!(found(r#"{"a\u0000": 1}"#), Some("a\0".into()));
        assert_eq!(found(r#""\u0000""#), Some(".".into()));
        // Three backslashes: a literal backslash, then the escape.
        assert_eq!(found(r#"{"name": "\\\u0000"}"#), Some("name".into()));
        // Two: a literal backslash followed by the text `u0000`.
        assert_eq!(found(r#"{"name": "\\u0000"}"#), None);
        assert_eq!(found(r#"{"name": "\u0001 and u0000"}"#), None);
        assert_eq!(found(r#"{"name": "plain"}"#), None);
    }
}
