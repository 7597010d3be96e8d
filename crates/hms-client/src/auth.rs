use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use hms_auth::{AppSecret, Claims};

use crate::Error;

/// Validity of the management tokens the client mints: what 100ms's samples use.
const MINTED_VALIDITY_SECS: i64 = 24 * 3600;
/// A minted token is replaced this long before it expires.
const RENEW_BEFORE_SECS: i64 = 60;

/// How the client authenticates.
#[derive(Clone)]
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
        let (access_key, secret) = match &self.credentials {
            Credentials::Token(token) => return Ok(token.clone()),
            Credentials::KeyAndSecret { access_key, secret } => (access_key, secret),
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
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
