//! The framing against raw bytes: what a client may send, what it may not, and what the
//! server writes.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

use super::*;

const SETTINGS: Settings = Settings {
    max_message_bytes: 1024,
    read_buffer_bytes: 64,
};
const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// A server socket and the client's end of its stream.
fn pair() -> (WebSocket<DuplexStream>, DuplexStream) {
    pair_with_capacity(1 << 20)
}

fn pair_with_capacity(capacity: usize) -> (WebSocket<DuplexStream>, DuplexStream) {
    let (server, client) = tokio::io::duplex(capacity);
    (WebSocket::new(server, SETTINGS), client)
}

/// A frame as a client writes it: masked with [`MASK`].
fn client_frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = vec![u8::from(fin) << 7 | opcode];
    match payload.len() {
        len @ 0..=125 => frame.push(0x80 | len as u8),
        len @ 126..=0xFFFF => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(&MASK);
    frame.extend(payload.iter().enumerate().map(|(index, byte)| byte ^ MASK[index % 4]));
    frame
}

async fn recv(socket: &mut WebSocket<DuplexStream>) -> Result<Incoming, ReadError> {
    tokio::time::timeout(Duration::from_secs(5), socket.recv())
        .await
        .expect("the socket answers in time")
}

/// Reads one frame the server wrote: its first byte and its payload.
async fn server_frame(client: &mut DuplexStream) -> (u8, Vec<u8>) {
    let first = client.read_u8().await.expect("a frame");
    let second = client.read_u8().await.expect("a frame");
    assert_eq!(second & 0x80, 0, "the server does not mask");
    let len = match second & 0x7F {
        126 => u64::from(client.read_u16().await.expect("a length")),
        127 => client.read_u64().await.expect("a length"),
        short => u64::from(short),
    };
    let mut payload = vec![0; len as usize];
    client.read_exact(&mut payload).await.expect("the payload");
    (first, payload)
}

#[tokio::test]
async fn a_masked_text_frame_is_a_text_message() {
    let (mut socket, mut client) = pair();
    client
        .write_all(&client_frame(true, OPCODE_TEXT, br#"{"method":"ping"}"#))
        .await
        .unwrap();
    assert_eq!(
        recv(&mut socket).await,
        Ok(Incoming::Text(Bytes::from_static(br#"{"method":"ping"}"#)))
    );
}

#[tokio::test]
async fn lengths_of_two_and_eight_bytes_are_read() {
    let (mut socket, mut client) = pair();
    let settings = Settings {
        max_message_bytes: 100_000,
        ..SETTINGS
    };
    socket.settings = settings;
    for len in [125, 126, 300, 65_535, 65_536, 99_999] {
        let text = "a".repeat(len);
        client
            .write_all(&client_frame(true, OPCODE_TEXT, text.as_bytes()))
            .await
            .unwrap();
        assert_eq!(
            recv(&mut socket).await,
            Ok(Incoming::Text(Bytes::from(text))),
            "{len} bytes"
        );
    }
}

#[tokio::test]
async fn a_fragmented_message_is_put_together_around_control_frames() {
    let (mut socket, mut client) = pair();
    // "é" is split between two fragments: only the whole message must be UTF-8.
    let text = "héllo".as_bytes();
    let mut frames = client_frame(false, OPCODE_TEXT, &text[..2]);
    frames.extend(client_frame(true, OPCODE_PING, b"are you there"));
    frames.extend(client_frame(false, OPCODE_CONTINUATION, &text[2..4]));
    frames.extend(client_frame(true, OPCODE_CONTINUATION, &text[4..]));
    client.write_all(&frames).await.unwrap();
    assert_eq!(
        recv(&mut socket).await,
        Ok(Incoming::Ping(Bytes::from_static(b"are you there")))
    );
    assert_eq!(recv(&mut socket).await, Ok(Incoming::Text(Bytes::from_static(text))));
}

#[tokio::test]
async fn binary_pong_and_close_frames_are_told() {
    let (mut socket, mut client) = pair();
    let mut frames = client_frame(true, OPCODE_BINARY, &[0, 159, 146, 150]);
    frames.extend(client_frame(true, OPCODE_PONG, b""));
    frames.extend(client_frame(true, OPCODE_CLOSE, b"\x03\xe8bye"));
    frames.extend(client_frame(true, OPCODE_CLOSE, b""));
    client.write_all(&frames).await.unwrap();
    assert_eq!(
        recv(&mut socket).await,
        Ok(Incoming::Binary(Bytes::from_static(&[0, 159, 146, 150])))
    );
    assert_eq!(recv(&mut socket).await, Ok(Incoming::Pong));
    assert_eq!(recv(&mut socket).await, Ok(Incoming::Close(Some(1000))));
    assert_eq!(recv(&mut socket).await, Ok(Incoming::Close(None)));
}

#[tokio::test]
async fn a_frame_over_the_limit_is_refused_and_skipped() {
    let (mut socket, mut client) = pair();
    let mut frames = client_frame(true, OPCODE_TEXT, &[b'a'; 1025]);
    frames.extend(client_frame(true, OPCODE_CLOSE, b"\x03\xe8"));
    client.write_all(&frames).await.unwrap();
    assert_eq!(recv(&mut socket).await, Err(ReadError::TooBig));
    assert_eq!(ReadError::TooBig.close_code(), Some(CLOSE_TOO_BIG));
    // The refused payload is skipped: the client's close after it is read.
    assert_eq!(recv(&mut socket).await, Ok(Incoming::Close(Some(1000))));
}

#[tokio::test]
async fn a_frame_at_the_limit_is_read() {
    let (mut socket, mut client) = pair();
    client
        .write_all(&client_frame(true, OPCODE_TEXT, &[b'a'; 1024]))
        .await
        .unwrap();
    assert!(matches!(recv(&mut socket).await, Ok(Incoming::Text(text)) if text.len() == 1024));
}

#[tokio::test]
async fn fragments_over_the_limit_together_are_refused() {
    let (mut socket, mut client) = pair();
    let mut frames = client_frame(false, OPCODE_TEXT, &[b'a'; 600]);
    frames.extend(client_frame(true, OPCODE_CONTINUATION, &[b'a'; 600]));
    client.write_all(&frames).await.unwrap();
    assert_eq!(recv(&mut socket).await, Err(ReadError::TooBig));
}

#[tokio::test]
async fn frames_against_the_protocol_are_refused() {
    let unmasked = {
        let mut frame = client_frame(true, OPCODE_TEXT, b"hi");
        frame[1] &= 0x7F;
        frame
    };
    let reserved_bit = {
        let mut frame = client_frame(true, OPCODE_TEXT, b"hi");
        frame[0] |= 0x40;
        frame
    };
    let continuation_alone = client_frame(true, OPCODE_CONTINUATION, b"hi");
    let message_inside_message = [
        client_frame(false, OPCODE_TEXT, b"h"),
        client_frame(true, OPCODE_TEXT, b"i"),
    ]
    .concat();
    let cases = [
        ("unmasked", unmasked),
        ("reserved bit", reserved_bit),
        ("fragmented ping", client_frame(false, OPCODE_PING, b"")),
        ("long ping", client_frame(true, OPCODE_PING, &[0; 126])),
        ("unknown opcode", client_frame(true, 0x3, b"")),
        ("continuation alone", continuation_alone),
        ("message inside a message", message_inside_message),
        ("close of one byte", client_frame(true, OPCODE_CLOSE, b"\x03")),
        (
            "close code 1005",
            client_frame(true, OPCODE_CLOSE, &1005u16.to_be_bytes()),
        ),
        (
            "close code 999",
            client_frame(true, OPCODE_CLOSE, &999u16.to_be_bytes()),
        ),
    ];
    for (case, bytes) in cases {
        let (mut socket, mut client) = pair();
        client.write_all(&bytes).await.unwrap();
        let refused = recv(&mut socket).await;
        assert!(matches!(refused, Err(ReadError::Protocol(_))), "{case}: {refused:?}");
        assert_eq!(refused.unwrap_err().close_code(), Some(CLOSE_PROTOCOL_ERROR));
    }
}

#[tokio::test]
async fn text_that_is_not_utf8_is_refused() {
    let cases = [
        client_frame(true, OPCODE_TEXT, b"\xff\xfe"),
        [
            client_frame(false, OPCODE_TEXT, b"ok "),
            client_frame(true, OPCODE_CONTINUATION, b"\xc3"),
        ]
        .concat(),
        client_frame(true, OPCODE_CLOSE, b"\x03\xe8\xff"),
    ];
    for bytes in cases {
        let (mut socket, mut client) = pair();
        client.write_all(&bytes).await.unwrap();
        assert_eq!(recv(&mut socket).await, Err(ReadError::NotUtf8));
    }
    assert_eq!(ReadError::NotUtf8.close_code(), Some(CLOSE_INVALID_DATA));
}

#[tokio::test]
async fn the_end_of_the_stream_ends_the_socket() {
    let (mut socket, mut client) = pair();
    // Half a frame, then the end.
    client
        .write_all(&client_frame(true, OPCODE_TEXT, b"hello")[..4])
        .await
        .unwrap();
    drop(client);
    assert_eq!(recv(&mut socket).await, Err(ReadError::Ended));
    assert_eq!(ReadError::Ended.close_code(), None);
}

#[tokio::test]
async fn a_read_given_up_half_way_loses_nothing() {
    let (mut socket, mut client) = pair();
    let frame = client_frame(true, OPCODE_TEXT, &[b'x'; 300]);
    // The header and part of the payload arrive; the read is abandoned before the rest.
    for chunk in [&frame[..3], &frame[3..9], &frame[9..100]] {
        client.write_all(chunk).await.unwrap();
        let abandoned = tokio::time::timeout(Duration::from_millis(20), socket.recv()).await;
        assert!(abandoned.is_err(), "the frame is not whole yet");
    }
    client.write_all(&frame[100..]).await.unwrap();
    assert_eq!(
        recv(&mut socket).await,
        Ok(Incoming::Text(Bytes::from(vec![b'x'; 300])))
    );
}

#[tokio::test]
async fn a_buffer_grown_for_a_large_frame_is_not_kept() {
    let (mut socket, mut client) = pair();
    client
        .write_all(&client_frame(true, OPCODE_TEXT, &[b'a'; 1000]))
        .await
        .unwrap();
    let text = recv(&mut socket).await.unwrap();
    drop(text);
    assert!(socket.received.capacity() <= SETTINGS.read_buffer_bytes);
    client.write_all(&client_frame(true, OPCODE_PONG, b"")).await.unwrap();
    assert_eq!(recv(&mut socket).await, Ok(Incoming::Pong));
    assert!(socket.received.capacity() <= SETTINGS.read_buffer_bytes);
}

#[tokio::test]
async fn messages_are_sent_whole_in_one_unmasked_frame() {
    let (mut socket, mut client) = pair();
    for len in [0, 125, 126, 65_535, 65_536, 300_000] {
        let text = "b".repeat(len);
        socket.send_text(&text).await.unwrap();
        let (first, payload) = server_frame(&mut client).await;
        assert_eq!(first, 0x80 | OPCODE_TEXT, "{len} bytes: final text frame");
        assert_eq!(payload, text.as_bytes(), "{len} bytes");
    }
}

#[tokio::test]
async fn a_large_message_gets_through_a_slow_stream() {
    // The stream takes 100 bytes at a time: the write resumes where each one stopped.
    let (mut socket, mut client) = pair_with_capacity(100);
    let text: String = (0..200_000)
        .map(|index| char::from(b'a' + (index % 26) as u8))
        .collect();
    let reader = tokio::spawn(async move { server_frame(&mut client).await });
    socket.send_text(&text).await.unwrap();
    let (first, payload) = reader.await.unwrap();
    assert_eq!(first, 0x80 | OPCODE_TEXT);
    assert_eq!(payload, text.as_bytes());
}

#[tokio::test]
async fn pongs_and_closes_are_written() {
    let (mut socket, mut client) = pair();
    socket.pong(b"are you there").await.unwrap();
    assert_eq!(
        server_frame(&mut client).await,
        (0x80 | OPCODE_PONG, b"are you there".to_vec())
    );
    socket.send_close(None, "ignored without a code").await.unwrap();
    assert_eq!(server_frame(&mut client).await, (0x80 | OPCODE_CLOSE, Vec::new()));
    // A long reason is cut, on a character boundary, to fit a control frame.
    let reason = "é".repeat(100);
    socket.send_close(Some(CLOSE_POLICY), &reason).await.unwrap();
    let (first, payload) = server_frame(&mut client).await;
    assert_eq!(first, 0x80 | OPCODE_CLOSE);
    assert_eq!(payload[..2], 1008u16.to_be_bytes());
    assert_eq!(payload.len(), 2 + 122);
    assert!(std::str::from_utf8(&payload[2..]).is_ok());
}

#[test]
fn the_accept_key_is_the_one_of_the_rfc() {
    // RFC 6455, section 1.3.
    assert_eq!(accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}
