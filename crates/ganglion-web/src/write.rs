//! Writes, implemented once for every endpoint: the use case's context is built from the
//! request, an `Idempotency-Key` replay returns the first response, and the response to
//! remember is handed to the use case to store in the write's own transaction.

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use ganglion_app::{App, AppError, Ctx, Idempotency};
use serde::Serialize;

use crate::error::ApiError;
use crate::extract::WriteBody;

/// Runs a write use case and renders its result with `status`.
pub(crate) async fn run_write<T, F, Fut>(
    app: &App,
    caller: Ctx,
    body: &WriteBody,
    status: StatusCode,
    use_case: F,
) -> Result<Response, ApiError>
where
    T: Serialize,
    F: FnOnce(Ctx) -> Fut,
    Fut: std::future::Future<Output = Result<T, AppError>>,
{
    let idempotency = body.idempotency_key.as_ref().map(|key| Idempotency {
        key: key.clone(),
        fingerprint: body.fingerprint.clone(),
        status: status.as_u16(),
    });
    // Keys are per caller: the same key from two accounts names two writes.
    let idempotency = idempotency.map(|mut idempotency| {
        idempotency.key = format!("{}:{}", caller.actor.label(), idempotency.key);
        idempotency
    });
    if let Some(idempotency) = &idempotency {
        if let Some(stored) = app.replay(idempotency).await? {
            return Ok(replayed(stored.status, stored.body));
        }
    }
    let ctx = Ctx {
        idempotency: idempotency.clone(),
        ..caller
    };
    match use_case(ctx).await {
        Ok(value) => Ok(render(status, &value)),
        Err(error) => {
            // A concurrent request with the same key may have committed first (the key's
            // uniqueness then rolled this one back); if so, answer as it was answered.
            if let Some(idempotency) = &idempotency {
                if let Ok(Some(stored)) = app.replay(idempotency).await {
                    return Ok(replayed(stored.status, stored.body));
                }
            }
            Err(error.into())
        }
    }
}

fn render<T: Serialize>(status: StatusCode, value: &T) -> Response {
    if status == StatusCode::NO_CONTENT {
        return status.into_response();
    }
    (status, axum::Json(value)).into_response()
}

fn replayed(status: u16, body: String) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let mut response = if status == StatusCode::NO_CONTENT {
        status.into_response()
    } else {
        let mut response = Response::new(Body::from(body));
        *response.status_mut() = status;
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        response
    };
    response
        .headers_mut()
        .insert("idempotent-replayed", HeaderValue::from_static("true"));
    response
}
