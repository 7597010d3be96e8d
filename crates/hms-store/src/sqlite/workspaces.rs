//! Workspaces, their secrets and webhooks: the credentials the process caches. Each change
//! is one write transaction of the single writer, which counts and retires secrets with
//! nobody in between; the statements are in `shared::workspaces`.

use hms_types::Timestamp;
use sqlx::{Sqlite, SqlitePool, Transaction};

use super::begin;
use super::changes::Changes;
use crate::records::*;
use crate::{StoreResult, Topic, shared};

/// Commits a change of credentials: the version moves and this process's caches hear of
/// it once the change is visible (no other process opens the data dir).
async fn commit_credentials(mut tx: Transaction<'static, Sqlite>, changes: &Changes) -> StoreResult<()> {
    sqlx::query("UPDATE credentials_version SET version = version + 1 WHERE id = 1")
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    changes.announce(Topic::Credentials);
    Ok(())
}

pub(super) async fn create(writer: &SqlitePool, changes: &Changes, new: &NewWorkspace) -> StoreResult<Workspace> {
    let mut tx = begin(writer).await?;
    shared::workspaces::create(&mut tx, new).await?;
    commit_credentials(tx, changes).await?;
    Ok(new.workspace.clone())
}

pub(super) async fn credentials(reader: &SqlitePool) -> StoreResult<Vec<WorkspaceCredentials>> {
    let mut snapshot = reader.begin().await?;
    let credentials = shared::workspaces::credentials(&mut snapshot).await?;
    snapshot.commit().await?;
    Ok(credentials)
}

pub(super) async fn add_secret(
    writer: &SqlitePool,
    changes: &Changes,
    workspace_id: &str,
    secret: &SecretRecord,
) -> StoreResult<()> {
    let mut tx = begin(writer).await?;
    shared::workspaces::insert_secret(&mut *tx, workspace_id, secret).await?;
    commit_credentials(tx, changes).await
}

pub(super) async fn retire_secret(
    writer: &SqlitePool,
    changes: &Changes,
    workspace_id: &str,
    secret_id: &str,
    at: Timestamp,
) -> StoreResult<()> {
    let mut tx = begin(writer).await?;
    shared::workspaces::retire_secret(&mut tx, workspace_id, secret_id, at).await?;
    commit_credentials(tx, changes).await
}

pub(super) async fn set_webhook(writer: &SqlitePool, changes: &Changes, webhook: &WorkspaceWebhook) -> StoreResult<()> {
    let mut tx = begin(writer).await?;
    shared::workspaces::set_webhook(&mut *tx, webhook).await?;
    commit_credentials(tx, changes).await
}

pub(super) async fn clear_webhook(writer: &SqlitePool, changes: &Changes, workspace_id: &str) -> StoreResult<bool> {
    let mut tx = begin(writer).await?;
    let removed = shared::workspaces::clear_webhook(&mut *tx, workspace_id).await?;
    commit_credentials(tx, changes).await?;
    Ok(removed)
}
