//! Templates. Names are unique per workspace through a unique index on their key, which
//! also settles two processes creating one name at once; replacements are conditional on
//! the revision that was read.

use sqlx::postgres::PgPool;
use sqlx::{Postgres, QueryBuilder, Transaction};

use crate::codec::*;
use crate::records::*;
use crate::{StoreError, StoreResult};

const NAME_TAKEN: &str = "a template with this name";

pub(super) async fn insert_in(tx: &mut Transaction<'static, Postgres>, t: &TemplateRecord) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO templates (id, workspace_id, name, name_key, is_default, role_names, recording_enabled, \
         body, revision, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(&t.id)
    .bind(&t.workspace_id)
    .bind(&t.body.name)
    .bind(name_key(&t.body.name))
    .bind(t.is_default)
    .bind(role_names(&t.body))
    .bind(recording_enabled(&t.body))
    .bind(to_json(&t.body))
    .bind(t.revision)
    .bind(t.created_at.unix_millis())
    .bind(t.updated_at.unix_millis())
    .execute(&mut **tx)
    .await
    .map_err(|e| unique_violation(e, NAME_TAKEN))?;
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
pub(super) async fn replace(pool: &PgPool, t: &TemplateRecord, expected_revision: i64) -> StoreResult<()> {
    let mut tx = pool.begin().await?;
    let updated = sqlx::query(
        "UPDATE templates SET name = $1, name_key = $2, role_names = $3, recording_enabled = $4, body = $5, \
         revision = $6, updated_at = $7 WHERE workspace_id = $8 AND id = $9 AND revision = $10",
    )
    .bind(&t.body.name)
    .bind(name_key(&t.body.name))
    .bind(role_names(&t.body))
    .bind(recording_enabled(&t.body))
    .bind(to_json(&t.body))
    .bind(t.revision)
    .bind(t.updated_at.unix_millis())
    .bind(&t.workspace_id)
    .bind(&t.id)
    .bind(expected_revision)
    .execute(&mut *tx)
    .await
    .map_err(|e| unique_violation(e, NAME_TAKEN))?;
    if updated.rows_affected() == 0 {
        let exists: Option<i64> =
            sqlx::query_scalar("SELECT revision FROM templates WHERE workspace_id = $1 AND id = $2")
                .bind(&t.workspace_id)
                .bind(&t.id)
                .fetch_optional(&mut *tx)
                .await?;
        return Err(if exists.is_some() {
            StoreError::Stale
        } else {
            StoreError::NotFound
        });
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
