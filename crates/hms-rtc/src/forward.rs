//! The forwarding table: each published track, the subscribe sections it is written to,
//! and how loud an audio track is.

use std::time::{Duration, Instant};

use str0m::media::Mid;

use crate::{ConnectionId, MediaKind};

/// A publisher is asked for a keyframe at most this often per track: every subscriber
/// that starts or loses video asks, and one keyframe serves them all.
const KEYFRAME_REQUEST_INTERVAL: Duration = Duration::from_millis(300);
/// How often a heard audio track's level is told.
const LEVEL_WINDOW: Duration = Duration::from_millis(500);
/// Quieter than this (in dBov) is silence: background noise is not speech.
const SPEECH_DBOV: i8 = -50;
/// The level scale's floor (0) in dBov; 0 dBov is 100.
const FLOOR_DBOV: i16 = -80;

/// A track published on this node.
pub(crate) struct Source {
    /// The publish connection it arrives on, and its section there.
    pub connection: ConnectionId,
    pub mid: Mid,
    pub kind: MediaKind,
    pub sinks: Vec<Sink>,
    last_keyframe_request: Option<Instant>,
    /// A keyframe was wanted while requests were spaced out: it is asked for as soon as
    /// the next request may go, so that no subscriber waits for the next natural one.
    keyframe_owed: bool,
}

/// A subscribe section a source is written to.
pub(crate) struct Sink {
    pub connection: ConnectionId,
    pub mid: Mid,
    /// The subscriber asked not to receive it for now.
    pub paused: bool,
}

impl Source {
    pub fn new(connection: ConnectionId, mid: Mid, kind: MediaKind) -> Self {
        Self {
            connection,
            mid,
            kind,
            sinks: Vec::new(),
            last_keyframe_request: None,
            keyframe_owed: false,
        }
    }

    /// Whether a keyframe request may go to the publisher now (and it is counted as sent);
    /// one that may not is owed, and [`Source::owed_keyframe_due`] says when it may go.
    pub fn keyframe_request_due(&mut self, now: Instant) -> bool {
        if self.kind != MediaKind::Video {
            return false;
        }
        let due = self
            .last_keyframe_request
            .is_none_or(|last| now.duration_since(last) >= KEYFRAME_REQUEST_INTERVAL);
        if due {
            self.last_keyframe_request = Some(now);
        }
        self.keyframe_owed = !due;
        due
    }

    /// Whether an owed keyframe request may go now (checked as the publisher's frames
    /// arrive, 30 times a second for a camera).
    pub fn owed_keyframe_due(&mut self, now: Instant) -> bool {
        self.keyframe_owed && self.keyframe_request_due(now)
    }
}

/// The loudest moment of an audio track over a short window.
#[derive(Default)]
pub(crate) struct Loudness {
    window_start: Option<Instant>,
    loudest_dbov: Option<i8>,
    speaking: bool,
}

impl Loudness {
    /// Takes one frame's level (`dbov`: 0 is the loudest, -127 silence). At the end of
    /// each window it returns the level to tell (0 to 100): while the track is heard, and
    /// once more (0) when it falls silent.
    pub fn hear(&mut self, dbov: i8, now: Instant) -> Option<u8> {
        self.loudest_dbov = Some(self.loudest_dbov.map_or(dbov, |loudest| loudest.max(dbov)));
        let start = *self.window_start.get_or_insert(now);
        if now.duration_since(start) < LEVEL_WINDOW {
            return None;
        }
        let loudest = self.loudest_dbov.take().unwrap_or(i8::MIN);
        self.window_start = Some(now);
        let speaking = loudest > SPEECH_DBOV;
        let was_speaking = std::mem::replace(&mut self.speaking, speaking);
        match (speaking, was_speaking) {
            (true, _) => Some(level(loudest)),
            (false, true) => Some(0),
            (false, false) => None,
        }
    }
}

fn level(dbov: i8) -> u8 {
    let above_floor = (i16::from(dbov) - FLOOR_DBOV).clamp(0, -FLOOR_DBOV);
    (above_floor * 100 / -FLOOR_DBOV) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_heard_track_is_told_each_window_and_once_when_it_falls_silent() {
        let start = Instant::now();
        let mut loudness = Loudness::default();
        let at = |ms| start + Duration::from_millis(ms);
        assert_eq!(loudness.hear(-30, at(0)), None);
        assert_eq!(loudness.hear(-20, at(250)), None);
        assert_eq!(loudness.hear(-40, at(500)), Some(75));
        assert_eq!(loudness.hear(-90, at(750)), None);
        assert_eq!(loudness.hear(-90, at(1000)), Some(0));
        assert_eq!(loudness.hear(-90, at(1500)), None);
    }

    #[test]
    fn keyframe_requests_are_spaced_and_only_for_video() {
        let now = Instant::now();
        let mut video = Source::new(1, Mid::from("v"), MediaKind::Video);
        assert!(video.keyframe_request_due(now));
        assert!(!video.keyframe_request_due(now + Duration::from_millis(100)));
        assert!(video.keyframe_request_due(now + KEYFRAME_REQUEST_INTERVAL));
        let mut audio = Source::new(1, Mid::from("a"), MediaKind::Audio);
        assert!(!audio.keyframe_request_due(now));
    }

    #[test]
    fn a_keyframe_request_held_back_goes_once_requests_may_go_again() {
        let now = Instant::now();
        let mut video = Source::new(1, Mid::from("v"), MediaKind::Video);
        assert!(!video.owed_keyframe_due(now), "nothing owed yet");
        assert!(video.keyframe_request_due(now));
        assert!(!video.keyframe_request_due(now + Duration::from_millis(100)));
        assert!(!video.owed_keyframe_due(now + Duration::from_millis(200)));
        assert!(video.owed_keyframe_due(now + KEYFRAME_REQUEST_INTERVAL));
        assert!(
            !video.owed_keyframe_due(now + KEYFRAME_REQUEST_INTERVAL * 3),
            "paid once"
        );
    }
}
