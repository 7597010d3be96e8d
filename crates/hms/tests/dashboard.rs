//! `/dashboard` over HTTP: sessions, anti-forgery, the sign-in limit and the security
//! headers (conformance/dashboard drives the pages in a real browser).

mod common;

use std::time::Duration;

use common::{ACCESS_KEY, SECRET, TestServer};
use reqwest::header::{CONTENT_TYPE, COOKIE, HeaderMap, SET_COOKIE};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// A client that shows redirects instead of following them.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    text: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|_| panic!("no JSON: {}", self.text))
    }

    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", |value| value.to_str().unwrap())
    }
}

async fn answer(request: reqwest::RequestBuilder) -> Answer {
    let response = request.send().await.expect("request reaches the server");
    Answer {
        status: response.status(),
        headers: response.headers().clone(),
        text: response.text().await.expect("body"),
    }
}

async fn post_form(server: &TestServer, path: &str, form: &str, headers: &[(&str, &str)]) -> Answer {
    let mut request = browser()
        .post(server.url(path))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form.to_owned());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    answer(request).await
}

/// A signed-in browser: its session cookie and the anti-forgery token of its pages.
struct Session {
    cookie: String,
    csrf: String,
}

async fn sign_in(server: &TestServer) -> Session {
    let signed_in = post_form(
        server,
        "/dashboard/sign-in",
        &format!("access_key={ACCESS_KEY}&secret={SECRET}"),
        &[],
    )
    .await;
    assert_eq!(signed_in.status, StatusCode::SEE_OTHER, "{}", signed_in.text);
    let set_cookie = signed_in.header("set-cookie");
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let page = answer(browser().get(server.url("/dashboard/rooms")).header(COOKIE, &cookie)).await;
    assert_eq!(page.status, StatusCode::OK);
    let marker = "<meta name=\"csrf-token\" content=\"";
    let start = page.text.find(marker).expect("the page carries its anti-forgery token") + marker.len();
    let csrf = page.text[start..start + 64].to_owned();
    Session { cookie, csrf }
}

impl Session {
    /// A request of the dashboard's own scripts: cookie, same origin, anti-forgery token.
    fn script(&self, server: &TestServer, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.forged(server, method, path, &server.base, "same-origin", &self.csrf)
    }

    /// A request with the session's cookie that claims `origin` and `site` and presents
    /// `csrf`.
    fn forged(
        &self,
        server: &TestServer,
        method: Method,
        path: &str,
        origin: &str,
        site: &str,
        csrf: &str,
    ) -> reqwest::RequestBuilder {
        browser()
            .request(method, server.url(path))
            .header(COOKIE, &self.cookie)
            .header("origin", origin)
            .header("sec-fetch-site", site)
            .header("x-csrf-token", csrf)
    }
}

async fn room_names(server: &TestServer) -> Vec<String> {
    let (status, body) = server.get("/v2/rooms?limit=100").await;
    assert_eq!(status, StatusCode::OK);
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|room| room["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_browser_opening_the_root_is_sent_to_the_dashboard_and_api_clients_get_the_404() {
    let server = TestServer::start();
    let from_browser = answer(browser().get(server.url("/")).header("accept", "text/html,*/*")).await;
    assert_eq!(from_browser.status, StatusCode::SEE_OTHER);
    assert_eq!(from_browser.header("location"), "/dashboard");

    let from_client = answer(browser().get(server.url("/")).header("accept", "application/json")).await;
    assert_eq!(from_client.status, StatusCode::NOT_FOUND);
    assert_eq!(
        from_client.json(),
        json!({"code": 404, "message": "Not found", "details": ["no route for GET /"]})
    );
    let posted = answer(browser().post(server.url("/")).header("accept", "text/html")).await;
    assert_eq!(posted.status, StatusCode::NOT_FOUND);
    assert_eq!(posted.json()["details"], json!(["no route for POST /"]));
}

#[tokio::test]
async fn every_dashboard_answer_carries_the_security_headers() {
    let server = TestServer::start();
    let session = sign_in(&server).await;
    let answers = [
        answer(browser().get(server.url("/dashboard/sign-in"))).await,
        answer(
            browser()
                .get(server.url("/dashboard/rooms"))
                .header(COOKIE, &session.cookie),
        )
        .await,
        answer(
            browser()
                .get(server.url("/dashboard/api/v2/rooms"))
                .header(COOKIE, &session.cookie),
        )
        .await,
        answer(browser().get(server.url("/dashboard/assets/app.js"))).await,
        answer(browser().get(server.url("/dashboard/api/v2/rooms"))).await,
    ];
    for answer in &answers {
        assert_eq!(answer.header("content-security-policy"), CSP);
        assert_eq!(answer.header("x-content-type-options"), "nosniff");
        assert_eq!(answer.header("x-frame-options"), "DENY");
        assert_eq!(answer.header("referrer-policy"), "same-origin");
        assert_eq!(answer.header("cross-origin-opener-policy"), "same-origin");
    }
    assert_eq!(answers[1].header("cache-control"), "no-store");
    assert_eq!(answers[3].header("content-type"), "text/javascript; charset=utf-8");
    assert_eq!(answers[3].header("cache-control"), "no-cache");
}

#[tokio::test]
async fn signing_in_gives_a_strict_expiring_cookie_and_wrong_credentials_are_refused() {
    let server = TestServer::start();
    let wrong = post_form(
        &server,
        "/dashboard/sign-in",
        &format!("access_key={ACCESS_KEY}&secret=nope"),
        &[],
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.text.contains("Wrong access key or app secret."), "{}", wrong.text);
    assert!(wrong.headers.get(SET_COOKIE).is_none());
    let unknown_key = post_form(
        &server,
        "/dashboard/sign-in",
        &format!("access_key=nobody&secret={SECRET}"),
        &[],
    )
    .await;
    assert_eq!(unknown_key.status, StatusCode::UNAUTHORIZED);
    assert!(unknown_key.text.contains("Wrong access key or app secret."));

    let right = post_form(
        &server,
        "/dashboard/sign-in",
        &format!("access_key={ACCESS_KEY}&secret={SECRET}"),
        &[],
    )
    .await;
    assert_eq!(right.status, StatusCode::SEE_OTHER);
    assert_eq!(right.header("location"), "/dashboard/rooms");
    let cookie = right.header("set-cookie");
    let attributes: Vec<&str> = cookie.split("; ").skip(1).collect();
    assert_eq!(
        attributes,
        ["Path=/dashboard", "Max-Age=43200", "HttpOnly", "SameSite=Strict"]
    );

    // Behind a proxy that terminates TLS, the cookie is sent over TLS only.
    let over_tls = post_form(
        &server,
        "/dashboard/sign-in",
        &format!("access_key={ACCESS_KEY}&secret={SECRET}"),
        &[("x-forwarded-proto", "https")],
    )
    .await;
    assert!(
        over_tls
            .header("set-cookie")
            .ends_with("; HttpOnly; SameSite=Strict; Secure")
    );
}

#[tokio::test]
async fn a_management_token_signs_in_until_it_expires_and_a_foreign_one_does_not() {
    let server = TestServer::start();
    let token = server.token();
    let signed_in = post_form(&server, "/dashboard/sign-in", &format!("token={token}"), &[]).await;
    assert_eq!(signed_in.status, StatusCode::SEE_OTHER);
    // The harness's tokens live an hour: the session ends with the token.
    assert!(
        signed_in.header("set-cookie").contains("; Max-Age=3"),
        "{}",
        signed_in.header("set-cookie")
    );

    let foreign = common::management_token(ACCESS_KEY, "another-secret-of-nobody-0123456789");
    let refused = post_form(&server, "/dashboard/sign-in", &format!("token={foreign}"), &[]).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert!(
        refused
            .text
            .contains("This management token is not valid for this server")
    );
}

#[tokio::test]
async fn nothing_changes_without_the_session() {
    let server = TestServer::start();
    let no_cookie = answer(
        browser()
            .post(server.url("/dashboard/api/v2/rooms"))
            .header("origin", &server.base)
            .json(&json!({"name": "sneaky"})),
    )
    .await;
    assert_eq!(no_cookie.status, StatusCode::UNAUTHORIZED);
    assert_eq!(no_cookie.json()["message"], "Not signed in");
    let made_up = answer(
        browser()
            .post(server.url("/dashboard/workspace/token"))
            .header(COOKIE, "hms_dashboard=0123456789abcdef")
            .json(&json!({"validity_secs": 3600})),
    )
    .await;
    assert_eq!(made_up.status, StatusCode::UNAUTHORIZED);
    let page = answer(browser().get(server.url("/dashboard/developer"))).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.header("location"), "/dashboard/sign-in");
    assert!(room_names(&server).await.is_empty());
}

#[tokio::test]
async fn nothing_changes_without_the_anti_forgery_check() {
    let server = TestServer::start();
    let session = sign_in(&server).await;
    let create = |name: &str| json!({ "name": name });

    let without_token = answer(
        browser()
            .post(server.url("/dashboard/api/v2/rooms"))
            .header(COOKIE, &session.cookie)
            .json(&create("no-token")),
    )
    .await;
    assert_eq!(without_token.status, StatusCode::FORBIDDEN);
    assert_eq!(
        without_token.json()["message"],
        "Refused: the request did not come from the dashboard"
    );
    let wrong_token = answer(
        session
            .forged(
                &server,
                Method::POST,
                "/dashboard/api/v2/rooms",
                &server.base,
                "same-origin",
                &"0".repeat(64),
            )
            .json(&create("wrong-token")),
    )
    .await;
    assert_eq!(wrong_token.status, StatusCode::FORBIDDEN);
    let other_site = answer(
        session
            .forged(
                &server,
                Method::POST,
                "/dashboard/api/v2/rooms",
                "http://evil.example",
                "same-origin",
                &session.csrf,
            )
            .json(&create("other-origin")),
    )
    .await;
    assert_eq!(other_site.status, StatusCode::FORBIDDEN);
    let cross_site = answer(session.forged(
        &server,
        Method::POST,
        "/dashboard/workspace/secrets",
        &server.base,
        "cross-site",
        &session.csrf,
    ))
    .await;
    assert_eq!(cross_site.status, StatusCode::FORBIDDEN);
    // A header sent twice is not trusted, whichever of its values is the right one.
    let repeated_token = answer(
        session
            .forged(
                &server,
                Method::POST,
                "/dashboard/api/v2/rooms",
                &server.base,
                "same-origin",
                &session.csrf,
            )
            .header("x-csrf-token", "forged")
            .json(&create("repeated-token")),
    )
    .await;
    assert_eq!(repeated_token.status, StatusCode::FORBIDDEN);
    let sign_out = post_form(
        &server,
        "/dashboard/sign-out",
        "csrf=forged",
        &[("cookie", &session.cookie)],
    )
    .await;
    assert_eq!(sign_out.status, StatusCode::FORBIDDEN);
    assert!(room_names(&server).await.is_empty());

    // The same request from the dashboard's own page goes through, as the API's own call.
    let own = answer(
        session
            .script(&server, Method::POST, "/dashboard/api/v2/rooms")
            .json(&create("from-the-dashboard")),
    )
    .await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.text);
    assert_eq!(own.json()["name"], "from-the-dashboard");
    assert_eq!(room_names(&server).await, ["from-the-dashboard"]);
    // The cross-site request added no secret.
    let secrets = answer(session.script(&server, Method::GET, "/dashboard/workspace/secrets")).await;
    assert_eq!(secrets.json()["secrets"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn the_api_errors_pass_through_and_only_the_catalogue_is_reachable() {
    let server = TestServer::start();
    let session = sign_in(&server).await;
    let invalid = answer(
        session
            .script(&server, Method::POST, "/dashboard/api/v2/rooms")
            .json(&json!({"name": "bad name with spaces"})),
    )
    .await;
    let (status, direct) = server.post("/v2/rooms", json!({"name": "bad name with spaces"})).await;
    assert_eq!(invalid.status, status);
    assert_eq!(invalid.json(), direct);

    let mcp = answer(
        session
            .script(&server, Method::POST, "/dashboard/api/mcp")
            .json(&json!({})),
    )
    .await;
    assert_eq!(mcp.status, StatusCode::NOT_FOUND);
    assert_eq!(mcp.json()["details"], json!(["the API has no operation POST /mcp"]));
}

#[tokio::test]
async fn signing_out_ends_the_session() {
    let server = TestServer::start();
    let session = sign_in(&server).await;
    let signed_out = post_form(
        &server,
        "/dashboard/sign-out",
        &format!("csrf={}", session.csrf),
        &[("cookie", &session.cookie), ("origin", &server.base)],
    )
    .await;
    assert_eq!(signed_out.status, StatusCode::SEE_OTHER);
    assert_eq!(signed_out.header("location"), "/dashboard/sign-in");
    assert!(signed_out.header("set-cookie").contains("Max-Age=0"));
    let after = answer(session.script(&server, Method::GET, "/dashboard/api/v2/rooms")).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn failed_sign_ins_are_limited_per_client_address() {
    let temp = tempfile::tempdir().unwrap();
    let server = TestServer::start_node(temp.path(), &[], &[("HMS_DASHBOARD_SIGN_IN_LIMIT", "3")]);
    let wrong = format!("access_key={ACCESS_KEY}&secret=wrong");
    for _ in 0..3 {
        assert_eq!(
            post_form(&server, "/dashboard/sign-in", &wrong, &[]).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    // Past the limit, even the right secret is refused until the minute is over.
    let right = post_form(
        &server,
        "/dashboard/sign-in",
        &format!("access_key={ACCESS_KEY}&secret={SECRET}"),
        &[],
    )
    .await;
    assert_eq!(right.status, StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = right.header("retry-after").parse().unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert!(
        right.text.contains(&format!(
            "Too many failed sign-ins from your address. Try again in {retry_after} seconds."
        )),
        "{}",
        right.text
    );
    assert!(right.headers.get(SET_COOKIE).is_none());
}

#[tokio::test]
async fn generated_tokens_have_bounded_validity_and_work_against_the_api() {
    let server = TestServer::start();
    let session = sign_in(&server).await;
    let generate = |validity: i64| {
        session
            .script(&server, Method::POST, "/dashboard/workspace/token")
            .json(&json!({ "validity_secs": validity }))
    };
    for out_of_range in [59, 14 * 86400 + 1] {
        let refused = answer(generate(out_of_range)).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            refused.json()["details"],
            json!(["validity_secs must be a number of seconds from 60 to 1209600"])
        );
    }
    let generated = answer(generate(7 * 86400)).await;
    assert_eq!(generated.status, StatusCode::OK);
    let token = generated.json()["token"].as_str().unwrap().to_owned();
    let (status, _) = server.call_with(Method::GET, "/v2/rooms", None, Some(&token)).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn secrets_are_added_once_shown_and_the_last_one_is_never_retired() {
    let server = TestServer::start();
    let session = sign_in(&server).await;
    let list = answer(session.script(&server, Method::GET, "/dashboard/workspace/secrets")).await;
    let original = list.json()["secrets"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(list.json()["secrets"][0]["ends_with"], SECRET[SECRET.len() - 4..]);
    assert!(!list.text.contains(SECRET), "a listed secret is never shown whole");

    let retire = |id: &str| {
        session.script(
            &server,
            Method::POST,
            &format!("/dashboard/workspace/secrets/{id}/retire"),
        )
    };
    let last = answer(retire(&original)).await;
    assert_eq!(last.status, StatusCode::CONFLICT);
    assert_eq!(last.json()["message"], "The last app secret cannot be retired");

    let added = answer(session.script(&server, Method::POST, "/dashboard/workspace/secrets")).await;
    assert_eq!(added.status, StatusCode::OK);
    let new_secret = added.json()["secret"].as_str().unwrap().to_owned();
    let new_token = common::management_token(ACCESS_KEY, &new_secret);
    assert!(server.wait_for_token(&new_token, true, Duration::from_secs(5)).await);
    assert_eq!(answer(retire(&original)).await.status, StatusCode::OK);
    assert!(
        server
            .wait_for_token(&server.token(), false, Duration::from_secs(5))
            .await
    );
    // The session goes on, its calls now signed with the remaining secret.
    let rooms = answer(session.script(&server, Method::GET, "/dashboard/api/v2/rooms")).await;
    assert_eq!(rooms.status, StatusCode::OK);
}

#[tokio::test]
async fn behind_an_https_public_url_the_cookie_is_secure_and_the_snippets_use_that_url() {
    let temp = tempfile::tempdir().unwrap();
    let server = TestServer::start_node(temp.path(), &[], &[("HMS_PUBLIC_URL", "https://console.example.com")]);
    let signed_in = post_form(
        &server,
        "/dashboard/sign-in",
        &format!("access_key={ACCESS_KEY}&secret={SECRET}"),
        &[],
    )
    .await;
    assert!(
        signed_in
            .header("set-cookie")
            .ends_with("; HttpOnly; SameSite=Strict; Secure")
    );
    let cookie = signed_in.header("set-cookie").split(';').next().unwrap().to_owned();
    let developer = answer(
        browser()
            .get(server.url("/dashboard/developer"))
            .header(COOKIE, &cookie),
    )
    .await;
    // The template engine escapes `/` in HTML as `&#x2f;`.
    let text = developer.text.replace("&#x2f;", "/");
    assert!(text.contains("https://console.example.com/v2/rooms"), "{text}");
}

#[tokio::test]
async fn over_https_the_cookie_is_secure_and_failed_sign_ins_still_count() {
    let server = TestServer::start_with(&["--tls-self-signed"], &[("HMS_DASHBOARD_SIGN_IN_LIMIT", "1")]);
    let pem = std::fs::read(server.data_dir.join("tls/cert.pem")).expect("the self-signed certificate");
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let sign_in = |secret: &str| {
        client
            .post(server.url("/dashboard/sign-in"))
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(format!("access_key={ACCESS_KEY}&secret={secret}"))
    };
    let right = answer(sign_in(SECRET)).await;
    assert_eq!(right.status, StatusCode::SEE_OTHER);
    assert!(
        right
            .header("set-cookie")
            .ends_with("; HttpOnly; SameSite=Strict; Secure")
    );
    assert_eq!(answer(sign_in("wrong")).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer(sign_in(SECRET)).await.status, StatusCode::TOO_MANY_REQUESTS);
}
