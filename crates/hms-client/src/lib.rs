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
//! let codes = client.create_room_codes(&room.id).await?;
//! println!("{} has {} room codes", room.name, codes.data.len());
//! # Ok(()) }
//! ```
//!
//! # Credentials
//!
//! Given an access key and secret ([`Credentials::key_and_secret`]), the client mints its
//! own management tokens (valid 24 hours), renews them a minute before they expire, and when
//! the server answers 401 or 403 mints a fresh one and retries the call once, as the
//! official Node SDK does. Given a ready management token ([`Credentials::token`]), it
//! sends that token as it is and never retries.
//!
//! # Operations
//!
//! Every operation of the catalogue ([`hms_api::OPERATIONS`]) except aliases has a typed
//! method named after it in snake case: `create-room-codes` is
//! [`Client::create_room_codes`], `end-active-room` is [`Client::end_active_room`]. List
//! operations that page also have a `…_stream` method, an async [`Stream`] of every item
//! that follows the `last` cursor page after page:
//!
//! ```no_run
//! # async fn demo(client: hms_client::Client) -> Result<(), hms_client::Error> {
//! use futures::TryStreamExt;
//! use hms_types::room::RoomFilter;
//!
//! let rooms: Vec<_> = client.list_rooms_stream(&RoomFilter::default()).try_collect().await?;
//! # Ok(()) }
//! ```
//!
//! Any operation can also be called by its catalogue entry with untyped JSON, which is how
//! the `hms` CLI reaches operations as soon as they are added: [`Client::execute`] and
//! [`Client::execute_pages`].
//!
//! # Errors
//!
//! A refusal of the server is [`Error::Api`], holding the HTTP status and the server's
//! error envelope (`code`, `message`, `details`).

mod auth;
mod error;
mod operations;

pub use auth::Credentials;
pub use error::Error;
pub use futures::Stream;

use std::sync::Arc;
use std::time::Duration;

use futures::future::Either;
use futures::{StreamExt, TryStreamExt};
use hms_api::{Auth, Body, Operation};
use hms_types::Page;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use auth::Authenticator;

/// The hosted 100ms management API.
pub const HOSTED_BASE_URL: &str = "https://api.100ms.live/v2";
/// The hosted 100ms room-code exchange.
pub const HOSTED_TOKEN_URL: &str = "https://auth.100ms.live/v2/token";

/// Page size the API applies when a request gives none.
const DEFAULT_PAGE_LIMIT: u64 = 10;

/// The input of one call, defined with the catalogue so that the server's MCP endpoint
/// shares it without depending on this crate.
pub use hms_api::OperationInput;

/// A client of one 100ms-compatible API. Cheap to clone: clones share the connection pool
/// and the minted management token.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base_url: String,
    token_url: String,
    auth: Arc<Authenticator>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.base_url)
            .field("token_url", &self.token_url)
            .finish_non_exhaustive()
    }
}

/// Configures a [`Client`]; made by [`Client::builder`].
pub struct ClientBuilder {
    credentials: Credentials,
    base_url: String,
    token_url: Option<String>,
    timeout: Duration,
}

impl ClientBuilder {
    /// The API's base URL, ending in `/v2` (default: the hosted 100ms,
    /// [`HOSTED_BASE_URL`]).
    pub fn base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into().trim_end_matches('/').to_owned();
        self
    }

    /// The room-code exchange URL (default: `/v2/token` beside an openhms base URL, or
    /// the hosted 100ms exchange, [`HOSTED_TOKEN_URL`], for the hosted API).
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
    /// Starts configuring a client that authenticates with `credentials`.
    ///
    /// ```no_run
    /// # fn demo() -> Result<(), hms_client::Error> {
    /// use hms_client::{Client, Credentials};
    ///
    /// // The hosted 100ms, with a ready management token:
    /// let hosted = Client::builder(Credentials::token("eyJhbGciOiJIUzI1NiIs…")).build()?;
    /// // An openhms server, minting tokens from the workspace's key and secret:
    /// let local = Client::builder(Credentials::key_and_secret("access-key", "app-secret"))
    ///     .base_url("http://127.0.0.1:8080/v2")
    ///     .build()?;
    /// # Ok(()) }
    /// ```
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

    /// The URL the room-code exchange is sent to.
    pub fn token_url(&self) -> &str {
        &self.token_url
    }

    /// The management token the next call would send: the ready token, or the one minted
    /// from the key and secret (minting one if none is current).
    pub fn management_token(&self) -> Result<String, Error> {
        self.auth.token(false)
    }

    /// Calls any operation of the catalogue. Answers the response's JSON, or `None` for an
    /// operation that answers no content.
    ///
    /// ```no_run
    /// # async fn demo(client: hms_client::Client) -> Result<(), hms_client::Error> {
    /// use hms_client::OperationInput;
    /// use serde_json::json;
    ///
    /// let op = hms_api::find("get-room").expect("a catalogue operation");
    /// let input = OperationInput {
    ///     path: json!({"room_id": "631b2654f771854d9bf633df"}).as_object().unwrap().clone(),
    ///     ..Default::default()
    /// };
    /// let room = client.execute(op, &input).await?;
    /// # Ok(()) }
    /// ```
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

    /// Calls a paginated operation page after page: the first page with `input`, then
    /// each next one with `start` set to the previous page's `last`, until a page is empty
    /// or shorter than its `limit`, or has no `last`. Yields each page's JSON as the server
    /// answered it.
    ///
    /// ```no_run
    /// # async fn demo(client: hms_client::Client) -> Result<(), hms_client::Error> {
    /// use futures::TryStreamExt;
    ///
    /// let op = hms_api::find("list-rooms").expect("a catalogue operation");
    /// let pages: Vec<_> = client.execute_pages(op, Default::default()).try_collect().await?;
    /// # Ok(()) }
    /// ```
    pub fn execute_pages(
        &self,
        op: &Operation,
        input: OperationInput,
    ) -> impl Stream<Item = Result<Value, Error>> + Send + use<> {
        let client = self.clone();
        let op = *op;
        futures::stream::try_unfold(Some(input), move |state| {
            let client = client.clone();
            async move {
                let Some(input) = state else { return Ok(None) };
                let page = client.execute(&op, &input).await?.unwrap_or(Value::Null);
                let next = next_page(input, &page);
                Ok(Some((page, next)))
            }
        })
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

    /// Calls the operation whose snake-case name is `method`, with typed input and output.
    async fn call<T, Q, B>(
        &self,
        method: &str,
        path: &[(&str, &str)],
        query: Option<&Q>,
        body: Option<&B>,
    ) -> Result<T, Error>
    where
        T: DeserializeOwned,
        Q: Serialize + ?Sized,
        B: Serialize + ?Sized,
    {
        let input = typed_input(path, query, body)?;
        let value = self.execute(operation(method), &input).await?.unwrap_or(Value::Null);
        serde_json::from_value(value).map_err(|e| Error::Decode(e.to_string()))
    }

    /// Every item of the paginated operation whose snake-case name is `method`.
    fn items<T, Q>(
        &self,
        method: &str,
        path: &[(&str, &str)],
        query: Option<&Q>,
    ) -> futures::stream::BoxStream<'static, Result<T, Error>>
    where
        T: DeserializeOwned + Send + 'static,
        Q: Serialize + ?Sized,
    {
        let pages = match typed_input(path, query, None::<&()>) {
            Ok(input) => Either::Left(self.execute_pages(operation(method), input)),
            Err(error) => Either::Right(futures::stream::once(std::future::ready(Err(error)))),
        };
        pages
            .and_then(|page| {
                std::future::ready(serde_json::from_value::<Page<T>>(page).map_err(|e| Error::Decode(e.to_string())))
            })
            .map_ok(|page| futures::stream::iter(page.data.into_iter().map(Ok)))
            .try_flatten()
            .boxed()
    }
}

/// The non-alias operation whose name in snake case is `method`.
fn operation(method: &str) -> &'static Operation {
    hms_api::OPERATIONS
        .iter()
        .filter(|op| op.alias_of.is_none())
        .find(|op| snake_case_equals(op.name, method))
        .unwrap_or_else(|| panic!("`{method}` names no operation of the catalogue"))
}

/// Whether the kebab-case `name` is `snake` in snake case.
fn snake_case_equals(name: &str, snake: &str) -> bool {
    name.len() == snake.len()
        && name
            .bytes()
            .zip(snake.bytes())
            .all(|(a, b)| a == b || (a == b'-' && b == b'_'))
}

fn typed_input<Q, B>(path: &[(&str, &str)], query: Option<&Q>, body: Option<&B>) -> Result<OperationInput, Error>
where
    Q: Serialize + ?Sized,
    B: Serialize + ?Sized,
{
    Ok(OperationInput {
        path: path.iter().map(|(k, v)| ((*k).to_owned(), Value::from(*v))).collect(),
        query: match query {
            Some(query) => to_object(query)?,
            None => Map::new(),
        },
        body: body
            .map(serde_json::to_value)
            .transpose()
            .map_err(|e| Error::Input(e.to_string()))?,
    })
}

/// The input of the page after `page`, or `None` when `page` was the last one.
fn next_page(mut input: OperationInput, page: &Value) -> Option<OperationInput> {
    let data = page.get("data").and_then(Value::as_array).map_or(0, Vec::len) as u64;
    let last = page.get("last").and_then(Value::as_str).unwrap_or("");
    let limit = page
        .get("limit")
        .and_then(Value::as_u64)
        .or_else(|| input.query.get("limit").and_then(Value::as_u64))
        .unwrap_or(DEFAULT_PAGE_LIMIT);
    let same_cursor = input.query.get("start").and_then(Value::as_str) == Some(last);
    if data == 0 || data < limit || last.is_empty() || same_cursor {
        return None;
    }
    input.query.insert("start".to_owned(), Value::from(last));
    Some(input)
}

fn to_object<T: Serialize + ?Sized>(value: &T) -> Result<Map<String, Value>, Error> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn input(query: Value) -> OperationInput {
        OperationInput {
            query: query.as_object().unwrap().clone(),
            ..Default::default()
        }
    }

    #[test]
    fn follows_the_cursor_until_a_short_or_empty_page() {
        let full = json!({"limit": 10, "data": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], "last": "b"});
        let next = next_page(input(json!({"name": "x", "start": "a"})), &full).unwrap();
        assert_eq!(next, input(json!({"name": "x", "start": "b"})));
        let short = json!({"limit": 10, "data": [0, 1], "last": "c"});
        assert_eq!(next_page(input(json!({})), &short), None);
        let empty = json!({"limit": 10, "data": [], "last": ""});
        assert_eq!(next_page(input(json!({})), &empty), None);
        let no_last = json!({"limit": 10, "data": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], "last": ""});
        assert_eq!(next_page(input(json!({})), &no_last), None);
        // A server that answers the cursor it was given would loop forever.
        assert_eq!(next_page(input(json!({"start": "b"})), &full), None);
        // Without `limit` in the page, the requested one counts.
        let unlimited = json!({"data": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10], "last": "z"});
        assert_eq!(next_page(input(json!({"limit": 20})), &unlimited), None);
        assert_eq!(
            next_page(input(json!({})), &unlimited),
            Some(input(json!({"start": "z"})))
        );
    }

    #[test]
    fn queries_repeat_array_keys_and_drop_nulls() {
        let query = json!({"type": ["a", "b"], "enabled": false, "start": null, "limit": 20, "name": "a:b"});
        assert_eq!(
            query_pairs(query.as_object().unwrap()),
            [
                ("type", "a"),
                ("type", "b"),
                ("enabled", "false"),
                ("limit", "20"),
                ("name", "a:b")
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
        );
    }

    #[test]
    fn methods_find_their_operations() {
        assert_eq!(operation("create_room_code_for_role").name, "create-room-code-for-role");
        assert!(snake_case_equals("get-room", "get_room"));
        assert!(!snake_case_equals("get-room", "get_rooms"));
        assert!(!snake_case_equals("get-room", "get-room_"));
    }

    #[test]
    fn urls_follow_the_base_url() {
        let client = Client::builder(Credentials::token("t"))
            .base_url("http://127.0.0.1:1/v2/")
            .build()
            .unwrap();
        assert_eq!(client.token_url(), "http://127.0.0.1:1/v2/token");
        let path = json!({"room_id": "r 1"});
        assert_eq!(
            client
                .url_of(hms_api::find("get-room").unwrap(), path.as_object().unwrap())
                .unwrap(),
            "http://127.0.0.1:1/v2/rooms/r%201"
        );
        let hosted = Client::builder(Credentials::token("t")).build().unwrap();
        assert_eq!(
            hosted
                .url_of(hms_api::find("exchange-room-code").unwrap(), &Map::new())
                .unwrap(),
            HOSTED_TOKEN_URL
        );
    }
}
