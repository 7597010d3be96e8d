//! The docs page: plain HTML, CSS and JavaScript that render `/openapi.json`, served by
//! the binary itself so that it works without internet access.

/// `GET /docs`.
pub const HTML: &str = include_str!("docs.html");
/// `GET /docs/docs.css`.
pub const CSS: &str = include_str!("docs.css");
/// `GET /docs/docs.js`.
pub const JS: &str = include_str!("docs.js");
