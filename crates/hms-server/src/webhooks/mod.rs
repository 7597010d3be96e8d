//! Webhook delivery from the durable event log.
//!
//! A planner turns logged events into deliveries — one per event and endpoint, in the
//! same transaction that marks the events planned — and a dispatcher sends them.
//! Deliveries of one room to one endpoint form a lane and go one at a time in event order; a failing
//! delivery holds back only its lane, and a slow endpoint only its own attempts (each
//! endpoint has a bounded number in flight). A delivery is marked delivered only after
//! a 2xx; one whose outcome was lost in a crash is sent again after its lease runs out,
//! with the same event id.

mod attempt;
mod schedule;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hms_auth::AppSecret;
use hms_store::{
    AttemptOutcome, DeliveryClaim, DeliveryRecord, NewDelivery, Store, StoreError, StoreResult, WorkspaceWebhook,
};
use hms_types::PreciseTime;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::config::WebhookConfig;
use attempt::Attempt;
pub use attempt::SIGNATURE_HEADER;
pub use schedule::retry_delay;

/// Events planned per transaction.
const PLAN_BATCH: u32 = 500;
/// How much longer than an attempt's time limit its lease lasts.
const LEASE_SLACK: Duration = Duration::from_secs(5);

pub struct Dispatcher {
    store: Arc<dyn Store>,
    config: WebhookConfig,
    http: reqwest::Client,
    in_flight: Mutex<HashMap<String, usize>>,
    metrics: Option<Arc<crate::metrics::Metrics>>,
}

impl Dispatcher {
    pub fn new(store: Arc<dyn Store>, config: WebhookConfig) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(config.timeout_ms))
            .connect_timeout(Duration::from_millis(config.timeout_ms))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("openhms-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the HTTP client builds");
        Self {
            store,
            config,
            http,
            in_flight: Mutex::default(),
            metrics: None,
        }
    }

    /// Counts the outcome of every attempt in `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<crate::metrics::Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Plans and sends until `shutdown` turns true, then lets the attempts in flight
    /// finish (within their time limit), so that a graceful stop sends nothing twice.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let poll = Duration::from_millis(self.config.poll_ms.max(10));
        let mut attempts = JoinSet::new();
        loop {
            while attempts.try_join_next().is_some() {}
            if let Err(error) = self.plan().await {
                tracing::warn!(%error, "could not plan webhook deliveries");
            }
            if let Err(error) = self.dispatch(&mut attempts).await {
                tracing::warn!(%error, "could not dispatch webhook deliveries");
            }
            tokio::select! {
                _ = tokio::time::sleep(poll) => {}
                _ = shutdown.changed() => break,
            }
        }
        let grace = Duration::from_millis(self.config.timeout_ms) + Duration::from_secs(1);
        let drained = tokio::time::timeout(grace, async { while attempts.join_next().await.is_some() {} }).await;
        if drained.is_err() {
            tracing::warn!("webhook attempts still in flight at shutdown will be sent again after a restart");
        }
    }

    /// Turns every event logged since the last call into deliveries.
    async fn plan(&self) -> StoreResult<()> {
        loop {
            let events = self.store.unplanned_events(PLAN_BATCH).await?;
            if events.is_empty() {
                return Ok(());
            }
            let mut endpoints = Endpoints::load(self.store.as_ref()).await?;
            let now = PreciseTime::now();
            let deadline = later(now, Duration::from_secs(self.config.retry_window_secs));
            let mut deliveries = Vec::new();
            for logged in &events {
                let event = &logged.event;
                if let Some((url, headers)) = endpoints.resolve(&event.workspace_id, &event.room_id).await? {
                    deliveries.push(NewDelivery {
                        event_seq: logged.seq,
                        workspace_id: event.workspace_id.clone(),
                        room_id: event.room_id.clone(),
                        url,
                        headers,
                        replay_id: None,
                        next_attempt_at: now,
                        deadline,
                        created_at: event.created_at,
                    });
                }
            }
            let planned: Vec<i64> = events.iter().map(|event| event.seq).collect();
            match self.store.plan_deliveries(&planned, &deliveries).await {
                Ok(()) | Err(StoreError::Stale) => {}
                Err(error) => return Err(error),
            }
            if events.len() < PLAN_BATCH as usize {
                return Ok(());
            }
        }
    }

    /// Starts an attempt for every due delivery there is room for.
    async fn dispatch(self: &Arc<Self>, attempts: &mut JoinSet<()>) -> StoreResult<()> {
        let (free, busy) = {
            let in_flight = self.in_flight.lock().expect("in-flight lock");
            let total: usize = in_flight.values().sum();
            let busy: Vec<String> = in_flight
                .iter()
                .filter(|(_, count)| **count >= self.config.per_endpoint_concurrency)
                .map(|(url, _)| url.clone())
                .collect();
            (self.config.max_in_flight.saturating_sub(total), busy)
        };
        if free == 0 {
            return Ok(());
        }
        let now = PreciseTime::now();
        let lease_until = later(now, Duration::from_millis(self.config.timeout_ms) + LEASE_SLACK);
        let per_url = u32::try_from(self.config.per_endpoint_concurrency).unwrap_or(u32::MAX);
        let claim = DeliveryClaim {
            now,
            lease_until,
            limit: free as u32,
            per_url,
            busy_urls: &busy,
        };
        let claimed = self.store.claim_deliveries(&claim).await?;
        if claimed.is_empty() {
            return Ok(());
        }
        let secrets = Endpoints::load(self.store.as_ref()).await?.secrets();
        let mut release = Vec::new();
        for delivery in claimed {
            if !self.take_slot(&delivery.url) {
                release.push(delivery.id);
                continue;
            }
            let secret = secrets.get(&delivery.event.workspace_id).cloned();
            let dispatcher = self.clone();
            attempts.spawn(async move { dispatcher.attempt(delivery, secret).await });
        }
        self.store.release_deliveries(&release).await
    }

    fn take_slot(&self, url: &str) -> bool {
        let mut in_flight = self.in_flight.lock().expect("in-flight lock");
        let count = in_flight.entry(url.to_owned()).or_default();
        if *count >= self.config.per_endpoint_concurrency {
            return false;
        }
        *count += 1;
        true
    }

    fn free_slot(&self, url: &str) {
        let mut in_flight = self.in_flight.lock().expect("in-flight lock");
        if let Some(count) = in_flight.get_mut(url) {
            *count -= 1;
            if *count == 0 {
                in_flight.remove(url);
            }
        }
    }

    async fn attempt(&self, delivery: DeliveryRecord, secret: Option<AppSecret>) {
        let outcome = match attempt::send(&self.http, &delivery, secret.as_ref()).await {
            Attempt::Delivered { status } => AttemptOutcome::Delivered { status },
            Attempt::Failed { status, reason } => {
                let failures = u32::try_from(delivery.attempts + 1).unwrap_or(u32::MAX);
                let next_attempt_at = later(PreciseTime::now(), retry_delay(&self.config, failures));
                if next_attempt_at > delivery.deadline {
                    tracing::warn!(event = %delivery.event.id, host = %host_of(&delivery.url), %reason,
                        "webhook delivery failed for good");
                    AttemptOutcome::GiveUp { status, error: reason }
                } else {
                    tracing::debug!(event = %delivery.event.id, host = %host_of(&delivery.url), %reason,
                        "webhook delivery will be retried");
                    AttemptOutcome::Retry {
                        status,
                        error: reason,
                        next_attempt_at,
                    }
                }
            }
        };
        if let Err(error) = self
            .store
            .finish_attempt(delivery.id, &outcome, PreciseTime::now())
            .await
        {
            // The lease runs out and the delivery is attempted again: a duplicate, never a loss.
            tracing::warn!(%error, event = %delivery.event.id, "could not record a webhook attempt");
        }
        // Counted once recorded, so that a scrape never sees an attempt the queue does not.
        if let Some(metrics) = &self.metrics {
            metrics.webhook_attempt(&outcome);
        }
        self.free_slot(&delivery.url);
    }
}

/// `time` plus `delay`.
pub fn later(time: PreciseTime, delay: Duration) -> PreciseTime {
    PreciseTime::from_unix_nanos(time.unix_nanos() + delay.as_nanos() as i128)
}

/// Only the host of an endpoint is logged: paths and queries may carry credentials.
fn host_of(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|url| url.host_str().map(str::to_owned))
        .unwrap_or_default()
}

/// An endpoint's URL and custom headers.
pub type Endpoint = (String, Vec<(String, String)>);

/// Where events go: a room's own webhook, else its workspace's.
pub struct Endpoints<'a> {
    store: &'a dyn Store,
    workspaces: HashMap<String, WorkspaceWebhook>,
    rooms: HashMap<String, Option<Endpoint>>,
}

impl<'a> Endpoints<'a> {
    pub async fn load(store: &'a dyn Store) -> StoreResult<Self> {
        let workspaces = store
            .workspace_webhooks()
            .await?
            .into_iter()
            .map(|hook| (hook.workspace_id.clone(), hook))
            .collect();
        Ok(Self {
            store,
            workspaces,
            rooms: HashMap::new(),
        })
    }

    /// The URL and custom headers for events of `room_id`, if any endpoint wants them.
    pub async fn resolve(&mut self, workspace_id: &str, room_id: &str) -> StoreResult<Option<Endpoint>> {
        if !self.rooms.contains_key(room_id) {
            let own = self
                .store
                .room(workspace_id, room_id)
                .await?
                .and_then(|view| view.room.options.webhook);
            let own = own.map(|hook| (hook.url, hook.headers.into_iter().collect()));
            self.rooms.insert(room_id.to_owned(), own);
        }
        if let Some(Some(own)) = self.rooms.get(room_id) {
            return Ok(Some(own.clone()));
        }
        Ok(self
            .workspaces
            .get(workspace_id)
            .map(|hook| (hook.url.clone(), hook.headers.clone())))
    }

    /// Signing secrets by workspace.
    pub fn secrets(self) -> HashMap<String, AppSecret> {
        self.workspaces
            .into_iter()
            .filter_map(|(id, hook)| hook.signing_secret.map(|secret| (id, secret)))
            .collect()
    }
}
