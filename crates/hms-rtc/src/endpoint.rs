//! The UDP socket and the task that drives every connection on it.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::channel::ChannelId;
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use crate::{Command, Connection, ConnectionEvent, ConnectionId, Reply, RtcError};

/// Largest datagram read; WebRTC keeps under the path MTU, far below this.
const MAX_DATAGRAM: usize = 2048;

/// The node's WebRTC endpoint: one UDP socket for every peer connection.
pub struct Endpoint {
    commands: mpsc::UnboundedSender<Command>,
    next_id: Arc<AtomicU64>,
    local_addr: SocketAddr,
}

impl Endpoint {
    /// Binds the UDP socket at `bind` and starts driving connections. Clients are told to
    /// reach it at `announce` (each with the socket's port).
    pub async fn bind(bind: SocketAddr, announce: Vec<IpAddr>) -> io::Result<Self> {
        let socket = UdpSocket::bind(bind).await?;
        let local_addr = socket.local_addr()?;
        let candidates = announce
            .into_iter()
            .map(|ip| SocketAddr::new(ip, local_addr.port()))
            .collect();
        let (commands, received) = mpsc::unbounded_channel();
        let driver = Driver {
            socket,
            local_addr,
            candidates,
            connections: HashMap::new(),
            by_source: HashMap::new(),
        };
        tokio::spawn(driver.run(received));
        Ok(Self {
            commands,
            next_id: Arc::new(AtomicU64::new(1)),
            local_addr,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// A new connection, and the receiver of what it tells.
    pub fn open(&self) -> (Connection, mpsc::UnboundedReceiver<ConnectionEvent>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (events, received) = mpsc::unbounded_channel();
        let _ = self.commands.send(Command::Open { id, events });
        let connection = Connection {
            id,
            commands: self.commands.clone(),
        };
        (connection, received)
    }
}

struct Driver {
    socket: UdpSocket,
    local_addr: SocketAddr,
    candidates: Vec<SocketAddr>,
    connections: HashMap<ConnectionId, Peer>,
    /// The connection each client address spoke to last, to route without asking all.
    by_source: HashMap<SocketAddr, ConnectionId>,
}

/// One connection's state.
struct Peer {
    rtc: Rtc,
    events: mpsc::UnboundedSender<ConnectionEvent>,
    /// When str0m next wants to be woken.
    wake_at: Instant,
    pending_offer: Option<SdpPendingOffer>,
    channels: HashMap<ChannelId, String>,
}

impl Driver {
    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        let mut buffer = vec![0u8; MAX_DATAGRAM];
        loop {
            let wake_at = self.next_wake();
            tokio::select! {
                received = self.socket.recv_from(&mut buffer) => match received {
                    Ok((length, source)) => self.receive(source, &buffer[..length]),
                    Err(error) => tracing::debug!(%error, "UDP receive failed"),
                },
                command = commands.recv() => match command {
                    Some(command) => self.apply(command),
                    // Every handle and the endpoint are gone: the server is stopping.
                    None => return,
                },
                _ = sleep_until(wake_at) => self.wake_due(),
            }
        }
    }

    fn next_wake(&self) -> Option<Instant> {
        self.connections.values().map(|peer| peer.wake_at).min()
    }

    fn receive(&mut self, source: SocketAddr, datagram: &[u8]) {
        let Ok(receive) = Receive::new(Protocol::Udp, source, self.local_addr, datagram) else {
            return;
        };
        let input = Input::Receive(Instant::now(), receive);
        let cached = self.by_source.get(&source).copied();
        let target = cached
            .filter(|id| self.connections.get(id).is_some_and(|peer| peer.rtc.accepts(&input)))
            .or_else(|| {
                self.connections
                    .iter()
                    .find(|(_, peer)| peer.rtc.accepts(&input))
                    .map(|(id, _)| *id)
            });
        let Some(id) = target else {
            return;
        };
        self.by_source.insert(source, id);
        if let Some(peer) = self.connections.get_mut(&id)
            && let Err(error) = peer.rtc.handle_input(input)
        {
            tracing::debug!(%error, "a connection refused a datagram");
        }
        self.drain(id);
    }

    fn wake_due(&mut self) {
        let now = Instant::now();
        let due: Vec<ConnectionId> = self
            .connections
            .iter()
            .filter(|(_, peer)| peer.wake_at <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            if let Some(peer) = self.connections.get_mut(&id) {
                let _ = peer.rtc.handle_input(Input::Timeout(now));
            }
            self.drain(id);
        }
    }

    fn apply(&mut self, command: Command) {
        match command {
            Command::Open { id, events } => self.open(id, events),
            Command::AcceptOffer { id, sdp, reply } => self.with(id, reply, |peer| accept_offer(peer, &sdp)),
            Command::Offer {
                id,
                channel,
                ice_restart,
                reply,
            } => self.with(id, reply, |peer| offer(peer, channel, ice_restart)),
            Command::AcceptAnswer { id, sdp, reply } => self.with(id, reply, |peer| accept_answer(peer, &sdp)),
            Command::SendText { id, label, text } => {
                if let Some(peer) = self.connections.get_mut(&id) {
                    send_text(peer, &label, &text);
                }
                self.drain(id);
            }
            Command::Close { id } => self.close(id),
        }
    }

    fn open(&mut self, id: ConnectionId, events: mpsc::UnboundedSender<ConnectionEvent>) {
        let mut rtc = Rtc::builder().set_ice_lite(true).build(Instant::now());
        for candidate in &self.candidates {
            match Candidate::host(*candidate, "udp") {
                Ok(candidate) => {
                    rtc.add_local_candidate(candidate);
                }
                Err(error) => tracing::warn!(%error, %candidate, "cannot announce this address"),
            }
        }
        let peer = Peer {
            rtc,
            events,
            wake_at: Instant::now(),
            pending_offer: None,
            channels: HashMap::new(),
        };
        self.connections.insert(id, peer);
        self.drain(id);
    }

    /// Runs one negotiation step on a connection and answers with its outcome.
    fn with<T>(&mut self, id: ConnectionId, reply: Reply<T>, step: impl FnOnce(&mut Peer) -> Result<T, RtcError>) {
        let outcome = match self.connections.get_mut(&id) {
            Some(peer) => step(peer),
            None => Err(RtcError::Closed),
        };
        let _ = reply.send(outcome);
        self.drain(id);
    }

    fn close(&mut self, id: ConnectionId) {
        if let Some(mut peer) = self.connections.remove(&id) {
            peer.rtc.disconnect();
            let _ = peer.events.send(ConnectionEvent::Closed);
        }
        self.by_source.retain(|_, owner| *owner != id);
    }

    /// Sends what the connection has to send and passes on what it has to tell, until it
    /// only waits for time to pass (str0m's rule after every change).
    fn drain(&mut self, id: ConnectionId) {
        let Some(peer) = self.connections.get_mut(&id) else {
            return;
        };
        loop {
            match peer.rtc.poll_output() {
                Ok(Output::Timeout(at)) => {
                    peer.wake_at = at;
                    break;
                }
                Ok(Output::Transmit(transmit)) => {
                    let _ = self.socket.try_send_to(&transmit.contents, transmit.destination);
                }
                Ok(Output::Event(event)) => tell(peer, event),
                Err(error) => {
                    tracing::debug!(%error, "a connection failed");
                    break;
                }
            }
        }
        if !peer.rtc.is_alive() {
            self.close(id);
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

fn accept_offer(peer: &mut Peer, sdp: &str) -> Result<String, RtcError> {
    let offer = SdpOffer::from_sdp_string(sdp).map_err(|e| RtcError::BadSdp(e.to_string()))?;
    // An offer from the client replaces any the server was waiting on (str0m drops it).
    peer.pending_offer = None;
    let answer = peer
        .rtc
        .sdp_api()
        .accept_offer(offer)
        .map_err(|e| RtcError::Negotiation(e.to_string()))?;
    Ok(answer.to_sdp_string())
}

fn offer(peer: &mut Peer, channel: Option<String>, ice_restart: bool) -> Result<String, RtcError> {
    let mut change = peer.rtc.sdp_api();
    if let Some(label) = channel {
        change.add_channel(label);
    }
    if ice_restart {
        change.ice_restart(true);
    }
    let (offer, pending) = change
        .apply()
        .ok_or_else(|| RtcError::Negotiation("nothing to negotiate".into()))?;
    peer.pending_offer = Some(pending);
    Ok(offer.to_sdp_string())
}

fn accept_answer(peer: &mut Peer, sdp: &str) -> Result<(), RtcError> {
    let answer = SdpAnswer::from_sdp_string(sdp).map_err(|e| RtcError::BadSdp(e.to_string()))?;
    let pending = peer.pending_offer.take().ok_or(RtcError::NoPendingOffer)?;
    peer.rtc
        .sdp_api()
        .accept_answer(pending, answer)
        .map_err(|e| RtcError::Negotiation(e.to_string()))
}

fn send_text(peer: &mut Peer, label: &str, text: &str) {
    let Some(id) = peer
        .channels
        .iter()
        .find(|(_, open)| open.as_str() == label)
        .map(|(id, _)| *id)
    else {
        return;
    };
    if let Some(mut channel) = peer.rtc.channel(id)
        && let Err(error) = channel.write(false, text.as_bytes())
    {
        tracing::debug!(%error, "could not write to a data channel");
    }
}

fn tell(peer: &mut Peer, event: Event) {
    let told = match event {
        Event::Connected => ConnectionEvent::Connected,
        Event::IceConnectionStateChange(IceConnectionState::Disconnected) => ConnectionEvent::Disconnected,
        Event::ChannelOpen(id, label) => {
            peer.channels.insert(id, label.clone());
            ConnectionEvent::ChannelOpen { label }
        }
        Event::ChannelData(data) if !data.binary => {
            let Some(label) = peer.channels.get(&data.id).cloned() else {
                return;
            };
            let Ok(text) = String::from_utf8(data.data) else {
                return;
            };
            ConnectionEvent::ChannelText { label, text }
        }
        Event::ChannelClose(id) => {
            peer.channels.remove(&id);
            return;
        }
        _ => return,
    };
    let _ = peer.events.send(told);
}
