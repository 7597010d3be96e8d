//! Rooms and their codes. Every write to a room's codes runs in a transaction that is the
//! only writer of the room's codes (SQLite's single writer; on PostgreSQL, the room's row
//! lock taken first), so that the count behind `TooManyCodes`, the next code position and
//! "one enabled code per role" are read by one writer at a time.

use hms_types::Timestamp;
use hms_types::room_code::RoomCode;
use sqlx::{Executor, Transaction};

use crate::backend::{Backend, BindParam};
use crate::codec::*;
use crate::records::*;
use crate::{CodeGenerator, StoreError, StoreResult, rules};

/// Inserts `rooms` with one statement; a room whose name (or id) is taken, also by an
/// earlier room of the same statement, is skipped. Answers the ids inserted.
pub(crate) async fn insert_all<'c, DB: Backend>(
    db: impl Executor<'c, Database = DB>,
    rooms: &[&RoomRecord],
) -> StoreResult<Vec<String>> {
    const COLUMNS: usize = 12;
    let rows: Vec<String> = (0..rooms.len())
        .map(|row| {
            let placeholders: Vec<String> = (1..=COLUMNS)
                .map(|column| format!("${}", row * COLUMNS + column))
                .collect();
            format!("({})", placeholders.join(", "))
        })
        .collect();
    let sql = format!(
        "INSERT INTO rooms (id, workspace_id, name, name_key, enabled, description, template_id, region, \
         large_room, options, created_at, updated_at) VALUES {} ON CONFLICT DO NOTHING RETURNING id",
        rows.join(", ")
    );
    let mut insert = sqlx::query(sqlx::AssertSqlSafe(sql));
    for room in rooms {
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
            created_at,
            updated_at,
        } = room;
        insert = insert
            .param(id)
            .param(workspace_id)
            .param(name)
            .param(name_key(name))
            .param(*enabled)
            .param(description)
            .param(template_id)
            .param(region)
            .param(*large_room)
            .param(to_json(options))
            .param(created_at.unix_millis())
            .param(updated_at.unix_millis());
    }
    let inserted = insert.fetch_all(db).await?;
    inserted.iter().map(|row| row.get("id")).collect()
}

/// `room`'s answer from the ids `insert_all` inserted: a room not among them was skipped
/// because its name is taken.
pub(crate) fn inserted(inserted: &[String], room: &RoomRecord) -> StoreResult<()> {
    if inserted.contains(&room.id) {
        Ok(())
    } else {
        Err(StoreError::Conflict(rules::ROOM_NAME_TAKEN))
    }
}

/// Replaces a room unless another write moved its `updated_at` since it was read at
/// `read_updated_at`.
pub(crate) async fn update<DB: Backend>(
    tx: &mut Transaction<'_, DB>,
    room: &RoomRecord,
    read_updated_at: Timestamp,
) -> StoreResult<()> {
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
    let updated = sqlx::query(
        "UPDATE rooms SET name = $1, name_key = $2, enabled = $3, description = $4, template_id = $5, \
         region = $6, large_room = $7, options = $8, updated_at = $9 \
         WHERE workspace_id = $10 AND id = $11 AND updated_at = $12",
    )
    .param(name)
    .param(name_key(name))
    .param(*enabled)
    .param(description)
    .param(template_id)
    .param(region)
    .param(*large_room)
    .param(to_json(options))
    .param(updated_at.unix_millis())
    .param(workspace_id)
    .param(id)
    .param(read_updated_at.unix_millis())
    .execute(DB::on(tx))
    .await
    .map_err(|e| unique_violation(e, rules::ROOM_NAME_TAKEN))?;
    if DB::rows_affected(&updated) == 0 {
        let select = "SELECT id FROM rooms WHERE workspace_id = $1 AND id = $2";
        return Err(super::missed_update(tx, select, workspace_id, id).await?);
    }
    Ok(())
}

/// Every code of a room, in the order they were made.
async fn codes_of<DB: Backend>(tx: &mut Transaction<'_, DB>, room_id: &str) -> StoreResult<Vec<RoomCode>> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {CODE_COLUMNS} FROM room_codes WHERE room_id = $1 ORDER BY seq"
    )))
    .param(room_id)
    .fetch_all(DB::on(tx))
    .await?
    .decoded(room_code_from)
}

/// Issues a code for `role`, unless the room holds its limit of codes.
pub(crate) async fn issue_code<DB: Backend>(
    tx: &mut Transaction<'_, DB>,
    room_id: &str,
    role: &str,
    generate: CodeGenerator<'_>,
    now: Timestamp,
) -> StoreResult<RoomCode> {
    let held = sqlx::query("SELECT COUNT(*) AS held FROM room_codes WHERE room_id = $1")
        .param(room_id)
        .fetch_one(DB::on(tx))
        .await?;
    rules::ensure_room_for_code(held.get("held")?)?;
    for candidate in rules::code_candidates(room_id, role, generate, now) {
        if insert_code_if_free(tx, &candidate).await? {
            return Ok(candidate);
        }
    }
    Err(rules::no_free_code())
}

/// Inserts `code` after the room's last one, unless its code string is taken.
async fn insert_code_if_free<DB: Backend>(tx: &mut Transaction<'_, DB>, code: &RoomCode) -> StoreResult<bool> {
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
         SELECT $1, $2, $3, $4, COALESCE(MAX(seq), 0) + 1, $5, $6 FROM room_codes WHERE room_id = $2 \
         ON CONFLICT (code) DO NOTHING",
    )
    .param(code)
    .param(room_id)
    .param(role)
    .param(*enabled)
    .param(created_at.unix_millis())
    .param(updated_at.unix_millis())
    .execute(DB::on(tx))
    .await?;
    Ok(DB::rows_affected(&inserted) == 1)
}

/// Reconciles a room's codes with `roles` (see `Store::reconcile_room_codes`).
pub(crate) async fn reconcile_codes<DB: Backend>(
    tx: &mut Transaction<'_, DB>,
    room_id: &str,
    roles: &[String],
    generate: CodeGenerator<'_>,
    now: Timestamp,
) -> StoreResult<Vec<RoomCode>> {
    let existing = codes_of(tx, room_id).await?;
    let changes = rules::reconcile_codes(&existing, roles);
    for code in changes.disable {
        sqlx::query("UPDATE room_codes SET enabled = $1, updated_at = $2 WHERE code = $3")
            .param(false)
            .param(now.unix_millis())
            .param(code)
            .execute(DB::on(tx))
            .await?;
    }
    for role in changes.issue {
        issue_code(tx, room_id, role, generate, now).await?;
    }
    codes_of(tx, room_id).await
}

pub(crate) async fn set_code_enabled<'c, DB: Backend>(
    db: impl Executor<'c, Database = DB>,
    code: &str,
    enabled: bool,
    now: Timestamp,
) -> StoreResult<RoomCode> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE room_codes SET enabled = $1, updated_at = $2 WHERE code = $3 RETURNING {CODE_COLUMNS}"
    )))
    .param(enabled)
    .param(now.unix_millis())
    .param(code)
    .fetch_optional(db)
    .await?
    .ok_or(StoreError::NotFound)?;
    room_code_from(&row)
}
