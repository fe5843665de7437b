//! Signing in and out, and choosing the language.

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use ganglion_app::ErrorCode;
use ganglion_app::{AppError, LoginAttempt};
use maud::html;
use serde::Deserialize;

use super::forms::{local_path, CsrfForm, EmptyForm, PageQuery, Viewer};
use super::i18n::LANG_COOKIE;
use super::shell::{bare_page, csrf_field, error_box, language_form, respond, see_other};
use super::{PageError, PageResult};
use crate::caller::SESSION_COOKIE;
use crate::error::ApiError;
use crate::limits::Client;
use crate::AppState;

pub(crate) async fn home(viewer: Viewer) -> Response {
    if viewer.signed_in() {
        see_other("/work")
    } else {
        see_other("/login")
    }
}

#[derive(Deserialize, Default)]
pub(crate) struct LoginQuery {
    next: Option<String>,
}

pub(crate) async fn login_form(
    viewer: Viewer,
    PageQuery(query): PageQuery<LoginQuery>,
) -> Response {
    let next = query.next;
    if viewer.signed_in() {
        return see_other(&local_path(next.as_deref(), "/work"));
    }
    login_page(&viewer, StatusCode::OK, "", next.as_deref(), None)
}

fn login_page(
    viewer: &Viewer,
    status: StatusCode,
    login: &str,
    next: Option<&str>,
    error: Option<&ApiError>,
) -> Response {
    let texts = viewer.texts;
    let body = html! {
        section class="signin" {
            h1 { (texts.t("login.title")) }
            p class="lead" { (texts.t("app.tagline")) }
            @if let Some(error) = error { (error_box(texts, error)) }
            form method="post" action="/login" class="stack" {
                (csrf_field(viewer))
                input type="hidden" name="next" value=(local_path(next, "/work"));
                label for="login" { (texts.t("login.login")) }
                input id="login" name="login" type="text" autocomplete="username" required
                    autofocus value=(login);
                label for="password" { (texts.t("login.password")) }
                input id="password" name="password" type="password"
                    autocomplete="current-password" required;
                button type="submit" { (texts.t("login.submit")) }
            }
            (language_form(viewer))
        }
    };
    respond(
        viewer,
        status,
        bare_page(texts, texts.t("login.title"), body),
    )
}

#[derive(Deserialize)]
pub(crate) struct LoginForm {
    login: String,
    password: String,
    next: Option<String>,
}

pub(crate) async fn login(
    State(state): State<AppState>,
    client: Client,
    CsrfForm { viewer, input }: CsrfForm<LoginForm>,
) -> PageResult {
    state
        .limits
        .check_sign_in(client.address)
        .map_err(|error| PageError::from_api(error, viewer.texts))?;
    let attempt = LoginAttempt {
        login: input.login.clone(),
        password: input.password,
    };
    match state
        .app
        .login(&viewer.ctx, attempt, &client.address.to_string())
        .await
    {
        Ok(session) => {
            let mut response = see_other(&local_path(input.next.as_deref(), "/work"));
            let cookie = format!(
                "{SESSION_COOKIE}={}; {}; Max-Age={}",
                session.token,
                viewer.cookie_attributes(),
                ganglion_app::SESSION_SECONDS
            );
            set_cookie(&mut response, &cookie);
            Ok(response)
        }
        Err(error @ (AppError::BadCredentials | AppError::RateLimited { .. })) => {
            let error = ApiError::from(error);
            let mut response = login_page(
                &viewer,
                error.status,
                &input.login,
                input.next.as_deref(),
                Some(&error),
            );
            if let Some(seconds) = error.retry_after {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, seconds.into());
            }
            Ok(response)
        }
        Err(other) => Err(PageError::from_api(other.into(), viewer.texts)),
    }
}

pub(crate) async fn logout(
    State(state): State<AppState>,
    CsrfForm { viewer, .. }: CsrfForm<EmptyForm>,
) -> PageResult {
    if let Some(token) = &viewer.token {
        if viewer.signed_in() {
            state
                .app
                .logout(&viewer.ctx, token)
                .await
                .map_err(|error| PageError::from_api(error.into(), viewer.texts))?;
        }
    }
    let mut response = see_other("/login");
    set_cookie(
        &mut response,
        &format!(
            "{SESSION_COOKIE}=; {}; Max-Age=0",
            viewer.cookie_attributes()
        ),
    );
    Ok(response)
}

#[derive(Deserialize)]
pub(crate) struct LanguageForm {
    language: String,
    back: Option<String>,
}

pub(crate) async fn choose_language(
    CsrfForm { viewer, input }: CsrfForm<LanguageForm>,
) -> PageResult {
    let known = super::i18n::LANGUAGES
        .iter()
        .any(|(code, _, _)| *code == input.language);
    if !known {
        return Err(PageError::status(
            ErrorCode::InvalidValue,
            viewer.texts.t("error.unknown_language"),
            viewer.texts,
        ));
    }
    let mut response = see_other(&local_path(input.back.as_deref(), "/"));
    set_cookie(
        &mut response,
        &format!(
            "{LANG_COOKIE}={}; {}; Max-Age=31536000",
            input.language,
            viewer.cookie_attributes()
        ),
    );
    Ok(response)
}

fn set_cookie(response: &mut Response, cookie: &str) {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}
