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
