//! Workspaces, their secrets and webhooks: the credentials every process caches. The
//! writes run in a transaction that the caller commits as a change of credentials (moving
//! the version, and telling the caches).

use hms_auth::AppSecret;
use hms_types::Timestamp;
use sqlx::{Executor, Transaction};

use crate::backend::{Backend, BindParam};
use crate::codec::*;
use crate::records::*;
use crate::{StoreResult, rules};

/// Every workspace, oldest first.
const ALL_WORKSPACES: &str = "SELECT * FROM workspaces ORDER BY created_at, id";

/// Inserts a workspace with its first secret and its default template.
pub(crate) async fn create<DB: Backend>(tx: &mut Transaction<'_, DB>, new: &NewWorkspace) -> StoreResult<()> {
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
    sqlx::query(
        "INSERT INTO workspaces (id, name, access_key, customer_id, app_id, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .param(id)
    .param(name)
    .param(access_key)
    .param(customer_id)
    .param(app_id)
    .param(created_at.unix_millis())
    .execute(DB::on(tx))
    .await
    .map_err(|e| unique_violation(e, rules::WORKSPACE_TAKEN))?;
    insert_secret(DB::on(tx), id, secret).await?;
    super::templates::insert(DB::on(tx), default_template).await
}

pub(crate) async fn all<'c, DB: Backend>(db: impl Executor<'c, Database = DB>) -> StoreResult<Vec<Workspace>> {
    sqlx::query(ALL_WORKSPACES).fetch_all(db).await?.decoded(workspace_from)
}

pub(crate) async fn by_name<'c, DB: Backend>(
    db: impl Executor<'c, Database = DB>,
    name: &str,
) -> StoreResult<Option<Workspace>> {
    sqlx::query("SELECT * FROM workspaces WHERE name = $1")
        .param(name)
        .fetch_optional(db)
        .await?
        .decoded(workspace_from)
}

/// Every workspace with its live secrets, from `tx`, which the caller makes one
/// snapshot so that a workspace created in between cannot show up without its secrets.
pub(crate) async fn credentials<DB: Backend>(tx: &mut Transaction<'_, DB>) -> StoreResult<Vec<WorkspaceCredentials>> {
    let workspaces = sqlx::query(ALL_WORKSPACES).fetch_all(DB::on(tx)).await?;
    let secrets = sqlx::query(
        "SELECT workspace_id, secret FROM app_secrets WHERE retired_at IS NULL ORDER BY created_at DESC, id",
    )
    .fetch_all(DB::on(tx))
    .await?;
    credentials_from(&workspaces, &secrets)
}

pub(crate) async fn credentials_version<'c, DB: Backend>(db: impl Executor<'c, Database = DB>) -> StoreResult<i64> {
    let row = sqlx::query("SELECT version FROM credentials_version WHERE id = 1")
        .fetch_one(db)
        .await?;
    row.get("version")
}

pub(crate) async fn insert_secret<'c, DB: Backend>(
    db: impl Executor<'c, Database = DB>,
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
    .param(id)
    .param(workspace_id)
    .param(secret.expose())
    .param(created_at.unix_millis())
    .param(retired_at.map(Timestamp::unix_millis))
    .execute(db)
    .await
    .map_err(|e| unique_violation(e, rules::SECRET_TAKEN))?;
    Ok(())
}

pub(crate) async fn secrets<'c, DB: Backend>(
    db: impl Executor<'c, Database = DB>,
    workspace_id: &str,
) -> StoreResult<Vec<SecretRecord>> {
    sqlx::query("SELECT * FROM app_secrets WHERE workspace_id = $1 ORDER BY created_at, id")
        .param(workspace_id)
        .fetch_all(db)
        .await?
        .decoded(secret_from)
}

/// Retires a secret unless it is the last live one; the caller rolls back a refusal. The
/// caller is the only one retiring its workspace's secrets until it ends, so that the
/// count stays true.
pub(crate) async fn retire_secret<DB: Backend>(
    tx: &mut Transaction<'_, DB>,
    workspace_id: &str,
    secret_id: &str,
    at: Timestamp,
) -> StoreResult<()> {
    let live = sqlx::query("SELECT COUNT(*) AS live FROM app_secrets WHERE workspace_id = $1 AND retired_at IS NULL")
        .param(workspace_id)
        .fetch_one(DB::on(tx))
        .await?;
    let retired = sqlx::query(
        "UPDATE app_secrets SET retired_at = $1 WHERE workspace_id = $2 AND id = $3 AND retired_at IS NULL",
    )
    .param(at.unix_millis())
    .param(workspace_id)
    .param(secret_id)
    .execute(DB::on(tx))
    .await?;
    rules::retirement(DB::rows_affected(&retired), live.get("live")?)
}

pub(crate) async fn set_webhook<'c, DB: Backend>(
    db: impl Executor<'c, Database = DB>,
    webhook: &WorkspaceWebhook,
) -> StoreResult<()> {
    let WorkspaceWebhook {
        workspace_id,
        url,
        headers,
        signing_secret,
    } = webhook;
    sqlx::query(
        "INSERT INTO workspace_webhooks (workspace_id, url, headers, signing_secret) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (workspace_id) DO UPDATE SET url = excluded.url, headers = excluded.headers, \
         signing_secret = excluded.signing_secret",
    )
    .param(workspace_id)
    .param(url)
    .param(to_json(headers))
    .param(signing_secret.as_ref().map(AppSecret::expose))
    .execute(db)
    .await?;
    Ok(())
}

/// Removes a workspace's webhook; false when it had none.
pub(crate) async fn clear_webhook<'c, DB: Backend>(
    db: impl Executor<'c, Database = DB>,
    workspace_id: &str,
) -> StoreResult<bool> {
    let removed = sqlx::query("DELETE FROM workspace_webhooks WHERE workspace_id = $1")
        .param(workspace_id)
        .execute(db)
        .await?;
    Ok(DB::rows_affected(&removed) > 0)
}

pub(crate) async fn webhooks<'c, DB: Backend>(
    db: impl Executor<'c, Database = DB>,
) -> StoreResult<Vec<WorkspaceWebhook>> {
    sqlx::query("SELECT * FROM workspace_webhooks ORDER BY workspace_id")
        .fetch_all(db)
        .await?
        .decoded(workspace_webhook_from)
}
