//! Every failure a handler can answer with, rendered as the 100ms error envelope.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hms_store::StoreError;

use crate::runtime::RuntimeError;
use hms_types::ErrorBody;

/// A failed request: its status, the envelope's short `message` and its `details`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub details: Vec<String>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            details: Vec::new(),
        }
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.details.push(detail.into());
        self
    }

    pub fn with_details(mut self, details: impl IntoIterator<Item = String>) -> Self {
        self.details.extend(details);
        self
    }

    /// 400 `Invalid body param`, the category 100ms uses for body validation.
    pub fn invalid_body(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "Invalid body param").with_detail(detail)
    }

    pub fn invalid_query(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "Invalid query parameter").with_detail(detail)
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }

    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "Request body too large")
            .with_detail(format!("the body may hold at most {limit} bytes"))
    }

    pub fn internal() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            code: self.status.as_u16(),
            message: self.message.clone(),
            details: self.details.clone(),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.body())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body())).into_response();
        // A server that cannot serve now tells clients when to try again.
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("1"),
            );
        }
        response
    }
}

impl From<StoreError> for ApiError {
    /// Store errors that reach a handler unhandled are the server's fault; they are
    /// logged here, and the client learns only that something went wrong on our side.
    fn from(error: StoreError) -> Self {
        match error.outage() {
            Some(hms_store::Outage::Unavailable) => {
                tracing::warn!(%error, "the database is unavailable");
                return ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "Database unavailable")
                    .with_detail("the database cannot be reached; retry shortly");
            }
            Some(hms_store::Outage::DiskFull) => {
                tracing::error!(%error, "the database's disk is full");
                return ApiError::new(StatusCode::INSUFFICIENT_STORAGE, "Insufficient storage")
                    .with_detail("the database's disk is full: changes fail until space is freed; reads still work");
            }
            None => {}
        }
        match error {
            StoreError::NotFound => ApiError::not_found("Not found"),
            StoreError::Conflict(what) => ApiError::conflict("Conflict").with_detail(format!("{what} already exists")),
            StoreError::LastLiveSecret => ApiError::conflict("Conflict").with_detail(error.to_string()),
            StoreError::TooManyCodes | StoreError::NulInText => {
                ApiError::bad_request("Invalid request").with_detail(error.to_string())
            }
            StoreError::Stale | StoreError::Corrupt(_) | StoreError::Database(_) | StoreError::PointRead(_) => {
                tracing::error!(%error, "store failure");
                ApiError::internal()
            }
        }
    }
}

impl From<crate::service::webhooks::WebhookError> for ApiError {
    fn from(error: crate::service::webhooks::WebhookError) -> Self {
        use crate::service::webhooks::WebhookError;
        match error {
            WebhookError::Store(error) => error.into(),
            WebhookError::NoSuchWorkspace(_) => ApiError::bad_request(error.to_string()),
            invalid => ApiError::invalid_body(invalid.to_string()),
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::bad_request("Invalid path parameter").with_detail(rejection.body_text())
    }
}

impl From<RuntimeError> for ApiError {
    fn from(error: RuntimeError) -> Self {
        let detail = error.to_string();
        match error {
            RuntimeError::RoomNotFound => ApiError::not_found("Room not found"),
            RuntimeError::NotActive => ApiError::not_found("Room is not active").with_detail(detail),
            RuntimeError::PeerNotFound => ApiError::not_found("Peer not found"),
            RuntimeError::RoomDisabled => ApiError::forbidden("Room is disabled"),
            RuntimeError::RoleNotAllowed(_) => ApiError::forbidden("Role not allowed").with_detail(detail),
            RuntimeError::RoleFull { .. } => ApiError::forbidden("Role limit reached").with_detail(detail),
            RuntimeError::UnknownRole(_) | RuntimeError::Invalid(_) => ApiError::invalid_body(detail),
            RuntimeError::KeptChanging => ApiError::conflict("Room changed concurrently")
                .with_detail("the room's session kept changing; retry the request"),
            RuntimeError::PeerExists(_) => {
                ApiError::new(StatusCode::CONFLICT, "Peer already joined").with_detail(detail)
            }
            RuntimeError::Store(store) => store.into(),
        }
    }
}
