//! The store's decisions that are not SQL, written once for both backends: each backend
//! reads what a rule needs, asks the rule, and writes what it answers in its own dialect,
//! under its own locks. A rule changed here changes on SQLite and PostgreSQL alike.

use hms_types::room_code::RoomCode;
use hms_types::{PreciseTime, Timestamp};

use crate::codec::nanos;
use crate::records::*;
use crate::{CodeGenerator, MAX_CODES_PER_ROOM, StoreError, StoreResult};

// What a broken unique index means, in `StoreError::Conflict`.
pub(crate) const WORKSPACE_TAKEN: &str = "a workspace with this name or access key";
pub(crate) const SECRET_TAKEN: &str = "a secret with this id";
pub(crate) const TEMPLATE_NAME_TAKEN: &str = "a template with this name";
pub(crate) const ROOM_NAME_TAKEN: &str = "a room with this name";
pub(crate) const REPLAY_TAKEN: &str = "a replay with this id";

/// Candidates a new room code gets before the store gives up: codes are random, so a
/// clash with an existing one is rare but possible, and several in a row mean the code
/// space is nearly full.
pub(crate) const CODE_ATTEMPTS: usize = 8;

/// Refuses a new code for a room that holds `held` codes already, enabled or not.
pub(crate) fn ensure_room_for_code(held: i64) -> StoreResult<()> {
    if usize::try_from(held).unwrap_or(0) >= MAX_CODES_PER_ROOM {
        return Err(StoreError::TooManyCodes);
    }
    Ok(())
}

/// The codes to try, in order, for a new code of `role` in `room_id`: the first whose
/// code string is free is the one issued; when none is, the answer is [`no_free_code`].
pub(crate) fn code_candidates<'a>(
    room_id: &'a str,
    role: &'a str,
    generate: CodeGenerator<'a>,
    now: Timestamp,
) -> impl Iterator<Item = RoomCode> + 'a {
    std::iter::repeat_with(move || RoomCode {
        code: generate(),
        room_id: room_id.to_owned(),
        role: role.to_owned(),
        enabled: true,
        created_at: now,
        updated_at: now,
    })
    .take(CODE_ATTEMPTS)
}

/// Every candidate of [`code_candidates`] was taken.
pub(crate) fn no_free_code() -> StoreError {
    StoreError::Conflict("a room code")
}

/// What reconciling a room's codes with its template's roles changes.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct CodeChanges<'a> {
    /// Enabled codes of roles the template no longer has, by code string.
    pub disable: Vec<&'a str>,
    /// Roles without an enabled code, in the template's order: each gets a new one.
    pub issue: Vec<&'a str>,
}

/// Reconciles the `existing` codes of a room with `roles` (see
/// `Store::reconcile_room_codes`).
pub(crate) fn reconcile_codes<'a>(existing: &'a [RoomCode], roles: &'a [String]) -> CodeChanges<'a> {
    let disable = existing
        .iter()
        .filter(|code| code.enabled && !roles.contains(&code.role))
        .map(|code| code.code.as_str())
        .collect();
    let issue = roles
        .iter()
        .filter(|role| !existing.iter().any(|code| code.enabled && &code.role == *role))
        .map(String::as_str)
        .collect();
    CodeChanges { disable, issue }
}

/// Why a conditional update (of a room's `updated_at`, a template's revision) matched no
/// row: the row changed since it was read, or it is gone.
pub(crate) fn missed_update(row_exists: bool) -> StoreError {
    if row_exists {
        StoreError::Stale
    } else {
        StoreError::NotFound
    }
}

/// Whether retiring a secret stands: `retired` rows changed by the retirement, of a
/// workspace that had `live_before` live secrets before it. A refused retirement is rolled
/// back.
pub(crate) fn retirement(retired: u64, live_before: i64) -> StoreResult<()> {
    if retired == 0 {
        return Err(StoreError::NotFound);
    }
    if live_before <= 1 {
        return Err(StoreError::LastLiveSecret);
    }
    Ok(())
}

/// The lane of a delivery: its endpoint, room and replay. A lane's deliveries are sent one
/// at a time, in the order they were queued.
pub(crate) fn lane(delivery: &NewDelivery) -> String {
    format!(
        "{} {} {}",
        delivery.url,
        delivery.room_id,
        delivery.replay_id.as_deref().unwrap_or("")
    )
}

/// What a finished attempt writes to its delivery's row.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct AttemptUpdate<'a> {
    pub state: DeliveryState,
    pub last_status: Option<i64>,
    pub last_error: Option<&'a str>,
    /// The next attempt's time, for a delivery tried again; the row keeps its own else.
    pub next_attempt_ns: Option<i64>,
    /// Set once the delivery is delivered or given up.
    pub finished_ns: Option<i64>,
}

pub(crate) fn attempt_update(outcome: &AttemptOutcome, now: PreciseTime) -> AttemptUpdate<'_> {
    let (state, status, last_error, next_attempt) = match outcome {
        AttemptOutcome::Delivered { status } => (DeliveryState::Delivered, Some(*status), None, None),
        AttemptOutcome::Retry {
            status,
            error,
            next_attempt_at,
        } => (
            DeliveryState::Pending,
            *status,
            Some(error.as_str()),
            Some(*next_attempt_at),
        ),
        AttemptOutcome::GiveUp { status, error } => (DeliveryState::Failed, *status, Some(error.as_str()), None),
    };
    AttemptUpdate {
        state,
        last_status: status.map(i64::from),
        last_error,
        next_attempt_ns: next_attempt.map(nanos),
        finished_ns: (state != DeliveryState::Pending).then(|| nanos(now)),
    }
}

/// When a statement of a live write refuses the whole write as `Stale`: its session moved
/// since the change was computed from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    Never,
    /// A conditional update that matched no row: the revision it expected has moved.
    UnlessChanged,
    /// An insert that broke a unique index: the room's session was opened meanwhile.
    IfDuplicate,
}

impl Refusal {
    /// The outcome of a statement that changed `executed` rows or failed, where
    /// `duplicate` tells a broken unique index from other failures.
    pub(crate) fn outcome<E: Into<StoreError>>(
        self,
        executed: Result<u64, E>,
        duplicate: impl FnOnce(&E) -> bool,
    ) -> StoreResult<()> {
        match (self, executed) {
            (Refusal::IfDuplicate, Err(error)) if duplicate(&error) => Err(StoreError::Stale),
            (_, Err(error)) => Err(error.into()),
            (Refusal::UnlessChanged, Ok(0)) => Err(StoreError::Stale),
            (_, Ok(_)) => Ok(()),
        }
    }
}

/// One step of a live write; [`live_steps`] puts them in the order both backends follow.
#[derive(Debug, PartialEq)]
pub(crate) enum LiveStep<'a> {
    /// Moves the revision the change was computed from; `Stale` when it has moved already.
    ClaimRevision(&'a SessionRevision),
    /// Opens a session (its peers come as `InsertPeer`); `Stale` when the room has an
    /// open session already.
    OpenSession(&'a SessionRecord),
    InsertPeer(&'a SessionPeerRecord),
    ChangePeer(&'a PeerChanged),
    SetTracks(&'a PeerTracks),
    LeavePeer(&'a PeerLeft),
    /// Moves the session's last change to `at`, unless it is later already.
    TouchSession {
        session_id: &'a str,
        at: PreciseTime,
    },
    CloseSession(&'a SessionClosed),
    /// Disables the room, moving its `updated_at` past its last write (see
    /// `Store::update_room`).
    DisableRoom(&'a str),
    /// Tells the other processes that the room's live state changed, once committed.
    AnnounceRoom(&'a str),
    Deliver(&'a PeerDelivery),
    /// Orders the logging of these workspaces' events (sorted, each once) after that of
    /// other writes; taken last before the events, so that it is held only until commit.
    LockEventLogs(Vec<&'a str>),
    LogEvent(&'a EventRecord),
}

/// The steps of `write`, in order: the revision check first, so that a stale change writes
/// nothing; the session before its peers; each join and leave touching the session; the
/// events last, after the lock that orders them.
pub(crate) fn live_steps(write: &LiveWrite) -> Vec<LiveStep<'_>> {
    let LiveWrite {
        room_id,
        read,
        opened,
        joined,
        changed,
        published,
        left,
        closed,
        disabled_room,
        events,
        deliveries,
    } = write;
    let mut steps = Vec::new();
    steps.extend(read.as_ref().map(LiveStep::ClaimRevision));
    steps.extend(opened.as_ref().map(LiveStep::OpenSession));
    for peer in joined {
        steps.push(LiveStep::InsertPeer(peer));
        steps.push(touch(&peer.session_id, peer.joined_at));
    }
    steps.extend(changed.iter().map(LiveStep::ChangePeer));
    steps.extend(published.iter().map(LiveStep::SetTracks));
    for peer in left {
        steps.push(LiveStep::LeavePeer(peer));
        steps.push(touch(&peer.session_id, peer.at));
    }
    steps.extend(closed.as_ref().map(LiveStep::CloseSession));
    steps.extend(disabled_room.as_deref().map(LiveStep::DisableRoom));
    if !room_id.is_empty() {
        steps.push(LiveStep::AnnounceRoom(room_id));
    }
    steps.extend(deliveries.iter().map(LiveStep::Deliver));
    if !events.is_empty() {
        steps.push(LiveStep::LockEventLogs(event_workspaces(events)));
    }
    steps.extend(events.iter().map(LiveStep::LogEvent));
    steps
}

fn touch(session_id: &str, at: PreciseTime) -> LiveStep<'_> {
    LiveStep::TouchSession { session_id, at }
}

/// The workspaces of `events`, sorted and each once: locks always taken in one order
/// never wait for each other in a cycle.
fn event_workspaces(events: &[EventRecord]) -> Vec<&str> {
    let mut workspaces: Vec<&str> = events.iter().map(|event| event.workspace_id.as_str()).collect();
    workspaces.sort_unstable();
    workspaces.dedup();
    workspaces
}

#[cfg(test)]
mod tests;
