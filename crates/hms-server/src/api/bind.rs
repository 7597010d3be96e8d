//! The REST routes, bound through the catalogue: a handler is attached to operations named
//! in [`hms_api::OPERATIONS`], on the method and path the catalogue gives them, never to a
//! path written here. The operations each binding serves are recorded with the handler's
//! [`Shape`] (the query, body and response types of its signature), and a test compares
//! them with the catalogue in both directions: an operation without a handler, a handler
//! for an operation the catalogue does not list, or a handler whose types are not the
//! operation's schemas, fails it. A handler whose signature has no shape (an extractor
//! that [`super::shape`] does not know) fails to compile.

use axum::Router;
use axum::handler::Handler;
use axum::routing::{MethodFilter, MethodRouter, on};
use hms_api::{Method, Operation};

use super::shape::{Shape, Shaped};
use crate::state::AppState;

/// Routes that bind each handler to the catalogue operations named after it:
/// `bind!(handler => "operation", other_handler => "operation" | "same endpoint", …)`.
macro_rules! bind {
    ($($handler:expr => $($name:literal)|+),+ $(,)?) => {
        $crate::api::bind::Routes::default()$(.bind(&[$($name),+], $handler))+
    };
}
pub(crate) use bind;

/// Routes under construction, with the names of the operations they serve and the shape
/// of the handler serving each.
#[derive(Default)]
pub struct Routes {
    router: Router<AppState>,
    bound: Vec<(&'static str, Shape)>,
}

impl Routes {
    /// Serves the operations `names` — one endpoint: the same method and path in the
    /// catalogue, such as a room's update and its enabling — with `handler`.
    pub fn bind<H, T, Args>(self, names: &[&'static str], handler: H) -> Self
    where
        H: Handler<T, AppState> + Shaped<Args>,
        T: 'static,
    {
        let endpoint = endpoint(names);
        self.bind_with(names, on(filter(endpoint.method), handler), H::shape())
    }

    /// [`Routes::bind`] for a method router that does more than dispatch the operation's
    /// method (answering preflights, say); it must serve the catalogue's method, with a
    /// handler of this `shape`.
    pub fn bind_with(mut self, names: &[&'static str], route: MethodRouter<AppState>, shape: Shape) -> Self {
        let endpoint = endpoint(names);
        self.router = self.router.route(endpoint.path, route);
        self.bound.extend(names.iter().map(|name| (*name, shape)));
        self
    }

    pub fn merge(mut self, other: Routes) -> Self {
        self.router = self.router.merge(other.router);
        self.bound.extend(other.bound);
        self
    }

    /// The operations bound, in the order they were, with their handlers' shapes.
    #[cfg(test)]
    pub fn bound(&self) -> &[(&'static str, Shape)] {
        &self.bound
    }

    pub fn into_router(self) -> Router<AppState> {
        self.router
    }
}

/// The one endpoint the operations `names` share.
fn endpoint(names: &[&'static str]) -> &'static Operation {
    let find = |name: &str| hms_api::find(name).unwrap_or_else(|| panic!("{name} is not in the catalogue"));
    let first = find(names.first().expect("at least one operation"));
    for name in &names[1..] {
        let other = find(name);
        assert!(
            (other.method, other.path) == (first.method, first.path),
            "{name} is not served where {} is",
            first.name
        );
    }
    first
}

fn filter(method: Method) -> MethodFilter {
    match method {
        Method::Get => MethodFilter::GET,
        Method::Post => MethodFilter::POST,
        Method::Delete => MethodFilter::DELETE,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use hms_api::{Body, OPERATIONS, Response, SchemaFn, Served};
    use schemars::SchemaGenerator;
    use serde_json::{Value, json};

    use crate::api::shape::Declared;

    /// A schema with the definitions it refers to, to compare two schemas whole.
    fn schema_json(schema: SchemaFn) -> Value {
        let mut generator = SchemaGenerator::default();
        let root = schema(&mut generator);
        json!({"root": root, "definitions": generator.definitions()})
    }

    /// Whether the handler's `declared` part is the catalogue's `listed` schema: `Ok(true)`
    /// when compared, `Ok(false)` when the handler reads it by hand.
    fn agrees(listed: Option<SchemaFn>, declared: Declared) -> Result<bool, &'static str> {
        match (listed, declared) {
            (None, Declared::Nothing) => Ok(true),
            (Some(listed), Declared::Schema(declared)) if schema_json(listed) == schema_json(declared) => Ok(true),
            (Some(_), Declared::Schema(_)) => Err("a different schema"),
            (Some(_), Declared::ByHand) => Ok(false),
            (None, _) => Err("a part the catalogue does not list"),
            (Some(_), Declared::Nothing) => Err("nothing where the catalogue lists a schema"),
        }
    }

    #[test]
    fn every_handler_takes_and_answers_its_operations_schemas() {
        let routes = super::super::operation_routes(Served::ALL);
        let mut by_hand = Vec::new();
        let mut wrong = Vec::new();
        for (name, shape) in routes.bound() {
            let op = hms_api::find(name).expect("bound operations are in the catalogue");
            let body = match op.body {
                Body::None => None,
                Body::Json(schema) => Some(schema),
                // A fixed body (enabling a room) is one value of the endpoint's body.
                Body::Fixed(_) => continue,
            };
            let response = match op.response {
                Response::Json(schema) => Some(schema),
                Response::NoContent => None,
            };
            for (part, listed, declared) in [
                ("query", op.query, shape.query),
                ("body", body, shape.body),
                ("response", response, shape.response),
            ] {
                match agrees(listed, declared) {
                    Ok(true) => {}
                    Ok(false) => by_hand.push(format!("{name} {part}")),
                    Err(why) => wrong.push(format!("{name} {part}: {why}")),
                }
            }
        }
        assert_eq!(wrong, Vec::<String>::new());
        // The room-code update refuses unknown fields with its own message, and the
        // webhook history takes repeated `event_names`: both parse by hand.
        assert_eq!(
            by_hand,
            [
                "update-room-code-by-body body",
                "update-room-code body",
                "list-webhook-deliveries query"
            ]
        );
    }

    #[test]
    fn every_served_operation_has_one_handler_and_every_handler_an_operation() {
        for served in [Served::default(), Served::ALL] {
            let routes = super::super::operation_routes(served);
            let bound: Vec<&str> = routes.bound().iter().map(|(name, _)| *name).collect();
            let unique: BTreeSet<&str> = bound.iter().copied().collect();
            assert_eq!(unique.len(), bound.len(), "an operation bound twice: {bound:?}");
            let listed: BTreeSet<&str> = served.operations().map(|op| op.name).collect();
            assert_eq!(unique, listed, "{served:?}");
        }
        assert!(OPERATIONS.iter().any(|op| op.simulator));
    }

    #[test]
    #[should_panic(expected = "create-room is not served where get-room is")]
    fn operations_of_different_endpoints_cannot_share_a_handler() {
        super::endpoint(&["get-room", "create-room"]);
    }
}
