//! The one error type of the HTTP layer: a status, a stable code, a message for people,
//! and the field at fault. Every failure, including the framework's own rejections,
//! leaves the server in this shape.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use ganglion_app::{AppError, RowError};
use serde::Serialize;

/// `{"error": {...}}`, as API.md fixes it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// A stable snake_case code programs can branch on.
    pub code: String,
    pub message: String,
    /// The field at fault, as a dotted path into the request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// For an import: every bad row with its line number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows: Option<Vec<RowError>>,
}

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub detail: ErrorDetail,
    /// Seconds, for the `Retry-After` header of a 429.
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            detail: ErrorDetail {
                code: code.to_owned(),
                message: message.into(),
                field: None,
                rows: None,
            },
            retry_after: None,
        }
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        let field = field.into();
        if !field.is_empty() && field != "." {
            self.detail.field = Some(field);
        }
        self
    }
}

impl From<AppError> for ApiError {
    fn from(error: AppError) -> Self {
        let message = error.to_string();
        match error {
            AppError::NotFound { .. } => ApiError::new(StatusCode::NOT_FOUND, "not_found", message),
            AppError::Unauthenticated => {
                ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", message)
            }
            AppError::BadCredentials => {
                ApiError::new(StatusCode::UNAUTHORIZED, "bad_credentials", message)
            }
            AppError::Forbidden => ApiError::new(StatusCode::FORBIDDEN, "forbidden", message),
            AppError::RateLimited { retry_after } => {
                let mut error =
                    ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message);
                error.retry_after = Some(retry_after);
                error
            }
            AppError::Invalid { code, field, .. } => {
                let error = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message);
                match field {
                    Some(field) => error.with_field(field),
                    None => error,
                }
            }
            AppError::Conflict { code, .. } => ApiError::new(StatusCode::CONFLICT, code, message),
            AppError::Rows { rows } => {
                let mut error =
                    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_rows", message);
                error.detail.rows = Some(rows);
                error
            }
            AppError::Store(cause) => {
                // The cause is for the operator's log, never for the client.
                tracing::error!(error = %cause, "store failure");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "the server could not complete the request",
                )
            }
            AppError::Internal(cause) => {
                tracing::error!(error = %cause, "internal failure");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "the server could not complete the request",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(ErrorBody { error: self.detail })).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}
