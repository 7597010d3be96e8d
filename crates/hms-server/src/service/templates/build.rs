//! Building the template to store from what a client sent: defaults for what it left out,
//! names taken from their keys, renamed roles followed everywhere they are named, secrets
//! kept that responses never show. Every result is checked by [`super::validate`].

use hms_types::template::{
    AudioParams, Destinations, Permissions, Plugins, PublishParams, RecordingConfig, Role, RoleParams, Settings,
    SubscribeParams, TemplateBody, TemplateParams, VideoParams,
};
use indexmap::IndexMap;

use super::validate::{self, Problems};

/// The template to store for a create (or overwrite by name): defaults for everything
/// left out, `generated_name` when no name is given, no roles when none are given.
pub(super) fn new_body(params: TemplateParams, generated_name: String) -> Result<TemplateBody, Vec<String>> {
    let mut problems = Problems::default();
    let body = TemplateBody {
        name: params.name.unwrap_or(generated_name),
        roles: build_roles(&mut problems, params.roles.unwrap_or_default()),
        settings: params.settings.unwrap_or_default(),
        destinations: params.destinations.unwrap_or_default(),
        plugins: params.plugins,
        recordings: Vec::new(),
    };
    checked(body, problems)
}

/// The template replacing `current` (`POST /v2/templates/{id}`): `roles` and `settings`
/// are required; name, destinations and plugins stay when left out; recording configs,
/// which this body cannot carry, always stay.
pub(super) fn replacement(params: TemplateParams, current: &TemplateBody) -> Result<TemplateBody, Vec<String>> {
    let mut problems = Problems::default();
    if params.roles.is_none() {
        problems.add("roles is required");
    }
    if params.settings.is_none() {
        problems.add("settings is required");
    }
    let (Some(roles), Some(mut settings)) = (params.roles, params.settings) else {
        return Err(problems.into_details());
    };
    carry_settings_secrets(&mut settings, &current.settings);
    let body = TemplateBody {
        name: params.name.unwrap_or_else(|| current.name.clone()),
        roles: build_roles(&mut problems, roles),
        settings,
        destinations: params.destinations.unwrap_or_else(|| current.destinations.clone()),
        plugins: params.plugins.or_else(|| current.plugins.clone()),
        recordings: current.recordings.clone(),
    };
    checked(body, problems)
}

/// Before [`new_body`] overwrites `previous` (create with an existing name): keep its
/// storage secret when the credentials come back with the same key and no secret.
pub(super) fn carry_secrets(params: &mut TemplateParams, previous: &TemplateBody) {
    if let Some(settings) = &mut params.settings {
        carry_settings_secrets(settings, &previous.settings);
    }
}

/// Responses never show `secretKey`, so a client posting back what it fetched sends the
/// same `key` without it: that means "unchanged", not "remove the secret".
fn carry_settings_secrets(settings: &mut Settings, previous: &Settings) {
    let Some(old) = previous.upload_credentials() else {
        return;
    };
    if let Some(new) = settings.upload_credentials_mut()
        && new.secret_key.is_empty()
        && new.key == old.key
    {
        new.secret_key.clone_from(&old.secret_key);
    }
}

/// A video-conferencing template: `host` moderates, `guest` takes part; both publish
/// audio, video and screen and receive each other.
pub(crate) fn conferencing(name: String) -> TemplateBody {
    let names = ["host", "guest"].map(String::from);
    let mut host = into_role(RoleParams::default(), names[0].clone(), &names);
    host.permissions = Permissions {
        end_room: true,
        remove_others: true,
        mute: true,
        unmute: true,
        change_role: true,
        send_room_state: true,
        poll_read: true,
        poll_write: true,
        ..Permissions::default()
    };
    let mut guest = into_role(RoleParams::default(), names[1].clone(), &names);
    guest.permissions.poll_read = true;
    TemplateBody {
        name,
        roles: [host, guest]
            .into_iter()
            .map(|role| (role.name.clone(), role))
            .collect(),
        settings: Settings::default(),
        destinations: Destinations::default(),
        plugins: None,
        recordings: Vec::new(),
    }
}

/// `POST …/roles/{path_name}`: creates the role or replaces it whole (defaults for what
/// the body leaves out). A body `name` other than `path_name` renames the role, in place
/// and in every reference to it; that fails when the name is taken. Returns the role as
/// stored; on error nothing changes.
pub(super) fn upsert_role(body: &mut TemplateBody, path_name: &str, params: RoleParams) -> Result<Role, Vec<String>> {
    let name = params.name.clone().unwrap_or_else(|| path_name.to_owned());
    let renaming = name != path_name;
    if renaming && body.roles.contains_key(&name) {
        return Err(vec![format!("name: a role named {name:?} already exists")]);
    }
    let mut next = body.clone();
    let mut names: Vec<String> = next.roles.keys().cloned().collect();
    if !next.roles.contains_key(path_name) {
        names.push(path_name.to_owned());
    }
    let role = into_role(params, path_name.to_owned(), &names);
    next.roles.insert(path_name.to_owned(), role);
    if renaming {
        rename_role(&mut next, path_name, &name);
    }
    let mut problems = Problems::default();
    let role = &next.roles[&name];
    validate::check_role(&mut problems, role, &next.roles);
    let role = problems.finish(role.clone())?;
    *body = next;
    Ok(role)
}

/// Removes the role and every subscription or plugin permission naming it. Single
/// references (destinations, recording configs) are left for the client to fix, since
/// they cannot be dropped without dropping what holds them.
pub(super) fn delete_role(body: &mut TemplateBody, name: &str) -> bool {
    if body.roles.shift_remove(name).is_none() {
        return false;
    }
    for list in role_lists_mut(body) {
        list.retain(|role| role != name);
    }
    true
}

/// Keeps the current storage secret when the new credentials have the same key and no
/// secret, since responses never show it.
pub(super) fn replace_settings(body: &mut TemplateBody, mut settings: Settings) -> Result<(), Vec<String>> {
    carry_settings_secrets(&mut settings, &body.settings);
    let mut problems = Problems::default();
    validate::check_settings(&mut problems, &settings);
    body.settings = problems.finish(settings)?;
    Ok(())
}

pub(super) fn replace_destinations(body: &mut TemplateBody, mut destinations: Destinations) -> Result<(), Vec<String>> {
    let mut problems = Problems::default();
    fill_destination_names(&mut destinations, &mut problems);
    validate::check_destinations(&mut problems, &destinations, &body.roles);
    body.destinations = problems.finish(destinations)?;
    Ok(())
}

/// 100ms accepts exactly one recording config per template, for now.
pub(super) fn replace_recordings(body: &mut TemplateBody, recordings: Vec<RecordingConfig>) -> Result<(), Vec<String>> {
    let mut problems = Problems::default();
    if recordings.len() != 1 {
        problems.add(format!(
            "recordings must hold exactly one recording config, not {}",
            recordings.len()
        ));
    }
    for (index, recording) in recordings.iter().enumerate() {
        validate::check_recording(&mut problems, &format!("recordings[{index}]"), recording, &body.roles);
    }
    body.recordings = problems.finish(recordings)?;
    Ok(())
}

/// Fills destination names from their keys, then checks the whole template.
fn checked(mut body: TemplateBody, mut problems: Problems) -> Result<TemplateBody, Vec<String>> {
    fill_destination_names(&mut body.destinations, &mut problems);
    validate::check_template(problems, body)
}

/// The role named `name` in a template whose roles are `template_roles`.
fn into_role(params: RoleParams, name: String, template_roles: &[String]) -> Role {
    Role {
        name,
        publish_params: params.publish_params.map_or_else(publish_everything, publish_defaults),
        subscribe_params: params.subscribe_params.unwrap_or_else(|| SubscribeParams {
            subscribe_to_roles: template_roles.to_vec(),
            ..SubscribeParams::default()
        }),
        permissions: params.permissions.unwrap_or_default(),
        priority: params.priority.unwrap_or(1),
        max_peer_count: params.max_peer_count.unwrap_or(0),
    }
}

/// What a role publishes when its body says nothing about publishing.
fn publish_everything() -> PublishParams {
    publish_defaults(PublishParams {
        allowed: ["audio", "video", "screen"].map(String::from).to_vec(),
        ..PublishParams::default()
    })
}

/// Fills what was left out, except `allowed`: leaving that out means publishing nothing.
fn publish_defaults(params: PublishParams) -> PublishParams {
    let audio = AudioParams {
        bit_rate: params.audio.bit_rate.or(Some(32)),
        codec: params.audio.codec.or_else(|| Some("opus".to_owned())),
    };
    let video = video_or(
        params.video,
        VideoParams {
            bit_rate: Some(256),
            codec: Some("vp8".to_owned()),
            frame_rate: Some(25),
            width: Some(320),
            height: Some(180),
        },
    );
    let screen = video_or(
        params.screen,
        VideoParams {
            bit_rate: None,
            codec: Some("vp8".to_owned()),
            frame_rate: Some(10),
            width: Some(1280),
            height: Some(720),
        },
    );
    PublishParams {
        audio,
        video,
        screen,
        ..params
    }
}

fn video_or(video: VideoParams, fallback: VideoParams) -> VideoParams {
    VideoParams {
        bit_rate: video.bit_rate.or(fallback.bit_rate),
        codec: video.codec.or(fallback.codec),
        frame_rate: video.frame_rate.or(fallback.frame_rate),
        width: video.width.or(fallback.width),
        height: video.height.or(fallback.height),
    }
}

fn build_roles(problems: &mut Problems, mut params: IndexMap<String, RoleParams>) -> IndexMap<String, Role> {
    fill_names(problems, "roles", &mut params, |role| &mut role.name);
    let names: Vec<String> = params.keys().cloned().collect();
    params
        .into_iter()
        .map(|(name, role)| (name.clone(), into_role(role, name, &names)))
        .collect()
}

/// The caller has made sure that `to` is not taken.
fn rename_role(body: &mut TemplateBody, from: &str, to: &str) {
    if let Some(index) = body.roles.get_index_of(from)
        && body.roles.replace_index(index, to.to_owned()).is_ok()
    {
        body.roles[index].name = to.to_owned();
    }
    for list in role_lists_mut(body) {
        list.iter_mut()
            .filter(|role| *role == from)
            .for_each(|role| *role = to.to_owned());
    }
    for role in role_fields_mut(body) {
        if role == from {
            *role = to.to_owned();
        }
    }
}

/// Lists of role names: subscriptions and plugin permissions.
fn role_lists_mut(body: &mut TemplateBody) -> impl Iterator<Item = &mut Vec<String>> {
    let subscriptions = body
        .roles
        .values_mut()
        .map(|role| &mut role.subscribe_params.subscribe_to_roles);
    let plugins = body.plugins.iter_mut().flat_map(plugin_role_lists_mut);
    subscriptions.chain(plugins)
}

fn plugin_role_lists_mut(plugins: &mut Plugins) -> impl Iterator<Item = &mut Vec<String>> {
    let whiteboard = plugins.whiteboard.iter_mut().filter_map(|w| w.permissions.as_mut());
    let transcriptions = plugins.transcriptions.iter_mut().filter_map(|t| t.permissions.as_mut());
    whiteboard
        .chain(transcriptions)
        .flat_map(|p| [&mut p.admin, &mut p.writer, &mut p.reader])
        .flatten()
}

/// Single role names: the roles that transcribers and recorders join as.
fn role_fields_mut(body: &mut TemplateBody) -> impl Iterator<Item = &mut String> {
    let destinations = &mut body.destinations;
    let transcriptions = destinations
        .transcriptions
        .iter_mut()
        .flat_map(IndexMap::values_mut)
        .filter_map(|t| t.role.as_mut());
    let browser_recordings = destinations
        .browser_recordings
        .iter_mut()
        .flat_map(IndexMap::values_mut)
        .filter_map(|b| b.role.as_mut());
    let recordings = body.recordings.iter_mut().map(|r| &mut r.role);
    transcriptions.chain(browser_recordings).chain(recordings)
}

fn fill_destination_names(destinations: &mut Destinations, problems: &mut Problems) {
    let prefix = "destinations";
    if let Some(map) = &mut destinations.rtmp_destinations {
        fill_names(problems, &format!("{prefix}.rtmpDestinations"), map, |d| &mut d.name);
    }
    if let Some(map) = &mut destinations.hls_destinations {
        fill_names(problems, &format!("{prefix}.hlsDestinations"), map, |d| &mut d.name);
    }
    if let Some(map) = &mut destinations.transcriptions {
        fill_names(problems, &format!("{prefix}.transcriptions"), map, |d| &mut d.name);
    }
    if let Some(map) = &mut destinations.browser_recordings {
        fill_names(problems, &format!("{prefix}.browserRecordings"), map, |d| &mut d.name);
    }
}

/// Items of a name-keyed map repeat their name inside (`name_of`): it may be left out (it
/// is taken from the key) but must not contradict it.
fn fill_names<T>(
    problems: &mut Problems,
    path: &str,
    map: &mut IndexMap<String, T>,
    name_of: impl Fn(&mut T) -> &mut Option<String>,
) {
    for (key, item) in map.iter_mut() {
        let name = name_of(item);
        match name.as_deref() {
            None => *name = Some(key.clone()),
            Some(inner) if inner != key => {
                problems.add(format!("{path}.{key}.name must equal its key {key:?}"));
            }
            Some(_) => {}
        }
    }
}
