//! The REST routes, bound through the catalogue: a handler is attached to operations named
//! in [`hms_api::OPERATIONS`], on the method and path the catalogue gives them, never to a
//! path written here. The operations each binding serves are recorded, and a test compares
//! them with the catalogue in both directions: an operation without a handler, or a
//! handler for an operation the catalogue does not list, fails it.

use axum::Router;
use axum::handler::Handler;
use axum::routing::{MethodFilter, MethodRouter, on};
use hms_api::{Method, Operation};

use crate::state::AppState;

/// Routes that bind each handler to the catalogue operations named after it:
/// `bind!(handler => "operation", other_handler => "operation" | "same endpoint", …)`.
macro_rules! bind {
    ($($handler:expr => $($name:literal)|+),+ $(,)?) => {
        $crate::api::bind::Routes::default()$(.bind(&[$($name),+], $handler))+
    };
}
pub(crate) use bind;

/// Routes under construction, with the names of the operations they serve.
#[derive(Default)]
pub struct Routes {
    router: Router<AppState>,
    bound: Vec<&'static str>,
}

impl Routes {
    /// Serves the operations `names` — one endpoint: the same method and path in the
    /// catalogue, such as a room's update and its enabling — with `handler`.
    pub fn bind<H, T>(self, names: &[&'static str], handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let endpoint = endpoint(names);
        self.bind_with(names, on(filter(endpoint.method), handler))
    }

    /// [`Routes::bind`] for a method router that does more than dispatch the operation's
    /// method (answering preflights, say); it must serve the catalogue's method.
    pub fn bind_with(mut self, names: &[&'static str], route: MethodRouter<AppState>) -> Self {
        let endpoint = endpoint(names);
        self.router = self.router.route(endpoint.path, route);
        self.bound.extend_from_slice(names);
        self
    }

    pub fn merge(mut self, other: Routes) -> Self {
        self.router = self.router.merge(other.router);
        self.bound.extend(other.bound);
        self
    }

    /// The operations bound, in the order they were.
    #[cfg(test)]
    pub fn bound(&self) -> &[&'static str] {
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

    use hms_api::{OPERATIONS, Served};

    #[test]
    fn every_served_operation_has_one_handler_and_every_handler_an_operation() {
        for served in [Served::default(), Served::ALL] {
            let routes = super::super::operation_routes(served);
            let bound = routes.bound();
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
