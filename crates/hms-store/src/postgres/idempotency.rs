//! Idempotency keys on PostgreSQL. A claim is one conditional upsert: the primary key
//! and the row lock the upsert takes make exactly one of several concurrent claims of a
//! key win, whichever nodes they come from.

use sqlx::PgPool;

use crate::StoreResult;
use crate::idempotency::*;

pub(super) async fn claim(pool: &PgPool, claim: &IdempotencyClaim) -> StoreResult<ClaimOutcome> {
    let IdempotencyClaim {
        workspace_id,
        key,
        fingerprint,
        claim,
        now,
        locked_until,
        expires_at,
    } = claim;
    // A row deleted between the upsert and the read (purged as expired) is claimed again.
    loop {
        let claimed = sqlx::query(CLAIM_KEY)
            .bind(workspace_id)
            .bind(key)
            .bind(fingerprint)
            .bind(claim)
            .bind(locked_until.unix_millis())
            .bind(expires_at.unix_millis())
            .bind(now.unix_millis())
            .fetch_optional(pool)
            .await?;
        if claimed.is_some() {
            return Ok(ClaimOutcome::Claimed);
        }
        let holding = sqlx::query(HOLDING_CLAIM)
            .bind(workspace_id)
            .bind(key)
            .fetch_optional(pool)
            .await?;
        if let Some(row) = holding {
            return taken_from(&row);
        }
    }
}

pub(super) async fn finish(
    pool: &PgPool,
    workspace_id: &str,
    key: &str,
    claim: &str,
    response: &StoredResponse,
) -> StoreResult<bool> {
    let StoredResponse {
        status,
        content_type,
        body,
    } = response;
    let done = sqlx::query(FINISH_KEY)
        .bind(i32::from(*status))
        .bind(content_type)
        .bind(body)
        .bind(workspace_id)
        .bind(key)
        .bind(claim)
        .execute(pool)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub(super) async fn release(pool: &PgPool, workspace_id: &str, key: &str, claim: &str) -> StoreResult<()> {
    sqlx::query(RELEASE_KEY)
        .bind(workspace_id)
        .bind(key)
        .bind(claim)
        .execute(pool)
        .await?;
    Ok(())
}

pub(super) async fn purge(pool: &PgPool, now: hms_types::Timestamp, limit: u32) -> StoreResult<u64> {
    let purged = sqlx::query(PURGE_KEYS)
        .bind(now.unix_millis())
        .bind(i64::from(limit))
        .execute(pool)
        .await?;
    Ok(purged.rows_affected())
}
