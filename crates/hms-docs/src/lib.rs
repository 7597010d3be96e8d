//! The documentation surfaces of openhms: the OpenAPI 3.1 document, the Postman
//! collection and the offline docs page.
//!
//! The document and the collection are generated from [`hms_api::OPERATIONS`] and the
//! JSON Schemas of the wire types, so that they cannot fall behind the server: an
//! operation added to the catalogue appears in both at once.

mod openapi;
pub mod page;
mod postman;

pub use openapi::openapi;
pub use postman::{DEFAULT_BASE_URL, postman_collection, postman_collection_for};
