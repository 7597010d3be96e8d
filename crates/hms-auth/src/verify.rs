use std::sync::Arc;

use crate::jwt::{JwtError, UnverifiedToken};
use crate::{AppSecret, Claims, TOKEN_VERSION, TokenType};

/// What a verifier accepts besides a good signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifyPolicy {
    pub expected_type: TokenType,
    /// Clock difference tolerated on `exp` and `nbf`, in seconds.
    pub leeway_secs: i64,
    /// The longest lifetime (`exp - nbf`) accepted, in seconds.
    pub max_lifetime_secs: i64,
}

impl VerifyPolicy {
    /// 100ms lets its dashboard mint tokens valid for 14 days at most.
    pub const DEFAULT_MAX_LIFETIME_SECS: i64 = 14 * 24 * 3600;
    pub const DEFAULT_LEEWAY_SECS: i64 = 30;

    pub fn management() -> Self {
        Self {
            expected_type: TokenType::Management,
            leeway_secs: Self::DEFAULT_LEEWAY_SECS,
            max_lifetime_secs: Self::DEFAULT_MAX_LIFETIME_SECS,
        }
    }
}

/// Why a token was refused. The messages never contain the token or a secret.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error(transparent)]
    Jwt(#[from] JwtError),
    #[error("token claims are invalid: {0}")]
    InvalidClaims(String),
    #[error("token names an unknown access key")]
    UnknownAccessKey,
    #[error("token signature does not match any app secret of the access key")]
    BadSignature,
    #[error("token type must be {expected}, not {found}")]
    WrongType { expected: TokenType, found: TokenType },
    #[error("token version must be {TOKEN_VERSION}, not {0}")]
    WrongVersion(u32),
    #[error("token has expired")]
    Expired,
    #[error("token is not valid yet")]
    NotYetValid,
    #[error("token lifetime of {lifetime_secs} s exceeds the maximum of {max_secs} s")]
    LifetimeTooLong { lifetime_secs: i64, max_secs: i64 },
}

/// The live secrets of one workspace.
pub trait SecretSource {
    fn secrets(&self) -> &[AppSecret];
}

impl SecretSource for Vec<AppSecret> {
    fn secrets(&self) -> &[AppSecret] {
        self
    }
}

impl<T: SecretSource> SecretSource for Arc<T> {
    fn secrets(&self) -> &[AppSecret] {
        (**self).secrets()
    }
}

/// A token that verified: its claims, the secrets `secrets_of` gave for its access key
/// (the caller's record of the workspace), and which of them signed it.
#[derive(Debug)]
pub struct Verified<S> {
    pub claims: Claims,
    pub source: S,
    signed_with: usize,
}

impl<S: SecretSource> Verified<S> {
    /// The secret that signed the token.
    pub fn secret(&self) -> &AppSecret {
        &self.source.secrets()[self.signed_with]
    }
}

/// Verifies `token` at time `now` (Unix seconds). `secrets_of` gives the live secrets of
/// an access key, or `None` when no workspace has it; what it gave comes back with the
/// claims.
pub fn verify<S: SecretSource>(
    token: &str,
    secrets_of: impl FnOnce(&str) -> Option<S>,
    policy: &VerifyPolicy,
    now: i64,
) -> Result<Verified<S>, TokenError> {
    let unverified = UnverifiedToken::parse(token)?;
    let access_key = unverified
        .claims
        .get("access_key")
        .and_then(|key| key.as_str())
        .ok_or_else(|| TokenError::InvalidClaims("access_key is missing".into()))?;
    let source = secrets_of(access_key).ok_or(TokenError::UnknownAccessKey)?;
    let signed_with = source
        .secrets()
        .iter()
        .position(|secret| unverified.signed_with(secret))
        .ok_or(TokenError::BadSignature)?;
    let claims: Claims =
        serde_json::from_value(unverified.claims).map_err(|e| TokenError::InvalidClaims(e.to_string()))?;
    check_claims(&claims, policy, now)?;
    Ok(Verified {
        claims,
        source,
        signed_with,
    })
}

fn check_claims(claims: &Claims, policy: &VerifyPolicy, now: i64) -> Result<(), TokenError> {
    if claims.token_type != policy.expected_type {
        return Err(TokenError::WrongType {
            expected: policy.expected_type,
            found: claims.token_type,
        });
    }
    if claims.version != TOKEN_VERSION {
        return Err(TokenError::WrongVersion(claims.version));
    }
    if claims.exp + policy.leeway_secs <= now {
        return Err(TokenError::Expired);
    }
    if claims.nbf.is_some_and(|nbf| nbf - policy.leeway_secs > now) {
        return Err(TokenError::NotYetValid);
    }
    let lifetime_secs = claims.lifetime_secs(now);
    if lifetime_secs > policy.max_lifetime_secs + policy.leeway_secs {
        return Err(TokenError::LifetimeTooLong {
            lifetime_secs,
            max_secs: policy.max_lifetime_secs,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mint;

    const NOW: i64 = 1_700_000_000;

    fn secrets() -> Vec<AppSecret> {
        vec![AppSecret::new("old"), AppSecret::new("new")]
    }

    fn check(token: &str) -> Result<Claims, TokenError> {
        verify(
            token,
            |key| (key == "ak").then(secrets),
            &VerifyPolicy::management(),
            NOW,
        )
        .map(|verified| verified.claims)
    }

    #[test]
    fn accepts_any_live_secret() {
        for secret in secrets() {
            let token = mint(&Claims::management("ak", NOW, 3600), &secret);
            assert_eq!(check(&token).unwrap().access_key, "ak");
        }
    }

    #[test]
    fn answers_the_secret_that_signed_and_what_the_source_gave() {
        for secret in secrets() {
            let token = mint(&Claims::management("ak", NOW, 3600), &secret);
            let verified = verify(&token, |_| Some(secrets()), &VerifyPolicy::management(), NOW).unwrap();
            assert_eq!(verified.secret().expose(), secret.expose());
            assert_eq!(verified.source.len(), 2);
        }
    }

    #[test]
    fn says_what_is_wrong() {
        let good = AppSecret::new("new");
        let cases = [
            (
                mint(&Claims::management("other", NOW, 60), &good),
                TokenError::UnknownAccessKey,
            ),
            (
                mint(&Claims::management("ak", NOW, 60), &AppSecret::new("x")),
                TokenError::BadSignature,
            ),
            (
                mint(&Claims::app("ak", "r", "host", "u", NOW, 60), &good),
                TokenError::WrongType {
                    expected: TokenType::Management,
                    found: TokenType::App,
                },
            ),
            (
                mint(&Claims::management("ak", NOW - 7200, 3600), &good),
                TokenError::Expired,
            ),
            (
                mint(&Claims::management("ak", NOW + 3600, 60), &good),
                TokenError::NotYetValid,
            ),
            (
                mint(&Claims::management("ak", NOW, 15 * 24 * 3600), &good),
                TokenError::LifetimeTooLong {
                    lifetime_secs: 15 * 24 * 3600,
                    max_secs: 14 * 24 * 3600,
                },
            ),
        ];
        for (token, expected) in cases {
            assert_eq!(check(&token).unwrap_err(), expected);
        }
    }

    #[test]
    fn leeway_covers_small_clock_skew() {
        let good = AppSecret::new("new");
        assert!(check(&mint(&Claims::management("ak", NOW + 20, 60), &good)).is_ok());
        assert!(check(&mint(&Claims::management("ak", NOW - 80, 60), &good)).is_ok());
    }

    #[test]
    fn wrong_version_is_refused() {
        let mut claims = Claims::management("ak", NOW, 60);
        claims.version = 1;
        let token = mint(&claims, &AppSecret::new("new"));
        assert_eq!(check(&token).unwrap_err(), TokenError::WrongVersion(1));
    }
}
