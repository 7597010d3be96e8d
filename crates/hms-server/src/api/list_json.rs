//! The JSON answer of a list, written into one buffer sized for its items.
//!
//! axum's `Json` starts from 128 bytes and doubles by copying: a page of 100 rooms (about
//! 50 KB) was ten copies, and large frees that sent the allocator consolidating, an eighth
//! of a list's profile.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use hms_types::Page;
use serde::Serialize;

use crate::error::ApiError;

/// What one item of a list takes, about: a room is some 500 bytes. A larger item costs a
/// copy or two more, as before; a smaller one leaves part of the buffer unused.
const ITEM_BYTES: usize = 640;
/// The page's own fields around its items.
const ENVELOPE_BYTES: usize = 128;

/// `value`, a list of `items` items, answered as JSON.
pub struct ListJson<T> {
    value: T,
    items: usize,
}

impl<T> ListJson<T> {
    pub fn new(value: T, items: usize) -> Self {
        Self { value, items }
    }
}

impl<T> ListJson<Page<T>> {
    /// A page, whose items are its data.
    pub fn page(page: Page<T>) -> Self {
        let items = page.data.len();
        Self::new(page, items)
    }
}

impl<T: Serialize> IntoResponse for ListJson<T> {
    fn into_response(self) -> Response {
        let mut body = Vec::with_capacity(ENVELOPE_BYTES + ITEM_BYTES * self.items);
        match serde_json::to_writer(&mut body, &self.value) {
            Ok(()) => (
                [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))],
                body,
            )
                .into_response(),
            Err(error) => {
                tracing::error!(%error, "a list did not serialise");
                ApiError::internal().into_response()
            }
        }
    }
}
