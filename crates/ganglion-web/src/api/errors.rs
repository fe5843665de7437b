//! How an operation states every error it can answer: one `api_errors!` line names a
//! type, the kind of request the operation reads, and the codes of its own rules; the
//! type goes in the operation's `responses(...)`. The codes every request of that kind
//! can meet (no session, a malformed body, a full bucket…) are added here, once, and
//! each status gets a schema whose `code` is exactly the listed codes, so that the
//! document says what the server answers and a client (or schemathesis) can check it.
//!
//! ```ignore
//! api_errors!(GetUnitErrors, read, [NotFound]);
//! #[utoipa::path(get, path = "/api/v1/units/{id}", responses(
//!     (status = 200, description = "The unit", body = UnitView), GetUnitErrors))]
//! ```

use std::collections::BTreeMap;

use ganglion_app::ErrorCode;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;

/// What an operation reads, and so which failures it meets before its own rules run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A read by a signed-in caller.
    Read,
    /// A write whose body is JSON.
    JsonWrite,
    /// A write whose body is a CSV file.
    CsvWrite,
    /// A write without a body (or an optional JSON one).
    BareWrite,
    /// Signing in: no session needed, a JSON body.
    SignIn,
}

impl Kind {
    pub(crate) fn codes(self) -> &'static [ErrorCode] {
        use ErrorCode::*;
        match self {
            Kind::Read => &[Unauthenticated, InvalidQuery, RateLimited],
            Kind::JsonWrite => &[
                Unauthenticated,
                InvalidQuery,
                RateLimited,
                CsrfTokenRequired,
                MalformedJson,
                UnreadableBody,
                InvalidField,
                InvalidValue,
                UnsupportedMediaType,
                BodyTooLarge,
                InvalidIdempotencyKey,
                IdempotencyKeyReused,
            ],
            Kind::CsvWrite => &[
                Unauthenticated,
                InvalidQuery,
                RateLimited,
                CsrfTokenRequired,
                UnreadableBody,
                UnsupportedMediaType,
                BodyTooLarge,
                InvalidIdempotencyKey,
                IdempotencyKeyReused,
            ],
            Kind::BareWrite => &[
                Unauthenticated,
                InvalidQuery,
                RateLimited,
                CsrfTokenRequired,
                UnreadableBody,
                BodyTooLarge,
                InvalidIdempotencyKey,
                IdempotencyKeyReused,
            ],
            Kind::SignIn => &[
                InvalidQuery,
                RateLimited,
                CsrfTokenRequired,
                MalformedJson,
                UnreadableBody,
                InvalidField,
                InvalidValue,
                UnsupportedMediaType,
                BodyTooLarge,
                InvalidIdempotencyKey,
            ],
        }
    }
}

/// Every code an operation of `kind` with its own `codes` may answer, each once.
pub(crate) fn all_codes(kind: Kind, codes: &[ErrorCode]) -> Vec<ErrorCode> {
    let mut all: Vec<ErrorCode> = kind.codes().iter().chain(codes).copied().collect();
    all.sort();
    all.dedup();
    all
}

/// The error answers of an operation, one per status, each listing its codes.
pub(crate) fn responses(kind: Kind, codes: &[ErrorCode]) -> BTreeMap<String, RefOr<Response>> {
    let mut by_status: BTreeMap<u16, Vec<ErrorCode>> = BTreeMap::new();
    for code in all_codes(kind, codes) {
        by_status.entry(code.status()).or_default().push(code);
    }
    by_status
        .into_iter()
        .map(|(status, codes)| {
            let names: Vec<String> = codes.iter().map(|code| format!("`{code}`")).collect();
            let mut response = ResponseBuilder::new()
                .description(names.join(", "))
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(error_schema(&codes)))
                        .build(),
                );
            if status == 429 {
                response = response.header(
                    "Retry-After",
                    utoipa::openapi::header::HeaderBuilder::new()
                        .schema(ObjectBuilder::new().schema_type(Type::Integer))
                        .description(Some("Seconds to wait"))
                        .build(),
                );
            }
            (status.to_string(), RefOr::T(response.build()))
        })
        .collect()
}

fn error_schema(codes: &[ErrorCode]) -> Schema {
    let text = || ObjectBuilder::new().schema_type(Type::String);
    let row = ObjectBuilder::new()
        .property("line", ObjectBuilder::new().schema_type(Type::Integer))
        .required("line")
        .property("code", text())
        .property("reason", text())
        .required("reason");
    let detail = ObjectBuilder::new()
        .property(
            "code",
            text().enum_values(Some(codes.iter().map(|code| code.as_str()))),
        )
        .required("code")
        .property("message", text())
        .required("message")
        .property("field", text())
        .property("rows", ArrayBuilder::new().items(row));
    Schema::Object(
        ObjectBuilder::new()
            .property("error", detail)
            .required("error")
            .build(),
    )
}

/// Declares the error answers of an operation: `api_errors!(Name, kind, [Code, …])`,
/// `kind` one of `read`, `json_write`, `csv_write`, `bare_write`, `sign_in`.
macro_rules! api_errors {
    ($name:ident, $kind:ident, [$($code:ident),* $(,)?]) => {
        pub(crate) struct $name;

        impl $name {
            #[allow(dead_code)]
            pub(crate) const CODES: &'static [ganglion_app::ErrorCode] =
                &[$(ganglion_app::ErrorCode::$code),*];
        }

        impl utoipa::IntoResponses for $name {
            fn responses() -> std::collections::BTreeMap<
                String,
                utoipa::openapi::RefOr<utoipa::openapi::response::Response>,
            > {
                $crate::api::errors::responses(api_errors!(@kind $kind), Self::CODES)
            }
        }
    };
    (@kind read) => { $crate::api::errors::Kind::Read };
    (@kind json_write) => { $crate::api::errors::Kind::JsonWrite };
    (@kind csv_write) => { $crate::api::errors::Kind::CsvWrite };
    (@kind bare_write) => { $crate::api::errors::Kind::BareWrite };
    (@kind sign_in) => { $crate::api::errors::Kind::SignIn };
}

pub(crate) use api_errors;

/// Says, in the document, how the server reads what every operation shares: ids in
/// paths, queries and bodies are positive integers in one spelling, `limit` is 1 to
/// 1000, and an `Idempotency-Key` is 1 to 255 visible ASCII characters.
pub(crate) fn describe_shared_inputs(openapi: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::path::ParameterIn;
    let id = || {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(ID_PATTERN))
            .build()
    };
    for item in openapi.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ];
        for operation in operations.into_iter().flatten() {
            for parameter in operation.parameters.iter_mut().flatten() {
                let name = parameter.name.as_str();
                let schema = match (&parameter.parameter_in, name) {
                    (ParameterIn::Path, "id") | (ParameterIn::Query, "under" | "at") => {
                        Some(Schema::Object(id()))
                    }
                    (ParameterIn::Query, "limit") => Some(Schema::Object(
                        ObjectBuilder::new()
                            .schema_type(Type::Integer)
                            .minimum(Some(1))
                            .maximum(Some(1000))
                            .build(),
                    )),
                    (ParameterIn::Header, "Idempotency-Key") => Some(Schema::Object(
                        ObjectBuilder::new()
                            .schema_type(Type::String)
                            .pattern(Some("^[!-~]{1,255}$"))
                            .build(),
                    )),
                    _ => None,
                };
                if let Some(schema) = schema {
                    parameter.schema = Some(RefOr::T(schema));
                }
            }
        }
    }
    // Id fields of bodies and answers.
    if let Some(components) = openapi.components.as_mut() {
        for schema in components.schemas.values_mut() {
            let RefOr::T(Schema::Object(object)) = schema else {
                continue;
            };
            for (name, property) in object.properties.iter_mut() {
                if !ID_FIELDS.contains(&name.as_str()) {
                    continue;
                }
                if let RefOr::T(Schema::Object(field)) = property {
                    field.pattern = Some(ID_PATTERN.to_owned());
                }
            }
        }
    }
}

/// An id as the server reads it.
pub(crate) const ID_PATTERN: &str = "^[1-9][0-9]{0,17}$";

/// Fields that hold an id wherever they appear.
const ID_FIELDS: &[&str] = &[
    "id",
    "issuer",
    "person",
    "hidden_from",
    "parent_directive",
    "directive",
    "under",
    "parent",
    "programme",
    "awarded_by",
];
