//! Extractors that turn every malformed request into an [`ApiError`], never into the
//! framework's plain-text rejections.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method, StatusCode};
use ganglion_app::ErrorCode;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::error::ApiError;

/// The body of a write, read once: its bytes, and what the idempotency machinery needs.
pub struct WriteBody {
    pub bytes: Bytes,
    pub idempotency_key: Option<String>,
    /// A digest of method, path and body: a replay must match it exactly.
    pub fingerprint: String,
}

impl<S: Send + Sync> FromRequest<S> for WriteBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        let idempotency_key = idempotency_key(request.headers())?;
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(
                        ErrorCode::BodyTooLarge,
                        "the request body is larger than this endpoint accepts",
                    )
                } else {
                    ApiError::new(ErrorCode::UnreadableBody, rejection.body_text())
                }
            })?;
        Ok(Self {
            fingerprint: fingerprint(&method, &path, &bytes),
            bytes,
            idempotency_key,
        })
    }
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let invalid = || {
        ApiError::new(
            ErrorCode::InvalidIdempotencyKey,
            "an Idempotency-Key is 1 to 255 visible ASCII characters",
        )
    };
    let key = value.to_str().map_err(|_| invalid())?;
    if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(invalid());
    }
    Ok(Some(key.to_owned()))
}

fn fingerprint(method: &Method, path: &str, body: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(method.as_str().as_bytes());
    hasher.update(b" ");
    hasher.update(path.as_bytes());
    hasher.update(b"\n");
    hasher.update(body);
    hex::encode(hasher.finalize())
}

/// A JSON write: the body parsed into `T`, with the type's own rules (unknown fields
/// refused, types checked) reported with the path of the field at fault.
pub struct JsonWrite<T> {
    pub input: T,
    pub body: WriteBody,
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonWrite<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        require_content_type(request.headers(), "application/json")?;
        let body = WriteBody::from_request(request, state).await?;
        let input = parse_json(&body.bytes)?;
        Ok(Self { input, body })
    }
}

pub fn require_content_type(headers: &HeaderMap, expected: &str) -> Result<(), ApiError> {
    let given = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    let essence = given.split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case(expected) {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            format!("send the body as {expected}"),
        ))
    }
}

/// Malformed JSON is a 400; JSON of the wrong shape is a 422 naming the field, and so
/// is text holding the NUL character (see [`nul_in_text`]).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let malformed = |inner: serde_json::Error| {
        ApiError::new(
            ErrorCode::MalformedJson,
            format!("the body is not valid JSON: {inner}"),
        )
    };
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let parsed = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                ApiError::new(ErrorCode::InvalidField, inner.to_string()).with_field(path)
            }
            _ => malformed(inner),
        }
    })?;
    deserializer.end().map_err(malformed)?;
    if let Some(field) = nul_in_json(bytes) {
        return Err(nul_in_text().with_field(field));
    }
    Ok(parsed)
}

/// Text may not hold the NUL character, wherever it comes from: PostgreSQL cannot store
/// it (nor compare with it), and no name, note or login means it. Refused at every door
/// alike, on both backends.
pub fn nul_in_text() -> ApiError {
    ApiError::new(
        ErrorCode::InvalidValue,
        "text may not hold the NUL character (U+0000)",
    )
}

/// The path of the first string (or key) of a JSON body that holds a NUL character.
/// JSON can carry one only as the escape `\u0000`, so a body without it is let through
/// unread.
fn nul_in_json(bytes: &[u8]) -> Option<String> {
    if !bytes
        .windows(6)
        .any(|window| window.eq_ignore_ascii_case(b"\\u0000"))
    {
        return None;
    }
    fn walk(value: &serde_json::Value, path: &mut Vec<String>) -> Option<String> {
        match value {
            serde_json::Value::String(text) if text.contains('\0') => Some(path.join(".")),
            serde_json::Value::Array(items) => {
                items.iter().enumerate().find_map(|(index, item)| {
                    path.push(index.to_string());
                    let found = walk(item, path);
                    path.pop();
                    found
                })
            }
            serde_json::Value::Object(fields) => fields.iter().find_map(|(key, item)| {
                path.push(key.clone());
                let found = if key.contains('\0') {
                    Some(path.join("."))
                } else {
                    walk(item, path)
                };
                path.pop();
                found
            }),
            _ => None,
        }
    }
    let value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    walk(&value, &mut Vec::new())
}

/// The first query parameter whose name or value holds a NUL character.
pub(crate) fn nul_in_query(query: &str) -> Option<String> {
    form_urlencoded::parse(query.as_bytes())
        .find(|(key, value)| key.contains('\0') || value.contains('\0'))
        .map(|(key, _)| key.replace('\0', ""))
}

/// Query parameters parsed into `T`; unknown or ill-typed parameters are a 422.
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        if let Some(key) = nul_in_query(query) {
            return Err(ApiError::new(
                ErrorCode::InvalidQuery,
                "a query parameter may not hold the NUL character (U+0000)",
            )
            .with_field(key));
        }
        let deserializer =
            serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(deserializer)
            .map(Query)
            .map_err(|error| {
                let path = error.path().to_string();
                ApiError::new(ErrorCode::InvalidQuery, error.into_inner().to_string())
                    .with_field(path)
            })
    }
}
