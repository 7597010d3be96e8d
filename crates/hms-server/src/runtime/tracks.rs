//! What a real peer publishes: its tracks, as the room's other peers and the API see
//! them.

use hms_store::{LiveWrite, PeerTracks, Workspace};
use hms_types::active_room::Track;

use super::{RoomRuntime, RuntimeError, peer_of};

impl RoomRuntime {
    /// Replaces the tracks `peer_id` publishes (a track published, muted or unmuted, or
    /// unpublished). Nothing is written when they are what the session already has.
    pub async fn publish(
        &self,
        workspace: &Workspace,
        room_id: &str,
        peer_id: &str,
        tracks: Vec<Track>,
    ) -> Result<(), RuntimeError> {
        let tracks = &tracks;
        self.in_room(room_id, move || async move {
            let session = self.live(workspace, room_id).await?;
            let peer = peer_of(&session, peer_id)?;
            if peer.tracks.values().eq(tracks.iter()) {
                return Ok(());
            }
            let write = LiveWrite {
                read: Some(session.read()),
                published: vec![PeerTracks {
                    session_id: session.id.clone(),
                    peer_id: peer_id.to_owned(),
                    tracks: tracks.clone(),
                }],
                ..LiveWrite::default()
            };
            self.commit(&session.room_id, write).await
        })
        .await
    }
}
