//! What the store keeps of idempotent requests (the `Idempotency-Key` header).

use hms_types::Timestamp;

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
