//! The webhook delivery queue: what planning, attempts and replays write, and what a
//! replay's progress reads.

use hms_types::PreciseTime;
use sqlx::{Executor, Transaction};

use crate::backend::{Backend, BindParam};
use crate::codec::*;
use crate::records::*;
use crate::{StoreResult, rules};

/// Inserts deliveries in the order given, which is the order of their lanes: ids grow in
/// insertion order.
pub(crate) async fn insert<DB: Backend>(tx: &mut Transaction<'_, DB>, deliveries: &[NewDelivery]) -> StoreResult<()> {
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
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', 0, $8, 0, $9, $10)",
        )
        .param(*event_seq)
        .param(workspace_id)
        .param(room_id)
        .param(url)
        .param(to_json(headers))
        .param(replay_id)
        .param(rules::lane(delivery))
        .param(nanos(*next_attempt_at))
        .param(nanos(*deadline))
        .param(nanos(*created_at))
        .execute(DB::on(tx))
        .await?;
    }
    Ok(())
}

pub(crate) async fn finish_attempt<'c, DB: Backend>(
    db: impl Executor<'c, Database = DB>,
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
        "UPDATE webhook_deliveries SET state = $1, attempts = attempts + 1, last_status = $2, last_error = $3, \
         next_attempt_ns = COALESCE($4, next_attempt_ns), lease_until_ns = 0, finished_ns = $5 \
         WHERE id = $6 AND state = 'pending'",
    )
    .param(state.as_str())
    .param(last_status)
    .param(last_error)
    .param(next_attempt_ns)
    .param(finished_ns)
    .param(delivery_id)
    .execute(db)
    .await?;
    Ok(())
}

/// Creates a replay with its deliveries unless one made from the same request is still
/// running. The caller is the only one creating replays of that request until it ends.
pub(crate) async fn create_replay<DB: Backend>(
    tx: &mut Transaction<'_, DB>,
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
    let running = sqlx::query(
        "SELECT r.* FROM webhook_replays r WHERE r.workspace_id = $1 AND r.request_key = $2 AND EXISTS \
         (SELECT 1 FROM webhook_deliveries d WHERE d.replay_id = r.id AND d.state = 'pending') LIMIT 1",
    )
    .param(workspace_id)
    .param(request_key)
    .fetch_optional(DB::on(tx))
    .await?;
    if let Some(running) = running {
        return Ok(ReplayStart::AlreadyRunning(replay_from(&running)?));
    }
    sqlx::query(
        "INSERT INTO webhook_replays (id, workspace_id, request_key, filters, started_ns) VALUES ($1, $2, $3, $4, $5)",
    )
    .param(id)
    .param(workspace_id)
    .param(request_key)
    .param(filters)
    .param(nanos(*started_at))
    .execute(DB::on(tx))
    .await
    .map_err(|e| unique_violation(e, rules::REPLAY_TAKEN))?;
    insert(tx, deliveries).await?;
    Ok(ReplayStart::Started)
}

/// A replay with its progress, from `tx`, which the caller makes one snapshot, so
/// that the counts and the failures agree.
pub(crate) async fn replay<DB: Backend>(
    tx: &mut Transaction<'_, DB>,
    workspace_id: &str,
    id: &str,
) -> StoreResult<Option<(ReplayRecord, ReplayProgress)>> {
    let row = sqlx::query("SELECT * FROM webhook_replays WHERE workspace_id = $1 AND id = $2")
        .param(workspace_id)
        .param(id)
        .fetch_optional(DB::on(tx))
        .await?;
    let Some(row) = row else { return Ok(None) };
    let replay = replay_from(&row)?;
    let counts = sqlx::query(
        "SELECT COUNT(*) AS total, \
         COALESCE(SUM(CASE WHEN state = 'delivered' THEN 1 ELSE 0 END), 0) AS delivered, \
         COALESCE(SUM(CASE WHEN state = 'failed' THEN 1 ELSE 0 END), 0) AS failed, \
         MAX(finished_ns) AS finished FROM webhook_deliveries WHERE replay_id = $1",
    )
    .param(id)
    .fetch_one(DB::on(tx))
    .await?;
    let failed = sqlx::query(
        "SELECT e.id FROM webhook_deliveries d JOIN events e ON e.seq = d.event_seq \
         WHERE d.replay_id = $1 AND d.state = 'failed' ORDER BY d.id",
    )
    .param(id)
    .fetch_all(DB::on(tx))
    .await?;
    let failed_event_ids = failed.iter().map(|row| row.get("id")).collect::<StoreResult<_>>()?;
    let progress = replay_progress_from(&counts, &replay, failed_event_ids)?;
    Ok(Some((replay, progress)))
}
