//! What a dashboard request must show: a live session (its cookie) and, to change
//! anything, that it comes from the dashboard's own pages (same origin and the session's
//! anti-forgery token).

use axum::Json;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::session::{COOKIE, Session};
use super::{Dashboard, PATH};

/// The header through which the dashboard's scripts send the anti-forgery token.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// A request's live session, with the cookie value that names it.
pub struct SignedIn {
    pub id: String,
    pub session: Session,
}

impl Dashboard {
    /// The live session the request's cookie names, if any.
    pub fn signed_in(&self, headers: &HeaderMap) -> Option<SignedIn> {
        let id = cookie(headers, COOKIE)?;
        let session = self.sessions.find(&id)?;
        Some(SignedIn { id, session })
    }
}

/// The value of cookie `name` in the request's `Cookie` headers.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

/// Refuses a request another site could have made: a browser names the page's origin in
/// `Origin` and says `Sec-Fetch-Site` on every cross-site request, so either one that
/// points elsewhere gives it away. A request that repeats either header is refused too.
pub fn from_same_origin(headers: &HeaderMap) -> bool {
    let site_allowed = match sent(headers, "sec-fetch-site") {
        Sent::Absent => true,
        Sent::Once(site) => matches!(site, "same-origin" | "none"),
        Sent::Unclear => false,
    };
    let origin_allowed = match sent(headers, "origin") {
        Sent::Absent => true,
        Sent::Once(origin) => match (url::Url::parse(origin), sent(headers, "host")) {
            (Ok(origin), Sent::Once(host)) => {
                let origin_host = match origin.port() {
                    Some(port) => format!("{}:{port}", origin.host_str().unwrap_or_default()),
                    None => origin.host_str().unwrap_or_default().to_owned(),
                };
                origin_host == host
            }
            _ => false,
        },
        Sent::Unclear => false,
    };
    site_allowed && origin_allowed
}

/// How a request sent one of its headers.
enum Sent<'a> {
    Absent,
    Once(&'a str),
    /// Repeated, or not text.
    Unclear,
}

fn sent<'a>(headers: &'a HeaderMap, name: &str) -> Sent<'a> {
    let mut values = headers.get_all(name).iter();
    match (values.next(), values.next()) {
        (None, _) => Sent::Absent,
        (Some(value), None) => value.to_str().map_or(Sent::Unclear, Sent::Once),
        _ => Sent::Unclear,
    }
}

/// Whether a state-changing request of `signed_in` is the dashboard's own: same origin,
/// and carrying the session's anti-forgery token (`presented`).
pub fn not_forged(headers: &HeaderMap, signed_in: &SignedIn, presented: Option<&str>) -> bool {
    from_same_origin(headers) && presented.is_some_and(|token| signed_in.session.accepts_csrf(token))
}

/// The anti-forgery token of a script's request.
pub fn csrf_header(headers: &HeaderMap) -> Option<&str> {
    match sent(headers, CSRF_HEADER) {
        Sent::Once(token) => Some(token),
        Sent::Absent | Sent::Unclear => None,
    }
}

impl Dashboard {
    /// Whether the browser reaches the dashboard over TLS: this server serves HTTPS, its
    /// public URL is `https`, or the proxy in front says so. The session cookie is then
    /// `Secure`.
    pub fn over_tls(&self, headers: &HeaderMap) -> bool {
        let config = &self.app.config;
        config.serves_tls()
            || config.public_url.as_ref().is_some_and(|url| url.scheme() == "https")
            || headers
                .get("x-forwarded-proto")
                .and_then(|value| value.to_str().ok())
                .is_some_and(|proto| proto.eq_ignore_ascii_case("https"))
    }
}

/// The session cookie for `id`, valid for `max_age_secs` (0 removes it).
pub fn session_cookie(id: &str, max_age_secs: u64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE}={id}; Path={PATH}; Max-Age={max_age_secs}; HttpOnly; SameSite=Strict{secure}")
}

/// Why a script's request was refused.
#[derive(Debug, Clone, Copy)]
pub enum Refusal {
    /// No live session: signed out, expired, or never signed in.
    NoSession,
    /// The request may have come from another site.
    Forged,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let (status, body) = match self {
            Refusal::NoSession => (
                StatusCode::UNAUTHORIZED,
                json!({"code": 401, "message": "Not signed in", "details": ["sign in at /dashboard/sign-in"]}),
            ),
            Refusal::Forged => (
                StatusCode::FORBIDDEN,
                json!({
                    "code": 403,
                    "message": "Refused: the request did not come from the dashboard",
                    "details": ["reload the page and try again"]
                }),
            ),
        };
        (status, Json(body)).into_response()
    }
}
