//! Templates: names are unique per workspace through a unique index on their key, which
//! also settles two processes creating one name at once; replacements are conditional on
//! the revision that was read.

use sqlx::{Executor, Transaction};

use crate::backend::{Backend, BindParam};
use crate::codec::*;
use crate::records::*;
use crate::{StoreResult, rules};

pub(crate) async fn insert<'c, DB: Backend>(
    db: impl Executor<'c, Database = DB>,
    template: &TemplateRecord,
) -> StoreResult<()> {
    let TemplateRecord {
        id,
        workspace_id,
        is_default,
        body,
        revision,
        created_at,
        updated_at,
    } = template;
    sqlx::query(
        "INSERT INTO templates (id, workspace_id, name, name_key, is_default, role_names, recording_enabled, \
         body, revision, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .param(id)
    .param(workspace_id)
    .param(&body.name)
    .param(name_key(&body.name))
    .param(*is_default)
    .param(role_names(body))
    .param(recording_enabled(body))
    .param(to_json(body))
    .param(*revision)
    .param(created_at.unix_millis())
    .param(updated_at.unix_millis())
    .execute(db)
    .await
    .map_err(|e| unique_violation(e, rules::TEMPLATE_NAME_TAKEN))?;
    Ok(())
}

/// Replaces a template if its revision is still `expected_revision`. On PostgreSQL a
/// concurrent replacement holds the row until it commits; this one then re-checks the
/// revision on the new row version and matches nothing, which answers `Stale`.
pub(crate) async fn replace<DB: Backend>(
    tx: &mut Transaction<'_, DB>,
    template: &TemplateRecord,
    expected_revision: i64,
) -> StoreResult<()> {
    let TemplateRecord {
        id,
        workspace_id,
        // Neither changes: the default template stays the default, and the creation stays.
        is_default: _,
        created_at: _,
        body,
        revision,
        updated_at,
    } = template;
    let updated = sqlx::query(
        "UPDATE templates SET name = $1, name_key = $2, role_names = $3, recording_enabled = $4, body = $5, \
         revision = $6, updated_at = $7 WHERE workspace_id = $8 AND id = $9 AND revision = $10",
    )
    .param(&body.name)
    .param(name_key(&body.name))
    .param(role_names(body))
    .param(recording_enabled(body))
    .param(to_json(body))
    .param(*revision)
    .param(updated_at.unix_millis())
    .param(workspace_id)
    .param(id)
    .param(expected_revision)
    .execute(DB::on(tx))
    .await
    .map_err(|e| unique_violation(e, rules::TEMPLATE_NAME_TAKEN))?;
    if DB::rows_affected(&updated) == 0 {
        let select = "SELECT id FROM templates WHERE workspace_id = $1 AND id = $2";
        return Err(super::missed_update(tx, select, workspace_id, id).await?);
    }
    Ok(())
}

pub(crate) async fn by_name<'c, DB: Backend>(
    db: impl Executor<'c, Database = DB>,
    workspace_id: &str,
    name: &str,
) -> StoreResult<Option<TemplateRecord>> {
    sqlx::query("SELECT * FROM templates WHERE workspace_id = $1 AND name_key = $2")
        .param(workspace_id)
        .param(name_key(name))
        .fetch_optional(db)
        .await?
        .decoded(template_from)
}

pub(crate) async fn default_of<'c, DB: Backend>(
    db: impl Executor<'c, Database = DB>,
    workspace_id: &str,
) -> StoreResult<Option<TemplateRecord>> {
    sqlx::query("SELECT * FROM templates WHERE workspace_id = $1 AND is_default = $2 ORDER BY id LIMIT 1")
        .param(workspace_id)
        .param(true)
        .fetch_optional(db)
        .await?
        .decoded(template_from)
}
