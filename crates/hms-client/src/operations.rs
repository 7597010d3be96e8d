//! One typed method of [`Client`] per operation of the catalogue.
//!
//! Each method is declared once, in [`typed_operations!`], by the operation's name in snake
//! case, its path parameters, its query and body types and its response type. The macro
//! writes the method and records the declaration in a table that a test compares with
//! [`hms_api::OPERATIONS`]: every non-alias operation must have exactly one method, with
//! the catalogue's path parameters and the very schemas the catalogue gives for its query,
//! body and response, and every paginated one a `…_stream` method. A new operation in the
//! catalogue therefore fails that test until it gets its method here.

use futures::Stream;
use hms_types::active_room::{
    Acknowledgement, ActivePeer, ActiveRoom, EndRoom, PeerFilter, PeerList, PeerUpdate, RemovePeers, SendMessage,
};
use hms_types::room::{Room, RoomFilter, RoomParams};
use hms_types::room_code::{RoomCode, RoomCodeFilter, RoomCodeList, RoomCodeUpdate};
use hms_types::session::{Session, SessionFilter};
use hms_types::simulate::{Deliveries, EventLog, EventLogQuery, SimulatedJoin};
use hms_types::template::{Destinations, RecordingConfig, Role, RoleParams, Settings, Template, TemplateParams};
use hms_types::token::{TokenRequest, TokenResponse};
use hms_types::webhook::{ReplayRequest, ReplayStarted, ReplayStatus, WebhookHistory, WebhookHistoryQuery};
use hms_types::{Page, PageQuery};

use crate::{Client, Error};

/// Declares typed methods of [`Client`]:
///
/// ```text
/// /// docs
/// fn <operation in snake case>(path: <param>, …; query <name>: <Type>; body <name>: <Type>;) -> <Response>
///     [, stream /// docs
///        <name of the stream method> -> <Item>];
/// ```
///
/// Each of `path:`, `query` and `body` may be left out; path parameters become `&str`
/// arguments named as in the catalogue's path, the query and the body are taken by
/// reference.
macro_rules! typed_operations {
    (@option) => { None::<&()> };
    (@option [$ty:ty] $value:ident) => { Some::<&$ty>($value) };
    (@schema) => { None };
    (@schema $ty:ty) => { Some(schema_of::<$ty>) };
    (@name) => { None };
    (@name $name:ident) => { Some(stringify!($name)) };
    (@stream $method:ident [$($path:ident)*] [$($query:tt)*] []) => {};
    (@stream $method:ident [$($path:ident)*] [$query:ident: $query_ty:ty]
        [$(#[$meta:meta])* $stream:ident -> $item:ty]) => {
        $(#[$meta])*
        pub fn $stream(
            &self,
            $($path: &str,)*
            $query: &$query_ty,
        ) -> impl Stream<Item = Result<$item, Error>> + Send + use<> {
            self.items(stringify!($method), &[$((stringify!($path), $path)),*], Some($query))
        }
    };
    ($(
        $(#[$meta:meta])*
        fn $method:ident(
            $(path: $($path:ident),+;)?
            $(query $query:ident: $query_ty:ty;)?
            $(body $body:ident: $body_ty:ty;)?
        ) -> $response:ty
        $(, stream $(#[$stream_meta:meta])* $stream:ident -> $item:ty)?;
    )*) => {
        impl Client {
            $(
                $(#[$meta])*
                pub async fn $method(
                    &self,
                    $($($path: &str,)+)?
                    $($query: &$query_ty,)?
                    $($body: &$body_ty,)?
                ) -> Result<$response, Error> {
                    self.call(
                        stringify!($method),
                        &[$($((stringify!($path), $path)),+)?],
                        typed_operations!(@option $([$query_ty] $query)?),
                        typed_operations!(@option $([$body_ty] $body)?),
                    )
                    .await
                }

                typed_operations!(@stream $method [$($($path)+)?] [$($query: $query_ty)?]
                    [$($(#[$stream_meta])* $stream -> $item)?]);
            )*
        }

        /// What each typed method takes and answers, for the test against the catalogue.
        #[cfg(test)]
        pub(crate) const TYPED: &[Typed] = &[$(
            Typed {
                method: stringify!($method),
                path: &[$($(stringify!($path)),+)?],
                query: typed_operations!(@schema $($query_ty)?),
                body: typed_operations!(@schema $($body_ty)?),
                response: schema_of::<$response>,
                stream: typed_operations!(@name $($stream)?),
            }
        ),*];
    };
}

typed_operations! {
    // Rooms.

    /// `POST /v2/rooms`: creates a room from a template (the workspace's default template
    /// when `template_id` is left out), or updates the room of the same name.
    ///
    /// ```no_run
    /// # async fn demo(client: hms_client::Client) -> Result<(), hms_client::Error> {
    /// use hms_types::room::RoomParams;
    ///
    /// let room = client
    ///     .create_room(&RoomParams {
    ///         name: Some("standup".into()),
    ///         description: Some("Daily standup".into()),
    ///         ..Default::default()
    ///     })
    ///     .await?;
    /// # Ok(()) }
    /// ```
    fn create_room(body params: RoomParams;) -> Room;

    /// `GET /v2/rooms/{room_id}`: the room with this id.
    ///
    /// ```no_run
    /// # async fn demo(client: hms_client::Client) -> Result<(), hms_client::Error> {
    /// let room = client.get_room("631b2654f771854d9bf633df").await?;
    /// println!("{} is enabled: {}", room.name, room.enabled);
    /// # Ok(()) }
    /// ```
    fn get_room(path: room_id;) -> Room;

    /// `GET /v2/rooms`: one page of rooms, newest first (only enabled ones unless
    /// `enabled` is given). See [`Client::list_rooms_stream`] for every page.
    ///
    /// ```no_run
    /// # async fn demo(client: hms_client::Client) -> Result<(), hms_client::Error> {
    /// use hms_types::room::RoomFilter;
    ///
    /// let page = client.list_rooms(&RoomFilter { limit: Some(20), ..Default::default() }).await?;
    /// let next = client
    ///     .list_rooms(&RoomFilter { limit: Some(20), start: Some(page.last.clone()), ..Default::default() })
    ///     .await?;
    /// # Ok(()) }
    /// ```
    fn list_rooms(query filter: RoomFilter;) -> Page<Room>,
        stream
        /// Every room matching `filter`, page after page (`limit` sets the page size).
        ///
        /// ```no_run
        /// # async fn demo(client: hms_client::Client) -> Result<(), hms_client::Error> {
        /// use futures::TryStreamExt;
        /// use hms_types::room::RoomFilter;
        ///
        /// let disabled = RoomFilter { enabled: Some(false), ..Default::default() };
        /// let mut rooms = std::pin::pin!(client.list_rooms_stream(&disabled));
        /// while let Some(room) = rooms.try_next().await? {
        ///     println!("{}", room.name);
        /// }
        /// # Ok(()) }
        /// ```
        list_rooms_stream -> Room;

    /// `POST /v2/rooms/{room_id}`: changes the given fields of a room.
    ///
    /// ```no_run
    /// # async fn demo(client: hms_client::Client) -> Result<(), hms_client::Error> {
    /// use hms_types::room::RoomParams;
    ///
    /// let params = RoomParams { description: Some("Weekly sync".into()), ..Default::default() };
    /// let room = client.update_room("631b2654f771854d9bf633df", &params).await?;
    /// # Ok(()) }
    /// ```
    fn update_room(path: room_id; body params: RoomParams;) -> Room;

    /// `POST /v2/rooms/{room_id}` with `{"enabled": true}`: lets peers join the room again.
    ///
    /// ```no_run
    /// # async fn demo(client: hms_client::Client) -> Result<(), hms_client::Error> {
    /// let room = client.enable_room("631b2654f771854d9bf633df").await?;
    /// assert!(room.enabled);
    /// # Ok(()) }
    /// ```
    fn enable_room(path: room_id;) -> Room;

    /// `POST /v2/rooms/{room_id}` with `{"enabled": false}`: stops new peers from joining
    /// and the room's codes from working.
    ///
    /// ```no_run
    /// # async fn demo(client: hms_client::Client) -> Result<(), hms_client::Error> {
    /// let room = client.disable_room("631b2654f771854d9bf633df").await?;
    /// assert!(!room.enabled);
    /// # Ok(()) }
    /// ```
    fn disable_room(path: room_id;) -> Room;

    // Room codes.

    /// `POST /v2/room-codes/room/{room_id}`: makes sure every role of the room has an
    /// enabled room code, and answers every code of the room.
    ///
    /// ```no_run
    /// # async fn demo(client: hms_client::Client) -> Result<(), hms_client::Error> {
    /// let codes = client.create_room_codes("631b2654f771854d9bf633df").await?;
    /// for code in &codes.data {
    ///     println!("{}: {}", code.role, code.code);
    /// }
    /// # Ok(()) }
    /// ```
    fn create_room_codes(path: room_id;) -> RoomCodeList;

    /// `POST /v2/room-codes/room/{room_id}/role/{role}`: a new room code for one role.
    ///
    /// ```no_run
    /// # async fn demo(client: hms_client::Client) -> Result<(), hms_client::Error> {
    /// let code = client.create_room_code_for_role("631b2654f771854d9bf633df", "guest").await?;
    /// # Ok(()) }
    /// ```
    fn create_room_code_for_role(path: room_id, role;) -> RoomCode;

    /// `GET /v2/room-codes/room/{room_id}`: one page of a room's codes, in creation order.
    ///
    /// ```no_run
    /// # async fn demo(client: hms_client::Client) -> Result<(), hms_client::Error> {
    /// use hms_types::room_code::RoomCodeFilter;
    ///
    /// let filter = RoomCodeFilter { role: Some("host".into()), enabled: Some(true), ..Default::default() };
    /// let page = client.get_room_codes("631b2654f771854d9bf633df", &filter).await?;
    /// # Ok(()) }
    /// ```
    fn get_room_codes(path: room_id; query filter: RoomCodeFilter;) -> Page<RoomCode>,
        stream
        /// Every code of a room matching `filter`, page after page.
        ///
        /// ```no_run
        /// # async fn demo(client: hms_client::Client) -> Result<(), hms_client::Error> {
        /// use futures::TryStreamExt;
        ///
        /// let codes: Vec<_> = client
        ///     .get_room_codes_stream("631b2654f771854d9bf633df", &Default::default())
        ///     .try_collect()
        ///     .await?;
        /// # Ok(()) }
        /// ```
        get_room_codes_stream -> RoomCode;

    /// `POST /v2/room-codes/code/{code}`: enables or disables a room code.
    ///
    /// ```no_run
    /// # async fn demo(client: hms_client::Client) -> Result<(), hms_client::Error> {
    /// use hms_types::room_code::RoomCodeUpdate;
    ///
    /// let update = RoomCodeUpdate { code: None, enabled: false };
    /// let code = client.update_room_code("wpi-srjb-wer", &update).await?;
    /// # Ok(()) }
    /// ```
    fn update_room_code(path: code; body update: RoomCodeUpdate;) -> RoomCode;

    /// `POST /v2/token`: exchanges a room code for an app token, as client apps do. Sent to
    /// the client's token URL without a management token (the code is the credential).
    ///
    /// ```no_run
    /// # async fn demo(client: hms_client::Client) -> Result<(), hms_client::Error> {
    /// use hms_types::token::TokenRequest;
    ///
    /// let request = TokenRequest { code: "wpi-srjb-wer".into(), user_id: Some("alice".into()) };
    /// let app_token = client.exchange_room_code(&request).await?.token;
    /// # Ok(()) }
    /// ```
    fn exchange_room_code(body request: TokenRequest;) -> TokenResponse;

    // Templates and roles.

    /// `POST /v2/templates`: creates a template, or overwrites the template of the same name.
    ///
    /// ```no_run
    /// # async fn demo(client: hms_client::Client) -> Result<(), hms_client::Error> {
    /// use hms_types::template::{RoleParams, TemplateParams};
    ///
    /// let params = TemplateParams {
    ///     name: Some("webinar".into()),
    ///     roles: Some([("host".to_owned(), RoleParams::default())].into_iter().collect()),
    ///     ..Default::default()
    /// };
    /// let template = client.create_template(&params).await?;
    /// # Ok(()) }
    /// ```
    fn create_template(body params: TemplateParams;) -> Template;

    /// `GET /v2/templates`: one page of templates, newest first.
    ///
    /// ```no_run
    /// # async fn demo(client: hms_client::Client) -> Result<(), hms_client::Error> {
    /// let page = client.list_templates(&Default::default()).await?;
    /// # Ok(()) }
    /// ```
    fn list_templates(query page: PageQuery;) -> Page<Template>,
        stream
        /// Every template, page after page.
        ///
        /// ```no_run
        /// # async fn demo(client: hms_client::Client) -> Result<(), hms_client::Error> {
        /// use futures::TryStreamExt;
        /// use hms_types::PageQuery;
        ///
        /// let all: Vec<_> = client
        ///     .list_templates_stream(&PageQuery { limit: Some(100), start: None })
        ///     .try_collect()
        ///     .await?;
        /// # Ok(()) }
        /// ```
        list_templates_stream -> Template;

    /// `GET /v2/templates/{template_id}`: the whole template.
    ///
    /// ```no_run
    /// # async fn demo(client: hms_client::Client) -> Result<(), hms_client::Error> {
    /// let template = client.get_template("631b2654f771854d9bf633e0").await?;
    /// let roles: Vec<_> = template.roles.keys().collect();
    /// # Ok(()) }
    /// ```
    fn get_template(path: template_id;) -> Template;

    /// `POST /v2/templates/{template_id}`: replaces the whole template (roles left out are
    /// removed).
    ///
    /// ```no_run
    /// # async fn demo(client: hms_client::Client) -> Result<(), hms_client::Error> {
    /// use hms_types::template::TemplateParams;
    ///
    /// let template = client.get_template("631b2654f771854d9bf633e0").await?;
    /// let mut params: TemplateParams = serde_json::from_value(serde_json::to_value(&template).unwrap()).unwrap();
    /// params.name = Some("webinar-v2".into());
    /// let template = client.update_template(&template.id, &params).await?;
    /// # Ok(()) }
    /// ```
    fn update_template(path: template_id; body params: TemplateParams;) -> Template;

    /// `GET /v2/templates/{template_id}/roles/{role}`: one role of a template.
    ///
    /// ```no_run
    /// # async fn demo(client: hms_client::Client) -> Result<(), hms_client::Error> {
    /// let host = client.get_role("631b2654f771854d9bf633e0", "host").await?;
    /// println!("{:?}", host.publish_params.allowed);
    /// # Ok(()) }
    /// ```
    fn get_role(path: template_id, role;) -> Role;

    /// `POST /v2/templates/{template_id}/roles/{role}`: creates the role or replaces it
    /// whole (fields left out get defaults).
    ///
    /// ```no_run
    /// # async fn demo(client: hms_client::Client) -> Result<(), hms_client::Error> {
    /// use hms_types::template::RoleParams;
    ///
    /// let params = RoleParams { max_peer_count: Some(10), ..Default::default() };
    /// let guest = client.upsert_role("631b2654f771854d9bf633e0", "guest", &params).await?;
    /// # Ok(()) }
    /// ```
    fn upsert_role(path: template_id, role; body params: RoleParams;) -> Role;

    /// `DELETE /v2/templates/{template_id}/roles/{role}`: removes a role; its room codes
    /// stop working.
    ///
    /// ```no_run
    /// # async fn demo(client: hms_client::Client) -> Result<(), hms_client::Error> {
    /// client.delete_role("631b2654f771854d9bf633e0", "guest").await?;
    /// # Ok(()) }
    /// ```
    fn delete_role(path: template_id, role;) -> ();

    /// `GET /v2/templates/{template_id}/settings`.
    ///
    /// ```no_run
    /// # async fn demo(client: hms_client::Client) -> Result<(), hms_client::Error> {
    /// let settings = client.get_template_settings("631b2654f771854d9bf633e0").await?;
    /// println!("{}", settings.region);
    /// # Ok(()) }
    /// ```
    fn get_template_settings(path: template_id;) -> Settings;

    /// `POST /v2/templates/{template_id}/settings`: replaces region, recording and
    /// room-state settings.
    ///
    /// ```no_run
    /// # async fn demo(client: hms_client::Client) -> Result<(), hms_client::Error> {
    /// let mut settings = client.get_template_settings("631b2654f771854d9bf633e0").await?;
    /// settings.region = "eu".into();
    /// client.update_template_settings("631b2654f771854d9bf633e0", &settings).await?;
    /// # Ok(()) }
    /// ```
    fn update_template_settings(path: template_id; body settings: Settings;) -> Settings;

    /// `GET /v2/templates/{template_id}/destinations`.
    ///
    /// ```no_run
    /// # async fn demo(client: hms_client::Client) -> Result<(), hms_client::Error> {
    /// let destinations = client.get_template_destinations("631b2654f771854d9bf633e0").await?;
    /// # Ok(()) }
    /// ```
    fn get_template_destinations(path: template_id;) -> Destinations;

    /// `POST /v2/templates/{template_id}/destinations`: replaces the RTMP, HLS and
    /// transcription destinations.
    ///
    /// ```no_run
    /// # async fn demo(client: hms_client::Client) -> Result<(), hms_client::Error> {
    /// use hms_types::template::Destinations;
    ///
    /// client.update_template_destinations("631b2654f771854d9bf633e0", &Destinations::default()).await?;
    /// # Ok(()) }
    /// ```
    fn update_template_destinations(path: template_id; body destinations: Destinations;) -> Destinations;

    /// `GET /v2/templates/{template_id}/recordings`: the recording configurations.
    ///
    /// ```no_run
    /// # async fn demo(client: hms_client::Client) -> Result<(), hms_client::Error> {
    /// let configs = client.get_template_recordings("631b2654f771854d9bf633e0").await?;
    /// # Ok(()) }
    /// ```
    fn get_template_recordings(path: template_id;) -> Vec<RecordingConfig>;

    /// `POST /v2/templates/{template_id}/recordings`: replaces the recording
    /// configurations (exactly one, whose role exists).
    ///
    /// ```no_run
    /// # async fn demo(client: hms_client::Client) -> Result<(), hms_client::Error> {
    /// use hms_types::template::RecordingConfig;
    ///
    /// let config = RecordingConfig { name: "main".into(), role: "host".into(), ..Default::default() };
    /// client.update_template_recordings("631b2654f771854d9bf633e0", &[config]).await?;
    /// # Ok(()) }
    /// ```
    fn update_template_recordings(path: template_id; body configs: [RecordingConfig];) -> Vec<RecordingConfig>;

    // Sessions.

    /// `GET /v2/sessions`: one page of sessions, newest first, with their peers.
    ///
    /// ```no_run
    /// # async fn demo(client: hms_client::Client) -> Result<(), hms_client::Error> {
    /// use hms_types::session::SessionFilter;
    ///
    /// let filter = SessionFilter { room_id: Some("631b2654f771854d9bf633df".into()), ..Default::default() };
    /// let page = client.list_sessions(&filter).await?;
    /// # Ok(()) }
    /// ```
    fn list_sessions(query filter: SessionFilter;) -> Page<Session>,
        stream
        /// Every session matching `filter`, page after page.
        ///
        /// ```no_run
        /// # async fn demo(client: hms_client::Client) -> Result<(), hms_client::Error> {
        /// use futures::TryStreamExt;
        /// use hms_types::session::SessionFilter;
        ///
        /// let active = SessionFilter { active: Some(true), ..Default::default() };
        /// let sessions: Vec<_> = client.list_sessions_stream(&active).try_collect().await?;
        /// # Ok(()) }
        /// ```
        list_sessions_stream -> Session;

    /// `GET /v2/sessions/{session_id}`: a session with every peer's join and leave times.
    ///
    /// ```no_run
    /// # async fn demo(client: hms_client::Client) -> Result<(), hms_client::Error> {
    /// let session = client.get_session("631b2654f771854d9bf633e1").await?;
    /// println!("{} peers", session.peers.len());
    /// # Ok(()) }
    /// ```
    fn get_session(path: session_id;) -> Session;

    // Active rooms.

    /// `GET /v2/active-rooms/{room_id}`: the running session of a room (404 when nobody is
    /// in it).
    ///
    /// ```no_run
    /// # async fn demo(client: hms_client::Client) -> Result<(), hms_client::Error> {
    /// match client.get_active_room("631b2654f771854d9bf633df").await {
    ///     Ok(active) => println!("{} peers", active.session.peers.len()),
    ///     Err(error) if error.status() == Some(404) => println!("nobody is in the room"),
    ///     Err(error) => return Err(error),
    /// }
    /// # Ok(()) }
    /// ```
    fn get_active_room(path: room_id;) -> ActiveRoom;

    /// `GET /v2/active-rooms/{room_id}/peers`: the connected peers, optionally only those
    /// of a user id or role.
    ///
    /// ```no_run
    /// # async fn demo(client: hms_client::Client) -> Result<(), hms_client::Error> {
    /// use hms_types::active_room::PeerFilter;
    ///
    /// let hosts = PeerFilter { role: Some("host".into()), ..Default::default() };
    /// let peers = client.list_active_room_peers("631b2654f771854d9bf633df", &hosts).await?;
    /// # Ok(()) }
    /// ```
    fn list_active_room_peers(path: room_id; query filter: PeerFilter;) -> PeerList;

    /// `GET /v2/active-rooms/{room_id}/peers/{peer_id}`: a connected peer with its tracks.
    ///
    /// ```no_run
    /// # async fn demo(client: hms_client::Client) -> Result<(), hms_client::Error> {
    /// let peer = client
    ///     .get_active_room_peer("631b2654f771854d9bf633df", "3cf3b8c4-6e2e-4a4d-9a3b-8d1c2b7a6f5e")
    ///     .await?;
    /// # Ok(()) }
    /// ```
    fn get_active_room_peer(path: room_id, peer_id;) -> ActivePeer;

    /// `POST /v2/active-rooms/{room_id}/peers/{peer_id}`: renames a peer, changes its role
    /// or replaces its metadata.
    ///
    /// ```no_run
    /// # async fn demo(client: hms_client::Client) -> Result<(), hms_client::Error> {
    /// use hms_types::active_room::PeerUpdate;
    ///
    /// let update = PeerUpdate { role: Some("host".into()), ..Default::default() };
    /// let peer = client
    ///     .update_active_room_peer("631b2654f771854d9bf633df", "3cf3b8c4-6e2e-4a4d-9a3b-8d1c2b7a6f5e", &update)
    ///     .await?;
    /// # Ok(()) }
    /// ```
    fn update_active_room_peer(path: room_id, peer_id; body update: PeerUpdate;) -> ActivePeer;

    /// `POST /v2/active-rooms/{room_id}/send-message`: a message to one peer, a role or
    /// everyone.
    ///
    /// ```no_run
    /// # async fn demo(client: hms_client::Client) -> Result<(), hms_client::Error> {
    /// use hms_types::active_room::SendMessage;
    ///
    /// let message = SendMessage { message: "The session ends in 5 minutes".into(), ..Default::default() };
    /// client.send_message("631b2654f771854d9bf633df", &message).await?;
    /// # Ok(()) }
    /// ```
    fn send_message(path: room_id; body message: SendMessage;) -> Acknowledgement;

    /// `POST /v2/active-rooms/{room_id}/remove-peers`: removes one peer or every peer of a
    /// role.
    ///
    /// ```no_run
    /// # async fn demo(client: hms_client::Client) -> Result<(), hms_client::Error> {
    /// use hms_types::active_room::RemovePeers;
    ///
    /// let guests = RemovePeers { role: Some("guest".into()), reason: Some("Over".into()), ..Default::default() };
    /// client.remove_peers("631b2654f771854d9bf633df", &guests).await?;
    /// # Ok(()) }
    /// ```
    fn remove_peers(path: room_id; body removal: RemovePeers;) -> Acknowledgement;

    /// `POST /v2/active-rooms/{room_id}/end-room`: ends the running session; with `lock`,
    /// also disables the room.
    ///
    /// ```no_run
    /// # async fn demo(client: hms_client::Client) -> Result<(), hms_client::Error> {
    /// use hms_types::active_room::EndRoom;
    ///
    /// let end = EndRoom { reason: Some("Time is up".into()), lock: true };
    /// client.end_active_room("631b2654f771854d9bf633df", &end).await?;
    /// # Ok(()) }
    /// ```
    fn end_active_room(path: room_id; body end: EndRoom;) -> Acknowledgement;

    // Webhook history and replays.

    /// `GET /v2/analytics/webhooks`: webhook deliveries newest first, one numbered page at a
    /// time (`page` starts at 1), with why each failed.
    ///
    /// ```no_run
    /// # async fn demo(client: hms_client::Client) -> Result<(), hms_client::Error> {
    /// use hms_types::webhook::WebhookHistoryQuery;
    ///
    /// let failed = WebhookHistoryQuery { status: Some("failed".into()), ..Default::default() };
    /// let history = client.list_webhook_deliveries(&failed).await?;
    /// for delivery in &history.events {
    ///     println!("{} {:?}", delivery.payload.original_event_name, delivery.payload.error_reason);
    /// }
    /// # Ok(()) }
    /// ```
    fn list_webhook_deliveries(query query: WebhookHistoryQuery;) -> WebhookHistory;

    /// `POST /v2/analytics/webhooks/replay`: sends past events again (by default the failed
    /// deliveries of the last 24 hours).
    ///
    /// ```no_run
    /// # async fn demo(client: hms_client::Client) -> Result<(), hms_client::Error> {
    /// use hms_types::webhook::ReplayRequest;
    ///
    /// let replay = client.replay_webhooks(&ReplayRequest::default()).await?;
    /// let status = client.get_webhook_replay(&replay.workflow_id).await?;
    /// # Ok(()) }
    /// ```
    fn replay_webhooks(body request: ReplayRequest;) -> ReplayStarted;

    /// `GET /v2/analytics/webhooks/replay/{workflow_id}`: the progress of a replay.
    ///
    /// ```no_run
    /// # async fn demo(client: hms_client::Client) -> Result<(), hms_client::Error> {
    /// let status = client.get_webhook_replay("6f1f0e4c-5d3b-4a2a-9c1d-0e9f8a7b6c5d").await?;
    /// println!("{} of {} re-sent", status.progress.completed, status.progress.total);
    /// # Ok(()) }
    /// ```
    fn get_webhook_replay(path: workflow_id;) -> ReplayStatus;

    // The peer simulator (servers started with `--simulate-peers`).

    /// `POST /v2/simulate/rooms/{room_id}/peers`: a simulated peer joins the room.
    ///
    /// ```no_run
    /// # async fn demo(client: hms_client::Client) -> Result<(), hms_client::Error> {
    /// use hms_types::simulate::SimulatedJoin;
    ///
    /// let join = SimulatedJoin { role: "host".into(), name: Some("Ann".into()), ..Default::default() };
    /// let peer = client.simulate_peer_join("631b2654f771854d9bf633df", &join).await?;
    /// # Ok(()) }
    /// ```
    fn simulate_peer_join(path: room_id; body join: SimulatedJoin;) -> ActivePeer;

    /// `DELETE /v2/simulate/rooms/{room_id}/peers/{peer_id}`: a simulated peer leaves.
    ///
    /// ```no_run
    /// # async fn demo(client: hms_client::Client) -> Result<(), hms_client::Error> {
    /// client
    ///     .simulate_peer_leave("631b2654f771854d9bf633df", "3cf3b8c4-6e2e-4a4d-9a3b-8d1c2b7a6f5e")
    ///     .await?;
    /// # Ok(()) }
    /// ```
    fn simulate_peer_leave(path: room_id, peer_id;) -> Acknowledgement;

    /// `GET /v2/simulate/rooms/{room_id}/peers/{peer_id}/messages`: what a simulated peer
    /// received.
    ///
    /// ```no_run
    /// # async fn demo(client: hms_client::Client) -> Result<(), hms_client::Error> {
    /// let received = client
    ///     .list_simulated_peer_messages("631b2654f771854d9bf633df", "3cf3b8c4-6e2e-4a4d-9a3b-8d1c2b7a6f5e")
    ///     .await?;
    /// # Ok(()) }
    /// ```
    fn list_simulated_peer_messages(path: room_id, peer_id;) -> Deliveries;

    /// `GET /v2/simulate/events`: the webhook events the workspace's rooms produced, oldest
    /// first; pass the answer's `last` as `after` for the next ones.
    ///
    /// ```no_run
    /// # async fn demo(client: hms_client::Client) -> Result<(), hms_client::Error> {
    /// use hms_types::simulate::EventLogQuery;
    ///
    /// let log = client.list_events(&EventLogQuery::default()).await?;
    /// let newer = client.list_events(&EventLogQuery { after: log.last, ..Default::default() }).await?;
    /// # Ok(()) }
    /// ```
    fn list_events(query query: EventLogQuery;) -> EventLog;
}

/// One typed method, as [`typed_operations!`] declared it.
#[cfg(test)]
pub(crate) struct Typed {
    pub method: &'static str,
    pub path: &'static [&'static str],
    pub query: Option<hms_api::SchemaFn>,
    pub body: Option<hms_api::SchemaFn>,
    pub response: hms_api::SchemaFn,
    pub stream: Option<&'static str>,
}

#[cfg(test)]
fn schema_of<T: schemars::JsonSchema + ?Sized>(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    generator.subschema_for::<T>()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use hms_api::{Body, OPERATIONS, Response, SchemaFn};
    use schemars::SchemaGenerator;
    use serde_json::Value;

    use super::{TYPED, schema_of};

    fn json(schema: SchemaFn, generator: &mut SchemaGenerator) -> Value {
        serde_json::to_value(schema(generator)).expect("schemas are JSON")
    }

    #[test]
    fn every_operation_has_exactly_one_typed_method_and_no_method_lacks_one() {
        let methods: HashSet<String> = TYPED.iter().map(|typed| typed.method.to_owned()).collect();
        assert_eq!(methods.len(), TYPED.len(), "a method is declared twice");
        let operations: HashSet<String> = OPERATIONS
            .iter()
            .filter(|op| op.alias_of.is_none())
            .map(|op| op.name.replace('-', "_"))
            .collect();
        let missing: Vec<_> = operations.difference(&methods).collect();
        let unknown: Vec<_> = methods.difference(&operations).collect();
        assert!(missing.is_empty(), "operations without a typed method: {missing:?}");
        assert!(
            unknown.is_empty(),
            "typed methods without a (non-alias) operation: {unknown:?}"
        );
    }

    #[test]
    fn typed_methods_take_and_answer_what_the_catalogue_says() {
        let mut generator = SchemaGenerator::default();
        for typed in TYPED {
            let op = super::super::operation(typed.method);
            let name = op.name;
            assert_eq!(typed.path, op.path_params().as_slice(), "path parameters of {name}");
            assert_eq!(
                typed.query.map(|q| json(q, &mut generator)),
                op.query.map(|q| json(q, &mut generator)),
                "query of {name}"
            );
            let body = match op.body {
                Body::Json(body) => Some(json(body, &mut generator)),
                Body::None | Body::Fixed(_) => None,
            };
            assert_eq!(typed.body.map(|b| json(b, &mut generator)), body, "body of {name}");
            let response = match op.response {
                Response::Json(response) => json(response, &mut generator),
                Response::NoContent => json(schema_of::<()>, &mut generator),
            };
            assert_eq!(json(typed.response, &mut generator), response, "response of {name}");
            let stream = format!("{}_stream", typed.method);
            assert_eq!(
                typed.stream,
                op.paginated.then_some(stream.as_str()),
                "stream method of {name}"
            );
        }
    }
}
