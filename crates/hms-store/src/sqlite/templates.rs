//! Templates: a replacement is one write transaction of the single writer; the hottest
//! read, and the pages, run without sqlx (see `point_reads`). The statements both stores
//! run are in `shared::templates`.

use std::sync::Arc;

use sqlx::SqlitePool;

use super::begin;
use super::lists;
use super::point_reads::{PointReads, off_thread};
use crate::codec::*;
use crate::records::*;
use crate::{StoreResult, shared};

pub(super) async fn replace(writer: &SqlitePool, template: &TemplateRecord, expected_revision: i64) -> StoreResult<()> {
    let mut tx = begin(writer).await?;
    shared::templates::replace(&mut tx, template, expected_revision).await?;
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

pub(super) async fn page(
    point_reads: &Arc<PointReads>,
    workspace_id: &str,
    page: &PageRequest,
) -> StoreResult<Vec<TemplateRecord>> {
    let select = lists::templates(workspace_id, page);
    off_thread(point_reads, move |c| select.all(c, |row| template_from(row))).await
}
