//! Rooms and their codes. The single writer reads and writes a room's codes in one
//! transaction at a time, so the count behind `TooManyCodes`, the next code position and
//! "one enabled code per role" need no lock of their own; new rooms are group-committed
//! (see `room_inserts`).

use std::sync::{Arc, LazyLock};

use hms_types::Timestamp;
use hms_types::room::RoomFilter;
use hms_types::room_code::{RoomCode, RoomCodeFilter};
use sqlx::{Sqlite, SqlitePool, Transaction};

use super::begin;
use super::lists;
use super::point_reads::{PointReads, off_thread};
use crate::codec::*;
use crate::records::*;
use crate::{CodeGenerator, StoreError, StoreResult, rules};

// The point reads' statements, built once: they run on every room get and code exchange.
static ROOM_BY_ID: LazyLock<String> =
    LazyLock::new(|| format!("{ROOM_VIEW_SELECT} WHERE r.workspace_id = ? AND r.id = ?"));
static ROOM_BY_NAME: LazyLock<String> =
    LazyLock::new(|| format!("{ROOM_VIEW_SELECT} WHERE r.workspace_id = ? AND r.name_key = ?"));
static CODE_BINDING_BY_CODE: LazyLock<String> = LazyLock::new(|| format!("{CODE_BINDING_SELECT} WHERE c.code = ?"));

/// A write that read the room before another one committed matches no row: that one has
/// moved `updated_at`.
pub(super) async fn update(writer: &SqlitePool, room: &RoomRecord, read_updated_at: Timestamp) -> StoreResult<()> {
    let RoomRecord {
        id,
        workspace_id,
        name,
        enabled,
        description,
        template_id,
        region,
        large_room,
        options,
        // A room's creation never changes.
        created_at: _,
        updated_at,
    } = room;
    let mut tx = begin(writer).await?;
    let updated = sqlx::query(
        "UPDATE rooms SET name = ?, name_key = ?, enabled = ?, description = ?, template_id = ?, region = ?, \
         large_room = ?, options = ?, updated_at = ? WHERE workspace_id = ? AND id = ? AND updated_at = ?",
    )
    .bind(name)
    .bind(name_key(name))
    .bind(enabled)
    .bind(description)
    .bind(template_id)
    .bind(region)
    .bind(large_room)
    .bind(to_json(options))
    .bind(updated_at.unix_millis())
    .bind(workspace_id)
    .bind(id)
    .bind(read_updated_at.unix_millis())
    .execute(&mut *tx)
    .await
    .map_err(|e| unique_violation(e, rules::ROOM_NAME_TAKEN))?;
    if updated.rows_affected() == 0 {
        let exists: Option<i64> = sqlx::query_scalar("SELECT 1 FROM rooms WHERE workspace_id = ? AND id = ?")
            .bind(workspace_id)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        return Err(rules::missed_update(exists.is_some()));
    }
    tx.commit().await?;
    Ok(())
}

pub(super) fn by_id(point_reads: &PointReads, workspace_id: &str, id: &str) -> StoreResult<Option<RoomView>> {
    point_reads.one(&ROOM_BY_ID, (workspace_id, id), |row| room_view_from(row))
}

pub(super) fn by_name(point_reads: &PointReads, workspace_id: &str, name: &str) -> StoreResult<Option<RoomView>> {
    point_reads.one(&ROOM_BY_NAME, (workspace_id, name_key(name)), |row| room_view_from(row))
}

pub(super) async fn page(
    point_reads: &Arc<PointReads>,
    workspace_id: &str,
    filter: &RoomFilter,
    page: &PageRequest,
) -> StoreResult<Vec<RoomView>> {
    let select = lists::rooms(workspace_id, filter, page);
    off_thread(point_reads, move |c| select.all(c, |row| room_view_from(row))).await
}

async fn codes_of(tx: &mut Transaction<'static, Sqlite>, room_id: &str) -> StoreResult<Vec<RoomCode>> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {CODE_COLUMNS} FROM room_codes WHERE room_id = ? ORDER BY seq"
    )))
    .bind(room_id)
    .fetch_all(&mut **tx)
    .await?
    .iter()
    .map(room_code_from)
    .collect()
}

/// Issues a code for `role`, unless the room holds its limit of codes.
async fn issue_code_in(
    tx: &mut Transaction<'static, Sqlite>,
    room_id: &str,
    role: &str,
    generate: CodeGenerator<'_>,
    now: Timestamp,
) -> StoreResult<RoomCode> {
    let held: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM room_codes WHERE room_id = ?")
        .bind(room_id)
        .fetch_one(&mut **tx)
        .await?;
    rules::ensure_room_for_code(held)?;
    for candidate in rules::code_candidates(room_id, role, generate, now) {
        if insert_code_if_free(tx, &candidate).await? {
            return Ok(candidate);
        }
    }
    Err(rules::no_free_code())
}

/// Inserts `code` after the room's last one, unless its code string is taken.
async fn insert_code_if_free(tx: &mut Transaction<'static, Sqlite>, code: &RoomCode) -> StoreResult<bool> {
    let RoomCode {
        code,
        room_id,
        role,
        enabled,
        created_at,
        updated_at,
    } = code;
    let inserted = sqlx::query(
        "INSERT INTO room_codes (code, room_id, role, enabled, seq, created_at, updated_at) \
         SELECT ?1, ?2, ?3, ?4, COALESCE(MAX(seq), 0) + 1, ?5, ?6 FROM room_codes WHERE room_id = ?2 \
         ON CONFLICT (code) DO NOTHING",
    )
    .bind(code)
    .bind(room_id)
    .bind(role)
    .bind(enabled)
    .bind(created_at.unix_millis())
    .bind(updated_at.unix_millis())
    .execute(&mut **tx)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

pub(super) async fn reconcile_codes(
    writer: &SqlitePool,
    room_id: &str,
    roles: &[String],
    generate: CodeGenerator<'_>,
    now: Timestamp,
) -> StoreResult<Vec<RoomCode>> {
    let mut tx = begin(writer).await?;
    let existing = codes_of(&mut tx, room_id).await?;
    let changes = rules::reconcile_codes(&existing, roles);
    for code in changes.disable {
        sqlx::query("UPDATE room_codes SET enabled = 0, updated_at = ? WHERE code = ?")
            .bind(now.unix_millis())
            .bind(code)
            .execute(&mut *tx)
            .await?;
    }
    for role in changes.issue {
        issue_code_in(&mut tx, room_id, role, generate, now).await?;
    }
    let all = codes_of(&mut tx, room_id).await?;
    tx.commit().await?;
    Ok(all)
}

pub(super) async fn create_code(
    writer: &SqlitePool,
    room_id: &str,
    role: &str,
    generate: CodeGenerator<'_>,
    now: Timestamp,
) -> StoreResult<RoomCode> {
    let mut tx = begin(writer).await?;
    let code = issue_code_in(&mut tx, room_id, role, generate, now).await?;
    tx.commit().await?;
    Ok(code)
}

pub(super) async fn codes_page(
    point_reads: &Arc<PointReads>,
    room_id: &str,
    filter: &RoomCodeFilter,
    page: &PageRequest,
) -> StoreResult<Vec<RoomCode>> {
    let select = lists::room_codes(room_id, filter, page);
    off_thread(point_reads, move |c| select.all(c, |row| room_code_from(row))).await
}

pub(super) fn code_binding(point_reads: &PointReads, code: &str) -> StoreResult<Option<CodeBinding>> {
    point_reads.one(&CODE_BINDING_BY_CODE, [code], |row| code_binding_from(row))
}

pub(super) async fn set_code_enabled(
    writer: &SqlitePool,
    code: &str,
    enabled: bool,
    now: Timestamp,
) -> StoreResult<RoomCode> {
    let mut tx = begin(writer).await?;
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE room_codes SET enabled = ?, updated_at = ? WHERE code = ? RETURNING {CODE_COLUMNS}"
    )))
    .bind(enabled)
    .bind(now.unix_millis())
    .bind(code)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(StoreError::NotFound)?;
    let updated = room_code_from(&row)?;
    tx.commit().await?;
    Ok(updated)
}
