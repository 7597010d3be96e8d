//! The `hms` CLI as a user runs it: the built binary against a live server. Tokens, every
//! group of API commands, `--json`, `--all`, `--body`, credentials from flags, environment
//! and profiles, exit codes and completions.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use common::{ACCESS_KEY, SECRET, TestServer, field_of, now_secs};
use hms_auth::{AppSecret, Claims, TokenType, VerifyPolicy};
use serde_json::{Value, json};

/// What one run of the binary left.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    /// Asserts success and answers stdout.
    fn ok(&self) -> &str {
        assert_eq!(self.code, 0, "{self:?}");
        &self.stdout
    }

    /// Asserts success and answers stdout as JSON.
    fn json(&self) -> Value {
        serde_json::from_str(self.ok()).unwrap_or_else(|e| panic!("stdout is no JSON ({e}): {self:?}"))
    }
}

/// Runs `hms args` with no `HMS_*` variable but those of `env`, `HMS_CONFIG_DIR` set to
/// `config`, and `stdin` as standard input.
fn hms_in(config: &Path, args: &[&str], env: &[(&str, &str)], stdin: &str) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hms"));
    command.args(args);
    for (name, _) in std::env::vars() {
        if name.starts_with("HMS_") || name == "XDG_CONFIG_HOME" {
            command.env_remove(name);
        }
    }
    command
        .env("HMS_CONFIG_DIR", config)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("hms runs");
    let mut input = child.stdin.take().expect("stdin");
    input.write_all(stdin.as_bytes()).expect("stdin is written");
    drop(input);
    let output = child.wait_with_output().expect("hms ends");
    Run {
        code: output.status.code().expect("an exit code"),
        stdout: String::from_utf8(output.stdout).expect("UTF-8 stdout"),
        stderr: String::from_utf8(output.stderr).expect("UTF-8 stderr"),
    }
}

/// A live server and a config dir of its own; commands target the server through the
/// environment unless a test says otherwise.
struct Setup {
    server: TestServer,
    config: tempfile::TempDir,
    base_url: String,
}

impl Setup {
    fn new() -> Self {
        Self::with(TestServer::start())
    }

    fn with(server: TestServer) -> Self {
        let base_url = format!("{}/v2", server.base);
        Self {
            server,
            config: tempfile::tempdir().expect("config dir"),
            base_url,
        }
    }

    fn env(&self) -> Vec<(&str, &str)> {
        vec![
            ("HMS_BASE_URL", self.base_url.as_str()),
            ("HMS_ACCESS_KEY", ACCESS_KEY),
            ("HMS_SECRET", SECRET),
        ]
    }

    /// `hms args` against the server, with the test credentials in the environment.
    fn hms(&self, args: &[&str]) -> Run {
        hms_in(self.config.path(), args, &self.env(), "")
    }

    fn hms_stdin(&self, args: &[&str], stdin: &str) -> Run {
        hms_in(self.config.path(), args, &self.env(), stdin)
    }

    /// `hms args` with only the environment given.
    fn bare(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        hms_in(self.config.path(), args, env, "")
    }

    async fn raw(&self, path: &str) -> Value {
        let (status, body) = self.server.get(path).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }
}

fn verify(token: &str, expected: TokenType, max_lifetime_secs: i64) -> Claims {
    let policy = VerifyPolicy {
        expected_type: expected,
        leeway_secs: 5,
        max_lifetime_secs,
    };
    hms_auth::verify(token, |_| Some(vec![AppSecret::new(SECRET)]), &policy, now_secs())
        .unwrap_or_else(|e| panic!("{token} does not verify: {e}"))
        .claims
}

#[tokio::test]
async fn tokens_verify_with_the_secret_and_carry_their_claims() {
    let setup = Setup::new();
    let credentials = ["--access-key", ACCESS_KEY, "--secret", SECRET];
    let run = setup.bare(&[&["token", "management"][..], &credentials].concat(), &[]);
    let token = run.ok().trim_end().to_owned();
    assert_eq!(run.stdout, format!("{token}\n"), "the token alone");
    let claims = verify(&token, TokenType::Management, 14 * 86_400);
    assert_eq!(
        (
            claims.access_key.as_str(),
            claims.version,
            claims.exp - claims.iat.unwrap()
        ),
        (ACCESS_KEY, 2, 86_400)
    );
    assert_eq!(claims.nbf, claims.iat);
    assert!((claims.iat.unwrap() - now_secs()).abs() <= 5);
    // It works against the server, through the CLI.
    let rooms = setup.bare(
        &[
            "rooms",
            "list",
            "--json",
            "--base-url",
            &setup.base_url,
            "--token",
            &token,
        ],
        &[],
    );
    assert_eq!(rooms.json(), json!({"limit": 10, "data": [], "last": ""}));

    let run = setup.bare(&["token", "management", "--validity", "1h"], &setup.env());
    let claims = verify(run.ok().trim_end(), TokenType::Management, 3600);
    assert_eq!(claims.exp - claims.iat.unwrap(), 3600);
    let run = setup.bare(&["token", "management", "--validity", "15d"], &setup.env());
    assert_ne!(run.code, 0);
    assert_eq!(
        run.stderr,
        "error: a validity of 1296000 s exceeds the maximum of 1209600 s (14 days) that servers accept\n"
    );

    let run = setup.bare(
        &[
            &[
                "token",
                "app",
                "--room-id",
                "r1",
                "--role",
                "host",
                "--user-id",
                "alice",
            ][..],
            &credentials,
        ]
        .concat(),
        &[],
    );
    let app = run.ok().trim_end().to_owned();
    let claims = verify(&app, TokenType::App, 86_400);
    assert_eq!(
        (
            claims.room_id.as_deref(),
            claims.role.as_deref(),
            claims.user_id.as_deref()
        ),
        (Some("r1"), Some("host"), Some("alice"))
    );

    let run = setup.bare(&["token", "decode", &app, "--secret", SECRET], &[]);
    let text = run.ok();
    assert!(text.contains("\"room_id\": \"r1\""), "{text}");
    assert!(text.ends_with("signature: verifies with the given secret\n"), "{text}");
    let run = setup.bare(&["token", "decode", &app, "--secret", "wrong"], &[]);
    assert_ne!(run.code, 0);
}

#[tokio::test]
async fn rooms_end_to_end() {
    let setup = Setup::new();
    let created = setup
        .hms(&[
            "rooms",
            "create",
            "--name",
            "standup",
            "--description",
            "Daily standup",
            "--json",
        ])
        .json();
    let id = created["id"].as_str().expect("an id").to_owned();
    let path = format!("/v2/rooms/{id}");
    assert_eq!(created, setup.raw(&path).await, "--json is the server's JSON");
    assert_eq!(
        (&created["name"], &created["description"], &created["enabled"]),
        (&json!("standup"), &json!("Daily standup"), &json!(true))
    );
    assert_eq!(setup.hms(&["rooms", "get", &id, "--json"]).json(), created);
    assert_eq!(setup.hms(&["rooms", "get", "--room-id", &id, "--json"]).json(), created);
    assert_eq!(
        setup.hms(&["rooms", "get", &id, "--field", "id"]).ok(),
        format!("{id}\n")
    );

    // The table: a row per room with its scalar fields.
    let table = setup.hms(&["rooms", "list"]);
    let lines: Vec<&str> = table.ok().lines().collect();
    assert_eq!(lines.len(), 2, "{table:?}");
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(&header[..4], ["ID", "NAME", "ENABLED", "DESCRIPTION"]);
    assert!(
        lines[1].starts_with(&format!("{id}  standup  true     Daily standup")),
        "{table:?}"
    );
    let single = setup.hms(&["rooms", "get", &id]);
    assert!(single.ok().starts_with("id      "), "{single:?}");
    assert!(
        single.stdout.contains("\nname                       standup\n"),
        "{single:?}"
    );

    let updated = setup
        .hms(&[
            "rooms",
            "update",
            &id,
            "--description",
            "Weekly",
            "--size",
            "20",
            "--json",
        ])
        .json();
    assert_eq!(
        (&updated["description"], &updated["size"]),
        (&json!("Weekly"), &json!(20))
    );
    assert_eq!(updated, setup.raw(&path).await);
    let disabled = setup.hms(&["rooms", "disable", &id, "--json"]).json();
    assert_eq!(disabled["enabled"], json!(false));
    assert_eq!(
        setup
            .hms(&["rooms", "list", "--enabled", "false", "--field", "id"])
            .ok(),
        format!("{id}\n")
    );
    assert_eq!(
        setup.hms(&["rooms", "list", "--field", "id"]).ok(),
        "",
        "no enabled room"
    );
    let enabled = setup.hms(&["rooms", "enable", &id, "--json"]).json();
    assert_eq!(enabled["enabled"], json!(true));
    assert_eq!(enabled, setup.raw(&path).await);
}

#[tokio::test]
async fn room_codes_and_their_exchange() {
    let setup = Setup::new();
    let room = setup
        .hms(&["rooms", "create", "--name", "codes", "--field", "id"])
        .ok()
        .trim()
        .to_owned();
    let codes = setup.hms(&["room-codes", "create", &room, "--json"]).json();
    let roles: Vec<&Value> = codes["data"].as_array().unwrap().iter().map(|c| &c["role"]).collect();
    assert_eq!(roles, [&json!("host"), &json!("guest")]);
    let extra = setup
        .hms(&["room-codes", "create-for-role", &room, "guest", "--json"])
        .json();
    assert_eq!((&extra["role"], &extra["enabled"]), (&json!("guest"), &json!(true)));
    let list_path = format!("/v2/room-codes/room/{room}");
    assert_eq!(
        setup.hms(&["room-codes", "list", &room, "--json"]).json(),
        setup.raw(&list_path).await
    );
    let guests = setup.hms(&["room-codes", "list", &room, "--role", "guest", "--field", "code"]);
    assert_eq!(
        guests.ok(),
        format!(
            "{}\n{}\n",
            codes["data"][1]["code"].as_str().unwrap(),
            extra["code"].as_str().unwrap()
        )
    );

    let code = extra["code"].as_str().unwrap();
    let off = setup
        .hms(&["room-codes", "update", code, "--enabled", "false", "--json"])
        .json();
    assert_eq!((&off["code"], &off["enabled"]), (&json!(code), &json!(false)));
    let enabled_only = setup
        .hms(&["room-codes", "list", &room, "--enabled", "true", "--json"])
        .json();
    assert_eq!(enabled_only["data"], codes["data"]);

    // The exchange needs no credentials, only the base URL.
    let host_code = codes["data"][0]["code"].as_str().unwrap();
    let exchanged = setup
        .bare(
            &["auth", "exchange", "--code", host_code, "--user-id", "alice", "--json"],
            &[("HMS_BASE_URL", &setup.base_url)],
        )
        .json();
    let claims = verify(exchanged["token"].as_str().unwrap(), TokenType::App, 86_400);
    assert_eq!(
        (
            claims.room_id.as_deref(),
            claims.role.as_deref(),
            claims.user_id.as_deref()
        ),
        (Some(room.as_str()), Some("host"), Some("alice"))
    );
    let token = setup.hms(&["auth", "exchange", "--code", host_code, "--field", "token"]);
    verify(token.ok().trim_end(), TokenType::App, 86_400);
    // A disabled code is refused with the server's message.
    let refused = setup.hms(&["auth", "exchange", "--code", code]);
    let (status, body) = setup
        .server
        .call_with(reqwest::Method::POST, "/v2/token", Some(json!({"code": code})), None)
        .await;
    assert_eq!(refused.code, 1, "{refused:?}");
    let mut expected = format!(
        "error: {} (HTTP {status_code})\n",
        body["message"].as_str().unwrap(),
        status_code = status.as_u16()
    );
    for detail in body["details"].as_array().unwrap() {
        expected.push_str(&format!("  {}\n", detail.as_str().unwrap()));
    }
    assert_eq!((refused.stdout.as_str(), refused.stderr), ("", expected));
}

#[tokio::test]
async fn templates_and_roles() {
    let setup = Setup::new();
    let template = setup
        .hms(&[
            "templates",
            "create",
            "--name",
            "webinar",
            "--roles",
            r#"{"host": {}, "viewer": {}}"#,
            "--json",
        ])
        .json();
    let id = template["id"].as_str().unwrap().to_owned();
    let path = format!("/v2/templates/{id}");
    assert_eq!(template, setup.raw(&path).await);
    assert_eq!(setup.hms(&["templates", "get", &id, "--json"]).json(), template);
    let listed = setup.hms(&["templates", "list", "--json"]).json();
    assert_eq!(listed, setup.raw("/v2/templates").await);
    assert_eq!(
        setup.hms(&["templates", "list", "--field", "name"]).ok(),
        "webinar\nconferencing\n"
    );

    // Roles.
    let host = setup.hms(&["roles", "get", &id, "host", "--json"]).json();
    assert_eq!(host, setup.raw(&format!("{path}/roles/host")).await);
    let guest = setup
        .hms(&[
            "roles",
            "upsert",
            &id,
            "guest",
            "--max-peer-count",
            "10",
            "--priority",
            "2",
            "--json",
        ])
        .json();
    assert_eq!((&guest["maxPeerCount"], &guest["priority"]), (&json!(10), &json!(2)));
    let deleted = setup.hms(&["roles", "delete", &id, "guest"]);
    assert_eq!(deleted.ok(), "");
    let gone = setup.hms(&["roles", "get", &id, "guest"]);
    assert_eq!(
        (gone.code, gone.stderr.as_str()),
        (1, "error: Role not found (HTTP 404)\n")
    );

    // Settings, destinations, recordings, and a whole template through --body.
    let settings = setup.hms(&["templates", "get-settings", &id, "--json"]).json();
    assert_eq!(settings, setup.raw(&format!("{path}/settings")).await);
    let changed = setup
        .hms_stdin(
            &[
                "templates",
                "update-settings",
                &id,
                "--body",
                "-",
                "--region",
                "eu",
                "--json",
            ],
            &settings.to_string(),
        )
        .json();
    let mut expected = settings.clone();
    expected["region"] = json!("eu");
    assert_eq!(changed, expected);
    assert_eq!(
        setup.hms(&["templates", "get-destinations", &id, "--json"]).json(),
        json!({})
    );
    let destinations = json!({"hlsDestinations": {"hls": {"name": "hls", "playlistType": "live"}}});
    let stored = setup
        .hms(&[
            "templates",
            "update-destinations",
            &id,
            "--hls-destinations",
            &destinations["hlsDestinations"].to_string(),
            "--json",
        ])
        .json();
    assert_eq!(stored, setup.raw(&format!("{path}/destinations")).await);
    assert_eq!(stored["hlsDestinations"]["hls"]["playlistType"], json!("live"));
    assert_eq!(
        setup.hms(&["templates", "get-recordings", &id, "--json"]).json(),
        json!([])
    );
    let recordings = setup
        .hms_stdin(
            &["templates", "update-recordings", &id, "--body", "-", "--json"],
            r#"[{"name": "main", "role": "host", "trackRecording": {"enabled": true}}]"#,
        )
        .json();
    assert_eq!(recordings, setup.raw(&format!("{path}/recordings")).await);
    assert_eq!(
        (&recordings[0]["name"], &recordings[0]["role"]),
        (&json!("main"), &json!("host"))
    );

    let file = setup.config.path().join("template.json");
    let mut whole = setup.hms(&["templates", "get", &id, "--json"]).json();
    whole["roles"] = json!({"host": {}});
    std::fs::write(&file, whole.to_string()).unwrap();
    let replaced = setup
        .hms(&[
            "templates",
            "update",
            &id,
            "--body",
            file.to_str().unwrap(),
            "--name",
            "webinar-2",
            "--json",
        ])
        .json();
    assert_eq!(replaced["name"], json!("webinar-2"));
    assert_eq!(
        replaced["roles"].as_object().unwrap().keys().collect::<Vec<_>>(),
        ["host"]
    );
    assert_eq!(replaced, setup.raw(&path).await);
}

#[tokio::test]
async fn sessions_active_rooms_and_the_simulator() {
    let dir = tempfile::tempdir().unwrap();
    let setup = Setup::with(TestServer::start_in(dir.path(), &["--simulate-peers"]));
    let room = setup
        .hms(&["rooms", "create", "--name", "live", "--field", "id"])
        .ok()
        .trim()
        .to_owned();
    let inactive = setup.hms(&["active-rooms", "get", &room]);
    assert_eq!(inactive.code, 1);
    assert!(
        inactive.stderr.starts_with("error: Room is not active (HTTP 404)\n"),
        "{inactive:?}"
    );

    let ann = setup
        .hms(&[
            "simulate",
            "join",
            &room,
            "--role",
            "host",
            "--name",
            "Ann",
            "--user-id",
            "ann",
            "--json",
        ])
        .json();
    let bob = setup
        .hms_stdin(
            &["simulate", "join", &room, "--body", "-", "--json"],
            r#"{"role": "guest", "name": "Bob"}"#,
        )
        .json();
    let (ann_id, bob_id) = (ann["id"].as_str().unwrap(), bob["id"].as_str().unwrap());
    assert_eq!(
        (&ann["name"], &ann["role"], &ann["user_id"]),
        (&json!("Ann"), &json!("host"), &json!("ann"))
    );

    let active_path = format!("/v2/active-rooms/{room}");
    let active = setup.hms(&["active-rooms", "get", &room, "--json"]).json();
    assert_eq!(active, setup.raw(&active_path).await);
    assert_eq!(active["session"]["peers"], json!([ann_id, bob_id]));
    let peers = setup.hms(&["active-rooms", "peers", &room, "--json"]).json();
    assert_eq!(peers, setup.raw(&format!("{active_path}/peers")).await);
    let guests = setup.hms(&["active-rooms", "peers", &room, "--role", "guest", "--field", "peers"]);
    assert_eq!(guests.json().as_object().unwrap().keys().collect::<Vec<_>>(), [bob_id]);
    let table = setup.hms(&["active-rooms", "peers", &room]);
    assert!(table.ok().starts_with("peers:\n  ID "), "{table:?}");
    assert_eq!(
        table.stdout.lines().count(),
        4,
        "a title, a header and two peers: {table:?}"
    );
    assert_eq!(
        setup.hms(&["active-rooms", "peer", &room, ann_id, "--json"]).json(),
        ann
    );
    let renamed = setup
        .hms(&[
            "active-rooms",
            "update-peer",
            &room,
            bob_id,
            "--name",
            "Robert",
            "--json",
        ])
        .json();
    assert_eq!(renamed["name"], json!("Robert"));
    assert_eq!(
        setup
            .hms(&[
                "active-rooms",
                "send-message",
                &room,
                "--message",
                "hi",
                "--role",
                "guest",
                "--json"
            ])
            .json(),
        json!({"message": "message sent"})
    );
    let received = setup.hms(&["simulate", "messages", &room, bob_id, "--json"]).json();
    let kinds = field_of(&received["messages"], "type");
    assert_eq!(kinds, [&json!("name_changed"), &json!("message")]);
    assert_eq!(received["messages"][1]["message"], json!("hi"));
    assert_eq!(
        setup
            .hms(&[
                "active-rooms",
                "remove-peers",
                &room,
                "--peer-id",
                bob_id,
                "--reason",
                "bye",
                "--json"
            ])
            .json(),
        json!({"message": "peer remove request submitted"})
    );

    let sessions = setup.hms(&["sessions", "list", "--room-id", &room, "--json"]).json();
    assert_eq!(sessions, setup.raw(&format!("/v2/sessions?room_id={room}")).await);
    let session_id = sessions["data"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(session_id, active["session"]["id"].as_str().unwrap());
    let session = setup.hms(&["sessions", "get", &session_id, "--json"]).json();
    assert_eq!(session, sessions["data"][0]);
    let shown = setup.hms(&["sessions", "get", &session_id]);
    assert!(shown.ok().contains("\npeers:\n  ID "), "{shown:?}");

    assert_eq!(
        setup
            .hms(&["active-rooms", "end", &room, "--reason", "done", "--json"])
            .json(),
        json!({"message": "session is ending"})
    );
    assert_eq!(
        setup.hms(&["sessions", "get", &session_id, "--field", "active"]).ok(),
        "false\n"
    );
    let carl = setup
        .hms(&["simulate", "join", &room, "--role", "host", "--field", "id"])
        .ok()
        .trim()
        .to_owned();
    assert_eq!(
        setup.hms(&["simulate", "leave", &room, &carl, "--json"]).json(),
        json!({"message": "peer left"})
    );
    let events = setup.hms(&["simulate", "events", "--room-id", &room, "--json"]).json();
    assert_eq!(events, setup.raw(&format!("/v2/simulate/events?room_id={room}")).await);
    let joins = setup
        .hms(&["simulate", "events", "--type", "peer.join.success", "--json"])
        .json();
    assert_eq!(joins["events"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn webhook_history_and_replays() {
    let setup = Setup::new();
    let history = setup
        .hms(&["webhooks", "history", "--status", "failed", "--json"])
        .json();
    assert_eq!(history, setup.raw("/v2/analytics/webhooks?status=failed").await);
    let replay = setup.hms(&["webhooks", "replay", "--status", "all", "--json"]).json();
    assert_eq!(replay["status"], json!("started"));
    let id = replay["workflow_id"].as_str().unwrap();
    let status = setup.hms(&["webhooks", "replay-status", id, "--json"]).json();
    assert_eq!(status, setup.raw(&format!("/v2/analytics/webhooks/replay/{id}")).await);
}

#[tokio::test]
async fn all_follows_pagination_to_the_end() {
    let setup = Setup::new();
    let mut ids = Vec::new();
    for index in 0..25 {
        let (status, room) = setup
            .server
            .post("/v2/rooms", json!({"name": format!("room-{index:02}")}))
            .await;
        assert_eq!(status, 200, "{room}");
        ids.push(room["id"].as_str().unwrap().to_owned());
    }
    ids.reverse();

    let page = setup.hms(&["rooms", "list", "--limit", "10", "--json"]).json();
    assert_eq!(page, setup.raw("/v2/rooms?limit=10").await);
    assert_eq!(page["data"].as_array().unwrap().len(), 10);

    // --all: one page holding every item, `last` from the final page.
    let all = setup.hms(&["rooms", "list", "--limit", "10", "--all", "--json"]).json();
    let mut data = Vec::new();
    let mut start = String::new();
    let last = loop {
        let query = if start.is_empty() {
            String::new()
        } else {
            format!("&start={start}")
        };
        let page = setup.raw(&format!("/v2/rooms?limit=10{query}")).await;
        let items = page["data"].as_array().unwrap().clone();
        data.extend(items.iter().cloned());
        if items.len() < 10 {
            break page["last"].clone();
        }
        start = page["last"].as_str().unwrap().to_owned();
    };
    assert_eq!(all, json!({"limit": 10, "data": data, "last": last}));
    let listed: Vec<&str> = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ids);

    let ids_only = setup.hms(&["rooms", "list", "--all", "--field", "id"]);
    assert_eq!(ids_only.ok(), format!("{}\n", ids.join("\n")));
    let table = setup.hms(&["rooms", "list", "--all", "--limit", "10"]);
    assert_eq!(table.ok().lines().count(), 26, "a header and 25 rows");
    assert_eq!(table.stderr, "", "no progress when stderr is no terminal");
}

#[tokio::test]
async fn bodies_come_from_stdin_or_a_file_and_flags_override_them() {
    let setup = Setup::new();
    let room = setup
        .hms_stdin(
            &["rooms", "create", "--body", "-", "--json"],
            r#"{"name": "from-stdin", "description": "piped", "region": "eu"}"#,
        )
        .json();
    assert_eq!(
        (&room["name"], &room["description"], &room["region"]),
        (&json!("from-stdin"), &json!("piped"), &json!("eu"))
    );
    let file = setup.config.path().join("room.json");
    std::fs::write(&file, r#"{"name": "from-file", "description": "filed"}"#).unwrap();
    let room = setup
        .hms(&[
            "rooms",
            "create",
            "--body",
            file.to_str().unwrap(),
            "--description",
            "flag wins",
            "--json",
        ])
        .json();
    assert_eq!(
        (&room["name"], &room["description"]),
        (&json!("from-file"), &json!("flag wins"))
    );

    let bad = setup.hms_stdin(&["rooms", "create", "--body", "-"], "{not json");
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr.starts_with("error: the body in stdin is not JSON: "),
        "{bad:?}"
    );
    let missing = setup.hms(&["rooms", "create", "--body", "/nonexistent/body.json"]);
    assert_eq!(missing.code, 2);
    assert!(
        missing
            .stderr
            .starts_with("error: cannot read /nonexistent/body.json: "),
        "{missing:?}"
    );
}

#[tokio::test]
async fn credentials_come_from_flags_then_environment_then_profiles() {
    let setup = Setup::new();
    let config = setup.config.path();
    let good_token = setup.server.token();
    let bad_token = common::management_token(ACCESS_KEY, "not-the-secret");
    let list = ["rooms", "list", "--field", "limit"];
    let refused = "error: Token validation error: token signature does not match any app secret of the access key (HTTP 401)\n  \
                   token signature does not match any app secret of the access key\n";

    // Nothing anywhere: a usage error.
    let none = setup.bare(&list, &[]);
    assert_eq!(none.code, 2, "{none:?}");
    assert!(none.stderr.starts_with("error: no credentials: "), "{none:?}");

    // A profile alone.
    let added = setup.bare(
        &[
            "profile",
            "add",
            "local",
            "--base-url",
            &setup.base_url,
            "--access-key",
            ACCESS_KEY,
            "--secret",
            SECRET,
        ],
        &[],
    );
    assert_eq!(
        added.ok(),
        format!(
            "Added profile `local` (current) in {}\n",
            config.join("profiles.toml").display()
        )
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(config.join("profiles.toml"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the file holds secrets");
    }
    assert_eq!(setup.bare(&list, &[]).ok(), "10\n");
    let unreachable = "http://127.0.0.1:1/v2";
    setup
        .bare(
            &[
                "profile",
                "add",
                "broken",
                "--base-url",
                unreachable,
                "--token",
                &bad_token,
            ],
            &[],
        )
        .ok();
    let listed = setup.bare(&["profile", "list"], &[]);
    let words: Vec<Vec<&str>> = listed
        .ok()
        .lines()
        .map(|line| line.split_whitespace().collect())
        .collect();
    assert_eq!(
        words,
        [
            vec!["NAME", "BASE", "URL", "CREDENTIALS"],
            vec!["broken", unreachable, "management", "token"],
            vec![
                "*",
                "local",
                &setup.base_url,
                "access",
                "key",
                ACCESS_KEY,
                "and",
                "secret"
            ],
        ]
    );
    assert!(!listed.stdout.contains(SECRET) && !listed.stdout.contains(&bad_token));

    // --profile, HMS_PROFILE and `profile use` pick the profile.
    let transport = setup.bare(&[&list[..], &["--profile", "broken"]].concat(), &[]);
    assert_eq!(transport.code, 3, "{transport:?}");
    assert!(
        transport.stderr.starts_with("error: cannot reach the server: "),
        "{transport:?}"
    );
    assert_eq!(setup.bare(&list, &[("HMS_PROFILE", "broken")]).code, 3);
    setup.bare(&["profile", "use", "broken"], &[]).ok();
    assert_eq!(setup.bare(&list, &[]).code, 3);
    let unknown = setup.bare(&["profile", "use", "nope"], &[]);
    assert_eq!(
        (unknown.code, unknown.stderr.as_str()),
        (2, "error: no profile named `nope` (see `hms profile list`)\n")
    );

    // The environment beats the profile…
    let env_good = [
        ("HMS_BASE_URL", setup.base_url.as_str()),
        ("HMS_MANAGEMENT_TOKEN", good_token.as_str()),
    ];
    assert_eq!(setup.bare(&list, &env_good).ok(), "10\n");
    // …only where it gives something: the profile's bad token, the environment's URL.
    let env_url = setup.bare(&list, &[("HMS_BASE_URL", setup.base_url.as_str())]);
    assert_eq!((env_url.code, env_url.stderr.as_str()), (1, refused));
    // Flags beat the environment.
    let env_bad = [
        ("HMS_BASE_URL", unreachable),
        ("HMS_MANAGEMENT_TOKEN", bad_token.as_str()),
    ];
    let flags = setup.bare(
        &[&list[..], &["--base-url", &setup.base_url, "--token", &good_token]].concat(),
        &env_bad,
    );
    assert_eq!(flags.ok(), "10\n");
    let flag_token = setup.bare(&[&list[..], &["--token", &bad_token]].concat(), &env_good);
    assert_eq!((flag_token.code, flag_token.stderr.as_str()), (1, refused));
    let flag_key = setup.bare(
        &[&list[..], &["--access-key", ACCESS_KEY, "--secret", SECRET]].concat(),
        &[
            ("HMS_BASE_URL", setup.base_url.as_str()),
            ("HMS_MANAGEMENT_TOKEN", bad_token.as_str()),
        ],
    );
    assert_eq!(flag_key.ok(), "10\n");
    let both = setup.bare(&[&list[..], &["--token", "t", "--secret", "s"]].concat(), &[]);
    assert_eq!(both.code, 2, "{both:?}");

    setup.bare(&["profile", "remove", "broken"], &[]).ok();
    let listed = setup.bare(&["profile", "list"], &[]);
    assert!(
        !listed.ok().contains("broken") && !listed.stdout.contains('*'),
        "{listed:?}"
    );
}

#[tokio::test]
async fn failures_exit_with_their_code_and_never_a_backtrace() {
    let setup = Setup::new();
    let missing = setup.hms(&["rooms", "get", "no-such-room"]);
    assert_eq!(
        (missing.code, missing.stdout.as_str(), missing.stderr.as_str()),
        (1, "", "error: Room not found (HTTP 404)\n")
    );
    let invalid = setup.hms(&["rooms", "create", "--size", "30000"]);
    assert_eq!(
        (invalid.code, invalid.stderr.as_str()),
        (
            1,
            "error: Invalid body param (HTTP 400)\n  Invalid body param: room size greater than 20000\n"
        )
    );
    let usage = setup.hms(&["rooms", "create", "--size", "big"]);
    assert_eq!(usage.code, 2, "{usage:?}");
    assert!(usage.stderr.contains("`big` is not an integer"), "{usage:?}");
    assert_eq!(setup.hms(&["rooms", "frobnicate"]).code, 2);
    assert_eq!(setup.hms(&["rooms", "list", "--enabled", "maybe"]).code, 2);
    let field = setup.hms(&["rooms", "create", "--name", "f", "--field", "nothing"]);
    assert_eq!(
        (field.code, field.stderr.as_str()),
        (2, "error: the answer has no field `nothing`\n")
    );
    let transport = setup.bare(
        &["rooms", "list", "--base-url", "http://127.0.0.1:1/v2", "--token", "t"],
        &[],
    );
    assert_eq!(transport.code, 3, "{transport:?}");
    for run in [&missing, &invalid, &usage, &transport] {
        assert!(
            !run.stderr.contains("panicked") && !run.stderr.contains("backtrace"),
            "{run:?}"
        );
    }
    assert_eq!(setup.hms(&["rooms", "--help"]).code, 0);
}

#[test]
fn completions_cover_every_shell_and_group() {
    let config = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish"] {
        let run = hms_in(config.path(), &["completions", shell], &[], "");
        let script = run.ok();
        for word in ["room-codes", "active-rooms", "create-for-role", "base-url", "profile"] {
            assert!(script.contains(word), "{shell} completions lack {word}");
        }
    }
    let run = hms_in(config.path(), &["completions", "tcsh"], &[], "");
    assert_eq!(run.code, 2);
}

#[test]
fn help_lists_every_command_of_the_catalogue() {
    let config = tempfile::tempdir().unwrap();
    let help = hms_in(config.path(), &["--help"], &[], "");
    let text = help.ok();
    for op in hms_api::OPERATIONS.iter().filter(|op| op.alias_of.is_none()) {
        assert!(
            text.contains(&format!("  {} ", op.group.command())),
            "{}",
            op.group.command()
        );
        let group = hms_in(config.path(), &[op.group.command(), "--help"], &[], "");
        assert!(
            group.ok().contains(&format!("  {} ", op.command)),
            "{} {}",
            op.group.command(),
            op.command
        );
    }
}

/// Each generated command is run somewhere in this file, so that an operation added to the
/// catalogue is not left untested here.
#[test]
fn this_file_runs_every_command() {
    let source: String = include_str!("cli.rs").split_whitespace().collect();
    let missing: Vec<String> = hms_api::OPERATIONS
        .iter()
        .filter(|op| op.alias_of.is_none())
        .map(|op| format!("\"{}\",\"{}\"", op.group.command(), op.command))
        .filter(|command| !source.contains(command.as_str()))
        .collect();
    assert!(missing.is_empty(), "not run: {missing:?}");
}
