use axum::Json;
use axum::extract::State;
use hms_types::active_room::{
    Acknowledgement, ActivePeer, ActiveRoom, EndRoom, PeerFilter, PeerList, PeerUpdate, RemovePeers, SendMessage,
};

use super::PathParams;
use super::bind::{Routes, bind};
use super::list_json::ListJson;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::extract::{JsonBody, QueryParams};
use crate::state::AppState;

pub fn routes() -> Routes {
    bind!(retrieve => "get-active-room", peers => "list-active-room-peers", peer => "get-active-room-peer",
        update_peer => "update-active-room-peer", send_message => "send-message",
        remove_peers => "remove-peers", end_room => "end-active-room")
}

type RoomId = PathParams<String>;
type RoomAndPeer = PathParams<(String, String)>;

async fn retrieve(
    State(s): State<AppState>,
    caller: Caller,
    PathParams(room_id): RoomId,
) -> ApiResult<Json<ActiveRoom>> {
    Ok(Json(s.runtime.active_room(caller.workspace(), &room_id).await?))
}

async fn peers(
    State(s): State<AppState>,
    caller: Caller,
    PathParams(room_id): RoomId,
    QueryParams(filter): QueryParams<PeerFilter>,
) -> ApiResult<ListJson<PeerList>> {
    let list = s.runtime.peers(caller.workspace(), &room_id, &filter).await?;
    let items = list.peers.len();
    Ok(ListJson::new(list, items))
}

async fn peer(
    State(s): State<AppState>,
    caller: Caller,
    PathParams((room_id, peer_id)): RoomAndPeer,
) -> ApiResult<Json<ActivePeer>> {
    Ok(Json(s.runtime.peer(caller.workspace(), &room_id, &peer_id).await?))
}

async fn update_peer(
    State(s): State<AppState>,
    caller: Caller,
    PathParams((room_id, peer_id)): RoomAndPeer,
    JsonBody(update): JsonBody<PeerUpdate>,
) -> ApiResult<Json<ActivePeer>> {
    Ok(Json(
        s.runtime
            .update_peer(caller.workspace(), &room_id, &peer_id, update)
            .await?,
    ))
}

async fn send_message(
    State(s): State<AppState>,
    caller: Caller,
    PathParams(room_id): RoomId,
    JsonBody(message): JsonBody<SendMessage>,
) -> ApiResult<Json<Acknowledgement>> {
    s.runtime.send_message(caller.workspace(), &room_id, message).await?;
    Ok(Json(Acknowledgement::new("message sent")))
}

async fn remove_peers(
    State(s): State<AppState>,
    caller: Caller,
    PathParams(room_id): RoomId,
    JsonBody(request): JsonBody<RemovePeers>,
) -> ApiResult<Json<Acknowledgement>> {
    s.runtime.remove_peers(caller.workspace(), &room_id, request).await?;
    Ok(Json(Acknowledgement::new("peer remove request submitted")))
}

async fn end_room(
    State(s): State<AppState>,
    caller: Caller,
    PathParams(room_id): RoomId,
    JsonBody(request): JsonBody<EndRoom>,
) -> ApiResult<Json<Acknowledgement>> {
    s.runtime.end_room(caller.workspace(), &room_id, request).await?;
    Ok(Json(Acknowledgement::new("session is ending")))
}
