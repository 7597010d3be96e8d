//! `GET /init`: where a client's signalling socket is, and how its peer connections reach
//! this node. The web SDK hangs for good on a 404 here, so refusals are 401 and 403.

use axum::Json;
use axum::extract::State;
use axum::http::header::HOST;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{MethodRouter, get};
use hms_types::signal::{InitConfig, InitResponse, RtcConfiguration};

use crate::auth::bearer_token;
use crate::config::ServerConfig;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

use super::SOCKET_PATH;

/// Client features switched on: roles that neither publish nor subscribe join without
/// peer connections.
const ENABLED_FLAGS: [&str; 1] = ["nonWebRTCDisableOffer"];

/// `GET /init`, limited per client address (it needs no management credentials), and its
/// preflight; the caller adds CORS around it.
pub(super) fn route() -> MethodRouter<AppState> {
    get(init)
        .options(|| async { StatusCode::NO_CONTENT })
        .route_layer(axum::middleware::from_fn(crate::limits::limit_clients))
}

async fn init(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Json<InitResponse>> {
    let token = bearer_token(&headers).ok_or_else(|| {
        ApiError::unauthorized("Token validation error: send the app token as `Authorization: Bearer <token>`")
    })?;
    let (workspace, claims) = state.signal.verify_app_token(token)?;
    let room = state
        .store
        .room(&workspace.workspace.id, &claims.room_id)
        .await?
        .ok_or_else(|| {
            ApiError::forbidden("Room not found").with_detail("the token names a room that does not exist")
        })?;
    if !room.room.enabled {
        return Err(ApiError::forbidden("Room is disabled"));
    }
    let placed = state.signal.place(&room.room.id).await?;
    let endpoint = if placed.node_id == state.signal.node.node_id {
        let host = headers.get(HOST).and_then(|host| host.to_str().ok());
        socket_url(&state.config, host)
    } else {
        socket_url_at(&placed.url)
    };
    Ok(Json(init_response(&state.config, endpoint)))
}

/// What `/init` answers a client whose signalling socket is at `endpoint`.
pub fn init_response(config: &ServerConfig, endpoint: String) -> InitResponse {
    InitResponse {
        endpoint,
        rtc_configuration: RtcConfiguration {
            ice_servers: config.rtc.ice_servers.clone(),
        },
        config: InitConfig {
            enabled_flags: ENABLED_FLAGS.iter().map(|flag| (*flag).to_owned()).collect(),
            vb: serde_json::Map::new(),
        },
    }
}

/// The socket's address on this node: on the public origin when one is configured, else
/// on the host the client asked for, with the listener's scheme.
fn socket_url(config: &ServerConfig, host: Option<&str>) -> String {
    if let Some(public) = &config.public_url {
        return socket_url_at(public.as_str());
    }
    let scheme = if config.serves_tls() { "wss" } else { "ws" };
    let host = host.map_or_else(|| config.listen.to_string(), str::to_owned);
    format!("{scheme}://{host}{SOCKET_PATH}")
}

/// The socket's address on the node whose public origin is `url`.
fn socket_url_at(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("http", url));
    let authority = rest.split('/').next().unwrap_or(rest);
    let scheme = if scheme == "https" { "wss" } else { "ws" };
    format!("{scheme}://{authority}{SOCKET_PATH}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_socket_is_on_the_public_origin_when_there_is_one() {
        let mut config = ServerConfig::default();
        assert_eq!(socket_url(&config, Some("localhost:8443")), "ws://localhost:8443/v2/ws");
        config.tls_self_signed = true;
        assert_eq!(
            socket_url(&config, Some("localhost:8443")),
            "wss://localhost:8443/v2/ws"
        );
        config.public_url = Some("https://meet.example.com/ignored/path".parse().unwrap());
        assert_eq!(
            socket_url(&config, Some("10.0.0.5:8080")),
            "wss://meet.example.com/v2/ws"
        );
        config.public_url = Some("http://meet.example.com:8000".parse().unwrap());
        assert_eq!(socket_url(&config, None), "ws://meet.example.com:8000/v2/ws");
        assert_eq!(socket_url_at("https://10.0.0.7:8443"), "wss://10.0.0.7:8443/v2/ws");
    }
}
