//! Published tracks as a room's peers are told them, and the tracks each peer receives.

use std::collections::HashMap;

use hms_rtc::{Subscription, TrackKey};
use hms_store::TemplateRecord;
use hms_types::active_room::Track;
use hms_types::signal::TrackNotification;
use indexmap::IndexMap;

use crate::runtime::{LivePeer, LiveSession};

use super::wire;

/// What the others are told when `before` became `after` (the same peer): tracks added,
/// changed (mute, description) and removed.
pub fn notices(before: &LivePeer, after: &LivePeer) -> Vec<String> {
    let added = after
        .tracks
        .values()
        .filter(|track| !before.tracks.contains_key(&track.id));
    let updated = after
        .tracks
        .values()
        .filter(|track| before.tracks.get(&track.id).is_some_and(|was| was != *track));
    let removed = before
        .tracks
        .values()
        .filter(|track| !after.tracks.contains_key(&track.id));
    [
        ("on-track-add", added.collect::<Vec<_>>()),
        ("on-track-update", updated.collect()),
        ("on-track-remove", removed.collect()),
    ]
    .into_iter()
    .filter(|(_, tracks)| !tracks.is_empty())
    .map(|(method, tracks)| notice(method, after, &tracks))
    .collect()
}

fn notice(method: &'static str, peer: &LivePeer, tracks: &[&Track]) -> String {
    let tracks: IndexMap<String, _> = tracks
        .iter()
        .map(|track| (track.id.clone(), wire::track_state(track)))
        .collect();
    let params = TrackNotification {
        peer: wire::peer_notification_info(peer),
        tracks,
    };
    wire::notification(method, params)
}

/// The tracks the peers of each role receive: those of the peers of the roles it
/// subscribes to (a peer's own tracks are left out by [`wanted_by`]).
pub fn wanted_by_role<'a>(session: &LiveSession, template: &'a TemplateRecord) -> HashMap<&'a str, Vec<Subscription>> {
    template
        .body
        .roles
        .iter()
        .map(|(name, role)| {
            let subscribes_to = &role.subscribe_params.subscribe_to_roles;
            let tracks = session
                .peers
                .values()
                .filter(|peer| subscribes_to.contains(&peer.role))
                .flat_map(|peer| peer.tracks.values().map(|track| subscription(peer, track)))
                .collect();
            (name.as_str(), tracks)
        })
        .collect()
}

/// What `member` receives of what its role does (a role the template does not know
/// receives nothing).
pub fn wanted_by(member: &LivePeer, by_role: &HashMap<&str, Vec<Subscription>>) -> Vec<Subscription> {
    by_role
        .get(member.role.as_str())
        .map(|tracks| {
            tracks
                .iter()
                .filter(|wanted| wanted.source.publisher != member.id)
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

fn subscription(peer: &LivePeer, track: &Track) -> Subscription {
    Subscription {
        source: TrackKey {
            publisher: peer.id.clone(),
            track_id: track.id.clone(),
        },
        stream_id: track.stream_id.clone(),
    }
}
