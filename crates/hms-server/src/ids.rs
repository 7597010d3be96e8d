//! Identifiers the server hands out.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use rand::Rng;

/// Random per process, so that ids made by different nodes in the same millisecond differ.
static PROCESS_TAG: LazyLock<[u8; 3]> = LazyLock::new(|| rand::rng().random());
static COUNTER: LazyLock<AtomicU32> = LazyLock::new(|| AtomicU32::new(rand::rng().random_range(0..1 << 20)));

/// A 24-hex id in the shape of 100ms's (MongoDB ObjectId-like) ids: milliseconds since
/// the epoch (6 bytes), a process tag (3) and a counter (3). Ids made later sort after ids
/// made earlier — also across restarts, which take more than a millisecond — which makes
/// them a stable, newest-first pagination order.
pub fn object_id() -> String {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0) as u64;
    let count = COUNTER.fetch_add(1, Ordering::Relaxed) & 0x00ff_ffff;
    let mut bytes = [0u8; 12];
    bytes[..6].copy_from_slice(&millis.to_be_bytes()[2..]);
    bytes[6..9].copy_from_slice(&*PROCESS_TAG);
    bytes[9..].copy_from_slice(&count.to_be_bytes()[1..]);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A room code in the documented `xxx-xxxx-xxx` form of lowercase letters
/// (26^10 ≈ 1.4·10^14 codes).
pub fn room_code() -> String {
    let mut rng = rand::rng();
    let mut letters = |n: usize| {
        (0..n)
            .map(|_| rng.random_range(b'a'..=b'z') as char)
            .collect::<String>()
    };
    format!("{}-{}-{}", letters(3), letters(4), letters(3))
}

/// A fresh random string for generated names and user ids.
pub fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Random text of `len` characters from `[a-z0-9]` for secrets and access keys.
pub fn random_token(len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..len)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `text` has the shape of an id made by [`object_id`].
    fn is_object_id(text: &str) -> bool {
        text.len() == 24 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    }

    #[test]
    fn object_ids_are_hex_and_increase() {
        let ids: Vec<String> = (0..1000).map(|_| object_id()).collect();
        assert!(ids.iter().all(|id| is_object_id(id)));
        assert!(ids.windows(2).all(|pair| pair[0] < pair[1]));
    }

    #[test]
    fn room_codes_are_three_four_three() {
        let code = room_code();
        let groups: Vec<&str> = code.split('-').collect();
        assert_eq!(groups.iter().map(|g| g.len()).collect::<Vec<_>>(), vec![3, 4, 3]);
        assert!(code.chars().all(|c| c == '-' || c.is_ascii_lowercase()));
    }
}
