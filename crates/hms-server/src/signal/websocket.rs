//! The server side of the WebSocket protocol (RFC 6455) for the signalling socket.
//!
//! Our own, small, because of two things the signalling peers need. A message is written
//! as one frame straight from the caller's text (header and payload in one vectored
//! write), so a socket keeps no buffer the size of the largest message it ever sent:
//! every newcomer to a large room is sent a `peer-list` of up to a few hundred kilobytes,
//! and a library that copies messages into a write buffer keeps that much per peer for
//! good. And [`WebSocket::recv`] is cancel-safe — a peer's task waits on its socket, its
//! room and its connections at once, and reading a frame must survive losing that race
//! at any point, which `fastwebsockets`' reader (it consumes a frame's header before its
//! payload has arrived) does not.
//!
//! No extension or subprotocol is negotiated; messages go out unfragmented; incoming
//! fragmented messages are put together, up to the same size limit as single frames.

use std::io::IoSlice;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use bytes::{Buf, Bytes, BytesMut};
use hyper_util::rt::TokioIo;
use sha1::{Digest, Sha1};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::error::ApiError;

/// The socket of an upgraded HTTP connection.
pub(super) type UpgradedSocket = WebSocket<TokioIo<hyper::upgrade::Upgraded>>;

/// What the key of an opening handshake is hashed with (RFC 6455, section 1.3).
const HANDSHAKE_GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Close codes (RFC 6455, section 7.4.1).
pub(super) const CLOSE_PROTOCOL_ERROR: u16 = 1002;
pub(super) const CLOSE_UNSUPPORTED: u16 = 1003;
pub(super) const CLOSE_INVALID_DATA: u16 = 1007;
pub(super) const CLOSE_POLICY: u16 = 1008;
pub(super) const CLOSE_TOO_BIG: u16 = 1009;

/// Control frames carry at most this much (RFC 6455, section 5.5).
const MAX_CONTROL_PAYLOAD: usize = 125;

const OPCODE_CONTINUATION: u8 = 0x0;
const OPCODE_TEXT: u8 = 0x1;
const OPCODE_BINARY: u8 = 0x2;
const OPCODE_CLOSE: u8 = 0x8;
const OPCODE_PING: u8 = 0x9;
const OPCODE_PONG: u8 = 0xA;

/// A request to open a WebSocket: its handshake checked, the connection not yet taken.
pub(super) struct Upgrade {
    accept: HeaderValue,
    on_upgrade: hyper::upgrade::OnUpgrade,
}

impl Upgrade {
    /// Answers `101 Switching Protocols`, and once the client has it, gives `ready` the
    /// socket.
    pub(super) fn on_upgrade<F, R>(self, settings: Settings, ready: F) -> Response
    where
        F: FnOnce(UpgradedSocket) -> R + Send + 'static,
        R: Future<Output = ()> + Send + 'static,
    {
        let on_upgrade = self.on_upgrade;
        tokio::spawn(async move {
            match on_upgrade.await {
                Ok(upgraded) => ready(WebSocket::new(TokioIo::new(upgraded), settings)).await,
                Err(error) => tracing::debug!(%error, "a WebSocket upgrade failed"),
            }
        });
        let mut response = StatusCode::SWITCHING_PROTOCOLS.into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        headers.insert(header::SEC_WEBSOCKET_ACCEPT, self.accept);
        response
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Upgrade {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let refused = || ApiError::bad_request("Expected a WebSocket upgrade").into_response();
        let headers = &parts.headers;
        let key = headers.get(header::SEC_WEBSOCKET_KEY).ok_or_else(refused)?;
        let asks_to_upgrade = has_token(headers, header::CONNECTION, "upgrade")
            && has_token(headers, header::UPGRADE, "websocket")
            && headers.get(header::SEC_WEBSOCKET_VERSION).map(HeaderValue::as_bytes) == Some(b"13");
        if !asks_to_upgrade {
            return Err(refused());
        }
        let accept = accept_key(key.as_bytes());
        let on_upgrade = parts
            .extensions
            .remove::<hyper::upgrade::OnUpgrade>()
            .ok_or_else(refused)?;
        Ok(Self { accept, on_upgrade })
    }
}

/// Whether a comma-separated header lists `token` (in any case).
fn has_token(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|listed| listed.trim().eq_ignore_ascii_case(token))
}

/// `Sec-WebSocket-Accept` for a client's `Sec-WebSocket-Key`.
fn accept_key(key: &[u8]) -> HeaderValue {
    let digest = Sha1::new().chain_update(key).chain_update(HANDSHAKE_GUID).finalize();
    let encoded = base64::engine::general_purpose::STANDARD.encode(digest);
    HeaderValue::from_str(&encoded).expect("base64 is a valid header value")
}

/// The limits of a socket.
#[derive(Debug, Clone, Copy)]
pub(super) struct Settings {
    /// Largest message a client may send, whole (fragments added up).
    pub max_message_bytes: usize,
    /// What the socket reserves to read into; a larger frame grows it while it arrives.
    pub read_buffer_bytes: usize,
}

/// What a client sent.
#[derive(Debug, PartialEq)]
pub(super) enum Incoming {
    /// A text message, its UTF-8 checked.
    Text(Bytes),
    Binary(Bytes),
    /// The client pings: it expects a [`WebSocket::pong`] with this payload.
    Ping(Bytes),
    Pong,
    /// The client closes (with its close code, if it gave one): it expects a close back.
    Close(Option<u16>),
}

/// Why a socket can read no further.
#[derive(Debug, thiserror::Error, PartialEq)]
pub(super) enum ReadError {
    #[error("the connection ended")]
    Ended,
    #[error("the client broke the protocol: {0}")]
    Protocol(&'static str),
    #[error("a message is larger than the limit")]
    TooBig,
    #[error("a text message is not UTF-8")]
    NotUtf8,
}

impl ReadError {
    /// The close code that tells the client, when it can still be told.
    pub(super) fn close_code(&self) -> Option<u16> {
        match self {
            Self::Ended => None,
            Self::Protocol(_) => Some(CLOSE_PROTOCOL_ERROR),
            Self::TooBig => Some(CLOSE_TOO_BIG),
            Self::NotUtf8 => Some(CLOSE_INVALID_DATA),
        }
    }
}

/// One frame's header, as read.
struct FrameHeader {
    fin: bool,
    opcode: u8,
    mask: [u8; 4],
    header_len: usize,
    payload_len: u64,
}

/// A message that arrives in fragments: its kind and what came so far.
struct Fragmented {
    text: bool,
    data: BytesMut,
}

/// A WebSocket over `stream`, on the server's side.
pub(super) struct WebSocket<S> {
    stream: S,
    settings: Settings,
    /// Bytes received and not yet taken as frames.
    received: BytesMut,
    /// Bytes still to skip: the payload of a frame refused for its size.
    skipping: u64,
    fragmented: Option<Fragmented>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> WebSocket<S> {
    pub(super) fn new(stream: S, settings: Settings) -> Self {
        Self {
            stream,
            settings,
            received: BytesMut::new(),
            skipping: 0,
            fragmented: None,
        }
    }

    /// The next message or control frame. Cancel-safe: what was read stays for the next
    /// call. After a [`ReadError::TooBig`] the refused payload is skipped, so the client's
    /// close can still be read.
    pub(super) async fn recv(&mut self) -> Result<Incoming, ReadError> {
        loop {
            if let Some(incoming) = self.take_frame()? {
                return Ok(incoming);
            }
            if self.received.capacity() == self.received.len() {
                self.received.reserve(self.settings.read_buffer_bytes);
            }
            match self.stream.read_buf(&mut self.received).await {
                Ok(0) | Err(_) => return Err(ReadError::Ended),
                Ok(_) => {}
            }
        }
    }

    /// Takes whole frames from what was received until one makes something to answer;
    /// `None` when more bytes are needed.
    fn take_frame(&mut self) -> Result<Option<Incoming>, ReadError> {
        loop {
            self.skip();
            if self.skipping > 0 {
                return Ok(None);
            }
            let Some(header) = parse_header(&self.received)? else {
                return Ok(None);
            };
            if header.payload_len > self.settings.max_message_bytes as u64 {
                self.received.advance(header.header_len);
                self.skipping = header.payload_len;
                return Err(ReadError::TooBig);
            }
            let payload_len = header.payload_len as usize;
            let frame_len = header.header_len + payload_len;
            if self.received.len() < frame_len {
                // Room for the rest of the frame, so that it is read in few calls.
                self.received.reserve(frame_len - self.received.len());
                return Ok(None);
            }
            let mut frame = self.received.split_to(frame_len);
            frame.advance(header.header_len);
            unmask(&mut frame, header.mask);
            if frame_len > self.settings.read_buffer_bytes {
                self.release_large_buffer();
            }
            if let Some(incoming) = self.frame(header.fin, header.opcode, frame)? {
                return Ok(Some(incoming));
            }
        }
    }

    fn skip(&mut self) {
        let skipped = self.skipping.min(self.received.len() as u64);
        self.received.advance(skipped as usize);
        self.skipping -= skipped;
    }

    /// Lets go of a buffer grown for a large frame once that frame is taken (what came
    /// after it, usually nothing, moves to a buffer of its own): else the allocation would
    /// be reused, and kept, by the next read.
    fn release_large_buffer(&mut self) {
        self.received = BytesMut::from(&self.received[..]);
    }

    /// What a whole frame makes: a message, a control frame, or nothing yet (a fragment).
    fn frame(&mut self, fin: bool, opcode: u8, payload: BytesMut) -> Result<Option<Incoming>, ReadError> {
        match opcode {
            OPCODE_TEXT | OPCODE_BINARY if self.fragmented.is_some() => {
                Err(ReadError::Protocol("a new message started inside a fragmented one"))
            }
            OPCODE_TEXT | OPCODE_BINARY if fin => message(opcode == OPCODE_TEXT, payload.freeze()).map(Some),
            OPCODE_TEXT | OPCODE_BINARY => {
                self.fragmented = Some(Fragmented {
                    text: opcode == OPCODE_TEXT,
                    data: payload,
                });
                Ok(None)
            }
            OPCODE_CONTINUATION => {
                let fragmented = self
                    .fragmented
                    .as_mut()
                    .ok_or(ReadError::Protocol("a continuation frame without a message"))?;
                if fragmented.data.len() + payload.len() > self.settings.max_message_bytes {
                    return Err(ReadError::TooBig);
                }
                fragmented.data.extend_from_slice(&payload);
                if !fin {
                    return Ok(None);
                }
                let whole = self.fragmented.take().expect("a fragmented message is open");
                message(whole.text, whole.data.freeze()).map(Some)
            }
            OPCODE_PING => Ok(Some(Incoming::Ping(payload.freeze()))),
            OPCODE_PONG => Ok(Some(Incoming::Pong)),
            OPCODE_CLOSE => close_code(&payload).map(|code| Some(Incoming::Close(code))),
            _ => Err(ReadError::Protocol("unknown opcode")),
        }
    }

    /// Sends `text` as one text message.
    pub(super) async fn send_text(&mut self, text: &str) -> std::io::Result<()> {
        self.write_frame(OPCODE_TEXT, text.as_bytes()).await
    }

    /// Answers a ping.
    pub(super) async fn pong(&mut self, payload: &[u8]) -> std::io::Result<()> {
        self.write_frame(OPCODE_PONG, payload).await
    }

    /// Sends a close frame: with `code` and `reason`, or empty. The reason is cut to what
    /// a control frame carries.
    pub(super) async fn send_close(&mut self, code: Option<u16>, reason: &str) -> std::io::Result<()> {
        let mut payload = Vec::new();
        if let Some(code) = code {
            payload.extend_from_slice(&code.to_be_bytes());
            payload.extend_from_slice(truncate_utf8(reason, MAX_CONTROL_PAYLOAD - 2).as_bytes());
        }
        self.write_frame(OPCODE_CLOSE, &payload).await
    }

    /// Writes one unmasked, final frame: its header and `payload` in one vectored write
    /// where the stream allows, without copying the payload.
    async fn write_frame(&mut self, opcode: u8, payload: &[u8]) -> std::io::Result<()> {
        let mut header = [0u8; 10];
        let header_len = write_header(&mut header, opcode, payload.len());
        let total = header_len + payload.len();
        let mut written = 0;
        while written < total {
            let parts = if written < header_len {
                [IoSlice::new(&header[written..header_len]), IoSlice::new(payload)]
            } else {
                [IoSlice::new(&payload[written - header_len..]), IoSlice::new(&[])]
            };
            match self.stream.write_vectored(&parts).await? {
                0 => return Err(std::io::ErrorKind::WriteZero.into()),
                count => written += count,
            }
        }
        self.stream.flush().await
    }
}

/// A whole message, its text checked.
fn message(text: bool, payload: Bytes) -> Result<Incoming, ReadError> {
    if !text {
        return Ok(Incoming::Binary(payload));
    }
    match std::str::from_utf8(&payload) {
        Ok(_) => Ok(Incoming::Text(payload)),
        Err(_) => Err(ReadError::NotUtf8),
    }
}

/// The code of a close frame's payload: none, or two bytes and a UTF-8 reason. Only codes
/// an endpoint may send are accepted, so that the one echoed back is valid too.
fn close_code(payload: &[u8]) -> Result<Option<u16>, ReadError> {
    match payload {
        [] => Ok(None),
        [_] => Err(ReadError::Protocol("a close frame of one byte")),
        [high, low, reason @ ..] => {
            let code = u16::from_be_bytes([*high, *low]);
            // 1004 is reserved; 1005, 1006 and 1015 only report what happened locally.
            if !matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999) {
                return Err(ReadError::Protocol("a close code that may not be sent"));
            }
            std::str::from_utf8(reason).map_err(|_| ReadError::NotUtf8)?;
            Ok(Some(code))
        }
    }
}

/// The header at the start of `received`, once it is all there. Clients must mask, may not
/// use the reserved bits (no extension is negotiated), and send control frames whole.
fn parse_header(received: &[u8]) -> Result<Option<FrameHeader>, ReadError> {
    let [first, second, rest @ ..] = received else {
        return Ok(None);
    };
    if first & 0x70 != 0 {
        return Err(ReadError::Protocol("reserved bits are set"));
    }
    if second & 0x80 == 0 {
        return Err(ReadError::Protocol("a client frame is not masked"));
    }
    let fin = first & 0x80 != 0;
    let opcode = first & 0x0F;
    let control = opcode & 0x8 != 0;
    if control && !fin {
        return Err(ReadError::Protocol("a fragmented control frame"));
    }
    let (payload_len, length_bytes) = match second & 0x7F {
        126 => match rest {
            [high, low, ..] => (u64::from(u16::from_be_bytes([*high, *low])), 2),
            _ => return Ok(None),
        },
        127 => match rest.first_chunk::<8>() {
            Some(bytes) => (u64::from_be_bytes(*bytes), 8),
            None => return Ok(None),
        },
        short => (u64::from(short), 0),
    };
    if control && payload_len > MAX_CONTROL_PAYLOAD as u64 {
        return Err(ReadError::Protocol("a control frame longer than 125 bytes"));
    }
    let Some(mask) = rest[length_bytes..].first_chunk::<4>() else {
        return Ok(None);
    };
    Ok(Some(FrameHeader {
        fin,
        opcode,
        mask: *mask,
        header_len: 2 + length_bytes + 4,
        payload_len,
    }))
}

/// Writes the header of an unmasked final frame into `header`: answers its length.
fn write_header(header: &mut [u8; 10], opcode: u8, payload_len: usize) -> usize {
    header[0] = 0x80 | opcode;
    match payload_len {
        0..=125 => {
            header[1] = payload_len as u8;
            2
        }
        126..=0xFFFF => {
            header[1] = 126;
            header[2..4].copy_from_slice(&(payload_len as u16).to_be_bytes());
            4
        }
        _ => {
            header[1] = 127;
            header[2..10].copy_from_slice(&(payload_len as u64).to_be_bytes());
            10
        }
    }
}

fn unmask(payload: &mut [u8], mask: [u8; 4]) {
    for (index, byte) in payload.iter_mut().enumerate() {
        *byte ^= mask[index % 4];
    }
}

/// The longest start of `text` of at most `max` bytes that ends on a character boundary.
fn truncate_utf8(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests;
