//! Templates. Names are unique per workspace through a unique index on their key, which
//! also settles two processes creating one name at once; replacements are conditional on
//! the revision that was read. The statements both stores run are in `shared::templates`.

use sqlx::postgres::{PgConnection, PgPool};
use sqlx::{Postgres, QueryBuilder};

use crate::codec::*;
use crate::records::*;
use crate::{StoreResult, shared};

pub(super) async fn replace(pool: &PgPool, template: &TemplateRecord, expected_revision: i64) -> StoreResult<()> {
    let mut tx = pool.begin().await?;
    shared::templates::replace(&mut tx, template, expected_revision).await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn by_id(db: &mut PgConnection, workspace_id: &str, id: &str) -> StoreResult<Option<TemplateRecord>> {
    sqlx::query("SELECT * FROM templates WHERE workspace_id = $1 AND id = $2")
        .bind(workspace_id)
        .bind(id)
        .fetch_optional(db)
        .await?
        .decoded(template_from)
}

pub(super) async fn page(pool: &PgPool, workspace_id: &str, page: &PageRequest) -> StoreResult<Vec<TemplateRecord>> {
    let mut query = QueryBuilder::<Postgres>::new("SELECT * FROM templates WHERE workspace_id = ");
    query.push_bind(workspace_id);
    if let Some(start) = &page.start {
        query.push(" AND id < ").push_bind(start);
    }
    query.push(" ORDER BY id DESC LIMIT ").push_bind(i64::from(page.limit));
    query.build().fetch_all(pool).await?.decoded(template_from)
}
