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
        let bytes = read_body(request.into_body(), state.config.max_body_bytes).await?;
        parse_json(&bytes, Shape::Object, "Invalid body param").map(JsonBody)
    }
}

/// A JSON array body (the recording configs of a template).
pub struct JsonArrayBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonArrayBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let bytes = read_body(request.into_body(), state.config.max_body_bytes).await?;
        parse_json(&bytes, Shape::Array, "Invalid body param").map(JsonArrayBody)
    }
}

/// The JSON value a body must be. Checked before parsing, because serde also reads a
/// struct from an array of its fields, which no client means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Object,
    Array,
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
