//! The one error type of the HTTP layer: a status, a stable code, a message for people,
//! and the field at fault. Every failure, including the framework's own rejections,
//! leaves the server in this shape.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use ganglion_app::ErrorCode;
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
    pub code: ErrorCode,
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
    /// An answer with this code, and the status the code has.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::from_u16(code.status())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            detail: ErrorDetail {
                code,
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
        let code = error.code();
        let message = error.to_string();
        match error {
            AppError::RateLimited { retry_after } => {
                let mut error = ApiError::new(code, message);
                error.retry_after = Some(retry_after);
                error
            }
            AppError::Invalid { field, .. } => {
                let error = ApiError::new(code, message);
                match field {
                    Some(field) => error.with_field(field),
                    None => error,
                }
            }
            AppError::Rows { rows } => {
                let mut error = ApiError::new(code, message);
                error.detail.rows = Some(rows);
                error
            }
            AppError::Store(cause) => {
                // The cause is for the operator's log, never for the client.
                tracing::error!(error = %cause, "store failure");
                ApiError::new(code, "the server could not complete the request")
            }
            AppError::Internal(cause) => {
                tracing::error!(error = %cause, "internal failure");
                ApiError::new(code, "the server could not complete the request")
            }
            _ => ApiError::new(code, message),
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
