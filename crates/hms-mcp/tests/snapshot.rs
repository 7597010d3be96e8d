//! The tool list (names, descriptions, input schemas, annotations) is what agents see: a
//! change to it must be a reviewed change to `tests/snapshots/tools.json`.

use std::path::PathBuf;

use hms_mcp::ToolSet;
use serde_json::Value;

const UPDATE: &str = "UPDATE_SNAPSHOTS=1 cargo test -p hms-mcp --test snapshot";

fn snapshot_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/tools.json")
}

#[test]
fn tool_list_matches_the_snapshot() {
    let tools = serde_json::to_value(ToolSet::all().tools()).unwrap();
    let actual = serde_json::to_string_pretty(&tools).unwrap() + "\n";
    let path = snapshot_path();
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, &actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}; create it with {UPDATE}", path.display()));
    if actual == expected {
        return;
    }
    let expected_tools: Vec<Value> = serde_json::from_str(&expected).unwrap_or_default();
    let by_name = |list: &[Value], name: &Value| list.iter().find(|tool| &tool["name"] == name).cloned();
    let actual_tools = tools.as_array().unwrap();
    let mut changes = Vec::new();
    for tool in actual_tools {
        match by_name(&expected_tools, &tool["name"]) {
            None => changes.push(format!("added: {}", tool["name"])),
            Some(old) if &old != tool => changes.push(format!("changed: {}", tool["name"])),
            Some(_) => {}
        }
    }
    for tool in &expected_tools {
        if by_name(actual_tools, &tool["name"]).is_none() {
            changes.push(format!("removed: {}", tool["name"]));
        }
    }
    if changes.is_empty() {
        changes.push("the order or formatting of the tools changed".into());
    }
    panic!(
        "the MCP tool list differs from {}:\n  {}\nIf the change is intended, update the snapshot with\n  {UPDATE}\nand review the diff of the file.",
        path.display(),
        changes.join("\n  ")
    );
}
