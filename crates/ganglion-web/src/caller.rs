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
        Ok(Self { ctx, token })
    }
}
