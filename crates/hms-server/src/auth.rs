//! Who is calling: management-token verification against cached workspace credentials.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use hms_auth::{TokenType, VerifyPolicy};
use hms_store::{Store, StoreResult, Workspace, WorkspaceCredentials};

use crate::error::ApiError;
use crate::state::AppState;

/// Every workspace's credentials, held in memory so that verifying a token costs no
/// database round trip. A background task reloads it when the store's credentials
/// version moves (a secret added or retired, a workspace created, by any process).
#[derive(Default)]
pub struct CredentialCache {
    inner: RwLock<Snapshot>,
}

#[derive(Default)]
struct Snapshot {
    version: i64,
    by_access_key: HashMap<String, Arc<WorkspaceCredentials>>,
    by_id: HashMap<String, Arc<WorkspaceCredentials>>,
}

impl CredentialCache {
    pub async fn load(store: &dyn Store) -> StoreResult<Self> {
        let cache = Self::default();
        cache.reload(store).await?;
        Ok(cache)
    }

    /// Reloads when the store's version differs from the cached one.
    pub async fn refresh(&self, store: &dyn Store) -> StoreResult<()> {
        let version = store.credentials_version().await?;
        if version != self.inner.read().expect("cache lock").version {
            self.reload(store).await?;
        }
        Ok(())
    }

    async fn reload(&self, store: &dyn Store) -> StoreResult<()> {
        let version = store.credentials_version().await?;
        let all: Vec<Arc<WorkspaceCredentials>> = store.credentials().await?.into_iter().map(Arc::new).collect();
        let snapshot = Snapshot {
            version,
            by_access_key: all
                .iter()
                .map(|c| (c.workspace.access_key.clone(), c.clone()))
                .collect(),
            by_id: all.iter().map(|c| (c.workspace.id.clone(), c.clone())).collect(),
        };
        *self.inner.write().expect("cache lock") = snapshot;
        Ok(())
    }

    pub fn by_access_key(&self, access_key: &str) -> Option<Arc<WorkspaceCredentials>> {
        self.inner
            .read()
            .expect("cache lock")
            .by_access_key
            .get(access_key)
            .cloned()
    }

    pub fn by_workspace_id(&self, id: &str) -> Option<Arc<WorkspaceCredentials>> {
        self.inner.read().expect("cache lock").by_id.get(id).cloned()
    }
}

/// The workspace a request acts in, proven by its management token.
pub struct Caller(pub Arc<WorkspaceCredentials>);

impl Caller {
    pub fn workspace(&self) -> &Workspace {
        &self.0.workspace
    }

    pub fn workspace_id(&self) -> &str {
        &self.0.workspace.id
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer_token(&parts.headers).ok_or_else(|| {
            ApiError::unauthorized("Authentication error")
                .with_detail("send a management token as `Authorization: Bearer <token>`")
        })?;
        let policy = VerifyPolicy {
            expected_type: TokenType::Management,
            leeway_secs: state.config.token_leeway_secs,
            max_lifetime_secs: state.config.max_token_lifetime_secs,
        };
        let now = hms_types::Timestamp::now().unix_seconds();
        let verified = hms_auth::verify(
            token,
            |access_key| state.credentials.by_access_key(access_key),
            &policy,
            now,
        )
        .map_err(|error| {
            ApiError::unauthorized(format!("Token validation error: {error}")).with_detail(error.to_string())
        })?;
        Ok(Caller(verified.source))
    }
}

/// The token of an `Authorization: Bearer <token>` header, if the request has one.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}
