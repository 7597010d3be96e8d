use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;

fn code(code: &str, role: &str, enabled: bool) -> RoomCode {
    RoomCode {
        code: code.into(),
        room_id: "room-1".into(),
        role: role.into(),
        enabled,
        created_at: Timestamp::from_unix_millis(1),
        updated_at: Timestamp::from_unix_millis(1),
    }
}

fn roles(names: &[&str]) -> Vec<String> {
    names.iter().map(|name| (*name).to_owned()).collect()
}

#[test]
fn a_room_takes_codes_until_it_holds_the_limit() {
    let limit = i64::try_from(MAX_CODES_PER_ROOM).unwrap();
    assert!(ensure_room_for_code(0).is_ok());
    assert!(ensure_room_for_code(limit - 1).is_ok());
    assert!(matches!(ensure_room_for_code(limit), Err(StoreError::TooManyCodes)));
    assert!(matches!(ensure_room_for_code(limit + 1), Err(StoreError::TooManyCodes)));
}

#[test]
fn code_candidates_are_generated_one_at_a_time_up_to_the_attempts() {
    let generated = AtomicUsize::new(0);
    let generate = || format!("code-{}", generated.fetch_add(1, Ordering::Relaxed));
    let now = Timestamp::from_unix_millis(42);

    let first = code_candidates("room-1", "host", &generate, now).next().unwrap();
    assert_eq!(
        generated.load(Ordering::Relaxed),
        1,
        "only the candidate taken is generated"
    );
    let expected = RoomCode {
        code: "code-0".into(),
        room_id: "room-1".into(),
        role: "host".into(),
        enabled: true,
        created_at: now,
        updated_at: now,
    };
    assert_eq!(first, expected);

    let all: Vec<String> = code_candidates("room-1", "host", &generate, now)
        .map(|c| c.code)
        .collect();
    assert_eq!(all.len(), CODE_ATTEMPTS);
    assert_eq!(all.first().map(String::as_str), Some("code-1"));
    assert!(matches!(no_free_code(), StoreError::Conflict("a room code")));
}

#[test]
fn reconciling_disables_codes_of_lost_roles_and_issues_codes_for_roles_without_one() {
    let existing = vec![
        code("a", "host", true),
        code("b", "guest", false),
        code("c", "gone", true),
        code("d", "also-gone", false),
        code("e", "guest", true),
        code("f", "viewer", false),
    ];
    let roles = roles(&["viewer", "host", "guest", "new"]);
    let changes = reconcile_codes(&existing, &roles);
    assert_eq!(
        changes,
        CodeChanges {
            // A disabled code of a lost role stays as it is.
            disable: vec!["c"],
            // A role whose only code is disabled gets a new one, in the template's order.
            issue: vec!["viewer", "new"],
        }
    );
}

#[test]
fn reconciling_codes_that_match_the_roles_changes_nothing() {
    let existing = vec![code("a", "host", true), code("b", "guest", true)];
    let roles = roles(&["guest", "host"]);
    let changes = reconcile_codes(&existing, &roles);
    assert!(changes.disable.is_empty() && changes.issue.is_empty(), "{changes:?}");
    let none = reconcile_codes(&[], &[]);
    assert!(none.disable.is_empty() && none.issue.is_empty(), "{none:?}");
}

#[test]
fn a_missed_conditional_update_is_stale_while_the_row_exists() {
    assert!(matches!(missed_update(true), StoreError::Stale));
    assert!(matches!(missed_update(false), StoreError::NotFound));
}

#[test]
fn the_last_live_secret_is_not_retired() {
    assert!(retirement(1, 2).is_ok());
    assert!(matches!(retirement(1, 1), Err(StoreError::LastLiveSecret)));
    // A secret that is not live (or not there) is not found, however many others live.
    assert!(matches!(retirement(0, 1), Err(StoreError::NotFound)));
    assert!(matches!(retirement(0, 3), Err(StoreError::NotFound)));
}

fn delivery(replay_id: Option<&str>) -> NewDelivery {
    let at = PreciseTime::from_unix_nanos(1);
    NewDelivery {
        event_seq: 1,
        workspace_id: "ws-1".into(),
        room_id: "room-1".into(),
        url: "http://127.0.0.1:9/hook".into(),
        headers: Vec::new(),
        replay_id: replay_id.map(str::to_owned),
        next_attempt_at: at,
        deadline: at,
        created_at: at,
    }
}

#[test]
fn a_lane_is_an_endpoint_a_room_and_a_replay() {
    assert_eq!(lane(&delivery(None)), "http://127.0.0.1:9/hook room-1 ");
    assert_eq!(
        lane(&delivery(Some("replay-1"))),
        "http://127.0.0.1:9/hook room-1 replay-1"
    );
}

#[test]
fn an_attempt_finishes_a_delivery_unless_it_is_tried_again() {
    let now = PreciseTime::from_unix_nanos(5_000);
    let later = PreciseTime::from_unix_nanos(9_000);
    assert_eq!(
        attempt_update(&AttemptOutcome::Delivered { status: 200 }, now),
        AttemptUpdate {
            state: DeliveryState::Delivered,
            last_status: Some(200),
            last_error: None,
            next_attempt_ns: None,
            finished_ns: Some(5_000),
        }
    );
    let retry = AttemptOutcome::Retry {
        status: Some(503),
        error: "unavailable".into(),
        next_attempt_at: later,
    };
    assert_eq!(
        attempt_update(&retry, now),
        AttemptUpdate {
            state: DeliveryState::Pending,
            last_status: Some(503),
            last_error: Some("unavailable"),
            next_attempt_ns: Some(9_000),
            finished_ns: None,
        }
    );
    let give_up = AttemptOutcome::GiveUp {
        status: None,
        error: "connection refused".into(),
    };
    assert_eq!(
        attempt_update(&give_up, now),
        AttemptUpdate {
            state: DeliveryState::Failed,
            last_status: None,
            last_error: Some("connection refused"),
            next_attempt_ns: None,
            finished_ns: Some(5_000),
        }
    );
}

fn at(nanos: i128) -> PreciseTime {
    PreciseTime::from_unix_nanos(nanos)
}

fn peer(id: &str, joined: i128) -> SessionPeerRecord {
    let profile = PeerProfile {
        name: id.into(),
        role: "guest".into(),
        metadata: String::new(),
    };
    SessionPeerRecord {
        id: id.into(),
        session_id: "session-1".into(),
        name: id.into(),
        role: "guest".into(),
        user_id: id.into(),
        metadata: String::new(),
        joined_at: at(joined),
        left_at: None,
        current: profile,
        node_id: "node-1".into(),
        tracks: Vec::new(),
    }
}

fn event(id: &str, workspace_id: &str) -> EventRecord {
    EventRecord {
        id: id.into(),
        workspace_id: workspace_id.into(),
        room_id: "room-1".into(),
        kind: "peer.join.success".into(),
        payload: "{}".into(),
        created_at: at(1),
    }
}

/// A write with every part, each once (the events of two workspaces).
fn full_write() -> LiveWrite {
    LiveWrite {
        room_id: "room-1".into(),
        read: Some(SessionRevision {
            session_id: "session-1".into(),
            revision: 3,
        }),
        opened: Some(SessionRecord {
            id: "session-1".into(),
            workspace_id: "ws-1".into(),
            room_id: "room-1".into(),
            active: true,
            started_at: at(1),
            updated_at: at(1),
            revision: 0,
            peers: Vec::new(),
        }),
        joined: vec![peer("ann", 10), peer("bob", 11)],
        changed: vec![PeerChanged {
            session_id: "session-1".into(),
            peer_id: "ann".into(),
            profile: peer("ann", 10).current,
        }],
        published: vec![PeerTracks {
            session_id: "session-1".into(),
            peer_id: "ann".into(),
            tracks: Vec::new(),
        }],
        left: vec![PeerLeft {
            session_id: "session-1".into(),
            peer_id: "bob".into(),
            at: at(20),
        }],
        closed: Some(SessionClosed {
            session_id: "session-1".into(),
            at: at(30),
        }),
        disabled_room: Some("room-1".into()),
        events: vec![event("e1", "ws-2"), event("e2", "ws-1"), event("e3", "ws-2")],
        deliveries: vec![PeerDelivery {
            room_id: "room-1".into(),
            peer_id: "ann".into(),
            delivery: hms_types::simulate::Delivery {
                kind: "message".into(),
                at: at(5),
                fields: Default::default(),
            },
        }],
    }
}

#[test]
fn a_live_write_checks_its_revision_first_and_logs_its_events_last() {
    let write = full_write();
    let steps = live_steps(&write);
    let expected = vec![
        LiveStep::ClaimRevision(write.read.as_ref().unwrap()),
        LiveStep::OpenSession(write.opened.as_ref().unwrap()),
        LiveStep::InsertPeer(&write.joined[0]),
        LiveStep::TouchSession {
            session_id: "session-1",
            at: at(10),
        },
        LiveStep::InsertPeer(&write.joined[1]),
        LiveStep::TouchSession {
            session_id: "session-1",
            at: at(11),
        },
        LiveStep::ChangePeer(&write.changed[0]),
        LiveStep::SetTracks(&write.published[0]),
        LiveStep::LeavePeer(&write.left[0]),
        LiveStep::TouchSession {
            session_id: "session-1",
            at: at(20),
        },
        LiveStep::CloseSession(write.closed.as_ref().unwrap()),
        LiveStep::DisableRoom("room-1"),
        LiveStep::AnnounceRoom("room-1"),
        LiveStep::Deliver(&write.deliveries[0]),
        LiveStep::LockEventLogs(vec!["ws-1", "ws-2"]),
        LiveStep::LogEvent(&write.events[0]),
        LiveStep::LogEvent(&write.events[1]),
        LiveStep::LogEvent(&write.events[2]),
    ];
    assert_eq!(steps, expected);
}

#[test]
fn a_live_write_without_a_room_or_events_announces_and_locks_nothing() {
    let write = LiveWrite {
        left: full_write().left,
        ..LiveWrite::default()
    };
    let steps = live_steps(&write);
    assert_eq!(
        steps,
        vec![
            LiveStep::LeavePeer(&write.left[0]),
            LiveStep::TouchSession {
                session_id: "session-1",
                at: at(20),
            },
        ]
    );
    assert!(live_steps(&LiveWrite::default()).is_empty());
}

#[test]
fn a_live_statement_refuses_its_write_only_as_it_says() {
    let failed = || Err::<u64, StoreError>(StoreError::NotFound);
    let duplicate: fn(&StoreError) -> bool = |_| true;
    let other: fn(&StoreError) -> bool = |_| false;
    assert!(Refusal::Never.outcome(Ok::<u64, StoreError>(0), other).is_ok());
    assert!(Refusal::IfDuplicate.outcome(Ok::<u64, StoreError>(0), other).is_ok());
    assert!(Refusal::UnlessChanged.outcome(Ok::<u64, StoreError>(1), other).is_ok());
    assert!(matches!(
        Refusal::UnlessChanged.outcome(Ok::<u64, StoreError>(0), other),
        Err(StoreError::Stale)
    ));
    assert!(matches!(
        Refusal::IfDuplicate.outcome(failed(), duplicate),
        Err(StoreError::Stale)
    ));
    // Other failures stay what they are, and only an insert that may meet a duplicate
    // turns one into `Stale`.
    let kept = [
        (Refusal::IfDuplicate, other),
        (Refusal::Never, duplicate),
        (Refusal::UnlessChanged, duplicate),
    ];
    for (refusal, is_duplicate) in kept {
        let outcome = refusal.outcome(failed(), is_duplicate);
        assert!(matches!(outcome, Err(StoreError::NotFound)), "{refusal:?}");
    }
}
