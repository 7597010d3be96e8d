//! Datagrams read ahead of the driver, so that a connection being set up is served
//! before media that is only forwarded.
//!
//! The endpoint's one task both sets up connections and forwards media. A publisher's
//! keyframe is tens of packets, each written to every subscriber: at 200 subscribers
//! that is a hundred milliseconds of work, and the kernel queues datagrams in arrival
//! order, so an ICE check or a DTLS flight that arrived meanwhile used to wait it out, and
//! a join took every such wait of each handshake step. The driver now reads what the
//! socket holds before each round of its work, and the handshakes read take their own
//! slice of every round: one waits for at most a round, a few milliseconds.

use std::collections::VecDeque;
use std::io;
use std::net::{SocketAddr, UdpSocket};

/// Largest datagram read; WebRTC keeps under the path MTU, far below this.
const MAX_DATAGRAM: usize = 2048;
/// Datagrams held read but not yet handled; past this they wait in the kernel's buffer.
const MAX_HELD: usize = 4096;

/// One datagram as it arrived.
pub(crate) struct Datagram {
    pub source: SocketAddr,
    pub bytes: Vec<u8>,
}

pub(crate) struct Inbox {
    /// A second descriptor of the endpoint's socket: each read is a real `recvfrom`, where
    /// tokio's `try_recv_from` would answer from readiness its reactor may not have updated
    /// while this task was busy.
    reader: UdpSocket,
    buffer: Box<[u8; MAX_DATAGRAM]>,
    /// STUN and DTLS (the handshakes, and the data channels over DTLS).
    handshakes: VecDeque<Datagram>,
    /// RTP and RTCP.
    media: VecDeque<Datagram>,
}

impl Inbox {
    pub fn new(reader: UdpSocket) -> Self {
        Self {
            reader,
            buffer: Box::new([0; MAX_DATAGRAM]),
            handshakes: VecDeque::new(),
            media: VecDeque::new(),
        }
    }

    /// Reads every datagram the socket holds (up to what the inbox may hold). Ends with
    /// `WouldBlock` when the socket is empty, which tells tokio's `try_io` to wait for the
    /// next readiness.
    pub fn read_available(&mut self) -> io::Result<()> {
        while self.handshakes.len() + self.media.len() < MAX_HELD {
            match self.reader.recv_from(&mut self.buffer[..]) {
                Ok((length, source)) => self.hold(source, length),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return Err(error),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => {
                    tracing::debug!(%error, "UDP receive failed");
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    fn hold(&mut self, source: SocketAddr, length: usize) {
        let bytes = self.buffer[..length].to_vec();
        let queue = match bytes.first() {
            Some(first) if is_media(*first) => &mut self.media,
            Some(_) => &mut self.handshakes,
            None => return,
        };
        queue.push_back(Datagram { source, bytes });
    }

    pub fn next_handshake(&mut self) -> Option<Datagram> {
        self.handshakes.pop_front()
    }

    pub fn next_media(&mut self) -> Option<Datagram> {
        self.media.pop_front()
    }
}

/// RTP and RTCP start with version 2 (first byte 128–191, RFC 7983); STUN starts with 0–3
/// and DTLS with 20–63.
fn is_media(first: u8) -> bool {
    (128..=191).contains(&first)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (UdpSocket, Inbox) {
        let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
        receiver.set_nonblocking(true).unwrap();
        let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
        sender.connect(receiver.local_addr().unwrap()).unwrap();
        (sender, Inbox::new(receiver))
    }

    /// Waits until the kernel has delivered `count` datagrams to the inbox.
    fn read(inbox: &mut Inbox, count: usize) {
        for _ in 0..1000 {
            let _ = inbox.read_available();
            if inbox.handshakes.len() + inbox.media.len() >= count {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        panic!("the datagrams did not arrive");
    }

    #[test]
    fn handshakes_come_before_media_that_arrived_earlier() {
        let (sender, mut inbox) = pair();
        let rtp = [0x80, 96, 0, 1];
        let rtcp = [0x81, 200, 0, 6];
        let stun = [0x00, 0x01, 0, 0];
        let dtls = [22, 0xfe, 0xfd, 0];
        for datagram in [&rtp[..], &rtcp, &stun, &dtls] {
            sender.send(datagram).unwrap();
        }
        read(&mut inbox, 4);
        assert_eq!(inbox.next_handshake().unwrap().bytes, stun);
        assert_eq!(inbox.next_handshake().unwrap().bytes, dtls);
        assert!(inbox.next_handshake().is_none());
        assert_eq!(inbox.next_media().unwrap().bytes, rtp);
        assert_eq!(inbox.next_media().unwrap().bytes, rtcp);
        assert!(inbox.next_media().is_none());
        let source = sender.local_addr().unwrap();
        sender.send(&stun).unwrap();
        read(&mut inbox, 1);
        assert_eq!(inbox.next_handshake().unwrap().source, source);
    }

    #[test]
    fn an_empty_socket_reads_as_would_block() {
        let (_sender, mut inbox) = pair();
        let error = inbox.read_available().unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::WouldBlock);
    }
}
