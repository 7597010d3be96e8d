//! Idempotency keys on SQLite. The single writer connection runs each statement alone,
//! so the conditional upsert of a claim needs no further locking.

use sqlx::{Row, SqlitePool};

use crate::StoreResult;
use crate::idempotency::{ClaimOutcome, IdempotencyClaim, StoredResponse};

pub(super) async fn claim(writer: &SqlitePool, claim: &IdempotencyClaim) -> StoreResult<ClaimOutcome> {
    // A row deleted between the upsert and the read (purged as expired) is claimed again.
    loop {
        let inserted = sqlx::query(
            "INSERT INTO idempotency_keys \
               (workspace_id, key, fingerprint, claim, locked_until_ms, expires_at_ms, status, content_type, body) \
             VALUES (?, ?, ?, ?, ?, ?, NULL, NULL, NULL) \
             ON CONFLICT (workspace_id, key) DO UPDATE SET \
               fingerprint = excluded.fingerprint, claim = excluded.claim, \
               locked_until_ms = excluded.locked_until_ms, expires_at_ms = excluded.expires_at_ms, \
               status = NULL, content_type = NULL, body = NULL \
             WHERE idempotency_keys.expires_at_ms <= ? \
                OR (idempotency_keys.status IS NULL AND idempotency_keys.locked_until_ms <= ?) \
             RETURNING claim",
        )
        .bind(&claim.workspace_id)
        .bind(&claim.key)
        .bind(&claim.fingerprint)
        .bind(&claim.claim)
        .bind(claim.locked_until.unix_millis())
        .bind(claim.expires_at.unix_millis())
        .bind(claim.now.unix_millis())
        .bind(claim.now.unix_millis())
        .fetch_optional(writer)
        .await?;
        if inserted.is_some() {
            return Ok(ClaimOutcome::Claimed);
        }
        let row = sqlx::query(
            "SELECT fingerprint, status, content_type, body FROM idempotency_keys \
             WHERE workspace_id = ? AND key = ?",
        )
        .bind(&claim.workspace_id)
        .bind(&claim.key)
        .fetch_optional(writer)
        .await?;
        if let Some(row) = row {
            let status: Option<i64> = row.try_get("status")?;
            return Ok(ClaimOutcome::Taken {
                fingerprint: row.try_get("fingerprint")?,
                response: match status {
                    None => None,
                    Some(status) => Some(StoredResponse {
                        status: u16::try_from(status).unwrap_or(500),
                        content_type: row.try_get("content_type")?,
                        body: row.try_get::<Option<Vec<u8>>, _>("body")?.unwrap_or_default(),
                    }),
                },
            });
        }
    }
}

pub(super) async fn finish(
    writer: &SqlitePool,
    workspace_id: &str,
    key: &str,
    claim: &str,
    response: &StoredResponse,
) -> StoreResult<bool> {
    let done = sqlx::query(
        "UPDATE idempotency_keys SET status = ?, content_type = ?, body = ? \
         WHERE workspace_id = ? AND key = ? AND claim = ? AND status IS NULL",
    )
    .bind(i64::from(response.status))
    .bind(&response.content_type)
    .bind(&response.body)
    .bind(workspace_id)
    .bind(key)
    .bind(claim)
    .execute(writer)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub(super) async fn release(writer: &SqlitePool, workspace_id: &str, key: &str, claim: &str) -> StoreResult<()> {
    sqlx::query("DELETE FROM idempotency_keys WHERE workspace_id = ? AND key = ? AND claim = ? AND status IS NULL")
        .bind(workspace_id)
        .bind(key)
        .bind(claim)
        .execute(writer)
        .await?;
    Ok(())
}

/// Deletes up to `limit` expired keys, so that one purge never holds the writer long.
pub(super) async fn purge(writer: &SqlitePool, now: hms_types::Timestamp, limit: u32) -> StoreResult<u64> {
    let purged = sqlx::query(
        "DELETE FROM idempotency_keys WHERE (workspace_id, key) IN \
           (SELECT workspace_id, key FROM idempotency_keys WHERE expires_at_ms <= ? LIMIT ?)",
    )
    .bind(now.unix_millis())
    .bind(i64::from(limit))
    .execute(writer)
    .await?;
    Ok(purged.rows_affected())
}
