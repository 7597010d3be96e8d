//! The tools: one per operation of the catalogue, derived from it and from nothing else.

use std::collections::BTreeSet;
use std::sync::Arc;

use hms_api::{Body, OPERATIONS, Operation};
use rmcp::model::{Tool, ToolAnnotations};
use schemars::SchemaGenerator;
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

/// Which tools a server offers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolOptions {
    /// Offer only the tools that only read.
    pub read_only: bool,
    /// Offer only these tools (by tool name, `hms-list-rooms`, or operation name,
    /// `list-rooms`); empty offers every tool.
    pub allow: Vec<String>,
    /// Offer the peer-simulator tools (the target serves `/v2/simulate`).
    pub simulator: bool,
}

/// An allow-list entry that names no tool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownTools(pub Vec<String>);

impl std::fmt::Display for UnknownTools {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "no such MCP tool: {} (the tools are named like hms-list-rooms)",
            self.0.join(", ")
        )
    }
}

impl std::error::Error for UnknownTools {}

/// One offered tool and the operation behind it.
#[derive(Clone)]
pub struct ToolEntry {
    pub op: &'static Operation,
    pub tool: Tool,
    /// The names of the query parameters, which arrive as top-level arguments.
    pub query_params: Vec<String>,
}

/// The tools a server offers, in catalogue order.
#[derive(Clone)]
pub struct ToolSet {
    entries: Arc<Vec<ToolEntry>>,
}

impl std::fmt::Debug for ToolSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.entries.iter().map(|entry| &entry.tool.name))
            .finish()
    }
}

impl ToolSet {
    /// The tools `options` select. Fails when the allow-list names a tool that does not
    /// exist, so that a typo does not silently hide a tool.
    pub fn new(options: &ToolOptions) -> Result<Self, UnknownTools> {
        let allow = allow_list(&options.allow)?;
        let entries = tool_operations()
            .filter(|op| !op.simulator || options.simulator)
            .filter(|op| !options.read_only || op.read_only)
            .filter(|op| allow.as_ref().is_none_or(|allow| allow.contains(&op.tool_name())))
            .map(entry)
            .collect();
        Ok(Self {
            entries: Arc::new(entries),
        })
    }

    /// Every tool of every operation, as `--simulate-peers` with no other option offers.
    pub fn all() -> Self {
        Self::new(&ToolOptions {
            simulator: true,
            ..ToolOptions::default()
        })
        .expect("no allow-list")
    }

    /// No tool at all.
    pub fn empty() -> Self {
        Self {
            entries: Arc::new(Vec::new()),
        }
    }

    pub fn tools(&self) -> Vec<Tool> {
        self.entries.iter().map(|entry| entry.tool.clone()).collect()
    }

    pub fn get(&self, name: &str) -> Option<&ToolEntry> {
        self.entries.iter().find(|entry| entry.tool.name == name)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The operations that are tools: all but the aliases (other spellings of an operation).
pub fn tool_operations() -> impl Iterator<Item = &'static Operation> {
    OPERATIONS.iter().filter(|op| op.alias_of.is_none())
}

/// Checks an allow-list against the tools that exist; `None` when it is empty.
pub fn allow_list(names: &[String]) -> Result<Option<BTreeSet<String>>, UnknownTools> {
    if names.is_empty() {
        return Ok(None);
    }
    let known: BTreeSet<String> = tool_operations().map(Operation::tool_name).collect();
    let mut allow = BTreeSet::new();
    let mut unknown = Vec::new();
    for name in names.iter().map(|name| name.trim()).filter(|name| !name.is_empty()) {
        let tool = if name.starts_with("hms-") {
            name.to_owned()
        } else {
            format!("hms-{name}")
        };
        if known.contains(&tool) {
            allow.insert(tool);
        } else {
            unknown.push(name.to_owned());
        }
    }
    if unknown.is_empty() {
        Ok(Some(allow))
    } else {
        Err(UnknownTools(unknown))
    }
}

fn entry(op: &'static Operation) -> ToolEntry {
    let (input_schema, query_params) = input_schema(op);
    let tool = Tool::new(op.tool_name(), op.description, input_schema)
        .with_title(op.summary)
        .with_annotations(annotations(op));
    ToolEntry { op, tool, query_params }
}

/// The hints come from the catalogue, which decides them per operation: ending a room is
/// destructive, an upsert idempotent. The world is closed: a tool acts only on the
/// workspace of its credentials.
pub fn annotations(op: &Operation) -> ToolAnnotations {
    ToolAnnotations::with_title(op.summary)
        .read_only(op.read_only)
        .destructive(op.destructive)
        .idempotent(op.idempotent)
        .open_world(false)
}

/// Generates schemas with every subschema inlined: tool inputs carry no `$ref`s, which
/// several MCP clients do not resolve.
fn generator() -> SchemaGenerator {
    SchemaSettings::draft2020_12()
        .for_deserialize()
        .with(|settings| {
            settings.inline_subschemas = true;
            settings.meta_schema = None;
        })
        .into_generator()
}

/// The input of a tool: an object with the path parameters (required strings), the query
/// parameters as top-level properties (with `limit` and `start` where the operation
/// pages), and `body` when the operation takes a JSON body. Answers the schema and the
/// names of the query parameters.
pub fn input_schema(op: &Operation) -> (Map<String, Value>, Vec<String>) {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for param in op.path_params() {
        properties.insert(
            param.to_owned(),
            json!({"type": "string", "minLength": 1, "description": hms_api::path_param_description(param)}),
        );
        required.push(Value::from(param));
    }

    let mut query_params = Vec::new();
    if let Some(query) = op.query {
        let mut generator = generator();
        let schema = query(&mut generator).to_value();
        for field in hms_api::object_fields(&schema, generator.definitions()).unwrap_or_default() {
            if field.required {
                required.push(Value::from(field.name.as_str()));
            }
            insert_unique(&mut properties, op, &field.name, field.schema);
            query_params.push(field.name);
        }
    }
    if op.paginated {
        for (name, property) in pagination_properties() {
            match properties.get_mut(&name).and_then(Value::as_object_mut) {
                Some(existing) => {
                    if !existing.contains_key("description") {
                        existing.insert("description".into(), property["description"].clone());
                    }
                }
                None => {
                    insert_unique(&mut properties, op, &name, property);
                    query_params.push(name);
                }
            }
        }
    }

    if let Body::Json(body) = op.body {
        let mut schema = body(&mut generator()).to_value();
        if let Value::Object(object) = &mut schema {
            object.remove("$schema");
            object.remove("title");
            if !object.contains_key("description") {
                object.insert("description".into(), Value::from("The request body."));
            }
        }
        if body_is_required(&schema) {
            required.push(Value::from("body"));
        }
        insert_unique(&mut properties, op, "body", schema);
    }

    let mut schema = Map::new();
    schema.insert("type".into(), Value::from("object"));
    schema.insert("properties".into(), Value::Object(properties));
    if !required.is_empty() {
        schema.insert("required".into(), Value::Array(required));
    }
    schema.insert("additionalProperties".into(), Value::Bool(false));
    (schema, query_params)
}

fn insert_unique(properties: &mut Map<String, Value>, op: &Operation, name: &str, schema: Value) {
    let previous = properties.insert(name.to_owned(), schema);
    assert!(
        previous.is_none(),
        "operation {}: input `{name}` is both a path, query or body input; rename one",
        op.name
    );
}

/// `limit` and `start`, as every paged operation takes them.
fn pagination_properties() -> Vec<(String, Value)> {
    vec![
        (
            "limit".into(),
            json!({"type": "integer", "minimum": 1, "description": "Page size (the API clamps it to 10..100)."}),
        ),
        (
            "start".into(),
            json!({"type": "string", "description": "The `last` of the previous page, to get the next one."}),
        ),
    ]
}

/// A body must be given when its schema requires some field or is no object (an array).
fn body_is_required(schema: &Value) -> bool {
    let requires_fields = schema
        .get("required")
        .and_then(Value::as_array)
        .is_some_and(|fields| !fields.is_empty());
    let is_object = schema.get("type").and_then(Value::as_str) == Some("object");
    requires_fields || !is_object
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(set: &ToolSet) -> Vec<String> {
        set.tools().into_iter().map(|tool| tool.name.into_owned()).collect()
    }

    #[test]
    fn every_operation_but_aliases_is_a_tool() {
        let set = ToolSet::all();
        assert_eq!(set.len(), OPERATIONS.iter().filter(|op| op.alias_of.is_none()).count());
        for op in OPERATIONS {
            assert_eq!(set.get(&op.tool_name()).is_some(), op.alias_of.is_none(), "{}", op.name);
        }
    }

    #[test]
    fn simulator_tools_only_when_asked() {
        let set = ToolSet::new(&ToolOptions::default()).unwrap();
        assert!(set.get("hms-simulate-peer-join").is_none());
        assert!(set.get("hms-list-rooms").is_some());
    }

    #[test]
    fn read_only_keeps_only_reads() {
        let set = ToolSet::new(&ToolOptions {
            read_only: true,
            simulator: true,
            ..ToolOptions::default()
        })
        .unwrap();
        assert!(!set.is_empty());
        for tool in set.tools() {
            let op = set.get(&tool.name).unwrap().op;
            assert!(op.read_only, "{}", op.name);
            assert_eq!(tool.annotations.unwrap().read_only_hint, Some(true));
        }
        assert!(set.get("hms-create-room").is_none());
    }

    #[test]
    fn allow_list_selects_and_checks_names() {
        let set = ToolSet::new(&ToolOptions {
            allow: vec!["hms-get-room-codes".into(), "list-rooms".into()],
            ..ToolOptions::default()
        })
        .unwrap();
        assert_eq!(names(&set), vec!["hms-list-rooms", "hms-get-room-codes"]);
        let error = ToolSet::new(&ToolOptions {
            allow: vec!["hms-list-room".into(), "hms-update-room-code-by-body".into()],
            ..ToolOptions::default()
        })
        .unwrap_err();
        assert_eq!(
            error,
            UnknownTools(vec!["hms-list-room".into(), "hms-update-room-code-by-body".into()])
        );
    }

    #[test]
    fn the_three_room_code_tools() {
        let set = ToolSet::all();
        let create = &set.get("hms-create-room-codes").unwrap().tool;
        assert_eq!(
            Value::Object((*create.input_schema).clone()),
            json!({
                "type": "object",
                "properties": {"room_id": {"type": "string", "minLength": 1, "description": "The room's id (24 hex characters)."}},
                "required": ["room_id"],
                "additionalProperties": false
            })
        );
        assert_eq!(
            create.annotations,
            Some(
                ToolAnnotations::with_title(create.title.clone().unwrap())
                    .read_only(false)
                    .destructive(false)
                    .idempotent(true)
                    .open_world(false)
            )
        );

        let list = &set.get("hms-get-room-codes").unwrap();
        assert_eq!(list.tool.input_schema["required"], json!(["room_id"]));
        assert_eq!(list.query_params, vec!["role", "enabled", "limit", "start"]);
        let hints = list.tool.annotations.clone().unwrap();
        assert_eq!((hints.read_only_hint, hints.idempotent_hint), (Some(true), Some(true)));

        let update = &set.get("hms-update-room-code").unwrap().tool;
        let properties = update.input_schema["properties"].as_object().unwrap();
        assert_eq!(properties.keys().collect::<Vec<_>>(), vec!["code", "body"]);
        assert_eq!(properties["body"]["type"], json!("object"));
        assert_eq!(update.input_schema["required"], json!(["code", "body"]));
        let hints = update.annotations.clone().unwrap();
        assert_eq!(
            (hints.read_only_hint, hints.destructive_hint, hints.idempotent_hint),
            (Some(false), Some(false), Some(true))
        );
    }

    #[test]
    fn schemas_have_no_refs() {
        for tool in ToolSet::all().tools() {
            let text = Value::Object((*tool.input_schema).clone()).to_string();
            assert!(!text.contains("$ref"), "{}: {text}", tool.name);
            assert!(!text.contains("$defs"), "{}: {text}", tool.name);
        }
    }

    #[test]
    fn paged_operations_take_limit_and_start() {
        for entry in ToolSet::all().entries.iter().filter(|entry| entry.op.paginated) {
            assert!(entry.query_params.contains(&"limit".to_owned()), "{}", entry.op.name);
            assert!(entry.query_params.contains(&"start".to_owned()), "{}", entry.op.name);
        }
    }
}
