//! The rules of the API, between the HTTP handlers and the store.

pub mod room_codes;
pub mod rooms;
pub mod templates;
pub mod token_exchange;
pub mod workspaces;
