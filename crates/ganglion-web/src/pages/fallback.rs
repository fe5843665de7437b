//! Answers for addresses and methods no route serves. A program asking the API gets the
//! API's JSON error; a browser — any address outside `/api/`, or a request that asks
//! for HTML — gets a page in the site's frame, in the viewer's language, with the same
//! status and stable code.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use ganglion_app::ErrorCode;

use super::forms::Viewer;
use super::i18n::{negotiate, Texts, LANG_COOKIE};
use super::shell::failure_page;
use crate::caller::cookie;
use crate::error::ApiError;
use crate::AppState;

/// Whether a failure should be answered as a page rather than as the API's JSON.
pub(crate) fn wants_page(parts: &Parts) -> bool {
    let path = parts.uri.path();
    let program_door = ["/api/", "/open311/", "/calendar/"]
        .iter()
        .any(|prefix| path.starts_with(prefix));
    let asks_for_html = parts
        .headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    !program_door || asks_for_html
}

/// No route has this address.
pub(crate) async fn unknown_address(State(state): State<AppState>, request: Request) -> Response {
    failure(
        &state,
        request,
        ErrorCode::RouteNotFound,
        "there is no such endpoint",
        "error.no_such_address",
    )
    .await
}

/// A route has this address, but not for this method.
pub(crate) async fn wrong_method(State(state): State<AppState>, request: Request) -> Response {
    failure(
        &state,
        request,
        ErrorCode::MethodNotAllowed,
        "this endpoint does not answer that method",
        "error.wrong_method",
    )
    .await
}

async fn failure(
    state: &AppState,
    request: Request,
    code: ErrorCode,
    api_message: &str,
    page_key: &str,
) -> Response {
    let (mut parts, _body) = request.into_parts();
    if !wants_page(&parts) {
        return ApiError::new(code, api_message).into_response();
    }
    match Viewer::from_request_parts(&mut parts, state).await {
        Ok(viewer) => {
            let error = ApiError::new(code, viewer.texts.t(page_key));
            failure_page(viewer.texts, Some(&viewer), &error)
        }
        Err(_) => {
            let accept = parts
                .headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|value| value.to_str().ok());
            let texts = Texts::of(negotiate(cookie(&parts, LANG_COOKIE).as_deref(), accept));
            let error = ApiError::new(code, texts.t(page_key));
            failure_page(texts, None, &error)
        }
    }
}
