//! Signing in and out. A sign-in takes the workspace's access key and one of its app
//! secrets, or a management token of the workspace; failures count against the client's
//! address, and past the limit every try is refused until the window moves on.

use std::net::IpAddr;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{Extensions, HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::guard;
use super::{ClientAddr, PATH, Shared};

#[derive(Deserialize, Default)]
#[serde(default)]
struct SignInForm {
    access_key: String,
    secret: String,
    token: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SignOutForm {
    csrf: String,
}

/// `GET /dashboard/sign-in`: the form, or the dashboard for who is signed in already.
pub async fn form(State(dashboard): State<Shared>, headers: HeaderMap) -> Response {
    if dashboard.signed_in(&headers).is_some() {
        return Redirect::to(super::pages::FIRST_PAGE).into_response();
    }
    dashboard.pages.sign_in(StatusCode::OK, None)
}

/// `POST /dashboard/sign-in`: a session cookie for the right credentials, the form with
/// what was wrong otherwise.
pub async fn sign_in(
    State(dashboard): State<Shared>,
    extensions: Extensions,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !guard::from_same_origin(&headers) {
        return dashboard.pages.sign_in(
            StatusCode::FORBIDDEN,
            Some("Refused: the sign-in did not come from this page."),
        );
    }
    // Behind no address (an in-process call), every such client shares one allowance.
    let client = extensions
        .get::<ConnectInfo<ClientAddr>>()
        .map_or(IpAddr::from([0, 0, 0, 0]), |ConnectInfo(ClientAddr(addr))| addr.ip());
    if let Some(wait) = dashboard.sign_ins.wait_for(client) {
        return too_many_failures(&dashboard, wait);
    }
    let form: SignInForm = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let Some((workspace_id, lifetime)) = verify(&dashboard, &form) else {
        dashboard.sign_ins.record_failure(client);
        let message = if form.token.trim().is_empty() {
            "Wrong access key or app secret."
        } else {
            "This management token is not valid for this server (wrong, expired or of an unknown workspace)."
        };
        return dashboard.pages.sign_in(StatusCode::UNAUTHORIZED, Some(message));
    };
    let (id, _) = dashboard.sessions.open(&workspace_id, lifetime);
    tracing::info!(workspace = %workspace_id, "dashboard sign-in");
    let cookie = guard::session_cookie(&id, lifetime.as_secs(), dashboard.over_tls(&headers));
    with_cookie(Redirect::to(super::pages::FIRST_PAGE).into_response(), &cookie)
}

/// The workspace the form's credentials prove, and how long its session may last.
fn verify(dashboard: &Shared, form: &SignInForm) -> Option<(String, Duration)> {
    let lifetime = Duration::from_secs(dashboard.app.config.dashboard_session_secs);
    let token = form.token.trim();
    if !token.is_empty() {
        return verify_token(dashboard, token, lifetime);
    }
    let credentials = dashboard.app.credentials.by_access_key(form.access_key.trim())?;
    // Every secret is compared, in constant time, so that timing tells nothing.
    let matches = credentials.secrets.iter().fold(0u8, |found, secret| {
        found | secret.expose().as_bytes().ct_eq(form.secret.as_bytes()).unwrap_u8()
    });
    (matches == 1).then(|| (credentials.workspace.id.clone(), lifetime))
}

/// A management token signs in to its workspace until it expires, at the latest.
fn verify_token(dashboard: &Shared, token: &str, lifetime: Duration) -> Option<(String, Duration)> {
    let config = &dashboard.app.config;
    let policy = hms_auth::VerifyPolicy {
        expected_type: hms_auth::TokenType::Management,
        leeway_secs: config.token_leeway_secs,
        max_lifetime_secs: config.max_token_lifetime_secs,
    };
    let now = hms_types::Timestamp::now().unix_seconds();
    let mut found = None;
    let claims = hms_auth::verify(
        token,
        |access_key| {
            found = dashboard.app.credentials.by_access_key(access_key);
            found.clone()
        },
        &policy,
        now,
    )
    .ok()?;
    let remaining = Duration::from_secs(u64::try_from(claims.exp - now).ok()?);
    Some((found?.workspace.id.clone(), lifetime.min(remaining)))
}

fn too_many_failures(dashboard: &Shared, wait: Duration) -> Response {
    let message = format!(
        "Too many failed sign-ins from your address. Try again in {} seconds.",
        wait.as_secs().max(1)
    );
    let mut response = dashboard.pages.sign_in(StatusCode::TOO_MANY_REQUESTS, Some(&message));
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(wait.as_secs().max(1)));
    response
}

/// `POST /dashboard/sign-out`: ends the session (the form carries its anti-forgery token).
pub async fn sign_out(State(dashboard): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let form: SignOutForm = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    if let Some(signed_in) = dashboard.signed_in(&headers) {
        if !guard::not_forged(&headers, &signed_in, Some(&form.csrf)) {
            return guard::Refusal::Forged.into_response();
        }
        dashboard.sessions.close(&signed_in.id);
    }
    let cookie = guard::session_cookie("", 0, dashboard.over_tls(&headers));
    with_cookie(Redirect::to(&format!("{PATH}/sign-in")).into_response(), &cookie)
}

fn with_cookie(mut response: Response, cookie: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}
