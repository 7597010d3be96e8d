//! One keep-alive HTTP/1.1 connection, driven straight through hyper's connection API so
//! that the load generator spends as little CPU per request as it can: the server under
//! test shares the machine's cores with it.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Longest a single request may take before it counts as failed (and its connection is
/// replaced): keeps every loop of the load generator bounded in time.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Conn {
    sender: SendRequest<Full<Bytes>>,
    host: HeaderValue,
}

/// A request that did not get an answer: the connection is not usable any more.
#[derive(Debug)]
pub struct Transport(pub String);

pub struct Answer {
    pub status: StatusCode,
    pub body: Bytes,
}

impl Conn {
    pub async fn open(addr: SocketAddr) -> Result<Self, Transport> {
        let stream = tokio::time::timeout(REQUEST_TIMEOUT, TcpStream::connect(addr))
            .await
            .map_err(|_| Transport("connect timed out".into()))?
            .map_err(|e| Transport(format!("connect: {e}")))?;
        stream.set_nodelay(true).map_err(|e| Transport(e.to_string()))?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| Transport(format!("handshake: {e}")))?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Self {
            sender,
            host: HeaderValue::from_str(&addr.to_string()).expect("an address is a valid header"),
        })
    }

    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        auth: Option<&HeaderValue>,
        json: Option<Bytes>,
    ) -> Result<Answer, Transport> {
        let request = self.request(method, path, auth, json)?;
        tokio::time::timeout(REQUEST_TIMEOUT, self.exchange(request))
            .await
            .map_err(|_| Transport(format!("no answer within {} s", REQUEST_TIMEOUT.as_secs())))?
    }

    fn request(
        &self,
        method: Method,
        path: &str,
        auth: Option<&HeaderValue>,
        json: Option<Bytes>,
    ) -> Result<Request<Full<Bytes>>, Transport> {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, self.host.clone());
        if let Some(auth) = auth {
            request = request.header(AUTHORIZATION, auth.clone());
        }
        let body = match json {
            Some(json) => {
                request = request.header(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                Full::new(json)
            }
            None => Full::new(Bytes::new()),
        };
        request.body(body).map_err(|e| Transport(format!("request: {e}")))
    }

    async fn exchange(&mut self, request: Request<Full<Bytes>>) -> Result<Answer, Transport> {
        self.sender
            .ready()
            .await
            .map_err(|e| Transport(format!("connection closed: {e}")))?;
        let response = self
            .sender
            .send_request(request)
            .await
            .map_err(|e| Transport(format!("send: {e}")))?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| Transport(format!("body: {e}")))?
            .to_bytes();
        Ok(Answer { status, body })
    }
}
