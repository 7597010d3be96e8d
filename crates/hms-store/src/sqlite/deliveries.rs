//! The webhook delivery queue. The single writer commits events in seq order, so a cursor
//! (`webhook_planner.last_seq`) tells which are planned; claims, attempts and replays are
//! each one write transaction, run one at a time.

use std::sync::Arc;

use hms_types::PreciseTime;
use sqlx::{QueryBuilder, Sqlite, SqlitePool, Transaction};

use super::begin;
use super::lists;
use super::point_reads::{PointReads, off_thread, snapshot};
use crate::codec::*;
use crate::records::*;
use crate::{StoreError, StoreResult, rules};

pub(super) async fn unplanned_events(reader: &SqlitePool, limit: u32) -> StoreResult<Vec<LoggedEvent>> {
    sqlx::query(
        "SELECT * FROM events WHERE seq > (SELECT last_seq FROM webhook_planner WHERE id = 1) \
         ORDER BY seq LIMIT ?",
    )
    .bind(i64::from(limit))
    .fetch_all(reader)
    .await?
    .iter()
    .map(logged_event_from)
    .collect()
}

pub(super) async fn plan(writer: &SqlitePool, planned: &[i64], deliveries: &[NewDelivery]) -> StoreResult<()> {
    let (Some(first), Some(last)) = (planned.iter().min(), planned.iter().max()) else {
        return Ok(());
    };
    let mut tx = begin(writer).await?;
    // `planned` followed the cursor: a planner that moved it since planned `first` too.
    let moved = sqlx::query("UPDATE webhook_planner SET last_seq = ? WHERE id = 1 AND last_seq < ?")
        .bind(last)
        .bind(first)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if moved == 0 {
        return Err(StoreError::Stale);
    }
    insert_deliveries_in(&mut tx, deliveries).await?;
    tx.commit().await?;
    Ok(())
}

/// Inserts deliveries in the order given, which is the order of their lanes: ids grow in
/// insertion order.
async fn insert_deliveries_in(tx: &mut Transaction<'static, Sqlite>, deliveries: &[NewDelivery]) -> StoreResult<()> {
    for delivery in deliveries {
        let NewDelivery {
            event_seq,
            workspace_id,
            room_id,
            url,
            headers,
            replay_id,
            next_attempt_at,
            deadline,
            created_at,
        } = delivery;
        sqlx::query(
            "INSERT INTO webhook_deliveries (event_seq, workspace_id, room_id, url, headers, replay_id, lane, state, \
             attempts, next_attempt_ns, lease_until_ns, deadline_ns, created_ns) \
             VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, 0, ?, ?)",
        )
        .bind(event_seq)
        .bind(workspace_id)
        .bind(room_id)
        .bind(url)
        .bind(to_json(headers))
        .bind(replay_id)
        .bind(rules::lane(delivery))
        .bind(nanos(*next_attempt_at))
        .bind(nanos(*deadline))
        .bind(nanos(*created_at))
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

pub(super) async fn claim(
    writer: &SqlitePool,
    now: PreciseTime,
    lease_until: PreciseTime,
    limit: u32,
    per_url: u32,
    busy_urls: &[String],
) -> StoreResult<Vec<DeliveryRecord>> {
    let mut tx = begin(writer).await?;
    // The heads of the lanes that are due, ranked within their endpoint, so that one
    // endpoint with a large backlog cannot take every slot of a claim.
    let mut heads = QueryBuilder::<Sqlite>::new(
        "SELECT id FROM (SELECT d.id, d.next_attempt_ns, \
         ROW_NUMBER() OVER (PARTITION BY d.url ORDER BY d.next_attempt_ns, d.id) AS rank \
         FROM webhook_deliveries d WHERE d.state = 'pending' AND d.next_attempt_ns <= ",
    );
    heads.push_bind(nanos(now)).push(" AND d.lease_until_ns <= ").push_bind(nanos(now)).push(
        " AND d.id = (SELECT MIN(q.id) FROM webhook_deliveries q WHERE q.lane = d.lane AND q.state = 'pending')",
    );
    if !busy_urls.is_empty() {
        heads.push(" AND d.url NOT IN ");
        push_list(&mut heads, busy_urls);
    }
    heads.push(") WHERE rank <= ").push_bind(i64::from(per_url));
    heads
        .push(" ORDER BY next_attempt_ns, id LIMIT ")
        .push_bind(i64::from(limit));
    let ids: Vec<i64> = heads.build_query_scalar().fetch_all(&mut *tx).await?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut lease = QueryBuilder::<Sqlite>::new("UPDATE webhook_deliveries SET lease_until_ns = ");
    lease.push_bind(nanos(lease_until)).push(" WHERE id IN ");
    push_list(&mut lease, &ids);
    lease.build().execute(&mut *tx).await?;
    let mut select = QueryBuilder::<Sqlite>::new(DELIVERY_SELECT);
    select.push(" WHERE d.id IN ");
    push_list(&mut select, &ids);
    select.push(" ORDER BY d.id");
    let claimed = select
        .build()
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(delivery_from)
        .collect::<StoreResult<Vec<_>>>()?;
    tx.commit().await?;
    Ok(claimed)
}

/// Appends `(?, …)` binding each of `values`; SQLite has no arrays to bind as one.
fn push_list<T>(query: &mut QueryBuilder<Sqlite>, values: &[T])
where
    for<'t> &'t T: sqlx::Encode<'t, Sqlite> + sqlx::Type<Sqlite>,
{
    query.push("(");
    let mut list = query.separated(", ");
    for value in values {
        list.push_bind(value);
    }
    query.push(")");
}

pub(super) async fn finish_attempt(
    writer: &SqlitePool,
    delivery_id: i64,
    outcome: &AttemptOutcome,
    now: PreciseTime,
) -> StoreResult<()> {
    let rules::AttemptUpdate {
        state,
        last_status,
        last_error,
        next_attempt_ns,
        finished_ns,
    } = rules::attempt_update(outcome, now);
    sqlx::query(
        "UPDATE webhook_deliveries SET state = ?, attempts = attempts + 1, last_status = ?, last_error = ?, \
         next_attempt_ns = COALESCE(?, next_attempt_ns), lease_until_ns = 0, finished_ns = ? \
         WHERE id = ? AND state = 'pending'",
    )
    .bind(state.as_str())
    .bind(last_status)
    .bind(last_error)
    .bind(next_attempt_ns)
    .bind(finished_ns)
    .bind(delivery_id)
    .execute(writer)
    .await?;
    Ok(())
}

pub(super) async fn release(writer: &SqlitePool, delivery_ids: &[i64]) -> StoreResult<()> {
    if delivery_ids.is_empty() {
        return Ok(());
    }
    let mut release = QueryBuilder::<Sqlite>::new("UPDATE webhook_deliveries SET lease_until_ns = 0 WHERE id IN ");
    push_list(&mut release, delivery_ids);
    release.push(" AND state = 'pending'");
    release.build().execute(writer).await?;
    Ok(())
}

pub(super) async fn history(
    point_reads: &Arc<PointReads>,
    workspace_id: &str,
    filter: &DeliveryFilter,
    offset: u64,
    limit: u32,
) -> StoreResult<(Vec<DeliveryRecord>, u64)> {
    let count = lists::deliveries(DELIVERY_COUNT, workspace_id, filter);
    let page = lists::deliveries_page(lists::deliveries(DELIVERY_SELECT, workspace_id, filter), offset, limit);
    // The page and its total from one snapshot, so that they agree.
    off_thread(point_reads, move |c| {
        snapshot(c, || {
            let total = count.count(c)?;
            let records = page.all(c, |row| delivery_from(row))?;
            Ok((records, u64::try_from(total).unwrap_or(0)))
        })
    })
    .await
}

/// Looks for a running replay in the write transaction, not on a reader: writes run one at
/// a time, so this sees the replay of an identical request that came just before.
pub(super) async fn create_replay(
    writer: &SqlitePool,
    replay: &ReplayRecord,
    deliveries: &[NewDelivery],
) -> StoreResult<ReplayStart> {
    let ReplayRecord {
        id,
        workspace_id,
        request_key,
        filters,
        started_at,
    } = replay;
    let mut tx = begin(writer).await?;
    let running = sqlx::query(RUNNING_REPLAY)
        .bind(workspace_id)
        .bind(request_key)
        .fetch_optional(&mut *tx)
        .await?;
    if let Some(running) = running {
        return Ok(ReplayStart::AlreadyRunning(replay_from(&running)?));
    }
    sqlx::query(
        "INSERT INTO webhook_replays (id, workspace_id, request_key, filters, started_ns) VALUES (?, ?, ?, ?, ?)",
    )
    .bind(id)
    .bind(workspace_id)
    .bind(request_key)
    .bind(filters)
    .bind(nanos(*started_at))
    .execute(&mut *tx)
    .await
    .map_err(|e| unique_violation(e, rules::REPLAY_TAKEN))?;
    insert_deliveries_in(&mut tx, deliveries).await?;
    tx.commit().await?;
    Ok(ReplayStart::Started)
}

pub(super) async fn replay(
    reader: &SqlitePool,
    workspace_id: &str,
    id: &str,
) -> StoreResult<Option<(ReplayRecord, ReplayProgress)>> {
    // One snapshot, so that the counts and the failures agree.
    let mut tx = reader.begin().await?;
    let row = sqlx::query("SELECT * FROM webhook_replays WHERE workspace_id = ? AND id = ?")
        .bind(workspace_id)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let replay = replay_from(&row)?;
    let counts = sqlx::query(
        "SELECT COUNT(*) AS total, \
         COALESCE(SUM(CASE WHEN state = 'delivered' THEN 1 ELSE 0 END), 0) AS delivered, \
         COALESCE(SUM(CASE WHEN state = 'failed' THEN 1 ELSE 0 END), 0) AS failed, \
         MAX(finished_ns) AS finished FROM webhook_deliveries WHERE replay_id = ?",
    )
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    let failed_event_ids: Vec<String> = sqlx::query_scalar(
        "SELECT e.id FROM webhook_deliveries d JOIN events e ON e.seq = d.event_seq \
         WHERE d.replay_id = ? AND d.state = 'failed' ORDER BY d.id",
    )
    .bind(id)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let progress = replay_progress_from(&counts, &replay, failed_event_ids)?;
    Ok(Some((replay, progress)))
}
