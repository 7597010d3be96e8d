//! The load client's WebRTC side. Each peer connection is a str0m `Rtc` on a UDP socket of
//! its own (the server tells connections apart by their source address); a few shard tasks
//! each drive many of them: they read whichever sockets are readable, wake each `Rtc` when
//! it asks, send the publishers' frames on time and count what the subscribers receive.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use str0m::change::{SdpAnswer, SdpApi, SdpOffer, SdpPendingOffer};
use str0m::channel::ChannelId;
use str0m::media::{Direction, Frequency, KeyframeRequestKind, MediaKind, MediaTime, Mid};
use str0m::net::{Protocol, Receive};
use str0m::rtp::{RtpPacket, Ssrc, Vp8Descriptor};
use str0m::{Candidate, Event, Input, Output, Rtc};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};

use super::frames::{self, AUDIO_FRAME_INTERVAL, KEYFRAME_INTERVAL, VIDEO_FRAME_INTERVAL};
use super::received::{Kind, Received};

/// Largest datagram read; WebRTC keeps under the path MTU, far below this.
const MAX_DATAGRAM: usize = 2048;
/// Datagrams read from one socket before the shard turns to the others.
const READ_BATCH: usize = 64;
/// Each connection's kernel receive buffer (as large as the system allows, when it allows
/// less). A browser reads a socket of its own; here two shard tasks read every socket, and
/// at the default size the sockets overflowed while their shard handled the others (about
/// 2,400 drops in a 200-subscriber step), losses a browser would not have had.
const RECEIVE_BUFFER: usize = 1 << 20;
/// A publisher that fell this far behind its frame clock skips ahead rather than burst.
const MAX_LAG: Duration = Duration::from_millis(200);
/// A subscriber without a keyframe asks again this often (as Chrome's receiver does).
const KEYFRAME_RETRY: Duration = Duration::from_secs(1);
/// RTP clock steps per frame: 90 kHz video at 30 fps, 48 kHz Opus in 20 ms.
const VIDEO_TICKS_PER_FRAME: u64 = 3_000;
const AUDIO_TICKS_PER_FRAME: u64 = 960;
/// The level (-dBov) a publisher's audio claims, speaking.
const AUDIO_LEVEL: i8 = -30;

static NEXT_CONNECTION: AtomicU64 = AtomicU64::new(1);

type Reply<T> = oneshot::Sender<Result<T, String>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The client offers; it sends audio and video once it publishes.
    Publish,
    /// The server offers; the client receives and counts.
    Subscribe,
}

enum Command {
    Open {
        id: u64,
        owner: usize,
        side: Side,
        socket: LoopbackSocket,
    },
    OfferChannel {
        id: u64,
        label: String,
        reply: Reply<String>,
    },
    OfferMedia {
        id: u64,
        stream_id: String,
        audio_track: String,
        video_track: String,
        reply: Reply<String>,
    },
    AcceptAnswer {
        id: u64,
        sdp: String,
        reply: Reply<()>,
    },
    AcceptOffer {
        id: u64,
        sdp: String,
        reply: Reply<String>,
    },
    SendText {
        id: u64,
        text: String,
    },
    Close {
        id: u64,
    },
    Report {
        reply: oneshot::Sender<ShardReport>,
    },
}

/// A handle on one shard task; clones drive the same task. The task ends with the last.
#[derive(Clone)]
pub struct Shard {
    commands: mpsc::UnboundedSender<Command>,
}

/// One peer connection on a shard. Dropping it closes the connection.
pub struct Connection {
    id: u64,
    commands: mpsc::UnboundedSender<Command>,
}

/// What a shard counted so far.
#[derive(Default)]
pub struct ShardReport {
    pub tracks: Vec<TrackReport>,
    pub publishers: Vec<PublisherReport>,
    pub subscribers: Vec<SubscriberReport>,
    /// Connections str0m gave up on, with why.
    pub failures: Vec<(usize, String)>,
    /// Datagrams the kernel refused to send.
    pub send_errors: u64,
}

/// One track a subscriber receives.
#[derive(Clone)]
pub struct TrackReport {
    pub owner: usize,
    /// The connection and SSRC: what tells one track from another across reports.
    pub key: (u64, u32),
    pub received: Received,
}

/// A subscribe connection and when it passed each step of its set-up.
pub struct SubscriberReport {
    pub owner: usize,
    /// When the server's first offer was taken (the connection opened).
    pub opened_at: Instant,
    /// When ICE and DTLS were up.
    pub connected_at: Option<Instant>,
}

#[derive(Clone, Default)]
pub struct PublisherReport {
    pub connected: bool,
    pub video_frames: u64,
    pub keyframes: u64,
    pub keyframe_requests: u64,
}

impl Shard {
    pub fn start() -> Self {
        let (commands, received) = mpsc::unbounded_channel();
        let driver = Driver {
            slots: HashMap::new(),
            readable: FuturesUnordered::new(),
            buffer: vec![0; MAX_DATAGRAM],
            send_errors: 0,
        };
        tokio::spawn(driver.run(received));
        Self { commands }
    }

    /// A new connection for peer `owner`, on a fresh loopback UDP socket.
    pub async fn open(&self, owner: usize, side: Side) -> Result<Connection, String> {
        let socket = bind_loopback().map_err(|e| format!("cannot bind a UDP socket: {e}"))?;
        let id = NEXT_CONNECTION.fetch_add(1, Ordering::Relaxed);
        self.commands
            .send(Command::Open {
                id,
                owner,
                side,
                socket,
            })
            .map_err(|_| "the shard stopped")?;
        Ok(Connection {
            id,
            commands: self.commands.clone(),
        })
    }

    pub async fn report(&self) -> Result<ShardReport, String> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Report { reply })
            .map_err(|_| "the shard stopped")?;
        answer.await.map_err(|_| "the shard stopped".to_owned())
    }
}

impl Connection {
    /// The client's offer of a data channel (the publish connection's first offer).
    pub async fn offer_channel(&self, label: &str) -> Result<String, String> {
        let label = label.to_owned();
        self.ask(|id, reply| Command::OfferChannel { id, label, reply }).await
    }

    /// The client's offer of one sendonly audio and one sendonly video m-line, with these
    /// stream and track ids in their msid.
    pub async fn offer_media(&self, stream_id: &str, audio_track: &str, video_track: &str) -> Result<String, String> {
        let (stream_id, audio_track, video_track) =
            (stream_id.to_owned(), audio_track.to_owned(), video_track.to_owned());
        self.ask(|id, reply| Command::OfferMedia {
            id,
            stream_id,
            audio_track,
            video_track,
            reply,
        })
        .await
    }

    pub async fn accept_answer(&self, sdp: String) -> Result<(), String> {
        self.ask(|id, reply| Command::AcceptAnswer { id, sdp, reply }).await
    }

    /// Answers the server's offer.
    pub async fn accept_offer(&self, sdp: String) -> Result<String, String> {
        self.ask(|id, reply| Command::AcceptOffer { id, sdp, reply }).await
    }

    /// Sends a text message on the connection's data channel once it is open.
    pub fn send_text(&self, text: String) {
        let _ = self.commands.send(Command::SendText { id: self.id, text });
    }

    async fn ask<T>(&self, command: impl FnOnce(u64, Reply<T>) -> Command) -> Result<T, String> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(command(self.id, reply))
            .map_err(|_| "the shard stopped")?;
        answer.await.map_err(|_| "the shard stopped".to_owned())?
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        let _ = self.commands.send(Command::Close { id: self.id });
    }
}

struct Driver {
    slots: HashMap<u64, Slot>,
    /// One future per open socket, ready when it has datagrams.
    readable: FuturesUnordered<BoxFuture<'static, u64>>,
    buffer: Vec<u8>,
    send_errors: u64,
}

/// One connection's state.
struct Slot {
    owner: usize,
    rtc: Rtc,
    socket: Arc<UdpSocket>,
    sender: std::net::UdpSocket,
    local: SocketAddr,
    /// When str0m next wants to be woken.
    wake_at: Instant,
    pending_offer: Option<SdpPendingOffer>,
    channel: Option<ChannelId>,
    unsent_texts: Vec<String>,
    opened_at: Instant,
    connected_at: Option<Instant>,
    failure: Option<String>,
    role: Role,
}

enum Role {
    Publisher(Option<Source>),
    Subscriber(Subscriber),
}

/// A publisher's synthetic camera and microphone.
struct Source {
    audio: Mid,
    video: Mid,
    /// Set once the answer to the media offer is applied.
    negotiated: bool,
    next_video_at: Option<Instant>,
    next_audio_at: Instant,
    video_frames: u64,
    audio_frames: u64,
    last_keyframe_at: Option<Instant>,
    keyframe_wanted: bool,
    keyframes: u64,
    keyframe_requests: u64,
}

#[derive(Default)]
struct Subscriber {
    tracks: HashMap<Ssrc, Received>,
    /// When each video track without a keyframe last asked for one.
    asked_keyframe_at: HashMap<Ssrc, Instant>,
}

impl Driver {
    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        loop {
            let wake_at = self.next_wake();
            tokio::select! {
                Some(id) = self.readable.next(), if !self.readable.is_empty() => self.receive(id),
                command = commands.recv() => match command {
                    Some(command) => self.apply(command),
                    None => return,
                },
                () = sleep_until(wake_at) => self.wake_due(),
            }
        }
    }

    fn next_wake(&self) -> Option<Instant> {
        self.slots.values().map(Slot::next_due).min()
    }

    fn receive(&mut self, id: u64) {
        let Some(slot) = self.slots.get_mut(&id) else {
            return;
        };
        for _ in 0..READ_BATCH {
            let Ok((length, source)) = slot.socket.try_recv_from(&mut self.buffer) else {
                break;
            };
            let now = Instant::now();
            if let Ok(receive) = Receive::new(Protocol::Udp, source, slot.local, &self.buffer[..length])
                && let Err(error) = slot.rtc.handle_input(Input::Receive(now, receive))
            {
                slot.failure = Some(error.to_string());
            }
            slot.drain(now, &mut self.send_errors);
        }
        self.readable.push(readable(id, slot.socket.clone()));
    }

    fn wake_due(&mut self) {
        let now = Instant::now();
        for slot in self.slots.values_mut() {
            if slot.next_due() > now {
                continue;
            }
            slot.send_due_frames(now);
            if slot.wake_at <= now
                && let Err(error) = slot.rtc.handle_input(Input::Timeout(now))
            {
                slot.failure = Some(error.to_string());
            }
            slot.drain(now, &mut self.send_errors);
        }
    }

    fn apply(&mut self, command: Command) {
        match command {
            Command::Open {
                id,
                owner,
                side,
                socket,
            } => self.open(id, owner, side, socket),
            Command::OfferChannel { id, label, reply } => self.with(id, reply, |slot| slot.offer_channel(label)),
            Command::OfferMedia {
                id,
                stream_id,
                audio_track,
                video_track,
                reply,
            } => self.with(id, reply, |slot| slot.offer_media(stream_id, audio_track, video_track)),
            Command::AcceptAnswer { id, sdp, reply } => self.with(id, reply, |slot| slot.accept_answer(&sdp)),
            Command::AcceptOffer { id, sdp, reply } => self.with(id, reply, |slot| slot.accept_offer(&sdp)),
            Command::SendText { id, text } => {
                if let Some(slot) = self.slots.get_mut(&id) {
                    slot.unsent_texts.push(text);
                    slot.drain(Instant::now(), &mut self.send_errors);
                }
            }
            Command::Close { id } => {
                if let Some(mut slot) = self.slots.remove(&id) {
                    slot.rtc.disconnect();
                }
            }
            Command::Report { reply } => {
                let _ = reply.send(self.report());
            }
        }
    }

    fn open(&mut self, id: u64, owner: usize, side: Side, LoopbackSocket { socket, sender }: LoopbackSocket) {
        let Ok(local) = socket.local_addr() else {
            return;
        };
        let now = Instant::now();
        let mut rtc = match side {
            // Only what the benchmark sends, as the server's answer picks among what is offered.
            Side::Publish => Rtc::builder().clear_codecs().enable_opus(true, false).enable_vp8(true),
            // Raw RTP: counted as it arrives, never depacketized.
            Side::Subscribe => Rtc::builder().set_rtp_mode(true),
        }
        .build(now);
        if let Ok(candidate) = Candidate::host(local, "udp") {
            rtc.add_local_candidate(candidate);
        }
        let socket = Arc::new(socket);
        self.readable.push(readable(id, socket.clone()));
        let role = match side {
            Side::Publish => Role::Publisher(None),
            Side::Subscribe => Role::Subscriber(Subscriber::default()),
        };
        let slot = Slot {
            owner,
            rtc,
            socket,
            sender,
            local,
            wake_at: now,
            pending_offer: None,
            channel: None,
            unsent_texts: Vec::new(),
            opened_at: now,
            connected_at: None,
            failure: None,
            role,
        };
        self.slots.insert(id, slot);
    }

    /// Runs one step on a connection, answers with its outcome, and sends what it made.
    fn with<T>(&mut self, id: u64, reply: Reply<T>, step: impl FnOnce(&mut Slot) -> Result<T, String>) {
        let Some(slot) = self.slots.get_mut(&id) else {
            let _ = reply.send(Err("the connection is closed".into()));
            return;
        };
        let _ = reply.send(step(slot));
        // str0m 0.25 keeps the timer it had before an SDP step (after accepting an offer, the
        // one from before there was anyone to check with): a tick makes it look again.
        let now = Instant::now();
        if let Err(error) = slot.rtc.handle_input(Input::Timeout(now)) {
            slot.failure = Some(error.to_string());
        }
        slot.drain(now, &mut self.send_errors);
    }

    fn report(&self) -> ShardReport {
        let mut report = ShardReport {
            send_errors: self.send_errors,
            ..ShardReport::default()
        };
        for (id, slot) in &self.slots {
            if let Some(failure) = &slot.failure {
                report.failures.push((slot.owner, failure.clone()));
            }
            match &slot.role {
                Role::Publisher(source) => report.publishers.push(PublisherReport {
                    connected: slot.connected_at.is_some(),
                    video_frames: source.as_ref().map_or(0, |s| s.video_frames),
                    keyframes: source.as_ref().map_or(0, |s| s.keyframes),
                    keyframe_requests: source.as_ref().map_or(0, |s| s.keyframe_requests),
                }),
                Role::Subscriber(subscriber) => {
                    report.subscribers.push(SubscriberReport {
                        owner: slot.owner,
                        opened_at: slot.opened_at,
                        connected_at: slot.connected_at,
                    });
                    report
                        .tracks
                        .extend(subscriber.tracks.iter().map(|(ssrc, received)| TrackReport {
                            owner: slot.owner,
                            key: (*id, **ssrc),
                            received: received.clone(),
                        }));
                }
            }
        }
        report
    }
}

/// A connection's UDP socket: read through tokio, written through a second descriptor of
/// the same socket.
struct LoopbackSocket {
    socket: UdpSocket,
    /// Sends straight to the kernel. tokio's `try_send_to` refuses without trying until its
    /// reactor has seen the socket writable, which a new socket has not: the first ICE check
    /// of a subscribe connection, made as its offer is accepted, was dropped that way and
    /// went out only as the retransmission 250 ms later (an artefact of the client, not of
    /// the server: a browser sends it at once).
    sender: std::net::UdpSocket,
}

/// A UDP socket on a free loopback port, its receive buffer enlarged.
fn bind_loopback() -> std::io::Result<LoopbackSocket> {
    let socket = socket2::Socket::new(
        socket2::Domain::IPV4,
        socket2::Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )?;
    socket.set_recv_buffer_size(RECEIVE_BUFFER)?;
    socket.set_nonblocking(true)?;
    socket.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())?;
    let sender = socket.try_clone()?.into();
    Ok(LoopbackSocket {
        socket: UdpSocket::from_std(socket.into())?,
        sender,
    })
}

fn readable(id: u64, socket: Arc<UdpSocket>) -> BoxFuture<'static, u64> {
    Box::pin(async move {
        let _ = socket.readable().await;
        id
    })
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

impl Slot {
    /// When the connection needs the shard next: str0m's timer or the next frame to send.
    fn next_due(&self) -> Instant {
        match &self.role {
            Role::Publisher(Some(source)) if source.negotiated && self.connected_at.is_some() => {
                let next_frame = source
                    .next_video_at
                    .map_or(source.next_audio_at, |video| video.min(source.next_audio_at));
                self.wake_at.min(next_frame)
            }
            _ => self.wake_at,
        }
    }

    fn offer_channel(&mut self, label: String) -> Result<String, String> {
        let mut change = self.rtc.sdp_api();
        change.add_channel(label);
        let (offer, pending) = applied(change)?;
        self.pending_offer = Some(pending);
        Ok(offer)
    }

    fn offer_media(&mut self, stream_id: String, audio_track: String, video_track: String) -> Result<String, String> {
        let mut change = self.rtc.sdp_api();
        let audio = change.add_media(
            MediaKind::Audio,
            Direction::SendOnly,
            Some(stream_id.clone()),
            Some(audio_track),
            None,
        );
        let video = change.add_media(
            MediaKind::Video,
            Direction::SendOnly,
            Some(stream_id),
            Some(video_track),
            None,
        );
        let (offer, pending) = applied(change)?;
        self.pending_offer = Some(pending);
        self.role = Role::Publisher(Some(Source {
            audio,
            video,
            negotiated: false,
            next_video_at: None,
            next_audio_at: Instant::now(),
            video_frames: 0,
            audio_frames: 0,
            last_keyframe_at: None,
            keyframe_wanted: true,
            keyframes: 0,
            keyframe_requests: 0,
        }));
        Ok(offer)
    }

    fn accept_answer(&mut self, sdp: &str) -> Result<(), String> {
        let answer = SdpAnswer::from_sdp_string(sdp).map_err(|e| format!("the server's answer: {e}"))?;
        let pending = self.pending_offer.take().ok_or("no offer waits for an answer")?;
        self.rtc
            .sdp_api()
            .accept_answer(pending, answer)
            .map_err(|e| format!("the server's answer: {e}"))?;
        if let Role::Publisher(Some(source)) = &mut self.role {
            source.negotiated = true;
        }
        Ok(())
    }

    fn accept_offer(&mut self, sdp: &str) -> Result<String, String> {
        let offer = SdpOffer::from_sdp_string(sdp).map_err(|e| format!("the server's offer: {e}"))?;
        let answer = self
            .rtc
            .sdp_api()
            .accept_offer(offer)
            .map_err(|e| format!("the server's offer: {e}"))?;
        Ok(answer.to_sdp_string())
    }

    /// Sends what the connection has to send and takes in what it tells, until it only waits
    /// for time to pass (str0m's rule after every input).
    fn drain(&mut self, now: Instant, send_errors: &mut u64) {
        self.flush_texts();
        loop {
            match self.rtc.poll_output() {
                Ok(Output::Timeout(at)) => {
                    self.wake_at = at;
                    return;
                }
                Ok(Output::Transmit(transmit)) => {
                    if self.sender.send_to(&transmit.contents, transmit.destination).is_err() {
                        *send_errors += 1;
                    }
                }
                Ok(Output::Event(event)) => self.on_event(event, now),
                Err(error) => {
                    self.failure = Some(error.to_string());
                    // A failed connection is not woken again.
                    self.wake_at = now + Duration::from_secs(3600);
                    return;
                }
            }
        }
    }

    fn flush_texts(&mut self) {
        let Some(id) = self.channel else {
            return;
        };
        for text in self.unsent_texts.drain(..) {
            if let Some(mut channel) = self.rtc.channel(id) {
                let _ = channel.write(false, text.as_bytes());
            }
        }
    }

    fn on_event(&mut self, event: Event, now: Instant) {
        match event {
            Event::Connected => self.connected_at = Some(now),
            Event::ChannelOpen(id, _) => self.channel = Some(id),
            Event::KeyframeRequest(_) => {
                if let Role::Publisher(Some(source)) = &mut self.role {
                    source.keyframe_wanted = true;
                    source.keyframe_requests += 1;
                }
            }
            Event::RtpPacket(packet) => self.count(&packet, now),
            _ => {}
        }
    }

    /// Counts a packet a subscriber received, and asks for a keyframe while a video track
    /// has none to start from.
    fn count(&mut self, packet: &RtpPacket, now: Instant) {
        let ssrc = packet.header.ssrc;
        let Role::Subscriber(subscriber) = &mut self.role else {
            return;
        };
        let seq = *packet.seq_no;
        let rtp_time = packet.header.timestamp;
        let track = match subscriber.tracks.get_mut(&ssrc) {
            Some(track) => track,
            None => {
                let mut api = self.rtc.direct_api();
                let Some(mid) = api.stream_rx(&ssrc).map(|stream| stream.mid()) else {
                    return;
                };
                let kind = match self.rtc.media(mid).map(|media| media.kind()) {
                    Some(MediaKind::Audio) => Kind::Audio,
                    Some(MediaKind::Video) => Kind::Video,
                    None => return,
                };
                subscriber
                    .tracks
                    .entry(ssrc)
                    .or_insert_with(|| Received::new(kind, seq, rtp_time, now))
            }
        };
        let keyframe = track.kind == Kind::Video
            && Vp8Descriptor::parse(&packet.payload)
                .is_ok_and(|descriptor| descriptor.starts_keyframe(&packet.payload));
        let bytes = packet.header.header_len + packet.payload.len();
        track.record(seq, rtp_time, bytes, keyframe, now);
        let wants_keyframe = track.kind == Kind::Video && track.first_keyframe_at.is_none();
        let asked_lately = subscriber
            .asked_keyframe_at
            .get(&ssrc)
            .is_some_and(|at| now.duration_since(*at) < KEYFRAME_RETRY);
        if wants_keyframe && !asked_lately {
            subscriber.asked_keyframe_at.insert(ssrc, now);
            if let Some(stream) = self.rtc.direct_api().stream_rx(&ssrc) {
                stream.request_keyframe(KeyframeRequestKind::Pli);
            }
        }
    }

    /// Writes the frames whose time has come: video every 33 ms (a keyframe when asked or
    /// when the last is old), audio every 20 ms.
    fn send_due_frames(&mut self, now: Instant) {
        if self.connected_at.is_none() {
            return;
        }
        let Role::Publisher(Some(source)) = &mut self.role else {
            return;
        };
        if !source.negotiated {
            return;
        }
        let next_video_at = *source.next_video_at.get_or_insert(now);
        if next_video_at <= now {
            let keyframe = source.keyframe_wanted
                || source
                    .last_keyframe_at
                    .is_none_or(|at| now.duration_since(at) >= KEYFRAME_INTERVAL);
            let frame = frames::vp8_frame(keyframe, source.video_frames);
            let time = MediaTime::new(source.video_frames * VIDEO_TICKS_PER_FRAME, Frequency::NINETY_KHZ);
            if write(&mut self.rtc, source.video, now, time, frame, false).is_ok() {
                source.video_frames += 1;
                if keyframe {
                    source.keyframe_wanted = false;
                    source.last_keyframe_at = Some(now);
                    source.keyframes += 1;
                }
            }
            source.next_video_at = Some(next_frame_at(next_video_at, VIDEO_FRAME_INTERVAL, now));
        }
        if source.next_audio_at <= now {
            let time = MediaTime::new(source.audio_frames * AUDIO_TICKS_PER_FRAME, Frequency::FORTY_EIGHT_KHZ);
            let frame = frames::opus_frame(source.audio_frames);
            if write(&mut self.rtc, source.audio, now, time, frame, true).is_ok() {
                source.audio_frames += 1;
            }
            source.next_audio_at = next_frame_at(source.next_audio_at, AUDIO_FRAME_INTERVAL, now);
        }
    }
}

/// The next frame's time on a steady clock, unless the shard fell so far behind that
/// catching up would burst.
fn next_frame_at(due: Instant, interval: Duration, now: Instant) -> Instant {
    let next = due + interval;
    if now.duration_since(next) > MAX_LAG {
        now + interval
    } else {
        next
    }
}

/// The offer of these changes, and what waits for its answer.
fn applied(change: SdpApi) -> Result<(String, SdpPendingOffer), String> {
    let (offer, pending) = change.apply().ok_or("nothing to offer")?;
    Ok((offer.to_sdp_string(), pending))
}

fn write(rtc: &mut Rtc, mid: Mid, now: Instant, time: MediaTime, frame: Vec<u8>, audio: bool) -> Result<(), String> {
    let writer = rtc.writer(mid).ok_or("the media is not negotiated")?;
    let pt = writer
        .payload_params()
        .next()
        .map(|params| params.pt())
        .ok_or("no payload type was negotiated")?;
    let writer = if audio {
        writer.audio_level(AUDIO_LEVEL, true)
    } else {
        writer
    };
    writer.write(pt, now, time, frame).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A publisher offers straight to a subscriber on another shard (no server between them):
    /// its audio and video arrive, counted, with keyframes told apart and nothing lost.
    #[tokio::test]
    async fn a_publishers_frames_arrive_counted() {
        let (sending, receiving) = (Shard::start(), Shard::start());
        let publish = sending.open(0, Side::Publish).await.unwrap();
        let subscribe = receiving.open(1, Side::Subscribe).await.unwrap();
        let offer = publish
            .offer_media("camera", "mic-track", "camera-track")
            .await
            .unwrap();
        let answer = subscribe.accept_offer(offer).await.unwrap();
        publish.accept_answer(answer).await.unwrap();

        let deadline = Instant::now() + Duration::from_secs(10);
        let tracks = loop {
            let report = receiving.report().await.unwrap();
            let enough = |kind| {
                report.tracks.iter().any(|t| {
                    t.received.kind == kind
                        && t.received.packets >= 50
                        && t.received.first_keyframe_at.is_some() == (kind == Kind::Video)
                })
            };
            if enough(Kind::Audio) && enough(Kind::Video) {
                break report.tracks;
            }
            assert!(
                Instant::now() < deadline,
                "media did not arrive: {} tracks",
                report.tracks.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(tracks.len(), 2);
        for track in &tracks {
            assert_eq!(track.owner, 1);
            assert_eq!(
                track.received.packets,
                track.received.expected(),
                "{:?}",
                track.received.kind
            );
        }
        let publishers = sending.report().await.unwrap().publishers;
        assert!(publishers[0].connected);
        assert!(publishers[0].keyframes >= 1);
    }
}
