//! The web pages: server-rendered HTML from the same use cases as the API. Pages read
//! without JavaScript; `ganglion.js` only makes the tree open in place and forms submit
//! themselves. Every form carries a CSRF token; no GET changes anything.

mod assets;
mod attention;
mod audit;
mod auth;
mod directives;
mod experiences;
mod fallback;
mod forms;
mod i18n;
mod import;
mod org;
mod people;
mod picture;
mod programmes;
mod shell;
mod unit;
mod view;
mod work;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;

pub(crate) use fallback::{unknown_address, wrong_method};
pub(crate) use forms::{same_token, session_form_token};
pub(crate) use shell::{PageError, PageResult};

pub(crate) use experiences::linked_section;

use crate::AppState;

/// The routes of the pages (the API lives under `/api/v1`).
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(auth::home))
        .route("/login", get(auth::login_form).post(auth::login))
        .route("/logout", post(auth::logout))
        .route("/language", post(auth::choose_language))
        .route("/work", get(work::my_work))
        .route("/org", get(org::organization))
        .route("/org/children/{id}", get(org::children_fragment))
        .route("/org/picture", get(picture::picture))
        .route("/units/new", get(unit::new_unit_form))
        .route("/units", post(unit::create_unit))
        .route("/units/{id}", get(unit::unit_page))
        .route("/units/{id}/edit", get(unit::edit_form).post(unit::edit))
        .route("/units/{id}/move", post(unit::move_unit))
        .route("/units/{id}/remove", post(unit::remove_unit))
        .route("/units/{id}/appoint", post(people::appoint))
        .route("/people/{id}", get(people::person_page))
        .route("/posts/{id}/end", post(people::end_post))
        .route("/audit", get(audit::audit_page))
        .route("/directives/new", get(directives::new_directive_form))
        .route(
            "/directives",
            get(directives::directives_page).post(directives::create_directive),
        )
        .route("/directives/{id}", get(directives::directive_page))
        .route("/directives/{id}/guidance", post(directives::add_guidance))
        .route("/directives/{id}/live", get(directives::live_rollup))
        .route(
            "/directives/{id}/{action}",
            post(directives::directive_action),
        )
        .route("/units/{id}/attention", get(attention::attention_page))
        .route(
            "/programmes",
            get(programmes::programmes_page).post(programmes::create_programme),
        )
        .route("/programmes/{id}", get(programmes::programme_page))
        .route("/programmes/{id}/projects", post(programmes::add_project))
        .route(
            "/experiences",
            get(experiences::library_page).post(experiences::create_experience),
        )
        .route("/experiences/new", get(experiences::new_experience_form))
        .route("/experiences/{id}", get(experiences::experience_page))
        .route("/honours", get(experiences::honours_page))
        .route(
            "/honours/awards/{id}/withdraw",
            post(experiences::withdraw_award),
        )
        .route("/units/{id}/titles", post(experiences::award_title))
        .route("/assignments/{id}", get(directives::assignment_page))
        .route("/assignments/{id}/transition", post(directives::transition))
        .route(
            "/import",
            get(import::import_form)
                .post(import::import)
                .layer(DefaultBodyLimit::max(crate::IMPORT_BODY_LIMIT)),
        )
        .route("/assets/{name}", get(assets::asset))
}

/// Headers every answer carries: no inline script or style may run, the pages may not be
/// framed, and browsers must not guess content types.
pub(crate) async fn security_headers(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::{header, HeaderValue};
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    response
}
