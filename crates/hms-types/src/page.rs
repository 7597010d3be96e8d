use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Smallest and largest page sizes the API hands out; requests outside are clamped.
pub const MIN_LIMIT: u32 = 10;
pub const MAX_LIMIT: u32 = 100;
pub const DEFAULT_LIMIT: u32 = 10;

/// One page of a list endpoint. `last` is the cursor of the last item in `data`, to be
/// passed back as `start` (exclusive) for the next page; it is empty when `data` is.
#[derive(JsonSchema, Debug, Clone, PartialEq, Serialize, Deserialize)]
#[schemars(rename = "PageOf{T}")]
pub struct Page<T> {
    pub limit: u32,
    pub data: Vec<T>,
    #[serde(default)]
    pub last: String,
}

/// A [`Page`] written as JSON a piece at a time, byte for byte as `serde_json` writes it:
/// its head, then each item after [`item_separator`], then its tail.
pub mod json {
    use crate::json;

    /// `{"limit":…,"data":[`
    pub fn head(out: &mut Vec<u8>, limit: u32) {
        out.extend_from_slice(b"{\"limit\":");
        json::write_value(out, &limit);
        out.extend_from_slice(b",\"data\":[");
    }

    /// Goes before the item at `index` (from 0) of the data.
    pub fn item_separator(out: &mut Vec<u8>, index: usize) {
        if index > 0 {
            out.push(b',');
        }
    }

    /// `],"last":…}`, with the cursor of the last item.
    pub fn tail(out: &mut Vec<u8>, last: &str) {
        out.extend_from_slice(b"],\"last\":");
        json::write_str(out, last);
        out.push(b'}');
    }
}

/// The pagination part of a list request.
#[derive(JsonSchema, Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
}

impl PageQuery {
    /// The page size to apply: the default when absent, clamped to the allowed range.
    pub fn effective_limit(&self) -> u32 {
        self.limit.unwrap_or(DEFAULT_LIMIT).clamp(MIN_LIMIT, MAX_LIMIT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_page_is_serde_json_byte_for_byte() {
        for data in [vec![], vec!["a".to_owned()], vec!["a".to_owned(), "b\"c".to_owned()]] {
            let page = Page {
                limit: 100,
                last: data.last().cloned().unwrap_or_default(),
                data,
            };
            let mut out = Vec::new();
            json::head(&mut out, page.limit);
            for (index, item) in page.data.iter().enumerate() {
                json::item_separator(&mut out, index);
                crate::json::write_str(&mut out, item);
            }
            json::tail(&mut out, &page.last);
            assert_eq!(String::from_utf8(out).unwrap(), serde_json::to_string(&page).unwrap());
        }
    }
}
