//! The statements both stores run word for word, written once: each store calls them with
//! its own pool or transaction, after taking whatever locks it needs (the PostgreSQL
//! store's row and advisory locks; SQLite's single writer needs none). What a store does
//! its own way — its dialect, its locks, its group commits and reads without sqlx — stays
//! in `sqlite/` and `postgres/`, whose modules mirror each other and these.
//!
//! Functions that run several statements take the caller's transaction; the others take
//! any executor, a pool or a transaction's connection.

pub(crate) mod deliveries;
pub(crate) mod live;
pub(crate) mod placements;
pub(crate) mod rooms;
pub(crate) mod templates;
pub(crate) mod workspaces;

use sqlx::Transaction;

use crate::backend::{Backend, BindParam};
use crate::{StoreError, StoreResult, rules};

/// Why a conditional update of row `id` of `workspace_id` matched nothing, when `select`
/// reads that row by those two (see `rules::missed_update`).
async fn missed_update<DB: Backend>(
    tx: &mut Transaction<'_, DB>,
    select: &'static str,
    workspace_id: &str,
    id: &str,
) -> StoreResult<StoreError> {
    let row = sqlx::query(select)
        .param(workspace_id)
        .param(id)
        .fetch_optional(DB::on(tx))
        .await?;
    Ok(rules::missed_update(row.is_some()))
}
