//! The room-code exchange: a client app trades a room code for an app token.

use hms_auth::Claims;
use hms_store::Store;
use hms_types::Timestamp;
use hms_types::token::{TokenRequest, TokenResponse};

use crate::auth::CredentialCache;
use crate::error::{ApiError, ApiResult};
use crate::ids;

/// Mints an app token for the code's room and role. The web SDK shows a disabled room or
/// code (403) and an unknown code (404) as distinct screens, so those statuses matter.
pub async fn exchange(
    store: &dyn Store,
    credentials: &CredentialCache,
    request: TokenRequest,
    validity_secs: i64,
) -> ApiResult<TokenResponse> {
    let binding = store
        .room_code(&request.code)
        .await?
        .ok_or_else(|| ApiError::not_found("Room code not found"))?;
    if !binding.code.enabled {
        return Err(ApiError::forbidden("Room code is disabled"));
    }
    if !binding.room_enabled {
        return Err(ApiError::forbidden("Room is disabled"));
    }
    if !binding.template_roles.contains(&binding.code.role) {
        return Err(ApiError::not_found("Role not found"));
    }
    let workspace = credentials.by_workspace_id(&binding.workspace_id).ok_or_else(|| {
        tracing::error!(workspace = %binding.workspace_id, "room code of a workspace missing from the cache");
        ApiError::internal()
    })?;
    let secret = workspace.secrets.first().ok_or_else(|| {
        tracing::error!(workspace = %binding.workspace_id, "workspace has no live secret");
        ApiError::internal()
    })?;
    let user_id = request.user_id.filter(|id| !id.is_empty()).unwrap_or_else(ids::uuid);
    let now = Timestamp::now().unix_seconds();
    let claims = Claims::app(
        &workspace.workspace.access_key,
        &binding.code.room_id,
        &binding.code.role,
        &user_id,
        now,
        validity_secs,
    );
    Ok(TokenResponse {
        token: hms_auth::mint(&claims, secret),
        expires_at: Timestamp::from_unix_millis(claims.exp * 1000),
    })
}
