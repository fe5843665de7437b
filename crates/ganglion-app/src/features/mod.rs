//! The use cases, grouped by feature: one folder per feature, each a handle on the
//! [`crate::App`] whose methods are that feature's use cases.
//!
//! ```ignore
//! let view = app.experiences().create(&ctx, input).await?;
//! ```
//!
//! A feature's folder holds its commands (writes), queries (reads) and views (what
//! crosses a door, serialized as the API documents it). Every public use case takes the
//! caller's [`crate::Ctx`] first, authorizes with the one predicate, validates, and ends
//! a write through `App::finish_write`, which appends the audit entry and remembers an
//! idempotent answer in the write's own transaction. Shared machinery — the tree index,
//! the tracking engine, the clock, the change feed — lives on the `App`, not here.

pub(crate) mod access;
pub(crate) mod attention;
pub(crate) mod audit_log;
pub(crate) mod browse;
pub(crate) mod directives;
pub(crate) mod experiences;
pub(crate) mod honours;
pub(crate) mod integrity;
pub(crate) mod notes;
pub(crate) mod people;
pub(crate) mod programmes;
pub(crate) mod units;

use crate::AppError;
use crate::ErrorCode;

/// A text field, trimmed: required ones must not be empty, and none may be longer than
/// `max` characters.
pub(crate) fn check_text(
    field: &str,
    text: &str,
    max: usize,
    required: bool,
) -> Result<String, AppError> {
    let text = text.trim();
    if required && text.is_empty() {
        return Err(AppError::invalid(
            ErrorCode::InvalidValue,
            field,
            format!("{field} must not be empty"),
        ));
    }
    if text.chars().count() > max {
        return Err(AppError::invalid(
            ErrorCode::InvalidValue,
            field,
            format!("{field} is at most {max} characters"),
        ));
    }
    Ok(text.to_owned())
}
