//! The statements both stores run word for word, written once: each store calls them with
//! its own pool or transaction, after taking whatever locks it needs (the PostgreSQL
//! store's row and advisory locks; SQLite's single writer needs none). What a store does
//! its own way — its dialect, its locks, its group commits and reads without sqlx — stays
//! in `sqlite/` and `postgres/`, whose modules mirror each other and these.
//!
//! Functions that run several statements take the caller's transaction; the others take
//! any executor, a pool or a transaction's connection.

pub(crate) mod deliveries;
pub(crate) mod live;
pub(crate) mod placements;
pub(crate) mod rooms;
pub(crate) mod templates;
pub(crate) mod workspaces;
