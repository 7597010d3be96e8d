//! The template rules: what is built from a request, and what is refused.

use serde_json::json;

use hms_types::Timestamp;
use hms_types::template::{Permissions, RecordingConfig, RoleParams, Settings, Template, TemplateBody, TemplateParams};
use serde_json::Value;

use super::build::{self, conferencing};

fn params(value: Value) -> TemplateParams {
    serde_json::from_value(value).unwrap()
}

fn body(value: Value) -> TemplateBody {
    build::new_body(params(value), "generated".to_owned()).unwrap()
}

fn errors(value: Value) -> Vec<String> {
    build::new_body(params(value), "generated".to_owned()).unwrap_err()
}

fn role_params(value: Value) -> RoleParams {
    serde_json::from_value(value).unwrap()
}

fn with_bucket(secret_key: &str) -> Value {
    json!({"region": "eu", "recording": {"upload": {
        "type": "s3", "location": "bucket",
        "credentials": {"key": "AKIA", "secretKey": secret_key}
    }}})
}

#[test]
fn empty_roles_get_every_default() {
    let body = body(json!({"roles": {"host": {}, "guest": {}}}));
    assert_eq!(body.name, "generated");
    assert_eq!(
        serde_json::to_value(&body.roles["host"]).unwrap(),
        json!({
            "name": "host",
            "publishParams": {
                "allowed": ["audio", "video", "screen"],
                "audio": {"bitRate": 32, "codec": "opus"},
                "video": {"bitRate": 256, "codec": "vp8", "frameRate": 25, "width": 320, "height": 180},
                "screen": {"codec": "vp8", "frameRate": 10, "width": 1280, "height": 720}
            },
            "subscribeParams": {"subscribeToRoles": ["host", "guest"], "maxSubsBitRate": 3200},
            "permissions": {
                "sendRoomState": false, "pollRead": false, "pollWrite": false,
                "browserRecording": true, "rtmpStreaming": true, "hlsStreaming": true
            },
            "priority": 1,
            "maxPeerCount": 0
        })
    );
    assert_eq!(
        serde_json::to_value(&body.settings).unwrap(),
        json!({
            "region": "auto",
            "recording": null,
            "roomState": {"messageInterval": 5, "sendPeerList": false, "stopRoomStateOnJoin": true, "enabled": false},
            "retry": {}
        })
    );
    assert_eq!(serde_json::to_value(&body.destinations).unwrap(), json!({}));
}

#[test]
fn given_publish_params_keep_allowed_as_sent() {
    let body = body(json!({"roles": {"viewer": {"publishParams": {"video": {"bitRate": 500}}}}}));
    assert_eq!(
        serde_json::to_value(&body.roles["viewer"].publish_params).unwrap(),
        json!({
            "audio": {"bitRate": 32, "codec": "opus"},
            "video": {"bitRate": 500, "codec": "vp8", "frameRate": 25, "width": 320, "height": 180},
            "screen": {"codec": "vp8", "frameRate": 10, "width": 1280, "height": 720}
        })
    );
}

#[test]
fn permissions_show_moderation_only_when_granted() {
    let permissions: Permissions =
        serde_json::from_value(json!({"endRoom": true, "mute": false, "hlsStreaming": false})).unwrap();
    assert_eq!(
        serde_json::to_value(&permissions).unwrap(),
        json!({
            "endRoom": true,
            "sendRoomState": false, "pollRead": false, "pollWrite": false,
            "browserRecording": true, "rtmpStreaming": true, "hlsStreaming": false
        })
    );
}

#[test]
fn subscribing_to_a_missing_role_is_refused() {
    let details = errors(json!({"roles": {
        "host": {},
        "guest": {"subscribeParams": {"subscribeToRoles": ["host", "ghost"]}}
    }}));
    assert_eq!(
        details,
        [r#"roles.guest.subscribeParams.subscribeToRoles names role "ghost", which does not exist in the template"#]
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let details = errors(json!({
        "name": "bad/name",
        "roles": {"host": {
            "publishParams": {
                "allowed": ["audio", "smell"],
                "audio": {"bitRate": 1},
                "video": {"bitRate": 5000, "width": 10},
                "screen": {"bitRate": 100}
            },
            "priority": 9,
            "maxPeerCount": -2
        }},
        "settings": {"region": "mars", "roomState": {"messageInterval": 7}}
    }));
    assert_eq!(
        details,
        [
            r#"name "bad/name" must be 1 to 100 characters of a-z, A-Z, 0-9, space, -, ., _ and :"#,
            r#"roles.host.publishParams.allowed must be one of audio, video, screen, simulcast (got "smell")"#,
            "roles.host.publishParams.audio.bitRate must be between 16 and 128",
            "roles.host.publishParams.video.bitRate must be between 30 and 2000",
            "roles.host.publishParams.video.width must be between 50 and 1920",
            "roles.host.publishParams.screen.bitRate must be at least 500",
            "roles.host.priority must be between 1 and 5",
            "roles.host.maxPeerCount must be -1, 0 or more",
            r#"settings.region must be one of in, us, eu, auto (got "mars")"#,
            "settings.roomState.messageInterval must be a multiple of 5 between 5 and 3600",
        ]
    );
}

#[test]
fn simulcast_layers_must_descend_from_full_resolution() {
    let good = json!([
        {"rid": "f", "scaleResolutionDownBy": 1, "maxBitrate": 700, "maxFramerate": 25},
        {"rid": "h", "scaleResolutionDownBy": 2, "maxBitrate": 350, "maxFramerate": 25},
        {"rid": "q", "scaleResolutionDownBy": 4, "maxBitrate": 100, "maxFramerate": 25}
    ]);
    body(json!({"roles": {"host": {"publishParams": {
        "simulcast": {"video": {"layers": good}, "screen": {}}
    }}}}));

    let bad = json!([
        {"rid": "h", "scaleResolutionDownBy": 2, "maxFramerate": 25},
        {"rid": "f", "scaleResolutionDownBy": 2, "maxFramerate": 40}
    ]);
    let details = errors(json!({"roles": {"host": {"publishParams": {
        "simulcast": {"video": {"layers": bad}}
    }}}}));
    let layers = "roles.host.publishParams.simulcast.video.layers";
    assert_eq!(
        details,
        [
            format!("{layers}[0].rid must be f in the first layer"),
            format!("{layers}[0].scaleResolutionDownBy must be 1 in the first layer"),
            format!("{layers}[1].maxFramerate must be between 1 and 30"),
            format!(r#"{layers}[1].rid must come after "h" (order f, h, q)"#),
            format!("{layers}[1].scaleResolutionDownBy must be greater than the previous layer's"),
        ]
    );
}

#[test]
fn role_and_destination_names_follow_their_keys() {
    let details = errors(json!({
        "roles": {"host": {"name": "guest"}},
        "destinations": {"transcriptions": {"captions": {"name": "other", "role": "ghost"}}}
    }));
    assert_eq!(
        details,
        [
            r#"roles.host.name must equal its key "host""#,
            r#"destinations.transcriptions.captions.name must equal its key "captions""#,
            r#"destinations.transcriptions.captions.role names role "ghost", which does not exist in the template"#,
        ]
    );

    let body = body(json!({
        "roles": {"host": {}},
        "destinations": {"hlsDestinations": {"hls": {"playlistType": "live"}}}
    }));
    let hls = &body.destinations.hls_destinations.as_ref().unwrap()["hls"];
    assert_eq!(hls.name.as_deref(), Some("hls"));
}

#[test]
fn upsert_role_creates_replaces_and_renames() {
    let mut template = conferencing("conf".to_owned());

    let viewer = build::upsert_role(&mut template, "viewer", role_params(json!({"publishParams": {}}))).unwrap();
    assert!(viewer.publish_params.allowed.is_empty());
    assert_eq!(viewer.subscribe_params.subscribe_to_roles, ["host", "guest", "viewer"]);
    assert_eq!(template.roles.keys().collect::<Vec<_>>(), ["host", "guest", "viewer"]);

    let host = build::upsert_role(&mut template, "host", role_params(json!({"priority": 2}))).unwrap();
    assert_eq!(host.priority, 2);
    assert!(!host.permissions.end_room, "a replaced role starts from the defaults");

    let presenter = build::upsert_role(&mut template, "host", role_params(json!({"name": "presenter"}))).unwrap();
    assert_eq!(presenter.name, "presenter");
    assert_eq!(
        presenter.subscribe_params.subscribe_to_roles,
        ["presenter", "guest", "viewer"]
    );
    assert_eq!(
        template.roles.keys().collect::<Vec<_>>(),
        ["presenter", "guest", "viewer"]
    );
    assert_eq!(
        template.roles["guest"].subscribe_params.subscribe_to_roles,
        ["presenter", "guest"]
    );

    let before = template.clone();
    let details = build::upsert_role(&mut template, "guest", role_params(json!({"name": "viewer"}))).unwrap_err();
    assert_eq!(details, [r#"name: a role named "viewer" already exists"#]);
    let details = build::upsert_role(
        &mut template,
        "guest",
        role_params(json!({"subscribeParams": {"subscribeToRoles": ["host"]}})),
    )
    .unwrap_err();
    assert_eq!(
        details,
        [r#"roles.guest.subscribeParams.subscribeToRoles names role "host", which does not exist in the template"#]
    );
    assert_eq!(template, before, "a refused upsert changes nothing");
}

#[test]
fn delete_role_removes_its_subscriptions() {
    let mut template = conferencing("conf".to_owned());
    assert!(build::delete_role(&mut template, "guest"));
    assert!(!build::delete_role(&mut template, "guest"));
    assert_eq!(template.roles.keys().collect::<Vec<_>>(), ["host"]);
    assert_eq!(template.roles["host"].subscribe_params.subscribe_to_roles, ["host"]);
}

#[test]
fn replacement_requires_roles_and_settings() {
    let current = conferencing("conf".to_owned());
    let details = build::replacement(params(json!({"name": "new"})), &current).unwrap_err();
    assert_eq!(details, ["roles is required", "settings is required"]);

    let replaced = build::replacement(params(json!({"roles": {"host": {}}, "settings": {}})), &current).unwrap();
    assert_eq!(replaced.name, "conf");
    assert_eq!(replaced.roles.keys().collect::<Vec<_>>(), ["host"]);
}

#[test]
fn secrets_survive_a_round_trip_through_responses() {
    let mut current = conferencing("conf".to_owned());
    build::replace_settings(&mut current, serde_json::from_value(with_bucket("s3cr3t")).unwrap()).unwrap();
    let secret = |body: &TemplateBody| body.settings.upload_credentials().unwrap().secret_key.clone();

    let mut upsert = params(json!({"roles": {"host": {}}, "settings": with_bucket("")}));
    build::carry_secrets(&mut upsert, &current);
    assert_eq!(secret(&build::new_body(upsert, "x".to_owned()).unwrap()), "s3cr3t");

    let replaced = build::replacement(
        params(json!({"roles": {"host": {}}, "settings": with_bucket("")})),
        &current,
    )
    .unwrap();
    assert_eq!(secret(&replaced), "s3cr3t");

    let mut settings: Settings = serde_json::from_value(with_bucket("")).unwrap();
    settings
        .recording
        .as_mut()
        .unwrap()
        .upload
        .as_mut()
        .unwrap()
        .credentials
        .as_mut()
        .unwrap()
        .key = "OTHER".to_owned();
    let details = build::replace_settings(&mut current, settings).unwrap_err();
    assert_eq!(details, ["settings.recording.upload.credentials.secretKey is required"]);
    assert_eq!(secret(&current), "s3cr3t");
}

#[test]
fn template_output_never_shows_the_secret() {
    let mut body = conferencing("conf".to_owned());
    build::replace_settings(&mut body, serde_json::from_value(with_bucket("s3cr3t")).unwrap()).unwrap();
    assert!(serde_json::to_string(&body).unwrap().contains("s3cr3t"));

    let now = Timestamp::from_unix_millis(1_663_329_820_068);
    let template = Template::new("6324661c4da877930beaecaa", "627cda54", "app", true, now, now, body);
    let output = serde_json::to_value(&template).unwrap();
    assert_eq!(
        output["settings"]["recording"]["upload"]["credentials"],
        json!({"key": "AKIA"})
    );
    assert_eq!(output["_id"], "6324661c4da877930beaecaa");
    assert_eq!(output["customer"], "627cda54");
    assert_eq!(output["createdAt"], "2022-09-16T12:03:40.068Z");
    assert!(output.get("plugins").is_none());
}

#[test]
fn exactly_one_recording_config_for_an_existing_role() {
    let mut template = conferencing("conf".to_owned());
    let configs: Vec<RecordingConfig> = serde_json::from_value(json!([
        {"name": "rec", "role": "ghost", "trackRecording": {"enabled": false}}
    ]))
    .unwrap();
    assert_eq!(
        build::replace_recordings(&mut template, configs).unwrap_err(),
        [r#"recordings[0].role names role "ghost", which does not exist in the template"#]
    );
    assert_eq!(
        build::replace_recordings(&mut template, Vec::new()).unwrap_err(),
        ["recordings must hold exactly one recording config, not 0"]
    );

    let configs: Vec<RecordingConfig> = serde_json::from_value(json!([
        {"name": "rec", "role": "host", "trackRecording": {"enabled": false},
         "compositeRecording": {"browserComposite": {"autoStart": true}}}
    ]))
    .unwrap();
    build::replace_recordings(&mut template, configs).unwrap();
    assert_eq!(
        serde_json::to_value(&template.recordings).unwrap(),
        json!([{"name": "rec", "role": "host", "trackRecording": {},
                "compositeRecording": {"browserComposite": {"autoStart": true}}}])
    );
}
