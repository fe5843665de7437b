//! Programmes in the pages: the programmes one may see, a programme's plan against
//! actual as a table of regions by year coloured by milestone (each year's tree picture
//! one click away), its projects, and adding projects one by one.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use ganglion_app::{
    ChildYear, ErrorCode, NewProgramme, NewProject, ProgrammeProgress, ProjectQuery,
};
use maud::{html, Markup};
use serde::Deserialize;

use super::directives::state_badge;
use super::forms::{CsrfForm, PageQuery, Viewer};
use super::i18n::Texts;
use super::shell::{csrf_field, error_box, page, refusal, saved, OrPage};
use super::PageResult;
use crate::error::ApiError;
use crate::AppState;

/// How far a set of projects has come, from 0 (all planned) to 4 (all in operation):
/// the class its cell is coloured by.
fn stage_class(states: &ganglion_app::StateCounts, planned: u32) -> String {
    if planned == 0 {
        return "stage-none".into();
    }
    // The milestones in order; a blocked project counts where it started.
    let weight: u32 = states
        .0
        .iter()
        .take(5)
        .enumerate()
        .map(|(stage, (_, count))| stage as u32 * count)
        .sum();
    let stage = (f64::from(weight) / f64::from(planned)).round() as u32;
    let blocked = states.get("blocked") > 0;
    format!(
        "stage stage-{}{}",
        stage.min(4),
        if blocked { " has-blocked" } else { "" }
    )
}

fn cell(texts: &Texts, year: Option<&ChildYear>) -> Markup {
    match year {
        None => html! { td class="stage stage-none" { "" } },
        Some(year) => {
            let detail: Vec<String> = year
                .states
                .0
                .iter()
                .filter(|(_, count)| *count > 0)
                .map(|(state, count)| format!("{}: {count}", state_label(texts, state)))
                .collect();
            html! {
                td class=(stage_class(&year.states, year.planned)) title=(detail.join(", ")) {
                    (texts.number(year.in_operation.into())) " / " (texts.number(year.planned.into()))
                    @if year.overdue > 0 { " " span class="state overdue" { (texts.number(year.overdue.into())) } }
                }
            }
        }
    }
}

fn state_label<'a>(texts: &'a Texts, state: &'a str) -> &'a str {
    super::directives::state_label(texts, state)
}

fn progress_table(texts: &Texts, programme: &str, progress: &ProgrammeProgress) -> Markup {
    html! {
        table class="programme" {
            caption { (texts.t("prog.table_caption")) }
            thead {
                tr {
                    th scope="col" { (texts.t("prog.region")) }
                    @for year in &progress.years {
                        th scope="col" class="number" {
                            a href={ "/directives/" (year.directive) "?at=" (progress.unit) }
                                title=(texts.t("prog.year_picture")) { (year.year) }
                        }
                    }
                    th scope="col" class="number" { (texts.t("prog.all_years")) }
                }
            }
            tbody {
                @for child in &progress.children {
                    tr {
                        th scope="row" {
                            a href={ "/programmes/" (programme) "?at=" (child.unit) } { (child.name) }
                            " " code { (child.code) }
                        }
                        @for year in &progress.years {
                            (cell(texts, child.years.iter().find(|y| y.year == year.year)))
                        }
                        td class=(stage_class(&child.states, child.planned)) {
                            (texts.number(child.in_operation.into())) " / " (texts.number(child.planned.into()))
                        }
                    }
                }
                tr class="total" {
                    th scope="row" { (texts.t("prog.total")) }
                    @for year in &progress.years {
                        td class=(stage_class(&year.states, year.planned)) {
                            (texts.number(year.in_operation.into())) " / " (texts.number(year.planned.into()))
                            @if year.overdue > 0 { " " span class="state overdue" { (texts.number(year.overdue.into())) } }
                        }
                    }
                    td {}
                }
            }
        }
        p class="meta legend" {
            (texts.t("prog.legend"))
            @for (stage, state) in ["planned", "ground_broken", "under_construction", "completed", "in_operation"].iter().enumerate() {
                " " span class={ "stage stage-" (stage) } { (state_label(texts, state)) }
            }
        }
    }
}

#[derive(Deserialize, Default)]
pub(crate) struct ProgrammePageQuery {
    at: Option<String>,
}

pub(crate) async fn programmes_page(State(state): State<AppState>, viewer: Viewer) -> PageResult {
    viewer.require_sign_in()?;
    list_view(&state, &viewer, None).await
}

async fn list_view(state: &AppState, viewer: &Viewer, error: Option<&ApiError>) -> PageResult {
    let texts = viewer.texts;
    let app = &state.app;
    let programmes = app.programmes().list(&viewer.ctx).await.or_page(viewer)?;
    let owners: Vec<(String, String)> = app
        .me(&viewer.ctx)
        .await
        .map(|me| me.posts)
        .unwrap_or_default()
        .into_iter()
        .filter(|post| post.role != "member")
        .map(|post| (post.unit, post.unit_code))
        .collect();
    let body = html! {
        h1 { (texts.t("prog.title")) }
        @if let Some(error) = error { (error_box(texts, error)) }
        @if programmes.is_empty() {
            p class="empty" { (texts.t("prog.none")) }
        } @else {
            table {
                thead { tr {
                    th { (texts.t("prog.name")) } th { (texts.t("prog.owner")) }
                    th class="number" { (texts.t("prog.span")) } th class="number" { (texts.t("prog.projects")) }
                } }
                tbody {
                    @for programme in &programmes {
                        tr {
                            td { a href={ "/programmes/" (programme.id) } { (programme.title) } }
                            td { (programme.owner_name) }
                            td class="number" { (programme.start_year) "–" (programme.start_year + programme.years - 1) }
                            td class="number" { (texts.number(programme.directives.iter().map(|y| y.projects.max(0) as u64).sum())) }
                        }
                    }
                }
            }
        }
        @if !owners.is_empty() {
            details class="form" {
                summary { (texts.t("prog.new")) }
                form method="post" action="/programmes" class="stack" {
                    (csrf_field(viewer))
                    label for="owner" { (texts.t("prog.owner")) }
                    select id="owner" name="owner" {
                        @for (unit, code) in &owners { option value=(unit) { (code) } }
                    }
                    label for="title" { (texts.t("prog.name")) }
                    input id="title" name="title" type="text" required;
                    label for="start_year" { (texts.t("prog.start_year")) }
                    input id="start_year" name="start_year" type="number" min="1" max="9999" required;
                    label for="years" { (texts.t("prog.years")) }
                    input id="years" name="years" type="number" min="1" max="50" value="10" required;
                    label for="description" { (texts.t("dir.body")) }
                    textarea id="description" name="description" rows="3" {}
                    button type="submit" { (texts.t("prog.create")) }
                }
            }
        }
    };
    let status = error.map_or(StatusCode::OK, |e| e.status);
    Ok(page(
        viewer,
        status,
        texts.t("prog.title"),
        "/programmes",
        body,
    ))
}

#[derive(Deserialize)]
pub(crate) struct NewProgrammeForm {
    owner: String,
    title: String,
    start_year: String,
    years: String,
    #[serde(default)]
    description: String,
}

pub(crate) async fn create_programme(
    State(state): State<AppState>,
    CsrfForm { viewer, input }: CsrfForm<NewProgrammeForm>,
) -> PageResult {
    viewer.require_sign_in()?;
    let number = |text: &str, field: &str| {
        text.trim().parse::<i32>().map_err(|_| {
            ApiError::new(ErrorCode::InvalidValue, viewer.texts.t("prog.year_number"))
                .with_field(field)
        })
    };
    let fields = number(&input.start_year, "start_year")
        .and_then(|start| Ok((start, number(&input.years, "years")?)));
    let (start_year, years) = match fields {
        Ok(fields) => fields,
        Err(error) => return list_view(&state, &viewer, Some(&error)).await,
    };
    let new = NewProgramme {
        owner: input.owner,
        title: input.title,
        start_year,
        years,
        description: Some(input.description).filter(|d| !d.trim().is_empty()),
        metrics: None,
    };
    match state.app.programmes().create(&viewer.ctx, new).await {
        Ok(programme) => Ok(saved(
            &viewer,
            &format!("/programmes/{}", programme.id),
            "programme_created",
        )),
        Err(error) => {
            let error = refusal(&viewer, error)?;
            list_view(&state, &viewer, Some(&error)).await
        }
    }
}

pub(crate) async fn programme_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    PageQuery(query): PageQuery<ProgrammePageQuery>,
) -> PageResult {
    viewer.require_sign_in()?;
    programme_view(&state, &viewer, &id, query.at.as_deref(), None).await
}

async fn programme_view(
    state: &AppState,
    viewer: &Viewer,
    id: &str,
    at: Option<&str>,
    error: Option<&ApiError>,
) -> PageResult {
    let app = &state.app;
    let texts = viewer.texts;
    let ctx = &viewer.ctx;
    let programme = app.programmes().get(ctx, id).await.or_page(viewer)?;
    let progress = app
        .programmes()
        .progress(ctx, id, at)
        .await
        .or_page(viewer)?;
    let at_unit = app.unit(ctx, &progress.unit).await.or_page(viewer)?;
    let ancestors = app.ancestors(ctx, &progress.unit).await.or_page(viewer)?;
    let projects = app
        .programmes()
        .projects(
            ctx,
            id,
            ProjectQuery {
                at: Some(progress.unit.clone()),
                limit: Some(100),
                ..ProjectQuery::default()
            },
        )
        .await
        .or_page(viewer)?;
    let may_add = app.may_change_unit(ctx, &programme.owner);
    let experience = super::linked_section(state, viewer, None, Some(&programme.id)).await;
    let body = html! {
        p class="meta" {
            a href="/programmes" { (texts.t("prog.title")) } " · " (programme.owner_name)
            " · " (programme.start_year) "–" (programme.start_year + programme.years - 1)
        }
        h1 { (programme.title) }
        @if let Some(error) = error { (error_box(texts, error)) }
        @if !programme.description.is_empty() { div class="body" { p { (programme.description) } } }
        section aria-labelledby="progress-heading" {
            h2 id="progress-heading" { (texts.f("prog.progress_at", &[("name", &at_unit.name)])) }
            @if !ancestors.is_empty() {
                p class="meta" {
                    (texts.t("dir.go_up")) " "
                    @for (index, unit) in ancestors.iter().enumerate() {
                        @if index > 0 { " › " }
                        a href={ "/programmes/" (programme.id) "?at=" (unit.id) } { (unit.name) }
                    }
                }
            }
            (progress_table(texts, &programme.id, &progress))
            p class="links" {
                a href={ "/api/v1/programmes/" (programme.id) "/progress?at=" (progress.unit) } { (texts.t("dir.as_json")) }
            }
        }
        section aria-labelledby="projects-heading" {
            h2 id="projects-heading" { (texts.t("prog.projects")) }
            @if projects.items.is_empty() {
                p class="empty" { (texts.t("prog.no_projects")) }
            } @else {
                table {
                    thead { tr {
                        th { (texts.t("prog.project")) } th { (texts.t("post.unit")) }
                        th class="number" { (texts.t("prog.year")) } th { (texts.t("prog.kind")) }
                        th { (texts.t("prog.milestone")) } th { (texts.t("work.due")) }
                    } }
                    tbody {
                        @for project in &projects.items {
                            tr {
                                td { a href={ "/assignments/" (project.id) } { (project.title) } }
                                td { a href={ "/units/" (project.unit) } { (project.unit_name) } }
                                td class="number" { (project.year) }
                                td { (project.kind) }
                                td { (state_badge(texts, &project.state, project.overdue)) }
                                td { (project.due) }
                            }
                        }
                    }
                }
                @if projects.next_cursor.is_some() {
                    p { a href={ "/api/v1/programmes/" (programme.id) "/projects?at=" (progress.unit) "&limit=1000" } { (texts.t("prog.all_projects")) } }
                }
            }
        }
        (experience)
        @if may_add {
            details class="form" {
                summary { (texts.t("prog.add_project")) }
                form method="post" action={ "/programmes/" (programme.id) "/projects" } class="stack" {
                    (csrf_field(viewer))
                    label for="unit_code" { (texts.t("prog.unit_code")) }
                    input id="unit_code" name="unit_code" type="text" required;
                    label for="year" { (texts.t("prog.year")) }
                    select id="year" name="year" {
                        @for year in &programme.directives { option value=(year.year) { (year.year) } }
                    }
                    label for="kind" { (texts.t("prog.kind")) }
                    input id="kind" name="kind" type="text" required value="factory";
                    label for="title" { (texts.t("prog.project")) }
                    input id="title" name="title" type="text" required;
                    button type="submit" { (texts.t("prog.add_project")) }
                }
            }
        }
    };
    let status = error.map_or(StatusCode::OK, |e| e.status);
    Ok(page(viewer, status, &programme.title, "/programmes", body))
}

#[derive(Deserialize)]
pub(crate) struct ProjectForm {
    unit_code: String,
    year: String,
    kind: String,
    title: String,
}

pub(crate) async fn add_project(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CsrfForm { viewer, input }: CsrfForm<ProjectForm>,
) -> PageResult {
    viewer.require_sign_in()?;
    let app = &state.app;
    let unit = match app.unit_by_code(&viewer.ctx, input.unit_code.trim()).await {
        Ok(unit) => unit.id,
        Err(error) => {
            let error = refusal(&viewer, error)?.with_field("unit_code");
            return programme_view(&state, &viewer, &id, None, Some(&error)).await;
        }
    };
    let new = NewProject {
        unit,
        year: input.year.trim().parse().unwrap_or(0),
        kind: input.kind,
        title: input.title,
        due: None,
    };
    match app.programmes().add_project(&viewer.ctx, &id, new).await {
        Ok(project) => Ok(saved(
            &viewer,
            &format!("/assignments/{}", project.id),
            "project_added",
        )),
        Err(error) => {
            let error = refusal(&viewer, error)?;
            programme_view(&state, &viewer, &id, None, Some(&error)).await
        }
    }
}
