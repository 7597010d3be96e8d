//! How answers are shown: a readable table by default, the server's JSON with `--json`,
//! one value with `--field PATH`.
//!
//! The table is derived from the JSON alone, so that operations added to the catalogue
//! show well without code here: a list (a page's `data`, an array, or a map of objects
//! such as an active room's `peers`) becomes one row per item with a column per scalar
//! field; a single object becomes `key  value` lines, followed by a table for each list
//! it holds.

use serde_json::Value;

/// Fields left out of list tables (still shown for a single object and in `--json`):
/// duplicates and ids of the account every row shares.
const NOISE: &[&str] = &[
    "customer_id",
    "customerId",
    "customer",
    "app_id",
    "appId",
    "_id",
    "recording_source_template",
    "updated_at",
    "updatedAt",
];

/// Longest cell of a list table on a terminal; longer ones are cut with `…`.
const MAX_CELL: usize = 48;

/// How to show an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    /// Output goes to a terminal: JSON is indented and long list cells are cut.
    pub terminal: bool,
}

/// The server's JSON, indented on a terminal and on one line otherwise.
pub fn json(value: &Value, style: Style) -> String {
    let text = if style.terminal {
        serde_json::to_string_pretty(value)
    } else {
        serde_json::to_string(value)
    };
    text.expect("JSON values serialize")
}

/// The value at `path` (dot-separated keys and array indexes, e.g. `data.0.code`): a
/// string as it is, anything else as JSON. When the answer has no such field but holds a
/// list, the path is looked up in each item, one line each (none for an empty list).
pub fn field(value: &Value, path: &str) -> Option<Vec<String>> {
    if let Some(found) = lookup(value, path) {
        return Some(vec![scalar_text(found)]);
    }
    items(value)?
        .iter()
        .map(|item| lookup(item, path).map(scalar_text))
        .collect()
}

fn lookup<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .filter(|key| !key.is_empty())
        .try_fold(value, |value, key| match value {
            Value::Object(map) => map.get(key),
            Value::Array(items) => key.parse::<usize>().ok().and_then(|index| items.get(index)),
            _ => None,
        })
}

fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// The items of a list answer: an array, or an object's `data` array.
fn items(value: &Value) -> Option<Vec<&Value>> {
    match value {
        Value::Array(items) => Some(items.iter().collect()),
        Value::Object(map) => match map.get("data") {
            Some(Value::Array(items)) => Some(items.iter().collect()),
            _ => None,
        },
        _ => None,
    }
}

/// The answer as text for people.
pub fn render(value: &Value, style: Style) -> String {
    match value {
        Value::Null => String::new(),
        Value::Array(items) => rows_table(&items.iter().collect::<Vec<_>>(), style),
        Value::Object(map) => {
            // A page: its items (the caller tells about `last`).
            if let Some(Value::Array(items)) = map.get("data")
                && map.iter().all(|(key, value)| key == "data" || cell(value).is_some())
            {
                return rows_table(&items.iter().collect::<Vec<_>>(), style);
            }
            let mut pairs = Vec::new();
            let mut lists = Vec::new();
            for (key, value) in map {
                if is_list(value) {
                    lists.push((key, value));
                } else {
                    pairs.push(vec![key.clone(), cell(value).unwrap_or_else(|| value.to_string())]);
                }
            }
            let mut text = table_without_header(&pairs);
            for (key, value) in lists {
                if !text.is_empty() {
                    text.push('\n');
                }
                text.push_str(&format!("{key}:\n"));
                let list = match value {
                    Value::Array(items) => items.iter().collect(),
                    Value::Object(map) => map.values().collect(),
                    _ => Vec::new(),
                };
                text.push_str(&indent(&rows_table(&list, style)));
            }
            text
        }
        scalar => format!("{}\n", scalar_text(scalar)),
    }
}

/// Whether `value` is shown as a table of its own: an array of objects, or an object whose
/// values are all objects (a map keyed by id or name).
fn is_list(value: &Value) -> bool {
    match value {
        Value::Array(items) => !items.is_empty() && items.iter().all(Value::is_object),
        Value::Object(map) => !map.is_empty() && map.values().all(Value::is_object),
        _ => false,
    }
}

fn indent(text: &str) -> String {
    text.lines().map(|line| format!("  {line}\n")).collect()
}

/// A scalar (or an array of scalars) as a cell; `None` for objects and arrays of objects.
fn cell(value: &Value) -> Option<String> {
    match value {
        Value::Null => Some(String::new()),
        Value::String(text) => Some(text.clone()),
        Value::Bool(_) | Value::Number(_) => Some(value.to_string()),
        Value::Array(items) if items.iter().all(|item| !item.is_object() && !item.is_array()) => {
            Some(items.iter().map(scalar_text).collect::<Vec<_>>().join(","))
        }
        _ => None,
    }
}

/// One row per item, one column per scalar field (in the order fields first appear).
fn rows_table(items: &[&Value], style: Style) -> String {
    if items.is_empty() {
        return "(none)\n".to_owned();
    }
    if !items.iter().all(|item| item.is_object()) {
        return items.iter().map(|item| format!("{}\n", scalar_text(item))).collect();
    }
    let mut columns: Vec<&str> = Vec::new();
    for item in items {
        for (key, value) in item.as_object().expect("objects") {
            if !NOISE.contains(&key.as_str()) && cell(value).is_some() && !columns.contains(&key.as_str()) {
                columns.push(key);
            }
        }
    }
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|item| {
            columns
                .iter()
                .map(|column| {
                    let text = item.get(*column).and_then(cell).unwrap_or_default();
                    if style.terminal { cut(text) } else { text }
                })
                .collect()
        })
        .collect();
    let header: Vec<String> = columns.iter().map(|column| heading(column)).collect();
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    table(&header, &rows)
}

/// `created_at` and `maxPeerCount` as column headings: `CREATED_AT`, `MAX_PEER_COUNT`.
fn heading(key: &str) -> String {
    let mut out = String::new();
    let mut previous_lower = false;
    for c in key.chars() {
        if c.is_ascii_uppercase() && previous_lower {
            out.push('_');
        }
        previous_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        out.push(c.to_ascii_uppercase());
    }
    out
}

fn cut(text: String) -> String {
    if text.chars().count() <= MAX_CELL {
        return text;
    }
    let mut cut: String = text.chars().take(MAX_CELL - 1).collect();
    cut.push('…');
    cut
}

/// Columns aligned with two spaces between them; the last column is not padded.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut lines = vec![header.iter().map(|h| (*h).to_owned()).collect::<Vec<_>>()];
    lines.extend(rows.iter().cloned());
    aligned(&lines)
}

fn table_without_header(rows: &[Vec<String>]) -> String {
    aligned(rows)
}

fn aligned(lines: &[Vec<String>]) -> String {
    let columns = lines.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|column| {
            lines
                .iter()
                .filter_map(|line| line.get(column))
                .map(|cell| cell.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut text = String::new();
    for line in lines {
        let mut out = String::new();
        for (column, cell) in line.iter().enumerate() {
            if column + 1 == line.len() {
                out.push_str(cell);
            } else {
                out.push_str(cell);
                out.push_str(&" ".repeat(widths[column] - cell.chars().count() + 2));
            }
        }
        text.push_str(out.trim_end());
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const PLAIN: Style = Style { terminal: false };
    const TERMINAL: Style = Style { terminal: true };

    #[test]
    fn pages_become_tables_without_noise_columns() {
        let page = json!({"limit": 10, "data": [
            {"id": "r1", "name": "standup", "enabled": true, "customer_id": "c", "polls": ["a", "b"],
             "recording_info": {"enabled": false}},
            {"id": "r2", "name": "a-much-longer-name", "enabled": false, "customer_id": "c", "size": 5}
        ], "last": "r2"});
        assert_eq!(
            render(&page, PLAIN),
            "ID  NAME                ENABLED  POLLS  SIZE\n\
             r1  standup             true     a,b\n\
             r2  a-much-longer-name  false           5\n"
        );
        assert_eq!(render(&json!({"limit": 10, "data": [], "last": ""}), PLAIN), "(none)\n");
    }

    #[test]
    fn objects_become_key_value_lines_and_their_lists_tables() {
        let session = json!({"id": "s1", "active": true, "meta": {"a": 1}, "peers": {
            "p1": {"id": "p1", "name": "Ann", "role": "host"},
            "p2": {"id": "p2", "name": "Bob", "role": "guest"}
        }});
        assert_eq!(
            render(&session, PLAIN),
            "id      s1\n\
             active  true\n\
             meta    {\"a\":1}\n\
             \n\
             peers:\n  \
               ID  NAME  ROLE\n  \
               p1  Ann   host\n  \
               p2  Bob   guest\n"
        );
        assert_eq!(render(&Value::Null, PLAIN), "");
        assert_eq!(render(&json!({"message": "ok"}), PLAIN), "message  ok\n");
        assert_eq!(
            render(&json!([{"maxPeerCount": 1, "created_at": "t"}]), PLAIN),
            "MAX_PEER_COUNT  CREATED_AT\n1               t\n"
        );
    }

    #[test]
    fn long_cells_are_cut_on_a_terminal_only() {
        let long = "x".repeat(60);
        let list = json!([{ "description": long }]);
        assert_eq!(render(&list, PLAIN), format!("DESCRIPTION\n{long}\n"));
        assert_eq!(render(&list, TERMINAL), format!("DESCRIPTION\n{}…\n", "x".repeat(47)));
        // A single object's values are never cut: tokens must stay whole.
        let token = json!({ "token": long });
        assert_eq!(render(&token, TERMINAL), format!("token  {long}\n"));
    }

    #[test]
    fn fields_are_picked_by_path_or_from_each_item() {
        let page = json!({"limit": 10, "data": [{"code": "a", "n": 1}, {"code": "b", "n": 2}], "last": ""});
        let lines = |found: &[&str]| Some(found.iter().map(|line| (*line).to_owned()).collect::<Vec<_>>());
        assert_eq!(field(&page, "data.1.code"), lines(&["b"]));
        assert_eq!(field(&page, "limit"), lines(&["10"]));
        assert_eq!(field(&page, "code"), lines(&["a", "b"]));
        assert_eq!(field(&page, "data.0"), lines(&["{\"code\":\"a\",\"n\":1}"]));
        assert_eq!(field(&page, "nothing"), None);
        assert_eq!(field(&json!({"data": [], "last": ""}), "code"), lines(&[]));
        assert_eq!(json(&json!({"a": [1]}), PLAIN), "{\"a\":[1]}");
        assert_eq!(json(&json!({"a": 1}), TERMINAL), "{\n  \"a\": 1\n}");
    }
}
