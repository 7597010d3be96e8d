//! Workspaces, their secrets and webhooks: the credentials the process caches.

use hms_auth::AppSecret;
use hms_types::Timestamp;
use sqlx::{Sqlite, SqlitePool, Transaction};

use super::begin;
use super::changes::Changes;
use super::templates::insert_in as insert_template_in;
use crate::codec::*;
use crate::records::*;
use crate::{StoreResult, Topic, rules};

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
    let NewWorkspace {
        workspace,
        secret,
        default_template,
    } = new;
    let Workspace {
        id,
        name,
        access_key,
        customer_id,
        app_id,
        created_at,
    } = workspace;
    let mut tx = begin(writer).await?;
    sqlx::query(
        "INSERT INTO workspaces (id, name, access_key, customer_id, app_id, created_at) VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(id)
    .bind(name)
    .bind(access_key)
    .bind(customer_id)
    .bind(app_id)
    .bind(created_at.unix_millis())
    .execute(&mut *tx)
    .await
    .map_err(|e| unique_violation(e, rules::WORKSPACE_TAKEN))?;
    insert_secret_in(&mut tx, id, secret).await?;
    insert_template_in(&mut tx, default_template).await?;
    commit_credentials(tx, changes).await?;
    Ok(workspace.clone())
}

pub(super) async fn all(reader: &SqlitePool) -> StoreResult<Vec<Workspace>> {
    sqlx::query(ALL_WORKSPACES)
        .fetch_all(reader)
        .await?
        .iter()
        .map(workspace_from)
        .collect()
}

pub(super) async fn by_name(reader: &SqlitePool, name: &str) -> StoreResult<Option<Workspace>> {
    sqlx::query("SELECT * FROM workspaces WHERE name = ?")
        .bind(name)
        .fetch_optional(reader)
        .await?
        .as_ref()
        .map(workspace_from)
        .transpose()
}

pub(super) async fn credentials(reader: &SqlitePool) -> StoreResult<Vec<WorkspaceCredentials>> {
    // One snapshot for both reads, so that a workspace created in between cannot show up
    // without its secrets.
    let mut tx = reader.begin().await?;
    let workspaces = sqlx::query(ALL_WORKSPACES).fetch_all(&mut *tx).await?;
    let secrets = sqlx::query(LIVE_SECRETS).fetch_all(&mut *tx).await?;
    tx.commit().await?;
    credentials_from(&workspaces, &secrets)
}

pub(super) async fn credentials_version(reader: &SqlitePool) -> StoreResult<i64> {
    Ok(sqlx::query_scalar(CREDENTIALS_VERSION).fetch_one(reader).await?)
}

pub(super) async fn add_secret(
    writer: &SqlitePool,
    changes: &Changes,
    workspace_id: &str,
    secret: &SecretRecord,
) -> StoreResult<()> {
    let mut tx = begin(writer).await?;
    insert_secret_in(&mut tx, workspace_id, secret).await?;
    commit_credentials(tx, changes).await
}

pub(super) async fn secrets(reader: &SqlitePool, workspace_id: &str) -> StoreResult<Vec<SecretRecord>> {
    sqlx::query("SELECT * FROM app_secrets WHERE workspace_id = ? ORDER BY created_at, id")
        .bind(workspace_id)
        .fetch_all(reader)
        .await?
        .iter()
        .map(secret_from)
        .collect()
}

/// The single writer counts and retires in one transaction, so the count stays true.
pub(super) async fn retire_secret(
    writer: &SqlitePool,
    changes: &Changes,
    workspace_id: &str,
    secret_id: &str,
    at: Timestamp,
) -> StoreResult<()> {
    let mut tx = begin(writer).await?;
    let live: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM app_secrets WHERE workspace_id = ? AND retired_at IS NULL")
            .bind(workspace_id)
            .fetch_one(&mut *tx)
            .await?;
    let retired = sqlx::query(
        "UPDATE app_secrets SET retired_at = ? WHERE workspace_id = ? AND id = ? AND retired_at IS NULL",
    )
    .bind(at.unix_millis())
    .bind(workspace_id)
    .bind(secret_id)
    .execute(&mut *tx)
    .await?;
    rules::retirement(retired.rows_affected(), live)?;
    commit_credentials(tx, changes).await
}

async fn insert_secret_in(
    tx: &mut Transaction<'static, Sqlite>,
    workspace_id: &str,
    secret: &SecretRecord,
) -> StoreResult<()> {
    let SecretRecord {
        id,
        secret,
        created_at,
        retired_at,
    } = secret;
    sqlx::query("INSERT INTO app_secrets (id, workspace_id, secret, created_at, retired_at) VALUES (?, ?, ?, ?, ?)")
        .bind(id)
        .bind(workspace_id)
        .bind(secret.expose())
        .bind(created_at.unix_millis())
        .bind(retired_at.map(Timestamp::unix_millis))
        .execute(&mut **tx)
        .await
        .map_err(|e| unique_violation(e, rules::SECRET_TAKEN))?;
    Ok(())
}

pub(super) async fn set_webhook(writer: &SqlitePool, changes: &Changes, webhook: &WorkspaceWebhook) -> StoreResult<()> {
    let WorkspaceWebhook {
        workspace_id,
        url,
        headers,
        signing_secret,
    } = webhook;
    let mut tx = begin(writer).await?;
    sqlx::query(
        "INSERT INTO workspace_webhooks (workspace_id, url, headers, signing_secret) VALUES (?, ?, ?, ?) \
         ON CONFLICT (workspace_id) DO UPDATE SET url = excluded.url, headers = excluded.headers, \
         signing_secret = excluded.signing_secret",
    )
    .bind(workspace_id)
    .bind(url)
    .bind(to_json(headers))
    .bind(signing_secret.as_ref().map(AppSecret::expose))
    .execute(&mut *tx)
    .await?;
    commit_credentials(tx, changes).await
}

pub(super) async fn clear_webhook(writer: &SqlitePool, changes: &Changes, workspace_id: &str) -> StoreResult<bool> {
    let mut tx = begin(writer).await?;
    let removed = sqlx::query("DELETE FROM workspace_webhooks WHERE workspace_id = ?")
        .bind(workspace_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    commit_credentials(tx, changes).await?;
    Ok(removed > 0)
}

pub(super) async fn webhooks(reader: &SqlitePool) -> StoreResult<Vec<WorkspaceWebhook>> {
    sqlx::query(ALL_WEBHOOKS)
        .fetch_all(reader)
        .await?
        .iter()
        .map(workspace_webhook_from)
        .collect()
}
