//! What a client's offer says about its media, read before it is accepted: the server
//! checks each track the client means to send against what its role may publish.

/// The kind of a media section that carries tracks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaKind {
    Audio,
    Video,
}

impl MediaKind {
    /// The name the protocol and the API use (`"audio"`, `"video"`).
    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Audio => "audio",
            MediaKind::Video => "video",
        }
    }
}

/// One audio or video section of a client's offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferedMedia {
    pub mid: String,
    pub kind: MediaKind,
    /// The client sends on it (`sendonly` or `sendrecv`); an unpublished track's section
    /// stays in the offer as `inactive` or `recvonly`.
    pub sends: bool,
    /// `a=msid:<stream_id> <track_id>`, when present.
    pub stream_id: Option<String>,
    pub track_id: Option<String>,
}

/// The audio and video sections of `sdp`, in order; data channel sections are left out.
pub fn offered_media(sdp: &str) -> Vec<OfferedMedia> {
    let mut sections = Vec::new();
    let mut current: Option<OfferedMedia> = None;
    for line in sdp.lines().map(str::trim_end) {
        if let Some(media) = line.strip_prefix("m=") {
            sections.extend(current.take());
            current = section_kind(media).map(|kind| OfferedMedia {
                mid: String::new(),
                kind,
                // A section without a direction attribute is sendrecv (RFC 8866 §6.7).
                sends: true,
                stream_id: None,
                track_id: None,
            });
            continue;
        }
        let Some(section) = current.as_mut() else {
            continue;
        };
        if let Some(mid) = line.strip_prefix("a=mid:") {
            section.mid = mid.trim().to_owned();
        } else if let Some(msid) = line.strip_prefix("a=msid:") {
            let mut ids = msid.split_whitespace();
            section.stream_id = ids.next().map(str::to_owned);
            section.track_id = ids.next().map(str::to_owned);
        } else if matches!(line, "a=sendonly" | "a=sendrecv") {
            section.sends = true;
        } else if matches!(line, "a=recvonly" | "a=inactive") {
            section.sends = false;
        }
    }
    sections.extend(current);
    sections
}

fn section_kind(media_line: &str) -> Option<MediaKind> {
    let (kind, rest) = media_line.split_once(' ')?;
    // A rejected or stopped section has port 0: it carries nothing.
    let port = rest.split_whitespace().next()?;
    if port == "0" {
        return None;
    }
    match kind {
        "audio" => Some(MediaKind::Audio),
        "video" => Some(MediaKind::Video),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFER: &str = "v=0\r\n\
        o=- 1 2 IN IP4 127.0.0.1\r\n\
        s=-\r\n\
        t=0 0\r\n\
        a=group:BUNDLE 0 1 2 3\r\n\
        m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n\
        a=mid:0\r\n\
        m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n\
        a=mid:1\r\n\
        a=sendonly\r\n\
        a=msid:stream-a track-audio\r\n\
        m=video 9 UDP/TLS/RTP/SAVPF 96\r\n\
        a=mid:2\r\n\
        a=inactive\r\n\
        m=video 0 UDP/TLS/RTP/SAVPF 96\r\n\
        a=mid:3\r\n";

    #[test]
    fn reads_each_audio_and_video_section_with_its_direction_and_msid() {
        let media = offered_media(OFFER);
        assert_eq!(
            media,
            vec![
                OfferedMedia {
                    mid: "1".into(),
                    kind: MediaKind::Audio,
                    sends: true,
                    stream_id: Some("stream-a".into()),
                    track_id: Some("track-audio".into()),
                },
                OfferedMedia {
                    mid: "2".into(),
                    kind: MediaKind::Video,
                    sends: false,
                    stream_id: None,
                    track_id: None,
                },
            ]
        );
    }
}
