//! The WebRTC transport of real peers: every peer connection of a node shares one UDP
//! socket (ICE-lite, so the server only answers the client's connectivity checks), and
//! one task drives them all through str0m, which does no I/O of its own.
//!
//! A [`Connection`] is the handle its owner (a peer's signalling session) holds: it
//! negotiates through it and hears of it through [`ConnectionEvent`]s. Dropping the handle
//! closes the connection.

mod endpoint;

use tokio::sync::{mpsc, oneshot};

pub use endpoint::Endpoint;

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
    /// The connection is gone for good.
    Closed,
}

pub(crate) type ConnectionId = u64;

pub(crate) type Reply<T> = oneshot::Sender<Result<T, RtcError>>;

pub(crate) enum Command {
    Open {
        id: ConnectionId,
        events: mpsc::UnboundedSender<ConnectionEvent>,
    },
    AcceptOffer {
        id: ConnectionId,
        sdp: String,
        reply: Reply<String>,
    },
    /// An offer from the server: a data channel opened by the server, an ICE restart, or
    /// both.
    Offer {
        id: ConnectionId,
        channel: Option<String>,
        ice_restart: bool,
        reply: Reply<String>,
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

    /// The server's offer opening the data channel `label`.
    pub async fn offer_channel(&self, label: &str) -> Result<String, RtcError> {
        let channel = Some(label.to_owned());
        self.ask(|reply| Command::Offer {
            id: self.id,
            channel,
            ice_restart: false,
            reply,
        })
        .await
    }

    /// The server's offer restarting ICE, after the client lost the connection.
    pub async fn offer_ice_restart(&self) -> Result<String, RtcError> {
        self.ask(|reply| Command::Offer {
            id: self.id,
            channel: None,
            ice_restart: true,
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
