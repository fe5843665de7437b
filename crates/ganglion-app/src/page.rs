//! Cursor pagination shared by every list.

use crate::ErrorCode;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Serialize;

use crate::AppError;

pub const DEFAULT_LIMIT: u32 = 100;
pub const MAX_LIMIT: u32 = 1000;

/// One page of a list and the cursor of the next, `null` on the last page.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

pub(crate) fn checked_limit(limit: Option<u32>) -> Result<u32, AppError> {
    match limit {
        None => Ok(DEFAULT_LIMIT),
        Some(limit) if (1..=MAX_LIMIT).contains(&limit) => Ok(limit),
        Some(_) => Err(AppError::invalid(
            ErrorCode::InvalidLimit,
            "limit",
            format!("limit must be between 1 and {MAX_LIMIT}"),
        )),
    }
}

/// Cursors are opaque to clients: the sort key of the last item, encoded.
pub(crate) fn encode_cursor(key: &str) -> String {
    URL_SAFE_NO_PAD.encode(key)
}

pub(crate) fn decode_cursor(cursor: Option<&str>) -> Result<Option<String>, AppError> {
    let Some(cursor) = cursor else {
        return Ok(None);
    };
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .map(Some)
        .ok_or_else(|| {
            AppError::invalid(
                ErrorCode::InvalidCursor,
                "cursor",
                "the cursor is not one this server gave",
            )
        })
}

/// A cursor that holds a number (a sequence, an id, an offset).
pub(crate) fn decode_number_cursor<T: std::str::FromStr>(
    cursor: Option<&str>,
) -> Result<Option<T>, AppError> {
    match decode_cursor(cursor)? {
        Some(text) => text.parse().map(Some).map_err(|_| {
            AppError::invalid(
                ErrorCode::InvalidCursor,
                "cursor",
                "the cursor is not one this server gave",
            )
        }),
        None => Ok(None),
    }
}

/// Cuts a page from `limit + 1` fetched items: the extra one tells whether more follow.
pub(crate) fn page_from<T, R>(
    mut rows: Vec<R>,
    limit: u32,
    key: impl Fn(&R) -> &str,
    view: impl Fn(R) -> T,
) -> Page<T> {
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next_cursor = if more {
        rows.last().map(|row| encode_cursor(key(row)))
    } else {
        None
    };
    Page {
        items: rows.into_iter().map(view).collect(),
        next_cursor,
    }
}
