//! What a publisher sends: synthetic VP8 and Opus frames at a camera's and a microphone's
//! rates. Nothing decodes them, but their first bytes are what an SFU looks at: a VP8
//! frame tag that tells keyframes from delta frames, and an Opus TOC byte.

use std::time::Duration;

/// Video: 30 frames a second at about 1 Mbit/s.
pub const VIDEO_FRAME_INTERVAL: Duration = Duration::from_nanos(1_000_000_000 / 30);
const VIDEO_BITS_PER_SECOND: usize = 1_000_000;
/// A keyframe at least this often, as encoders do for viewers that joined late.
pub const KEYFRAME_INTERVAL: Duration = Duration::from_secs(3);
/// A keyframe weighs this many delta frames.
const KEYFRAME_WEIGHT: usize = 10;
/// Audio: 32 kbit/s Opus in 20 ms frames.
pub const AUDIO_FRAME_INTERVAL: Duration = Duration::from_millis(20);
const AUDIO_BITS_PER_SECOND: usize = 32_000;

/// The sizes that make `VIDEO_BITS_PER_SECOND` with one keyframe per `KEYFRAME_INTERVAL`.
fn video_frame_sizes() -> (usize, usize) {
    let frames_per_interval = KEYFRAME_INTERVAL.as_nanos() / VIDEO_FRAME_INTERVAL.as_nanos();
    let bytes_per_interval = VIDEO_BITS_PER_SECOND / 8 * KEYFRAME_INTERVAL.as_secs() as usize;
    let delta = bytes_per_interval / (frames_per_interval as usize - 1 + KEYFRAME_WEIGHT);
    (delta * KEYFRAME_WEIGHT, delta)
}

/// A VP8 frame (RFC 6386 §9.1): a 3-byte frame tag whose bit 0 is 0 on keyframes, then on
/// keyframes the start code and a 1280x720 size.
pub fn vp8_frame(keyframe: bool, number: u64) -> Vec<u8> {
    let (key_size, delta_size) = video_frame_sizes();
    let size = if keyframe { key_size } else { delta_size };
    let mut frame = vec![(number % 251) as u8; size];
    // The first partition's size is only read by decoders; any value under the frame's.
    let first_partition = (size / 4) as u32;
    let show_frame = 1 << 4;
    let tag = u32::from(!keyframe) | show_frame | (first_partition << 5);
    frame[..3].copy_from_slice(&tag.to_le_bytes()[..3]);
    if keyframe {
        frame[3..6].copy_from_slice(&[0x9d, 0x01, 0x2a]);
        frame[6..8].copy_from_slice(&1280u16.to_le_bytes());
        frame[8..10].copy_from_slice(&720u16.to_le_bytes());
    }
    frame
}

/// An Opus frame: a TOC byte for 20 ms of full-band hybrid mono (RFC 6716 §3.1, config 15),
/// then filler up to 32 kbit/s.
pub fn opus_frame(number: u64) -> Vec<u8> {
    let size = AUDIO_BITS_PER_SECOND / 8 * AUDIO_FRAME_INTERVAL.as_millis() as usize / 1000;
    let mut frame = vec![(number % 253) as u8; size];
    frame[0] = 15 << 3;
    frame
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyframes_and_delta_frames_are_marked_in_bit_zero() {
        assert_eq!(vp8_frame(true, 7)[0] & 1, 0);
        assert_eq!(vp8_frame(false, 7)[0] & 1, 1);
        assert_eq!(&vp8_frame(true, 7)[3..6], &[0x9d, 0x01, 0x2a]);
    }

    #[test]
    fn video_averages_one_megabit_a_second() {
        let frames_per_interval = (KEYFRAME_INTERVAL.as_nanos() / VIDEO_FRAME_INTERVAL.as_nanos()) as usize;
        let bytes: usize = (0..frames_per_interval)
            .map(|n| vp8_frame(n == 0, n as u64).len())
            .sum();
        let bits_per_second = bytes * 8 / KEYFRAME_INTERVAL.as_secs() as usize;
        assert!((990_000..=1_000_000).contains(&bits_per_second), "{bits_per_second}");
    }

    #[test]
    fn audio_is_thirty_two_kilobits_a_second() {
        assert_eq!(opus_frame(0).len() * 50 * 8, 32_000);
        assert_eq!(opus_frame(0)[0], 0x78);
    }
}
