//! Overload and slow clients (issue 17): past `max_requests_in_flight` a request is
//! refused at once with 503 and `Retry-After`; headers and bodies that do not arrive in
//! time, and requests not done in time, are cut off; connections past the cap wait.

mod common;

use std::time::{Duration, Instant};

use common::{TestServer, envelope, send};
use reqwest::{Method, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn addr(server: &TestServer) -> String {
    server.base.trim_start_matches("http://").to_owned()
}

/// Opens a connection and sends the head of `POST /v2/rooms` announcing a 2-byte body,
/// and its first byte only: the request is in flight until the second arrives.
async fn half_sent_create(server: &TestServer) -> TcpStream {
    let mut stream = TcpStream::connect(addr(server)).await.unwrap();
    let head = format!(
        "POST /v2/rooms HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{{",
        server.token()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream
}

/// Reads what the server sends until it closes the connection or `within` passes;
/// answers the text and whether the server closed.
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> (String, bool) {
    let mut seen = Vec::new();
    let mut buffer = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&seen).into_owned(), true),
            Ok(Ok(n)) => seen.extend_from_slice(&buffer[..n]),
            Err(_) => return (String::from_utf8_lossy(&seen).into_owned(), false),
        }
    }
}

fn status_line(response: &str) -> &str {
    response.lines().next().unwrap_or_default()
}

fn json_body(response: &str) -> serde_json::Value {
    let body = response.split("\r\n\r\n").nth(1).expect("a body");
    serde_json::from_str(body.trim()).expect("a JSON body")
}

#[tokio::test]
async fn past_the_requests_in_flight_a_request_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_in(dir.path(), &["--max-requests-in-flight", "2"]);
    let mut held = vec![half_sent_create(&server).await, half_sent_create(&server).await];

    // Once both are in flight, a third request is refused without waiting.
    let deadline = Instant::now() + Duration::from_secs(10);
    let refused = loop {
        let started = Instant::now();
        let reply = send(server.request(Method::GET, "/v2/rooms").bearer_auth(server.token())).await;
        if reply.status == StatusCode::SERVICE_UNAVAILABLE {
            assert!(started.elapsed() < Duration::from_secs(1), "refused at once");
            break reply;
        }
        assert_eq!(reply.status, StatusCode::OK);
        assert!(Instant::now() < deadline, "the held requests never filled the server");
        // A held request that reached the server while a probe was in flight was refused
        // itself: hold another in its place.
        for stream in &mut held {
            let mut buffer = [0u8; 1024];
            if let Ok(n) = stream.try_read(&mut buffer)
                && n > 0
            {
                let text = String::from_utf8_lossy(&buffer[..n]).into_owned();
                assert_eq!(status_line(&text), "HTTP/1.1 503 Service Unavailable", "{text}");
                *stream = half_sent_create(&server).await;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(refused.headers["retry-after"], "1");
    assert_eq!(
        refused.body,
        envelope(
            503,
            "Server overloaded",
            &["more than 2 requests are in flight; retry after 1 s"]
        )
    );

    // The held requests finish normally, and then there is room again.
    for stream in &mut held {
        stream.write_all(b"}").await.unwrap();
        let mut buffer = [0u8; 4096];
        let n = stream.read(&mut buffer).await.unwrap();
        let text = String::from_utf8_lossy(&buffer[..n]).into_owned();
        assert_eq!(status_line(&text), "HTTP/1.1 200 OK", "{text}");
    }
    let after = send(server.request(Method::GET, "/v2/rooms").bearer_auth(server.token())).await;
    assert_eq!(after.status, StatusCode::OK);
    assert_eq!(
        after.body["data"].as_array().map(Vec::len),
        Some(2),
        "the two held requests made rooms"
    );
}

#[tokio::test]
async fn headers_that_do_not_arrive_in_time_close_the_connection() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_in(dir.path(), &["--header-read-timeout-ms", "300"]);
    let mut stream = TcpStream::connect(addr(&server)).await.unwrap();
    stream.write_all(b"GET /v2/rooms HTTP/1.1\r\nHost: te").await.unwrap();
    let started = Instant::now();
    let (_, closed) = read_until_closed(&mut stream, Duration::from_secs(10)).await;
    assert!(closed, "the server kept a slow-loris connection open");
    assert!(started.elapsed() >= Duration::from_millis(250), "not before the limit");
    // Other clients are served meanwhile and after.
    assert_eq!(server.get("/v2/rooms").await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_body_that_does_not_arrive_in_time_is_refused_with_408() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_in(dir.path(), &["--body-read-timeout-ms", "300"]);
    let mut stream = half_sent_create(&server).await;
    let (response, _) = read_until_closed(&mut stream, Duration::from_secs(10)).await;
    assert_eq!(status_line(&response), "HTTP/1.1 408 Request Timeout", "{response}");
    assert_eq!(
        json_body(&response),
        envelope(408, "Request body too slow", &["the body must arrive within 300 ms"])
    );
    let rooms = server.get("/v2/rooms").await.1;
    assert_eq!(rooms["data"].as_array().map(Vec::len), Some(0), "nothing was created");
}

#[tokio::test]
async fn a_request_not_done_in_time_answers_503() {
    // The body limit is longer than the request's: the request's runs out first.
    let server = TestServer::start_with(&["--request-timeout-ms", "300", "--body-read-timeout-ms", "60000"], &[]);
    let mut stream = half_sent_create(&server).await;
    let (response, _) = read_until_closed(&mut stream, Duration::from_secs(10)).await;
    assert_eq!(status_line(&response), "HTTP/1.1 503 Service Unavailable", "{response}");
    assert!(
        response.to_ascii_lowercase().contains("retry-after: 1\r\n"),
        "{response}"
    );
    assert_eq!(
        json_body(&response),
        envelope(503, "Request timed out", &["the request was not done within 300 ms"])
    );
}

#[tokio::test]
async fn connections_past_the_cap_wait_for_one_to_close() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_in(dir.path(), &["--max-connections", "2"]);
    // Two kept-alive connections, each having made a request: both are accepted.
    let mut open = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(addr(&server)).await.unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
            .await
            .unwrap();
        let mut buffer = [0u8; 1024];
        let n = stream.read(&mut buffer).await.unwrap();
        assert!(String::from_utf8_lossy(&buffer[..n]).starts_with("HTTP/1.1 200 OK"));
        open.push(stream);
    }
    // A third waits in the backlog until one of the two closes.
    let waiting = tokio::spawn({
        let addr = addr(&server);
        async move {
            let mut stream = TcpStream::connect(addr).await.unwrap();
            stream
                .write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
                .await
                .unwrap();
            let mut text = String::new();
            stream.read_to_string(&mut text).await.unwrap();
            (Instant::now(), text)
        }
    });
    // Give an uncapped server ample time to answer it; the proof is the order below.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let closed_at = Instant::now();
    drop(open.pop());
    let (answered_at, text) = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("served once a connection closed")
        .unwrap();
    assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
    assert!(answered_at >= closed_at, "the third connection was served past the cap");
}
