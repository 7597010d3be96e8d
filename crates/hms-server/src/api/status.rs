//! The one place where the errors of the store, the runtime and the services become
//! HTTP statuses and 100ms error envelopes. The REST handlers, the dashboard and `/mcp`
//! (which dispatches to the REST router) all answer through these conversions.

use axum::http::StatusCode;
use hms_store::{Outage, StoreError};

use crate::error::ApiError;
use crate::runtime::RuntimeError;
use crate::service::events::EventLogError;
use crate::service::room_codes::RoomCodeError;
use crate::service::rooms::RoomError;
use crate::service::sessions::SessionError;
use crate::service::templates::TemplateError;
use crate::service::token_exchange::ExchangeError;
use crate::service::webhooks::WebhookError;
use crate::service::workspaces::WorkspaceError;

impl From<StoreError> for ApiError {
    /// Store errors that reach a handler unhandled are the server's fault; they are
    /// logged here, and the client learns only that something went wrong on our side.
    fn from(error: StoreError) -> Self {
        match error.outage() {
            Some(Outage::Unavailable) => {
                tracing::warn!(%error, "the database is unavailable");
                return ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "Database unavailable")
                    .with_detail("the database cannot be reached; retry shortly");
            }
            Some(Outage::DiskFull) => {
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

/// A failure that is the server's own: logged, and answered as a bare 500.
fn internal(error: &dyn std::error::Error) -> ApiError {
    tracing::error!(%error, "internal failure");
    ApiError::internal()
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
            RuntimeError::PeerExists(_) => ApiError::conflict("Peer already joined").with_detail(detail),
            RuntimeError::Store(store) => store.into(),
        }
    }
}

impl From<RoomError> for ApiError {
    fn from(error: RoomError) -> Self {
        let detail = error.to_string();
        match error {
            RoomError::NotFound => ApiError::not_found("Room not found"),
            RoomError::TemplateNotFound => ApiError::bad_request(format!("Error: {detail}")),
            RoomError::LegacyTemplate => ApiError::bad_request("Invalid body param: template. Use template_id"),
            RoomError::UnsupportedRegion => ApiError::bad_request("Error: region not supported").with_detail(detail),
            RoomError::DurationTooShort | RoomError::DurationTooLong => {
                ApiError::bad_request(format!("Invalid body param: {detail}"))
            }
            RoomError::TooLarge | RoomError::TooLargeForSmallRoom => {
                ApiError::invalid_body(format!("Invalid body param: {detail}"))
            }
            RoomError::NoBucketLocation => ApiError::bad_request(detail),
            RoomError::InvalidUpload => ApiError::bad_request("Invalid upload configuration").with_detail(detail),
            RoomError::InvalidName | RoomError::DescriptionTooLong | RoomError::NameTaken(_) => {
                ApiError::invalid_body(detail)
            }
            RoomError::KeptChanging => ApiError::conflict("Room changed concurrently").with_detail(detail),
            RoomError::Webhook(error) => error.into(),
            RoomError::Store(error) => error.into(),
        }
    }
}

impl From<RoomCodeError> for ApiError {
    fn from(error: RoomCodeError) -> Self {
        match error {
            RoomCodeError::RoomNotFound => ApiError::not_found("Room not found"),
            RoomCodeError::RoomDisabled => ApiError::forbidden("Room is disabled"),
            RoomCodeError::TemplateNotFound => ApiError::not_found("Template not found"),
            RoomCodeError::RoleNotFound => ApiError::not_found("Role not found"),
            RoomCodeError::CodeNotFound => ApiError::not_found("Code not found"),
            RoomCodeError::CannotEnable => ApiError::forbidden("Code can not be enabled (role/room does not exist)"),
            RoomCodeError::TooManyCodes => {
                ApiError::bad_request("Room code limit reached").with_detail(error.to_string())
            }
            RoomCodeError::Store(error) => error.into(),
        }
    }
}

impl From<SessionError> for ApiError {
    fn from(error: SessionError) -> Self {
        match error {
            SessionError::NotFound => ApiError::not_found("Session not found"),
            SessionError::Store(error) => error.into(),
        }
    }
}

impl From<TemplateError> for ApiError {
    fn from(error: TemplateError) -> Self {
        let detail = error.to_string();
        match error {
            TemplateError::NotFound => ApiError::not_found("Template not found"),
            TemplateError::RoleNotFound => ApiError::not_found("Role not found"),
            TemplateError::Invalid(problems) => ApiError::bad_request("Invalid body param").with_details(problems),
            TemplateError::NameTaken(_) => ApiError::conflict("Overwrite error").with_detail(detail),
            TemplateError::KeptChanging => ApiError::conflict("Template changed concurrently").with_detail(detail),
            TemplateError::Store(error) => error.into(),
        }
    }
}

impl From<ExchangeError> for ApiError {
    /// The web SDK shows a disabled room or code (403) and an unknown code (404) as
    /// distinct screens, so those statuses matter.
    fn from(error: ExchangeError) -> Self {
        match error {
            ExchangeError::CodeNotFound => ApiError::not_found("Room code not found"),
            ExchangeError::CodeDisabled => ApiError::forbidden("Room code is disabled"),
            ExchangeError::RoomDisabled => ApiError::forbidden("Room is disabled"),
            ExchangeError::RoleNotFound => ApiError::not_found("Role not found"),
            ExchangeError::NoCredentials(_) => internal(&error),
            ExchangeError::Store(error) => error.into(),
        }
    }
}

impl From<EventLogError> for ApiError {
    fn from(error: EventLogError) -> Self {
        match error {
            EventLogError::Unreadable(_) => internal(&error),
            EventLogError::Store(error) => error.into(),
        }
    }
}

impl From<WebhookError> for ApiError {
    fn from(error: WebhookError) -> Self {
        let detail = error.to_string();
        match error {
            WebhookError::InvalidUrl
            | WebhookError::ReservedHeader(_)
            | WebhookError::InvalidHeader(_)
            | WebhookError::InvalidReplayLimit => ApiError::invalid_body(detail),
            WebhookError::InvalidTime(_)
            | WebhookError::InvalidStatus
            | WebhookError::InvalidPageSize
            | WebhookError::PageZero => ApiError::invalid_query(detail),
            WebhookError::NoSuchWorkspace(_) | WebhookError::StartTooEarly | WebhookError::WindowTooWide => {
                ApiError::bad_request(detail)
            }
            WebhookError::ReplayNotFound => ApiError::not_found("workflow not found"),
            WebhookError::UnreadableReplay(_) => internal(&error),
            WebhookError::Store(error) => error.into(),
        }
    }
}

impl From<WorkspaceError> for ApiError {
    /// Secrets are managed from the dashboard only, whose page shows these messages.
    fn from(error: WorkspaceError) -> Self {
        match error {
            WorkspaceError::NoSuchWorkspace(_) => ApiError::not_found("Workspace not found"),
            WorkspaceError::NoSuchSecret(_) => ApiError::not_found("No such app secret")
                .with_detail("it was retired already, or belongs to no workspace of yours"),
            WorkspaceError::LastLiveSecret => ApiError::conflict("The last app secret cannot be retired")
                .with_detail("add another secret first, then retire this one"),
            WorkspaceError::Store(error) => error.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(error: impl Into<ApiError>) -> (u16, String, Vec<String>) {
        let error = error.into();
        (error.status.as_u16(), error.message, error.details)
    }

    fn expect(status: u16, message: &str, details: &[&str]) -> (u16, String, Vec<String>) {
        (
            status,
            message.to_owned(),
            details.iter().map(|d| d.to_string()).collect(),
        )
    }

    #[test]
    fn service_errors_answer_the_api_s_statuses_and_messages() {
        let cases = [
            (envelope(RoomError::NotFound), expect(404, "Room not found", &[])),
            (
                envelope(RoomError::TemplateNotFound),
                expect(400, "Error: template not found", &[]),
            ),
            (
                envelope(RoomError::DurationTooShort),
                expect(
                    400,
                    "Invalid body param: max_duration_seconds less than 120 seconds",
                    &[],
                ),
            ),
            (
                envelope(RoomError::TooLarge),
                expect(
                    400,
                    "Invalid body param",
                    &["Invalid body param: room size greater than 20000"],
                ),
            ),
            (
                envelope(RoomError::NameTaken("a".into())),
                expect(400, "Invalid body param", &["a room named a already exists"]),
            ),
            (
                envelope(RoomError::Webhook(WebhookError::InvalidUrl)),
                expect(
                    400,
                    "Invalid body param",
                    &["webhook.url must be an absolute http or https URL"],
                ),
            ),
            (
                envelope(RoomCodeError::TooManyCodes),
                expect(400, "Room code limit reached", &["a room holds at most 100 room codes"]),
            ),
            (
                envelope(RoomCodeError::RoomDisabled),
                expect(403, "Room is disabled", &[]),
            ),
            (envelope(SessionError::NotFound), expect(404, "Session not found", &[])),
            (
                envelope(TemplateError::Invalid(vec!["a".into(), "b".into()])),
                expect(400, "Invalid body param", &["a", "b"]),
            ),
            (
                envelope(TemplateError::NameTaken("t".into())),
                expect(409, "Overwrite error", &["a template named t already exists"]),
            ),
            (
                envelope(ExchangeError::CodeDisabled),
                expect(403, "Room code is disabled", &[]),
            ),
            (
                envelope(ExchangeError::NoCredentials("w".into())),
                expect(500, "Internal server error", &[]),
            ),
            (
                envelope(WebhookError::InvalidStatus),
                expect(
                    400,
                    "Invalid query parameter",
                    &["status must be all, failed or success"],
                ),
            ),
            (
                envelope(WebhookError::WindowTooWide),
                expect(400, "end_time must be within 14 days after start_time", &[]),
            ),
            (
                envelope(WorkspaceError::LastLiveSecret),
                expect(
                    409,
                    "The last app secret cannot be retired",
                    &["add another secret first, then retire this one"],
                ),
            ),
            (
                envelope(TemplateError::Store(StoreError::Stale)),
                expect(500, "Internal server error", &[]),
            ),
        ];
        for (answered, expected) in cases {
            assert_eq!(answered, expected);
        }
    }
}
