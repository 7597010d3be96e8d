//! What a peer publishes: the tracks of its publish offers, checked against its role.

use hms_rtc::offered_media;
use hms_types::PreciseTime;
use hms_types::active_room::Track;
use hms_types::signal::TrackState;
use hms_types::template::Role;
use indexmap::IndexMap;

/// Why a publish offer is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublishError {
    #[error("media section {mid} sends without an a=msid track id")]
    NoTrackId { mid: String },
    #[error("the offer sends track {0}, which its tracks map does not describe")]
    Undescribed(String),
    #[error("track {track_id} is described as {described} but sent as {sent}")]
    KindMismatch {
        track_id: String,
        described: String,
        sent: &'static str,
    },
    #[error("role {role} may not publish {what}")]
    NotAllowed { role: String, what: String },
}

impl PublishError {
    /// The protocol's error code: 403 for what the role forbids, 400 for a bad offer.
    pub fn code(&self) -> u16 {
        match self {
            PublishError::NotAllowed { .. } => 403,
            _ => 400,
        }
    }
}

/// The tracks an offer sends, each described by `described` (the offer's `tracks` map)
/// and allowed to `role` (`None`: nothing may be sent yet). A track published before
/// (`previous`) keeps its start time.
pub fn offered_tracks(
    sdp: &str,
    described: &IndexMap<String, TrackState>,
    role: Option<&Role>,
    previous: &[Track],
) -> Result<Vec<Track>, PublishError> {
    offered_media(sdp)
        .into_iter()
        .filter(|media| media.sends)
        .map(|media| {
            let track_id = media.track_id.ok_or(PublishError::NoTrackId { mid: media.mid })?;
            let state = described
                .get(&track_id)
                .ok_or_else(|| PublishError::Undescribed(track_id.clone()))?;
            let sent = media.kind.as_str();
            if state.kind != sent {
                return Err(PublishError::KindMismatch {
                    track_id,
                    described: state.kind.clone(),
                    sent,
                });
            }
            check_allowed(role, state)?;
            let started_at = previous
                .iter()
                .find(|track| track.id == track_id)
                .map_or_else(PreciseTime::now, |track| track.started_at);
            Ok(track(track_id, state, started_at))
        })
        .collect()
}

/// The permission a track needs: a screen share needs `screen`, any other track its
/// kind (`audio`, `video`).
fn check_allowed(role: Option<&Role>, state: &TrackState) -> Result<(), PublishError> {
    let what = if state.source == "screen" {
        "screen"
    } else {
        state.kind.as_str()
    };
    match role {
        Some(role) if role.publish_params.allowed.iter().any(|allowed| allowed == what) => Ok(()),
        role => Err(PublishError::NotAllowed {
            role: role.map_or_else(String::new, |role| role.name.clone()),
            what: what.to_owned(),
        }),
    }
}

/// `published` with the mute state and description of `changes` (a `track-update`);
/// tracks the peer does not publish are ignored.
pub fn updated(published: &[Track], changes: &IndexMap<String, TrackState>) -> Vec<Track> {
    published
        .iter()
        .map(|track| match changes.get(&track.id) {
            Some(change) => Track {
                mute: change.mute,
                description: change.description.clone(),
                ..track.clone()
            },
            None => track.clone(),
        })
        .collect()
}

fn track(id: String, state: &TrackState, started_at: PreciseTime) -> Track {
    Track {
        id,
        stream_id: state.stream_id.clone(),
        mute: state.mute,
        kind: state.kind.clone(),
        source: state.source.clone(),
        started_at,
        description: state.description.clone(),
    }
}
