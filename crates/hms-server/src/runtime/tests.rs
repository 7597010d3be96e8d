//! The runtime's rules, in process: a runtime on an embedded SQLite store in a temporary
//! directory, no server and no HTTP. What a change refuses, what it logs and what it tells
//! which peer.

use std::sync::Arc;
use std::time::Duration;

use hms_auth::AppSecret;
use hms_store::{
    Durability, EventQuery, NewWorkspace, RoomOptions, RoomRecord, SecretRecord, SqliteStore, Store, TemplateRecord,
    Workspace,
};
use hms_types::Timestamp;
use hms_types::active_room::{EndRoom, PeerFilter, PeerUpdate, RemovePeers, SendMessage};
use serde_json::{Value, json};

use super::{JoinRequest, RoomRuntime, RuntimeError};

const ROOM: &str = "room-1";

struct Fixture {
    runtime: RoomRuntime,
    store: Arc<SqliteStore>,
    workspace: Workspace,
    _dir: tempfile::TempDir,
}

fn role(name: &str, max_peer_count: i64, publishes: &[&str]) -> Value {
    json!({
        "name": name,
        "publishParams": {"allowed": publishes},
        "subscribeParams": {},
        "permissions": {},
        "priority": 1,
        "maxPeerCount": max_peer_count,
    })
}

/// A workspace whose default template has `host` (one peer at most, publishes audio and
/// video), `guest` (any number, publishes nothing) and `banned` (nobody may join), and
/// one enabled room on it.
async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Arc::new(
        SqliteStore::open(dir.path(), Durability::Process)
            .await
            .expect("open the store"),
    );
    let now = Timestamp::now();
    let workspace = Workspace {
        id: "ws-1".into(),
        name: "default".into(),
        access_key: "access-key-1".into(),
        customer_id: "customer-1".into(),
        app_id: "app-1".into(),
        created_at: now,
    };
    let roles = json!({
        "host": role("host", 1, &["audio", "video"]),
        "guest": role("guest", 0, &[]),
        "banned": role("banned", -1, &[]),
    });
    let body = serde_json::from_value(json!({"name": "default", "roles": roles})).expect("a template body");
    store
        .create_workspace(&NewWorkspace {
            workspace: workspace.clone(),
            secret: SecretRecord {
                id: "secret-1".into(),
                secret: AppSecret::new("secret-1-value"),
                created_at: now,
                retired_at: None,
            },
            default_template: TemplateRecord {
                id: "tpl-1".into(),
                workspace_id: workspace.id.clone(),
                is_default: true,
                body,
                revision: 0,
                created_at: now,
                updated_at: now,
            },
        })
        .await
        .expect("create the workspace");
    store
        .insert_room(&RoomRecord {
            id: ROOM.into(),
            workspace_id: workspace.id.clone(),
            name: "standup".into(),
            enabled: true,
            description: String::new(),
            template_id: "tpl-1".into(),
            region: "in".into(),
            large_room: false,
            options: RoomOptions::default(),
            created_at: now,
            updated_at: now,
        })
        .await
        .expect("create the room");
    let runtime = RoomRuntime::new(store.clone(), "node-1".into(), Duration::from_secs(60));
    Fixture {
        runtime,
        store,
        workspace,
        _dir: dir,
    }
}

impl Fixture {
    /// A host and a guest in the room: their peer ids.
    async fn host_and_guest(&self) -> (String, String) {
        let host = self.join("host", "Ann").await.unwrap();
        let guest = self.join("guest", "Bob").await.unwrap();
        (host, guest)
    }

    async fn join(&self, role: &str, name: &str) -> Result<String, RuntimeError> {
        let request = JoinRequest {
            role: role.into(),
            name: Some(name.into()),
            ..JoinRequest::default()
        };
        let peer = self.runtime.join(&self.workspace, ROOM, request).await?;
        Ok(peer.id)
    }

    /// The types of the room's logged events, oldest first.
    async fn logged(&self) -> Vec<String> {
        let query = EventQuery {
            room_id: Some(ROOM.into()),
            limit: 1000,
            ..EventQuery::default()
        };
        let events = self.store.events(&self.workspace.id, &query).await.expect("events");
        events.into_iter().map(|logged| logged.event.kind).collect()
    }

    /// What `peer` was told: each delivery's type and fields.
    async fn told(&self, peer: &str) -> Vec<Value> {
        let deliveries = self
            .runtime
            .deliveries(&self.workspace, ROOM, peer)
            .await
            .expect("deliveries");
        deliveries
            .into_iter()
            .map(|delivery| {
                let mut fields = Value::Object(delivery.fields);
                fields["type"] = json!(delivery.kind);
                fields
            })
            .collect()
    }
}

#[tokio::test]
async fn the_first_peer_opens_the_session_and_the_last_one_closes_it() {
    let f = fixture().await;
    let (host, guest) = f.host_and_guest().await;
    assert_eq!(
        f.logged().await,
        ["session.open.success", "peer.join.success", "peer.join.success"]
    );
    f.runtime.leave(&f.workspace, ROOM, &guest).await.unwrap();
    f.runtime.leave(&f.workspace, ROOM, &host).await.unwrap();
    let expected = [
        "session.open.success",
        "peer.join.success",
        "peer.join.success",
        "peer.leave.success",
        "peer.leave.success",
        "session.close.success",
    ];
    assert_eq!(f.logged().await, expected);
    assert!(matches!(
        f.runtime.active_room(&f.workspace, ROOM).await,
        Err(RuntimeError::NotActive)
    ));
}

#[tokio::test]
async fn a_role_at_its_limit_refuses_the_next_peer_and_logs_the_failure() {
    let f = fixture().await;
    f.join("host", "Ann").await.unwrap();
    let refused = f.join("host", "Another host").await.unwrap_err();
    assert!(
        matches!(&refused, RuntimeError::RoleFull { role, max: 1 } if role == "host"),
        "{refused:?}"
    );
    let refused = f.join("banned", "Nobody").await.unwrap_err();
    assert!(
        matches!(&refused, RuntimeError::RoleNotAllowed(role) if role == "banned"),
        "{refused:?}"
    );
    let refused = f.join("nobody-has-it", "Ghost").await.unwrap_err();
    assert!(matches!(refused, RuntimeError::UnknownRole(_)), "{refused:?}");
    assert_eq!(
        f.logged().await,
        [
            "session.open.success",
            "peer.join.success",
            "peer.join.failure",
            "peer.join.failure"
        ],
        "a refusal is logged, an unknown role is not"
    );
    let peers = f.runtime.active_room(&f.workspace, ROOM).await.unwrap().session.peers;
    assert_eq!(peers.len(), 1, "only the first host is in");
}

#[tokio::test]
async fn a_peer_moving_to_a_full_role_is_refused_and_logged() {
    let f = fixture().await;
    f.join("host", "Ann").await.unwrap();
    let guest = f.join("guest", "Bob").await.unwrap();
    let to_host = PeerUpdate {
        role: Some("host".into()),
        ..PeerUpdate::default()
    };
    let refused = f
        .runtime
        .update_peer(&f.workspace, ROOM, &guest, to_host)
        .await
        .unwrap_err();
    assert!(matches!(refused, RuntimeError::RoleFull { max: 1, .. }), "{refused:?}");
    assert_eq!(f.logged().await.last().map(String::as_str), Some("role.change.failure"));
    assert_eq!(
        f.told(&guest).await,
        Vec::<Value>::new(),
        "a refused change tells nobody"
    );
}

#[tokio::test]
async fn each_change_tells_the_peer_it_concerns_and_nobody_else() {
    let f = fixture().await;
    let (host, guest) = f.host_and_guest().await;
    let update = PeerUpdate {
        name: Some("Robert".into()),
        metadata: Some("{\"hand\":true}".into()),
        ..PeerUpdate::default()
    };
    let updated = f.runtime.update_peer(&f.workspace, ROOM, &guest, update).await.unwrap();
    assert_eq!(
        (updated.name.as_str(), updated.metadata.as_str()),
        ("Robert", "{\"hand\":true}")
    );
    assert_eq!(
        f.told(&guest).await,
        [
            json!({"name": "Robert", "type": "name_changed"}),
            json!({"metadata": "{\"hand\":true}", "type": "metadata_changed"}),
        ]
    );
    assert_eq!(f.told(&host).await, Vec::<Value>::new());

    // A message to a role reaches its peers only; one without a target reaches everyone.
    let to_hosts = SendMessage {
        role: Some("host".into()),
        message: "hosts only".into(),
        ..SendMessage::default()
    };
    f.runtime.send_message(&f.workspace, ROOM, to_hosts).await.unwrap();
    let to_all = SendMessage {
        message: "everyone".into(),
        kind: Some("notice".into()),
        ..SendMessage::default()
    };
    f.runtime.send_message(&f.workspace, ROOM, to_all).await.unwrap();
    let message = |text: &str, kind: &str| json!({"message": text, "message_type": kind, "type": "message"});
    assert_eq!(
        f.told(&host).await,
        [message("hosts only", "chat"), message("everyone", "notice")]
    );
    assert_eq!(f.told(&guest).await[2..], [message("everyone", "notice")]);
    assert_eq!(
        f.logged().await,
        ["session.open.success", "peer.join.success", "peer.join.success"],
        "renames, metadata and messages log no webhook event"
    );
}

#[tokio::test]
async fn removing_a_role_and_ending_the_room_tell_whom_they_remove() {
    let f = fixture().await;
    let (host, guest) = f.host_and_guest().await;
    let remove = RemovePeers {
        role: Some("guest".into()),
        reason: Some("too loud".into()),
        ..RemovePeers::default()
    };
    f.runtime.remove_peers(&f.workspace, ROOM, remove).await.unwrap();
    assert_eq!(f.told(&guest).await, [json!({"reason": "too loud", "type": "removed"})]);
    assert_eq!(f.told(&host).await, Vec::<Value>::new());

    let end = EndRoom {
        reason: Some("done".into()),
        lock: true,
    };
    f.runtime.end_room(&f.workspace, ROOM, end).await.unwrap();
    assert_eq!(
        f.told(&host).await,
        [json!({"reason": "done", "lock": true, "type": "room_ended"})]
    );
    assert_eq!(
        f.logged().await[3..],
        [
            "peer.leave.success",
            "room.end.success",
            "peer.leave.success",
            "session.close.success"
        ]
    );
    // Locked: the room is disabled, so nobody rejoins.
    let refused = f.join("guest", "Bob again").await.unwrap_err();
    assert!(matches!(refused, RuntimeError::RoomDisabled), "{refused:?}");
}

#[tokio::test]
async fn bad_names_and_metadata_are_refused_before_anything_is_written() {
    let f = fixture().await;
    for name in ["", "   ", &"n".repeat(super::MAX_PEER_NAME_LEN + 1)] {
        let refused = f.join("guest", name).await.unwrap_err();
        assert!(matches!(refused, RuntimeError::Invalid(_)), "{name:?}: {refused:?}");
    }
    let request = JoinRequest {
        role: "guest".into(),
        metadata: Some("m".repeat(super::MAX_METADATA_BYTES + 1)),
        ..JoinRequest::default()
    };
    let refused = f.runtime.join(&f.workspace, ROOM, request).await.unwrap_err();
    assert!(matches!(refused, RuntimeError::Invalid(_)), "{refused:?}");
    assert_eq!(f.logged().await, Vec::<String>::new());
}

#[tokio::test]
async fn the_peers_of_a_gone_node_leave_when_another_node_starts() {
    let f = fixture().await;
    let _host = f.join("host", "Ann").await.unwrap();
    // The same node starting again: its previous run's peers left with it.
    let restarted = RoomRuntime::new(f.store.clone(), "node-1".into(), Duration::from_secs(60));
    assert_eq!(restarted.start().await.unwrap(), 1);
    assert_eq!(
        f.logged().await,
        [
            "session.open.success",
            "peer.join.success",
            "peer.leave.success",
            "session.close.success"
        ]
    );
}

/// Each node keeps a copy of the sessions it changed: a change through another node (here
/// a second runtime on the same store) must be what the first one reads and changes next.
#[tokio::test]
async fn a_node_never_acts_on_its_copy_of_a_session_another_node_changed() {
    let f = fixture().await;
    let other = RoomRuntime::new(f.store.clone(), "node-2".into(), Duration::from_secs(60));
    let (host, guest) = f.host_and_guest().await;
    let names = |peers: hms_types::active_room::PeerList| {
        let mut names: Vec<String> = peers.peers.into_values().map(|peer| peer.name).collect();
        names.sort();
        names
    };
    let everyone = PeerFilter::default();

    // Through the other node: one peer joins, the guest is renamed, the host leaves.
    let request = JoinRequest {
        role: "guest".into(),
        name: Some("Cy".into()),
        ..JoinRequest::default()
    };
    let cy = other.join(&f.workspace, ROOM, request).await.unwrap().id;
    let rename = PeerUpdate {
        name: Some("Bobby".into()),
        ..PeerUpdate::default()
    };
    other.update_peer(&f.workspace, ROOM, &guest, rename).await.unwrap();
    other.leave(&f.workspace, ROOM, &host).await.unwrap();

    // This node sees all of it at once, and its changes start from it.
    let peers = f.runtime.peers(&f.workspace, ROOM, &everyone).await.unwrap();
    assert_eq!(names(peers), ["Bobby", "Cy"]);
    assert!(matches!(
        f.runtime.leave(&f.workspace, ROOM, &host).await,
        Err(RuntimeError::PeerNotFound)
    ));
    // The host's place is free again (the role takes one peer).
    f.join("host", "Dee").await.unwrap();
    f.runtime.leave(&f.workspace, ROOM, &cy).await.unwrap();
    let peers = other.peers(&f.workspace, ROOM, &everyone).await.unwrap();
    assert_eq!(names(peers), ["Bobby", "Dee"]);
    let logged = f.logged().await;
    assert_eq!(logged.iter().filter(|kind| *kind == "peer.join.success").count(), 4);
    assert_eq!(logged.iter().filter(|kind| *kind == "peer.leave.success").count(), 2);
}
