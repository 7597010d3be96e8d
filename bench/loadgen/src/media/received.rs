//! What a subscriber counts for each track it receives: packets, bytes, the highest
//! sequence number (for loss), interarrival jitter (RFC 3550 §6.4.1) and when the first
//! packet and the first keyframe arrived.

use std::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Audio,
    Video,
}

impl Kind {
    fn clock_rate(self) -> f64 {
        match self {
            Kind::Audio => 48_000.0,
            Kind::Video => 90_000.0,
        }
    }
}

/// One received track's counters.
#[derive(Debug, Clone)]
pub struct Received {
    pub kind: Kind,
    pub packets: u64,
    /// RTP bytes, header included (as forwarded, before SRTP's tag).
    pub bytes: u64,
    /// The highest extended sequence number seen; packets are expected up to it.
    pub highest_seq: u64,
    pub first_seq: u64,
    pub first_packet_at: Instant,
    pub first_keyframe_at: Option<Instant>,
    /// The running interarrival jitter, in the track's clock units.
    jitter: f64,
    /// Arrival (in clock units since the first packet) and RTP timestamp of the last packet.
    last: (f64, u32),
}

impl Received {
    pub fn new(kind: Kind, seq: u64, rtp_time: u32, at: Instant) -> Self {
        Self {
            kind,
            packets: 0,
            bytes: 0,
            highest_seq: seq,
            first_seq: seq,
            first_packet_at: at,
            first_keyframe_at: None,
            jitter: 0.0,
            last: (0.0, rtp_time),
        }
    }

    pub fn record(&mut self, seq: u64, rtp_time: u32, bytes: usize, keyframe: bool, at: Instant) {
        self.packets += 1;
        self.bytes += bytes as u64;
        self.highest_seq = self.highest_seq.max(seq);
        if keyframe && self.first_keyframe_at.is_none() {
            self.first_keyframe_at = Some(at);
        }
        let arrival = at.duration_since(self.first_packet_at).as_secs_f64() * self.kind.clock_rate();
        let (last_arrival, last_rtp_time) = self.last;
        // Differences of RTP timestamps wrap; as a signed 32-bit step they do not.
        let sent_step = f64::from(rtp_time.wrapping_sub(last_rtp_time) as i32);
        let transit_change = ((arrival - last_arrival) - sent_step).abs();
        self.jitter += (transit_change - self.jitter) / 16.0;
        self.last = (arrival, rtp_time);
    }

    pub fn jitter_ms(&self) -> f64 {
        self.jitter / self.kind.clock_rate() * 1000.0
    }

    /// Packets the sender numbered so far (from the first one seen).
    pub fn expected(&self) -> u64 {
        self.highest_seq - self.first_seq + 1
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn steady_packets_have_no_jitter_and_gaps_are_expected_packets() {
        let start = Instant::now();
        let mut track = Received::new(Kind::Audio, 100, 0, start);
        for n in 0..50u64 {
            if n == 10 {
                continue; // lost
            }
            let at = start + Duration::from_millis(20 * n);
            track.record(100 + n, (960 * n) as u32, 100, false, at);
        }
        assert_eq!(track.packets, 49);
        assert_eq!(track.expected(), 50);
        assert!(track.jitter_ms() < 0.001, "{}", track.jitter_ms());
    }

    #[test]
    fn late_packets_make_jitter_and_timestamps_may_wrap() {
        let start = Instant::now();
        let first_time = u32::MAX - 960;
        let mut track = Received::new(Kind::Audio, 0, first_time, start);
        for n in 0..100u64 {
            let late = if n % 2 == 1 { 4 } else { 0 };
            let at = start + Duration::from_millis(20 * n + late);
            track.record(n, first_time.wrapping_add((960 * n) as u32), 100, false, at);
        }
        // Alternating 4 ms steps settle near 4 ms of jitter.
        assert!((3.0..4.1).contains(&track.jitter_ms()), "{}", track.jitter_ms());
    }
}
