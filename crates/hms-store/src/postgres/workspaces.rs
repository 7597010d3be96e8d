//! Workspaces, their secrets and webhooks: the credentials every process caches.

use hms_auth::AppSecret;
use hms_types::Timestamp;
use sqlx::postgres::PgPool;
use sqlx::{Postgres, Transaction};

use super::changes::announce;
use super::read_snapshot;
use super::templates::insert_in as insert_template_in;
use crate::codec::*;
use crate::records::*;
use crate::{StoreResult, Topic, rules};

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
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO workspaces (id, name, access_key, customer_id, app_id, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
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
    commit_credentials(tx).await?;
    Ok(workspace.clone())
}

pub(super) async fn all(pool: &PgPool) -> StoreResult<Vec<Workspace>> {
    sqlx::query(ALL_WORKSPACES)
        .fetch_all(pool)
        .await?
        .iter()
        .map(workspace_from)
        .collect()
}

pub(super) async fn by_name(pool: &PgPool, name: &str) -> StoreResult<Option<Workspace>> {
    sqlx::query("SELECT * FROM workspaces WHERE name = $1")
        .bind(name)
        .fetch_optional(pool)
        .await?
        .as_ref()
        .map(workspace_from)
        .transpose()
}

pub(super) async fn credentials(pool: &PgPool) -> StoreResult<Vec<WorkspaceCredentials>> {
    // One snapshot for both reads, so that a workspace created in between cannot show up
    // without its secrets.
    let mut tx = read_snapshot(pool).await?;
    let workspaces = sqlx::query(ALL_WORKSPACES).fetch_all(&mut *tx).await?;
    let secrets = sqlx::query(LIVE_SECRETS).fetch_all(&mut *tx).await?;
    tx.commit().await?;
    credentials_from(&workspaces, &secrets)
}

pub(super) async fn credentials_version(pool: &PgPool) -> StoreResult<i64> {
    Ok(sqlx::query_scalar(CREDENTIALS_VERSION).fetch_one(pool).await?)
}

pub(super) async fn add_secret(pool: &PgPool, workspace_id: &str, secret: &SecretRecord) -> StoreResult<()> {
    let mut tx = pool.begin().await?;
    insert_secret_in(&mut tx, workspace_id, secret).await?;
    commit_credentials(tx).await
}

pub(super) async fn secrets(pool: &PgPool, workspace_id: &str) -> StoreResult<Vec<SecretRecord>> {
    sqlx::query("SELECT * FROM app_secrets WHERE workspace_id = $1 ORDER BY created_at, id")
        .bind(workspace_id)
        .fetch_all(pool)
        .await?
        .iter()
        .map(secret_from)
        .collect()
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
    let live: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM app_secrets WHERE workspace_id = $1 AND retired_at IS NULL")
            .bind(workspace_id)
            .fetch_one(&mut *tx)
            .await?;
    let retired = sqlx::query(
        "UPDATE app_secrets SET retired_at = $1 WHERE workspace_id = $2 AND id = $3 AND retired_at IS NULL",
    )
    .bind(at.unix_millis())
    .bind(workspace_id)
    .bind(secret_id)
    .execute(&mut *tx)
    .await?;
    rules::retirement(retired.rows_affected(), live)?;
    commit_credentials(tx).await
}

async fn insert_secret_in(
    tx: &mut Transaction<'static, Postgres>,
    workspace_id: &str,
    secret: &SecretRecord,
) -> StoreResult<()> {
    let SecretRecord {
        id,
        secret,
        created_at,
        retired_at,
    } = secret;
    sqlx::query(
        "INSERT INTO app_secrets (id, workspace_id, secret, created_at, retired_at) VALUES ($1, $2, $3, $4, $5)",
    )
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

pub(super) async fn set_webhook(pool: &PgPool, webhook: &WorkspaceWebhook) -> StoreResult<()> {
    let WorkspaceWebhook {
        workspace_id,
        url,
        headers,
        signing_secret,
    } = webhook;
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO workspace_webhooks (workspace_id, url, headers, signing_secret) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (workspace_id) DO UPDATE SET url = excluded.url, headers = excluded.headers, \
         signing_secret = excluded.signing_secret",
    )
    .bind(workspace_id)
    .bind(url)
    .bind(to_json(headers))
    .bind(signing_secret.as_ref().map(AppSecret::expose))
    .execute(&mut *tx)
    .await?;
    commit_credentials(tx).await
}

pub(super) async fn clear_webhook(pool: &PgPool, workspace_id: &str) -> StoreResult<bool> {
    let mut tx = pool.begin().await?;
    let removed = sqlx::query("DELETE FROM workspace_webhooks WHERE workspace_id = $1")
        .bind(workspace_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    commit_credentials(tx).await?;
    Ok(removed > 0)
}

pub(super) async fn webhooks(pool: &PgPool) -> StoreResult<Vec<WorkspaceWebhook>> {
    sqlx::query(ALL_WEBHOOKS)
        .fetch_all(pool)
        .await?
        .iter()
        .map(workspace_webhook_from)
        .collect()
}
