//! The UDP socket and the task that drives every connection on it, and forwards media
//! between them.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use str0m::config::DtlsCert;
use str0m::media::{KeyframeRequestKind, MediaData, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, RtcConfig};
use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use crate::forward::{Loudness, Sink, Source};
use crate::inbox::Inbox;
use crate::link::{Incoming, Link, SentTrack};
use crate::{Command, Connection, ConnectionEvent, ConnectionId, MediaKind, OfferRequest, Reply, RtcError, TrackKey};

/// The socket's kernel buffers: a keyframe forwarded to hundreds of subscribers is a burst
/// of thousands of datagrams, and the default (about 200 KiB) would drop most of it.
const SOCKET_BUFFER: usize = 8 << 20;
/// Datagrams held while the kernel's send buffer is full; beyond this they are dropped,
/// as a full network link would drop them.
const MAX_BACKLOG: usize = 65_536;
/// How long the loop spends on one kind of work before it turns to the next (and looks for
/// handshakes again): long enough to spread the cost of looking, short against a
/// handshake's round trip.
const SLICE: Duration = Duration::from_millis(1);

/// The node's WebRTC endpoint: one UDP socket for every peer connection.
pub struct Endpoint {
    commands: mpsc::UnboundedSender<Command>,
    next_id: Arc<AtomicU64>,
    local_addr: SocketAddr,
    counters: Arc<Counters>,
}

/// What the endpoint holds and has forwarded, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RtcStats {
    /// Open peer connections, publish and subscribe.
    pub connections: u64,
    /// Tracks published on this node.
    pub published_tracks: u64,
    /// Subscribe sections tracks are written to.
    pub forwarded_tracks: u64,
    /// Of those, the ones their subscriber paused (a hidden video, a muted remote audio).
    pub paused_tracks: u64,
    /// Media frames and their bytes written to subscribers, since the start.
    pub forwarded_frames: u64,
    pub forwarded_bytes: u64,
}

#[derive(Default)]
struct Counters {
    connections: AtomicU64,
    published_tracks: AtomicU64,
    forwarded_tracks: AtomicU64,
    paused_tracks: AtomicU64,
    forwarded_frames: AtomicU64,
    forwarded_bytes: AtomicU64,
}

impl Endpoint {
    /// Binds the UDP socket at `bind` and starts driving connections. Clients are told to
    /// reach it at `announce` (each with the socket's port).
    pub async fn bind(bind: SocketAddr, announce: Vec<IpAddr>) -> io::Result<Self> {
        let (socket, reader) = bind_socket(bind)?;
        let local_addr = socket.local_addr()?;
        let candidates = announce
            .into_iter()
            .map(|ip| SocketAddr::new(ip, local_addr.port()))
            .collect();
        let (commands, received) = mpsc::unbounded_channel();
        let counters = Arc::new(Counters::default());
        let driver = Driver::new(socket, reader, local_addr, candidates, counters.clone());
        tokio::spawn(driver.run(received));
        Ok(Self {
            commands,
            next_id: Arc::new(AtomicU64::new(1)),
            local_addr,
            counters,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// A new connection of the peer `owner`, and the receiver of what it tells.
    pub fn open(&self, owner: &str) -> (Connection, mpsc::UnboundedReceiver<ConnectionEvent>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (events, received) = mpsc::unbounded_channel();
        let _ = self.commands.send(Command::Open {
            id,
            owner: owner.to_owned(),
            events,
        });
        let connection = Connection {
            id,
            commands: self.commands.clone(),
        };
        (connection, received)
    }

    /// A reader of the endpoint's figures, for metrics.
    pub fn stats(&self) -> StatsSource {
        StatsSource(self.counters.clone())
    }
}

/// Reads an endpoint's figures at any time, from any thread.
#[derive(Clone)]
pub struct StatsSource(Arc<Counters>);

impl StatsSource {
    pub fn read(&self) -> RtcStats {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        RtcStats {
            connections: read(&self.0.connections),
            published_tracks: read(&self.0.published_tracks),
            forwarded_tracks: read(&self.0.forwarded_tracks),
            paused_tracks: read(&self.0.paused_tracks),
            forwarded_frames: read(&self.0.forwarded_frames),
            forwarded_bytes: read(&self.0.forwarded_bytes),
        }
    }
}

struct Driver {
    socket: UdpSocket,
    local_addr: SocketAddr,
    candidates: Vec<SocketAddr>,
    connections: HashMap<ConnectionId, Link>,
    /// The connection each client address spoke to last, to route without asking all.
    by_source: HashMap<SocketAddr, ConnectionId>,
    /// Every track published on this node.
    sources: HashMap<TrackKey, Source>,
    /// When each connection wants to be woken, soonest first; an entry that no longer
    /// matches its connection's `wake_at` is stale and skipped.
    timers: BinaryHeap<Reverse<(Instant, ConnectionId)>>,
    /// Datagrams waiting for room in the kernel's send buffer, in order.
    backlog: VecDeque<(Vec<u8>, SocketAddr)>,
    /// Subscribers written to and not yet drained: the loop drains them a slice at a time,
    /// so that a frame forwarded to hundreds of them does not hold up a handshake.
    dirty: Dirty,
    inbox: Inbox,
    /// The DTLS certificate of every connection (its fingerprint is in each SDP). Without
    /// one, str0m makes a new key and certificate for each connection, on this task, while
    /// others wait for their handshakes.
    certificate: Option<DtlsCert>,
    counters: Arc<Counters>,
    /// A peer task was sent something (a reply to a negotiation step, an event) since
    /// the loop last yielded.
    woke_peers: bool,
}

/// Connections that have output waiting (str0m's rule: poll after every change), each
/// queued once, in the order they were written to.
#[derive(Default)]
struct Dirty {
    queue: VecDeque<ConnectionId>,
    queued: HashSet<ConnectionId>,
}

impl Dirty {
    fn insert(&mut self, id: ConnectionId) {
        if self.queued.insert(id) {
            self.queue.push_back(id);
        }
    }

    /// Queues `id` ahead of the others: a keyframe request should not wait behind a
    /// frame's subscribers.
    fn insert_first(&mut self, id: ConnectionId) {
        if self.queued.insert(id) {
            self.queue.push_front(id);
        }
    }

    fn pop(&mut self) -> Option<ConnectionId> {
        let id = self.queue.pop_front()?;
        self.queued.remove(&id);
        Some(id)
    }
}

impl Driver {
    fn new(
        socket: UdpSocket,
        reader: std::net::UdpSocket,
        local_addr: SocketAddr,
        candidates: Vec<SocketAddr>,
        counters: Arc<Counters>,
    ) -> Self {
        Self {
            socket,
            local_addr,
            candidates,
            connections: HashMap::new(),
            by_source: HashMap::new(),
            sources: HashMap::new(),
            timers: BinaryHeap::new(),
            backlog: VecDeque::new(),
            dirty: Dirty::default(),
            inbox: Inbox::new(reader),
            certificate: str0m::crypto::from_feature_flags().dtls_provider.generate_certificate(),
            counters,
            woke_peers: false,
        }
    }

    /// Takes, in turn, a slice of each: commands (negotiation steps), handshake datagrams,
    /// due timers, subscribers written to and media datagrams, reading the socket before
    /// each round; and waits when there is nothing to do. A handshake read waits for at
    /// most one round, a few milliseconds.
    ///
    /// Each kind takes its turn rather than one going first until it runs out. At hundreds
    /// of subscribers some timer is always due (each connection's RTCP, its feedback, its
    /// retransmissions): run first, due timers kept each handshake read meanwhile waiting
    /// for up to a hundred milliseconds. And during a join burst some handshake or data
    /// channel datagram is always waiting: run first, those held the publisher's frames
    /// back, and a subscriber that had just connected waited as long for its first.
    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        loop {
            // A peer task woken from here waits in this worker's own slot, which the other
            // worker cannot take, until this task yields: without yielding at once, a
            // negotiation step's reply waited for the runtime's budget to run out, many
            // rounds later. Otherwise the budget still lets the thread's other tasks run.
            if std::mem::take(&mut self.woke_peers) {
                tokio::task::yield_now().await;
            } else {
                tokio::task::consume_budget().await;
            }
            // Whatever the socket holds: the read ends empty or with the inbox full.
            let _ = self.inbox.read_available();
            if !self.backlog.is_empty() {
                self.send_backlog();
            }
            let started = Instant::now();
            while started.elapsed() < SLICE {
                match commands.try_recv() {
                    Ok(command) => self.apply(command),
                    Err(mpsc::error::TryRecvError::Empty) => break,
                    // Every handle and the endpoint are gone: the server is stopping.
                    Err(mpsc::error::TryRecvError::Disconnected) => return,
                }
            }
            let handshakes = self.for_a_slice(Self::handle_handshake);
            let timers = self.for_a_slice(Self::wake_next_due);
            let written = self.for_a_slice(Self::drain_next_written);
            let media = self.for_a_slice(Self::handle_media);
            if handshakes || timers || written || media {
                continue;
            }
            let wake_at = self.next_wake();
            tokio::select! {
                readable = self.socket.readable() => match readable {
                    // Reads through tokio's readiness, so that an empty socket clears it.
                    Ok(()) => {
                        let _ = self.socket.try_io(Interest::READABLE, || self.inbox.read_available());
                    }
                    Err(error) => tracing::debug!(%error, "UDP socket not readable"),
                },
                command = commands.recv() => match command {
                    Some(command) => self.apply(command),
                    None => return,
                },
                _ = sleep_until(wake_at) => {
                    self.for_a_slice(Self::wake_next_due);
                }
                writable = self.socket.writable(), if !self.backlog.is_empty() => match writable {
                    Ok(()) => self.send_backlog(),
                    Err(error) => tracing::debug!(%error, "UDP socket not writable"),
                },
            }
        }
    }

    /// Repeats `step` while it finds work, for at most `SLICE`; whether it found any.
    fn for_a_slice(&mut self, mut step: impl FnMut(&mut Self) -> bool) -> bool {
        let started = Instant::now();
        let mut worked = false;
        while started.elapsed() < SLICE && step(self) {
            worked = true;
        }
        worked
    }

    fn handle_handshake(&mut self) -> bool {
        let Some(datagram) = self.inbox.next_handshake() else {
            return false;
        };
        self.receive(datagram.source, &datagram.bytes);
        true
    }

    fn handle_media(&mut self) -> bool {
        let Some(datagram) = self.inbox.next_media() else {
            return false;
        };
        self.receive(datagram.source, &datagram.bytes);
        true
    }

    fn next_wake(&mut self) -> Option<Instant> {
        while let Some(&Reverse((at, id))) = self.timers.peek() {
            if self.connections.get(&id).is_some_and(|link| link.wake_at == Some(at)) {
                return Some(at);
            }
            self.timers.pop();
        }
        None
    }

    fn receive(&mut self, source: SocketAddr, datagram: &[u8]) {
        let Ok(receive) = Receive::new(Protocol::Udp, source, self.local_addr, datagram) else {
            return;
        };
        let input = Input::Receive(Instant::now(), receive);
        let cached = self.by_source.get(&source).copied();
        let target = cached
            .filter(|id| self.connections.get(id).is_some_and(|link| link.rtc.accepts(&input)))
            .or_else(|| {
                self.connections
                    .iter()
                    .find(|(_, link)| link.rtc.accepts(&input))
                    .map(|(id, _)| *id)
            });
        let Some(id) = target else {
            return;
        };
        self.by_source.insert(source, id);
        if let Some(link) = self.connections.get_mut(&id)
            && let Err(error) = link.rtc.handle_input(input)
        {
            tracing::debug!(%error, "a connection refused a datagram");
        }
        self.drain(id);
    }

    /// Wakes the connection whose timer is due soonest; whether one was due.
    fn wake_next_due(&mut self) -> bool {
        let now = Instant::now();
        while let Some(&Reverse((at, id))) = self.timers.peek() {
            if at > now {
                return false;
            }
            self.timers.pop();
            if let Some(link) = self.connections.get_mut(&id)
                && link.wake_at == Some(at)
            {
                link.wake_at = None;
                let _ = link.rtc.handle_input(Input::Timeout(now));
                self.drain(id);
                return true;
            }
        }
        false
    }

    fn apply(&mut self, command: Command) {
        match command {
            Command::Open { id, owner, events } => self.open(id, owner, events),
            Command::AcceptOffer { id, sdp, reply } => {
                let outcome = self.accept_offer(id, &sdp);
                self.answer(id, reply, outcome);
            }
            Command::Offer { id, request, reply } => {
                let outcome = self.offer(id, &request);
                self.answer(id, reply, outcome);
            }
            Command::AcceptAnswer { id, sdp, reply } => {
                let outcome = self.accept_answer(id, &sdp);
                self.answer(id, reply, outcome);
            }
            Command::SendText { id, label, text } => {
                if let Some(link) = self.connections.get_mut(&id) {
                    link.send_text(&label, &text);
                }
                self.drain(id);
            }
            Command::Prefer { id, track_id, forward } => self.prefer(id, &track_id, forward),
            Command::Close { id } => self.close(id),
        }
    }

    fn open(&mut self, id: ConnectionId, owner: String, events: mpsc::UnboundedSender<ConnectionEvent>) {
        // One codec per kind across the node, so that media is forwarded as it arrives:
        // the answer to a browser picks them, and every subscriber is offered the same.
        let mut config = RtcConfig::new();
        if let Some(certificate) = &self.certificate {
            config = config.set_dtls_cert(certificate.clone());
        }
        let mut rtc = config
            .clear_codecs()
            .enable_opus(true, false)
            .enable_vp8(true)
            .set_ice_lite(true)
            .build(Instant::now());
        for candidate in &self.candidates {
            match Candidate::host(*candidate, "udp") {
                Ok(candidate) => {
                    rtc.add_local_candidate(candidate);
                }
                Err(error) => tracing::warn!(%error, %candidate, "cannot announce this address"),
            }
        }
        self.connections.insert(id, Link::new(rtc, owner, events));
        self.count_links();
        self.drain(id);
    }

    /// Replies to a negotiation step, then wakes the connection at once: str0m holds an
    /// ICE check that arrived before the remote credentials (a subscriber checks as soon
    /// as it answers, and its check outruns the answer's way through signalling), and
    /// answers it only on the connection's next timer, up to 180 ms later under load.
    fn answer<T>(&mut self, id: ConnectionId, reply: Reply<T>, outcome: Result<T, RtcError>) {
        let _ = reply.send(outcome);
        self.woke_peers = true;
        if let Some(link) = self.connections.get_mut(&id) {
            let _ = link.rtc.handle_input(Input::Timeout(Instant::now()));
        }
        self.drain(id);
    }

    /// Accepts a publish offer and registers the tracks the client now sends; tracks it
    /// stopped sending are withdrawn from their subscribers.
    fn accept_offer(&mut self, id: ConnectionId, sdp: &str) -> Result<String, RtcError> {
        let link = self.connections.get_mut(&id).ok_or(RtcError::Closed)?;
        let (answer, sending) = link.accept_offer(sdp)?;
        let stopped: Vec<Mid> = link
            .incoming
            .keys()
            .filter(|mid| !sending.iter().any(|sent| sent.mid == **mid))
            .copied()
            .collect();
        let withdrawn: Vec<TrackKey> = stopped
            .iter()
            .filter_map(|mid| link.incoming.remove(mid))
            .map(|incoming| incoming.key)
            .collect();
        let mut started = Vec::new();
        for SentTrack { mid, key, kind } in sending {
            if link.incoming.get(&mid).is_some_and(|incoming| incoming.key == key) {
                continue;
            }
            let incoming = Incoming {
                key: key.clone(),
                kind,
                loudness: Loudness::default(),
            };
            link.incoming.insert(mid, incoming);
            started.push((mid, key, kind));
        }
        for key in withdrawn {
            self.sources.remove(&key);
        }
        for (mid, key, kind) in started {
            let mut source = Source::new(id, mid, kind);
            source.sinks = self.sinks_of(&key);
            self.sources.insert(key, source);
        }
        self.count_tracks();
        Ok(answer)
    }

    fn offer(&mut self, id: ConnectionId, request: &OfferRequest) -> Result<Option<String>, RtcError> {
        let sources = &self.sources;
        let link = self.connections.get_mut(&id).ok_or(RtcError::Closed)?;
        link.offer(request, |key| sources.get(key).map(|source| source.kind))
    }

    /// Applies a subscriber's answer: the sections it accepted start receiving their
    /// tracks (a video from a keyframe), the ones made inactive stop.
    fn accept_answer(&mut self, id: ConnectionId, sdp: &str) -> Result<(), RtcError> {
        let link = self.connections.get_mut(&id).ok_or(RtcError::Closed)?;
        let changes = link.accept_answer(sdp)?;
        for mid in &changes.removed {
            for source in self.sources.values_mut() {
                source.sinks.retain(|sink| !(sink.connection == id && sink.mid == *mid));
            }
        }
        for (mid, key) in changes.added {
            let Some(source) = self.sources.get_mut(&key) else {
                continue;
            };
            source.sinks.push(Sink {
                connection: id,
                mid,
                paused: false,
            });
            self.request_keyframe(&key);
        }
        self.count_tracks();
        Ok(())
    }

    /// Pauses or resumes the subscribed track `track_id` on connection `id`.
    fn prefer(&mut self, id: ConnectionId, track_id: &str, forward: bool) {
        let Some(link) = self.connections.get(&id) else {
            return;
        };
        let Some((mid, key)) = link
            .outgoing
            .iter()
            .find(|(_, key)| key.track_id == track_id)
            .map(|(mid, key)| (*mid, key.clone()))
        else {
            return;
        };
        let Some(source) = self.sources.get_mut(&key) else {
            return;
        };
        let mut resumed = false;
        for sink in source
            .sinks
            .iter_mut()
            .filter(|sink| sink.connection == id && sink.mid == mid)
        {
            resumed |= sink.paused && forward;
            sink.paused = !forward;
        }
        self.count_tracks();
        if resumed {
            self.request_keyframe(&key);
        }
    }

    fn close(&mut self, id: ConnectionId) {
        let Some(mut link) = self.connections.remove(&id) else {
            return;
        };
        link.rtc.disconnect();
        let _ = link.events.send(ConnectionEvent::Closed);
        self.woke_peers = true;
        for incoming in link.incoming.values() {
            self.sources.remove(&incoming.key);
        }
        if !link.outgoing.is_empty() {
            for source in self.sources.values_mut() {
                source.sinks.retain(|sink| sink.connection != id);
            }
        }
        self.by_source.retain(|_, owner| *owner != id);
        self.count_links();
        self.count_tracks();
    }

    /// The subscribe sections that forward `key`: a track published again under the same
    /// id (a new section on the publish connection) reaches its subscribers again.
    fn sinks_of(&self, key: &TrackKey) -> Vec<Sink> {
        let mut sinks = Vec::new();
        for (id, link) in &self.connections {
            for (mid, forwarded) in &link.outgoing {
                if forwarded == key {
                    sinks.push(Sink {
                        connection: *id,
                        mid: *mid,
                        paused: false,
                    });
                }
            }
        }
        sinks
    }

    /// Asks the publisher of `key` for a keyframe, unless it was asked a moment ago.
    fn request_keyframe(&mut self, key: &TrackKey) {
        let Some(source) = self.sources.get_mut(key) else {
            return;
        };
        if source.keyframe_request_due(Instant::now()) {
            ask_for_keyframe(&mut self.connections, source, &mut self.dirty);
        }
    }

    /// Writes a frame a publisher sent to every subscriber of its track.
    fn forward(&mut self, from: ConnectionId, data: MediaData) {
        let Some(link) = self.connections.get_mut(&from) else {
            return;
        };
        let Some(incoming) = link.incoming.get_mut(&data.mid) else {
            return;
        };
        if incoming.kind == MediaKind::Audio
            && let Some(dbov) = data.ext_vals.audio_level
            && let Some(level) = incoming.loudness.hear(dbov, Instant::now())
        {
            let told = ConnectionEvent::AudioLevel {
                track_id: incoming.key.track_id.clone(),
                level,
            };
            let _ = link.events.send(told);
            self.woke_peers = true;
        }
        let key = incoming.key.clone();
        if !data.contiguous {
            // Frames were lost for good: the video cannot decode until the next keyframe.
            self.request_keyframe(&key);
        }
        let Some(source) = self.sources.get_mut(&key) else {
            return;
        };
        if source.owed_keyframe_due(Instant::now()) {
            ask_for_keyframe(&mut self.connections, source, &mut self.dirty);
        }
        let mut frames = 0;
        for sink in source.sinks.iter().filter(|sink| !sink.paused) {
            let Some(target) = self.connections.get_mut(&sink.connection) else {
                continue;
            };
            let Some(writer) = target.rtc.writer(sink.mid) else {
                continue;
            };
            let Some(pt) = writer.match_params(data.params) else {
                continue;
            };
            match writer.write(pt, data.network_time, data.time, data.data.clone()) {
                Ok(()) => {
                    frames += 1;
                    self.dirty.insert(sink.connection);
                }
                Err(error) => tracing::debug!(%error, "could not forward a frame"),
            }
        }
        self.counters.forwarded_frames.fetch_add(frames, Ordering::Relaxed);
        self.counters
            .forwarded_bytes
            .fetch_add(frames * data.data.len() as u64, Ordering::Relaxed);
    }

    /// A subscriber asked for a keyframe (its decoder lost the picture): the publisher is
    /// asked in its place.
    fn keyframe_wanted(&mut self, id: ConnectionId, mid: Mid) {
        let key = self
            .connections
            .get(&id)
            .and_then(|link| link.outgoing.get(&mid))
            .cloned();
        if let Some(key) = key {
            self.request_keyframe(&key);
        }
    }

    /// Drains the connection written to longest ago; whether there was one.
    fn drain_next_written(&mut self) -> bool {
        let Some(id) = self.dirty.pop() else {
            return false;
        };
        self.drain(id);
        true
    }

    /// Sends what connection `id` has to send and handles what it tells, until it only
    /// waits for time to pass. A frame it received is written to its subscribers, which
    /// are queued to be drained in turn.
    fn drain(&mut self, id: ConnectionId) {
        for event in self.poll(id) {
            match event {
                Event::MediaData(data) => self.forward(id, data),
                Event::KeyframeRequest(request) => self.keyframe_wanted(id, request.mid),
                event => self.tell(id, event),
            }
        }
    }

    /// Polls one connection until it waits for time: sends its datagrams, and returns its
    /// events. A connection that died is closed.
    fn poll(&mut self, id: ConnectionId) -> Vec<Event> {
        let Some(link) = self.connections.get_mut(&id) else {
            return Vec::new();
        };
        let mut events = Vec::new();
        loop {
            match link.rtc.poll_output() {
                Ok(Output::Timeout(at)) => {
                    if link.wake_at != Some(at) {
                        link.wake_at = Some(at);
                        self.timers.push(Reverse((at, id)));
                    }
                    break;
                }
                Ok(Output::Transmit(transmit)) => {
                    send(
                        &self.socket,
                        &mut self.backlog,
                        &transmit.contents,
                        transmit.destination,
                    );
                }
                Ok(Output::Event(event)) => events.push(event),
                Err(error) => {
                    tracing::debug!(%error, "a connection failed");
                    break;
                }
            }
        }
        if !link.rtc.is_alive() {
            self.close(id);
        }
        events
    }

    fn tell(&mut self, id: ConnectionId, event: Event) {
        let Some(link) = self.connections.get_mut(&id) else {
            return;
        };
        let told = match event {
            Event::Connected => ConnectionEvent::Connected,
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => ConnectionEvent::Disconnected,
            Event::ChannelOpen(channel, label) => {
                link.channels.insert(channel, label.clone());
                ConnectionEvent::ChannelOpen { label }
            }
            Event::ChannelData(data) if !data.binary => {
                let Some(label) = link.channels.get(&data.id).cloned() else {
                    return;
                };
                let Ok(text) = String::from_utf8(data.data) else {
                    return;
                };
                ConnectionEvent::ChannelText { label, text }
            }
            Event::ChannelClose(channel) => {
                link.channels.remove(&channel);
                return;
            }
            _ => return,
        };
        let _ = link.events.send(told);
        self.woke_peers = true;
    }

    /// Sends what waited for room in the send buffer, until it is full again.
    fn send_backlog(&mut self) {
        while let Some((datagram, destination)) = self.backlog.front() {
            match self.socket.try_send_to(datagram, *destination) {
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return,
                _ => {
                    self.backlog.pop_front();
                }
            }
        }
    }

    fn count_links(&self) {
        let connections = self.connections.len() as u64;
        self.counters.connections.store(connections, Ordering::Relaxed);
    }

    fn count_tracks(&self) {
        let sinks = || self.sources.values().flat_map(|source| &source.sinks);
        let published = self.sources.len() as u64;
        let forwarded = sinks().count() as u64;
        let paused = sinks().filter(|sink| sink.paused).count() as u64;
        self.counters.published_tracks.store(published, Ordering::Relaxed);
        self.counters.forwarded_tracks.store(forwarded, Ordering::Relaxed);
        self.counters.paused_tracks.store(paused, Ordering::Relaxed);
    }
}

/// Sends the publisher of `source` a keyframe request (PLI).
fn ask_for_keyframe(connections: &mut HashMap<ConnectionId, Link>, source: &Source, dirty: &mut Dirty) {
    let Some(link) = connections.get_mut(&source.connection) else {
        return;
    };
    if let Some(mut writer) = link.rtc.writer(source.mid)
        && let Err(error) = writer.request_keyframe(None, KeyframeRequestKind::Pli)
    {
        tracing::debug!(%error, "could not ask a publisher for a keyframe");
    }
    dirty.insert_first(source.connection);
}

/// The endpoint's socket, with kernel buffers large enough for bursts (as large as the
/// system allows, when it allows less), and a second descriptor of it for the inbox.
fn bind_socket(addr: SocketAddr) -> io::Result<(UdpSocket, std::net::UdpSocket)> {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )?;
    if let Err(error) = socket.set_send_buffer_size(SOCKET_BUFFER) {
        tracing::debug!(%error, "could not enlarge the UDP send buffer");
    }
    if let Err(error) = socket.set_recv_buffer_size(SOCKET_BUFFER) {
        tracing::debug!(%error, "could not enlarge the UDP receive buffer");
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    let reader = socket.try_clone()?.into();
    Ok((UdpSocket::from_std(socket.into())?, reader))
}

/// Sends a datagram now, or keeps it (in order) while the send buffer is full.
fn send(socket: &UdpSocket, backlog: &mut VecDeque<(Vec<u8>, SocketAddr)>, datagram: &[u8], destination: SocketAddr) {
    if backlog.is_empty() {
        match socket.try_send_to(datagram, destination) {
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
            _ => return,
        }
    }
    if backlog.len() < MAX_BACKLOG {
        backlog.push_back((datagram.to_vec(), destination));
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
