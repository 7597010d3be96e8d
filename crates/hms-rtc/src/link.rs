//! One peer connection's state on the endpoint, and its offer/answer steps.

use std::collections::HashMap;
use std::time::Instant;

use str0m::Rtc;
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::channel::ChannelId;
use str0m::media::{Direction, Mid};
use tokio::sync::mpsc;

use crate::forward::Loudness;
use crate::{ConnectionEvent, MediaKind, OfferRequest, RtcError, Subscription, TrackKey, offered_media};

/// New tracks one subscribe offer adds at most; more follow in the next offer. Bounded
/// because each added section must draw a mid that does not start with a digit (below).
const MAX_ADDED_PER_OFFER: usize = 8;
/// Draws of a fresh set of mids before an offer gives up.
const MID_DRAWS: usize = 200;

pub(crate) struct Link {
    pub rtc: Rtc,
    /// The peer this connection belongs to: its published tracks are keyed by it.
    pub owner: String,
    pub events: mpsc::UnboundedSender<ConnectionEvent>,
    /// When str0m next wants to be woken (`None` while it is being woken).
    pub wake_at: Option<Instant>,
    pub pending_offer: Option<PendingOffer>,
    pub channels: HashMap<ChannelId, String>,
    /// Publish side: the track each of the client's sending sections carries.
    pub incoming: HashMap<Mid, Incoming>,
    /// Subscribe side: the track each section the client accepted forwards.
    pub outgoing: HashMap<Mid, TrackKey>,
}

pub(crate) struct Incoming {
    pub key: TrackKey,
    pub kind: MediaKind,
    pub loudness: Loudness,
}

/// A track a publish connection receives, and the section it arrives on.
pub(crate) struct SentTrack {
    pub mid: Mid,
    pub key: TrackKey,
    pub kind: MediaKind,
}

/// The server's offer waiting for its answer, and what it changes once answered.
pub(crate) struct PendingOffer {
    pending: SdpPendingOffer,
    changes: SectionChanges,
}

/// The sections an answered offer added (and the track each forwards) and made inactive.
#[derive(Default)]
pub(crate) struct SectionChanges {
    pub added: Vec<(Mid, TrackKey)>,
    pub removed: Vec<Mid>,
}

impl Link {
    pub fn new(rtc: Rtc, owner: String, events: mpsc::UnboundedSender<ConnectionEvent>) -> Self {
        Self {
            rtc,
            owner,
            events,
            wake_at: None,
            pending_offer: None,
            channels: HashMap::new(),
            incoming: HashMap::new(),
            outgoing: HashMap::new(),
        }
    }

    /// Accepts the client's offer. Returns the answer and the tracks the client now sends
    /// (section by section), which the endpoint registers as this owner's.
    pub fn accept_offer(&mut self, sdp: &str) -> Result<(String, Vec<SentTrack>), RtcError> {
        let offer = SdpOffer::from_sdp_string(sdp).map_err(|e| RtcError::BadSdp(e.to_string()))?;
        // An offer from the client replaces any the server was waiting on (str0m drops it).
        self.pending_offer = None;
        let answer = self
            .rtc
            .sdp_api()
            .accept_offer(offer)
            .map_err(|e| RtcError::Negotiation(e.to_string()))?;
        let sending = offered_media(sdp)
            .into_iter()
            .filter(|media| media.sends)
            .filter_map(|media| {
                let key = TrackKey {
                    publisher: self.owner.clone(),
                    track_id: media.track_id?,
                };
                Some(SentTrack {
                    mid: Mid::from(media.mid.as_str()),
                    key,
                    kind: media.kind,
                })
            })
            .collect();
        Ok((answer.to_sdp_string(), sending))
    }

    /// The server's offer for `request`; `kind_of` tells the kind of a track published on
    /// this node, `None` for one that is not (it is left for a later offer).
    pub fn offer(
        &mut self,
        request: &OfferRequest,
        kind_of: impl Fn(&TrackKey) -> Option<MediaKind>,
    ) -> Result<Option<String>, RtcError> {
        let to_add: Vec<(&Subscription, MediaKind)> = request
            .wanted
            .iter()
            .filter(|wanted| !self.outgoing.values().any(|key| *key == wanted.source))
            .filter_map(|wanted| kind_of(&wanted.source).map(|kind| (wanted, kind)))
            .take(MAX_ADDED_PER_OFFER)
            .collect();
        let to_remove: Vec<Mid> = self
            .outgoing
            .iter()
            .filter(|(_, key)| !request.wanted.iter().any(|wanted| wanted.source == **key))
            .map(|(mid, _)| *mid)
            .collect();
        for _ in 0..MID_DRAWS {
            let mut change = self.rtc.sdp_api();
            let Some(added) = add_sections(&mut change, &to_add) else {
                // Dropping the change leaves the session as it was: draw again.
                continue;
            };
            if let Some(label) = &request.open_channel {
                change.add_channel(label.clone());
            }
            for mid in &to_remove {
                change.set_direction(*mid, Direction::Inactive);
            }
            if request.ice_restart {
                change.ice_restart(true);
            }
            let Some((offer, pending)) = change.apply() else {
                return Ok(None);
            };
            self.pending_offer = Some(PendingOffer {
                pending,
                changes: SectionChanges {
                    added,
                    removed: to_remove,
                },
            });
            return Ok(Some(offer.to_sdp_string()));
        }
        Err(RtcError::Negotiation("could not draw section ids for the offer".into()))
    }

    /// Applies the client's answer to the server's last offer, and returns what it
    /// changed.
    pub fn accept_answer(&mut self, sdp: &str) -> Result<SectionChanges, RtcError> {
        let answer = SdpAnswer::from_sdp_string(sdp).map_err(|e| RtcError::BadSdp(e.to_string()))?;
        let PendingOffer { pending, changes } = self.pending_offer.take().ok_or(RtcError::NoPendingOffer)?;
        self.rtc
            .sdp_api()
            .accept_answer(pending, answer)
            .map_err(|e| RtcError::Negotiation(e.to_string()))?;
        for mid in &changes.removed {
            self.outgoing.remove(mid);
        }
        for (mid, key) in &changes.added {
            self.outgoing.insert(*mid, key.clone());
        }
        Ok(changes)
    }

    pub fn send_text(&mut self, label: &str, text: &str) {
        let Some(id) = self
            .channels
            .iter()
            .find(|(_, open)| open.as_str() == label)
            .map(|(id, _)| *id)
        else {
            return;
        };
        if let Some(mut channel) = self.rtc.channel(id)
            && let Err(error) = channel.write(false, text.as_bytes())
        {
            tracing::debug!(%error, "could not write to a data channel");
        }
    }
}

/// Adds a sending section per track. The client ties a remote track to its id by
/// comparing `parseInt(mid)` of the offer's sections with its transceiver's, so two mids
/// that start with the same digits would be taken for one another; str0m draws mids at
/// random, so a draw with a mid that starts with a digit is refused (`None`), and then
/// no transceiver mid parses as a number and the client reads the track id from the
/// track itself, which the browser takes from `a=msid`.
fn add_sections(
    change: &mut str0m::change::SdpApi<'_>,
    tracks: &[(&Subscription, MediaKind)],
) -> Option<Vec<(Mid, TrackKey)>> {
    let mut added = Vec::with_capacity(tracks.len());
    for (subscription, kind) in tracks {
        let kind = match kind {
            MediaKind::Audio => str0m::media::MediaKind::Audio,
            MediaKind::Video => str0m::media::MediaKind::Video,
        };
        let mid = change.add_media(
            kind,
            Direction::SendOnly,
            Some(subscription.stream_id.clone()),
            Some(subscription.source.track_id.clone()),
            None,
        );
        if mid.starts_with(|c: char| c.is_ascii_digit()) {
            return None;
        }
        added.push((mid, subscription.source.clone()));
    }
    Some(added)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::offered_media;

    fn subscription(n: usize) -> Subscription {
        Subscription {
            source: TrackKey {
                publisher: format!("peer-{n}"),
                track_id: format!("track-{n}"),
            },
            stream_id: format!("stream-{n}"),
        }
    }

    #[test]
    fn subscribe_offers_never_give_a_section_a_mid_that_parses_as_a_number() {
        for _ in 0..50 {
            let (events, _received) = mpsc::unbounded_channel();
            let rtc = Rtc::builder().set_ice_lite(true).build(Instant::now());
            let mut link = Link::new(rtc, "subscriber".into(), events);
            let request = OfferRequest {
                open_channel: Some("ion-sfu".into()),
                ice_restart: false,
                wanted: (0..20).map(subscription).collect(),
            };
            let sdp = link
                .offer(&request, |_| Some(MediaKind::Video))
                .expect("an offer")
                .expect("something to negotiate");
            let sections = offered_media(&sdp);
            // At most 8 new sections an offer; the rest wait for the next one.
            assert_eq!(sections.len(), MAX_ADDED_PER_OFFER);
            for (n, section) in sections.iter().enumerate() {
                assert!(
                    !section.mid.starts_with(|c: char| c.is_ascii_digit()),
                    "{}",
                    section.mid
                );
                assert_eq!(section.track_id.as_deref(), Some(format!("track-{n}").as_str()));
                assert_eq!(section.stream_id.as_deref(), Some(format!("stream-{n}").as_str()));
            }
        }
    }

    #[test]
    fn tracks_published_nowhere_on_the_node_wait_for_a_later_offer() {
        let (events, _received) = mpsc::unbounded_channel();
        let rtc = Rtc::builder().set_ice_lite(true).build(Instant::now());
        let mut link = Link::new(rtc, "subscriber".into(), events);
        let request = OfferRequest {
            wanted: vec![subscription(1)],
            ..OfferRequest::default()
        };
        assert_eq!(link.offer(&request, |_| None), Ok(None));
        assert!(link.pending_offer.is_none());
    }
}
