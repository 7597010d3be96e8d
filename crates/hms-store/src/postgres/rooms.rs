//! Rooms and their codes; the statements both stores run are in `shared::rooms`.
//!
//! Two processes upserting one room name both try to insert it; the unique index on the
//! name key lets one win and the other gets `Conflict`, as on SQLite. Every write to a
//! room's codes first locks the room's row, so that the count behind `TooManyCodes`, the
//! next code position and "one enabled code per role" are read by one writer at a time.

use hms_types::Timestamp;
use hms_types::room::RoomFilter;
use hms_types::room_code::{RoomCode, RoomCodeFilter};
use sqlx::postgres::{PgConnection, PgPool};
use sqlx::{Postgres, QueryBuilder, Transaction};

use crate::codec::*;
use crate::records::*;
use crate::{CodeGenerator, StoreResult, shared};

/// Two processes inserting one room name both try; the unique index lets one win.
pub(super) async fn insert(pool: &PgPool, room: &RoomRecord) -> StoreResult<()> {
    let inserted = shared::rooms::insert_all(pool, &[room]).await?;
    shared::rooms::inserted(&inserted, room)
}

/// A write that read the room before another one committed matches no row: the row it
/// waited for has moved `updated_at`.
pub(super) async fn update(pool: &PgPool, room: &RoomRecord, read_updated_at: Timestamp) -> StoreResult<()> {
    let mut tx = pool.begin().await?;
    shared::rooms::update(&mut tx, room, read_updated_at).await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn by_id(db: &mut PgConnection, workspace_id: &str, id: &str) -> StoreResult<Option<RoomView>> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "{ROOM_VIEW_SELECT} WHERE r.workspace_id = $1 AND r.id = $2"
    )))
    .bind(workspace_id)
    .bind(id)
    .fetch_optional(db)
    .await?
    .decoded(room_view_from)
}

pub(super) async fn by_name(db: &mut PgConnection, workspace_id: &str, name: &str) -> StoreResult<Option<RoomView>> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "{ROOM_VIEW_SELECT} WHERE r.workspace_id = $1 AND r.name_key = $2"
    )))
    .bind(workspace_id)
    .bind(name_key(name))
    .fetch_optional(db)
    .await?
    .decoded(room_view_from)
}

pub(super) async fn page(
    pool: &PgPool,
    workspace_id: &str,
    filter: &RoomFilter,
    page: &PageRequest,
) -> StoreResult<Vec<RoomView>> {
    let mut query = QueryBuilder::<Postgres>::new(ROOM_VIEW_SELECT);
    query.push(" WHERE r.workspace_id = ").push_bind(workspace_id);
    if let Some(enabled) = filter.enabled {
        query.push(" AND r.enabled = ").push_bind(enabled);
    }
    if let Some(name) = &filter.name {
        query.push(" AND r.name_key = ").push_bind(name_key(name));
    }
    if let Some(template_id) = &filter.template_id {
        query.push(" AND r.template_id = ").push_bind(template_id);
    }
    if let Some(after) = filter.after {
        query.push(" AND r.created_at >= ").push_bind(after.unix_millis());
    }
    if let Some(before) = filter.before {
        query.push(" AND r.created_at <= ").push_bind(before.unix_millis());
    }
    if let Some(start) = &page.start {
        query.push(" AND r.id < ").push_bind(start);
    }
    query
        .push(" ORDER BY r.id DESC LIMIT ")
        .push_bind(i64::from(page.limit));
    query.build().fetch_all(pool).await?.decoded(room_view_from)
}

/// Makes the calling transaction the only writer of the room's codes until it ends. A
/// missing room is not an error here: the insert of a code then fails on its reference,
/// as it does on SQLite.
async fn lock_room(tx: &mut Transaction<'static, Postgres>, room_id: &str) -> StoreResult<()> {
    sqlx::query("SELECT id FROM rooms WHERE id = $1 FOR NO KEY UPDATE")
        .bind(room_id)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(())
}

pub(super) async fn reconcile_codes(
    pool: &PgPool,
    room_id: &str,
    roles: &[String],
    generate: CodeGenerator<'_>,
    now: Timestamp,
) -> StoreResult<Vec<RoomCode>> {
    let mut tx = pool.begin().await?;
    lock_room(&mut tx, room_id).await?;
    let all = shared::rooms::reconcile_codes(&mut tx, room_id, roles, generate, now).await?;
    tx.commit().await?;
    Ok(all)
}

pub(super) async fn create_code(
    pool: &PgPool,
    room_id: &str,
    role: &str,
    generate: CodeGenerator<'_>,
    now: Timestamp,
) -> StoreResult<RoomCode> {
    let mut tx = pool.begin().await?;
    lock_room(&mut tx, room_id).await?;
    let code = shared::rooms::issue_code(&mut tx, room_id, role, generate, now).await?;
    tx.commit().await?;
    Ok(code)
}

pub(super) async fn codes_page(
    pool: &PgPool,
    room_id: &str,
    filter: &RoomCodeFilter,
    page: &PageRequest,
) -> StoreResult<Vec<RoomCode>> {
    let mut query = QueryBuilder::<Postgres>::new(format!("SELECT {CODE_COLUMNS} FROM room_codes WHERE room_id = "));
    query.push_bind(room_id);
    if let Some(role) = &filter.role {
        query.push(" AND role = ").push_bind(role);
    }
    if let Some(enabled) = filter.enabled {
        query.push(" AND enabled = ").push_bind(enabled);
    }
    if let Some(start) = &page.start {
        query
            .push(" AND seq > (SELECT seq FROM room_codes WHERE code = ")
            .push_bind(start)
            .push(")");
    }
    query.push(" ORDER BY seq LIMIT ").push_bind(i64::from(page.limit));
    query.build().fetch_all(pool).await?.decoded(room_code_from)
}

pub(super) async fn code_binding(db: &mut PgConnection, code: &str) -> StoreResult<Option<CodeBinding>> {
    sqlx::query(sqlx::AssertSqlSafe(format!("{CODE_BINDING_SELECT} WHERE c.code = $1")))
        .bind(code)
        .fetch_optional(db)
        .await?
        .decoded(code_binding_from)
}

pub(super) async fn set_code_enabled(
    pool: &PgPool,
    code: &str,
    enabled: bool,
    now: Timestamp,
) -> StoreResult<RoomCode> {
    let mut tx = pool.begin().await?;
    // Waits for a reconcile of the same room, so that it never answers codes it did not see.
    sqlx::query(
        "SELECT r.id FROM rooms r JOIN room_codes c ON c.room_id = r.id WHERE c.code = $1 FOR NO KEY UPDATE OF r",
    )
    .bind(code)
    .fetch_optional(&mut *tx)
    .await?;
    let updated = shared::rooms::set_code_enabled(&mut *tx, code, enabled, now).await?;
    tx.commit().await?;
    Ok(updated)
}
