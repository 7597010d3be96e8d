//! What the store keeps of idempotent requests (the `Idempotency-Key` header).

use hms_types::Timestamp;

use sqlx::Executor;

use crate::StoreResult;
use crate::backend::{Backend, BindParam};
use crate::codec::Columns;

/// A request asking to claim its idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyClaim {
    pub workspace_id: String,
    pub key: String,
    /// Hash of the request (method, path and body): the same key with another
    /// fingerprint is another request.
    pub fingerprint: String,
    /// Names this claim, so that only its holder stores the response or gives it up.
    pub claim: String,
    pub now: Timestamp,
    /// Until when the claim holds while the request runs; a claim left by a process that
    /// died is taken over after it.
    pub locked_until: Timestamp,
    /// Until when the key answers the stored response.
    pub expires_at: Timestamp,
}

/// The response stored for a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

/// What claiming a key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// The key was free (or expired, or abandoned): the caller runs the request.
    Claimed,
    /// The key is held by a request with `fingerprint`: finished with `response`, or
    /// still running when `response` is `None`.
    Taken {
        fingerprint: String,
        response: Option<StoredResponse>,
    },
}

// Idempotency keys are the same on both backends: a claim is one conditional upsert. The
// single writer of SQLite runs it alone; on PostgreSQL the primary key and the row lock
// the upsert takes make exactly one of several concurrent claims of a key win, whichever
// nodes they come from.

/// Claims a key for a request (see `Store::claim_idempotency_key`) on `db`, a pool.
pub(crate) async fn claim<'c, DB: Backend>(
    db: impl Executor<'c, Database = DB> + Copy,
    claim: &IdempotencyClaim,
) -> StoreResult<ClaimOutcome> {
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
            .param(workspace_id)
            .param(key)
            .param(fingerprint)
            .param(claim)
            .param(locked_until.unix_millis())
            .param(expires_at.unix_millis())
            .param(now.unix_millis())
            .fetch_optional(db)
            .await?;
        if claimed.is_some() {
            return Ok(ClaimOutcome::Claimed);
        }
        let holding = sqlx::query(HOLDING_CLAIM)
            .param(workspace_id)
            .param(key)
            .fetch_optional(db)
            .await?;
        if let Some(row) = holding {
            return taken_from(&row);
        }
    }
}

/// Stores the response of the request holding `claim`; false when the claim was lost.
pub(crate) async fn finish<'c, DB: Backend>(
    db: impl Executor<'c, Database = DB>,
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
        .param(i64::from(*status))
        .param(content_type)
        .param(body)
        .param(workspace_id)
        .param(key)
        .param(claim)
        .execute(db)
        .await?;
    Ok(DB::rows_affected(&done) == 1)
}

pub(crate) async fn release<'c, DB: Backend>(
    db: impl Executor<'c, Database = DB>,
    workspace_id: &str,
    key: &str,
    claim: &str,
) -> StoreResult<()> {
    sqlx::query(RELEASE_KEY)
        .param(workspace_id)
        .param(key)
        .param(claim)
        .execute(db)
        .await?;
    Ok(())
}

pub(crate) async fn purge<'c, DB: Backend>(
    db: impl Executor<'c, Database = DB>,
    now: Timestamp,
    limit: u32,
) -> StoreResult<u64> {
    let purged = sqlx::query(PURGE_KEYS)
        .param(now.unix_millis())
        .param(i64::from(limit))
        .execute(db)
        .await?;
    Ok(DB::rows_affected(&purged))
}

/// Claims key `$2` of workspace `$1` for fingerprint `$3` and claim `$4`, locked until `$5`
/// and kept until `$6`, unless a live claim holds it at `$7`: an expired key, or one whose
/// request has stored no response by its lock's end, is claimed afresh. Answers a row
/// when claimed.
const CLAIM_KEY: &str = "INSERT INTO idempotency_keys \
       (workspace_id, key, fingerprint, claim, locked_until_ms, expires_at_ms, status, content_type, body) \
     VALUES ($1, $2, $3, $4, $5, $6, NULL, NULL, NULL) \
     ON CONFLICT (workspace_id, key) DO UPDATE SET \
       fingerprint = excluded.fingerprint, claim = excluded.claim, \
       locked_until_ms = excluded.locked_until_ms, expires_at_ms = excluded.expires_at_ms, \
       status = NULL, content_type = NULL, body = NULL \
     WHERE idempotency_keys.expires_at_ms <= $7 \
        OR (idempotency_keys.status IS NULL AND idempotency_keys.locked_until_ms <= $7) \
     RETURNING claim";

/// The claim holding key `$2` of workspace `$1`, as `taken_from` reads it.
const HOLDING_CLAIM: &str = "SELECT fingerprint, CAST(status AS BIGINT) AS status, content_type, body \
     FROM idempotency_keys WHERE workspace_id = $1 AND key = $2";

/// Stores status `$1`, content type `$2` and body `$3` for key `$5` of workspace `$4`,
/// while claim `$6` holds it without a response.
const FINISH_KEY: &str = "UPDATE idempotency_keys SET status = $1, content_type = $2, body = $3 \
     WHERE workspace_id = $4 AND key = $5 AND claim = $6 AND status IS NULL";

/// Gives up key `$2` of workspace `$1` while claim `$3` holds it without a response.
const RELEASE_KEY: &str =
    "DELETE FROM idempotency_keys WHERE workspace_id = $1 AND key = $2 AND claim = $3 AND status IS NULL";

/// Deletes up to `$2` keys expired at `$1`, so that one purge never holds a writer long.
const PURGE_KEYS: &str = "DELETE FROM idempotency_keys WHERE (workspace_id, key) IN \
       (SELECT workspace_id, key FROM idempotency_keys WHERE expires_at_ms <= $1 LIMIT $2)";

/// The claim a row of [`HOLDING_CLAIM`] describes.
fn taken_from(row: &impl Columns) -> StoreResult<ClaimOutcome> {
    let status: Option<i64> = row.get("status")?;
    let response = match status {
        None => None,
        Some(status) => Some(StoredResponse {
            status: u16::try_from(status).unwrap_or(500),
            content_type: row.get("content_type")?,
            body: row.get::<Option<Vec<u8>>>("body")?.unwrap_or_default(),
        }),
    };
    Ok(ClaimOutcome::Taken {
        fingerprint: row.get("fingerprint")?,
        response,
    })
}
