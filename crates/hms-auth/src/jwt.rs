//! The JWT compact form, HS256 only.

use base64::Engine;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::{AppSecret, Claims};

type HmacSha256 = Hmac<Sha256>;

/// `{"alg":"HS256","typ":"JWT"}`, the header every 100ms SDK writes.
const HEADER: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";

/// Accepts base64url with or without padding: JWT libraries differ on it.
const LENIENT_URL_SAFE: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum JwtError {
    #[error("token is not a well-formed JWT")]
    Malformed,
    #[error("token algorithm must be HS256")]
    UnsupportedAlgorithm,
}

/// Signs `claims` with `secret`.
///
/// The web SDK decodes the payload with `atob`, which knows standard base64 only; a
/// base64url `-` or `_` in the payload makes it throw. Those appear only where the JSON
/// holds `>`, `?`, `~`, DEL or a non-ASCII byte, so the payload escapes them as `\uXXXX`.
pub fn mint(claims: &Claims, secret: &AppSecret) -> String {
    let json = serde_json::to_string(claims).expect("claims always serialise");
    let payload = URL_SAFE_NO_PAD.encode(escape_for_atob(&json));
    let signing_input = format!("{HEADER}.{payload}");
    let signature = URL_SAFE_NO_PAD.encode(sign(signing_input.as_bytes(), secret));
    format!("{signing_input}.{signature}")
}

fn escape_for_atob(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if matches!(c, '>' | '?' | '~' | '\u{7f}') || !c.is_ascii() {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn sign(input: &[u8], secret: &AppSecret) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(secret.expose().as_bytes()).expect("HMAC takes any key");
    mac.update(input);
    mac.finalize().into_bytes().to_vec()
}

/// A token split into its parts, its signature not yet checked.
pub(crate) struct UnverifiedToken<'a> {
    signing_input: &'a str,
    signature: Vec<u8>,
    pub claims: serde_json::Value,
}

impl<'a> UnverifiedToken<'a> {
    pub fn parse(token: &'a str) -> Result<Self, JwtError> {
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JwtError::Malformed);
        };
        let header: serde_json::Value = decode_json(header)?;
        if header.get("alg").and_then(|alg| alg.as_str()) != Some("HS256") {
            return Err(JwtError::UnsupportedAlgorithm);
        }
        Ok(Self {
            signing_input: &token[..header_and_payload_len(token)],
            signature: LENIENT_URL_SAFE.decode(signature).map_err(|_| JwtError::Malformed)?,
            claims: decode_json(payload)?,
        })
    }

    /// Checks the signature against `secret` in constant time.
    pub fn signed_with(&self, secret: &AppSecret) -> bool {
        let mut mac = HmacSha256::new_from_slice(secret.expose().as_bytes()).expect("HMAC takes any key");
        mac.update(self.signing_input.as_bytes());
        mac.verify_slice(&self.signature).is_ok()
    }
}

fn header_and_payload_len(token: &str) -> usize {
    token.rfind('.').unwrap_or(token.len())
}

fn decode_json(segment: &str) -> Result<serde_json::Value, JwtError> {
    let bytes = LENIENT_URL_SAFE.decode(segment).map_err(|_| JwtError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| JwtError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD_NO_PAD;

    #[test]
    fn payload_decodes_with_standard_base64() {
        let claims = Claims::app("ak", "room", "host", "~>?é😀\u{7f}~~>>??", 1_700_000_000, 86_400);
        let token = mint(&claims, &AppSecret::new("s"));
        let payload = token.split('.').nth(1).unwrap();
        assert!(!payload.contains('-') && !payload.contains('_'));
        let decoded: Claims = serde_json::from_slice(&STANDARD_NO_PAD.decode(payload).unwrap()).unwrap();
        assert_eq!(decoded, claims);
    }

    #[test]
    fn signature_checks_the_secret() {
        let token = mint(&Claims::management("ak", 0, 10), &AppSecret::new("right"));
        let parsed = UnverifiedToken::parse(&token).unwrap();
        assert!(parsed.signed_with(&AppSecret::new("right")));
        assert!(!parsed.signed_with(&AppSecret::new("wrong")));
    }

    #[test]
    fn refuses_other_algorithms_and_garbage() {
        let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        let body = URL_SAFE_NO_PAD.encode("{}");
        assert_eq!(
            UnverifiedToken::parse(&format!("{none_header}.{body}.")).err(),
            Some(JwtError::UnsupportedAlgorithm)
        );
        assert_eq!(UnverifiedToken::parse("a.b").err(), Some(JwtError::Malformed));
        assert_eq!(UnverifiedToken::parse("a.b.c.d").err(), Some(JwtError::Malformed));
    }
}
