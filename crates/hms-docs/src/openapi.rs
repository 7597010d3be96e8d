//! The OpenAPI 3.1 document, generated from the catalogue.
//!
//! Request schemas describe what the server accepts (the deserializing side of the wire
//! types), response schemas what it sends (the serializing side). Where the two differ
//! for a type, for example a field that may be left out of a request but is always
//! answered, the request's version is named `<Type>Input`.

use std::collections::{BTreeSet, HashMap};

use hms_api::{Auth, Body, Group, Method, Operation, Response, Served};
use schemars::SchemaGenerator;
use schemars::generate::{Contract, SchemaSettings};
use serde_json::{Map, Value, json};

const SCHEMAS: &str = "#/components/schemas/";
/// The name of the security scheme of management tokens.
pub const SECURITY_SCHEME: &str = "managementToken";

fn generator(contract: Contract) -> SchemaGenerator {
    let mut settings = SchemaSettings::draft2020_12().with(|settings| {
        settings.definitions_path = "/components/schemas".into();
        settings.meta_schema = None;
    });
    settings.contract = contract;
    settings.into_generator()
}

/// One method of one path: the operations the catalogue serves there. Usually one; several
/// when they differ only by a fixed body, such as update, enable and disable of a room.
struct Endpoint {
    path: &'static str,
    method: Method,
    operations: Vec<&'static Operation>,
}

impl Endpoint {
    /// The operation that names the endpoint: the one with a free-form body, else the first.
    fn primary(&self) -> &'static Operation {
        self.operations
            .iter()
            .find(|op| matches!(op.body, Body::Json(_)))
            .unwrap_or(&self.operations[0])
    }
}

fn endpoints(served: Served) -> Vec<Endpoint> {
    let mut endpoints: Vec<Endpoint> = Vec::new();
    for op in served.operations() {
        match endpoints
            .iter_mut()
            .find(|e| e.path == op.path && e.method == op.method)
        {
            Some(endpoint) => endpoint.operations.push(op),
            None => endpoints.push(Endpoint {
                path: op.path,
                method: op.method,
                operations: vec![op],
            }),
        }
    }
    endpoints
}

/// The parts of an operation that hold schemas, before the schemas' names are settled.
struct Schemas {
    /// Query parameters: name, schema, required, description.
    query: Vec<(String, Value, bool, Option<String>)>,
    body: Option<Value>,
    response: Option<Value>,
}

/// The OpenAPI 3.1 document of the operations of the catalogue a server configured as
/// `served` serves.
pub fn openapi(served: Served) -> Value {
    let mut requests = generator(Contract::Deserialize);
    let mut responses = generator(Contract::Serialize);
    let error_body = hms_api::schema::<hms_types::ErrorBody>(&mut responses).to_value();

    let endpoints = endpoints(served);
    let mut schemas: Vec<Schemas> = endpoints
        .iter()
        .map(|endpoint| {
            let op = endpoint.primary();
            Schemas {
                query: op
                    .query
                    .map(|query| query_parameters(&query(&mut requests).to_value(), &requests))
                    .unwrap_or_default(),
                body: match op.body {
                    Body::Json(schema) => Some(schema(&mut requests).to_value()),
                    Body::Fixed(_) => Some(json!({"type": "object"})),
                    Body::None => None,
                },
                response: match op.response {
                    Response::Json(schema) => Some(schema(&mut responses).to_value()),
                    Response::NoContent => None,
                },
            }
        })
        .collect();

    // Settle the names: a type whose two sides differ keeps its name for the response side.
    let mut request_definitions = requests.take_definitions(true);
    let response_definitions = responses.take_definitions(true);
    let renames: HashMap<String, String> = request_definitions
        .iter()
        .filter(|(name, schema)| response_definitions.get(*name).is_some_and(|other| other != *schema))
        .map(|(name, _)| (name.clone(), format!("{name}Input")))
        .collect();
    for schema in request_definitions.values_mut() {
        rename_refs(schema, &renames);
    }
    for parts in &mut schemas {
        for (_, schema, _, _) in &mut parts.query {
            rename_refs(schema, &renames);
        }
        if let Some(body) = &mut parts.body {
            rename_refs(body, &renames);
        }
    }
    let mut definitions = response_definitions;
    for (name, schema) in request_definitions {
        let name = renames.get(&name).cloned().unwrap_or(name);
        definitions.entry(name).or_insert(schema);
    }

    let mut paths = Map::new();
    for (endpoint, parts) in endpoints.iter().zip(schemas) {
        let operation = operation(endpoint, parts, &definitions);
        paths
            .entry(endpoint.path)
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .expect("path item")
            .insert(endpoint.method.as_str().to_ascii_lowercase(), operation);
    }
    // In the catalogue's order: sorting by path would scatter the groups.
    let paths = Value::Object(paths);

    // Keep only the schemas the document uses (query types become parameters).
    let used = reachable(&paths, &error_body, &definitions);
    definitions.retain(|name, _| used.contains(name));
    let mut sorted: Vec<(String, Value)> = definitions.into_iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let schemas: Map<String, Value> = sorted.into_iter().collect();

    let tags: Vec<Value> = groups(served)
        .into_iter()
        .map(|group| json!({"name": group.title(), "description": group.description()}))
        .collect();

    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "openhms",
            "version": env!("CARGO_PKG_VERSION"),
            "summary": "The 100ms server-side REST API v2, self-hosted",
            "description": DESCRIPTION,
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "servers": [{"url": "/", "description": "this server"}],
        "security": [{SECURITY_SCHEME: []}],
        "tags": tags,
        "paths": paths,
        "components": {
            "securitySchemes": {
                SECURITY_SCHEME: {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "A management token: a JWT signed with HS256 by the app secret, with the claims \
                                    access_key, type \"management\", version 2, iat, nbf, exp and jti. \
                                    `hms token management` mints one.",
                }
            },
            "responses": error_responses(served, &error_body),
            "schemas": schemas,
        },
    })
}

const DESCRIPTION: &str = "openhms serves the 100ms server-side REST API v2: rooms, room codes, templates \
(policies) and their roles, sessions, active rooms, and the room-code exchange client apps use to join. \
Every call but the exchange needs a management token as `Authorization: Bearer <token>`. Failures answer \
the envelope `{\"code\", \"message\", \"details\"}` with `code` equal to the HTTP status.\n\n\
The Postman collection of the same operations is at `/postman.json`; it mints its own management token \
from the collection variables `APP_ACCESS_KEY` and `APP_SECRET`.";

/// The order of the groups: the order in which a newcomer meets them, and in which the
/// Postman collection runs them (each needs what the ones before it made).
pub(crate) fn group_rank(group: Group) -> usize {
    match group {
        Group::Templates => 0,
        Group::Roles => 1,
        Group::Rooms => 2,
        Group::RoomCodes => 3,
        Group::Auth => 4,
        Group::Simulator => 5,
        Group::ActiveRooms => 6,
        Group::Sessions => 7,
        // Groups added later run last, in the catalogue's order.
        _ => 100,
    }
}

/// The groups that have operations, in [`group_rank`] order.
pub(crate) fn groups(served: Served) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    for op in served.operations() {
        if !groups.contains(&op.group) {
            groups.push(op.group);
        }
    }
    groups.sort_by_key(|group| group_rank(*group));
    groups
}

fn operation(endpoint: &Endpoint, parts: Schemas, definitions: &Map<String, Value>) -> Value {
    let op = endpoint.primary();
    let mut description = op.description.to_owned();
    for other in endpoint.operations.iter().filter(|other| other.name != op.name) {
        description.push_str(&format!(
            "\n\n**{}** (`{}`) is the same request with the body `{}`: {}",
            other.summary,
            other.name,
            match other.body {
                Body::Fixed(body) => body().to_string(),
                _ => "…".to_owned(),
            },
            other.description
        ));
    }
    if let Some(of) = op.alias_of {
        description.push_str(&format!("\n\nAnother path for `{of}`, which the server also serves."));
    }
    if op.simulator {
        description.push_str("\n\nServed only when the server runs with `--simulate-peers`.");
    }

    let mut parameters: Vec<Value> = op
        .path_params()
        .into_iter()
        .map(|name| {
            json!({
                "name": name,
                "in": "path",
                "required": true,
                "description": hms_api::path_param_description(name),
                "schema": {"type": "string", "minLength": 1},
            })
        })
        .collect();
    for (name, schema, required, text) in parts.query {
        let mut parameter = json!({"name": name, "in": "query", "required": required, "schema": schema});
        if let Some(text) = text {
            parameter["description"] = json!(text);
        }
        parameters.push(parameter);
    }

    let mut operation = json!({
        "operationId": op.name,
        "tags": [op.group.title()],
        "summary": op.summary,
        "description": description,
    });
    if !parameters.is_empty() {
        operation["parameters"] = Value::Array(parameters);
    }
    if let Some(schema) = parts.body {
        let mut content = json!({"schema": schema});
        let examples: Vec<(&Operation, Value)> = endpoint
            .operations
            .iter()
            .filter_map(|op| match op.body {
                Body::Fixed(body) => Some((*op, body())),
                _ => op.example.map(|example| (*op, example())),
            })
            .collect();
        if !examples.is_empty() {
            let examples: Map<String, Value> = examples
                .into_iter()
                .map(|(op, value)| (op.name.to_owned(), json!({"summary": op.summary, "value": value})))
                .collect();
            content["examples"] = Value::Object(examples);
        }
        operation["requestBody"] = json!({
            "required": body_required(&content["schema"], definitions),
            "content": {"application/json": content},
        });
    }

    let mut responses = Map::new();
    match parts.response {
        Some(schema) => {
            responses.insert(
                "200".into(),
                json!({"description": "Success", "content": {"application/json": {"schema": schema}}}),
            );
        }
        None => {
            responses.insert("204".into(), json!({"description": "Done; no body"}));
        }
    }
    for status in op.error_statuses() {
        responses.insert(
            status.to_string(),
            json!({"$ref": format!("#/components/responses/{}", error_response_name(status))}),
        );
    }
    operation["responses"] = Value::Object(responses);
    if op.auth == Auth::None {
        operation["security"] = json!([]);
    }
    if op.simulator {
        operation["x-openhms-simulator"] = json!(true);
    }
    if endpoint.operations.len() > 1 {
        operation["x-openhms-operations"] = json!(endpoint.operations.iter().map(|op| op.name).collect::<Vec<_>>());
    }
    if let Some(of) = op.alias_of {
        operation["x-openhms-alias-of"] = json!(of);
    }
    operation
}

/// Whether an empty body (which the server reads as `{}`) would be refused: the body is
/// no object, or an object with required fields.
fn body_required(schema: &Value, definitions: &Map<String, Value>) -> bool {
    let schema = match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => reference
            .strip_prefix(SCHEMAS)
            .and_then(|name| definitions.get(name))
            .unwrap_or(schema),
        None => schema,
    };
    schema.get("type").and_then(Value::as_str) != Some("object")
        || schema
            .get("required")
            .and_then(Value::as_array)
            .is_some_and(|required| !required.is_empty())
}

/// The name under `#/components/responses` of an error status.
fn error_response_name(status: u16) -> String {
    match status {
        400 => "BadRequest".into(),
        401 => "Unauthorized".into(),
        403 => "Forbidden".into(),
        404 => "NotFound".into(),
        405 => "MethodNotAllowed".into(),
        409 => "Conflict".into(),
        413 => "PayloadTooLarge".into(),
        other => format!("Error{other}"),
    }
}

/// The shared error responses the operations refer to.
fn error_responses(served: Served, error_body: &Value) -> Value {
    let mut statuses: Vec<u16> = served.operations().flat_map(Operation::error_statuses).collect();
    statuses.sort_unstable();
    statuses.dedup();
    let responses: Map<String, Value> = statuses
        .into_iter()
        .map(|status| {
            let response = json!({
                "description": error_description(status),
                "content": {"application/json": {"schema": error_body}},
            });
            (error_response_name(status), response)
        })
        .collect();
    Value::Object(responses)
}

fn error_description(status: u16) -> &'static str {
    match status {
        400 => "Invalid input: a malformed or invalid path parameter, query parameter or body",
        401 => "No valid management token",
        403 => "Not allowed in the current state (a disabled room or code, a role that is full)",
        404 => "Not found",
        405 => "Method not allowed",
        409 => "Conflict with the current state; retry or choose another name",
        413 => "Request body too large",
        _ => "Error",
    }
}

/// The query parameters of a query type: the fields of its object schema, each with its
/// description taken out of its schema to stand beside it.
pub(crate) fn query_parameters(
    schema: &Value,
    generator: &SchemaGenerator,
) -> Vec<(String, Value, bool, Option<String>)> {
    hms_api::object_fields(schema, generator.definitions())
        .unwrap_or_default()
        .into_iter()
        .map(|field| {
            let mut property = without_null(field.schema);
            let description = property
                .as_object_mut()
                .and_then(|object| object.remove("description"))
                .and_then(|text| text.as_str().map(str::to_owned));
            (field.name, property, field.required, description)
        })
        .collect()
}

fn without_null(mut schema: Value) -> Value {
    let Some(object) = schema.as_object_mut() else {
        return schema;
    };
    if let Some(Value::Array(types)) = object.get_mut("type") {
        types.retain(|kind| kind != "null");
        if types.len() == 1 {
            let only = types[0].clone();
            object.insert("type".into(), only);
        }
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(Value::Array(options)) = object.get_mut(key) {
            options.retain(|option| option.get("type").and_then(Value::as_str) != Some("null"));
            if options.len() == 1 {
                let only = options.remove(0);
                object.remove(key);
                if let Value::Object(only) = only {
                    for (k, v) in only {
                        object.entry(k).or_insert(v);
                    }
                }
            }
        }
    }
    schema
}

fn rename_refs(value: &mut Value, renames: &HashMap<String, String>) {
    match value {
        Value::Object(object) => {
            if let Some(Value::String(reference)) = object.get_mut("$ref")
                && let Some(new) = reference.strip_prefix(SCHEMAS).and_then(|name| renames.get(name))
            {
                *reference = format!("{SCHEMAS}{new}");
            }
            for child in object.values_mut() {
                rename_refs(child, renames);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| rename_refs(item, renames)),
        _ => {}
    }
}

/// Names of the definitions reachable from the paths.
fn reachable(paths: &Value, error_body: &Value, definitions: &Map<String, Value>) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut pending = Vec::new();
    collect_refs(paths, &mut pending);
    collect_refs(error_body, &mut pending);
    while let Some(name) = pending.pop() {
        if found.insert(name.clone())
            && let Some(schema) = definitions.get(&name)
        {
            collect_refs(schema, &mut pending);
        }
    }
    found
}

fn collect_refs(value: &Value, into: &mut Vec<String>) {
    match value {
        Value::Object(object) => {
            if let Some(name) = object
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix(SCHEMAS))
            {
                into.push(name.to_owned());
            }
            object.values().for_each(|child| collect_refs(child, into));
        }
        Value::Array(items) => items.iter().for_each(|item| collect_refs(item, into)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nulls_leave_query_parameters() {
        assert_eq!(
            without_null(json!({"type": ["integer", "null"], "format": "uint32"})),
            json!({"type": "integer", "format": "uint32"})
        );
        assert_eq!(
            without_null(json!({"anyOf": [{"$ref": "#/components/schemas/Timestamp"}, {"type": "null"}]})),
            json!({"$ref": "#/components/schemas/Timestamp"})
        );
    }

    #[test]
    fn every_served_operation_is_documented_and_no_other() {
        for served in [Served::ALL, Served::default()] {
            let document = openapi(served);
            for op in hms_api::OPERATIONS {
                let method = op.method.as_str().to_ascii_lowercase();
                assert_eq!(
                    document["paths"][op.path][&method].is_object(),
                    served.serves(op),
                    "{} {} in {served:?}",
                    op.method.as_str(),
                    op.path
                );
            }
        }
        let tags = |served| {
            let document = openapi(served);
            let tags = document["tags"].as_array().unwrap().clone();
            tags.iter()
                .map(|tag| tag["name"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        };
        assert!(tags(Served::ALL).contains(&Group::Simulator.title().to_owned()));
        assert!(!tags(Served::default()).contains(&Group::Simulator.title().to_owned()));
    }
}
