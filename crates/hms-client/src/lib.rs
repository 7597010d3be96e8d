//! A typed async client for the 100ms server-side REST API v2, for openhms and the hosted
//! 100ms alike.
//!
//! ```no_run
//! # async fn demo() -> Result<(), hms_client::Error> {
//! use hms_client::{Client, Credentials};
//! use hms_types::room::RoomParams;
//!
//! let client = Client::builder(Credentials::key_and_secret("my-access-key", "my-app-secret"))
//!     .base_url("http://127.0.0.1:8080/v2")
//!     .build()?;
//! let room = client
//!     .create_room(&RoomParams { name: Some("standup".into()), ..Default::default() })
//!     .await?;
//! println!("{}", room.id);
//! # Ok(()) }
//! ```
//!
//! Given an access key and secret, the client mints its own management tokens and renews
//! them before they expire or when the server answers 401; given a ready management
//! token, it uses that. Every operation of the catalogue ([`hms_api::OPERATIONS`]) can be
//! called by name with [`Client::execute`].

mod auth;
mod error;

pub use auth::Credentials;
pub use error::Error;

use std::sync::Arc;
use std::time::Duration;

use hms_api::{Auth, Body, Operation};
use hms_types::room::{Room, RoomParams};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use auth::Authenticator;

/// The hosted 100ms management API.
pub const HOSTED_BASE_URL: &str = "https://api.100ms.live/v2";
/// The hosted 100ms room-code exchange.
pub const HOSTED_TOKEN_URL: &str = "https://auth.100ms.live/v2/token";

/// The input of one operation: path parameters, query parameters and the body.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OperationInput {
    pub path: Map<String, Value>,
    pub query: Map<String, Value>,
    pub body: Option<Value>,
}

#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base_url: String,
    token_url: String,
    auth: Arc<Authenticator>,
}

pub struct ClientBuilder {
    credentials: Credentials,
    base_url: String,
    token_url: Option<String>,
    timeout: Duration,
}

impl ClientBuilder {
    /// The API's base URL, ending in `/v2` (default: the hosted 100ms).
    pub fn base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into().trim_end_matches('/').to_owned();
        self
    }

    /// The room-code exchange URL (default: `/v2/token` beside an openhms base URL, or
    /// the hosted 100ms exchange for the hosted API).
    pub fn token_url(mut self, token_url: impl Into<String>) -> Self {
        self.token_url = Some(token_url.into());
        self
    }

    /// Time limit of one request (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn build(self) -> Result<Client, Error> {
        let http = reqwest::Client::builder()
            .timeout(self.timeout)
            .user_agent(concat!("hms-client/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(Error::Transport)?;
        let token_url = self.token_url.unwrap_or_else(|| {
            if self.base_url == HOSTED_BASE_URL {
                HOSTED_TOKEN_URL.to_owned()
            } else {
                format!("{}/token", self.base_url)
            }
        });
        Ok(Client {
            http,
            base_url: self.base_url,
            token_url,
            auth: Arc::new(Authenticator::new(self.credentials)),
        })
    }
}

impl Client {
    pub fn builder(credentials: Credentials) -> ClientBuilder {
        ClientBuilder {
            credentials,
            base_url: HOSTED_BASE_URL.to_owned(),
            token_url: None,
            timeout: Duration::from_secs(30),
        }
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Calls any operation of the catalogue. Answers the response's JSON, or `None` for an
    /// operation that answers no content.
    pub async fn execute(&self, op: &Operation, input: &OperationInput) -> Result<Option<Value>, Error> {
        let url = self.url_of(op, &input.path)?;
        let body = match op.body {
            Body::None => None,
            Body::Fixed(fixed) => Some(fixed()),
            Body::Json(_) => Some(input.body.clone().unwrap_or_else(|| Value::Object(Map::new()))),
        };
        let query = query_pairs(&input.query);
        let response = self.send(op, &url, &query, body.as_ref(), false).await?;
        let response = match response.status().as_u16() {
            401 | 403 if op.auth == Auth::Management && self.auth.can_renew() => {
                self.auth.invalidate();
                self.send(op, &url, &query, body.as_ref(), true).await?
            }
            _ => response,
        };
        read_response(response).await
    }

    async fn send(
        &self,
        op: &Operation,
        url: &str,
        query: &[(String, String)],
        body: Option<&Value>,
        renewed: bool,
    ) -> Result<reqwest::Response, Error> {
        let method = reqwest::Method::from_bytes(op.method.as_str().as_bytes()).expect("catalogue methods are valid");
        let mut request = self.http.request(method, url).header("Accept", "application/json");
        if !query.is_empty() {
            request = request.query(query);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        if op.auth == Auth::Management {
            request = request.bearer_auth(self.auth.token(renewed)?);
        }
        request.send().await.map_err(Error::Transport)
    }

    fn url_of(&self, op: &Operation, path: &Map<String, Value>) -> Result<String, Error> {
        let filled = op.fill_path(path).map_err(Error::Input)?;
        if op.auth == Auth::None && op.path == "/v2/token" {
            return Ok(self.token_url.clone());
        }
        let relative = filled.strip_prefix("/v2").unwrap_or(&filled);
        Ok(format!("{}{relative}", self.base_url))
    }

    /// Calls the operation `name` with typed input and output.
    async fn call<T: DeserializeOwned>(
        &self,
        name: &str,
        path: &[(&str, &str)],
        query: Option<&impl Serialize>,
        body: Option<&impl Serialize>,
    ) -> Result<T, Error> {
        let op = hms_api::find(name).expect("the client calls catalogue operations only");
        let input = OperationInput {
            path: path.iter().map(|(k, v)| ((*k).to_owned(), Value::from(*v))).collect(),
            query: match query {
                Some(query) => to_object(query)?,
                None => Map::new(),
            },
            body: body
                .map(serde_json::to_value)
                .transpose()
                .map_err(|e| Error::Input(e.to_string()))?,
        };
        let value = self.execute(op, &input).await?.unwrap_or(Value::Null);
        serde_json::from_value(value).map_err(|e| Error::Decode(e.to_string()))
    }

    /// `POST /v2/rooms`: creates a room, or updates the room of the same name.
    pub async fn create_room(&self, params: &RoomParams) -> Result<Room, Error> {
        self.call("create-room", &[], None::<&()>, Some(params)).await
    }

    /// `GET /v2/rooms/{room_id}`.
    pub async fn get_room(&self, room_id: &str) -> Result<Room, Error> {
        self.call("get-room", &[("room_id", room_id)], None::<&()>, None::<&()>)
            .await
    }
}

fn to_object(value: &impl Serialize) -> Result<Map<String, Value>, Error> {
    match serde_json::to_value(value).map_err(|e| Error::Input(e.to_string()))? {
        Value::Object(map) => Ok(map),
        Value::Null => Ok(Map::new()),
        other => Err(Error::Input(format!("query must be an object, not {other}"))),
    }
}

/// Query values as the server reads them: arrays become repeated keys, nulls are left out.
fn query_pairs(query: &Map<String, Value>) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    for (key, value) in query {
        match value {
            Value::Null => {}
            Value::String(text) => pairs.push((key.clone(), text.clone())),
            Value::Array(items) => pairs.extend(
                items
                    .iter()
                    .map(|item| (key.clone(), item.as_str().map_or(item.to_string(), str::to_owned))),
            ),
            other => pairs.push((key.clone(), other.to_string())),
        }
    }
    pairs
}

async fn read_response(response: reqwest::Response) -> Result<Option<Value>, Error> {
    let status = response.status();
    let bytes = response.bytes().await.map_err(Error::Transport)?;
    if status.is_success() {
        if bytes.is_empty() {
            return Ok(None);
        }
        return serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Error::Decode(e.to_string()));
    }
    Err(Error::from_response(status.as_u16(), &bytes))
}
