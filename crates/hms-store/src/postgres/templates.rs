//! Templates. Names are unique per workspace through a unique index on their key, which
//! also settles two processes creating one name at once; replacements are conditional on
//! the revision that was read.

use sqlx::postgres::PgPool;
use sqlx::{Postgres, QueryBuilder, Transaction};

use crate::codec::*;
use crate::records::*;
use crate::{StoreResult, rules};

pub(super) async fn insert_in(tx: &mut Transaction<'static, Postgres>, template: &TemplateRecord) -> StoreResult<()> {
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

pub(super) async fn insert(pool: &PgPool, template: &TemplateRecord) -> StoreResult<()> {
    let mut tx = pool.begin().await?;
    insert_in(&mut tx, template).await?;
    tx.commit().await?;
    Ok(())
}

/// A concurrent replacement holds the row until it commits; this one then re-checks the
/// revision on the new row version and matches nothing, which answers `Stale`.
pub(super) async fn replace(pool: &PgPool, template: &TemplateRecord, expected_revision: i64) -> StoreResult<()> {
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
    let mut tx = pool.begin().await?;
    let updated = sqlx::query(
        "UPDATE templates SET name = $1, name_key = $2, role_names = $3, recording_enabled = $4, body = $5, \
         revision = $6, updated_at = $7 WHERE workspace_id = $8 AND id = $9 AND revision = $10",
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
        let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM templates WHERE workspace_id = $1 AND id = $2")
            .bind(workspace_id)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        return Err(rules::missed_update(exists.is_some()));
    }
    tx.commit().await?;
    Ok(())
}

pub(super) async fn by_id(pool: &PgPool, workspace_id: &str, id: &str) -> StoreResult<Option<TemplateRecord>> {
    sqlx::query("SELECT * FROM templates WHERE workspace_id = $1 AND id = $2")
        .bind(workspace_id)
        .bind(id)
        .fetch_optional(pool)
        .await?
        .as_ref()
        .map(template_from)
        .transpose()
}

pub(super) async fn by_name(pool: &PgPool, workspace_id: &str, name: &str) -> StoreResult<Option<TemplateRecord>> {
    sqlx::query("SELECT * FROM templates WHERE workspace_id = $1 AND name_key = $2")
        .bind(workspace_id)
        .bind(name_key(name))
        .fetch_optional(pool)
        .await?
        .as_ref()
        .map(template_from)
        .transpose()
}

pub(super) async fn default_of(pool: &PgPool, workspace_id: &str) -> StoreResult<Option<TemplateRecord>> {
    sqlx::query("SELECT * FROM templates WHERE workspace_id = $1 AND is_default ORDER BY id LIMIT 1")
        .bind(workspace_id)
        .fetch_optional(pool)
        .await?
        .as_ref()
        .map(template_from)
        .transpose()
}

pub(super) async fn page(pool: &PgPool, workspace_id: &str, page: &PageRequest) -> StoreResult<Vec<TemplateRecord>> {
    let mut query = QueryBuilder::<Postgres>::new("SELECT * FROM templates WHERE workspace_id = ");
    query.push_bind(workspace_id);
    if let Some(start) = &page.start {
        query.push(" AND id < ").push_bind(start);
    }
    query.push(" ORDER BY id DESC LIMIT ").push_bind(i64::from(page.limit));
    query.build().fetch_all(pool).await?.iter().map(template_from).collect()
}
