//! One task per room with real peers on this node: it turns the runtime's committed
//! changes into what each of those peers is told, in commit order.
//!
//! After every change it takes the room's session from the runtime (its copy, checked
//! against the store's revision) and compares it with what its peers were last told, so a
//! change made through any path (the REST API, another peer, the simulator) is told once
//! and a missed notice cannot leave a peer behind. Each message is made once and shared by
//! all its recipients.

use std::collections::HashMap;
use std::sync::Arc;

use hms_rtc::Subscription;
use hms_store::{NumberedDelivery, TemplateRecord, WorkspaceCredentials};
use hms_types::signal::{
    ActiveSpeakers, LeaveRequestParams, MessageNotification, PeerLeaveParams, PeerListParams, RoomState, Speaker,
};
use indexmap::IndexMap;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

use crate::runtime::{LivePeer, LiveSession};

use super::peer::ToPeer;
use super::{Signal, tracks, wire};

/// Deliveries read from the store at once.
const DELIVERIES_PER_READ: u32 = 500;

pub(super) enum ToRoom {
    /// The room's live state changed, through this node or another.
    Changed,
    /// A peer of this node joined: it gets the peer list and the tracks it receives, then
    /// everything after them.
    Enter {
        peer_id: String,
        peer: mpsc::UnboundedSender<ToPeer>,
        entered: oneshot::Sender<Entered>,
    },
    /// A peer came back on a new socket: it gets the peer list again.
    Resync {
        peer_id: String,
        peer_list: oneshot::Sender<String>,
    },
    /// A peer of this node is gone.
    Exit { peer_id: String },
    /// How loud a peer's audio track is now (0: it fell silent).
    Speaking {
        peer_id: String,
        track_id: String,
        level: u8,
    },
    /// A chat message from a peer.
    Broadcast {
        from: String,
        message: Box<MessageNotification>,
        roles: Option<Vec<String>>,
        to_peer: Option<String>,
    },
    /// A request from one peer to others (role change, mute), by id or role.
    Forward {
        to_peer: Option<String>,
        roles: Option<Vec<String>>,
        except: String,
        text: String,
    },
}

/// What a peer that enters is told first: the peer list, and the tracks it receives now,
/// so that the first offer on its subscribe connection already carries them.
pub(super) struct Entered {
    pub peer_list: String,
    pub wanted: Vec<Subscription>,
}

struct Room {
    signal: Arc<Signal>,
    workspace: Arc<WorkspaceCredentials>,
    room_id: String,
    /// The peers of this node in the room.
    members: HashMap<String, mpsc::UnboundedSender<ToPeer>>,
    /// The session as the members were last told it.
    told: Option<Arc<LiveSession>>,
    /// A change was committed since the session was last read.
    stale: bool,
    /// The room's last delivery that its peers were given (or that came before them).
    delivered: Option<i64>,
    /// The tracks each member was last told to receive.
    subscribed: HashMap<String, Vec<Subscription>>,
    /// Who is heard now, by peer.
    speakers: IndexMap<String, Speaker>,
}

pub(super) fn spawn(
    signal: Arc<Signal>,
    workspace: Arc<WorkspaceCredentials>,
    room_id: String,
) -> mpsc::UnboundedSender<ToRoom> {
    let (sender, inbox) = mpsc::unbounded_channel();
    let room = Room {
        signal,
        workspace,
        room_id,
        members: HashMap::new(),
        told: None,
        stale: false,
        delivered: None,
        subscribed: HashMap::new(),
        speakers: IndexMap::new(),
    };
    tokio::spawn(room.run(inbox));
    sender
}

impl Room {
    async fn run(mut self, mut inbox: mpsc::UnboundedReceiver<ToRoom>) {
        while let Some(message) = inbox.recv().await {
            self.handle(message).await;
            // Changes that arrive together (a crowd joining) are told after one read.
            if self.stale && inbox.is_empty() {
                self.sync().await;
            }
            if self.members.is_empty() && self.signal.forget_room_if_idle(&self.room_id, &mut inbox) {
                return;
            }
        }
    }

    async fn handle(&mut self, message: ToRoom) {
        match message {
            ToRoom::Changed => self.stale = true,
            ToRoom::Enter { peer_id, peer, entered } => {
                self.sync().await;
                self.members.insert(peer_id.clone(), peer);
                let wanted = self.subscribe_entering(&peer_id).await;
                let peer_list = self.peer_list(&peer_id);
                let _ = entered.send(Entered { peer_list, wanted });
            }
            ToRoom::Resync { peer_id, peer_list } => {
                self.sync().await;
                let _ = peer_list.send(self.peer_list(&peer_id));
            }
            ToRoom::Exit { peer_id } => {
                self.members.remove(&peer_id);
                self.subscribed.remove(&peer_id);
            }
            ToRoom::Speaking {
                peer_id,
                track_id,
                level,
            } => self.speaking(peer_id, track_id, level),
            ToRoom::Broadcast {
                from,
                mut message,
                roles,
                to_peer,
            } => {
                // The room's copy of the sender is the one with its current name and data.
                message.peer = self.told_peer(&from).map(wire::peer_notification_info);
                let text = Arc::<str>::from(wire::notification("on-broadcast", &message));
                for member in self.recipients(to_peer.as_deref(), roles.as_deref(), &from) {
                    let _ = member.send(ToPeer::Notify(text.clone()));
                }
            }
            ToRoom::Forward {
                to_peer,
                roles,
                except,
                text,
            } => {
                let text = Arc::<str>::from(text);
                for member in self.recipients(to_peer.as_deref(), roles.as_deref(), &except) {
                    let _ = member.send(ToPeer::Notify(text.clone()));
                }
            }
        }
    }

    fn told_peer(&self, peer_id: &str) -> Option<&LivePeer> {
        self.told
            .as_ref()
            .and_then(|session| session.peers.get(peer_id))
            .map(|peer| &**peer)
    }

    /// Tells everyone who is heard now, loudest first, when that changed.
    fn speaking(&mut self, peer_id: String, track_id: String, level: u8) {
        let changed = if level == 0 {
            self.speakers.shift_remove(&peer_id).is_some()
        } else {
            let speaker = Speaker {
                peer_id: peer_id.clone(),
                track_id,
                level,
            };
            self.speakers.insert(peer_id, speaker.clone()) != Some(speaker)
        };
        if changed {
            self.tell_speakers();
        }
    }

    fn tell_speakers(&self) {
        let mut speaker_list: Vec<Speaker> = self.speakers.values().cloned().collect();
        speaker_list.sort_by_key(|speaker| std::cmp::Reverse(speaker.level));
        let text = Arc::<str>::from(wire::notification("active-speakers", ActiveSpeakers { speaker_list }));
        for member in self.members.values() {
            let _ = member.send(ToPeer::Notify(text.clone()));
        }
    }

    /// Tells each member the tracks it receives now, when they changed.
    async fn resubscribe(&mut self) {
        let anyone_receives = self.subscribed.values().any(|wanted| !wanted.is_empty());
        let Some((session, template)) = self.template_while_published(anyone_receives).await else {
            return;
        };
        let by_role = tracks::wanted_by_role(&session, &template);
        for (member_id, member) in &self.members {
            let Some(peer) = session.peers.get(member_id) else {
                continue;
            };
            let wanted = tracks::wanted_by(peer, &by_role);
            let told = self.subscribed.get(member_id).map_or(&[][..], Vec::as_slice);
            if told != wanted.as_slice() {
                self.subscribed.insert(member_id.clone(), wanted.clone());
                let _ = member.send(ToPeer::Subscribe(wanted));
            }
        }
    }

    /// The tracks the member that enters receives now, recorded as told to it.
    async fn subscribe_entering(&mut self, member_id: &str) -> Vec<Subscription> {
        let Some((session, template)) = self.template_while_published(false).await else {
            return Vec::new();
        };
        let by_role = tracks::wanted_by_role(&session, &template);
        let wanted = session
            .peers
            .get(member_id)
            .map(|peer| tracks::wanted_by(peer, &by_role))
            .unwrap_or_default();
        self.subscribed.insert(member_id.to_owned(), wanted.clone());
        wanted
    }

    /// The session as told and its template, to work out who receives what. `None` when
    /// nobody publishes and nobody needs telling that (`anyone_receives` false: a crowd
    /// joining needs no template read), or when the template cannot be read now (the room
    /// reads it again after its next message).
    async fn template_while_published(&mut self, anyone_receives: bool) -> Option<(Arc<LiveSession>, TemplateRecord)> {
        let session = self.told.clone()?;
        let published = session.peers.values().any(|peer| !peer.tracks.is_empty());
        if !published && !anyone_receives {
            return None;
        }
        let read = self
            .signal
            .store
            .template(&self.workspace.workspace.id, &session.template_id)
            .await;
        match read {
            Ok(template) => template.map(|template| (session, template)),
            Err(error) => {
                tracing::warn!(%error, room_id = %self.room_id, "could not read a room's template");
                self.stale = true;
                None
            }
        }
    }

    /// The members a message reaches: one peer, the peers of some roles, or everyone;
    /// never `except`, its sender.
    fn recipients<'a>(
        &'a self,
        to_peer: Option<&'a str>,
        roles: Option<&'a [String]>,
        except: &'a str,
    ) -> impl Iterator<Item = &'a mpsc::UnboundedSender<ToPeer>> + 'a {
        let role_of = move |peer_id: &str| {
            self.told
                .as_ref()
                .and_then(|session| session.peers.get(peer_id))
                .map(|peer| peer.role.clone())
        };
        self.members.iter().filter_map(move |(peer_id, member)| {
            if peer_id == except {
                return None;
            }
            let chosen = match (to_peer.filter(|p| !p.is_empty()), roles.filter(|r| !r.is_empty())) {
                (Some(target), _) => target == peer_id,
                (None, Some(roles)) => role_of(peer_id).is_some_and(|role| roles.contains(&role)),
                (None, None) => true,
            };
            chosen.then_some(member)
        })
    }

    /// What changes said to peers of this node since the last time: messages, removals,
    /// room ends, in commit order.
    async fn deliver_new(&mut self) -> Result<(), hms_store::StoreError> {
        let store = self.signal.store.clone();
        let mut after = match self.delivered {
            Some(after) => after,
            // The room's deliveries so far were for others, or for before this node served it.
            None => store.latest_room_delivery(&self.room_id).await?,
        };
        loop {
            let batch = store.room_deliveries(&self.room_id, after, DELIVERIES_PER_READ).await?;
            let Some(last) = batch.last() else { break };
            after = last.id;
            let full = batch.len() == DELIVERIES_PER_READ as usize;
            self.deliver(&batch);
            self.delivered = Some(after);
            if !full {
                break;
            }
        }
        self.delivered = Some(after);
        Ok(())
    }

    fn deliver(&mut self, deliveries: &[NumberedDelivery]) {
        for NumberedDelivery { delivery, .. } in deliveries {
            let Some(member) = self.members.get(&delivery.peer_id) else {
                continue;
            };
            let fields = &delivery.delivery.fields;
            let text = |key: &str| fields.get(key).and_then(Value::as_str).unwrap_or_default().to_owned();
            match delivery.delivery.kind.as_str() {
                "message" => {
                    let message = MessageNotification {
                        message_id: crate::ids::uuid(),
                        timestamp: wire::millis(delivery.delivery.at),
                        private: false,
                        roles: Vec::new(),
                        peer: None,
                        info: json!({"message": text("message"), "type": text("message_type")}),
                    };
                    let text = wire::notification("on-broadcast", &message);
                    let _ = member.send(ToPeer::Notify(text.into()));
                }
                kind @ ("removed" | "room_ended") => {
                    let requested_by = fields.get("requested_by").and_then(Value::as_str).map(str::to_owned);
                    let leave = LeaveRequestParams {
                        requested_by,
                        reason: text("reason"),
                        room_end: kind == "room_ended",
                    };
                    let _ = member.send(ToPeer::Removed(wire::notification("on-peer-leave-request", &leave)));
                    self.members.remove(&delivery.peer_id);
                }
                // Profile changes are told by comparing sessions.
                _ => {}
            }
        }
    }

    /// Reads the session again and tells the members what changed since they were told.
    async fn sync(&mut self) {
        self.stale = false;
        if let Err(error) = self.deliver_new().await {
            tracing::warn!(%error, room_id = %self.room_id, "could not read a room's deliveries");
            self.stale = true;
            return;
        }
        let session = match self
            .signal
            .runtime
            .session(&self.workspace.workspace, &self.room_id)
            .await
        {
            Ok(session) => session,
            Err(error) => {
                tracing::warn!(%error, room_id = %self.room_id, "could not read a room's session");
                // Read again after the next message.
                self.stale = true;
                return;
            }
        };
        if let (Some(told), Some(now)) = (&self.told, &session)
            && Arc::ptr_eq(told, now)
        {
            return;
        }
        let empty = IndexMap::new();
        let before = self.told.as_ref().map_or(&empty, |session| &session.peers);
        let after = session.as_ref().map_or(&empty, |session| &session.peers);
        let mut told: Vec<(Arc<str>, Option<String>)> = Vec::new();
        for (peer_id, peer) in after {
            match before.get(peer_id) {
                None => told.push((
                    wire::notification("on-peer-join", wire::peer_notification(peer)).into(),
                    Some(peer_id.clone()),
                )),
                Some(previous) => {
                    if changed(previous, peer) {
                        told.push((
                            wire::notification("on-peer-update", wire::peer_notification(peer)).into(),
                            None,
                        ));
                        if previous.role != peer.role
                            && let Some(member) = self.members.get(peer_id)
                        {
                            let _ = member.send(ToPeer::RoleChanged(peer.role.clone()));
                        }
                    }
                    let about = Some(peer_id.clone());
                    told.extend(
                        tracks::notices(previous, peer)
                            .into_iter()
                            .map(|text| (text.into(), about.clone())),
                    );
                }
            }
        }
        let gone: Vec<&String> = before.keys().filter(|peer_id| !after.contains_key(*peer_id)).collect();
        let speaking = self.speakers.len();
        for peer_id in &gone {
            self.speakers.shift_remove(*peer_id);
        }
        let silenced = self.speakers.len() != speaking;
        for peer_id in gone {
            let leave = PeerLeaveParams {
                peer_id: peer_id.clone(),
            };
            told.push((wire::notification("on-peer-leave", leave).into(), Some(peer_id.clone())));
        }
        self.remove_members_not_in(after);
        for (text, about) in told {
            for (member_id, member) in &self.members {
                if about.as_ref() != Some(member_id) {
                    let _ = member.send(ToPeer::Notify(text.clone()));
                }
            }
        }
        self.told = session;
        if silenced {
            self.tell_speakers();
        }
        self.resubscribe().await;
    }

    /// Members the session no longer has were removed by a path that told them nothing
    /// (another node, a node declared gone): they are told now.
    fn remove_members_not_in(&mut self, peers: &IndexMap<String, Arc<LivePeer>>) {
        let gone: Vec<String> = self
            .members
            .keys()
            .filter(|peer_id| !peers.contains_key(*peer_id))
            .cloned()
            .collect();
        for peer_id in gone {
            if let Some(member) = self.members.remove(&peer_id) {
                let leave = LeaveRequestParams {
                    requested_by: None,
                    reason: "removed by the server".to_owned(),
                    room_end: false,
                };
                let _ = member.send(ToPeer::Removed(wire::notification("on-peer-leave-request", &leave)));
            }
        }
    }

    /// `peer-list` for `peer_id`: everyone else, and the room.
    fn peer_list(&self, peer_id: &str) -> String {
        let Some(session) = &self.told else {
            let room = RoomState {
                name: String::new(),
                session_id: String::new(),
                started_at: 0,
            };
            return wire::notification(
                "peer-list",
                PeerListParams {
                    peers: IndexMap::new(),
                    room,
                },
            );
        };
        let peers = session
            .peers
            .values()
            .filter(|peer| peer.id != peer_id)
            .map(|peer| (peer.id.clone(), wire::peer_notification(peer)))
            .collect();
        let room = RoomState {
            name: session.room_name.clone(),
            session_id: session.id.clone(),
            started_at: wire::millis(session.started_at),
        };
        wire::notification("peer-list", PeerListParams { peers, room })
    }
}

fn changed(before: &LivePeer, after: &LivePeer) -> bool {
    before.name != after.name || before.role != after.role || before.metadata != after.metadata
}
