use axum::Json;
use hms_types::active_room::{
    Acknowledgement, ActivePeer, ActiveRoom, EndRoom, PeerFilter, PeerList, PeerUpdate, RemovePeers, SendMessage,
};

use super::bind::{Routes, bind};
use super::list_json::ListJson;
use super::{Acknowledged, PathParams, Scope};
use crate::error::ApiResult;
use crate::extract::{JsonBody, QueryParams};

pub fn routes() -> Routes {
    bind!(retrieve => "get-active-room", peers => "list-active-room-peers", peer => "get-active-room-peer",
        update_peer => "update-active-room-peer", send_message => "send-message",
        remove_peers => "remove-peers", end_room => "end-active-room")
}

type RoomId = PathParams<String>;
type RoomAndPeer = PathParams<(String, String)>;

async fn retrieve(s: Scope, PathParams(room_id): RoomId) -> ApiResult<Json<ActiveRoom>> {
    Ok(Json(s.runtime().active_room(s.workspace(), &room_id).await?))
}

async fn peers(
    s: Scope,
    PathParams(room_id): RoomId,
    QueryParams(filter): QueryParams<PeerFilter>,
) -> ApiResult<ListJson<PeerList>> {
    let list = s.runtime().peers(s.workspace(), &room_id, &filter).await?;
    let items = list.peers.len();
    Ok(ListJson::new(list, items))
}

async fn peer(s: Scope, PathParams((room_id, peer_id)): RoomAndPeer) -> ApiResult<Json<ActivePeer>> {
    Ok(Json(s.runtime().peer(s.workspace(), &room_id, &peer_id).await?))
}

async fn update_peer(
    s: Scope,
    PathParams((room_id, peer_id)): RoomAndPeer,
    JsonBody(update): JsonBody<PeerUpdate>,
) -> ApiResult<Json<ActivePeer>> {
    Ok(Json(
        s.runtime()
            .update_peer(s.workspace(), &room_id, &peer_id, update)
            .await?,
    ))
}

async fn send_message(s: Scope, PathParams(room_id): RoomId, JsonBody(message): JsonBody<SendMessage>) -> Acknowledged {
    s.runtime().send_message(s.workspace(), &room_id, message).await?;
    Ok(Json(Acknowledgement::new("message sent")))
}

async fn remove_peers(s: Scope, PathParams(room_id): RoomId, JsonBody(request): JsonBody<RemovePeers>) -> Acknowledged {
    s.runtime().remove_peers(s.workspace(), &room_id, request).await?;
    Ok(Json(Acknowledgement::new("peer remove request submitted")))
}

async fn end_room(s: Scope, PathParams(room_id): RoomId, JsonBody(request): JsonBody<EndRoom>) -> Acknowledged {
    s.runtime().end_room(s.workspace(), &room_id, request).await?;
    Ok(Json(Acknowledgement::new("session is ending")))
}
