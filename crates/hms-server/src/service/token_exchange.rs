//! The room-code exchange: a client app trades a room code for an app token.

use hms_auth::Claims;
use hms_store::Store;
use hms_types::Timestamp;
use hms_types::token::{TokenRequest, TokenResponse};

use crate::auth::CredentialCache;
use crate::ids;

/// Why a room code buys no token. The web SDK shows a disabled room or code and an
/// unknown code as distinct screens, so each has its own variant.
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    #[error("no room code is named so")]
    CodeNotFound,
    #[error("the room code is disabled")]
    CodeDisabled,
    #[error("the room is disabled")]
    RoomDisabled,
    #[error("the code's role left the room's template")]
    RoleNotFound,
    /// The code's workspace is missing from the credential cache, or has no live secret:
    /// the server's fault, not the caller's.
    #[error("workspace {0} has no credentials to sign with")]
    NoCredentials(String),
    #[error(transparent)]
    Store(#[from] hms_store::StoreError),
}

/// Mints an app token for the code's room and role.
pub async fn exchange(
    store: &dyn Store,
    credentials: &CredentialCache,
    request: TokenRequest,
    validity_secs: i64,
) -> Result<TokenResponse, ExchangeError> {
    let binding = store
        .room_code(&request.code)
        .await?
        .ok_or(ExchangeError::CodeNotFound)?;
    if !binding.code.enabled {
        return Err(ExchangeError::CodeDisabled);
    }
    if !binding.room_enabled {
        return Err(ExchangeError::RoomDisabled);
    }
    if !binding.template_roles.contains(&binding.code.role) {
        return Err(ExchangeError::RoleNotFound);
    }
    let no_credentials = || ExchangeError::NoCredentials(binding.workspace_id.clone());
    let workspace = credentials
        .by_workspace_id(&binding.workspace_id)
        .ok_or_else(no_credentials)?;
    let secret = workspace.secrets.first().ok_or_else(no_credentials)?;
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
