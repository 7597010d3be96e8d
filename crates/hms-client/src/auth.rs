use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use hms_auth::{AppSecret, Claims};

use crate::Error;

/// Validity of the management tokens the client mints: what 100ms's samples use.
const MINTED_VALIDITY_SECS: i64 = 24 * 3600;
/// A minted token is replaced this long before it expires.
const RENEW_BEFORE_SECS: i64 = 60;

/// How the client authenticates.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// A ready management token, used as it is.
    Token(String),
    /// The workspace's app access key and secret, from which the client mints tokens.
    KeyAndSecret { access_key: String, secret: AppSecret },
}

impl Credentials {
    pub fn key_and_secret(access_key: impl Into<String>, secret: impl Into<String>) -> Self {
        Credentials::KeyAndSecret {
            access_key: access_key.into(),
            secret: AppSecret::new(secret),
        }
    }

    pub fn token(token: impl Into<String>) -> Self {
        Credentials::Token(token.into())
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Token(_) => f.write_str("Credentials::Token(****)"),
            Credentials::KeyAndSecret { access_key, .. } => write!(f, "Credentials::KeyAndSecret({access_key}, ****)"),
        }
    }
}

pub(crate) struct Authenticator {
    credentials: Credentials,
    minted: Mutex<Option<(String, i64)>>,
}

impl Authenticator {
    pub fn new(credentials: Credentials) -> Self {
        Self {
            credentials,
            minted: Mutex::new(None),
        }
    }

    /// Whether a refused token can be replaced by a fresh one.
    pub fn can_renew(&self) -> bool {
        matches!(self.credentials, Credentials::KeyAndSecret { .. })
    }

    pub fn invalidate(&self) {
        *self.minted.lock().expect("token lock") = None;
    }

    /// The token to send; `fresh` forces a new one.
    pub fn token(&self, fresh: bool) -> Result<String, Error> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        self.token_at(fresh, now)
    }

    /// The token to send at `now` (Unix seconds): the current minted one unless it expires
    /// within [`RENEW_BEFORE_SECS`] or `fresh` is asked for.
    fn token_at(&self, fresh: bool, now: i64) -> Result<String, Error> {
        let (access_key, secret) = match &self.credentials {
            Credentials::Token(token) => return Ok(token.clone()),
            Credentials::KeyAndSecret { access_key, secret } => (access_key, secret),
        };
        let mut minted = self.minted.lock().expect("token lock");
        match minted.as_ref() {
            Some((token, exp)) if !fresh && *exp - RENEW_BEFORE_SECS > now => Ok(token.clone()),
            _ => {
                let claims = Claims::management(access_key, now, MINTED_VALIDITY_SECS);
                let token = hms_auth::mint(&claims, secret);
                *minted = Some((token.clone(), claims.exp));
                Ok(token)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use hms_auth::{AppSecret, TokenType, VerifyPolicy};

    use super::*;

    fn claims(token: &str, now: i64) -> Claims {
        let policy = VerifyPolicy::management();
        hms_auth::verify(token, |_| Some(vec![AppSecret::new("s3cret")]), &policy, now)
            .expect("token verifies")
            .claims
    }

    #[test]
    fn mints_reuses_and_renews_management_tokens() {
        let auth = Authenticator::new(Credentials::key_and_secret("key", "s3cret"));
        assert!(auth.can_renew());
        let now = 1_700_000_000;
        let first = auth.token_at(false, now).unwrap();
        let minted = claims(&first, now);
        assert_eq!(
            (minted.access_key.as_str(), minted.token_type, minted.exp - now),
            ("key", TokenType::Management, MINTED_VALIDITY_SECS)
        );
        // Reused while it has more than a minute left…
        let later = now + MINTED_VALIDITY_SECS - RENEW_BEFORE_SECS - 1;
        assert_eq!(auth.token_at(false, later).unwrap(), first);
        // …replaced in its last minute…
        let renewed = auth.token_at(false, later + 1).unwrap();
        assert_ne!(renewed, first);
        assert_eq!(claims(&renewed, later + 1).exp, later + 1 + MINTED_VALIDITY_SECS);
        // …and on demand, after a refusal.
        let fresh = auth.token_at(true, later + 1).unwrap();
        assert_ne!(fresh, renewed);
        auth.invalidate();
        assert_ne!(auth.token_at(false, later + 1).unwrap(), fresh);
    }

    #[test]
    fn a_ready_token_is_sent_as_it_is() {
        let auth = Authenticator::new(Credentials::token("ready"));
        assert!(!auth.can_renew());
        assert_eq!(auth.token(false).unwrap(), "ready");
        assert_eq!(auth.token(true).unwrap(), "ready");
        assert_eq!(format!("{:?}", Credentials::token("ready")), "Credentials::Token(****)");
        assert_eq!(
            format!("{:?}", Credentials::key_and_secret("key", "s3cret")),
            "Credentials::KeyAndSecret(key, ****)"
        );
    }
}
