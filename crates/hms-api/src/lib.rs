//! The catalogue of operations.
//!
//! Every operation the server offers is described here once: its name, method and path,
//! the schemas of its input and output, and what it does to state. The six surfaces
//! through which people reach the operations — the REST routes, the Rust client, the CLI,
//! the MCP tools, the OpenAPI document and the Postman collection — are derived from this
//! list or checked against it, so that a new endpoint appears everywhere at once.

mod catalogue;

pub use catalogue::OPERATIONS;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{Map, Value};

/// Makes the JSON Schema of a type in a given generator (which decides inlining and
/// where definitions go).
pub type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

/// The schema function of `T`.
pub fn schema<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<T>()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    Get,
    Post,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Delete => "DELETE",
        }
    }
}

/// The API groups, as 100ms's docs and Postman collection name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Group {
    Rooms,
    RoomCodes,
    Templates,
    Roles,
    Sessions,
    ActiveRooms,
    Auth,
    Analytics,
    Simulator,
}

impl Group {
    /// Folder name in the Postman collection and tag in the OpenAPI document.
    pub fn title(self) -> &'static str {
        match self {
            Group::Rooms => "Room APIs",
            Group::RoomCodes => "Room Code APIs",
            Group::Templates => "Policy APIs",
            Group::Roles => "Role APIs",
            Group::Sessions => "Session APIs",
            Group::ActiveRooms => "Active Room APIs",
            Group::Auth => "Auth APIs",
            Group::Analytics => "Analytics APIs",
            Group::Simulator => "Peer Simulator APIs",
        }
    }

    /// What the group is for: the tag's description in the OpenAPI document, the folder's
    /// in the Postman collection, the group's long help in the CLI.
    pub fn description(self) -> &'static str {
        match self {
            Group::Rooms => "Rooms: create, retrieve, list, update, enable and disable. Rooms are never deleted.",
            Group::RoomCodes => {
                "Room codes: short codes bound to a room and a role, which client apps exchange for an app token."
            }
            Group::Templates => {
                "Templates (policies): the roles, settings, destinations and recording configs rooms are created \
                 from."
            }
            Group::Roles => "The roles of a template: what a peer of the role may publish, subscribe to and do.",
            Group::Sessions => "Sessions: the calls that took place in rooms, with every peer that joined.",
            Group::ActiveRooms => {
                "Active rooms: the room while a session runs, its peers, messages to them, removing them and \
                 ending the session."
            }
            Group::Auth => "The room-code exchange client apps call to join a room. It needs no management token.",
            Group::Analytics => {
                "Webhook deliveries: the history of every event sent to your endpoints, with its outcome, and \
                 replays that send past events again."
            }
            Group::Simulator => {
                "Peers without media that join and leave through the same room runtime as real peers, for tests \
                 of your own backend. Served only when the server runs with `--simulate-peers`."
            }
        }
    }

    /// Subcommand of the `hms` CLI.
    pub fn command(self) -> &'static str {
        match self {
            Group::Rooms => "rooms",
            Group::RoomCodes => "room-codes",
            Group::Templates => "templates",
            Group::Roles => "roles",
            Group::Sessions => "sessions",
            Group::ActiveRooms => "active-rooms",
            Group::Auth => "auth",
            Group::Analytics => "webhooks",
            Group::Simulator => "simulate",
        }
    }
}

/// Who may call an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// `Authorization: Bearer <management token>`.
    Management,
    /// No credential: the room-code exchange, where the code is the credential.
    None,
}

/// What an operation takes as its body.
#[derive(Clone, Copy)]
pub enum Body {
    None,
    /// A JSON body of this schema.
    Json(SchemaFn),
    /// A body the operation always sends, such as `{"enabled": false}` for disabling a room.
    Fixed(fn() -> Value),
}

/// What an operation answers on success.
#[derive(Clone, Copy)]
pub enum Response {
    /// 200 with a JSON body of this schema.
    Json(SchemaFn),
    /// 204 with no body.
    NoContent,
}

/// One operation of the API.
#[derive(Clone, Copy)]
pub struct Operation {
    /// Kebab-case name: the MCP tool is `hms-<name>`, the OpenAPI `operationId` is it.
    pub name: &'static str,
    pub group: Group,
    /// Verb of the CLI within its group: `hms <group> <command>`.
    pub command: &'static str,
    pub method: Method,
    /// Path with `{param}` placeholders, from the server's root.
    pub path: &'static str,
    /// One line, for lists and menus.
    pub summary: &'static str,
    /// What it does and when to use it, for people and models that must choose it.
    pub description: &'static str,
    pub auth: Auth,
    pub query: Option<SchemaFn>,
    pub body: Body,
    pub response: Response,
    /// Answers a `{limit, data, last}` page and takes `limit` and `start`.
    pub paginated: bool,
    /// Only reads.
    pub read_only: bool,
    /// Destroys or disables something (ending a room, removing peers, deleting a role).
    pub destructive: bool,
    /// Repeating it with the same input changes nothing more.
    pub idempotent: bool,
    /// An example body, for documentation and the Postman collection.
    pub example: Option<fn() -> Value>,
    /// The name of the operation this one is another spelling of (another path the server
    /// also accepts). Aliases are documented but are not offered as tools or commands.
    pub alias_of: Option<&'static str>,
    /// Served only when the peer simulator is on.
    pub simulator: bool,
    /// The error statuses its service answers that its shape does not imply (see
    /// [`Operation::error_statuses`]): 403 (a disabled room or code, a role that is full or
    /// may not be joined), 404 without a path parameter (a code in the body, a room removed
    /// while it was created) and 409 (writes that keep colliding, a name taken).
    pub errors: &'static [u16],
}

impl Operation {
    /// Names of the path's `{param}` placeholders, in order.
    pub fn path_params(&self) -> Vec<&'static str> {
        self.path
            .split('/')
            .filter_map(|segment| segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .collect()
    }

    /// The path with its placeholders replaced by `values` (percent-encoded).
    pub fn fill_path(&self, values: &Map<String, Value>) -> Result<String, String> {
        let mut path = String::new();
        for segment in self.path.split('/').skip(1) {
            path.push('/');
            match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(param) => {
                    let value = match values.get(param) {
                        Some(Value::String(text)) if !text.is_empty() => text.clone(),
                        Some(Value::Number(number)) => number.to_string(),
                        _ => return Err(format!("{param} is required")),
                    };
                    path.push_str(&encode_segment(&value));
                }
                None => path.push_str(segment),
            }
        }
        Ok(path)
    }

    /// The error statuses the operation can answer, ascending. Every one carries the error
    /// envelope.
    ///
    /// - 400: it takes input (a path parameter, a query or a body) that can be malformed
    ///   or invalid;
    /// - 401: it needs a management token;
    /// - 403, 409 and 404 without path parameters: as [`Operation::errors`] says;
    /// - 404: it names a resource in its path;
    /// - 413: it reads a body, which has a size limit.
    ///
    /// 405 is left out: every documented method is served on its path.
    pub fn error_statuses(&self) -> Vec<u16> {
        let has_body = !matches!(self.body, Body::None);
        let has_path_params = !self.path_params().is_empty();
        let mut statuses = Vec::new();
        if has_path_params || self.query.is_some() || has_body {
            statuses.push(400);
        }
        if self.auth == Auth::Management {
            statuses.push(401);
        }
        statuses.extend(self.errors);
        if has_path_params {
            statuses.push(404);
        }
        if has_body {
            statuses.push(413);
        }
        statuses.sort_unstable();
        statuses.dedup();
        statuses
    }

    /// The `hms-` name of the operation's MCP tool.
    pub fn tool_name(&self) -> String {
        format!("hms-{}", self.name)
    }
}

/// What each path parameter of the catalogue is, for the OpenAPI document, the MCP tools'
/// input schemas and the CLI's help. A test checks that every parameter has one.
const PATH_PARAMS: &[(&str, &str)] = &[
    ("room_id", "The room's id (24 hex characters)."),
    ("code", "The room code, such as abc-defg-hij."),
    ("role", "The role's name, as in the template."),
    ("template_id", "The template's id (24 hex characters)."),
    ("session_id", "The session's id (24 hex characters)."),
    ("peer_id", "The peer's id (a UUID)."),
    ("workflow_id", "The replay's workflow id, as starting it answered."),
];

/// What the path parameter `name` is (empty for a name no operation has).
pub fn path_param_description(name: &str) -> &'static str {
    PATH_PARAMS
        .iter()
        .find(|(param, _)| *param == name)
        .map_or("", |(_, description)| description)
}

/// Percent-encodes what may not stand in a path segment.
fn encode_segment(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~' | b':') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Which operations a server serves, as it is configured: the peer simulator's only when
/// it runs with `--simulate-peers`. The documents it serves (OpenAPI, Postman, the docs
/// page) and its MCP tools list these and no others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Served {
    /// The peer simulator is on.
    pub simulator: bool,
}

impl Served {
    /// A server started with `--simulate-peers`: every operation.
    pub const ALL: Served = Served { simulator: true };

    /// Whether such a server serves `op`.
    pub fn serves(self, op: &Operation) -> bool {
        self.simulator || !op.simulator
    }

    /// The operations such a server serves, in the catalogue's order.
    pub fn operations(self) -> impl Iterator<Item = &'static Operation> {
        OPERATIONS.iter().filter(move |op| self.serves(op))
    }
}

/// The input of one call of an operation: its path parameters, query parameters and
/// body, as the CLI, the MCP tools and the client's untyped calls gather them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OperationInput {
    pub path: Map<String, Value>,
    pub query: Map<String, Value>,
    pub body: Option<Value>,
}

/// A property of an object schema: a query parameter, or a top-level field of a body.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: String,
    /// Its schema as the object's schema gives it (a `$ref` stays one).
    pub schema: Value,
    pub required: bool,
}

impl Field {
    /// What the schema says the field is, if it says.
    pub fn description(&self) -> Option<&str> {
        self.schema.get("description").and_then(Value::as_str)
    }
}

/// The fields of an object schema — a query's, or a body's — in the order the schema
/// lists them; `None` when the schema (after following a `$ref` into `definitions`) is
/// no object with properties. The CLI's flags, the MCP tools' inputs and the documents'
/// query parameters are all made from these.
pub fn object_fields(schema: &Value, definitions: &Map<String, Value>) -> Option<Vec<Field>> {
    let root = resolve(schema, definitions);
    let properties = root.get("properties")?.as_object()?;
    let required: Vec<&str> = root
        .get("required")
        .and_then(Value::as_array)
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    Some(
        properties
            .iter()
            .map(|(name, schema)| Field {
                name: name.clone(),
                schema: schema.clone(),
                required: required.contains(&name.as_str()),
            })
            .collect(),
    )
}

/// `schema` with a `$ref` to one of `definitions` replaced by what it names (its own
/// keywords kept beside), followed a few levels deep.
pub fn resolve(schema: &Value, definitions: &Map<String, Value>) -> Value {
    let mut schema = schema.clone();
    for _ in 0..8 {
        let Some(reference) = schema.get("$ref").and_then(Value::as_str) else {
            break;
        };
        let name = reference.rsplit('/').next().unwrap_or(reference);
        let Some(target) = definitions.get(name) else {
            break;
        };
        let mut merged = target.clone();
        if let (Some(merged), Some(own)) = (merged.as_object_mut(), schema.as_object()) {
            for (key, value) in own.iter().filter(|(key, _)| *key != "$ref") {
                merged.insert(key.clone(), value.clone());
            }
        }
        schema = merged;
    }
    schema
}

/// The operation named `name`.
pub fn find(name: &str) -> Option<&'static Operation> {
    OPERATIONS.iter().find(|op| op.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn the_fields_of_an_object_follow_its_reference() {
        let definitions: Map<String, Value> = serde_json::from_value(serde_json::json!({
            "Query": {"type": "object", "required": ["b"], "properties": {
                "a": {"type": "integer", "description": "An a."},
                "b": {"$ref": "#/$defs/B"},
            }},
        }))
        .unwrap();
        let fields = object_fields(&serde_json::json!({"$ref": "#/$defs/Query"}), &definitions).unwrap();
        let names: Vec<(&str, bool, Option<&str>)> = fields
            .iter()
            .map(|field| (field.name.as_str(), field.required, field.description()))
            .collect();
        assert_eq!(names, [("a", false, Some("An a.")), ("b", true, None)]);
        assert_eq!(fields[1].schema, serde_json::json!({"$ref": "#/$defs/B"}));
        assert_eq!(object_fields(&serde_json::json!({"type": "array"}), &definitions), None);
    }

    #[test]
    fn names_and_commands_are_unique() {
        let names: HashSet<_> = OPERATIONS.iter().map(|op| op.name).collect();
        assert_eq!(names.len(), OPERATIONS.len());
        let commands: HashSet<_> = OPERATIONS
            .iter()
            .filter(|op| op.alias_of.is_none())
            .map(|op| (op.group, op.command))
            .collect();
        assert_eq!(
            commands.len(),
            OPERATIONS.iter().filter(|op| op.alias_of.is_none()).count()
        );
    }

    #[test]
    fn aliases_name_real_operations() {
        for op in OPERATIONS.iter().filter_map(|op| op.alias_of) {
            assert!(find(op).is_some(), "{op}");
        }
    }

    #[test]
    fn hints_are_consistent() {
        for op in OPERATIONS {
            assert_eq!(op.read_only, op.method == Method::Get, "{}", op.name);
            assert!(!(op.read_only && op.destructive), "{}", op.name);
            assert!(!op.paginated || op.read_only, "{}", op.name);
        }
    }

    #[test]
    fn without_the_simulator_its_operations_are_not_served() {
        let served: Vec<&str> = Served::default().operations().map(|op| op.name).collect();
        assert!(!served.contains(&"simulate-peer-join"));
        assert!(served.contains(&"create-room"));
        let simulated = OPERATIONS.iter().filter(|op| op.simulator).count();
        assert_eq!(served.len() + simulated, OPERATIONS.len());
        assert_eq!(Served::ALL.operations().count(), OPERATIONS.len());
    }

    #[test]
    fn error_statuses_follow_the_shape_and_the_declared_ones() {
        let status_of = |name| find(name).unwrap().error_statuses();
        assert_eq!(status_of("exchange-room-code"), [400, 403, 404, 413]);
        assert_eq!(status_of("list-rooms"), [400, 401]);
        assert_eq!(status_of("delete-role"), [400, 401, 404, 409]);
        assert_eq!(status_of("create-room"), [400, 401, 404, 409, 413]);
        assert_eq!(status_of("update-room"), [400, 401, 404, 409, 413]);
        for op in OPERATIONS {
            assert!(
                op.errors.iter().all(|status| [403, 404, 409].contains(status)),
                "{}: {:?}",
                op.name,
                op.errors
            );
        }
    }

    #[test]
    fn every_path_parameter_is_described() {
        for op in OPERATIONS {
            for param in op.path_params() {
                assert!(!path_param_description(param).is_empty(), "{}: {param}", op.name);
            }
        }
    }

    #[test]
    fn fills_paths() {
        let op = find("create-room-code-for-role").unwrap();
        assert_eq!(op.path_params(), vec!["room_id", "role"]);
        let values = serde_json::json!({"room_id": "abc", "role": "a b"});
        assert_eq!(
            op.fill_path(values.as_object().unwrap()).unwrap(),
            "/v2/room-codes/room/abc/role/a%20b"
        );
        assert_eq!(op.fill_path(&Map::new()).unwrap_err(), "room_id is required");
    }

    #[test]
    fn every_schema_generates() {
        let mut generator = SchemaGenerator::default();
        for op in OPERATIONS {
            if let Some(query) = op.query {
                query(&mut generator);
            }
            if let Body::Json(body) = op.body {
                body(&mut generator);
            }
            if let Response::Json(response) = op.response {
                response(&mut generator);
            }
        }
    }
}
