//! One policy for optimistic-concurrency conflicts, used by every read-modify-write of the
//! server (rooms, templates, the room runtime's live state): a write computed from what
//! was read is refused when someone wrote in between; it is then computed again from what
//! is there now, after a pause a little longer each time, at most [`ATTEMPTS`] times in
//! all. When every attempt was refused the caller answers 409 ("… changed concurrently",
//! retry the request), never 500.

use std::time::Duration;

/// Attempts in all before giving up on an object that keeps changing.
pub(crate) const ATTEMPTS: u32 = 50;

/// The attempts of one read-modify-write.
pub(crate) struct Retry {
    made: u32,
}

impl Retry {
    /// Before the first attempt.
    pub(crate) fn new() -> Self {
        Self { made: 1 }
    }

    /// After an attempt was refused: whether to make another (`false` once [`ATTEMPTS`]
    /// were made), after a pause of as many milliseconds as attempts were made.
    pub(crate) async fn again(&mut self) -> bool {
        if self.made >= ATTEMPTS {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(u64::from(self.made))).await;
        self.made += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn gives_up_after_the_last_attempt() {
        let mut retry = Retry::new();
        let mut attempts = 1;
        while retry.again().await {
            attempts += 1;
        }
        assert_eq!(attempts, ATTEMPTS);
        assert!(!retry.again().await, "and stays given up");
    }
}
