//! The rules of the API, between the HTTP handlers and the store.

pub mod events;
pub mod room_codes;
pub mod rooms;
pub mod sessions;
pub mod templates;
pub mod token_exchange;
pub mod webhooks;
pub mod workspaces;

use hms_store::PageRequest;
use hms_types::{Page, PageQuery};

/// What the store is asked for one page of a list, as the client asked for it.
fn page_request(page: PageQuery) -> PageRequest {
    PageRequest {
        limit: page.effective_limit(),
        start: page.start,
    }
}

/// One page of a list: its items, and the cursor to ask for the next (the last item's).
fn page<T>(request: &PageRequest, data: Vec<T>, cursor: impl Fn(&T) -> &str) -> Page<T> {
    let last = data.last().map(|item| cursor(item).to_owned()).unwrap_or_default();
    Page {
        limit: request.limit,
        data,
        last,
    }
}
