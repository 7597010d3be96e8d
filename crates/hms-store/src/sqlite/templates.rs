//! Templates. The single writer inserts and replaces them one at a time; names are unique
//! per workspace through a unique index on their key, and replacements are conditional on
//! the revision that was read.

use std::sync::Arc;

use sqlx::{Sqlite, SqlitePool, Transaction};

use super::begin;
use super::lists;
use super::point_reads::{PointReads, off_thread};
use crate::codec::*;
use crate::records::*;
use crate::{StoreResult, rules};

pub(super) async fn insert_in(tx: &mut Transaction<'static, Sqlite>, template: &TemplateRecord) -> StoreResult<()> {
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
         body, revision, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(id)
    .bind(workspace_id)
    .bind(&body.name)
    .bind(name_key(&body.name))
    .bind(is_default)
    .bind(role_names(body))
    .bind(recording_enabled(body))
    .bind(to_json(body))
    .bind(revision)
    .bind(created_at.unix_millis())
    .bind(updated_at.unix_millis())
    .execute(&mut **tx)
    .await
    .map_err(|e| unique_violation(e, rules::TEMPLATE_NAME_TAKEN))?;
    Ok(())
}

pub(super) async fn insert(writer: &SqlitePool, template: &TemplateRecord) -> StoreResult<()> {
    let mut tx = begin(writer).await?;
    insert_in(&mut tx, template).await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn replace(writer: &SqlitePool, template: &TemplateRecord, expected_revision: i64) -> StoreResult<()> {
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
    let mut tx = begin(writer).await?;
    let updated = sqlx::query(
        "UPDATE templates SET name = ?, name_key = ?, role_names = ?, recording_enabled = ?, body = ?, \
         revision = ?, updated_at = ? WHERE workspace_id = ? AND id = ? AND revision = ?",
    )
    .bind(&body.name)
    .bind(name_key(&body.name))
    .bind(role_names(body))
    .bind(recording_enabled(body))
    .bind(to_json(body))
    .bind(revision)
    .bind(updated_at.unix_millis())
    .bind(workspace_id)
    .bind(id)
    .bind(expected_revision)
    .execute(&mut *tx)
    .await
    .map_err(|e| unique_violation(e, rules::TEMPLATE_NAME_TAKEN))?;
    if updated.rows_affected() == 0 {
        let exists: Option<i64> = sqlx::query_scalar("SELECT 1 FROM templates WHERE workspace_id = ? AND id = ?")
            .bind(workspace_id)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        return Err(rules::missed_update(exists.is_some()));
    }
    tx.commit().await?;
    Ok(())
}

/// A point read: every join reads its room's template.
pub(super) fn by_id(point_reads: &PointReads, workspace_id: &str, id: &str) -> StoreResult<Option<TemplateRecord>> {
    point_reads.one(
        "SELECT * FROM templates WHERE workspace_id = ? AND id = ?",
        (workspace_id, id),
        |row| template_from(row),
    )
}

pub(super) async fn by_name(reader: &SqlitePool, workspace_id: &str, name: &str) -> StoreResult<Option<TemplateRecord>> {
    sqlx::query("SELECT * FROM templates WHERE workspace_id = ? AND name_key = ?")
        .bind(workspace_id)
        .bind(name_key(name))
        .fetch_optional(reader)
        .await?
        .as_ref()
        .map(template_from)
        .transpose()
}

pub(super) async fn default_of(reader: &SqlitePool, workspace_id: &str) -> StoreResult<Option<TemplateRecord>> {
    sqlx::query("SELECT * FROM templates WHERE workspace_id = ? AND is_default = 1 ORDER BY id LIMIT 1")
        .bind(workspace_id)
        .fetch_optional(reader)
        .await?
        .as_ref()
        .map(template_from)
        .transpose()
}

pub(super) async fn page(
    point_reads: &Arc<PointReads>,
    workspace_id: &str,
    page: &PageRequest,
) -> StoreResult<Vec<TemplateRecord>> {
    let select = lists::templates(workspace_id, page);
    off_thread(point_reads, move |c| select.all(c, |row| template_from(row))).await
}
