//! `hms <group> <command>`: one subcommand per operation of the catalogue
//! ([`hms_api::OPERATIONS`]), generated with clap's builder API, so that an operation added
//! to the catalogue is a command at once, with its help, flags and completions.
//!
//! - Path parameters are positional arguments, in the path's order, or `--<param>` flags.
//! - Every query parameter and every top-level field of a JSON body is a `--<field>` flag
//!   (in kebab case), its value read as the field's JSON Schema type says: strings as they
//!   are, integers, numbers, `true`/`false`, objects and arrays as JSON (an array may also
//!   be given as a repeated flag).
//! - `--body FILE` (or `-` for stdin) gives a whole JSON body; flags override its fields.
//! - Paginated lists take `--all` to follow the cursor to the end.
//! - `--json` prints the server's JSON, `--field PATH` one value of it; otherwise a table.

use std::io::{IsTerminal, Read, Write};

use clap::builder::{PossibleValuesParser, TypedValueParser, ValueParser};
use clap::{Arg, ArgAction, ArgMatches, Command};
use futures::TryStreamExt;
use hms_api::{Auth, Body, Group, OPERATIONS, Operation, SchemaFn};
use hms_client::OperationInput;
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value};

use crate::failure::Failure;
use crate::output::{self, Style};
use crate::target::{self, TargetFlags};

/// Long flags the generated commands use themselves; a field of the same name gets no flag
/// of its own (give it with `--body`).
const RESERVED: &[&str] = &[
    "help",
    "version",
    "json",
    "field",
    "all",
    "body",
    "base-url",
    "access-key",
    "secret",
    "token",
    "profile",
];

/// The groups that have at least one command, in the catalogue's order.
pub fn groups() -> Vec<Group> {
    let mut groups = Vec::new();
    for op in commands() {
        if !groups.contains(&op.group) {
            groups.push(op.group);
        }
    }
    groups
}

/// The operations offered as commands: every one but aliases.
fn commands() -> impl Iterator<Item = &'static Operation> {
    OPERATIONS.iter().filter(|op| op.alias_of.is_none())
}

/// The group whose subcommand is `name`.
pub fn group_named(name: &str) -> Option<Group> {
    groups().into_iter().find(|group| group.command() == name)
}

/// `root` with a subcommand for each group.
pub fn augment(root: Command) -> Command {
    groups()
        .into_iter()
        .fold(root, |root, group| root.subcommand(group_command(group)))
}

fn group_command(group: Group) -> Command {
    let verbs: Vec<&str> = commands().filter(|op| op.group == group).map(|op| op.command).collect();
    let mut command = Command::new(group.command())
        .about(format!("{}: {}", group.title(), verbs.join(", ")))
        .long_about(format!(
            "{}: {}\n\n{}",
            group.title(),
            verbs.join(", "),
            group.description()
        ))
        .subcommand_required(true)
        .arg_required_else_help(true)
        .args(target::args())
        .args(output_args());
    for op in commands().filter(|op| op.group == group) {
        command = command.subcommand(operation_command(op));
    }
    command
}

fn output_args() -> [Arg; 2] {
    [
        Arg::new("json")
            .long("json")
            .help("Print the server's JSON as it is (indented on a terminal)")
            .action(ArgAction::SetTrue)
            .global(true)
            .help_heading("Output"),
        Arg::new("field")
            .long("field")
            .value_name("PATH")
            .help("Print only this field of the answer, e.g. `id` or `data.0.code` (of each item of a list)")
            .global(true)
            .help_heading("Output"),
    ]
}

fn operation_command(op: &'static Operation) -> Command {
    let spec = Spec::of(op);
    let mut long_about = format!("{}\n\n{} {}", op.description, op.method.as_str(), op.path);
    if op.simulator {
        long_about.push_str("\n\nServed only by openhms started with `hms serve --simulate-peers`.");
    }
    if op.auth == Auth::None {
        long_about.push_str("\n\nSends no credentials.");
    }
    let mut command = Command::new(op.command).about(op.summary).long_about(long_about);
    if let Some(example) = op.example {
        let example = serde_json::to_string(&example()).expect("examples are JSON");
        command = command.after_help(format!("Example body (for --body -): {example}"));
    }
    for param in &spec.path {
        let flag_id = format!("path-flag.{param}");
        command = command
            .arg(
                Arg::new(format!("path.{param}"))
                    .value_name(param.to_uppercase())
                    .help(hms_api::path_param_description(param))
                    .required_unless_present(flag_id.clone()),
            )
            .arg(
                Arg::new(flag_id)
                    .long(kebab(param))
                    .value_name(param.to_uppercase())
                    .help(format!(
                        "{} (instead of the argument)",
                        hms_api::path_param_description(param).trim_end_matches('.')
                    ))
                    .conflicts_with(format!("path.{param}")),
            );
    }
    for field in &spec.query {
        command = command.arg(field.arg("query").help_heading("Query"));
    }
    match &spec.body {
        BodySpec::None | BodySpec::Fixed => {}
        BodySpec::Fields(fields) => {
            command = command.arg(body_arg(false));
            for field in fields {
                command = command.arg(field.arg("body").help_heading("Body"));
            }
        }
        BodySpec::Raw => command = command.arg(body_arg(true)),
    }
    if op.paginated {
        command = command.arg(
            Arg::new("all")
                .long("all")
                .help("Follow the pagination cursor and list every page")
                .action(ArgAction::SetTrue)
                .help_heading("Output"),
        );
    }
    command
}

fn body_arg(required: bool) -> Arg {
    Arg::new("body")
        .long("body")
        .value_name("FILE")
        .help("The JSON body, from a file or `-` for stdin (flags override its fields)")
        .value_hint(clap::ValueHint::FilePath)
        .required(required)
        .help_heading("Body")
}

/// The inputs of an operation, as derived from its path and schemas.
struct Spec {
    path: Vec<&'static str>,
    query: Vec<Field>,
    body: BodySpec,
}

enum BodySpec {
    None,
    /// The operation sends a body of its own.
    Fixed,
    /// An object: a flag per field, and `--body`.
    Fields(Vec<Field>),
    /// Anything else (an array): `--body` only.
    Raw,
}

impl Spec {
    fn of(op: &Operation) -> Self {
        let path = op.path_params();
        let mut taken: Vec<String> = RESERVED.iter().map(|flag| (*flag).to_owned()).collect();
        taken.extend(path.iter().map(|param| kebab(param)));
        let query = op
            .query
            .map(|schema| object_fields(schema, &mut taken).unwrap_or_default())
            .unwrap_or_default();
        let body = match op.body {
            Body::None => BodySpec::None,
            Body::Fixed(_) => BodySpec::Fixed,
            Body::Json(schema) => match object_fields(schema, &mut taken) {
                Some(fields) => BodySpec::Fields(fields),
                None => BodySpec::Raw,
            },
        };
        Spec { path, query, body }
    }
}

/// The type of a field's value, from its JSON Schema.
#[derive(Debug, Clone, PartialEq)]
enum Kind {
    String,
    Integer,
    Number,
    Boolean,
    Object,
    Array(Box<Kind>),
    /// Several types, or one the schema does not say: JSON if it parses, else a string.
    Any,
}

impl Kind {
    fn value_name(&self) -> &'static str {
        match self {
            Kind::String => "TEXT",
            Kind::Integer => "INT",
            Kind::Number => "NUMBER",
            Kind::Boolean => "BOOL",
            Kind::Object => "JSON",
            Kind::Array(_) => "VALUE",
            Kind::Any => "VALUE",
        }
    }

    /// Reads one value of this kind from the command line.
    fn parse(&self, text: &str) -> Result<Value, String> {
        match self {
            Kind::String => Ok(Value::String(text.to_owned())),
            Kind::Integer => text
                .trim()
                .parse::<i64>()
                .map(Value::from)
                .map_err(|_| format!("`{text}` is not an integer")),
            Kind::Number => text
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number)
                .ok_or_else(|| format!("`{text}` is not a number")),
            Kind::Boolean => match text {
                "true" => Ok(Value::Bool(true)),
                "false" => Ok(Value::Bool(false)),
                _ => Err(format!("`{text}` is neither true nor false")),
            },
            Kind::Object => match serde_json::from_str(text) {
                Ok(Value::Object(map)) => Ok(Value::Object(map)),
                _ => Err(format!("`{text}` is not a JSON object")),
            },
            Kind::Array(item) => {
                if text.trim_start().starts_with('[') {
                    match serde_json::from_str(text) {
                        Ok(Value::Array(items)) => Ok(Value::Array(items)),
                        _ => Err(format!("`{text}` is not a JSON array")),
                    }
                } else {
                    item.parse(text)
                }
            }
            Kind::Any => Ok(serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))),
        }
    }
}

/// A query parameter or a top-level body field.
#[derive(Debug, Clone, PartialEq)]
struct Field {
    /// Its name in JSON.
    key: String,
    /// Its flag, without `--`.
    flag: String,
    kind: Kind,
    help: String,
    required: bool,
}

impl Field {
    fn arg(&self, part: &str) -> Arg {
        let mut help = self.help.clone();
        if help.is_empty() {
            help = match part {
                "query" => format!("The `{}` query parameter", self.key),
                _ => format!("The body's `{}`", self.key),
            };
        }
        if self.required {
            help.push_str(" (required)");
        }
        let arg = Arg::new(format!("{part}.{}", self.key))
            .long(self.flag.clone())
            .value_name(self.kind.value_name())
            .help(help);
        match &self.kind {
            Kind::Boolean => {
                arg.value_parser(PossibleValuesParser::new(["true", "false"]).map(|text| Value::Bool(text == "true")))
            }
            Kind::Array(_) => arg
                .action(ArgAction::Append)
                .value_parser(value_parser(self.kind.clone())),
            kind => arg.value_parser(value_parser(kind.clone())),
        }
    }

    /// The flag's value in `matches`, if it was given.
    fn value(&self, part: &str, matches: &ArgMatches) -> Option<Value> {
        let values: Vec<Value> = matches
            .get_many::<Value>(&format!("{part}.{}", self.key))?
            .cloned()
            .collect();
        match (&self.kind, values.as_slice()) {
            (Kind::Array(_), [Value::Array(items)]) => Some(Value::Array(items.clone())),
            (Kind::Array(_), _) => Some(Value::Array(
                values
                    .into_iter()
                    .flat_map(|value| match value {
                        Value::Array(items) => items,
                        other => vec![other],
                    })
                    .collect(),
            )),
            (_, [value]) => Some(value.clone()),
            _ => values.last().cloned(),
        }
    }
}

fn value_parser(kind: Kind) -> ValueParser {
    ValueParser::new(move |text: &str| kind.parse(text))
}

/// The fields of an object schema, each with a flag not in `taken` (which it joins);
/// `None` when the schema is no object.
fn object_fields(schema: SchemaFn, taken: &mut Vec<String>) -> Option<Vec<Field>> {
    let mut generator = SchemaSettings::draft2020_12()
        .with(|settings| settings.inline_subschemas = true)
        .into_generator();
    let root = serde_json::to_value(schema(&mut generator)).expect("schemas are JSON");
    let definitions = generator.definitions().clone();
    let resolve = |schema: &Value| -> Value { hms_api::resolve(schema, &definitions) };
    let mut fields = Vec::new();
    for field in hms_api::object_fields(&root, &definitions)? {
        let flag = kebab(&field.name);
        if taken.contains(&flag) {
            continue;
        }
        taken.push(flag.clone());
        let property = resolve(&field.schema);
        fields.push(Field {
            flag,
            kind: kind_of(&property, &resolve),
            help: first_paragraph(property.get("description").and_then(Value::as_str).unwrap_or("")),
            required: field.required,
            key: field.name,
        });
    }
    Some(fields)
}

fn kind_of(schema: &Value, resolve: &dyn Fn(&Value) -> Value) -> Kind {
    let schema = resolve(schema);
    let named = |name: &str, schema: &Value| match name {
        "string" => Kind::String,
        "integer" => Kind::Integer,
        "number" => Kind::Number,
        "boolean" => Kind::Boolean,
        "object" => Kind::Object,
        "array" => Kind::Array(Box::new(
            schema.get("items").map_or(Kind::Any, |items| kind_of(items, resolve)),
        )),
        _ => Kind::Any,
    };
    match schema.get("type") {
        Some(Value::String(name)) => return named(name, &schema),
        Some(Value::Array(names)) => {
            let names: Vec<&str> = names
                .iter()
                .filter_map(Value::as_str)
                .filter(|n| *n != "null")
                .collect();
            return match names.as_slice() {
                [name] => named(name, &schema),
                _ => Kind::Any,
            };
        }
        _ => {}
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(Value::Array(branches)) = schema.get(key) {
            let kinds: Vec<Kind> = branches
                .iter()
                .filter(|branch| branch.get("type").and_then(Value::as_str) != Some("null"))
                .map(|branch| kind_of(branch, resolve))
                .collect();
            return match kinds.as_slice() {
                [kind] => kind.clone(),
                [first, rest @ ..] if rest.iter().all(|kind| kind == first) => first.clone(),
                _ => Kind::Any,
            };
        }
    }
    if let Some(Value::Array(values)) = schema.get("enum")
        && values.iter().all(Value::is_string)
    {
        return Kind::String;
    }
    if schema.get("properties").is_some() {
        return Kind::Object;
    }
    Kind::Any
}

fn first_paragraph(text: &str) -> String {
    text.split("\n\n")
        .next()
        .unwrap_or("")
        .replace('\n', " ")
        .trim()
        .to_owned()
}

/// `template_id` and `maxPeerCount` as flags: `template-id`, `max-peer-count`.
fn kebab(name: &str) -> String {
    let mut out = String::new();
    let mut previous_lower = false;
    for c in name.chars() {
        if c == '_' || c == '-' {
            if !out.is_empty() && !out.ends_with('-') {
                out.push('-');
            }
            previous_lower = false;
        } else if c.is_ascii_uppercase() {
            if previous_lower {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
            previous_lower = false;
        } else {
            out.push(c);
            previous_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        }
    }
    out.trim_end_matches('-').to_owned()
}

/// The operation of `group` whose command `matches` names, with its matches.
fn chosen(group: Group, matches: &ArgMatches) -> (&'static Operation, &ArgMatches) {
    let (name, matches) = matches.subcommand().expect("clap requires a subcommand");
    let op = commands()
        .find(|op| op.group == group && op.command == name)
        .expect("clap accepts only generated subcommands");
    (op, matches)
}

/// The operation's input from its flags, arguments and `--body`.
fn input(op: &Operation, matches: &ArgMatches, stdin: &mut dyn Read) -> Result<OperationInput, Failure> {
    let spec = Spec::of(op);
    let mut input = OperationInput::default();
    for param in &spec.path {
        let value = matches
            .get_one::<String>(&format!("path.{param}"))
            .or_else(|| matches.get_one::<String>(&format!("path-flag.{param}")))
            .ok_or_else(|| Failure::usage(format!("{param} is required")))?;
        input.path.insert((*param).to_owned(), Value::String(value.clone()));
    }
    for field in &spec.query {
        if let Some(value) = field.value("query", matches) {
            input.query.insert(field.key.clone(), value);
        }
    }
    match &spec.body {
        BodySpec::None | BodySpec::Fixed => {}
        BodySpec::Raw => input.body = Some(read_body(matches, stdin)?.unwrap_or(Value::Null)),
        BodySpec::Fields(fields) => {
            let mut body = match read_body(matches, stdin)? {
                None => Map::new(),
                Some(Value::Object(map)) => map,
                Some(_) => return Err(Failure::usage("--body must hold a JSON object")),
            };
            for field in fields {
                if let Some(value) = field.value("body", matches) {
                    body.insert(field.key.clone(), value);
                }
            }
            input.body = Some(Value::Object(body));
        }
    }
    Ok(input)
}

/// The JSON of `--body FILE|-`, if given.
fn read_body(matches: &ArgMatches, stdin: &mut dyn Read) -> Result<Option<Value>, Failure> {
    let Some(source) = matches.get_one::<String>("body") else {
        return Ok(None);
    };
    let mut text = String::new();
    if source == "-" {
        stdin
            .read_to_string(&mut text)
            .map_err(|e| Failure::usage(format!("cannot read the body from stdin: {e}")))?;
    } else {
        text = std::fs::read_to_string(source).map_err(|e| Failure::usage(format!("cannot read {source}: {e}")))?;
    }
    let origin = if source == "-" { "stdin" } else { source.as_str() };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| Failure::usage(format!("the body in {origin} is not JSON: {e}")))
}

/// Runs the command of `group` that `matches` names.
pub async fn run(group: Group, matches: &ArgMatches) -> Result<(), Failure> {
    let (op, matches) = chosen(group, matches);
    let input = input(op, matches, &mut std::io::stdin())?;
    let flags = TargetFlags::from_matches(matches);
    let profiles = crate::profile::load(&crate::profile::config_dir()?)?;
    let target = target::resolve(
        &flags,
        |name| std::env::var(name).ok(),
        &profiles,
        op.auth == Auth::Management,
    )?;
    let client = target.client()?;
    let all = op.paginated && matches.get_flag("all");
    let answer = if all {
        fetch_all(&client, op, input).await?
    } else {
        client.execute(op, &input).await?.unwrap_or(Value::Null)
    };
    let style = Style {
        terminal: std::io::stdout().is_terminal(),
    };
    let mut stdout = std::io::stdout().lock();
    let text = if let Some(path) = matches.get_one::<String>("field") {
        let lines =
            output::field(&answer, path).ok_or_else(|| Failure::usage(format!("the answer has no field `{path}`")))?;
        lines.iter().map(|line| format!("{line}\n")).collect()
    } else if matches.get_flag("json") {
        format!("{}\n", output::json(&answer, style))
    } else {
        if op.paginated && !all {
            hint_next_page(op, &answer);
        }
        output::render(&answer, style)
    };
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|e| Failure::other(format!("cannot write the answer: {e}")))
}

/// Every page of a paginated operation, as one page: the first page's JSON with `data`
/// holding every item and `last` the last page's cursor. Progress goes to stderr on a
/// terminal once there is more than one page.
async fn fetch_all(client: &hms_client::Client, op: &Operation, input: OperationInput) -> Result<Value, Failure> {
    let progress = std::io::stderr().is_terminal();
    let mut pages = std::pin::pin!(client.execute_pages(op, input));
    let mut merged: Option<Value> = None;
    let mut items = Vec::new();
    let mut count = 0;
    while let Some(page) = pages.try_next().await? {
        count += 1;
        if let Some(data) = page.get("data").and_then(Value::as_array) {
            items.extend(data.iter().cloned());
        }
        if progress && count > 1 {
            eprint!("\rfetched {} items in {count} pages…", items.len());
        }
        let last = page.get("last").cloned();
        let merged = merged.get_or_insert(page);
        if let (Some(object), Some(last)) = (merged.as_object_mut(), last) {
            object.insert("last".to_owned(), last);
        }
    }
    if progress && count > 1 {
        eprintln!("\rfetched {} items in {count} pages.  ", items.len());
    }
    let mut merged = merged.unwrap_or(Value::Null);
    if let Some(object) = merged.as_object_mut() {
        object.insert("data".to_owned(), Value::Array(items));
    }
    Ok(merged)
}

/// On a terminal, says how to get the next page of a full one.
fn hint_next_page(op: &Operation, page: &Value) {
    let full = page.get("data").and_then(Value::as_array).map(Vec::len)
        == page.get("limit").and_then(Value::as_u64).map(|limit| limit as usize);
    let last = page.get("last").and_then(Value::as_str).unwrap_or("");
    if full && !last.is_empty() && std::io::stderr().is_terminal() {
        eprintln!(
            "(more may follow: add --start {last}, or --all for every page of `hms {} {}`)",
            op.group.command(),
            op.command
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemars::SchemaGenerator;
    use serde_json::json;

    fn root() -> Command {
        augment(Command::new("hms").subcommand_required(true))
    }

    /// The name of the operation the command line names, and its input.
    fn parse(args: &[&str], stdin: &str) -> Result<(&'static str, OperationInput), String> {
        let matches = root().try_get_matches_from(args).map_err(|e| e.to_string())?;
        let (group, matches) = matches.subcommand().unwrap();
        let group = group_named(group).unwrap();
        let (op, matches) = chosen(group, matches);
        let input = input(op, matches, &mut stdin.as_bytes()).map_err(|f| f.report())?;
        Ok((op.name, input))
    }

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn the_command_tree_is_valid_and_covers_every_operation() {
        root().debug_assert();
        let root = root();
        for op in OPERATIONS.iter().filter(|op| op.alias_of.is_none()) {
            let group = root
                .find_subcommand(op.group.command())
                .unwrap_or_else(|| panic!("no group {}", op.group.command()));
            assert!(
                group.find_subcommand(op.command).is_some(),
                "no command for {}",
                op.name
            );
        }
        for op in OPERATIONS.iter().filter(|op| op.alias_of.is_some()) {
            let group = root.find_subcommand(op.group.command()).unwrap();
            assert!(
                group.find_subcommand(op.command).is_none(),
                "alias {} is a command",
                op.name
            );
        }
    }

    #[test]
    fn flags_follow_the_schemas() {
        let (op, input) = parse(
            &[
                "hms",
                "rooms",
                "create",
                "--name",
                "standup",
                "--size",
                "20",
                "--large-room",
                "true",
                "--polls",
                "a",
                "--polls",
                "b",
                "--webhook",
                r#"{"url": "http://x"}"#,
                "--template-id",
                "t1",
            ],
            "",
        )
        .unwrap();
        assert_eq!(op, "create-room");
        assert_eq!(
            input.body,
            Some(
                json!({"name": "standup", "template_id": "t1", "large_room": true, "size": 20,
                        "polls": ["a", "b"], "webhook": {"url": "http://x"}})
            )
        );
        let (_, input) = parse(&["hms", "rooms", "create", "--polls", r#"["x","y"]"#], "").unwrap();
        assert_eq!(input.body, Some(json!({"polls": ["x", "y"]})));
        let (op, input) = parse(
            &[
                "hms",
                "room-codes",
                "list",
                "r1",
                "--role",
                "host",
                "--enabled",
                "false",
                "--limit",
                "20",
            ],
            "",
        )
        .unwrap();
        assert_eq!(op, "get-room-codes");
        assert_eq!(input.path, object(json!({"room_id": "r1"})));
        assert_eq!(
            input.query,
            object(json!({"role": "host", "enabled": false, "limit": 20}))
        );
        // camelCase fields become kebab-case flags.
        let (_, input) = parse(&["hms", "roles", "upsert", "t1", "guest", "--max-peer-count", "10"], "").unwrap();
        assert_eq!(input.path, object(json!({"template_id": "t1", "role": "guest"})));
        assert_eq!(input.body, Some(json!({"maxPeerCount": 10})));
        // Path parameters may be flags.
        let (_, input) = parse(&["hms", "rooms", "get", "--room-id", "r9"], "").unwrap();
        assert_eq!(input.path, object(json!({"room_id": "r9"})));
    }

    #[test]
    fn bad_values_are_usage_errors() {
        let error = parse(&["hms", "rooms", "create", "--size", "big"], "").unwrap_err();
        assert!(error.contains("`big` is not an integer"), "{error}");
        let error = parse(&["hms", "rooms", "list", "--enabled", "yes"], "").unwrap_err();
        assert!(error.contains("invalid value 'yes'"), "{error}");
        let error = parse(&["hms", "rooms", "get"], "").unwrap_err();
        assert!(error.contains("required"), "{error}");
        let error = parse(&["hms", "rooms", "get", "a", "--room-id", "b"], "").unwrap_err();
        assert!(error.contains("cannot be used with"), "{error}");
        let error = parse(&["hms", "rooms", "create", "--body", "-"], "[1]").unwrap_err();
        assert_eq!(error, "error: --body must hold a JSON object");
        let error = parse(&["hms", "rooms", "create", "--body", "-"], "{").unwrap_err();
        assert!(error.starts_with("error: the body in stdin is not JSON"), "{error}");
    }

    #[test]
    fn flags_override_the_body() {
        let (_, input) = parse(
            &["hms", "rooms", "update", "r1", "--body", "-", "--description", "new"],
            r#"{"description": "old", "region": "eu"}"#,
        )
        .unwrap();
        assert_eq!(input.body, Some(json!({"description": "new", "region": "eu"})));
        // A body that is no object is given whole.
        let (op, input) = parse(
            &["hms", "templates", "update-recordings", "t1", "--body", "-"],
            r#"[{"name": "main", "role": "host"}]"#,
        )
        .unwrap();
        assert_eq!(op, "update-template-recordings");
        assert_eq!(input.body, Some(json!([{"name": "main", "role": "host"}])));
        // Fixed bodies take no flags.
        let (op, input) = parse(&["hms", "rooms", "disable", "r1"], "").unwrap();
        assert_eq!((op, input.body), ("disable-room", None));
    }

    #[test]
    fn a_field_named_like_a_path_parameter_keeps_the_path_flag() {
        let (op, input) = parse(
            &["hms", "room-codes", "update", "--code", "abc", "--enabled", "false"],
            "",
        )
        .unwrap();
        assert_eq!(op, "update-room-code");
        assert_eq!(input.path, object(json!({"code": "abc"})));
        assert_eq!(input.body, Some(json!({"enabled": false})));
    }

    /// Fields without a flag of their own: only those named like a path parameter, whose
    /// flag gives the path parameter (and the server takes it from the path).
    #[test]
    fn every_field_has_a_flag_but_path_namesakes() {
        let mut skipped = Vec::new();
        for op in commands() {
            let spec = Spec::of(op);
            let mut flagged: Vec<String> = spec.query.iter().map(|field| field.key.clone()).collect();
            if let BodySpec::Fields(fields) = &spec.body {
                flagged.extend(fields.iter().map(|field| field.key.clone()));
            }
            let mut generator = SchemaGenerator::default();
            let mut declared = Vec::new();
            for schema in [
                op.query,
                if let Body::Json(body) = op.body {
                    Some(body)
                } else {
                    None
                },
            ]
            .into_iter()
            .flatten()
            {
                let value = serde_json::to_value(schema(&mut generator)).unwrap();
                let value = hms_api::resolve(&value, &generator.definitions().clone());
                if let Some(properties) = value.get("properties").and_then(Value::as_object) {
                    declared.extend(properties.keys().cloned());
                }
            }
            for key in declared.into_iter().filter(|key| !flagged.contains(key)) {
                skipped.push(format!("{}.{key}", op.name));
            }
        }
        assert_eq!(skipped, ["update-room-code.code"]);
    }

    #[test]
    fn names_become_kebab_case() {
        assert_eq!(kebab("template_id"), "template-id");
        assert_eq!(kebab("maxPeerCount"), "max-peer-count");
        assert_eq!(kebab("type"), "type");
        assert_eq!(kebab("_id"), "id");
        assert_eq!(kebab("hlsDestinations"), "hls-destinations");
    }
}
