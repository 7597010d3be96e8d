//! The WebRTC transport of real peers: every peer connection of a node shares one UDP
//! socket (ICE-lite, so the server only answers the client's connectivity checks), and
//! one task drives them all through str0m, which does no I/O of its own.
//!
//! A [`Connection`] is the handle its owner (a peer's signalling session) holds: it
//! negotiates through it and hears of it through [`ConnectionEvent`]s. Dropping the handle
//! closes the connection.
//!
//! The same task forwards media: what a publish connection receives is written, frame by
//! frame and without transcoding, to every subscribe connection that has the track in
//! its offer. Each publish connection registers its tracks under its owner's peer id, and
//! a subscriber asks for tracks by that id ([`TrackKey`]).

mod endpoint;
mod forward;
mod inbox;
mod link;
mod sdp;

use tokio::sync::{mpsc, oneshot};

pub use endpoint::{Endpoint, RtcStats, StatsSource};
pub use sdp::{MediaKind, OfferedMedia, offered_media};

/// A published track on this node: the peer that publishes it and the track's own id
/// (the client's `MediaStreamTrack` id, as its `tracks` map names it).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TrackKey {
    pub publisher: String,
    pub track_id: String,
}

/// A track a subscriber is to receive, in the stream its publisher put it in (the
/// client groups remote tracks by stream id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub source: TrackKey,
    pub stream_id: String,
}

/// What the server's next offer on a subscribe connection should bring about.
#[derive(Debug, Clone, Default)]
pub struct OfferRequest {
    /// Open this data channel (the first offer).
    pub open_channel: Option<String>,
    /// Restart ICE (the client came back, or lost the connection).
    pub ice_restart: bool,
    /// Every track the subscriber should receive now: missing ones are added (those
    /// published on this node), ones no longer listed are made inactive.
    pub wanted: Vec<Subscription>,
}

/// Why a negotiation step failed. Messages are fit to send to the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RtcError {
    #[error("the session description is not valid SDP: {0}")]
    BadSdp(String),
    #[error("the session description cannot be negotiated: {0}")]
    Negotiation(String),
    #[error("no offer of the server is waiting for an answer")]
    NoPendingOffer,
    #[error("the connection is closed")]
    Closed,
}

/// What a connection tells its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionEvent {
    /// ICE and DTLS are up.
    Connected,
    /// The client stopped answering; it may come back (ICE restart).
    Disconnected,
    /// A data channel opened, by either side.
    ChannelOpen { label: String },
    /// A text message arrived on a data channel.
    ChannelText { label: String, text: String },
    /// How loud a published audio track is, 0 (silence) to 100, told about twice a
    /// second while it is heard and once when it falls silent.
    AudioLevel { track_id: String, level: u8 },
    /// The connection is gone for good.
    Closed,
}

pub(crate) type ConnectionId = u64;

pub(crate) type Reply<T> = oneshot::Sender<Result<T, RtcError>>;

pub(crate) enum Command {
    Open {
        id: ConnectionId,
        owner: String,
        events: mpsc::UnboundedSender<ConnectionEvent>,
    },
    AcceptOffer {
        id: ConnectionId,
        sdp: String,
        reply: Reply<String>,
    },
    /// An offer from the server, when there is anything to negotiate.
    Offer {
        id: ConnectionId,
        request: OfferRequest,
        reply: Reply<Option<String>>,
    },
    AcceptAnswer {
        id: ConnectionId,
        sdp: String,
        reply: Reply<()>,
    },
    SendText {
        id: ConnectionId,
        label: String,
        text: String,
    },
    /// A subscriber wants a track forwarded, or paused.
    Prefer {
        id: ConnectionId,
        track_id: String,
        forward: bool,
    },
    Close {
        id: ConnectionId,
    },
}

/// One peer connection on the endpoint. Dropping it closes the connection.
pub struct Connection {
    id: ConnectionId,
    commands: mpsc::UnboundedSender<Command>,
}

impl Connection {
    /// Accepts the client's offer and answers it.
    pub async fn accept_offer(&self, sdp: String) -> Result<String, RtcError> {
        self.ask(|reply| Command::AcceptOffer {
            id: self.id,
            sdp,
            reply,
        })
        .await
    }

    /// The server's offer for `request`, or `None` when nothing needs negotiating. The
    /// offer waits for [`Connection::accept_answer`]; a new one replaces it.
    pub async fn offer(&self, request: OfferRequest) -> Result<Option<String>, RtcError> {
        self.ask(|reply| Command::Offer {
            id: self.id,
            request,
            reply,
        })
        .await
    }

    /// Applies the client's answer to the server's last offer.
    pub async fn accept_answer(&self, sdp: String) -> Result<(), RtcError> {
        self.ask(|reply| Command::AcceptAnswer {
            id: self.id,
            sdp,
            reply,
        })
        .await
    }

    /// Sends `text` on the data channel `label`, if it is open (lost otherwise, as a
    /// message on a closed channel is).
    pub fn send_text(&self, label: &str, text: String) {
        let _ = self.commands.send(Command::SendText {
            id: self.id,
            label: label.to_owned(),
            text,
        });
    }

    /// Forwards the subscribed track `track_id` again (`forward`), or pauses it, as the
    /// client asks when it shows or hides a video, or mutes a remote audio.
    pub fn prefer(&self, track_id: &str, forward: bool) {
        let _ = self.commands.send(Command::Prefer {
            id: self.id,
            track_id: track_id.to_owned(),
            forward,
        });
    }

    async fn ask<T>(&self, command: impl FnOnce(Reply<T>) -> Command) -> Result<T, RtcError> {
        let (reply, answer) = oneshot::channel();
        self.commands.send(command(reply)).map_err(|_| RtcError::Closed)?;
        answer.await.map_err(|_| RtcError::Closed)?
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        let _ = self.commands.send(Command::Close { id: self.id });
    }
}
