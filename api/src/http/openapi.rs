//! `/api/openapi.json`: the API described from the code itself (utoipa), so
//! the description cannot drift from the handlers; tests check real
//! responses against it.

use axum::routing::get;
use axum::{Json, Router};
use utoipa::openapi::schema::{ArrayItems, Schema, SchemaType, Type};
use utoipa::openapi::RefOr;
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "servicewatch", description = "Unusual daily transaction volumes per maintenance service."),
    paths(
        super::health::healthz,
        super::health::readyz,
        super::data::meta,
        super::data::daily,
        super::data::transactions,
        super::data::refresh,
        super::data::progress,
        super::anomalies::anomalies,
        super::audit::audit,
        super::audit::record,
        super::marks::marks,
        super::marks::mark,
    ),
    modifiers(&NonEmptyParams)
)]
pub struct ApiDoc;

/// Every text parameter is `minLength: 1`: `params::Query` rejects an empty
/// value for any parameter (leave it out for the default), so the rule is
/// stated once here rather than on each handler.
struct NonEmptyParams;

impl Modify for NonEmptyParams {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        for item in doc.paths.paths.values_mut() {
            let ops = [&mut item.get, &mut item.post, &mut item.put, &mut item.delete, &mut item.patch];
            for op in ops.into_iter().flatten() {
                for param in op.parameters.iter_mut().flatten() {
                    match &mut param.schema {
                        Some(RefOr::T(Schema::Object(o))) => non_empty(o),
                        // A repeated parameter (`services`): each value.
                        Some(RefOr::T(Schema::Array(a))) => {
                            if let ArrayItems::RefOrSchema(items) = &mut a.items {
                                if let RefOr::T(Schema::Object(o)) = items.as_mut() {
                                    non_empty(o);
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
    }
}

/// `minLength: 1` on a text schema without an enum.
fn non_empty(o: &mut utoipa::openapi::schema::Object) {
    let text = match &o.schema_type {
        SchemaType::Type(t) => *t == Type::String,
        SchemaType::Array(ts) => ts.contains(&Type::String),
        SchemaType::AnyValue => false,
    };
    if text && o.enum_values.is_none() {
        o.min_length = Some(1);
    }
}

pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route("/api/openapi.json", get(|| async { Json(ApiDoc::openapi()) }))
}
