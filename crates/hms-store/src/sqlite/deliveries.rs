//! The webhook delivery queue. The single writer commits events in seq order, so a cursor
//! (`webhook_planner.last_seq`) tells which are planned; claims, attempts and replays are
//! each one write transaction, run one at a time. The statements both stores run are in
//! `shared::deliveries`.

use std::sync::Arc;

use sqlx::{QueryBuilder, Sqlite, SqlitePool};

use super::begin;
use super::lists;
use super::point_reads::{PointReads, off_thread, snapshot};
use crate::codec::*;
use crate::records::*;
use crate::{StoreError, StoreResult, shared};

pub(super) async fn unplanned_events(reader: &SqlitePool, limit: u32) -> StoreResult<Vec<LoggedEvent>> {
    sqlx::query(
        "SELECT * FROM events WHERE seq > (SELECT last_seq FROM webhook_planner WHERE id = 1) \
         ORDER BY seq LIMIT ?",
    )
    .bind(i64::from(limit))
    .fetch_all(reader)
    .await?
    .decoded(logged_event_from)
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
    shared::deliveries::insert(&mut tx, deliveries).await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn claim(writer: &SqlitePool, claim: &DeliveryClaim<'_>) -> StoreResult<Vec<DeliveryRecord>> {
    let mut tx = begin(writer).await?;
    // The heads of the lanes that are due, ranked within their endpoint, so that one
    // endpoint with a large backlog cannot take every slot of a claim.
    let mut heads = QueryBuilder::<Sqlite>::new(
        "SELECT id FROM (SELECT d.id, d.next_attempt_ns, \
         ROW_NUMBER() OVER (PARTITION BY d.url ORDER BY d.next_attempt_ns, d.id) AS rank \
         FROM webhook_deliveries d WHERE d.state = 'pending' AND d.next_attempt_ns <= ",
    );
    heads
        .push_bind(nanos(claim.now))
        .push(" AND d.lease_until_ns <= ")
        .push_bind(nanos(claim.now))
        .push(" AND d.id = (SELECT MIN(q.id) FROM webhook_deliveries q WHERE q.lane = d.lane AND q.state = 'pending')");
    if !claim.busy_urls.is_empty() {
        heads.push(" AND d.url NOT IN ");
        push_list(&mut heads, claim.busy_urls);
    }
    heads.push(") WHERE rank <= ").push_bind(i64::from(claim.per_url));
    heads
        .push(" ORDER BY next_attempt_ns, id LIMIT ")
        .push_bind(i64::from(claim.limit));
    let ids: Vec<i64> = heads.build_query_scalar().fetch_all(&mut *tx).await?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut lease = QueryBuilder::<Sqlite>::new("UPDATE webhook_deliveries SET lease_until_ns = ");
    lease.push_bind(nanos(claim.lease_until)).push(" WHERE id IN ");
    push_list(&mut lease, &ids);
    lease.build().execute(&mut *tx).await?;
    let mut select = QueryBuilder::<Sqlite>::new(DELIVERY_SELECT);
    select.push(" WHERE d.id IN ");
    push_list(&mut select, &ids);
    select.push(" ORDER BY d.id");
    let claimed = select.build().fetch_all(&mut *tx).await?.decoded(delivery_from)?;
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
    let mut tx = begin(writer).await?;
    let start = shared::deliveries::create_replay(&mut tx, replay, deliveries).await?;
    tx.commit().await?;
    Ok(start)
}

pub(super) async fn replay(
    reader: &SqlitePool,
    workspace_id: &str,
    id: &str,
) -> StoreResult<Option<(ReplayRecord, ReplayProgress)>> {
    let mut snapshot = reader.begin().await?;
    let replay = shared::deliveries::replay(&mut snapshot, workspace_id, id).await?;
    snapshot.commit().await?;
    Ok(replay)
}
