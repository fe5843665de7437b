//! People and posts: a person's post history, appointing someone to a post in a unit,
//! and ending a post.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use ganglion_app::{EndPost, NewPost};
use maud::{html, Markup};
use serde::Deserialize;

use super::forms::{local_path, CsrfForm, Viewer};
use super::shell::{csrf_field, error_box, page, refusal, saved, OrPage};
use super::view::{breadcrumbs, role_label};
use super::PageResult;
use crate::error::ApiError;
use crate::AppState;

/// What the appointment form holds, kept to show again with an error.
#[derive(Deserialize, Default)]
pub(crate) struct AppointForm {
    /// An existing person's id; or else
    #[serde(default)]
    person: String,
    /// the name of a person to record.
    #[serde(default)]
    person_name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    start: String,
}

pub(crate) fn appoint_form(
    viewer: &Viewer,
    unit: &str,
    error: Option<&ApiError>,
    form: &AppointForm,
) -> Markup {
    let texts = viewer.texts;
    html! {
        details class="form" open[error.is_some()] id="appoint" {
            summary { (texts.t("post.appoint")) }
            @if let Some(error) = error { (error_box(texts, error)) }
            form method="post" action={ "/units/" (unit) "/appoint" } class="stack" {
                (csrf_field(viewer))
                fieldset {
                    legend { (texts.t("post.who")) }
                    label for="person_name" { (texts.t("post.new_person")) }
                    input id="person_name" name="person_name" type="text" value=(form.person_name);
                    label for="person" { (texts.t("post.existing_person")) }
                    input id="person" name="person" type="text" inputmode="numeric" value=(form.person)
                        aria-describedby="person-help";
                    p id="person-help" class="help" { (texts.t("post.existing_person_help")) }
                }
                label for="role" { (texts.t("post.role")) }
                select id="role" name="role" {
                    @for role in ["secretary", "official", "member"] {
                        option value=(role) selected[form.role == role] { (role_label(texts, role)) }
                    }
                }
                label for="title" { (texts.t("post.title")) }
                input id="title" name="title" type="text" value=(form.title);
                label for="start" { (texts.t("post.start")) }
                input id="start" name="start" type="date" value=(form.start)
                    aria-describedby="start-help";
                p id="start-help" class="help" { (texts.t("post.start_help")) }
                button type="submit" { (texts.t("post.appoint")) }
            }
        }
    }
}

pub(crate) async fn appoint(
    State(state): State<AppState>,
    Path(unit): Path<String>,
    CsrfForm { viewer, input }: CsrfForm<AppointForm>,
) -> PageResult {
    viewer.require_sign_in()?;
    let app = &state.app;
    let post = NewPost {
        person: input.person.trim().to_owned(),
        unit: unit.clone(),
        role: input.role.clone(),
        title: Some(input.title.clone()).filter(|t| !t.trim().is_empty()),
        start: Some(input.start.clone()).filter(|s| !s.is_empty()),
    };
    let result = if input.person.trim().is_empty() {
        app.appoint_new_person(&viewer.ctx, &input.person_name, post)
            .await
    } else {
        app.create_post(&viewer.ctx, post).await
    };
    match result {
        Ok(_) => Ok(saved(
            &viewer,
            &format!("/units/{unit}#posts-heading"),
            "post_appointed",
        )),
        Err(error) => {
            let error = refusal(&viewer, error)?;
            let unit_view = app.unit(&viewer.ctx, &unit).await.or_page(&viewer)?;
            let texts = viewer.texts;
            let mut ancestors = app.ancestors(&viewer.ctx, &unit).await.or_page(&viewer)?;
            ancestors.push(unit_view.clone());
            let body = html! {
                (breadcrumbs(texts, &ancestors, texts.t("post.appoint")))
                h1 { (texts.f("post.appoint_in", &[("name", &unit_view.name)])) }
                (appoint_form(&viewer, &unit, Some(&error), &input))
            };
            Ok(page(
                &viewer,
                error.status,
                texts.t("post.appoint"),
                "/org",
                body,
            ))
        }
    }
}

pub(crate) async fn person_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> PageResult {
    viewer.require_sign_in()?;
    let app = &state.app;
    let texts = viewer.texts;
    let person = app.person(&viewer.ctx, &id).await.or_page(&viewer)?;
    let posts = app.person_posts(&viewer.ctx, &id).await.or_page(&viewer)?;
    let body = html! {
        h1 { (person.name) }
        p class="meta" { (texts.f("person.id", &[("id", &person.id)])) }
        h2 { (texts.t("person.posts")) }
        @if posts.is_empty() {
            p class="empty" { (texts.t("person.no_posts")) }
        } @else {
            table {
                thead { tr {
                    th { (texts.t("post.unit")) } th { (texts.t("post.role")) }
                    th { (texts.t("post.title")) } th { (texts.t("post.start")) }
                    th { (texts.t("post.end_date")) }
                } }
                tbody {
                    @for post in &posts {
                        tr {
                            td { a href={ "/units/" (post.unit) } { code { (post.unit_code) } } }
                            td { (role_label(texts, &post.role)) }
                            td { (post.title) }
                            td { (post.start) }
                            td {
                                @match &post.end {
                                    Some(end) => (end),
                                    None => {
                                        @if app.may_change_unit(&viewer.ctx, &post.unit) {
                                            form method="post" action={ "/posts/" (post.id) "/end" } class="inline" {
                                                (csrf_field(&viewer))
                                                input type="hidden" name="back" value={ "/people/" (person.id) };
                                                button type="submit" class="secondary" { (texts.t("post.end")) }
                                            }
                                        } @else {
                                            (texts.t("post.held"))
                                        }
                                    },
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(page(&viewer, StatusCode::OK, &person.name, "/org", body))
}

#[derive(Deserialize)]
pub(crate) struct EndForm {
    end: Option<String>,
    back: Option<String>,
}

pub(crate) async fn end_post(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CsrfForm { viewer, input }: CsrfForm<EndForm>,
) -> PageResult {
    viewer.require_sign_in()?;
    let end = EndPost {
        end: input.end.filter(|end| !end.is_empty()),
    };
    state
        .app
        .end_post(&viewer.ctx, &id, end)
        .await
        .or_page(&viewer)?;
    Ok(saved(
        &viewer,
        &local_path(input.back.as_deref(), "/work"),
        "post_ended",
    ))
}
