//! Rooms and their codes. The single writer reads and writes a room's codes in one
//! transaction at a time, so the count behind `TooManyCodes`, the next code position and
//! "one enabled code per role" need no lock of their own; new rooms are group-committed
//! (see `room_inserts`). The statements both stores run are in `shared::rooms`.

use std::sync::{Arc, LazyLock};

use hms_types::Timestamp;
use hms_types::room::RoomFilter;
use hms_types::room_code::{RoomCode, RoomCodeFilter};
use rusqlite::Row;
use sqlx::SqlitePool;

use super::begin;
use super::lists;
use super::point_reads::{PointReads, off_thread};
use crate::codec::*;
use crate::records::*;
use crate::{CodeGenerator, StoreError, StoreResult, shared};

// The point reads' statements, built once: they run on every room get and code exchange.
static ROOM_BY_ID: LazyLock<String> =
    LazyLock::new(|| format!("{ROOM_VIEW_SELECT} WHERE r.workspace_id = ? AND r.id = ?"));
static ROOM_BY_NAME: LazyLock<String> =
    LazyLock::new(|| format!("{ROOM_VIEW_SELECT} WHERE r.workspace_id = ? AND r.name_key = ?"));
static CODE_BINDING_BY_CODE: LazyLock<String> = LazyLock::new(|| format!("{CODE_BINDING_SELECT} WHERE c.code = ?"));

pub(super) async fn update(writer: &SqlitePool, room: &RoomRecord, read_updated_at: Timestamp) -> StoreResult<()> {
    let mut tx = begin(writer).await?;
    shared::rooms::update(&mut tx, room, read_updated_at).await?;
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
    let select = lists::rooms(ROOM_VIEW_SELECT, workspace_id, filter, page);
    off_thread(point_reads, move |c| select.all(c, |row| room_view_from(row))).await
}

/// What a listed room shows, in the order `write_page` reads the columns: by position,
/// because a lookup by name compares the name with the columns' names, for every column
/// of every row.
const ROOM_LIST_SELECT: &str = "SELECT r.id, r.name, r.enabled, r.description, r.template_id, r.region, \
     r.large_room, r.options, r.created_at, r.updated_at, t.name, t.recording_enabled \
     FROM rooms r JOIN templates t ON t.id = r.template_id";

/// The page `page` reads, each room written by `write` straight from its row: its strings
/// are borrowed from SQLite's, none copied.
pub(super) async fn write_page(
    point_reads: &Arc<PointReads>,
    workspace_id: &str,
    filter: &RoomFilter,
    page: &PageRequest,
    out: Vec<u8>,
    mut write: RoomWriter,
) -> StoreResult<WrittenPage> {
    let select = lists::rooms(ROOM_LIST_SELECT, workspace_id, filter, page);
    off_thread(point_reads, move |c| {
        let mut written = WrittenPage {
            out,
            items: 0,
            last_id: String::new(),
        };
        select.each(c, |row| {
            let options: RoomOptions = from_json(text(row, 7)?)?;
            let room = RoomViewRef {
                id: text(row, 0)?,
                name: text(row, 1)?,
                enabled: row.get(2)?,
                description: text(row, 3)?,
                template_id: text(row, 4)?,
                region: text(row, 5)?,
                large_room: row.get(6)?,
                options: &options,
                created_at: Timestamp::from_unix_millis(row.get(8)?),
                updated_at: Timestamp::from_unix_millis(row.get(9)?),
                template_name: text(row, 10)?,
                template_recording_enabled: row.get(11)?,
            };
            write(&mut written.out, written.items, &room);
            written.items += 1;
            // Overwritten in place: the id's buffer is allocated once a page.
            written.last_id.clear();
            written.last_id.push_str(room.id);
            Ok(())
        })?;
        Ok(written)
    })
    .await
}

/// The text in column `index` of `row`, borrowed.
fn text<'r>(row: &'r Row<'_>, index: usize) -> StoreResult<&'r str> {
    row.get_ref(index)?
        .as_str()
        .map_err(|error| StoreError::Corrupt(format!("column {index}: {error}")))
}

pub(super) async fn reconcile_codes(
    writer: &SqlitePool,
    room_id: &str,
    roles: &[String],
    generate: CodeGenerator<'_>,
    now: Timestamp,
) -> StoreResult<Vec<RoomCode>> {
    let mut tx = begin(writer).await?;
    let all = shared::rooms::reconcile_codes(&mut tx, room_id, roles, generate, now).await?;
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
    let code = shared::rooms::issue_code(&mut tx, room_id, role, generate, now).await?;
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
