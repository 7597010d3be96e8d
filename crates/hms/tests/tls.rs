//! HTTPS on the one listener: a self-signed certificate made once and kept in the data
//! dir, or a certificate from files; every endpoint served over it.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::TestServer;
use reqwest::StatusCode;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

fn trusting(certificate_pem: &[u8]) -> reqwest::Client {
    let certificate = reqwest::Certificate::from_pem(certificate_pem).expect("a PEM certificate");
    reqwest::Client::builder()
        .add_root_certificate(certificate)
        .build()
        .expect("client")
}

async fn get(client: &reqwest::Client, url: &str, token: Option<&str>) -> (StatusCode, String) {
    let mut request = client.get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("request over HTTPS");
    let status = response.status();
    (status, response.text().await.expect("body"))
}

#[tokio::test]
async fn a_self_signed_certificate_is_made_once_and_serves_every_endpoint() {
    let data = tempfile::tempdir().unwrap();
    let mut server = TestServer::start_in(data.path(), &["--tls-self-signed", "--tls-name", "meet.internal"]);
    assert!(server.base.starts_with("https://127.0.0.1:"), "{}", server.base);
    let pem = std::fs::read(data.path().join("tls/cert.pem")).expect("the certificate is kept in the data dir");
    let key_mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(data.path().join("tls/key.pem"))
            .unwrap()
            .permissions(),
    );
    assert_eq!(key_mode & 0o077, 0, "the key is readable by its owner only");
    let client = trusting(&pem);
    let (status, _) = get(&client, &server.url("/healthz"), None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = get(&client, &server.url("/v2/rooms"), Some(&server.token())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = get(&client, &server.url("/docs"), None).await;
    assert_eq!(status, StatusCode::OK);

    // Restarted on the same data dir, it serves the same certificate: a browser told to
    // trust it keeps trusting it.
    server.terminate();
    let server = TestServer::start_in(data.path(), &["--tls-self-signed", "--tls-name", "meet.internal"]);
    assert_eq!(std::fs::read(data.path().join("tls/cert.pem")).unwrap(), pem);
    let (status, _) = get(&client, &server.url("/healthz"), None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_certificate_from_files_is_served_and_plain_http_is_refused() {
    // Make a certificate with one server, then serve it from files with another.
    let made = tempfile::tempdir().unwrap();
    drop(TestServer::start_in(made.path(), &["--tls-self-signed"]));
    let (cert, key) = (made.path().join("tls/cert.pem"), made.path().join("tls/key.pem"));
    let data = tempfile::tempdir().unwrap();
    let server = TestServer::start_in(
        data.path(),
        &["--tls-cert", cert.to_str().unwrap(), "--tls-key", key.to_str().unwrap()],
    );
    let client = trusting(&std::fs::read(&cert).unwrap());
    let (status, _) = get(&client, &server.url("/healthz"), None).await;
    assert_eq!(status, StatusCode::OK);
    let plain = server.base.replacen("https://", "http://", 1);
    assert!(
        reqwest::get(format!("{plain}/healthz")).await.is_err(),
        "plain HTTP is not served"
    );
}

#[tokio::test]
async fn half_open_tls_handshakes_count_against_the_connection_cap_and_time_out() {
    let server = TestServer::start_with(
        &[
            "--tls-self-signed",
            "--max-connections",
            "2",
            "--header-read-timeout-ms",
            "1500",
        ],
        &[],
    );
    let client = trusting(&std::fs::read(server.data_dir.join("tls/cert.pem")).unwrap());
    let addr = server.base.trim_start_matches("https://").to_owned();
    // Two connections that never begin their handshake take both places.
    let opened = Instant::now();
    let mut silent = Vec::new();
    for _ in 0..2 {
        silent.push(TcpStream::connect(&addr).await.unwrap());
    }
    // A real client waits behind them until the handshake time limit cuts one off.
    let (status, _) = get(&client, &server.url("/healthz"), None).await;
    let answered_after = opened.elapsed();
    assert_eq!(status, StatusCode::OK);
    assert!(
        answered_after >= Duration::from_millis(1200),
        "served past the cap, {answered_after:?} after the half-open handshakes"
    );
    // The server closed both silent connections (at the limit, not before).
    for stream in &mut silent {
        let mut buffer = [0u8; 64];
        let read = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buffer)).await;
        assert!(
            matches!(read, Ok(Ok(0)) | Ok(Err(_))),
            "a half-open handshake was kept: {read:?}"
        );
    }
    assert!(opened.elapsed() >= Duration::from_millis(1400));
}

#[test]
fn half_a_tls_configuration_is_refused_at_start() {
    let data = tempfile::tempdir().unwrap();
    let missing = Path::new("/nonexistent/cert.pem");
    for args in [
        vec!["--tls-cert", "/nonexistent/cert.pem"],
        vec![
            "--tls-cert",
            missing.to_str().unwrap(),
            "--tls-key",
            "/nonexistent/key.pem",
        ],
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_hms"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data.path())
            .args(&args)
            .output()
            .expect("hms runs");
        assert!(!output.status.success(), "{args:?} must not start");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("tls_cert and tls_key") || stderr.contains("cannot read /nonexistent/cert.pem"),
            "{args:?}: {stderr}"
        );
    }
}
