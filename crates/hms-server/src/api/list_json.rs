//! The JSON answer of a list, written into one buffer sized for its items, or written
//! ahead by the service straight from the rows read (the rooms).
//!
//! axum's `Json` starts from 128 bytes and doubles by copying: a page of 100 rooms (about
//! 50 KB) was ten copies, and large frees that sent the allocator consolidating, an eighth
//! of a list's profile.

use std::marker::PhantomData;

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

/// A list answered as JSON: a value of type `T`, or `T`'s JSON already written.
pub struct ListJson<T> {
    body: Body<T>,
}

enum Body<T> {
    Value { value: T, items: usize },
    Written(Vec<u8>, PhantomData<T>),
}

impl<T> ListJson<T> {
    /// `value`, a list of `items` items.
    pub fn new(value: T, items: usize) -> Self {
        Self {
            body: Body::Value { value, items },
        }
    }

    /// `json`, a `T` written as `serde_json` would write it.
    pub fn written(json: Vec<u8>) -> Self {
        Self {
            body: Body::Written(json, PhantomData),
        }
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
        let body = match self.body {
            Body::Written(json, _) => json,
            Body::Value { value, items } => {
                let mut body = Vec::with_capacity(ENVELOPE_BYTES + ITEM_BYTES * items);
                if let Err(error) = serde_json::to_writer(&mut body, &value) {
                    tracing::error!(%error, "a list did not serialise");
                    return ApiError::internal().into_response();
                }
                body
            }
        };
        (
            [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))],
            body,
        )
            .into_response()
    }
}
