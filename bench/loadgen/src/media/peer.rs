//! One peer of the load client on the signalling socket, as the web SDK speaks it (spec
//! 40 §3-4): it joins with its publish connection's first offer (the `ion-sfu` data channel
//! only), answers every offer the server makes on its subscribe connection, publishes an
//! audio and a video track with an `offer` request when it is a publisher, and asks for
//! every video it is told of at the top layer, as an app that shows them all does.

use std::collections::HashSet;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::{oneshot, watch};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::shard::{Connection, Shard, Side};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The data channel the SDK opens on its publish connection, and the server on the
/// subscribe one.
const DATA_CHANNEL: &str = "ion-sfu";
/// The SDK pings this often.
const PING_INTERVAL: Duration = Duration::from_secs(3);
/// The join's and the publish offer's request ids.
const JOIN_ID: &str = "join";
const PUBLISH_ID: &str = "publish";

/// Who the peer is and where it goes.
pub struct PeerPlan {
    /// The peer's number in its scenario; the shard reports by it.
    pub index: usize,
    pub peer_id: String,
    /// The signalling socket's URL, token included.
    pub url: String,
    pub publishes: bool,
}

/// Runs the peer until `stop`, then leaves. `ready` gets the instant the join was sent, once
/// the peer has joined (and published, when it publishes).
pub async fn run(
    plan: PeerPlan,
    shard: Shard,
    ready: oneshot::Sender<Instant>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), String> {
    // Without Nagle's algorithm, as a browser's socket.
    let (socket, _) = tokio_tungstenite::connect_async_with_config(plan.url.as_str(), None, true)
        .await
        .map_err(|e| format!("{}: connect: {e}", plan.peer_id))?;
    let mut peer = Peer {
        publish: shard.open(plan.index, Side::Publish).await?,
        plan,
        shard,
        socket,
        subscribe: None,
        ready: Some(ready),
        join_sent_at: None,
        preferred_videos: HashSet::new(),
        unsent_preferences: Vec::new(),
        requests: 0,
    };
    let mut ping = tokio::time::interval(PING_INTERVAL);
    let outcome = loop {
        tokio::select! {
            frame = peer.socket.next() => match frame {
                Some(Ok(Message::Text(text))) => {
                    let message: Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}: {text}", peer.plan.peer_id))?;
                    if let Err(error) = peer.message(message).await {
                        break Err(format!("{}: {error}", peer.plan.peer_id));
                    }
                }
                Some(Ok(Message::Close(frame))) => break Err(format!("{}: the server closed the socket: {frame:?}", peer.plan.peer_id)),
                Some(Ok(_)) => {}
                Some(Err(error)) => break Err(format!("{}: {error}", peer.plan.peer_id)),
                None => break Err(format!("{}: the socket closed", peer.plan.peer_id)),
            },
            _ = ping.tick() => peer.ping().await?,
            _ = stop.changed() => break Ok(()),
        }
    };
    peer.leave().await;
    outcome
}

struct Peer {
    plan: PeerPlan,
    shard: Shard,
    socket: Socket,
    publish: Connection,
    subscribe: Option<Connection>,
    ready: Option<oneshot::Sender<Instant>>,
    join_sent_at: Option<Instant>,
    /// Video tracks asked for already.
    preferred_videos: HashSet<String>,
    /// Requests for the subscribe connection's data channel before that connection exists.
    unsent_preferences: Vec<String>,
    requests: u64,
}

impl Peer {
    async fn message(&mut self, message: Value) -> Result<(), String> {
        if let Some(id) = message.get("id").and_then(Value::as_str) {
            if let Some(error) = message.get("error") {
                return Err(format!("request {id} refused: {error}"));
            }
            return match id {
                JOIN_ID => self.joined(&message["result"]).await,
                PUBLISH_ID => self.published(&message["result"]).await,
                _ => Ok(()),
            };
        }
        let params = &message["params"];
        match message["method"].as_str().unwrap_or_default() {
            // The SDK joins once it knows its role.
            "on-policy-change" if self.join_sent_at.is_none() => self.join().await,
            "offer" => self.answer_subscribe(params).await,
            "on-track-add" => {
                self.prefer_videos(&params["tracks"]);
                Ok(())
            }
            "peer-list" => {
                for peer in params["peers"].as_object().into_iter().flat_map(|peers| peers.values()) {
                    self.prefer_videos(&peer["tracks"]);
                }
                Ok(())
            }
            "on-error" => Err(format!("on-error: {params}")),
            _ => Ok(()),
        }
    }

    async fn join(&mut self) -> Result<(), String> {
        let offer = self.publish.offer_channel(DATA_CHANNEL).await?;
        // The SDK's defaults: no video until a layer is asked for, no simulcast.
        let params = json!({
            "name": self.plan.peer_id,
            "data": "",
            "offer": {"type": "offer", "sdp": offer},
            "disableVidAutoSub": true,
            "server_sub_degrade": false,
            "simulcast": false,
            "onDemandTracks": false,
        });
        self.join_sent_at = Some(Instant::now());
        self.request(JOIN_ID, "join", params).await
    }

    async fn joined(&mut self, result: &Value) -> Result<(), String> {
        self.publish.accept_answer(answer_sdp(result, "join")?).await?;
        if self.plan.publishes {
            self.publish_tracks().await
        } else {
            self.tell_ready();
            Ok(())
        }
    }

    /// Adds a camera stream (audio and video) to the publish connection and offers it.
    async fn publish_tracks(&mut self) -> Result<(), String> {
        let stream_id = format!("{}-camera", self.plan.peer_id);
        let audio = format!("{}-audio", self.plan.peer_id);
        let video = format!("{}-video", self.plan.peer_id);
        let offer = self.publish.offer_media(&stream_id, &audio, &video).await?;
        let track = |track_id: &str, kind: &str| json!({"track_id": track_id, "stream_id": stream_id, "type": kind, "source": "regular", "mute": false, "description": ""});
        let params = json!({
            "desc": {"type": "offer", "sdp": offer},
            "tracks": {audio.as_str(): track(&audio, "audio"), video.as_str(): track(&video, "video")},
        });
        self.request(PUBLISH_ID, "offer", params).await
    }

    async fn published(&mut self, result: &Value) -> Result<(), String> {
        self.publish.accept_answer(answer_sdp(result, "offer")?).await?;
        self.tell_ready();
        Ok(())
    }

    fn tell_ready(&mut self) {
        if let (Some(ready), Some(at)) = (self.ready.take(), self.join_sent_at) {
            let _ = ready.send(at);
        }
    }

    /// The server's offer on the subscribe connection (the first one opens it).
    async fn answer_subscribe(&mut self, offer: &Value) -> Result<(), String> {
        if offer["type"] != "offer" {
            return Err(format!("the server's offer is not an offer: {offer}"));
        }
        let sdp = offer["sdp"].as_str().ok_or("the server's offer has no sdp")?.to_owned();
        if self.subscribe.is_none() {
            let subscribe = self.shard.open(self.plan.index, Side::Subscribe).await?;
            for text in self.unsent_preferences.drain(..) {
                subscribe.send_text(text);
            }
            self.subscribe = Some(subscribe);
        }
        let subscribe = self.subscribe.as_ref().expect("opened above");
        let answer = subscribe.accept_offer(sdp).await?;
        let answer = json!({"method": "answer", "params": {"desc": {"type": "answer", "sdp": answer}}});
        self.send(answer).await
    }

    /// Asks for each video track of `tracks` (a `TrackState` map) at the top layer, once,
    /// on the subscribe connection's data channel.
    fn prefer_videos(&mut self, tracks: &Value) {
        let videos = tracks
            .as_object()
            .into_iter()
            .flat_map(|tracks| tracks.values())
            .filter(|track| track["type"] == "video")
            .filter_map(|track| track["track_id"].as_str());
        let new: Vec<String> = videos
            .filter(|id| self.preferred_videos.insert((*id).to_owned()))
            .map(str::to_owned)
            .collect();
        for track_id in new {
            self.requests += 1;
            let request = json!({
                "id": format!("prefer-{}", self.requests),
                "jsonrpc": "2.0",
                "method": "prefer-video-track-state",
                "params": {"track_id": track_id, "max_spatial_layer": "high"},
            });
            match &self.subscribe {
                Some(subscribe) => subscribe.send_text(request.to_string()),
                None => self.unsent_preferences.push(request.to_string()),
            }
        }
    }

    async fn ping(&mut self) -> Result<(), String> {
        self.requests += 1;
        let id = format!("ping-{}", self.requests);
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        self.request(&id, "ping", json!({"timestamp": now_ms})).await
    }

    async fn request(&mut self, id: &str, method: &str, params: Value) -> Result<(), String> {
        self.send(json!({"method": method, "params": params, "id": id, "jsonrpc": "2.0"}))
            .await
    }

    async fn send(&mut self, message: Value) -> Result<(), String> {
        self.socket
            .send(Message::Text(message.to_string().into()))
            .await
            .map_err(|e| format!("{}: send: {e}", self.plan.peer_id))
    }

    /// Leaves as the SDK does: a `leave` notification, then a normal close.
    async fn leave(&mut self) {
        let leave = json!({"method": "leave", "params": {"client_reason": "user request"}});
        let _ = self.send(leave).await;
        let _ = self.socket.close(None).await;
    }
}

/// The SDP of an answer in a request's result.
fn answer_sdp(result: &Value, method: &str) -> Result<String, String> {
    if result["type"] != "answer" {
        return Err(format!("the {method} result is not an SDP answer: {result}"));
    }
    result["sdp"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("the {method} result has no sdp"))
}
