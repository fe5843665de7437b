//! The frame of every page (header, navigation, language and sign-out), and pages for
//! failures: the same status and stable code as the API would give, in words.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use ganglion_app::AppError;
use ganglion_app::ErrorCode;
use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::assets;
use super::forms::{Viewer, CSRF_COOKIE, CSRF_FIELD};
use super::i18n::{Texts, LANGUAGES};
use crate::error::ApiError;

pub(crate) type PageResult = Result<Response, PageError>;

/// Why a page could not be shown.
#[derive(Debug)]
pub(crate) enum PageError {
    /// Not signed in: go to the sign-in page, then come back.
    SignIn { next: String },
    /// Any other failure, shown as a page with the API's status and code.
    Shown {
        error: Box<ApiError>,
        texts: &'static Texts,
        /// Who was looking, when known: the failure is then shown in the site's frame,
        /// with its navigation, as any other page.
        viewer: Option<Box<Viewer>>,
    },
}

impl PageError {
    pub fn from_api(error: ApiError, texts: &'static Texts) -> Self {
        PageError::Shown {
            error: Box::new(error),
            texts,
            viewer: None,
        }
    }

    pub fn status(code: ErrorCode, message: &str, texts: &'static Texts) -> Self {
        Self::from_api(ApiError::new(code, message), texts)
    }

    /// A failure shown to this viewer, in the frame of the site.
    pub fn shown_to(viewer: &Viewer, error: ApiError) -> Self {
        PageError::Shown {
            error: Box::new(error),
            texts: viewer.texts,
            viewer: Some(Box::new(viewer.clone())),
        }
    }
}

/// Turns a use case's refusal into a page for this viewer.
pub(crate) trait OrPage<T> {
    fn or_page(self, viewer: &Viewer) -> Result<T, PageError>;
}

impl<T> OrPage<T> for Result<T, AppError> {
    fn or_page(self, viewer: &Viewer) -> Result<T, PageError> {
        self.map_err(|error| match error {
            AppError::Unauthenticated => PageError::SignIn {
                next: viewer.here.clone(),
            },
            other => PageError::shown_to(viewer, other.into()),
        })
    }
}

/// A use case's refusal, to show on the form it came from; without a session, the
/// browser is sent to sign in instead.
pub(crate) fn refusal(viewer: &Viewer, error: AppError) -> Result<ApiError, PageError> {
    match error {
        AppError::Unauthenticated => Err(PageError::SignIn {
            next: viewer.here.clone(),
        }),
        other => Ok(other.into()),
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            PageError::SignIn { next } => {
                let target = format!(
                    "/login?next={}",
                    form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
                );
                Redirect::to(&target).into_response()
            }
            PageError::Shown {
                error,
                texts,
                viewer,
            } => failure_page(texts, viewer.as_deref(), &error),
        }
    }
}

/// A failure as a page: in the site's frame with its navigation when the viewer is
/// known, in the viewer's language, with the API's status and stable code.
pub(crate) fn failure_page(
    texts: &'static Texts,
    viewer: Option<&Viewer>,
    error: &ApiError,
) -> Response {
    let status = error.status;
    let title = match status {
        StatusCode::NOT_FOUND => texts.t("error.not_found_title"),
        StatusCode::FORBIDDEN => texts.t("error.forbidden_title"),
        StatusCode::METHOD_NOT_ALLOWED => texts.t("error.method_title"),
        StatusCode::TOO_MANY_REQUESTS => texts.t("error.rate_limited_title"),
        status if status.is_server_error() => texts.t("error.server_title"),
        _ => texts.t("error.refused_title"),
    };
    let signed_in = viewer.is_some_and(Viewer::signed_in);
    let body = html! {
        h1 { (title) }
        (error_box(texts, error))
        ul class="links" {
            @if signed_in {
                li { a href="/work" { (texts.t("error.back_to_work")) } }
                li { a href="/org" { (texts.t("error.to_organization")) } }
            } @else {
                li { a href="/login" { (texts.t("error.sign_in")) } }
            }
        }
    };
    let mut response = match viewer {
        Some(viewer) => page(viewer, status, title, "", body),
        None => {
            let mut response =
                (status, Html(bare_page(texts, title, body).into_string())).into_response();
            no_store(&mut response);
            response
        }
    };
    if let Some(seconds) = error.retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, seconds.into());
    }
    response
}

/// The refusal as the API words it, with its stable code, for people and for tests.
pub(crate) fn error_box(texts: &Texts, error: &ApiError) -> Markup {
    let explanation = match error.status {
        StatusCode::NOT_FOUND => Some(texts.t("error.not_found")),
        StatusCode::FORBIDDEN => Some(texts.t("error.forbidden")),
        _ => None,
    };
    html! {
        div class="error" role="alert" data-code=(error.detail.code) {
            p {
                strong { (error.detail.message) }
                " "
                code { (error.detail.code) }
            }
            @if let Some(field) = &error.detail.field {
                p { (texts.f("error.field", &[("field", field)])) }
            }
            @if let Some(explanation) = explanation {
                p { (explanation) }
            }
        }
    }
}

/// The hidden field every form carries.
pub(crate) fn csrf_field(viewer: &Viewer) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(viewer.csrf); }
}

fn head(texts: &Texts, title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · Ganglion" }
            link rel="stylesheet" href=(assets::url("ganglion.css"));
            script src=(assets::url("ganglion.js")) defer {}
            meta name="color-scheme" content="light";
            meta name="description" content=(texts.t("app.tagline"));
        }
    }
}

/// A page without navigation: sign-in and failures.
pub(crate) fn bare_page(texts: &Texts, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(texts.code) {
            (head(texts, title))
            body class="bare" {
                header class="bar" {
                    a class="brand" href="/" { "Ganglion" }
                }
                main id="main" { (body) }
            }
        }
    }
}

/// The navigation entries: path, catalogue key.
pub(crate) const NAVIGATION: &[(&str, &str)] = &[
    ("/work", "nav.work"),
    ("/directives", "nav.directives"),
    ("/org", "nav.organization"),
    ("/org/picture", "nav.picture"),
    ("/programmes", "nav.programmes"),
    ("/experiences", "nav.experiences"),
    ("/honours", "nav.honours"),
    ("/audit", "nav.audit"),
    ("/import", "nav.import"),
];

/// A page of the signed-in application, answered with `status`.
pub(crate) fn page(
    viewer: &Viewer,
    status: StatusCode,
    title: &str,
    current: &str,
    body: Markup,
) -> Response {
    let texts = viewer.texts;
    let markup = html! {
        (DOCTYPE)
        html lang=(texts.code) {
            (head(texts, title))
            body {
                a class="skip" href="#main" { (texts.t("nav.skip")) }
                header class="bar" {
                    a class="brand" href="/work" { "Ganglion" }
                    nav aria-label=(texts.t("nav.label")) {
                        ul {
                            @for (path, key) in NAVIGATION {
                                li {
                                    @if *path == current {
                                        a href=(path) aria-current="page" { (texts.t(key)) }
                                    } @else {
                                        a href=(path) { (texts.t(key)) }
                                    }
                                }
                            }
                        }
                    }
                    div class="session" {
                        (language_form(viewer))
                        @if let Some(login) = viewer.login() {
                            span class="who" { (login) }
                            form method="post" action="/logout" class="inline" {
                                (csrf_field(viewer))
                                button type="submit" { (texts.t("nav.logout")) }
                            }
                        }
                    }
                }
                main id="main" tabindex="-1" {
                    @if let Some(message) = flash_message(viewer) {
                        div class="flash" role="status" { (message) }
                    }
                    (body)
                }
                footer class="foot" {
                    (PreEscaped("&nbsp;"))
                }
            }
        }
    };
    let mut response = respond(viewer, status, markup);
    if viewer.flash.is_some() {
        // Shown once: the next page comes without it.
        let cookie = format!("{FLASH_COOKIE}=; Max-Age=0; {}", viewer.cookie_attributes());
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

/// The cookie that carries the confirmation of a write to the page shown after it.
pub(crate) const FLASH_COOKIE: &str = "ganglion_flash";

/// The confirmation to show, in the viewer's language: `flash.<name>`, or for a move
/// `moved-<state>`, "Recorded: <state>".
fn flash_message(viewer: &Viewer) -> Option<String> {
    let texts = viewer.texts;
    let key = viewer.flash.as_deref()?;
    match key.strip_prefix("moved-") {
        Some(state) => Some(texts.f(
            "flash.moved",
            &[("state", &super::directives::state_label(texts, state))],
        )),
        None => texts.get(&format!("flash.{key}")).map(str::to_owned),
    }
}

/// Where a form sends the browser after a write succeeded, with the confirmation (a
/// name in the catalogue) that the page there shows once.
pub(crate) fn saved(viewer: &Viewer, path: &str, flash: &str) -> Response {
    let mut response = see_other(path);
    let cookie = format!(
        "{FLASH_COOKIE}={flash}; Max-Age=60; {}",
        viewer.cookie_attributes()
    );
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// The language switch: a form, so that choosing is a POST like every other change.
pub(crate) fn language_form(viewer: &Viewer) -> Markup {
    let texts = viewer.texts;
    html! {
        form method="post" action="/language" class="inline language" {
            (csrf_field(viewer))
            input type="hidden" name="back" value=(viewer.here);
            label class="visually-hidden" for="language" { (texts.t("nav.language")) }
            select id="language" name="language" data-autosubmit {
                @for (code, name, _) in LANGUAGES {
                    option value=(code) selected[*code == texts.code] { (name) }
                }
            }
            button type="submit" class="secondary js-hidden" { (texts.t("nav.language_apply")) }
        }
    }
}

/// Answers a rendered page: never cached (it shows what one account may see), and with
/// the pre-sign-in form token cookie when the browser has none yet.
pub(crate) fn respond(viewer: &Viewer, status: StatusCode, markup: Markup) -> Response {
    let mut response = (status, Html(markup.into_string())).into_response();
    no_store(&mut response);
    if let Some(token) = &viewer.new_csrf_cookie {
        let secure = if viewer.secure { "; Secure" } else { "" };
        let cookie = format!("{CSRF_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict{secure}");
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

fn no_store(response: &mut Response) {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// "See other": where a form sends the browser after it succeeded.
pub(crate) fn see_other(path: &str) -> Response {
    Redirect::to(path).into_response()
}
