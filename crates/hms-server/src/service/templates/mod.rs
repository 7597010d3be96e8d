//! Templates (policies), their roles, settings, destinations and recording configs.

mod build;
#[cfg(test)]
mod tests;
mod validate;

pub(crate) use build::conferencing;

use std::sync::LazyLock;

use hms_store::{Store, StoreError, TemplateRecord, Workspace};
use hms_types::template::{
    Destinations, RecordingConfig, Role, RoleParams, Settings, Template, TemplateBody, TemplateParams,
};
use hms_types::{Page, PageQuery, Timestamp};

use crate::ids;
use crate::keyed_lock::KeyedLocks;
use crate::retry::Retry;

/// Within one server, writers of a template queue here, so that the retries of
/// [`Retry`] only happen when several servers write the same template.
static WRITERS: LazyLock<KeyedLocks> = LazyLock::new(KeyedLocks::default);

/// Why a template, or a part of it, cannot be found or changed.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("no template has this id")]
    NotFound,
    #[error("the template has no such role")]
    RoleNotFound,
    /// What is wrong with the body, one line per problem.
    #[error("{}", .0.join("; "))]
    Invalid(Vec<String>),
    #[error("a template named {0} already exists")]
    NameTaken(String),
    #[error("the template kept changing; retry the request")]
    KeptChanging,
    #[error(transparent)]
    Store(#[from] StoreError),
}

type TemplateResult<T> = Result<T, TemplateError>;

/// `POST /v2/templates`: a template named like an existing one overwrites it, keeping
/// its id, since rooms point at templates by id.
pub async fn create(store: &dyn Store, workspace: &Workspace, params: TemplateParams) -> TemplateResult<Template> {
    let name = params
        .name
        .clone()
        .unwrap_or_else(|| format!("template-{}", ids::uuid()));
    let mut retry = Retry::new();
    loop {
        let existing = store.template_by_name(&workspace.id, &name).await?;
        let mut params = params.clone();
        if let Some(existing) = &existing {
            build::carry_secrets(&mut params, &existing.body);
        }
        let mut body = build::new_body(params, name.clone()).map_err(TemplateError::Invalid)?;
        let outcome = match existing {
            Some(existing) => {
                body.recordings = existing.body.recordings.clone();
                write(store, existing, body).await
            }
            None => insert(store, workspace, body).await,
        };
        match outcome {
            // Someone changed or created the same name meanwhile: start over.
            Err(StoreError::Stale | StoreError::Conflict(_)) => {
                if !retry.again().await {
                    return Err(TemplateError::KeptChanging);
                }
            }
            other => {
                return other
                    .map(|record| to_wire(workspace, &record))
                    .map_err(|e| map_write_error(e, &name));
            }
        }
    }
}

async fn insert(store: &dyn Store, workspace: &Workspace, body: TemplateBody) -> Result<TemplateRecord, StoreError> {
    let now = Timestamp::now();
    let record = TemplateRecord {
        id: ids::object_id(),
        workspace_id: workspace.id.clone(),
        is_default: false,
        body,
        revision: 1,
        created_at: now,
        updated_at: now,
    };
    store.insert_template(&record).await?;
    Ok(record)
}

pub async fn list(store: &dyn Store, workspace: &Workspace, page: PageQuery) -> TemplateResult<Page<Template>> {
    let request = super::page_request(page);
    let records = store.templates(&workspace.id, &request).await?;
    let data: Vec<Template> = records.iter().map(|record| to_wire(workspace, record)).collect();
    Ok(super::page(&request, data, |template| template.id.as_str()))
}

pub async fn get(store: &dyn Store, workspace: &Workspace, id: &str) -> TemplateResult<Template> {
    Ok(to_wire(workspace, &record(store, workspace, id).await?))
}

/// `POST /v2/templates/{id}`: the body replaces the whole template.
pub async fn replace(
    store: &dyn Store,
    workspace: &Workspace,
    id: &str,
    params: TemplateParams,
) -> TemplateResult<Template> {
    let (_, record) = modify(store, workspace, id, |body| {
        *body = build::replacement(params.clone(), body).map_err(TemplateError::Invalid)?;
        Ok(())
    })
    .await?;
    Ok(to_wire(workspace, &record))
}

pub async fn role(store: &dyn Store, workspace: &Workspace, id: &str, role: &str) -> TemplateResult<Role> {
    let template = get(store, workspace, id).await?;
    template.roles.get(role).cloned().ok_or(TemplateError::RoleNotFound)
}

/// `POST /v2/templates/{id}/roles/{role}`: creates the role or replaces it whole.
pub async fn upsert_role(
    store: &dyn Store,
    workspace: &Workspace,
    id: &str,
    role: &str,
    params: RoleParams,
) -> TemplateResult<Role> {
    let (role, _) = modify(store, workspace, id, |body| {
        build::upsert_role(body, role, params.clone()).map_err(TemplateError::Invalid)
    })
    .await?;
    Ok(role)
}

/// `DELETE /v2/templates/{id}/roles/{role}`. Codes of the role stop working at once,
/// since the exchange checks that the role still exists; the next create-codes call
/// disables them.
pub async fn delete_role(store: &dyn Store, workspace: &Workspace, id: &str, role: &str) -> TemplateResult<()> {
    modify(store, workspace, id, |body| {
        if build::delete_role(body, role) {
            Ok(())
        } else {
            Err(TemplateError::RoleNotFound)
        }
    })
    .await?;
    Ok(())
}

pub async fn settings(store: &dyn Store, workspace: &Workspace, id: &str) -> TemplateResult<Settings> {
    Ok(record(store, workspace, id).await?.body.settings.redacted())
}

pub async fn replace_settings(
    store: &dyn Store,
    workspace: &Workspace,
    id: &str,
    settings: Settings,
) -> TemplateResult<Settings> {
    let record = replace_part(store, workspace, id, settings, build::replace_settings).await?;
    Ok(record.body.settings.redacted())
}

pub async fn destinations(store: &dyn Store, workspace: &Workspace, id: &str) -> TemplateResult<Destinations> {
    Ok(get(store, workspace, id).await?.destinations)
}

pub async fn replace_destinations(
    store: &dyn Store,
    workspace: &Workspace,
    id: &str,
    destinations: Destinations,
) -> TemplateResult<Destinations> {
    let record = replace_part(store, workspace, id, destinations, build::replace_destinations).await?;
    Ok(to_wire(workspace, &record).destinations)
}

pub async fn recordings(store: &dyn Store, workspace: &Workspace, id: &str) -> TemplateResult<Vec<RecordingConfig>> {
    Ok(record(store, workspace, id).await?.body.recordings)
}

pub async fn replace_recordings(
    store: &dyn Store,
    workspace: &Workspace,
    id: &str,
    recordings: Vec<RecordingConfig>,
) -> TemplateResult<Vec<RecordingConfig>> {
    let record = replace_part(store, workspace, id, recordings, build::replace_recordings).await?;
    Ok(record.body.recordings)
}

/// Replaces one part of the template with `part`, as `replace` checks and sets it, and
/// answers the template as written.
async fn replace_part<T: Clone>(
    store: &dyn Store,
    workspace: &Workspace,
    id: &str,
    part: T,
    replace: fn(&mut TemplateBody, T) -> Result<(), Vec<String>>,
) -> TemplateResult<TemplateRecord> {
    let (_, record) = modify(store, workspace, id, |body| {
        replace(body, part.clone()).map_err(TemplateError::Invalid)
    })
    .await?;
    Ok(record)
}

async fn record(store: &dyn Store, workspace: &Workspace, id: &str) -> TemplateResult<TemplateRecord> {
    store.template(&workspace.id, id).await?.ok_or(TemplateError::NotFound)
}

/// Applies `change` to the stored template and writes it back, starting over when
/// another request changed the template in between.
async fn modify<R>(
    store: &dyn Store,
    workspace: &Workspace,
    id: &str,
    mut change: impl FnMut(&mut TemplateBody) -> TemplateResult<R>,
) -> TemplateResult<(R, TemplateRecord)> {
    let _writer = WRITERS.lock(&format!("{}/{id}", workspace.id)).await;
    let mut retry = Retry::new();
    loop {
        let current = record(store, workspace, id).await?;
        let mut body = current.body.clone();
        let result = change(&mut body)?;
        let name = body.name.clone();
        match write(store, current, body).await {
            Ok(record) => return Ok((result, record)),
            Err(StoreError::Stale) => {
                if !retry.again().await {
                    return Err(TemplateError::KeptChanging);
                }
            }
            Err(error) => return Err(map_write_error(error, &name)),
        }
    }
}

async fn write(store: &dyn Store, current: TemplateRecord, body: TemplateBody) -> Result<TemplateRecord, StoreError> {
    let expected = current.revision;
    let record = TemplateRecord {
        body,
        revision: expected + 1,
        updated_at: Timestamp::now(),
        ..current
    };
    store.replace_template(&record, expected).await?;
    Ok(record)
}

fn map_write_error(error: StoreError, name: &str) -> TemplateError {
    match error {
        StoreError::Conflict(_) => TemplateError::NameTaken(name.to_owned()),
        StoreError::NotFound => TemplateError::NotFound,
        other => other.into(),
    }
}

fn to_wire(workspace: &Workspace, record: &TemplateRecord) -> Template {
    Template::new(
        record.id.clone(),
        workspace.customer_id.clone(),
        workspace.app_id.clone(),
        record.is_default,
        record.created_at,
        record.updated_at,
        record.body.clone(),
    )
}
