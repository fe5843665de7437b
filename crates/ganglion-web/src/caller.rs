//! Who is calling: the session token from `Authorization: Bearer …` (programs) or the
//! `ganglion_session` cookie (web pages), turned by the use cases into a context.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use ganglion_app::Ctx;

use crate::error::ApiError;
use crate::{AppState, RequestId};

/// The name of the cookie that carries a session for the web pages.
pub const SESSION_COOKIE: &str = "ganglion_session";

/// The caller's context, and the token it came with.
pub struct Caller {
    pub ctx: Ctx,
    pub token: Option<String>,
}

pub(crate) fn token(parts: &Parts) -> Option<String> {
    if let Some(value) = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let (scheme, token) = value.split_once(' ')?;
        return scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim().to_owned());
    }
    cookie(parts, SESSION_COOKIE).filter(|value| !value.is_empty())
}

/// The value of the cookie `name`, if the request carries it.
pub(crate) fn cookie(parts: &Parts, name: &str) -> Option<String> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let request_id = parts
            .extensions
            .get::<RequestId>()
            .map(|id| id.0.clone())
            .unwrap_or_default();
        let token = token(parts);
        let ctx = match &token {
            Some(token) => state.app.authenticate(token, request_id).await?,
            None => Ctx::anonymous(request_id),
        };
        if let ganglion_app::Actor::Account { id, .. } = &ctx.actor {
            state.limits.check_account(*id)?;
        }
        Ok(Self { ctx, token })
    }
}

/// The header a cookie-authenticated API write carries its CSRF token in: the form
/// token of the pages (every page's forms carry it in their `csrf` field).
pub const CSRF_HEADER: &str = "x-csrf-token";

/// A write to the API authenticated by the session cookie must carry the session's
/// CSRF token in [`CSRF_HEADER`]: a browser sends the cookie along with a request another
/// site made it send, but that site cannot know the token. Bearer tokens are never sent
/// by a browser on its own, so requests with `Authorization` are left alone.
pub(crate) async fn api_csrf(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::Method;
    use axum::response::IntoResponse;
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    let api = request.uri().path().starts_with("/api/");
    let bearer = request.headers().contains_key(header::AUTHORIZATION);
    if safe || !api || bearer {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let session = cookie(&parts, SESSION_COOKIE).filter(|value| !value.is_empty());
    if let Some(session) = session {
        let expected = crate::pages::session_form_token(&session);
        let sent = parts
            .headers
            .get(CSRF_HEADER)
            .and_then(|value| value.to_str().ok());
        if !sent.is_some_and(|sent| crate::pages::same_token(sent, &expected)) {
            return crate::error::ApiError::new(
                ganglion_app::ErrorCode::CsrfTokenRequired,
                "a write signed in by the session cookie needs the session's CSRF token in the X-CSRF-Token header",
            )
            .into_response();
        }
    }
    next.run(axum::extract::Request::from_parts(parts, body))
        .await
}
