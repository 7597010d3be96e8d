//! The statements of the SQLite store's lists, read without sqlx (see `point_reads`): each
//! a page selected by the filters given, built as SQL with `?` placeholders and the values
//! they bind, owned so that the read can run on a blocking thread.

use hms_types::room::RoomFilter;
use hms_types::room_code::RoomCodeFilter;
use hms_types::session::SessionFilter;
use rusqlite::types::Value;
use rusqlite::{Connection, Row, params_from_iter};

use super::point_reads::{NamedRow, read_all};
use crate::StoreResult;
use crate::codec::*;
use crate::records::*;

/// A statement whose conditions depend on the filters given, with the values it binds.
pub(super) struct Select {
    sql: String,
    values: Vec<Value>,
}

impl Select {
    fn new(head: &str) -> Self {
        Self {
            sql: head.to_owned(),
            values: Vec::new(),
        }
    }

    /// Appends `clause`, whose one placeholder takes `value`.
    fn bind(&mut self, clause: &str, value: impl Into<Value>) -> &mut Self {
        self.sql.push_str(clause);
        self.values.push(value.into());
        self
    }

    fn push(&mut self, sql: &str) -> &mut Self {
        self.sql.push_str(sql);
        self
    }

    /// Appends ` IN (?, …)` with a placeholder for each of `values`.
    fn bind_in(&mut self, values: impl IntoIterator<Item = impl Into<Value>>) -> &mut Self {
        self.sql.push_str(" IN (");
        for (i, value) in values.into_iter().enumerate() {
            self.sql.push_str(if i == 0 { "?" } else { ", ?" });
            self.values.push(value.into());
        }
        self.sql.push(')');
        self
    }

    pub(super) fn all<T>(
        &self,
        connection: &Connection,
        decode: impl FnMut(&NamedRow<'_, '_>) -> StoreResult<T>,
    ) -> StoreResult<Vec<T>> {
        read_all(connection, &self.sql, params_from_iter(&self.values), decode)
    }

    /// Hands every row selected to `visit`, as it is read.
    pub(super) fn each(
        &self,
        connection: &Connection,
        mut visit: impl FnMut(&Row<'_>) -> StoreResult<()>,
    ) -> StoreResult<()> {
        let mut statement = connection.prepare_cached(&self.sql)?;
        let mut rows = statement.query(params_from_iter(&self.values))?;
        while let Some(row) = rows.next()? {
            visit(row)?;
        }
        Ok(())
    }

    pub(super) fn count(&self, connection: &Connection) -> StoreResult<i64> {
        let mut statement = connection.prepare_cached(&self.sql)?;
        Ok(statement.query_row(params_from_iter(&self.values), |row| row.get(0))?)
    }
}

/// Newest first, after the `start` id when given.
fn page_by_id(select: &mut Select, id_column: &str, page: &PageRequest) {
    if let Some(start) = &page.start {
        select.bind(&format!(" AND {id_column} < ?"), start.clone());
    }
    select
        .push(&format!(" ORDER BY {id_column} DESC"))
        .bind(" LIMIT ?", i64::from(page.limit));
}

pub(super) fn templates(workspace_id: &str, page: &PageRequest) -> Select {
    let mut select = Select::new("SELECT * FROM templates");
    select.bind(" WHERE workspace_id = ?", workspace_id.to_owned());
    page_by_id(&mut select, "id", page);
    select
}

/// The rooms (`r`) with their templates (`t`) that `filter` selects, with `head` before the
/// conditions.
pub(super) fn rooms(head: &str, workspace_id: &str, filter: &RoomFilter, page: &PageRequest) -> Select {
    let mut select = Select::new(head);
    select.bind(" WHERE r.workspace_id = ?", workspace_id.to_owned());
    if let Some(enabled) = filter.enabled {
        select.bind(" AND r.enabled = ?", enabled);
    }
    if let Some(name) = &filter.name {
        select.bind(" AND r.name_key = ?", name_key(name));
    }
    if let Some(template_id) = &filter.template_id {
        select.bind(" AND r.template_id = ?", template_id.clone());
    }
    if let Some(after) = filter.after {
        select.bind(" AND r.created_at >= ?", after.unix_millis());
    }
    if let Some(before) = filter.before {
        select.bind(" AND r.created_at <= ?", before.unix_millis());
    }
    page_by_id(&mut select, "r.id", page);
    select
}

/// In creation order; a code's cursor is its position.
pub(super) fn room_codes(room_id: &str, filter: &RoomCodeFilter, page: &PageRequest) -> Select {
    let mut select = Select::new("SELECT code, room_id, role, enabled, created_at, updated_at FROM room_codes");
    select.bind(" WHERE room_id = ?", room_id.to_owned());
    if let Some(role) = &filter.role {
        select.bind(" AND role = ?", role.clone());
    }
    if let Some(enabled) = filter.enabled {
        select.bind(" AND enabled = ?", enabled);
    }
    if let Some(start) = &page.start {
        select.bind(" AND seq > (SELECT seq FROM room_codes WHERE code = ?)", start.clone());
    }
    select.bind(" ORDER BY seq LIMIT ?", i64::from(page.limit));
    select
}

pub(super) fn sessions(workspace_id: &str, filter: &SessionFilter, page: &PageRequest) -> Select {
    let mut select = Select::new("SELECT * FROM sessions");
    select.bind(" WHERE workspace_id = ?", workspace_id.to_owned());
    if let Some(room_id) = &filter.room_id {
        select.bind(" AND room_id = ?", room_id.clone());
    }
    if let Some(active) = filter.active {
        select.bind(" AND active = ?", active);
    }
    if let Some(after) = filter.after {
        let from_ns = i128::from(after.unix_millis()) * 1_000_000;
        select.bind(" AND started_ns >= ?", i128_to_i64(from_ns));
    }
    if let Some(before) = filter.before {
        // `before` is inclusive at millisecond precision: the whole millisecond counts.
        let until_ns = (i128::from(before.unix_millis()) + 1) * 1_000_000;
        select.bind(" AND started_ns < ?", i128_to_i64(until_ns));
    }
    page_by_id(&mut select, "id", page);
    select
}

pub(super) fn session(workspace_id: &str, id: &str) -> Select {
    let mut select = Select::new("SELECT * FROM sessions");
    select
        .bind(" WHERE workspace_id = ?", workspace_id.to_owned())
        .bind(" AND id = ?", id.to_owned());
    select
}

pub(super) fn live_session(room_id: &str) -> Select {
    let mut select = Select::new("SELECT * FROM sessions");
    select.bind(" WHERE room_id = ? AND active = 1", room_id.to_owned());
    select
}

/// Gives `sessions` their peers, in the order they joined; `present_only` leaves out the
/// peers that left.
pub(super) fn attach_peers(
    connection: &Connection,
    sessions: &mut [SessionRecord],
    present_only: bool,
) -> StoreResult<()> {
    if sessions.is_empty() {
        return Ok(());
    }
    let mut select = Select::new("SELECT * FROM session_peers WHERE session_id");
    select.bind_in(sessions.iter().map(|session| session.id.clone()));
    if present_only {
        select.push(" AND left_ns IS NULL");
    }
    select.push(" ORDER BY joined_ns, id");
    for peer in select.all(connection, |row| session_peer_from(row))? {
        if let Some(session) = sessions.iter_mut().find(|s| s.id == peer.session_id) {
            session.peers.push(peer);
        }
    }
    Ok(())
}

/// The webhook deliveries `filter` selects, with `head` before the conditions.
pub(super) fn deliveries(head: &str, workspace_id: &str, filter: &DeliveryFilter) -> Select {
    let mut select = Select::new(head);
    select.bind(" WHERE d.workspace_id = ?", workspace_id.to_owned());
    if let Some(from) = filter.created_from {
        select.bind(" AND d.created_ns >= ?", nanos(from));
    }
    if let Some(to) = filter.created_to {
        select.bind(" AND d.created_ns <= ?", nanos(to));
    }
    if let Some(room_id) = &filter.room_id {
        select.bind(" AND d.room_id = ?", room_id.clone());
    }
    if filter.originals_only {
        select.push(" AND d.replay_id IS NULL");
    }
    if !filter.states.is_empty() {
        select
            .push(" AND d.state")
            .bind_in(filter.states.iter().map(|state| state.as_str().to_owned()));
    }
    if !filter.kinds.is_empty() {
        select.push(" AND e.kind").bind_in(filter.kinds.iter().cloned());
    }
    select
}

/// A page of `deliveries`, newest first.
pub(super) fn deliveries_page(mut deliveries: Select, offset: u64, limit: u32) -> Select {
    deliveries
        .bind(" ORDER BY d.id DESC LIMIT ?", i64::from(limit))
        .bind(" OFFSET ?", i64::try_from(offset).unwrap_or(i64::MAX));
    deliveries
}
