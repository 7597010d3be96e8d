//! Workspaces, their secrets and webhooks: the credentials every process caches. The
//! statements both stores run are in `shared::workspaces`.

use hms_types::Timestamp;
use sqlx::postgres::PgPool;
use sqlx::{Postgres, Transaction};

use super::changes::announce;
use super::read_snapshot;
use crate::records::*;
use crate::{StoreResult, Topic, shared};

/// Commits a change of credentials: the version moves (its row lock orders concurrent
/// changes) and every process hears of it once the change is visible.
async fn commit_credentials(mut tx: Transaction<'static, Postgres>) -> StoreResult<()> {
    sqlx::query("UPDATE credentials_version SET version = version + 1 WHERE id = 1")
        .execute(&mut *tx)
        .await?;
    announce(&mut tx, Topic::Credentials).await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn create(pool: &PgPool, new: &NewWorkspace) -> StoreResult<Workspace> {
    let mut tx = pool.begin().await?;
    shared::workspaces::create(&mut tx, new).await?;
    commit_credentials(tx).await?;
    Ok(new.workspace.clone())
}

pub(super) async fn credentials(pool: &PgPool) -> StoreResult<Vec<WorkspaceCredentials>> {
    let mut snapshot = read_snapshot(pool).await?;
    let credentials = shared::workspaces::credentials(&mut snapshot).await?;
    snapshot.commit().await?;
    Ok(credentials)
}

pub(super) async fn add_secret(pool: &PgPool, workspace_id: &str, secret: &SecretRecord) -> StoreResult<()> {
    let mut tx = pool.begin().await?;
    shared::workspaces::insert_secret(&mut *tx, workspace_id, secret).await?;
    commit_credentials(tx).await
}

pub(super) async fn retire_secret(
    pool: &PgPool,
    workspace_id: &str,
    secret_id: &str,
    at: Timestamp,
) -> StoreResult<()> {
    let mut tx = pool.begin().await?;
    // Two processes retiring two different secrets could each count the other's as live
    // and leave none; the workspace's row lock makes the second count after the first.
    sqlx::query("SELECT id FROM workspaces WHERE id = $1 FOR NO KEY UPDATE")
        .bind(workspace_id)
        .fetch_optional(&mut *tx)
        .await?;
    shared::workspaces::retire_secret(&mut tx, workspace_id, secret_id, at).await?;
    commit_credentials(tx).await
}

pub(super) async fn set_webhook(pool: &PgPool, webhook: &WorkspaceWebhook) -> StoreResult<()> {
    let mut tx = pool.begin().await?;
    shared::workspaces::set_webhook(&mut *tx, webhook).await?;
    commit_credentials(tx).await
}

pub(super) async fn clear_webhook(pool: &PgPool, workspace_id: &str) -> StoreResult<bool> {
    let mut tx = pool.begin().await?;
    let removed = shared::workspaces::clear_webhook(&mut *tx, workspace_id).await?;
    commit_credentials(tx).await?;
    Ok(removed)
}
