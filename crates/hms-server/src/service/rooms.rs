//! Rooms: create (upsert by name), retrieve, list, update, enable and disable.

use hms_store::{RoomOptions, RoomRecord, RoomView, Store, StoreError, Workspace};
use hms_types::room::{RecordingInfo, Room, RoomFilter, RoomParams, RoomWebhook};
use hms_types::{Page, Timestamp};

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

/// `GET /v2/rooms`. Only enabled rooms unless `enabled` says otherwise, as documented;
/// but a lookup by `name` finds the room whatever its state, because the Node SDK's
/// `retrieveByName` sends the name alone.
pub async fn list(store: &dyn Store, workspace: &Workspace, mut filter: RoomFilter) -> RoomResult<Page<Room>> {
    if filter.name.is_none() {
        filter.enabled.get_or_insert(true);
    }
    let request = super::page_request(filter.page());
    let views = store.rooms(&workspace.id, &filter, &request).await?;
    let data: Vec<Room> = views.into_iter().map(|view| to_wire(workspace, view)).collect();
    Ok(super::page(&request, data, |room| room.id.as_str()))
}

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

/// The API form of a room, made of the room's own strings rather than copies of them: a
/// list makes a hundred. Upload credentials are never sent back.
fn to_wire(workspace: &Workspace, view: RoomView) -> Room {
    let RoomView { room, template } = view;
    let RoomOptions {
        recording_info,
        size,
        max_duration_seconds,
        polls,
        webhook,
    } = room.options;
    let own_recording = recording_info.map(|mut info| {
        if let Some(upload) = info.upload_info.as_mut() {
            upload.credentials = None;
        }
        info
    });
    let recording_source_template = own_recording.is_none();
    let recording_info = own_recording.unwrap_or(RecordingInfo {
        enabled: template.recording_enabled,
        upload_info: None,
    });
    Room {
        id: room.id,
        name: room.name,
        enabled: room.enabled,
        description: room.description,
        customer_id: workspace.customer_id.clone(),
        customer: workspace.customer_id.clone(),
        app_id: workspace.app_id.clone(),
        recording_source_template,
        recording_info: Some(recording_info),
        template_id: room.template_id,
        template: template.name,
        region: room.region,
        large_room: room.large_room,
        size,
        max_duration_seconds,
        polls,
        webhook,
        created_at: room.created_at,
        updated_at: room.updated_at,
    }
}
