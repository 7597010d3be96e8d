//! `hms token …`: mint management and app tokens locally, and decode any token.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clap::{Args, Subcommand};
use hms_auth::{AppSecret, Claims, TokenType, VerifyPolicy};

use crate::CliError;
use crate::duration::parse_secs;

#[derive(Args)]
pub struct Credentials {
    /// The workspace's app access key.
    #[arg(long, env = "HMS_ACCESS_KEY", hide_env_values = true)]
    access_key: String,
    /// The workspace's app secret.
    #[arg(long, env = "HMS_SECRET", hide_env_values = true)]
    secret: String,
}

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Print a management token for the REST API.
    Management {
        #[command(flatten)]
        credentials: Credentials,
        /// How long the token is valid (at most 14d).
        #[arg(long, default_value = "24h", value_parser = parse_secs)]
        validity: i64,
    },
    /// Print an app token that lets a user join a room with a role.
    App {
        #[command(flatten)]
        credentials: Credentials,
        #[arg(long)]
        room_id: String,
        #[arg(long)]
        role: String,
        /// The user's id in your system [default: a random UUID].
        #[arg(long)]
        user_id: Option<String>,
        #[arg(long, default_value = "24h", value_parser = parse_secs)]
        validity: i64,
    },
    /// Show a token's claims and, given the secret, whether its signature verifies.
    Decode {
        token: String,
        #[arg(long, env = "HMS_SECRET", hide_env_values = true)]
        secret: Option<String>,
    },
}

pub fn run(command: TokenCommand) -> Result<(), CliError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    match command {
        TokenCommand::Management { credentials, validity } => {
            check_validity(validity)?;
            let claims = Claims::management(&credentials.access_key, now, validity);
            println!("{}", hms_auth::mint(&claims, &AppSecret::new(credentials.secret)));
        }
        TokenCommand::App {
            credentials,
            room_id,
            role,
            user_id,
            validity,
        } => {
            check_validity(validity)?;
            let user_id = user_id.unwrap_or_else(hms_server::admin::random_user_id);
            let claims = Claims::app(&credentials.access_key, &room_id, &role, &user_id, now, validity);
            println!("{}", hms_auth::mint(&claims, &AppSecret::new(credentials.secret)));
        }
        TokenCommand::Decode { token, secret } => decode(&token, secret, now)?,
    }
    Ok(())
}

fn check_validity(validity: i64) -> Result<(), CliError> {
    let max = VerifyPolicy::DEFAULT_MAX_LIFETIME_SECS;
    if validity > max {
        return Err(CliError::new(format!(
            "a validity of {validity} s exceeds the maximum of {max} s (14 days) that servers accept"
        )));
    }
    Ok(())
}

fn decode(token: &str, secret: Option<String>, now: i64) -> Result<(), CliError> {
    let payload = token
        .split('.')
        .nth(1)
        .ok_or_else(|| CliError::new("not a JWT: expected three dot-separated parts"))?;
    let bytes = URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|_| CliError::new("the token's payload is not base64url"))?;
    let claims: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|_| CliError::new("the token's payload is not JSON"))?;
    println!("{}", serde_json::to_string_pretty(&claims).expect("JSON value"));
    if let Some(exp) = claims.get("exp").and_then(|e| e.as_i64()) {
        let state = if exp > now {
            format!("valid for {} more s", exp - now)
        } else {
            format!("expired {} s ago", now - exp)
        };
        println!("expiry: {state}");
    }
    let Some(secret) = secret else { return Ok(()) };
    let token_type = match claims.get("type").and_then(|t| t.as_str()) {
        Some("app") => TokenType::App,
        _ => TokenType::Management,
    };
    let policy = VerifyPolicy {
        expected_type: token_type,
        leeway_secs: 0,
        max_lifetime_secs: i64::MAX / 2,
    };
    match hms_auth::verify(token, |_| Some(vec![AppSecret::new(secret)]), &policy, now) {
        Ok(_) => println!("signature: verifies with the given secret"),
        Err(error) => {
            return Err(CliError::new(format!("signature or claims do not verify: {error}")));
        }
    }
    Ok(())
}
