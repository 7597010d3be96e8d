//! The rules of the API, between the HTTP handlers and the store.

pub mod events;
pub mod room_codes;
pub mod rooms;
pub mod sessions;
pub mod templates;
pub mod token_exchange;
pub mod webhooks;
pub mod workspaces;
