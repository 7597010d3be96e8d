//! The webhook delivery queue, planned and worked by every process at once.
//!
//! Planning. An event is queued in `webhook_unplanned` by the transaction that logs it, so
//! it becomes plannable exactly when it becomes visible, whatever its seq. A planner reads
//! the queue in seq order and then, in one transaction, takes it off the queue and inserts
//! its deliveries. Planning transactions hold an advisory lock, so they run one at a time:
//! the deliveries of a later plan always get higher ids, which keeps each lane in planning
//! order, and a planner whose events another one planned meanwhile finds them gone from the
//! queue and answers `Stale` without writing anything.
//!
//! Claiming. Which deliveries are claimable is a property of sets of rows — the first
//! pending delivery of its lane, and at most `per_url` per endpoint — that row locks
//! cannot express: `FOR UPDATE SKIP LOCKED` does not combine with the window that ranks an
//! endpoint's deliveries, and a claimer that skipped a row another one is leasing could
//! take the next row of that lane. So claims, too, take an advisory lock: each one runs
//! alone and sees every lease committed before it. A claim is one short statement per
//! poll and process, so serialising them costs nothing that matters.

use sqlx::postgres::PgPool;
use sqlx::{Postgres, QueryBuilder, Transaction};

use super::read_snapshot;
use crate::codec::*;
use crate::records::*;
use crate::{StoreError, StoreResult, shared};

/// Keys of the transaction-level advisory locks (`pg_advisory_xact_lock`), which are
/// released by commit or rollback and cannot leak. They only need to differ from other
/// applications' keys in the same database: these spell "ohms" and "plan" or "clam".
const PLANNER_LOCK: i64 = 0x6f68_6d73_706c_616e;
const CLAIM_LOCK: i64 = 0x6f68_6d73_636c_616d;

/// First key of the transaction-level advisory locks on replay requests ("rply"); the
/// second is a hash of the workspace id and the request key. It differs from the first key
/// of the event logs' locks, and two-int keys never meet the one-bigint keys above. Two
/// requests whose hashes collide only wait for each other.
const REPLAY_LOCK: i32 = 0x7270_6c79;

/// Waits until no other transaction holds `key`, and holds it until this one ends. It
/// must be a statement of its own: a statement sees what was committed when it started,
/// so only the statements after the wait see what the previous holder wrote.
async fn lock(tx: &mut Transaction<'static, Postgres>, key: i64) -> StoreResult<()> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(key)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub(super) async fn unplanned_events(pool: &PgPool, limit: u32) -> StoreResult<Vec<LoggedEvent>> {
    sqlx::query("SELECT e.* FROM webhook_unplanned u JOIN events e ON e.seq = u.seq ORDER BY u.seq LIMIT $1")
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await?
        .decoded(logged_event_from)
}

pub(super) async fn plan(pool: &PgPool, planned: &[i64], deliveries: &[NewDelivery]) -> StoreResult<()> {
    if planned.is_empty() {
        return Ok(());
    }
    let mut tx = pool.begin().await?;
    lock(&mut tx, PLANNER_LOCK).await?;
    let taken = sqlx::query("DELETE FROM webhook_unplanned WHERE seq = ANY($1)")
        .bind(planned)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if taken != planned.len() as u64 {
        return Err(StoreError::Stale);
    }
    shared::deliveries::insert(&mut tx, deliveries).await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn claim(pool: &PgPool, claim: &DeliveryClaim<'_>) -> StoreResult<Vec<DeliveryRecord>> {
    let mut tx = pool.begin().await?;
    lock(&mut tx, CLAIM_LOCK).await?;
    // The heads of the lanes that are due, ranked within their endpoint, so that one
    // endpoint with a large backlog cannot take every slot of a claim. The lease re-checks
    // the state: a delivery finished meanwhile by a sender whose lease had run out is not
    // sent again.
    let claimed = sqlx::query(sqlx::AssertSqlSafe(format!(
        "WITH heads AS (SELECT id FROM (SELECT d.id, d.next_attempt_ns, \
         ROW_NUMBER() OVER (PARTITION BY d.url ORDER BY d.next_attempt_ns, d.id) AS rank \
         FROM webhook_deliveries d WHERE d.state = 'pending' AND d.next_attempt_ns <= $1 \
         AND d.lease_until_ns <= $1 AND d.url <> ALL($2) \
         AND d.id = (SELECT MIN(q.id) FROM webhook_deliveries q WHERE q.lane = d.lane AND q.state = 'pending')) \
         ranked WHERE rank <= $3 ORDER BY next_attempt_ns, id LIMIT $4), \
         leased AS (UPDATE webhook_deliveries SET lease_until_ns = $5 \
         WHERE id IN (SELECT id FROM heads) AND state = 'pending' RETURNING id) \
         {DELIVERY_SELECT} WHERE d.id IN (SELECT id FROM leased) ORDER BY d.id"
    )))
    .bind(nanos(claim.now))
    .bind(claim.busy_urls)
    .bind(i64::from(claim.per_url))
    .bind(i64::from(claim.limit))
    .bind(nanos(claim.lease_until))
    .fetch_all(&mut *tx)
    .await?
    .decoded(delivery_from)?;
    tx.commit().await?;
    Ok(claimed)
}

pub(super) async fn release(pool: &PgPool, delivery_ids: &[i64]) -> StoreResult<()> {
    if delivery_ids.is_empty() {
        return Ok(());
    }
    sqlx::query("UPDATE webhook_deliveries SET lease_until_ns = 0 WHERE id = ANY($1) AND state = 'pending'")
        .bind(delivery_ids)
        .execute(pool)
        .await?;
    Ok(())
}

fn push_delivery_filter(query: &mut QueryBuilder<Postgres>, workspace_id: &str, filter: &DeliveryFilter) {
    query
        .push(" WHERE d.workspace_id = ")
        .push_bind(workspace_id.to_owned());
    if let Some(from) = filter.created_from {
        query.push(" AND d.created_ns >= ").push_bind(nanos(from));
    }
    if let Some(to) = filter.created_to {
        query.push(" AND d.created_ns <= ").push_bind(nanos(to));
    }
    if let Some(room_id) = &filter.room_id {
        query.push(" AND d.room_id = ").push_bind(room_id.clone());
    }
    if filter.originals_only {
        query.push(" AND d.replay_id IS NULL");
    }
    if !filter.states.is_empty() {
        let states: Vec<&str> = filter.states.iter().map(|state| state.as_str()).collect();
        query.push(" AND d.state = ANY(").push_bind(states).push(")");
    }
    if !filter.kinds.is_empty() {
        query
            .push(" AND e.kind = ANY(")
            .push_bind(filter.kinds.clone())
            .push(")");
    }
}

pub(super) async fn history(
    pool: &PgPool,
    workspace_id: &str,
    filter: &DeliveryFilter,
    offset: u64,
    limit: u32,
) -> StoreResult<(Vec<DeliveryRecord>, u64)> {
    let mut count = QueryBuilder::<Postgres>::new(DELIVERY_COUNT);
    push_delivery_filter(&mut count, workspace_id, filter);
    let mut page = QueryBuilder::<Postgres>::new(DELIVERY_SELECT);
    push_delivery_filter(&mut page, workspace_id, filter);
    page.push(" ORDER BY d.id DESC LIMIT ")
        .push_bind(i64::from(limit))
        .push(" OFFSET ")
        .push_bind(i64::try_from(offset).unwrap_or(i64::MAX));
    // The page and its total from one snapshot, so that they agree.
    let mut tx = read_snapshot(pool).await?;
    let total: i64 = count.build_query_scalar().fetch_one(&mut *tx).await?;
    let records = page.build().fetch_all(&mut *tx).await?.decoded(delivery_from)?;
    tx.commit().await?;
    Ok((records, u64::try_from(total).unwrap_or(0)))
}

pub(super) async fn create_replay(
    pool: &PgPool,
    replay: &ReplayRecord,
    deliveries: &[NewDelivery],
) -> StoreResult<ReplayStart> {
    let mut tx = pool.begin().await?;
    // Under READ COMMITTED two transactions could both find no running replay and both
    // insert one. The lock makes identical requests check one at a time, and, taken in a
    // statement of its own (see `lock`), lets the check see what the previous holder wrote.
    sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2 || ' ' || $3))")
        .bind(REPLAY_LOCK)
        .bind(&replay.workspace_id)
        .bind(&replay.request_key)
        .execute(&mut *tx)
        .await?;
    let start = shared::deliveries::create_replay(&mut tx, replay, deliveries).await?;
    tx.commit().await?;
    Ok(start)
}

pub(super) async fn replay(
    pool: &PgPool,
    workspace_id: &str,
    id: &str,
) -> StoreResult<Option<(ReplayRecord, ReplayProgress)>> {
    let mut snapshot = read_snapshot(pool).await?;
    let replay = shared::deliveries::replay(&mut snapshot, workspace_id, id).await?;
    snapshot.commit().await?;
    Ok(replay)
}
