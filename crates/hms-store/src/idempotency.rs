//! What the store keeps of idempotent requests (the `Idempotency-Key` header).

use hms_types::Timestamp;

use crate::StoreResult;
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

// The statements of idempotency keys, the same on both backends: their `$N` placeholders
// are PostgreSQL's and SQLite's alike (sqlx binds them by number on both). The backends
// bind `status` as their own integer type.

/// Claims key `$2` of workspace `$1` for fingerprint `$3` and claim `$4`, locked until `$5`
/// and kept until `$6`, unless a live claim holds it at `$7`: an expired key, or one whose
/// request has stored no response by its lock's end, is claimed afresh. Answers a row
/// when claimed.
pub(crate) const CLAIM_KEY: &str = "INSERT INTO idempotency_keys \
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
pub(crate) const HOLDING_CLAIM: &str = "SELECT fingerprint, CAST(status AS BIGINT) AS status, content_type, body \
     FROM idempotency_keys WHERE workspace_id = $1 AND key = $2";

/// Stores status `$1`, content type `$2` and body `$3` for key `$5` of workspace `$4`,
/// while claim `$6` holds it without a response.
pub(crate) const FINISH_KEY: &str = "UPDATE idempotency_keys SET status = $1, content_type = $2, body = $3 \
     WHERE workspace_id = $4 AND key = $5 AND claim = $6 AND status IS NULL";

/// Gives up key `$2` of workspace `$1` while claim `$3` holds it without a response.
pub(crate) const RELEASE_KEY: &str =
    "DELETE FROM idempotency_keys WHERE workspace_id = $1 AND key = $2 AND claim = $3 AND status IS NULL";

/// Deletes up to `$2` keys expired at `$1`, so that one purge never holds a writer long.
pub(crate) const PURGE_KEYS: &str = "DELETE FROM idempotency_keys WHERE (workspace_id, key) IN \
       (SELECT workspace_id, key FROM idempotency_keys WHERE expires_at_ms <= $1 LIMIT $2)";

/// The claim a row of [`HOLDING_CLAIM`] describes.
pub(crate) fn taken_from(row: &impl Columns) -> StoreResult<ClaimOutcome> {
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
