//! Workspaces and their app secrets: created on first start and by admin commands.

use hms_auth::{AppSecret, Claims};
use hms_store::{NewWorkspace, SecretRecord, Store, StoreError, TemplateRecord, Workspace};
use hms_types::Timestamp;

use crate::ids;
use crate::service::templates;

/// Name of the workspace made on first start.
pub const DEFAULT_WORKSPACE: &str = "default";
/// Name of the template every new workspace starts with.
pub const DEFAULT_TEMPLATE: &str = "conferencing";
/// Validity of the management token printed when a workspace is created: the 100ms
/// dashboard's default.
pub const PRINTED_TOKEN_VALIDITY_SECS: i64 = 7 * 24 * 3600;

/// Why a workspace or one of its secrets cannot be made, found or retired.
#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    #[error("no workspace is named {0}")]
    NoSuchWorkspace(String),
    #[error("the workspace has no live secret {0}")]
    NoSuchSecret(String),
    #[error("refusing to retire the last live secret: add another one first")]
    LastLiveSecret,
    #[error(transparent)]
    Store(#[from] StoreError),
}

type WorkspaceResult<T> = Result<T, WorkspaceError>;

/// Credentials chosen by the operator instead of generated ones.
#[derive(Debug, Clone)]
pub struct InitialCredentials {
    pub access_key: String,
    pub secret: AppSecret,
}

/// A workspace just made, with what its owner must be told once.
#[derive(Debug, Clone)]
pub struct CreatedWorkspace {
    pub workspace: Workspace,
    pub secret: AppSecret,
    pub management_token: String,
}

/// Makes the default workspace when the store has none.
pub async fn bootstrap(
    store: &dyn Store,
    initial: Option<InitialCredentials>,
) -> WorkspaceResult<Option<CreatedWorkspace>> {
    if !store.workspaces().await?.is_empty() {
        return Ok(None);
    }
    create(store, DEFAULT_WORKSPACE, initial).await.map(Some)
}

pub async fn create(
    store: &dyn Store,
    name: &str,
    initial: Option<InitialCredentials>,
) -> WorkspaceResult<CreatedWorkspace> {
    let now = Timestamp::now();
    let InitialCredentials { access_key, secret } = initial.unwrap_or_else(|| InitialCredentials {
        access_key: ids::object_id(),
        secret: generate_secret(),
    });
    let workspace = Workspace {
        id: ids::object_id(),
        name: name.to_owned(),
        access_key,
        customer_id: ids::object_id(),
        app_id: ids::object_id(),
        created_at: now,
    };
    let default_template = TemplateRecord {
        id: ids::object_id(),
        workspace_id: workspace.id.clone(),
        is_default: true,
        body: templates::conferencing(DEFAULT_TEMPLATE.to_owned()),
        revision: 1,
        created_at: now,
        updated_at: now,
    };
    let new = NewWorkspace {
        workspace,
        secret: new_secret_record(secret.clone(), now),
        default_template,
    };
    let workspace = store.create_workspace(&new).await?;
    let management_token = management_token(&workspace.access_key, &secret, PRINTED_TOKEN_VALIDITY_SECS);
    Ok(CreatedWorkspace {
        workspace,
        secret,
        management_token,
    })
}

/// Adds a secret (the given one or a generated one) to the workspace named `name`.
pub async fn add_secret(store: &dyn Store, name: &str, secret: Option<AppSecret>) -> WorkspaceResult<SecretRecord> {
    let workspace = named(store, name).await?;
    let record = new_secret_record(secret.unwrap_or_else(generate_secret), Timestamp::now());
    store.add_secret(&workspace.id, &record).await?;
    Ok(record)
}

pub async fn secrets(store: &dyn Store, name: &str) -> WorkspaceResult<Vec<SecretRecord>> {
    let workspace = named(store, name).await?;
    Ok(store.secrets(&workspace.id).await?)
}

pub async fn retire_secret(store: &dyn Store, name: &str, secret_id: &str) -> WorkspaceResult<()> {
    let workspace = named(store, name).await?;
    store
        .retire_secret(&workspace.id, secret_id, Timestamp::now())
        .await
        .map_err(|error| match error {
            StoreError::NotFound => WorkspaceError::NoSuchSecret(secret_id.to_owned()),
            StoreError::LastLiveSecret => WorkspaceError::LastLiveSecret,
            other => other.into(),
        })
}

pub async fn named(store: &dyn Store, name: &str) -> WorkspaceResult<Workspace> {
    store
        .workspace_by_name(name)
        .await?
        .ok_or_else(|| WorkspaceError::NoSuchWorkspace(name.to_owned()))
}

pub fn management_token(access_key: &str, secret: &AppSecret, validity_secs: i64) -> String {
    hms_auth::mint(
        &Claims::management(access_key, Timestamp::now().unix_seconds(), validity_secs),
        secret,
    )
}

fn generate_secret() -> AppSecret {
    AppSecret::new(ids::random_token(48))
}

fn new_secret_record(secret: AppSecret, now: Timestamp) -> SecretRecord {
    SecretRecord {
        id: ids::random_token(12),
        secret,
        created_at: now,
        retired_at: None,
    }
}
