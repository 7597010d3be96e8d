//! Rooms: create (upsert by name), retrieve, list, update, enable and disable.

use std::borrow::Cow;

use hms_store::{RoomOptions, RoomRecord, RoomView, RoomViewRef, RoomWriter, Store, StoreError, Workspace};
use hms_types::Timestamp;
use hms_types::page;
use hms_types::room::{RecordingInfo, Room, RoomFilter, RoomParams, RoomRef, RoomWebhook};

use crate::ids;
use crate::retry::Retry;
use crate::service::webhooks::{self, WebhookError};

const REGIONS: [&str; 4] = ["in", "us", "eu", "auto"];
const UPLOAD_TYPES: [&str; 4] = ["s3", "gs", "oss", "azure"];
/// Not documented by 100ms; generous enough for generated UUIDs and slugs.
const MAX_NAME_LEN: usize = 200;
const MAX_DESCRIPTION_LEN: usize = 2000;
const MAX_SIZE: u32 = 20_000;
const MAX_SMALL_ROOM_SIZE: u32 = 2_500;
const MIN_DURATION_SECS: u32 = 120;
const MAX_DURATION_SECS: u32 = 43_200;

/// Why a room cannot be created, found or changed.
#[derive(Debug, thiserror::Error)]
pub enum RoomError {
    #[error("no room has this id or name")]
    NotFound,
    #[error("template not found")]
    TemplateNotFound,
    #[error("template is no longer accepted: use template_id")]
    LegacyTemplate,
    #[error("name must be 1 to {MAX_NAME_LEN} characters of a-z, A-Z, 0-9, '.', '-', ':' and '_'")]
    InvalidName,
    #[error("description is longer than {MAX_DESCRIPTION_LEN} characters")]
    DescriptionTooLong,
    #[error("region must be one of {}", REGIONS.join(", "))]
    UnsupportedRegion,
    #[error("max_duration_seconds less than {MIN_DURATION_SECS} seconds")]
    DurationTooShort,
    #[error("max_duration_seconds greater than {MAX_DURATION_SECS} seconds")]
    DurationTooLong,
    #[error("room size greater than {MAX_SIZE}")]
    TooLarge,
    #[error("room size greater than {MAX_SMALL_ROOM_SIZE}, set large_room flag as true")]
    TooLargeForSmallRoom,
    #[error("Bucket location is missing")]
    NoBucketLocation,
    #[error("upload_info.type must be one of {} and credentials need both key and secret", UPLOAD_TYPES.join(", "))]
    InvalidUpload,
    #[error("a room named {0} already exists")]
    NameTaken(String),
    #[error("the room kept changing; retry the request")]
    KeptChanging,
    #[error(transparent)]
    Webhook(#[from] WebhookError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

type RoomResult<T> = Result<T, RoomError>;

/// `POST /v2/rooms`: a room named like an existing one (in any case) updates that room.
pub async fn create(store: &dyn Store, workspace: &Workspace, params: RoomParams) -> RoomResult<Room> {
    refuse_legacy_template(&params)?;
    validate(&params)?;
    if let Some(name) = &params.name
        && let Some(existing) = store.room_by_name(&workspace.id, name).await?
    {
        return update_view(store, workspace, existing, params).await;
    }
    let template = match &params.template_id {
        Some(id) => store.template(&workspace.id, id).await?,
        None => store.default_template(&workspace.id).await?,
    }
    .ok_or(RoomError::TemplateNotFound)?;
    let now = Timestamp::now();
    let room = RoomRecord {
        id: ids::object_id(),
        workspace_id: workspace.id.clone(),
        name: params.name.clone().unwrap_or_else(ids::uuid),
        enabled: params.enabled.unwrap_or(true),
        description: params.description.clone().unwrap_or_default(),
        template_id: template.id.clone(),
        region: params
            .region
            .clone()
            .unwrap_or_else(|| template.body.settings.region.clone()),
        large_room: params.large_room.unwrap_or(false),
        options: RoomOptions {
            recording_info: params.recording_info.clone(),
            size: params.size,
            max_duration_seconds: params.max_duration_seconds,
            polls: params.polls.clone(),
            webhook: params.webhook.clone(),
        },
        created_at: now,
        updated_at: now,
    };
    check_size(&room)?;
    match store.insert_room(&room).await {
        Ok(()) => Ok(to_wire(
            workspace,
            RoomView {
                room,
                template: template.summary(),
            },
        )),
        // Someone created the same name meanwhile: this request becomes an update of it.
        Err(StoreError::Conflict(_)) => {
            let existing = store
                .room_by_name(&workspace.id, &room.name)
                .await?
                .ok_or(RoomError::NotFound)?;
            update_view(store, workspace, existing, params).await
        }
        Err(error) => Err(error.into()),
    }
}

/// `GET /v2/rooms/{id}`; a value that is no room id is tried as a room name.
pub async fn get(store: &dyn Store, workspace: &Workspace, id_or_name: &str) -> RoomResult<Room> {
    Ok(to_wire(workspace, find(store, workspace, id_or_name).await?))
}

async fn find(store: &dyn Store, workspace: &Workspace, id_or_name: &str) -> RoomResult<RoomView> {
    if let Some(view) = store.room(&workspace.id, id_or_name).await? {
        return Ok(view);
    }
    store
        .room_by_name(&workspace.id, id_or_name)
        .await?
        .ok_or(RoomError::NotFound)
}

/// `GET /v2/rooms`, as the JSON of its `Page<Room>`, written straight from the rows read.
/// Only enabled rooms unless `enabled` says otherwise, as documented; but a lookup by
/// `name` finds the room whatever its state, because the Node SDK's `retrieveByName`
/// sends the name alone.
pub async fn list_json(store: &dyn Store, workspace: &Workspace, mut filter: RoomFilter) -> RoomResult<Vec<u8>> {
    if filter.name.is_none() {
        filter.enabled.get_or_insert(true);
    }
    let request = super::page_request(filter.page());
    let mut out = Vec::with_capacity(PAGE_FIELDS_BYTES + ROOM_JSON_BYTES * request.limit as usize);
    page::json::head(&mut out, request.limit);
    // Copied once a page: the writer runs where the store reads, on another thread.
    let customer_id = workspace.customer_id.clone();
    let app_id = workspace.app_id.clone();
    let write: RoomWriter = Box::new(move |out, index, view| {
        page::json::item_separator(out, index);
        wire(&customer_id, &app_id, *view).write_json(out);
    });
    let written = store.write_rooms(&workspace.id, &filter, &request, out, write).await?;
    let mut out = written.out;
    page::json::tail(&mut out, &written.last_id);
    Ok(out)
}

/// What a room's JSON takes, about (some 500 bytes without options): a page's buffer is
/// sized for its rooms, so that it is not grown by copies.
const ROOM_JSON_BYTES: usize = 640;
/// A page's own fields around its rooms.
const PAGE_FIELDS_BYTES: usize = 128;

/// `POST /v2/rooms/{id}`: applies the given fields, enabling or disabling included.
pub async fn update(store: &dyn Store, workspace: &Workspace, id: &str, params: RoomParams) -> RoomResult<Room> {
    refuse_legacy_template(&params)?;
    validate(&params)?;
    let existing = store.room(&workspace.id, id).await?.ok_or(RoomError::NotFound)?;
    update_view(store, workspace, existing, params).await
}

/// Applies `params` to the room as read in `view` and writes it back, starting over from
/// what is there now when another request wrote the room in between: a change of one
/// field never undoes a concurrent change of another.
async fn update_view(store: &dyn Store, workspace: &Workspace, view: RoomView, params: RoomParams) -> RoomResult<Room> {
    let mut view = view;
    let mut retry = Retry::new();
    loop {
        let read_updated_at = view.room.updated_at;
        let updated = changed(store, workspace, view, params.clone()).await?;
        match store.update_room(&updated.room, read_updated_at).await {
            Ok(()) => return Ok(to_wire(workspace, updated)),
            Err(StoreError::Stale) => {
                if !retry.again().await {
                    return Err(RoomError::KeptChanging);
                }
                view = store
                    .room(&workspace.id, &updated.room.id)
                    .await?
                    .ok_or(RoomError::NotFound)?;
            }
            Err(StoreError::Conflict(_)) => return Err(RoomError::NameTaken(updated.room.name)),
            Err(StoreError::NotFound) => return Err(RoomError::NotFound),
            Err(other) => return Err(other.into()),
        }
    }
}

/// The room of `view` as `params` change it.
async fn changed(store: &dyn Store, workspace: &Workspace, view: RoomView, params: RoomParams) -> RoomResult<RoomView> {
    let read_updated_at = view.room.updated_at;
    let RoomView { mut room, mut template } = view;
    if let Some(template_id) = params.template_id.clone().filter(|id| *id != room.template_id) {
        let new_template = store
            .template(&workspace.id, &template_id)
            .await?
            .ok_or(RoomError::TemplateNotFound)?;
        template = new_template.summary();
        room.template_id = new_template.id;
    }
    apply(&mut room, params);
    // Later than the version read even within its millisecond: `updated_at` is how the
    // next writer tells that the room changed (see `Store::update_room`).
    let just_after_read = Timestamp::from_unix_millis(read_updated_at.unix_millis() + 1);
    room.updated_at = Timestamp::now().max(just_after_read);
    check_size(&room)?;
    Ok(RoomView { room, template })
}

fn apply(room: &mut RoomRecord, params: RoomParams) {
    let RoomParams {
        name,
        description,
        recording_info,
        region,
        large_room,
        size,
        max_duration_seconds,
        polls,
        webhook,
        enabled,
        template_id: _,
        template: _,
    } = params;
    set(&mut room.name, name);
    set(&mut room.description, description);
    set(&mut room.region, region);
    set(&mut room.large_room, large_room);
    set(&mut room.enabled, enabled);
    let options = &mut room.options;
    options.recording_info = recording_info.or(options.recording_info.take());
    options.size = size.or(options.size);
    options.max_duration_seconds = max_duration_seconds.or(options.max_duration_seconds);
    options.polls = polls.or(options.polls.take());
    options.webhook = webhook.or(options.webhook.take());
}

fn set<T>(field: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *field = value;
    }
}

fn refuse_legacy_template(params: &RoomParams) -> RoomResult<()> {
    match params.template {
        Some(_) => Err(RoomError::LegacyTemplate),
        None => Ok(()),
    }
}

fn validate(params: &RoomParams) -> RoomResult<()> {
    if let Some(name) = &params.name {
        validate_name(name)?;
    }
    if params
        .description
        .as_ref()
        .is_some_and(|d| d.chars().count() > MAX_DESCRIPTION_LEN)
    {
        return Err(RoomError::DescriptionTooLong);
    }
    if params
        .region
        .as_deref()
        .is_some_and(|region| !REGIONS.contains(&region))
    {
        return Err(RoomError::UnsupportedRegion);
    }
    if let Some(seconds) = params.max_duration_seconds {
        if seconds < MIN_DURATION_SECS {
            return Err(RoomError::DurationTooShort);
        }
        if seconds > MAX_DURATION_SECS {
            return Err(RoomError::DurationTooLong);
        }
    }
    if let Some(recording) = &params.recording_info {
        validate_recording(recording)?;
    }
    if let Some(webhook) = &params.webhook {
        validate_webhook(webhook)?;
    }
    Ok(())
}

fn validate_name(name: &str) -> RoomResult<()> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '_');
    if name.is_empty() || name.len() > MAX_NAME_LEN || !name.chars().all(allowed) {
        return Err(RoomError::InvalidName);
    }
    Ok(())
}

/// Sizes depend on `large_room`, which an update may leave as it was: checked on the
/// merged room.
fn check_size(room: &RoomRecord) -> RoomResult<()> {
    match room.options.size {
        Some(size) if size > MAX_SIZE => Err(RoomError::TooLarge),
        Some(size) if size > MAX_SMALL_ROOM_SIZE && !room.large_room => Err(RoomError::TooLargeForSmallRoom),
        _ => Ok(()),
    }
}

fn validate_recording(recording: &RecordingInfo) -> RoomResult<()> {
    let Some(upload) = &recording.upload_info else {
        return Ok(());
    };
    if upload.location.trim().is_empty() {
        return Err(RoomError::NoBucketLocation);
    }
    let bad_credentials = upload
        .credentials
        .as_ref()
        .is_some_and(|c| c.key.is_empty() || c.secret.is_empty());
    if !UPLOAD_TYPES.contains(&upload.kind.as_str()) || bad_credentials {
        return Err(RoomError::InvalidUpload);
    }
    Ok(())
}

fn validate_webhook(webhook: &RoomWebhook) -> RoomResult<()> {
    webhooks::validate_url(&webhook.url)?;
    Ok(webhooks::validate_headers(&webhook.headers)?)
}

/// The API form of a room, borrowed from `view`. A room without recording settings of
/// its own shows its template's; upload credentials are never sent back.
fn wire<'a>(customer_id: &'a str, app_id: &'a str, view: RoomViewRef<'a>) -> RoomRef<'a> {
    let options = view.options;
    let recording_info = match &options.recording_info {
        None => Cow::Owned(RecordingInfo {
            enabled: view.template_recording_enabled,
            upload_info: None,
        }),
        Some(own) if own.upload_info.as_ref().is_some_and(|u| u.credentials.is_some()) => {
            let mut shown = own.clone();
            if let Some(upload) = shown.upload_info.as_mut() {
                upload.credentials = None;
            }
            Cow::Owned(shown)
        }
        Some(own) => Cow::Borrowed(own),
    };
    RoomRef {
        id: view.id,
        name: view.name,
        enabled: view.enabled,
        description: view.description,
        customer_id,
        app_id,
        recording_source_template: options.recording_info.is_none(),
        recording_info,
        template_id: view.template_id,
        template: view.template_name,
        region: view.region,
        large_room: view.large_room,
        size: options.size,
        max_duration_seconds: options.max_duration_seconds,
        polls: options.polls.as_deref(),
        webhook: options.webhook.as_ref(),
        created_at: view.created_at,
        updated_at: view.updated_at,
    }
}

fn to_wire(workspace: &Workspace, view: RoomView) -> Room {
    wire(&workspace.customer_id, &workspace.app_id, view.borrowed()).to_room()
}
