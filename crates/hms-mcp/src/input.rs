//! From a tool call's arguments to the operation's path, query and body.

use hms_api::Body;
use hms_api::OperationInput;
use serde_json::{Map, Value};

use crate::tools::ToolEntry;

/// Splits the arguments of a call of `entry`'s tool into the operation's input. Fails,
/// with a message for the model, on an argument the tool does not take or a path
/// parameter that is missing or no string.
pub fn operation_input(entry: &ToolEntry, arguments: Map<String, Value>) -> Result<OperationInput, String> {
    let op = entry.op;
    let path_params = op.path_params();
    let mut input = OperationInput::default();
    let mut unknown = Vec::new();
    for (name, value) in arguments {
        if path_params.contains(&name.as_str()) {
            match value {
                Value::String(text) if !text.trim().is_empty() => {
                    input.path.insert(name, Value::String(text));
                }
                Value::Number(number) => {
                    input.path.insert(name, Value::String(number.to_string()));
                }
                other => return Err(format!("`{name}` must be a non-empty string, not {other}")),
            }
        } else if entry.query_params.contains(&name) {
            if !value.is_null() {
                input.query.insert(name, value);
            }
        } else if name == "body" && matches!(op.body, Body::Json(_)) {
            input.body = Some(value);
        } else {
            unknown.push(name);
        }
    }
    if !unknown.is_empty() {
        let takes: Vec<&str> = entry.tool.input_schema["properties"]
            .as_object()
            .map(|properties| properties.keys().map(String::as_str).collect())
            .unwrap_or_default();
        return Err(format!(
            "{} takes no argument {}; its arguments are: {}",
            entry.tool.name,
            unknown.join(", "),
            if takes.is_empty() {
                "none".to_owned()
            } else {
                takes.join(", ")
            }
        ));
    }
    let missing: Vec<&str> = path_params
        .into_iter()
        .filter(|param| !input.path.contains_key(*param))
        .collect();
    if !missing.is_empty() {
        return Err(format!("missing required argument: {}", missing.join(", ")));
    }
    Ok(input)
}

/// Query parameters as the API reads them: arrays become repeated keys, `null`s are left
/// out, everything else is written as its JSON text (strings without quotes).
pub fn query_pairs(query: &Map<String, Value>) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    for (key, value) in query {
        match value {
            Value::Null => {}
            Value::Array(items) => pairs.extend(items.iter().map(|item| (key.clone(), scalar(item)))),
            other => pairs.push((key.clone(), scalar(other))),
        }
    }
    pairs
}

fn scalar(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::ToolSet;
    use serde_json::json;

    fn args(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn splits_path_query_and_body() {
        let set = ToolSet::all();
        let list = set.get("hms-get-room-codes").unwrap();
        let input = operation_input(
            list,
            args(json!({"room_id": "abc", "enabled": true, "limit": 20, "role": null})),
        )
        .unwrap();
        assert_eq!(
            input,
            OperationInput {
                path: args(json!({"room_id": "abc"})),
                query: args(json!({"enabled": true, "limit": 20})),
                body: None,
            }
        );
        assert_eq!(
            query_pairs(&input.query),
            vec![("enabled".into(), "true".into()), ("limit".into(), "20".into())]
        );

        let update = set.get("hms-update-room-code").unwrap();
        let input = operation_input(
            update,
            args(json!({"code": "abc-defg-hij", "body": {"enabled": false}})),
        )
        .unwrap();
        assert_eq!(input.body, Some(json!({"enabled": false})));
    }

    #[test]
    fn refuses_what_the_tool_does_not_take() {
        let set = ToolSet::all();
        let create = set.get("hms-create-room-codes").unwrap();
        assert_eq!(
            operation_input(create, args(json!({"room_id": "abc", "body": {}}))).unwrap_err(),
            "hms-create-room-codes takes no argument body; its arguments are: room_id"
        );
        assert_eq!(
            operation_input(create, Map::new()).unwrap_err(),
            "missing required argument: room_id"
        );
        assert_eq!(
            operation_input(create, args(json!({"room_id": ""}))).unwrap_err(),
            "`room_id` must be a non-empty string, not \"\""
        );
    }
}
