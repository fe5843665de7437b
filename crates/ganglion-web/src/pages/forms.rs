//! Who is looking at a page (session, language, form token), and forms read with their
//! CSRF token checked before anything else happens.
//!
//! The form token of a signed-in browser is derived from its session token, which the
//! page's scripts cannot read (the cookie is HttpOnly) and another site cannot learn.
//! Before sign-in, the token is a random value in a `SameSite=Strict` cookie, repeated
//! in the form (double submit).

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ganglion_app::ErrorCode;
use ganglion_app::{Actor, Ctx};
use rand::RngCore;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use super::i18n::{negotiate, Texts, LANG_COOKIE};
use super::shell::PageError;
use crate::caller::{cookie, Caller};
use crate::error::ApiError;
use crate::AppState;

/// The cookie of the pre-sign-in form token.
pub(crate) const CSRF_COOKIE: &str = "ganglion_csrf";
/// The name of the form field that carries the token.
pub(crate) const CSRF_FIELD: &str = "csrf";

/// The person looking at a page.
#[derive(Clone)]
pub(crate) struct Viewer {
    pub ctx: Ctx,
    /// The session token, when the browser has a session.
    pub token: Option<String>,
    pub texts: &'static Texts,
    /// The form token to put in every form of the page.
    pub csrf: String,
    /// A fresh pre-sign-in token to set as a cookie with the answer.
    pub new_csrf_cookie: Option<String>,
    /// Whether the browser reached us over TLS (directly or through a proxy that says so).
    pub secure: bool,
    /// The path and query of the page, to come back to after signing in.
    pub here: String,
    /// The confirmation of the write that led here, to show once.
    pub flash: Option<String>,
}

/// Shown without its tokens: a failure that carries the viewer may be logged.
impl std::fmt::Debug for Viewer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Viewer")
            .field("actor", &self.ctx.actor)
            .field("language", &self.texts.code)
            .field("here", &self.here)
            .finish_non_exhaustive()
    }
}

impl Viewer {
    pub fn signed_in(&self) -> bool {
        self.ctx.actor != Actor::Anonymous
    }

    /// The login of the signed-in account.
    pub fn login(&self) -> Option<&str> {
        match &self.ctx.actor {
            Actor::Account { login, .. } => Some(login),
            _ => None,
        }
    }

    /// Sends an anonymous visitor to sign in first.
    pub fn require_sign_in(&self) -> Result<(), PageError> {
        if self.signed_in() {
            Ok(())
        } else {
            Err(PageError::SignIn {
                next: self.here.clone(),
            })
        }
    }

    /// `Set-Cookie` attributes shared by every cookie the pages set.
    pub fn cookie_attributes(&self) -> &'static str {
        if self.secure {
            "Path=/; HttpOnly; SameSite=Lax; Secure"
        } else {
            "Path=/; HttpOnly; SameSite=Lax"
        }
    }
}

pub(crate) fn session_form_token(session_token: &str) -> String {
    let digest = Sha256::new()
        .chain_update(b"ganglion form token\0")
        .chain_update(session_token.as_bytes())
        .finalize();
    URL_SAFE_NO_PAD.encode(digest)
}

fn random_token() -> String {
    let mut bytes = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = PageError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Caller { ctx, token } = Caller::from_request_parts(parts, state)
            .await
            .map_err(|error| PageError::from_api(error, Texts::of("en")))?;
        let accept = parts
            .headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok());
        let texts = Texts::of(negotiate(cookie(parts, LANG_COOKIE).as_deref(), accept));
        let signed_in = ctx.actor != Actor::Anonymous;
        let (csrf, new_csrf_cookie) = match (&token, signed_in) {
            (Some(token), true) => (session_form_token(token), None),
            _ => match cookie(parts, CSRF_COOKIE).filter(|v| v.len() >= 16) {
                Some(existing) => (existing, None),
                None => {
                    let fresh = random_token();
                    (fresh.clone(), Some(fresh))
                }
            },
        };
        // Only a proxy the operator trusts may say the browser came over TLS.
        let secure = parts
            .extensions
            .get::<crate::limits::Client>()
            .is_some_and(|client| client.secure);
        let here = parts
            .uri
            .path_and_query()
            .map(|pq| pq.as_str().to_owned())
            .unwrap_or_else(|| "/".into());
        // Only a name of a confirmation in the catalogue: never text from the request.
        let flash = cookie(parts, super::shell::FLASH_COOKIE).filter(|key| {
            key.len() <= 64
                && key
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_' || b == b'-')
        });
        Ok(Self {
            ctx,
            token,
            texts,
            csrf,
            new_csrf_cookie,
            secure,
            here,
            flash,
        })
    }
}

/// The query of a page, read leniently: absent means defaults, unknown keys are ignored,
/// a value of the wrong type is a 422 page.
pub(crate) struct PageQuery<T>(pub T);

impl<T: DeserializeOwned + Default, S: Send + Sync> FromRequestParts<S> for PageQuery<T> {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(query) = parts.uri.query() else {
            return Ok(Self(T::default()));
        };
        let refuse = |message: &str| {
            let accept = parts
                .headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok());
            let texts = Texts::of(negotiate(cookie(parts, LANG_COOKIE).as_deref(), accept));
            PageError::status(ErrorCode::InvalidQuery, message, texts)
        };
        if crate::extract::nul_in_query(query).is_some() {
            return Err(refuse(
                "a query parameter may not hold the NUL character (U+0000)",
            ));
        }
        serde_urlencoded::from_str(query)
            .map(Self)
            .map_err(|error| refuse(&error.to_string()))
    }
}

/// A form whose only field is its token: a button that does one thing.
#[derive(serde::Deserialize)]
pub(crate) struct EmptyForm {}

/// A form sent by a page: the token is checked, then the fields are read into `T`.
pub(crate) struct CsrfForm<T> {
    pub viewer: Viewer,
    pub input: T,
}

impl<T: DeserializeOwned> FromRequest<AppState> for CsrfForm<T> {
    type Rejection = PageError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = request.into_parts();
        let viewer = Viewer::from_request_parts(&mut parts, state).await?;
        let texts = viewer.texts;
        let is_form = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if !is_form {
            return Err(PageError::shown_to(
                &viewer,
                ApiError::new(ErrorCode::UnsupportedMediaType, texts.t("error.not_a_form")),
            ));
        }
        let request = Request::from_parts(parts, body);
        let bytes = Bytes::from_request(request, state).await.map_err(|_| {
            PageError::shown_to(
                &viewer,
                ApiError::new(ErrorCode::BodyTooLarge, texts.t("error.too_large")),
            )
        })?;
        check_token(&viewer, form_field(&bytes, CSRF_FIELD).as_deref())?;
        if form_urlencoded::parse(&bytes)
            .any(|(key, value)| key.contains('\0') || value.contains('\0'))
        {
            return Err(PageError::status(
                ErrorCode::InvalidForm,
                "a field may not hold the NUL character (U+0000)",
                texts,
            ));
        }
        let input = serde_urlencoded::from_bytes::<T>(&bytes).map_err(|error| {
            PageError::shown_to(
                &viewer,
                ApiError::new(ErrorCode::InvalidForm, error.to_string()),
            )
        })?;
        Ok(Self { viewer, input })
    }
}

fn form_field(bytes: &[u8], name: &str) -> Option<String> {
    form_urlencoded::parse(bytes)
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// Compares tokens in time that does not depend on where they differ.
pub(crate) fn same_token(sent: &str, expected: &str) -> bool {
    sent.len() == expected.len()
        && sent
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// Refuses a form whose token is missing or is not this browser's.
pub(crate) fn check_token(viewer: &Viewer, sent: Option<&str>) -> Result<(), PageError> {
    let expected = &viewer.csrf;
    let matches =
        viewer.new_csrf_cookie.is_none() && sent.is_some_and(|sent| same_token(sent, expected));
    if matches {
        Ok(())
    } else {
        Err(PageError::shown_to(
            viewer,
            ApiError::new(
                ErrorCode::InvalidFormToken,
                viewer.texts.t("error.form_token"),
            ),
        ))
    }
}

/// The local path to go to after a form, or `fallback`: never another site.
pub(crate) fn local_path(path: Option<&str>, fallback: &str) -> String {
    match path {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.contains('\\')
                && !path.chars().any(char::is_control) =>
        {
            path.to_owned()
        }
        _ => fallback.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed() {
        assert_eq!(local_path(Some("/units/4"), "/work"), "/units/4");
        assert_eq!(local_path(Some("//evil.example"), "/work"), "/work");
        assert_eq!(local_path(Some("https://evil.example"), "/work"), "/work");
        assert_eq!(local_path(Some("/\\evil.example"), "/work"), "/work");
        assert_eq!(local_path(None, "/work"), "/work");
    }

    #[test]
    fn the_form_token_depends_on_the_session() {
        assert_ne!(session_form_token("a"), session_form_token("b"));
        assert_eq!(session_form_token("a"), session_form_token("a"));
    }
}
