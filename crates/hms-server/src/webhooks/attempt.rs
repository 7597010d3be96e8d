//! One attempt to deliver one event to one endpoint.

use hmac::{Hmac, Mac};
use hms_auth::AppSecret;
use hms_store::DeliveryRecord;
use sha2::Sha256;

/// What an attempt learned.
pub enum Attempt {
    Delivered { status: u16 },
    Failed { status: Option<u16>, reason: String },
}

/// The header that carries the body's HMAC, as 100ms's HIPAA workspaces send it.
pub const SIGNATURE_HEADER: &str = "x-100ms-signature";

/// Lowercase hex HMAC-SHA256 of `body` keyed with `secret`.
pub fn signature(secret: &AppSecret, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes()).expect("HMAC takes any key");
    mac.update(body);
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// The body a delivery sends: the logged event, marked when it is a replay.
pub fn body_of(delivery: &DeliveryRecord) -> Vec<u8> {
    if delivery.replay_id.is_none() {
        return delivery.event.payload.clone().into_bytes();
    }
    let mut envelope: serde_json::Value =
        serde_json::from_str(&delivery.event.payload).expect("logged events are JSON");
    envelope["is_replay"] = serde_json::Value::Bool(true);
    serde_json::to_vec(&envelope).expect("JSON serialises")
}

/// Posts the event. Any 2xx is success. The response body is never read: a receiver
/// that answers with a huge body costs nothing.
pub async fn send(http: &reqwest::Client, delivery: &DeliveryRecord, secret: Option<&AppSecret>) -> Attempt {
    let body = body_of(delivery);
    let mut request = http.post(&delivery.url).header("content-type", "application/json");
    for (name, value) in &delivery.headers {
        request = request.header(name, value);
    }
    if let Some(secret) = secret {
        request = request.header(SIGNATURE_HEADER, signature(secret, &body));
    }
    match request.body(body).send().await {
        Ok(response) if response.status().is_success() => Attempt::Delivered {
            status: response.status().as_u16(),
        },
        Ok(response) => Attempt::Failed {
            status: Some(response.status().as_u16()),
            reason: format!("endpoint answered {}", response.status().as_u16()),
        },
        Err(error) => Attempt::Failed {
            status: None,
            reason: transport_reason(&error).to_owned(),
        },
    }
}

/// A short reason without the URL, which may carry credentials in its query.
fn transport_reason(error: &reqwest::Error) -> &'static str {
    if error.is_timeout() {
        "timeout"
    } else if error.is_connect() {
        "connection failed"
    } else if error.is_redirect() {
        "redirect refused"
    } else {
        "request failed"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_with_hmac_sha256_in_lowercase_hex() {
        // RFC 4231, test case 2.
        assert_eq!(
            signature(&AppSecret::new("Jefe"), b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
