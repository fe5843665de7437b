//! A unit's page (what it is, where it sits, what is under it, who holds its posts,
//! what was done to it) and the forms that create, edit, move and remove units. The
//! forms call the same use cases as the API and show its refusals as it words them.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use ganglion_app::ErrorCode;
use ganglion_app::{MoveUnit, NewUnitInput, UnitPatch, UnitView};
use maud::{html, Markup};
use serde::Deserialize;

use super::forms::{CsrfForm, PageQuery, Viewer};
use super::i18n::Texts;
use super::shell::{csrf_field, error_box, page, refusal, saved, OrPage};
use super::view::{breadcrumbs, kind_label, role_label, short_time, split_words, tags, unit_link};
use super::PageResult;
use crate::error::ApiError;
use crate::AppState;

#[derive(Deserialize, Default)]
pub(crate) struct UnitQuery {
    cursor: Option<String>,
}

pub(crate) async fn unit_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    PageQuery(query): PageQuery<UnitQuery>,
) -> PageResult {
    viewer.require_sign_in()?;
    let app = &state.app;
    let texts = viewer.texts;
    let ctx = &viewer.ctx;
    let cursor = query.cursor;
    let summary = app.unit_summary(ctx, &id).await.or_page(&viewer)?;
    let ancestors = app.ancestors(ctx, &id).await.or_page(&viewer)?;
    let children = app
        .child_summaries(ctx, &id, Some(100), cursor.as_deref())
        .await
        .or_page(&viewer)?;
    let posts = app.unit_posts(ctx, &id).await.or_page(&viewer)?;
    let history = app.unit_history(ctx, &id, 20).await.or_page(&viewer)?;
    let inbox = app
        .directives()
        .inbox(
            ctx,
            &id,
            ganglion_app::InboxQuery {
                limit: Some(10),
                ..Default::default()
            },
        )
        .await
        .or_page(&viewer)?;
    let issued = app
        .directives()
        .issued_by(
            ctx,
            &id,
            ganglion_app::DirectiveListQuery {
                limit: Some(20),
                cursor: None,
            },
        )
        .await
        .or_page(&viewer)?;
    let may_change = app.may_change_unit(ctx, &id);
    let titles = super::experiences::unit_titles_section(&state, &viewer, &id).await;
    let unit = &summary.unit;
    let (current, former): (Vec<_>, Vec<_>) = posts.iter().partition(|post| post.end.is_none());
    let body = html! {
        (breadcrumbs(texts, &ancestors, &unit.name))
        h1 { (unit.name) }
        dl class="facts" {
            dt { (texts.t("unit.kind")) } dd { (kind_label(texts, app.template(), &unit.kind)) }
            dt { (texts.t("unit.code")) } dd { code { (unit.code) } }
            dt { (texts.t("unit.tags")) } dd { @if unit.tags.is_empty() { "—" } @else { (tags(unit)) } }
            dt { (texts.t("unit.level")) } dd { (unit.depth) }
            dt { (texts.t("unit.subtree")) } dd { (texts.number(summary.subtree_units.into())) }
            dt { (texts.t("unit.children")) } dd { (texts.number(summary.child_count.into())) }
            dt { (texts.t("unit.posts")) } dd { (super::view::people(texts, current.len() as u64)) }
        }
        nav class="actions" aria-label=(texts.t("unit.actions")) {
            @if may_change {
                a class="button" href={ "/units/" (unit.id) "/edit" } { (texts.t("unit.edit")) }
                a class="button" href={ "/units/new?parent=" (unit.id) } { (texts.t("unit.add_child")) }
                a class="button" href={ "/directives/new?issuer=" (unit.id) } { (texts.t("unit.write_directive")) }
            }
            a href={ "/org?open=" (unit.id) "#u" (unit.id) } { (texts.t("org.show_in_tree")) }
            a href={ "/org/picture?at=" (unit.id) } { (texts.t("nav.picture")) }
            a href={ "/audit?under=" (unit.id) } { (texts.t("nav.audit")) }
            a href={ "/api/v1/export/units?under=" (unit.id) } download={ (unit.code) ".csv" } { (texts.t("unit.export")) }
        }
        section aria-labelledby="issued-heading" {
            h2 id="issued-heading" { (texts.t("unit.issued")) }
            @if issued.items.is_empty() {
                p class="empty" { (texts.t("unit.no_issued")) }
            } @else {
                (super::directives::directive_table(texts, &issued.items, false))
                @if issued.next_cursor.is_some() {
                    p { a href={ "/directives?unit=" (unit.id) } { (texts.t("unit.all_directives")) } }
                }
            }
        }
        section aria-labelledby="assignments-heading" {
            h2 id="assignments-heading" { (texts.t("unit.assignments")) }
            @if inbox.items.is_empty() {
                p class="empty" { (texts.t("unit.no_assignments")) }
            } @else {
                ul class="inbox" {
                    @for item in &inbox.items {
                        li {
                            a href={ "/assignments/" (item.id) } { (item.title) } " "
                            (super::directives::state_badge(texts, &item.state, item.overdue))
                            " " span class="meta" { (texts.f("dir.due", &[("date", &item.due)])) }
                            " · " a href={ "/directives/" (item.directive) } { (texts.t("asg.open_directive")) }
                        }
                    }
                }
            }
        }
        section id="children" aria-labelledby="children-heading" {
            h2 id="children-heading" { (texts.t("unit.children")) }
            @if children.items.is_empty() {
                p class="empty" { (texts.t("unit.no_children")) }
            } @else {
                table {
                    thead { tr {
                        th { (texts.t("unit.name")) } th { (texts.t("unit.kind")) }
                        th { (texts.t("unit.code")) } th class="number" { (texts.t("unit.subtree")) }
                    } }
                    tbody {
                        @for child in &children.items {
                            tr {
                                td { (unit_link(&child.unit)) }
                                td { (kind_label(texts, app.template(), &child.unit.kind)) }
                                td { code { (child.unit.code) } }
                                td class="number" { (texts.number(child.subtree_units.into())) }
                            }
                        }
                    }
                }
                @if let Some(next) = &children.next_cursor {
                    p { a href={ "/units/" (unit.id) "?cursor=" (next) "#children" } { (texts.t("org.more_children")) } }
                }
            }
        }
        section aria-labelledby="posts-heading" {
            h2 id="posts-heading" { (texts.t("unit.posts")) }
            @if current.is_empty() {
                p class="empty" { (texts.t("unit.no_posts")) }
            } @else {
                table {
                    thead { tr {
                        th { (texts.t("post.person")) } th { (texts.t("post.role")) }
                        th { (texts.t("post.title")) } th { (texts.t("post.start")) }
                        @if may_change { th {} }
                    } }
                    tbody {
                        @for post in &current {
                            tr {
                                td { a href={ "/people/" (post.person) } { (post.person_name) } }
                                td { (role_label(texts, &post.role)) }
                                td { (post.title) }
                                td { (post.start) }
                                @if may_change {
                                    td {
                                        form method="post" action={ "/posts/" (post.id) "/end" } class="inline" {
                                            (csrf_field(&viewer))
                                            input type="hidden" name="back" value={ "/units/" (unit.id) };
                                            button type="submit" class="secondary" { (texts.t("post.end")) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if !former.is_empty() {
                details {
                    summary { (texts.f("unit.former_posts", &[("count", &former.len())])) }
                    table {
                        tbody {
                            @for post in &former {
                                tr {
                                    td { a href={ "/people/" (post.person) } { (post.person_name) } }
                                    td { (role_label(texts, &post.role)) }
                                    td { (post.title) }
                                    td { (post.start) " – " (post.end.as_deref().unwrap_or_default()) }
                                }
                            }
                        }
                    }
                }
            }
            @if may_change {
                (super::people::appoint_form(&viewer, &unit.id, None, &Default::default()))
            }
        }
        (titles)
        section aria-labelledby="history-heading" {
            h2 id="history-heading" { (texts.t("unit.history")) }
            @if history.is_empty() {
                p class="empty" { (texts.t("unit.no_history")) }
            } @else {
                table {
                    thead { tr {
                        th { (texts.t("audit.at")) } th { (texts.t("audit.actor")) }
                        th { (texts.t("audit.action")) } th { (texts.t("audit.object")) }
                    } }
                    tbody {
                        @for entry in &history {
                            tr {
                                td { time datetime=(entry.at) { (short_time(&entry.at)) } }
                                td { (entry.actor) }
                                td { code { (entry.action) } }
                                td { (super::view::record_link(&entry.object, &entry.object)) }
                            }
                        }
                    }
                }
                p { a href={ "/audit?under=" (unit.id) } { (texts.t("unit.full_history")) } }
            }
        }
    };
    Ok(page(&viewer, StatusCode::OK, &unit.name, "/org", body))
}

/// What the create form holds, kept to show again with an error.
#[derive(Deserialize, Default)]
pub(crate) struct NewUnitForm {
    #[serde(default)]
    parent: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    tags: String,
}

#[derive(Deserialize, Default)]
pub(crate) struct NewUnitQuery {
    parent: Option<String>,
}

pub(crate) async fn new_unit_form(
    State(state): State<AppState>,
    viewer: Viewer,
    PageQuery(query): PageQuery<NewUnitQuery>,
) -> PageResult {
    viewer.require_sign_in()?;
    let parent = query.parent.unwrap_or_default();
    let form = NewUnitForm {
        parent,
        ..NewUnitForm::default()
    };
    new_unit_page(&state, &viewer, &form, None).await
}

async fn new_unit_page(
    state: &AppState,
    viewer: &Viewer,
    form: &NewUnitForm,
    error: Option<&ApiError>,
) -> PageResult {
    let app = &state.app;
    let texts = viewer.texts;
    let parent = if form.parent.is_empty() {
        None
    } else {
        Some(app.unit(&viewer.ctx, &form.parent).await.or_page(viewer)?)
    };
    let ancestors = match &parent {
        Some(parent) => {
            let mut chain = app
                .ancestors(&viewer.ctx, &parent.id)
                .await
                .or_page(viewer)?;
            chain.push(parent.clone());
            chain
        }
        None => Vec::new(),
    };
    let template = app.template();
    let suggested: Vec<&ganglion_core::template::KindRule> = template
        .kinds
        .iter()
        .filter(|rule| {
            template
                .check_placement(&rule.name, parent.as_ref().map(|p| p.kind.as_str()))
                .is_ok()
        })
        .collect();
    let title = texts.t("unit.new_title");
    let body = html! {
        (breadcrumbs(texts, &ancestors, title))
        h1 { (title) }
        @if let Some(parent) = &parent {
            p class="lead" { (texts.f("unit.new_under", &[("name", &parent.name)])) }
        } @else {
            p class="lead" { (texts.t("unit.new_top")) }
        }
        @if let Some(error) = error { (error_box(texts, error)) }
        form method="post" action="/units" class="stack" {
            (csrf_field(viewer))
            input type="hidden" name="parent" value=(form.parent);
            label for="kind" { (texts.t("unit.kind")) }
            input id="kind" name="kind" type="text" list="kinds" required value=(form.kind)
                aria-describedby="kind-help" autocomplete="off";
            datalist id="kinds" {
                @for rule in &suggested {
                    option value=(rule.name) { (kind_label(texts, template, &rule.name)) }
                }
            }
            p id="kind-help" class="help" {
                (texts.t("unit.kind_help")) " "
                @for (index, rule) in suggested.iter().enumerate() {
                    @if index > 0 { ", " }
                    code { (rule.name) }
                }
            }
            label for="name" { (texts.t("unit.name")) }
            input id="name" name="name" type="text" required value=(form.name);
            label for="code" { (texts.t("unit.code")) }
            input id="code" name="code" type="text" required value=(form.code)
                aria-describedby="code-help";
            p id="code-help" class="help" { (texts.t("unit.code_help")) }
            label for="tags" { (texts.t("unit.tags")) }
            input id="tags" name="tags" type="text" value=(form.tags) aria-describedby="tags-help";
            p id="tags-help" class="help" { (texts.t("unit.tags_help")) }
            button type="submit" { (texts.t("unit.create")) }
        }
    };
    let status = error.map_or(StatusCode::OK, |e| e.status);
    Ok(page(viewer, status, title, "/org", body))
}

pub(crate) async fn create_unit(
    State(state): State<AppState>,
    CsrfForm { viewer, input }: CsrfForm<NewUnitForm>,
) -> PageResult {
    viewer.require_sign_in()?;
    let new_unit = NewUnitInput {
        parent: Some(input.parent.clone()).filter(|p| !p.is_empty()),
        kind: input.kind.trim().to_owned(),
        name: input.name.clone(),
        code: input.code.trim().to_owned(),
        tags: split_words(&input.tags),
    };
    match state.app.create_unit(&viewer.ctx, new_unit).await {
        Ok(unit) => Ok(saved(
            &viewer,
            &format!("/units/{}", unit.id),
            "unit_created",
        )),
        Err(error) => {
            let error = refusal(&viewer, error)?;
            new_unit_page(&state, &viewer, &input, Some(&error)).await
        }
    }
}

/// Which form of the edit page an error belongs to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum EditSection {
    Details,
    Move,
    Remove,
}

pub(crate) async fn edit_form(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> PageResult {
    viewer.require_sign_in()?;
    let unit = state.app.unit(&viewer.ctx, &id).await.or_page(&viewer)?;
    edit_page(&state, &viewer, &unit, None).await
}

async fn edit_page(
    state: &AppState,
    viewer: &Viewer,
    unit: &UnitView,
    error: Option<(EditSection, &ApiError)>,
) -> PageResult {
    let app = &state.app;
    let texts = viewer.texts;
    let mut ancestors = app.ancestors(&viewer.ctx, &unit.id).await.or_page(viewer)?;
    let parent_code = ancestors.last().map(|p| p.code.clone()).unwrap_or_default();
    ancestors.push(unit.clone());
    let error_for = |section: EditSection| -> Option<Markup> {
        error
            .filter(|(at, _)| *at == section)
            .map(|(_, error)| error_box(texts, error))
    };
    let title = texts.f("unit.edit_title", &[("name", &unit.name)]);
    let body = html! {
        (breadcrumbs(texts, &ancestors, texts.t("unit.edit")))
        h1 { (title) }
        section aria-labelledby="details-heading" {
            h2 id="details-heading" { (texts.t("unit.details")) }
            @if let Some(error) = error_for(EditSection::Details) { (error) }
            form method="post" action={ "/units/" (unit.id) "/edit" } class="stack" {
                (csrf_field(viewer))
                label for="name" { (texts.t("unit.name")) }
                input id="name" name="name" type="text" required value=(unit.name);
                label for="tags" { (texts.t("unit.tags")) }
                input id="tags" name="tags" type="text" value=(unit.tags.join("; "))
                    aria-describedby="tags-help";
                p id="tags-help" class="help" { (texts.t("unit.tags_help")) }
                button type="submit" { (texts.t("unit.save")) }
            }
        }
        section aria-labelledby="move-heading" {
            h2 id="move-heading" { (texts.t("unit.move")) }
            @if let Some(error) = error_for(EditSection::Move) { (error) }
            form method="post" action={ "/units/" (unit.id) "/move" } class="stack" {
                (csrf_field(viewer))
                label for="parent_code" { (texts.t("unit.new_parent_code")) }
                input id="parent_code" name="parent_code" type="text" value=(parent_code)
                    aria-describedby="move-help";
                p id="move-help" class="help" { (texts.t("unit.move_help")) }
                button type="submit" { (texts.t("unit.move")) }
            }
        }
        section aria-labelledby="remove-heading" {
            h2 id="remove-heading" { (texts.t("unit.remove")) }
            @if let Some(error) = error_for(EditSection::Remove) { (error) }
            form method="post" action={ "/units/" (unit.id) "/remove" } class="stack" {
                (csrf_field(viewer))
                p class="help" { (texts.t("unit.remove_help")) }
                label class="check" {
                    input type="checkbox" name="confirm" value="yes" required;
                    " " (texts.f("unit.remove_confirm", &[("name", &unit.name)]))
                }
                button type="submit" class="danger" { (texts.t("unit.remove")) }
            }
        }
    };
    let status = error.map_or(StatusCode::OK, |(_, e)| e.status);
    Ok(page(viewer, status, &title, "/org", body))
}

#[derive(Deserialize)]
pub(crate) struct EditForm {
    name: String,
    #[serde(default)]
    tags: String,
}

pub(crate) async fn edit(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CsrfForm { viewer, input }: CsrfForm<EditForm>,
) -> PageResult {
    viewer.require_sign_in()?;
    let patch = UnitPatch {
        name: Some(input.name),
        tags: Some(split_words(&input.tags)),
    };
    match state.app.update_unit(&viewer.ctx, &id, patch).await {
        Ok(unit) => Ok(saved(&viewer, &format!("/units/{}", unit.id), "unit_saved")),
        Err(error) => {
            let error = refusal(&viewer, error)?;
            let unit = state.app.unit(&viewer.ctx, &id).await.or_page(&viewer)?;
            edit_page(&state, &viewer, &unit, Some((EditSection::Details, &error))).await
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct MoveForm {
    #[serde(default)]
    parent_code: String,
}

pub(crate) async fn move_unit(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CsrfForm { viewer, input }: CsrfForm<MoveForm>,
) -> PageResult {
    viewer.require_sign_in()?;
    let app = &state.app;
    let code = input.parent_code.trim();
    // People name the new parent by its code; the use case takes an id. A code the
    // caller cannot see is refused exactly as the API refuses an unknown parent.
    let parent = if code.is_empty() {
        Ok(None)
    } else {
        match app.unit_by_code(&viewer.ctx, code).await {
            Ok(parent) => Ok(Some(parent.id)),
            Err(ganglion_app::AppError::NotFound { .. }) => Err(ganglion_app::AppError::Invalid {
                code: ErrorCode::UnknownParent,
                message: format!("there is no unit with code {code}"),
                field: Some("parent".into()),
            }),
            Err(other) => Err(other),
        }
    };
    let result = match parent {
        Ok(parent) => app.move_unit(&viewer.ctx, &id, MoveUnit { parent }).await,
        Err(error) => Err(error),
    };
    match result {
        Ok(unit) => Ok(saved(&viewer, &format!("/units/{}", unit.id), "unit_moved")),
        Err(error) => {
            let error = refusal(&viewer, error)?;
            let unit = app.unit(&viewer.ctx, &id).await.or_page(&viewer)?;
            edit_page(&state, &viewer, &unit, Some((EditSection::Move, &error))).await
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct RemoveForm {
    confirm: Option<String>,
}

pub(crate) async fn remove_unit(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CsrfForm { viewer, input }: CsrfForm<RemoveForm>,
) -> PageResult {
    viewer.require_sign_in()?;
    let app = &state.app;
    let unit = app.unit(&viewer.ctx, &id).await.or_page(&viewer)?;
    let texts: &Texts = viewer.texts;
    if input.confirm.as_deref() != Some("yes") {
        let error = ApiError::new(
            ErrorCode::ConfirmationRequired,
            texts.t("unit.remove_unconfirmed"),
        )
        .with_field("confirm");
        return edit_page(&state, &viewer, &unit, Some((EditSection::Remove, &error))).await;
    }
    match app.remove_unit(&viewer.ctx, &id).await {
        Ok(()) => Ok(saved(
            &viewer,
            &unit
                .parent
                .map(|parent| format!("/units/{parent}"))
                .unwrap_or_else(|| "/org".into()),
            "unit_removed",
        )),
        Err(error) => {
            let error = refusal(&viewer, error)?;
            edit_page(&state, &viewer, &unit, Some((EditSection::Remove, &error))).await
        }
    }
}
