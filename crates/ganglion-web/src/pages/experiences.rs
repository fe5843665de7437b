//! The library of good experience in the pages — searched as one types (and, without
//! JavaScript, by the form), each experience on a page of its own with what it came
//! from — the sections "experience from this directive / programme", and the honours:
//! the list of titled units by title and region, a unit's titles, awarding and
//! withdrawing.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use ganglion_app::{
    marked_html, ExperienceQuery, ExperienceResults, NewExperience, NewTitle, Period, TitleQuery,
    TitleView, Withdrawal,
};
use ganglion_core::text::{highlight, query_tokens};
use maud::{html, Markup, PreEscaped};
use serde::Deserialize;

use super::forms::{local_path, CsrfForm, PageQuery, Viewer};
use super::i18n::Texts;
use super::shell::{csrf_field, error_box, page, refusal, see_other, OrPage};
use super::view::{short_time, split_words};
use super::PageResult;
use crate::error::ApiError;
use crate::AppState;

#[derive(Deserialize, Default)]
pub(crate) struct LibraryQuery {
    q: Option<String>,
    tag: Option<String>,
    cursor: Option<String>,
}

fn encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// The address of the library for a query, a tag and a page.
fn library_url(q: Option<&str>, tag: Option<&str>, cursor: Option<&str>) -> String {
    let mut parts = Vec::new();
    if let Some(q) = q.filter(|q| !q.is_empty()) {
        parts.push(format!("q={}", encode(q)));
    }
    if let Some(tag) = tag.filter(|t| !t.is_empty()) {
        parts.push(format!("tag={}", encode(tag)));
    }
    if let Some(cursor) = cursor {
        parts.push(format!("cursor={}", encode(cursor)));
    }
    if parts.is_empty() {
        "/experiences".into()
    } else {
        format!("/experiences?{}", parts.join("&"))
    }
}

/// A title with what the query matched marked.
fn marked_title(title: &str, q: Option<&str>) -> Markup {
    match q {
        Some(q) => PreEscaped(marked_html(&highlight(title, &query_tokens(q)))),
        None => html! { (title) },
    }
}

/// The experiences found, as a list: the part of the library that search-as-you-type
/// replaces.
fn results_list(
    texts: &Texts,
    results: &ExperienceResults,
    q: Option<&str>,
    tag: Option<&str>,
) -> Markup {
    html! {
        @if q.is_some() || tag.is_some() {
            p class="meta" data-total=(results.total) {
                @if results.total_exact {
                    (texts.f("exp.found", &[("count", &texts.number(results.total))]))
                } @else {
                    (texts.f("exp.found_many", &[("count", &texts.number(results.total))]))
                }
            }
        } @else {
            p class="meta" data-total=(results.total) { (texts.t("exp.newest")) }
        }
        @if results.items.is_empty() {
            p class="empty" { (texts.t("exp.none_found")) }
        } @else {
            ol class="results" {
                @for hit in &results.items {
                    li {
                        h3 { a href={ "/experiences/" (hit.id) } { (marked_title(&hit.title, q)) } }
                        p class="meta" {
                            (hit.unit_name) " · " (short_time(&hit.created_at))
                            @if hit.audience == "subtree" { " · " span class="tag" { (texts.t("exp.subtree_only")) } }
                            @if !hit.media.is_empty() { " · " (texts.f("exp.media_count", &[("count", &hit.media.len())])) }
                            @for tag in &hit.tags {
                                " " a class="tag" href=(library_url(None, Some(tag), None)) { (tag) }
                            }
                        }
                        p class="snippet" { (PreEscaped(&hit.snippet)) }
                    }
                }
            }
            @if let Some(next) = &results.next_cursor {
                p { a rel="next" href=(library_url(q, tag, Some(next))) { (texts.t("exp.more")) } }
            }
        }
    }
}

pub(crate) async fn library_page(
    State(state): State<AppState>,
    viewer: Viewer,
    PageQuery(query): PageQuery<LibraryQuery>,
) -> PageResult {
    viewer.require_sign_in()?;
    let app = &state.app;
    let texts = viewer.texts;
    let q = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    let tag = query.tag.as_deref().filter(|t| !t.is_empty());
    let search = app
        .experiences()
        .search(
            &viewer.ctx,
            ExperienceQuery {
                q: q.map(str::to_owned),
                tag: tag.map(str::to_owned),
                cursor: query.cursor.clone(),
                limit: Some(20),
                ..ExperienceQuery::default()
            },
        )
        .await;
    let (results, error) = match search {
        Ok(results) => (Some(results), None),
        Err(error) => (None, Some(refusal(&viewer, error)?)),
    };
    let tags = app
        .experiences()
        .tags(&viewer.ctx, 30)
        .await
        .or_page(&viewer)?;
    let may_write = app
        .me(&viewer.ctx)
        .await
        .map(|me| me.admin || me.posts.iter().any(|post| post.role != "member"))
        .unwrap_or(false);
    let body = html! {
        h1 { (texts.t("exp.title")) }
        p class="meta" { (texts.t("exp.intro")) }
        form method="get" action="/experiences" role="search" class="search" data-live-search="results" {
            label class="visually-hidden" for="q" { (texts.t("exp.search_label")) }
            input type="search" id="q" name="q" value=(q.unwrap_or_default())
                placeholder=(texts.t("exp.search_placeholder")) autocomplete="off" maxlength="1000";
            label class="visually-hidden" for="tag" { (texts.t("exp.tag")) }
            select id="tag" name="tag" {
                option value="" { (texts.t("exp.all_tags")) }
                @for t in &tags {
                    option value=(t.tag) selected[Some(t.tag.as_str()) == tag] { (t.tag) " (" (t.experiences) ")" }
                }
            }
            button type="submit" { (texts.t("exp.search")) }
        }
        @if may_write {
            p { a class="button" href="/experiences/new" { (texts.t("exp.write")) } }
        }
        @if let Some(error) = &error { (error_box(texts, error)) }
        div id="results" aria-live="polite" {
            @if let Some(results) = &results { (results_list(texts, results, q, tag)) }
        }
    };
    let status = error.as_ref().map_or(StatusCode::OK, |e| e.status);
    Ok(page(
        &viewer,
        status,
        texts.t("exp.title"),
        "/experiences",
        body,
    ))
}

pub(crate) async fn experience_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> PageResult {
    viewer.require_sign_in()?;
    let app = &state.app;
    let texts = viewer.texts;
    let ctx = &viewer.ctx;
    let experience = app.experiences().get(ctx, &id).await.or_page(&viewer)?;
    // Links only to what the reader may open.
    let unit_open = app.unit(ctx, &experience.unit).await.is_ok();
    let directive = match &experience.directive {
        Some(id) => app.directives().get(ctx, id).await.ok(),
        None => None,
    };
    let programme = match &experience.programme {
        Some(id) => app.programmes().get(ctx, id).await.ok(),
        None => None,
    };
    let body = html! {
        p class="meta" {
            a href="/experiences" { (texts.t("exp.title")) } " · "
            @if unit_open { a href={ "/units/" (experience.unit) } { (experience.unit_name) } }
            @else { (experience.unit_name) }
            " · " (short_time(&experience.created_at))
            @if experience.audience == "subtree" { " · " span class="tag" { (texts.t("exp.subtree_only")) } }
        }
        h1 { (experience.title) }
        div class="body" {
            @for paragraph in experience.body.split('\n').filter(|p| !p.trim().is_empty()) {
                p { (paragraph) }
            }
        }
        @if !experience.tags.is_empty() {
            p { @for tag in &experience.tags { a class="tag" href=(library_url(None, Some(tag), None)) { (tag) } " " } }
        }
        @if !experience.media.is_empty() {
            section aria-labelledby="media-heading" {
                h2 id="media-heading" { (texts.t("exp.media")) }
                ul {
                    @for media in &experience.media {
                        li { a href=(media.url) rel="noopener noreferrer" { (media.title) } }
                    }
                }
            }
        }
        @if directive.is_some() || programme.is_some() {
            section aria-labelledby="from-heading" {
                h2 id="from-heading" { (texts.t("exp.came_from")) }
                ul {
                    @if let Some(directive) = &directive {
                        li { (texts.t("exp.from_directive")) " " a href={ "/directives/" (directive.id) } { (directive.title) } }
                    }
                    @if let Some(programme) = &programme {
                        li { (texts.t("exp.from_programme")) " " a href={ "/programmes/" (programme.id) } { (programme.title) } }
                    }
                }
            }
        }
        p class="links" { a href={ "/api/v1/experiences/" (experience.id) } { (texts.t("dir.as_json")) } }
    };
    Ok(page(
        &viewer,
        StatusCode::OK,
        &experience.title,
        "/experiences",
        body,
    ))
}

/// "Experience from this directive (programme)": what was written from it, and a way to
/// write more, on the directive's or programme's page.
pub(crate) async fn linked_section(
    state: &AppState,
    viewer: &Viewer,
    directive: Option<&str>,
    programme: Option<&str>,
) -> Markup {
    let texts = viewer.texts;
    let app = &state.app;
    let found = app
        .experiences()
        .search(
            &viewer.ctx,
            ExperienceQuery {
                directive: directive.map(str::to_owned),
                programme: programme.map(str::to_owned),
                limit: Some(10),
                ..ExperienceQuery::default()
            },
        )
        .await;
    let may_write = app
        .me(&viewer.ctx)
        .await
        .map(|me| me.admin || me.posts.iter().any(|post| post.role != "member"))
        .unwrap_or(false);
    let (heading, link) = match (directive, programme) {
        (Some(id), _) => (
            texts.t("exp.from_this_directive"),
            format!("/experiences/new?directive={id}"),
        ),
        (None, Some(id)) => (
            texts.t("exp.from_this_programme"),
            format!("/experiences/new?programme={id}"),
        ),
        (None, None) => return html! {},
    };
    html! {
        section aria-labelledby="experience-heading" class="experience-from" {
            h2 id="experience-heading" { (heading) }
            @match &found {
                Ok(found) if !found.items.is_empty() => {
                    ul {
                        @for hit in &found.items {
                            li { a href={ "/experiences/" (hit.id) } { (hit.title) } " " span class="meta" { (hit.unit_name) } }
                        }
                    }
                    @if found.total > found.items.len() as u64 {
                        p class="meta" { (texts.f("exp.found", &[("count", &texts.number(found.total))])) }
                    }
                }
                _ => { p class="empty" { (texts.t("exp.none_linked")) } }
            }
            @if may_write { p { a href=(link) { (texts.t("exp.write_from")) } } }
        }
    }
}

#[derive(Deserialize, Default, Clone)]
pub(crate) struct NewExperienceForm {
    #[serde(default)]
    unit: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    tags: String,
    #[serde(default)]
    audience: String,
    #[serde(default)]
    media: String,
    #[serde(default)]
    directive: String,
    #[serde(default)]
    programme: String,
}

pub(crate) async fn new_experience_form(
    State(state): State<AppState>,
    viewer: Viewer,
    PageQuery(query): PageQuery<NewExperienceForm>,
) -> PageResult {
    viewer.require_sign_in()?;
    write_form(&state, &viewer, &query, None).await
}

async fn write_form(
    state: &AppState,
    viewer: &Viewer,
    input: &NewExperienceForm,
    error: Option<&ApiError>,
) -> PageResult {
    let texts = viewer.texts;
    let units: Vec<(String, String)> = state
        .app
        .me(&viewer.ctx)
        .await
        .map(|me| me.posts)
        .unwrap_or_default()
        .into_iter()
        .filter(|post| post.role != "member")
        .map(|post| (post.unit, post.unit_code))
        .collect();
    let body = html! {
        p class="meta" { a href="/experiences" { (texts.t("exp.title")) } }
        h1 { (texts.t("exp.write")) }
        @if let Some(error) = error { (error_box(texts, error)) }
        form method="post" action="/experiences" class="stack" {
            (csrf_field(viewer))
            label for="unit" { (texts.t("exp.unit")) }
            @if units.is_empty() {
                input id="unit" name="unit" type="text" required value=(input.unit);
            } @else {
                select id="unit" name="unit" {
                    @for (unit, code) in &units { option value=(unit) selected[*unit == input.unit] { (code) } }
                }
            }
            label for="title" { (texts.t("exp.field_title")) }
            input id="title" name="title" type="text" required maxlength="200" value=(input.title);
            label for="body" { (texts.t("exp.field_body")) }
            textarea id="body" name="body" rows="10" required { (input.body) }
            label for="tags" { (texts.t("exp.field_tags")) }
            input id="tags" name="tags" type="text" value=(input.tags);
            label for="audience" { (texts.t("exp.audience")) }
            select id="audience" name="audience" {
                option value="organization" selected[input.audience != "subtree"] { (texts.t("exp.audience_organization")) }
                option value="subtree" selected[input.audience == "subtree"] { (texts.t("exp.audience_subtree")) }
            }
            label for="media" { (texts.t("exp.field_media")) }
            textarea id="media" name="media" rows="3" placeholder="Video of the course | https://…" { (input.media) }
            label for="directive" { (texts.t("exp.field_directive")) }
            input id="directive" name="directive" type="text" inputmode="numeric" value=(input.directive);
            label for="programme" { (texts.t("exp.field_programme")) }
            input id="programme" name="programme" type="text" inputmode="numeric" value=(input.programme);
            button type="submit" { (texts.t("exp.publish")) }
        }
    };
    let status = error.map_or(StatusCode::OK, |e| e.status);
    Ok(page(
        viewer,
        status,
        texts.t("exp.write"),
        "/experiences",
        body,
    ))
}

pub(crate) async fn create_experience(
    State(state): State<AppState>,
    CsrfForm { viewer, input }: CsrfForm<NewExperienceForm>,
) -> PageResult {
    viewer.require_sign_in()?;
    let optional = |text: &str| Some(text.trim().to_owned()).filter(|t| !t.is_empty());
    let media = input
        .media
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let (title, url) = line.rsplit_once('|').unwrap_or((line, line));
            ganglion_app::Media {
                title: title.trim().to_owned(),
                url: url.trim().to_owned(),
            }
        })
        .collect::<Vec<_>>();
    let new = NewExperience {
        unit: input.unit.trim().to_owned(),
        title: input.title.clone(),
        body: input.body.clone(),
        tags: Some(split_words(&input.tags)),
        directive: optional(&input.directive),
        programme: optional(&input.programme),
        event: None,
        media: Some(media),
        audience: optional(&input.audience),
    };
    match state.app.experiences().create(&viewer.ctx, new).await {
        Ok(experience) => Ok(see_other(&format!("/experiences/{}", experience.id))),
        Err(error) => {
            let error = refusal(&viewer, error)?;
            write_form(&state, &viewer, &input, Some(&error)).await
        }
    }
}

/// A title as people say it: "Twice Three-Revolution Red Flag".
pub(crate) fn titled(texts: &Texts, name: &str, times: u32) -> String {
    let key = match times {
        0 | 1 => "hon.times_1",
        2 => "hon.times_2",
        3 => "hon.times_3",
        _ => "hon.times_n",
    };
    texts.f(key, &[("name", &name), ("count", &times)])
}

/// The awards of a title, oldest first, each withdrawable by those who may.
fn awards_list(state: &AppState, viewer: &Viewer, title: &TitleView, back: &str) -> Markup {
    let texts = viewer.texts;
    html! {
        ul class="awards" {
            @for award in &title.awards {
                li class=[award.withdrawn.as_ref().map(|_| "withdrawn")] {
                    (award.awarded_on) " · " (texts.f("hon.by", &[("unit", &award.awarded_by_name)]))
                    @if let Some(period) = &award.period { " · " (period.from) "–" (period.to) }
                    br;
                    span class="grounds" { (award.grounds) }
                    @if let Some(withdrawn) = &award.withdrawn {
                        br;
                        strong { (texts.t("hon.withdrawn")) } " " (short_time(&withdrawn.at)) ": " (withdrawn.reason)
                    } @else if state.app.may_change_unit(&viewer.ctx, &award.awarded_by) {
                        details class="form" {
                            summary { (texts.t("hon.withdraw")) }
                            form method="post" action={ "/honours/awards/" (award.id) "/withdraw" } class="stack" {
                                (csrf_field(viewer))
                                input type="hidden" name="back" value=(back);
                                label for={ "reason-" (award.id) } { (texts.t("hon.reason")) }
                                input id={ "reason-" (award.id) } name="reason" type="text" required;
                                button type="submit" class="secondary" { (texts.t("hon.withdraw")) }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[derive(Deserialize, Default)]
pub(crate) struct HonoursQuery {
    name: Option<String>,
    under: Option<String>,
    cursor: Option<String>,
}

pub(crate) async fn honours_page(
    State(state): State<AppState>,
    viewer: Viewer,
    PageQuery(query): PageQuery<HonoursQuery>,
) -> PageResult {
    viewer.require_sign_in()?;
    let app = &state.app;
    let texts = viewer.texts;
    let ctx = &viewer.ctx;
    let name = query.name.clone().filter(|n| !n.is_empty());
    let under = query.under.clone().filter(|u| !u.is_empty());
    let titles = app
        .honours()
        .list(
            ctx,
            TitleQuery {
                name: name.clone(),
                under: under.clone(),
                limit: Some(100),
                cursor: query.cursor.clone(),
            },
        )
        .await
        .or_page(&viewer)?;
    let names = app.honours().names(ctx).await.or_page(&viewer)?;
    let regions = app.honours().regions(ctx).or_page(&viewer)?;
    let back = viewer.here.clone();
    let mut rows = Vec::with_capacity(titles.items.len());
    for title in &titles.items {
        let open = app.unit(ctx, &title.unit).await.is_ok();
        rows.push((title, open));
    }
    let body = html! {
        h1 { (texts.t("hon.title")) }
        p class="meta" { (texts.t("hon.intro")) }
        form method="get" action="/honours" class="filters" {
            label for="name" { (texts.t("hon.name")) }
            select id="name" name="name" {
                option value="" { (texts.t("hon.all_titles")) }
                @for n in &names { option value=(n.name) selected[Some(&n.name) == name.as_ref()] { (n.name) " (" (n.units) ")" } }
            }
            label for="under" { (texts.t("hon.region")) }
            select id="under" name="under" {
                option value="" { (texts.t("hon.all_regions")) }
                @for (id, region) in &regions { option value=(id) selected[Some(id) == under.as_ref()] { (region) } }
            }
            button type="submit" { (texts.t("hon.filter")) }
        }
        @if rows.is_empty() {
            p class="empty" { (texts.t("hon.none")) }
        } @else {
            table class="honours" {
                thead { tr {
                    th { (texts.t("hon.name")) } th { (texts.t("post.unit")) }
                    th class="number" { (texts.t("hon.times")) } th { (texts.t("hon.awards")) }
                } }
                tbody {
                    @for (title, open) in &rows {
                        tr {
                            td { strong { (titled(texts, &title.name, title.times)) } }
                            td {
                                @if *open { a href={ "/units/" (title.unit) } { (title.unit_name) } } @else { (title.unit_name) }
                                " " code { (title.unit_code) }
                            }
                            td class="number" { (title.times) }
                            td { (awards_list(&state, &viewer, title, &back)) }
                        }
                    }
                }
            }
            @if let Some(next) = &titles.next_cursor {
                p { a rel="next" href={ "/honours?cursor=" (next)
                    @if let Some(n) = &name { "&name=" (encode(n)) }
                    @if let Some(u) = &under { "&under=" (u) } } { (texts.t("exp.more")) } }
            }
        }
    };
    Ok(page(
        &viewer,
        StatusCode::OK,
        texts.t("hon.title"),
        "/honours",
        body,
    ))
}

/// A unit's titles, on its page, with the form to award one where the reader may.
pub(crate) async fn unit_titles_section(state: &AppState, viewer: &Viewer, unit: &str) -> Markup {
    let app = &state.app;
    let texts = viewer.texts;
    let ctx = &viewer.ctx;
    let titles = app.honours().of_unit(ctx, unit).await.unwrap_or_default();
    // The units above this one that the reader may award in the name of.
    let awarders: Vec<(String, String)> = app
        .ancestors(ctx, unit)
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|ancestor| app.may_change_unit(ctx, &ancestor.id))
        .map(|ancestor| (ancestor.id, ancestor.name))
        .collect();
    let back = format!("/units/{unit}#honours");
    html! {
        section id="honours" aria-labelledby="honours-heading" {
            h2 id="honours-heading" { (texts.t("hon.unit_titles")) }
            @if titles.is_empty() {
                p class="empty" { (texts.t("hon.no_titles")) }
            } @else {
                ul class="titles" {
                    @for title in &titles {
                        li {
                            strong { (titled(texts, &title.name, title.times)) }
                            (awards_list(state, viewer, title, &back))
                        }
                    }
                }
            }
            @if !awarders.is_empty() {
                details class="form" {
                    summary { (texts.t("hon.award")) }
                    form method="post" action={ "/units/" (unit) "/titles" } class="stack" {
                        (csrf_field(viewer))
                        label for="awarded_by" { (texts.t("hon.awarded_by")) }
                        select id="awarded_by" name="awarded_by" {
                            @for (id, name) in awarders.iter().rev() { option value=(id) { (name) } }
                        }
                        label for="honour-name" { (texts.t("hon.field_name")) }
                        input id="honour-name" name="name" type="text" required maxlength="100";
                        label for="awarded_on" { (texts.t("hon.awarded_on")) }
                        input id="awarded_on" name="awarded_on" type="date" required;
                        label for="period_from" { (texts.t("hon.period_from")) }
                        input id="period_from" name="period_from" type="date";
                        label for="period_to" { (texts.t("hon.period_to")) }
                        input id="period_to" name="period_to" type="date";
                        label for="grounds" { (texts.t("hon.grounds")) }
                        textarea id="grounds" name="grounds" rows="3" required {}
                        button type="submit" { (texts.t("hon.award")) }
                    }
                }
            }
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct AwardForm {
    awarded_by: String,
    name: String,
    awarded_on: String,
    #[serde(default)]
    period_from: String,
    #[serde(default)]
    period_to: String,
    grounds: String,
}

pub(crate) async fn award_title(
    State(state): State<AppState>,
    Path(unit): Path<String>,
    CsrfForm { viewer, input }: CsrfForm<AwardForm>,
) -> PageResult {
    viewer.require_sign_in()?;
    let period = match (input.period_from.trim(), input.period_to.trim()) {
        ("", "") => None,
        (from, to) => Some(Period {
            from: from.to_owned(),
            to: to.to_owned(),
        }),
    };
    let new = NewTitle {
        unit: unit.clone(),
        name: input.name,
        awarded_by: input.awarded_by,
        awarded_on: input.awarded_on,
        period,
        grounds: input.grounds,
    };
    match state.app.honours().award(&viewer.ctx, new).await {
        Ok(_) => Ok(see_other(&format!("/units/{unit}#honours"))),
        Err(error) => {
            let error = refusal(&viewer, error)?;
            Err(super::PageError::from_api(error, viewer.texts))
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct WithdrawForm {
    #[serde(default)]
    reason: String,
    back: Option<String>,
}

pub(crate) async fn withdraw_award(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CsrfForm { viewer, input }: CsrfForm<WithdrawForm>,
) -> PageResult {
    viewer.require_sign_in()?;
    let back = local_path(input.back.as_deref(), "/honours");
    match state
        .app
        .honours()
        .withdraw(
            &viewer.ctx,
            &id,
            Withdrawal {
                reason: input.reason,
            },
        )
        .await
    {
        Ok(_) => Ok(see_other(&back)),
        Err(error) => {
            let error = refusal(&viewer, error)?;
            Err(super::PageError::from_api(error, viewer.texts))
        }
    }
}
