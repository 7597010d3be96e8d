//! The wire format of the 100ms server-side REST API v2.
//!
//! Every object the API sends or receives is defined here once, so that the server, the
//! client and the CLI cannot drift apart. This crate does no I/O.

pub mod active_room;
pub mod error;
pub mod json;
pub mod page;
pub mod room;
pub mod room_code;
pub mod session;
pub mod signal;
pub mod simulate;
pub mod template;
pub mod timestamp;
pub mod token;
pub mod webhook;

pub use error::ErrorBody;
pub use page::{Page, PageQuery};
pub use timestamp::{PreciseTime, Timestamp};
