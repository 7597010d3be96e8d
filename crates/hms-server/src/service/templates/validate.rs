//! The rules a template must follow, checked all at once: every problem becomes one
//! detail of the error envelope, naming its field path. They live with the other rules of
//! the API (see `service::rooms`), not with the wire types, which only describe shapes.

use std::fmt::Display;
use std::ops::RangeInclusive;

use hms_types::template::{
    Destinations, HlsDestination, HlsLayer, Plugins, PublishParams, RecordingConfig, RecordingUpload, Role, Settings,
    SimulcastLayer, SubscribeParams, TemplateBody, TranscriptionDestination, TranscriptionSummary, VideoParams,
};
use indexmap::IndexMap;

/// Validation details collected so far.
#[derive(Default)]
pub(super) struct Problems(Vec<String>);

impl Problems {
    pub(super) fn add(&mut self, detail: impl Into<String>) {
        self.0.push(detail.into());
    }

    pub(super) fn into_details(self) -> Vec<String> {
        self.0
    }

    pub(super) fn finish<T>(self, value: T) -> Result<T, Vec<String>> {
        if self.0.is_empty() { Ok(value) } else { Err(self.0) }
    }

    fn range<T: PartialOrd + Display>(&mut self, path: &str, value: Option<T>, limits: RangeInclusive<T>) {
        if let Some(value) = value
            && !limits.contains(&value)
        {
            self.add(format!(
                "{path} must be between {} and {}",
                limits.start(),
                limits.end()
            ));
        }
    }

    fn one_of(&mut self, path: &str, value: &str, allowed: &[&str]) {
        if !allowed.contains(&value) {
            self.add(format!("{path} must be one of {} (got {value:?})", allowed.join(", ")));
        }
    }

    /// The value when it is given and not empty; otherwise notes that it is required.
    fn required<'a>(&mut self, path: &str, value: Option<&'a str>) -> Option<&'a str> {
        let value = value.filter(|v| !v.is_empty());
        if value.is_none() {
            self.add(format!("{path} is required"));
        }
        value
    }

    fn at_most_chars(&mut self, path: &str, value: &str, max: usize) {
        if value.chars().count() > max {
            self.add(format!("{path} must be at most {max} characters"));
        }
    }
}

type Roles = IndexMap<String, Role>;

/// Checks a whole template. Recording configs are not checked: clients cannot see or fix
/// them through template updates.
pub(super) fn check_template(mut problems: Problems, body: TemplateBody) -> Result<TemplateBody, Vec<String>> {
    check_template_name(&mut problems, &body.name);
    for role in body.roles.values() {
        check_role(&mut problems, role, &body.roles);
    }
    check_settings(&mut problems, &body.settings);
    check_destinations(&mut problems, &body.destinations, &body.roles);
    if let Some(plugins) = &body.plugins {
        check_plugins(&mut problems, plugins);
    }
    problems.finish(body)
}

fn check_role_exists(problems: &mut Problems, path: &str, role: &str, roles: &Roles) {
    if !roles.contains_key(role) {
        problems.add(format!(
            "{path} names role {role:?}, which does not exist in the template"
        ));
    }
}

fn check_role_ref(problems: &mut Problems, path: &str, role: Option<&str>, roles: &Roles) {
    if let Some(role) = problems.required(path, role) {
        check_role_exists(problems, path, role, roles);
    }
}

fn check_template_name(problems: &mut Problems, name: &str) {
    let valid_char = |c: char| c.is_ascii_alphanumeric() || " -._:".contains(c);
    if !(1..=100).contains(&name.chars().count()) || !name.chars().all(valid_char) {
        problems.add(format!(
            "name {name:?} must be 1 to 100 characters of a-z, A-Z, 0-9, space, -, ., _ and :"
        ));
    }
}

pub(super) fn check_role(problems: &mut Problems, role: &Role, roles: &Roles) {
    let path = format!("roles.{}", role.name);
    let valid_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    if !(1..=100).contains(&role.name.chars().count()) || !role.name.chars().all(valid_char) {
        problems.add(format!(
            "{path}: role names must be 1 to 100 characters of a-z, A-Z, 0-9, _ and -"
        ));
    }
    check_publish(problems, &format!("{path}.publishParams"), &role.publish_params);
    check_subscribe(
        problems,
        &format!("{path}.subscribeParams"),
        &role.subscribe_params,
        roles,
    );
    problems.range(&format!("{path}.priority"), Some(role.priority), 1..=5);
    if role.max_peer_count < -1 {
        problems.add(format!("{path}.maxPeerCount must be -1, 0 or more"));
    }
}

fn check_publish(problems: &mut Problems, path: &str, params: &PublishParams) {
    for kind in &params.allowed {
        problems.one_of(
            &format!("{path}.allowed"),
            kind,
            &["audio", "video", "screen", "simulcast"],
        );
    }
    problems.range(&format!("{path}.audio.bitRate"), params.audio.bit_rate, 16..=128);
    if let Some(codec) = &params.audio.codec {
        problems.one_of(&format!("{path}.audio.codec"), codec, &["opus"]);
    }
    let video = format!("{path}.video");
    problems.range(&format!("{video}.bitRate"), params.video.bit_rate, 30..=2000);
    check_video(problems, &video, &params.video, 50..=1920, 50..=1080);
    let screen = format!("{path}.screen");
    if params.screen.bit_rate.is_some_and(|rate| rate < 500) {
        problems.add(format!("{screen}.bitRate must be at least 500"));
    }
    check_video(problems, &screen, &params.screen, 480..=1920, 270..=1080);
    if let Some(simulcast) = &params.simulcast {
        for (track, layers) in [("video", &simulcast.video), ("screen", &simulcast.screen)] {
            if let Some(layers) = layers {
                check_layers(problems, &format!("{path}.simulcast.{track}.layers"), &layers.layers);
            }
        }
    }
}

fn check_video(
    problems: &mut Problems,
    path: &str,
    video: &VideoParams,
    width: RangeInclusive<i64>,
    height: RangeInclusive<i64>,
) {
    if let Some(codec) = &video.codec {
        problems.one_of(&format!("{path}.codec"), codec, &["vp8"]);
    }
    problems.range(&format!("{path}.frameRate"), video.frame_rate, 1..=30);
    problems.range(&format!("{path}.width"), video.width, width);
    problems.range(&format!("{path}.height"), video.height, height);
}

/// Layers go from full resolution down: rids `f`, `h`, `q` in that order (a prefix or a
/// subsequence of it), each scaled down more than the one before.
fn check_layers(problems: &mut Problems, path: &str, layers: &[SimulcastLayer]) {
    const RIDS: [&str; 3] = ["f", "h", "q"];
    if layers.len() > RIDS.len() {
        problems.add(format!("{path} must have at most 3 layers"));
    }
    let mut previous: Option<&SimulcastLayer> = None;
    for (index, layer) in layers.iter().enumerate() {
        let at = format!("{path}[{index}]");
        problems.one_of(&format!("{at}.rid"), &layer.rid, &RIDS);
        let scale = Some(layer.scale_resolution_down_by);
        problems.range(&format!("{at}.scaleResolutionDownBy"), scale, 1.0..=12.0);
        problems.range(&format!("{at}.maxBitrate"), Some(layer.max_bitrate), 0..=2000);
        problems.range(&format!("{at}.maxFramerate"), Some(layer.max_framerate), 1..=30);
        let rid_known = RIDS.contains(&layer.rid.as_str());
        match previous {
            None => {
                if rid_known && layer.rid != "f" {
                    problems.add(format!("{at}.rid must be f in the first layer"));
                }
                if layer.scale_resolution_down_by != 1.0 {
                    problems.add(format!("{at}.scaleResolutionDownBy must be 1 in the first layer"));
                }
            }
            Some(previous) => {
                // "f" < "h" < "q" as strings, which is exactly the required order.
                if rid_known && layer.rid <= previous.rid {
                    problems.add(format!("{at}.rid must come after {:?} (order f, h, q)", previous.rid));
                }
                if layer.scale_resolution_down_by <= previous.scale_resolution_down_by {
                    problems.add(format!(
                        "{at}.scaleResolutionDownBy must be greater than the previous layer's"
                    ));
                }
            }
        }
        previous = Some(layer);
    }
}

fn check_subscribe(problems: &mut Problems, path: &str, params: &SubscribeParams, roles: &Roles) {
    let targets = format!("{path}.subscribeToRoles");
    for role in &params.subscribe_to_roles {
        check_role_exists(problems, &targets, role, roles);
    }
    if let Some(degradation) = &params.subscribe_degradation {
        let path = format!("{path}.subscribeDegradation");
        problems.range(
            &format!("{path}.packetLossThreshold"),
            Some(degradation.packet_loss_threshold),
            1..=100,
        );
        problems.range(
            &format!("{path}.degradeGracePeriodSeconds"),
            Some(degradation.degrade_grace_period_seconds),
            1..=10,
        );
        problems.range(
            &format!("{path}.recoverGracePeriodSeconds"),
            Some(degradation.recover_grace_period_seconds),
            1..=10,
        );
    }
}

pub(super) fn check_settings(problems: &mut Problems, settings: &Settings) {
    problems.one_of("settings.region", &settings.region, &["in", "us", "eu", "auto"]);
    let interval = settings.room_state.message_interval;
    if !(5..=3600).contains(&interval) || interval % 5 != 0 {
        problems.add("settings.roomState.messageInterval must be a multiple of 5 between 5 and 3600");
    }
    if let Some(upload) = settings.recording.as_ref().and_then(|r| r.upload.as_ref()) {
        check_upload(problems, upload);
    }
}

fn check_upload(problems: &mut Problems, upload: &RecordingUpload) {
    let path = "settings.recording.upload";
    let kind_path = format!("{path}.type");
    if let Some(kind) = problems.required(&kind_path, Some(&upload.kind)) {
        problems.one_of(&kind_path, kind, &["s3", "gs", "oss", "azure"]);
    }
    problems.required(&format!("{path}.location"), Some(&upload.location));
    if let Some(credentials) = &upload.credentials {
        problems.required(&format!("{path}.credentials.key"), Some(&credentials.key));
        problems.required(&format!("{path}.credentials.secretKey"), Some(&credentials.secret_key));
    }
}

pub(super) fn check_destinations(problems: &mut Problems, destinations: &Destinations, roles: &Roles) {
    for (key, rtmp) in destinations.rtmp_destinations.iter().flatten() {
        if rtmp.rtmp_urls.as_ref().is_some_and(|urls| urls.len() > 3) {
            problems.add(format!(
                "destinations.rtmpDestinations.{key}.rtmpUrls must hold at most 3 URLs"
            ));
        }
    }
    for (key, hls) in destinations.hls_destinations.iter().flatten() {
        check_hls(problems, &format!("destinations.hlsDestinations.{key}"), hls);
    }
    for (key, transcription) in destinations.transcriptions.iter().flatten() {
        let path = format!("destinations.transcriptions.{key}");
        check_transcription(problems, &path, transcription, roles);
    }
    for (key, recording) in destinations.browser_recordings.iter().flatten() {
        let path = format!("destinations.browserRecordings.{key}.role");
        check_role_ref(problems, &path, recording.role.as_deref(), roles);
    }
}

fn check_hls(problems: &mut Problems, path: &str, hls: &HlsDestination) {
    if let Some(kind) = &hls.playlist_type {
        problems.one_of(&format!("{path}.playlistType"), kind, &["event", "live"]);
    }
    let segments = format!("{path}.numPlaylistSegments");
    problems.range(&segments, hls.num_playlist_segments, 3..=150);
    let layers = hls.layers.as_deref().unwrap_or_default();
    check_hls_layers(problems, &format!("{path}.layers"), layers);
    if let Some(recording) = &hls.recording {
        let layers = recording.layers.as_deref().unwrap_or_default();
        check_hls_layers(problems, &format!("{path}.recording.layers"), layers);
    }
}

fn check_hls_layers(problems: &mut Problems, path: &str, layers: &[HlsLayer]) {
    for (index, layer) in layers.iter().enumerate() {
        let at = format!("{path}[{index}]");
        for (field, value) in [("width", layer.width), ("height", layer.height)] {
            if value.is_some_and(|v| v % 2 != 0) {
                problems.add(format!("{at}.{field} must be even"));
            }
        }
        if let (Some(width), Some(height)) = (layer.width, layer.height)
            && (!(144..=1080).contains(&width.min(height)) || !(192..=1920).contains(&width.max(height)))
        {
            problems.add(format!(
                "{at}: the shorter side must be 144 to 1080 px and the longer side 192 to 1920 px"
            ));
        }
    }
}

fn check_transcription(problems: &mut Problems, path: &str, transcription: &TranscriptionDestination, roles: &Roles) {
    check_role_ref(problems, &format!("{path}.role"), transcription.role.as_deref(), roles);
    for mode in transcription.modes.iter().flatten() {
        problems.one_of(&format!("{path}.modes"), mode, &["recorded", "live", "caption"]);
    }
    for mode in transcription.output_modes.iter().flatten() {
        problems.one_of(&format!("{path}.outputModes"), mode, &["txt", "srt", "json"]);
    }
    if let Some(summary) = &transcription.summary {
        check_summary(problems, &format!("{path}.summary"), summary);
    }
}

fn check_summary(problems: &mut Problems, path: &str, summary: &TranscriptionSummary) {
    if let Some(context) = &summary.context {
        problems.at_most_chars(&format!("{path}.context"), context, 300);
    }
    problems.range(&format!("{path}.temperature"), summary.temperature, 0.1..=1.0);
    let sections = summary.sections.as_deref().unwrap_or_default();
    if sections.len() > 6 {
        problems.add(format!("{path}.sections must hold at most 6 sections"));
    }
    for (index, section) in sections.iter().enumerate() {
        let at = format!("{path}.sections[{index}]");
        let title_path = format!("{at}.title");
        if let Some(title) = problems.required(&title_path, section.title.as_deref()) {
            problems.at_most_chars(&title_path, title, 100);
        }
        let format_path = format!("{at}.format");
        if let Some(format) = problems.required(&format_path, section.format.as_deref()) {
            problems.one_of(&format_path, format, &["bullets", "paragraph"]);
        }
    }
}

fn check_plugins(problems: &mut Problems, plugins: &Plugins) {
    let mode = plugins.transcriptions.as_ref().and_then(|t| t.mode.as_deref());
    if let Some(mode) = mode {
        problems.one_of("plugins.transcriptions.mode", mode, &["caption"]);
    }
}

pub(super) fn check_recording(problems: &mut Problems, path: &str, recording: &RecordingConfig, roles: &Roles) {
    problems.required(&format!("{path}.name"), Some(&recording.name));
    check_role_ref(problems, &format!("{path}.role"), Some(&recording.role), roles);
}
