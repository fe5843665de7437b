use ganglion_store::{Constraint, StoreError};
use serde::Serialize;

/// One bad row of an import: where it is and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RowError {
    /// The line of the file, counting the header as line 1.
    pub line: u64,
    /// The code of the row, when it could be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    pub reason: String,
}

/// Why a use case did not do what was asked. Each variant maps to one HTTP status; the
/// `code` strings are stable and part of the API.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 401: no valid credentials.
    #[error("sign in first: this needs a valid session")]
    Unauthenticated,
    /// 401: the login or the password is wrong.
    #[error("wrong login or password")]
    BadCredentials,
    /// 403: the caller may see the thing but not do this to it.
    #[error("you may not do this")]
    Forbidden,
    /// 429: too many attempts; try again after this many seconds.
    #[error("too many attempts; try again in {retry_after} seconds")]
    RateLimited { retry_after: u64 },
    /// 404: the thing does not exist (or, with accounts, is not visible).
    #[error("{what} not found")]
    NotFound { what: &'static str },
    /// 422: well-formed but breaks a rule.
    #[error("{message}")]
    Invalid {
        code: &'static str,
        message: String,
        field: Option<String>,
    },
    /// 409: conflicts with the current state.
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// 422: an import with bad rows; nothing was written.
    #[error("{} rows of the file are not valid; nothing was imported", rows.len())]
    Rows { rows: Vec<RowError> },
    /// A fault of the store that is no fault of the request.
    #[error(transparent)]
    Store(StoreError),
    #[error("{0}")]
    Internal(String),
}

impl AppError {
    pub(crate) fn invalid(code: &'static str, field: &str, message: impl Into<String>) -> Self {
        AppError::Invalid {
            code,
            message: message.into(),
            field: Some(field.to_owned()),
        }
    }
}

impl From<StoreError> for AppError {
    fn from(error: StoreError) -> Self {
        match error {
            // A concurrent writer took the code between our check and our insert.
            StoreError::Duplicate(Constraint::UnitCode) => AppError::Conflict {
                code: "duplicate_code",
                message: "a unit with this code already exists".into(),
            },
            other => AppError::Store(other),
        }
    }
}
