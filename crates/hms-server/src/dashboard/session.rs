//! Dashboard sessions: who signed in, in which workspace, until when, and the failed
//! sign-ins of each client address.
//!
//! A session lives in this process's memory: the browser holds only a random session id
//! (in an `HttpOnly` cookie), never a secret. Sessions are keyed by the SHA-256 of that
//! id, so the map holds nothing that could be replayed as a cookie.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Name of the session cookie.
pub const COOKIE: &str = "hms_dashboard";

/// A signed-in browser.
#[derive(Clone)]
pub struct Session {
    pub workspace_id: String,
    /// The anti-forgery token every state-changing request of this session must carry.
    pub csrf_token: String,
    pub expires_at: Instant,
}

impl Session {
    /// Whether `presented` is this session's anti-forgery token, compared in constant time.
    pub fn accepts_csrf(&self, presented: &str) -> bool {
        bool::from(self.csrf_token.as_bytes().ct_eq(presented.as_bytes()))
    }
}

#[derive(Default)]
pub struct Sessions {
    by_id_hash: Mutex<HashMap<[u8; 32], Session>>,
}

impl Sessions {
    /// Opens a session in `workspace_id` for `lifetime`; answers the id for the cookie.
    pub fn open(&self, workspace_id: &str, lifetime: Duration) -> (String, Session) {
        let id = random_token();
        let session = Session {
            workspace_id: workspace_id.to_owned(),
            csrf_token: random_token(),
            expires_at: Instant::now() + lifetime,
        };
        let mut sessions = self.by_id_hash.lock().expect("sessions lock");
        let now = Instant::now();
        sessions.retain(|_, session| session.expires_at > now);
        sessions.insert(hash(&id), session.clone());
        (id, session)
    }

    /// The live session of cookie value `id`.
    pub fn find(&self, id: &str) -> Option<Session> {
        let mut sessions = self.by_id_hash.lock().expect("sessions lock");
        let key = hash(id);
        match sessions.get(&key) {
            Some(session) if session.expires_at > Instant::now() => Some(session.clone()),
            Some(_) => {
                sessions.remove(&key);
                None
            }
            None => None,
        }
    }

    pub fn close(&self, id: &str) {
        self.by_id_hash.lock().expect("sessions lock").remove(&hash(id));
    }
}

fn hash(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

/// 32 random bytes as URL-safe text.
fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Failed sign-ins per client address within a sliding window.
pub struct SignInLimiter {
    limit: u32,
    window: Duration,
    failures: Mutex<HashMap<IpAddr, VecDeque<Instant>>>,
}

/// Addresses tracked before the limiter forgets those with no recent failure.
const TRACKED_ADDRESSES: usize = 10_000;

impl SignInLimiter {
    pub fn new(limit: u32, window: Duration) -> Self {
        Self {
            limit,
            window,
            failures: Mutex::default(),
        }
    }

    /// `None` when `client` may try to sign in, otherwise how long until it may again.
    pub fn wait_for(&self, client: IpAddr) -> Option<Duration> {
        let now = Instant::now();
        let mut failures = self.failures.lock().expect("limiter lock");
        let recent = failures.get_mut(&client)?;
        self.forget_old(recent, now);
        if recent.len() < self.limit as usize {
            return None;
        }
        let oldest = *recent.front()?;
        Some(self.window.saturating_sub(now - oldest).max(Duration::from_secs(1)))
    }

    pub fn record_failure(&self, client: IpAddr) {
        let now = Instant::now();
        let mut failures = self.failures.lock().expect("limiter lock");
        if failures.len() >= TRACKED_ADDRESSES {
            failures.retain(|_, recent| recent.back().is_some_and(|last| now - *last < self.window));
        }
        let recent = failures.entry(client).or_default();
        self.forget_old(recent, now);
        recent.push_back(now);
    }

    fn forget_old(&self, recent: &mut VecDeque<Instant>, now: Instant) {
        while recent.front().is_some_and(|first| now - *first >= self.window) {
            recent.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_session_is_gone() {
        let sessions = Sessions::default();
        let (id, session) = sessions.open("ws", Duration::from_secs(60));
        assert_eq!(sessions.find(&id).map(|s| s.workspace_id), Some("ws".to_owned()));
        assert!(session.accepts_csrf(&session.csrf_token));
        assert!(!session.accepts_csrf("forged"));
        sessions.close(&id);
        assert!(sessions.find(&id).is_none());
    }

    #[test]
    fn an_expired_session_is_gone() {
        let sessions = Sessions::default();
        let (id, _) = sessions.open("ws", Duration::ZERO);
        assert!(sessions.find(&id).is_none());
    }

    #[test]
    fn the_limit_counts_failures_per_address() {
        let limiter = SignInLimiter::new(2, Duration::from_secs(60));
        let (one, other) = (IpAddr::from([127, 0, 0, 1]), IpAddr::from([127, 0, 0, 2]));
        limiter.record_failure(one);
        assert!(limiter.wait_for(one).is_none());
        limiter.record_failure(one);
        assert!(
            limiter
                .wait_for(one)
                .is_some_and(|wait| wait <= Duration::from_secs(60))
        );
        assert!(limiter.wait_for(other).is_none());
    }
}
