//! What a handler takes and answers, read from its signature: the types of its query,
//! body and response extractors, as JSON Schema. Binding records each handler's shape
//! next to the operations it serves, so that a test can compare it with the catalogue's
//! declared schemas (see `bind`'s tests).

use std::future::Future;

use axum::Json;
use axum::extract::{RawQuery, Request, State};
use axum::http::StatusCode;
use hms_api::SchemaFn;
use schemars::JsonSchema;

use super::list_json::ListJson;
use super::{PathParams, Scope};
use crate::error::ApiError;
use crate::extract::{JsonArrayBody, JsonBody, QueryParams};
use crate::state::AppState;

/// What a handler's signature says about one part of a request or response.
#[derive(Clone, Copy, Default)]
pub enum Declared {
    /// The handler takes or answers nothing there.
    #[default]
    Nothing,
    /// A JSON value of this schema.
    Schema(#[cfg_attr(not(test), expect(dead_code, reason = "compared with the catalogue by bind's tests"))] SchemaFn),
    /// The handler reads it by hand: its type is not in the signature.
    ByHand,
}

/// A handler's query, body and response.
#[derive(Clone, Copy, Default)]
pub struct Shape {
    pub query: Declared,
    pub body: Declared,
    pub response: Declared,
}

/// An argument of a handler, and what it says of the request.
pub trait Input {
    fn declare(_shape: &mut Shape) {}
}

impl Input for State<AppState> {}
impl Input for Scope {}
impl<T> Input for PathParams<T> {}

/// Extractors of a JSON value of their type's schema, as the `part` of the request.
macro_rules! typed_inputs {
    ($($extractor:ident => $part:ident),*) => {$(
        impl<T: JsonSchema> Input for $extractor<T> {
            fn declare(shape: &mut Shape) {
                shape.$part = Declared::Schema(hms_api::schema::<T>);
            }
        }
    )*};
}

typed_inputs!(JsonBody => body, JsonArrayBody => body, QueryParams => query);

impl Input for RawQuery {
    fn declare(shape: &mut Shape) {
        shape.query = Declared::ByHand;
    }
}

impl Input for Request {
    fn declare(shape: &mut Shape) {
        shape.body = Declared::ByHand;
    }
}

/// What a handler answers on success.
pub trait Output {
    fn declare(shape: &mut Shape);
}

impl<T: JsonSchema> Output for Json<T> {
    fn declare(shape: &mut Shape) {
        shape.response = Declared::Schema(hms_api::schema::<T>);
    }
}

impl<T: JsonSchema> Output for ListJson<T> {
    fn declare(shape: &mut Shape) {
        shape.response = Declared::Schema(hms_api::schema::<T>);
    }
}

/// A bare status: no body.
impl Output for StatusCode {
    fn declare(shape: &mut Shape) {
        shape.response = Declared::Nothing;
    }
}

impl<T: Output> Output for Result<T, ApiError> {
    fn declare(shape: &mut Shape) {
        T::declare(shape);
    }
}

/// A handler whose arguments are `Args`.
pub trait Shaped<Args> {
    fn shape() -> Shape;
}

macro_rules! shaped {
    ($($arg:ident),*) => {
        impl<F, Fut, $($arg: Input),*> Shaped<($($arg,)*)> for F
        where
            F: FnOnce($($arg),*) -> Fut,
            Fut: Future,
            Fut::Output: Output,
        {
            fn shape() -> Shape {
                let mut shape = Shape::default();
                $($arg::declare(&mut shape);)*
                <Fut::Output as Output>::declare(&mut shape);
                shape
            }
        }
    };
}

shaped!(A);
shaped!(A, B);
shaped!(A, B, C);
shaped!(A, B, C, D);
shaped!(A, B, C, D, E);

/// The shape of `handler`, for a route that is not bound with [`super::bind::Routes::bind`].
pub fn shape_of<H: Shaped<Args>, Args>(_handler: &H) -> Shape {
    H::shape()
}
