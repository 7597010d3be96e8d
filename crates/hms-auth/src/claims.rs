use serde::{Deserialize, Serialize};

/// The only token format version 100ms issues.
pub const TOKEN_VERSION: u32 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenType {
    Management,
    App,
}

impl std::fmt::Display for TokenType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TokenType::Management => "management",
            TokenType::App => "app",
        })
    }
}

/// The claims of a management or app token, in the order 100ms's samples write them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub access_key: String,
    #[serde(rename = "type")]
    pub token_type: TokenType,
    pub version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    pub exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
}

impl Claims {
    /// A management token valid from `now` for `validity_secs`.
    pub fn management(access_key: &str, now: i64, validity_secs: i64) -> Self {
        Self::new(access_key, TokenType::Management, now, validity_secs)
    }

    /// An app token that lets `user_id` join `room_id` as `role`.
    pub fn app(access_key: &str, room_id: &str, role: &str, user_id: &str, now: i64, validity_secs: i64) -> Self {
        Self {
            room_id: Some(room_id.to_owned()),
            role: Some(role.to_owned()),
            user_id: Some(user_id.to_owned()),
            ..Self::new(access_key, TokenType::App, now, validity_secs)
        }
    }

    fn new(access_key: &str, token_type: TokenType, now: i64, validity_secs: i64) -> Self {
        Self {
            access_key: access_key.to_owned(),
            token_type,
            version: TOKEN_VERSION,
            room_id: None,
            role: None,
            user_id: None,
            iat: Some(now),
            nbf: Some(now),
            exp: now + validity_secs,
            jti: Some(uuid::Uuid::new_v4().to_string()),
        }
    }

    /// Seconds between the moment the token starts being valid and its expiry.
    pub fn lifetime_secs(&self, now: i64) -> i64 {
        self.exp - self.nbf.or(self.iat).unwrap_or(now)
    }
}
