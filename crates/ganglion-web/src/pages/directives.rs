//! Directives in the pages: writing and issuing one (with how many units it reaches),
//! its roll-up with the picture coloured by completion and the units that lag, and an
//! assignment with what its unit can do next.

use ganglion_app::ErrorCode;
use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use ganglion_app::{
    AppError, AtQuery, DirectiveView, InboxQuery, Metric, NewDirective, NewGuidance, OutlineNode,
    Target, Transition,
};
use ganglion_core::{DirectiveState, Kind, UnitId, Workflow};
use maud::{html, Markup};
use serde::Deserialize;

use super::forms::{CsrfForm, EmptyForm, PageQuery, Viewer};
use super::i18n::Texts;
use super::picture::{sunburst, Colouring, Links};
use super::shell::{csrf_field, error_box, page, refusal, saved, OrPage};
use super::view::{against_target, breadcrumbs, kind_label, quantity, share, split_words};
use super::{PageError, PageResult};
use crate::error::ApiError;
use crate::AppState;

/// The name of a state in the reader's language.
pub(crate) fn state_label<'a>(texts: &'a Texts, state: &'a str) -> &'a str {
    texts.get(&format!("state.{state}")).unwrap_or(state)
}

/// What a move is called where a person makes it ("Send back", "Accept"), from the
/// workflow's own name for it.
pub(crate) fn action_label<'a>(texts: &'a Texts, action: &'a str) -> &'a str {
    texts.get(&format!("action.{action}")).unwrap_or(action)
}

/// A state as a badge, with "overdue" beside it when it is.
pub(crate) fn state_badge(texts: &Texts, state: &str, overdue: bool) -> Markup {
    html! {
        span class={ "state state-" (state) } { (state_label(texts, state)) }
        @if overdue { " " span class="state overdue" { (texts.t("state.overdue")) } }
    }
}

/// Directives with how far each has come: state, units reached, the share done, how
/// many are overdue. The issuer is shown when the list mixes issuers.
pub(crate) fn directive_table(
    texts: &Texts,
    items: &[ganglion_app::DirectiveSummary],
    show_issuer: bool,
) -> Markup {
    html! {
        table class="directives" {
            thead { tr {
                th { (texts.t("dir.title")) }
                @if show_issuer { th { (texts.t("dir.issued_by")) } }
                th { (texts.t("work.state")) }
                th { (texts.t("work.due")) }
                th class="number" { (texts.t("dir.units_reached")) }
                th class="number" { (texts.t("dir.done_share")) }
                th class="number" { (texts.t("dir.units_overdue")) }
            } }
            tbody {
                @for item in items {
                    tr {
                        td { a href={ "/directives/" (item.id) } { (item.title) } }
                        @if show_issuer { td { a href={ "/units/" (item.issuer) } { (item.issuer_name) } } }
                        td { span class={ "state dir-" (item.state) } { (dir_state_label(texts, &item.state)) } }
                        td { (item.due) }
                        td class="number" { (texts.number(item.assignments.max(0) as u64)) }
                        td class="number" { (share(item.done.into(), item.assignments.max(0) as u64)) }
                        td class="number" { (texts.number(item.overdue.into())) }
                    }
                }
            }
        }
    }
}

/// The class that colours a cell by the share done, in fifths: red to green.
fn progress_class(done: u32, total: u32) -> &'static str {
    if total == 0 {
        return "progress-none";
    }
    match (5 * done) / total {
        0 => "progress-0",
        1 => "progress-1",
        2 => "progress-2",
        3 => "progress-3",
        4 => "progress-4",
        _ => "progress-5",
    }
}

/// The share done as a sortable value.
fn sort_share(done: u32, total: u32) -> String {
    if total == 0 {
        "-1".into()
    } else {
        format!("{:.4}", f64::from(done) / f64::from(total))
    }
}

/// Colours each segment by the share of its units that are done: red to green.
struct ByProgress {
    /// Per unit: done, and in all.
    tallies: HashMap<String, (u32, u32)>,
}

impl Colouring for ByProgress {
    fn fill(&self, node: &OutlineNode, _branch: usize, level: u32) -> String {
        match self.tallies.get(&node.id).filter(|(_, total)| *total > 0) {
            Some((done, total)) => {
                let done = f64::from(*done) / f64::from(*total);
                let hue = 120.0 * done;
                let lightness = 42 + level.min(4) * 6;
                format!("hsl({hue:.0}, 60%, {lightness}%)")
            }
            None => "#e4e0d8".into(),
        }
    }
}

#[derive(Deserialize, Default)]
pub(crate) struct DirectivePageQuery {
    at: Option<String>,
    /// The level the laggards are grouped at, counted down from `at` (1: its children).
    level: Option<u16>,
}

pub(crate) async fn directive_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    PageQuery(query): PageQuery<DirectivePageQuery>,
) -> PageResult {
    viewer.require_sign_in()?;
    directive_view(
        &state,
        &viewer,
        &id,
        (query.at.as_deref(), query.level.unwrap_or(1)),
        None,
        StatusCode::OK,
    )
    .await
}

async fn directive_view(
    state: &AppState,
    viewer: &Viewer,
    id: &str,
    (at, level): (Option<&str>, u16),
    error: Option<&ApiError>,
    status: StatusCode,
) -> PageResult {
    let app = &state.app;
    let texts = viewer.texts;
    let ctx = &viewer.ctx;
    let directive = app.directives().get(ctx, id).await.or_page(viewer)?;
    let workflow = Kind::parse(&directive.kind)
        .unwrap_or(Kind::Directive)
        .workflow();
    let issuer_may_act = app.may_change_unit(ctx, &directive.issuer);
    let issued = directive.state != "draft";
    let reach = app.directives().reach(ctx, id).await.or_page(viewer)?;
    let metric_unit = directive
        .metric
        .as_ref()
        .map(|metric| metric.unit.clone())
        .unwrap_or_default();
    let body = if issued {
        let rollup = app.directives().rollup(ctx, id, at).await.or_page(viewer)?;
        let at_unit = app.unit(ctx, &rollup.unit).await.or_page(viewer)?;
        let ancestors = app.ancestors(ctx, &rollup.unit).await.or_page(viewer)?;
        let laggards = app
            .directives()
            .laggards(
                ctx,
                id,
                AtQuery {
                    at: Some(rollup.unit.clone()),
                    limit: Some(20),
                    cursor: None,
                },
            )
            .await
            .or_page(viewer)?;
        let series = app
            .directives()
            .series(ctx, id, Some(&rollup.unit))
            .await
            .or_page(viewer)?;
        let outline = app
            .outline(ctx, &rollup.unit, 3, 1.0 / 360.0)
            .await
            .or_page(viewer)?;
        let mut units = Vec::new();
        outline_units(&outline, &mut units);
        // The levels one may group the laggards at, named by the kind of their units.
        let mut levels: Vec<(u16, String)> = Vec::new();
        let mut row: Vec<&OutlineNode> = vec![&outline];
        for depth in 1..=3u16 {
            row = row.iter().flat_map(|node| node.children.iter()).collect();
            let Some(first) = row.first() else { break };
            levels.push((
                depth,
                kind_label(texts, app.template(), &first.kind).to_owned(),
            ));
        }
        let level = if levels.iter().any(|(depth, _)| *depth == level) {
            level
        } else {
            1
        };
        let groups = if levels.is_empty() {
            Vec::new()
        } else {
            app.directives()
                .lagging_groups(ctx, id, Some(&rollup.unit), level, 20)
                .await
                .or_page(viewer)?
        };
        // Where two children share a name, their codes tell them apart.
        let repeated = |name: &str| rollup.children.iter().filter(|c| c.name == name).count() > 1;
        let tallies = app
            .directives()
            .done_under(ctx, id, units)
            .await
            .or_page(viewer)?
            .into_iter()
            .map(|(unit, counts)| (unit.to_string(), counts))
            .collect();
        let segment = |unit: &str| format!("/directives/{}?at={unit}", directive.id);
        let links = Links {
            segment: &segment,
            centre: match ancestors.last() {
                Some(parent) => format!("/directives/{}?at={}", directive.id, parent.id),
                None => format!("/units/{}", rollup.unit),
            },
            centre_title: match ancestors.last() {
                Some(_) => texts.t("picture.up").to_owned(),
                None => at_unit.name.clone(),
            },
        };
        let picture = sunburst(texts, &outline, 3, &links, &ByProgress { tallies });
        let done_share = |done: u32, total: u32| {
            if total == 0 {
                "—".to_owned()
            } else {
                format!("{:.0}%", 100.0 * f64::from(done) / f64::from(total))
            }
        };
        html! {
            section aria-labelledby="rollup-heading" {
                h2 id="rollup-heading" { (texts.f("dir.rollup_at", &[("name", &at_unit.name)])) }
                @if !ancestors.is_empty() {
                    p class="meta" {
                        (texts.t("dir.go_up")) " "
                        @for (index, unit) in ancestors.iter().enumerate() {
                            @if index > 0 { " › " }
                            a href={ "/directives/" (directive.id) "?at=" (unit.id) } { (unit.name) }
                        }
                    }
                }
                table class="rollup sortable" data-live={ "/directives/" (directive.id) "/live?at=" (rollup.unit) } {
                    thead { tr {
                        th { (texts.t("unit.name")) }
                        th class="number" { (texts.t("dir.units_reached")) }
                        @for (state, _) in &rollup.states.0 { th class="number" { (state_label(texts, state)) } }
                        th class="number" { (texts.t("state.overdue")) }
                        th class="number" { (texts.t("dir.done_share")) }
                        @if let Some(metric) = &directive.metric { th class="number" { (texts.f("dir.metric_against_target", &[("name", &metric.name)])) } }
                    } }
                    tbody {
                        tr class="total" data-unit=(rollup.unit) {
                            th scope="row" { (at_unit.name) }
                            td class="number" data-count="total" { (texts.number(rollup.total.into())) }
                            @for (state, count) in &rollup.states.0 { td class="number" data-count=(state) { (texts.number((*count).into())) } }
                            td class="number" data-count="overdue" { (texts.number(rollup.overdue.into())) }
                            td class={ "number " (progress_class(rollup.done, rollup.total)) } { (done_share(rollup.done, rollup.total)) }
                            @if let Some(metric) = &rollup.metric { td class="number" { (against_target(texts, metric.sum, metric.target, &metric_unit)) } }
                        }
                        @for child in &rollup.children {
                            tr data-unit=(child.unit) {
                                th scope="row" {
                                    a href={ "/directives/" (directive.id) "?at=" (child.unit) } { (child.name) }
                                    @if repeated(&child.name) { " " code { (child.code) } }
                                }
                                td class="number" data-count="total" { (texts.number(child.total.into())) }
                                @for (state, count) in &child.states.0 { td class="number" data-count=(state) { (texts.number((*count).into())) } }
                                td class="number" data-count="overdue" { (texts.number(child.overdue.into())) }
                                td class={ "number " (progress_class(child.done, child.total)) } data-sort=(sort_share(child.done, child.total)) { (done_share(child.done, child.total)) }
                                @if let Some(metric) = &child.metric { td class="number" { (against_target(texts, metric.sum, metric.target, &metric_unit)) } }
                            }
                        }
                    }
                }
                p class="links" {
                    a href={ "/api/v1/directives/" (directive.id) "/rollup.csv?at=" (rollup.unit) } download { "CSV" }
                    " · "
                    a href={ "/api/v1/directives/" (directive.id) "/rollup.xlsx?at=" (rollup.unit) } download { "XLSX" }
                    " · "
                    a href={ "/api/v1/directives/" (directive.id) "/rollup?at=" (rollup.unit) } { (texts.t("dir.as_json")) }
                }
            }
            div class="picture" {
                figure {
                    (picture)
                    figcaption { (texts.t("dir.picture_caption")) }
                }
                section class="laggards" aria-labelledby="laggards-heading" {
                    h2 id="laggards-heading" { (texts.t("dir.laggards")) }
                    @if !levels.is_empty() {
                        form method="get" action={ "/directives/" (directive.id) } class="filters" {
                            input type="hidden" name="at" value=(rollup.unit);
                            label for="level" { (texts.t("dir.lag_level")) }
                            select id="level" name="level" data-autosubmit {
                                @for (depth, label) in &levels {
                                    option value=(depth) selected[*depth == level] { (label) }
                                }
                            }
                            button type="submit" class="secondary js-hidden" { (texts.t("dir.lag_show")) }
                        }
                        @if groups.is_empty() {
                            p class="empty" { (texts.t("dir.no_laggards")) }
                        } @else {
                            table class="lagging-groups sortable" {
                                caption class="visually-hidden" { (texts.t("dir.lag_caption")) }
                                thead { tr {
                                    th { (texts.t("unit.name")) }
                                    th class="number" { (texts.t("dir.not_done_share")) }
                                    th class="number" { (texts.t("dir.units_overdue")) }
                                    @if directive.metric.is_some() { th class="number" { (texts.t("dir.shortfall")) } }
                                } }
                                tbody {
                                    @for group in &groups {
                                        tr data-unit=(group.unit) {
                                            th scope="row" {
                                                a href={ "/directives/" (directive.id) "?at=" (group.unit) } { (group.name) }
                                                " " code { (group.code) }
                                            }
                                            td class={ "number " (progress_class(group.done, group.total)) } data-sort=(format!("{:.4}", group.not_done_share)) {
                                                (format!("{:.0}%", 100.0 * group.not_done_share))
                                            }
                                            td class="number" data-sort=(group.overdue) { (texts.number(group.overdue.into())) }
                                            @if let Some(shortfall) = group.shortfall {
                                                td class="number" data-sort=(format!("{shortfall:.2}")) { (quantity(texts, shortfall, &metric_unit)) }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                        h3 { (texts.t("dir.laggards_units")) }
                    }
                    @if laggards.items.is_empty() {
                        p class="empty" { (texts.t("dir.no_laggards")) }
                    } @else {
                        table {
                            tbody {
                                @for laggard in &laggards.items {
                                    tr {
                                        td { a href={ "/units/" (laggard.unit) } { (laggard.name) } br; code { (laggard.code) } }
                                        td { (state_badge(texts, &laggard.state, laggard.overdue)) }
                                        @if let Some(value) = laggard.metric_value { td class="number" { (quantity(texts, value, &metric_unit)) } }
                                    }
                                }
                            }
                        }
                        @if laggards.next_cursor.is_some() {
                            p { a href={ "/api/v1/directives/" (directive.id) "/laggards?at=" (rollup.unit) "&limit=1000" } { (texts.t("dir.all_laggards")) } }
                        }
                    }
                }
            }
            section aria-labelledby="series-heading" {
                h2 id="series-heading" { (texts.t("dir.series")) }
                (series_chart(texts, workflow, &series))
            }
        }
    } else {
        html! {
            p class="lead" { (texts.f("dir.reach_preview", &[("count", &texts.number(reach.units))])) }
        }
    };
    let title = directive.title.clone();
    let actions = html! {
        @if issuer_may_act {
            div class="actions" {
                @if directive.state == "draft" {
                    form method="post" action={ "/directives/" (directive.id) "/issue" } class="inline" {
                        (csrf_field(viewer))
                        button type="submit" { (texts.f("dir.issue_to", &[("count", &texts.number(reach.units))])) }
                    }
                }
                @if directive.state == "issued" {
                    form method="post" action={ "/directives/" (directive.id) "/close" } class="inline" {
                        (csrf_field(viewer))
                        button type="submit" class="secondary" { (texts.t("dir.close")) }
                    }
                }
                @if directive.state == "issued" || directive.state == "draft" {
                    form method="post" action={ "/directives/" (directive.id) "/withdraw" } class="inline" {
                        (csrf_field(viewer))
                        button type="submit" class="secondary" { (texts.t("dir.withdraw")) }
                    }
                }
            }
        }
    };
    let guidance_units: Vec<(String, String)> = if directive.state == "issued" {
        let mut units = Vec::new();
        for post in app
            .me(&viewer.ctx)
            .await
            .map(|me| me.posts)
            .unwrap_or_default()
        {
            if post.role != "member" && !units.iter().any(|(id, _)| *id == post.unit) {
                units.push((post.unit.clone(), post.unit_code.clone()));
            }
        }
        units
    } else {
        Vec::new()
    };
    // The issuer is named where the reader may see it; below, it is "a higher unit".
    let issuer_name = app
        .unit(ctx, &directive.issuer)
        .await
        .ok()
        .map(|unit| unit.name);
    let experience = super::linked_section(state, viewer, Some(&directive.id), None).await;
    // The plans units made to carry it out, with their progress.
    let plans = if issued {
        app.directives().plans(ctx, id).await.or_page(viewer)?
    } else {
        Vec::new()
    };
    // The decision a plan breaks down, linked only where the reader may open it.
    let parent = match &directive.parent_directive {
        Some(parent) => app
            .directives()
            .get(ctx, parent)
            .await
            .ok()
            .map(|parent| (parent.id, parent.title)),
        None => None,
    };
    let page_body = html! {
        p class="meta" {
            @match &issuer_name {
                Some(name) => a href={ "/units/" (directive.issuer) } { (name) },
                None => (texts.t("dir.higher_unit")),
            }
            " · " (texts.f("dir.due", &[("date", &directive.due)])) " · " (dir_state_label(texts, &directive.state)) }
        h1 { (title) }
        @if let Some(error) = error { (error_box(texts, error)) }
        @if !directive.body.is_empty() { div class="body" { p { (directive.body) } } }
        @if let Some((parent, parent_title)) = &parent {
            p { (texts.t("dir.parent")) ": " a href={ "/directives/" (parent) } { (parent_title) } }
        }
        (target_summary(texts, &state.app, &directive))
        (actions)
        (body)
        (experience)
        @if issued {
            section aria-labelledby="plans-heading" {
                h2 id="plans-heading" { (texts.t("dir.plans")) }
                @if plans.is_empty() {
                    p class="empty" { (texts.t("dir.no_plans")) }
                } @else {
                    (directive_table(texts, &plans, true))
                }
            }
        }
        @if !guidance_units.is_empty() {
            details class="form" {
                summary { (texts.t("dir.add_guidance")) }
                form method="post" action={ "/directives/" (directive.id) "/guidance" } class="stack" {
                    (csrf_field(viewer))
                    label for="guidance-unit" { (texts.t("dir.guidance_for")) }
                    select id="guidance-unit" name="unit" {
                        @for (unit, code) in &guidance_units { option value=(unit) { (code) } }
                    }
                    label for="guidance-text" { (texts.t("dir.guidance_text")) }
                    textarea id="guidance-text" name="text" rows="3" required {}
                    button type="submit" { (texts.t("dir.add_guidance")) }
                }
            }
        }
    };
    Ok(page(viewer, status, &directive.title, "/work", page_body))
}

fn dir_state_label<'a>(texts: &'a Texts, state: &'a str) -> &'a str {
    texts.get(&format!("dir.state_{state}")).unwrap_or(state)
}

fn target_summary(texts: &Texts, app: &ganglion_app::App, directive: &DirectiveView) -> Markup {
    html! {
        p class="meta" {
            (texts.t("dir.target")) " "
            @if directive.target.kinds.is_empty() { (texts.t("dir.every_kind")) }
            @for (index, kind) in directive.target.kinds.iter().enumerate() {
                @if index > 0 { ", " }
                (kind_label(texts, app.template(), kind))
            }
            @for tag in &directive.target.tags { " " span class="tag" { (tag) } }
            @if let Some(metric) = &directive.metric {
                " · " (texts.f("dir.metric_target", &[("name", &metric.name), ("target", &metric.target_per_unit), ("unit", &metric.unit)]))
            }
        }
    }
}

fn outline_units(node: &OutlineNode, out: &mut Vec<UnitId>) {
    if let Ok(unit) = node.id.parse() {
        out.push(unit);
    }
    for child in &node.children {
        outline_units(child, out);
    }
}

/// Done, in progress and not started per day, as stacked bars drawn in SVG.
fn series_chart(texts: &Texts, workflow: &Workflow, series: &ganglion_app::Series) -> Markup {
    let days = &series.days;
    if days.is_empty() {
        return html! { p class="empty" { (texts.t("dir.no_series")) } };
    }
    let width = 640.0;
    let height = 160.0;
    let total = days
        .iter()
        .map(|d| d.states.0.iter().map(|(_, count)| count).sum::<u32>())
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let bar = (width / days.len() as f64).min(24.0);
    html! {
        svg class="series" viewBox={ "0 0 " (width) " " (height + 20.0) } role="img" aria-label=(texts.t("dir.series")) {
            @for (index, day) in days.iter().enumerate() {
                @let (done, working, waiting) = stacked(workflow, &day.states);
                @let x = index as f64 * bar;
                @let scale = height / total;
                rect x=(x) y=(height - done * scale) width=(bar * 0.8) height=(done * scale) fill="hsl(120, 50%, 42%)" {
                    title { (day.date) ": " (texts.number(done as u64)) " " (texts.t("dir.done_share")) }
                }
                rect x=(x) y=(height - (done + working) * scale) width=(bar * 0.8) height=(working * scale) fill="hsl(45, 80%, 55%)" {}
                rect x=(x) y=(height - (done + working + waiting) * scale) width=(bar * 0.8) height=(waiting * scale) fill="hsl(0, 55%, 62%)" {}
            }
            text x="0" y=(height + 16.0) { (days[0].date) }
            text x=(width) y=(height + 16.0) text-anchor="end" { (days[days.len() - 1].date) }
        }
        p class="meta" { (texts.t("dir.series_legend")) }
    }
}

/// A day's counts as three stacks: done, being worked, and not started or blocked.
fn stacked(workflow: &Workflow, states: &ganglion_app::StateCounts) -> (f64, f64, f64) {
    let (mut done, mut working, mut waiting) = (0.0, 0.0, 0.0);
    for (index, (state, count)) in states.0.iter().enumerate() {
        let count = f64::from(*count);
        if workflow.is_done(index as u8) {
            done += count;
        } else if index as u8 == workflow.initial || *state == "blocked" {
            waiting += count;
        } else {
            working += count;
        }
    }
    (done, working, waiting)
}

#[derive(Deserialize, Default)]
pub(crate) struct NewDirectiveQuery {
    issuer: Option<String>,
    parent: Option<String>,
}

/// What the directive form holds, kept to show again with an error.
#[derive(Deserialize, Default)]
pub(crate) struct DirectiveForm {
    #[serde(default)]
    issuer: String,
    #[serde(default)]
    parent: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    due: String,
    #[serde(default)]
    kinds: String,
    #[serde(default)]
    tags: String,
    #[serde(default)]
    metric_name: String,
    #[serde(default)]
    metric_unit: String,
    #[serde(default)]
    metric_target: String,
}

pub(crate) async fn new_directive_form(
    State(state): State<AppState>,
    viewer: Viewer,
    PageQuery(query): PageQuery<NewDirectiveQuery>,
) -> PageResult {
    viewer.require_sign_in()?;
    let form = DirectiveForm {
        issuer: query.issuer.unwrap_or_default(),
        parent: query.parent.unwrap_or_default(),
        ..DirectiveForm::default()
    };
    directive_form_page(&state, &viewer, &form, None).await
}

async fn directive_form_page(
    state: &AppState,
    viewer: &Viewer,
    form: &DirectiveForm,
    error: Option<&ApiError>,
) -> PageResult {
    let texts = viewer.texts;
    let issuer = state
        .app
        .unit(&viewer.ctx, &form.issuer)
        .await
        .or_page(viewer)?;
    let mut ancestors = state
        .app
        .ancestors(&viewer.ctx, &issuer.id)
        .await
        .or_page(viewer)?;
    ancestors.push(issuer.clone());
    let title = texts.t("dir.new_title");
    let body = html! {
        (breadcrumbs(texts, &ancestors, title))
        h1 { (title) }
        p class="lead" { (texts.f("dir.new_lead", &[("name", &issuer.name)])) }
        @if let Some(error) = error { (error_box(texts, error)) }
        form method="post" action="/directives" class="stack" {
            (csrf_field(viewer))
            input type="hidden" name="issuer" value=(form.issuer);
            input type="hidden" name="parent" value=(form.parent);
            label for="title" { (texts.t("dir.title")) }
            input id="title" name="title" type="text" required value=(form.title);
            label for="body" { (texts.t("dir.body")) }
            textarea id="body" name="body" rows="5" { (form.body) }
            label for="due" { (texts.t("dir.due_label")) }
            input id="due" name="due" type="date" required value=(form.due);
            label for="kinds" { (texts.t("dir.kinds")) }
            input id="kinds" name="kinds" type="text" value=(form.kinds) aria-describedby="kinds-help";
            p id="kinds-help" class="help" { (texts.t("dir.kinds_help")) }
            label for="tags" { (texts.t("unit.tags")) }
            input id="tags" name="tags" type="text" value=(form.tags) aria-describedby="tags-help";
            p id="tags-help" class="help" { (texts.t("dir.tags_help")) }
            fieldset {
                legend { (texts.t("dir.metric_optional")) }
                label for="metric_name" { (texts.t("dir.metric_name")) }
                input id="metric_name" name="metric_name" type="text" value=(form.metric_name);
                label for="metric_unit" { (texts.t("dir.metric_unit")) }
                input id="metric_unit" name="metric_unit" type="text" value=(form.metric_unit);
                label for="metric_target" { (texts.t("dir.metric_per_unit")) }
                input id="metric_target" name="metric_target" type="number" step="any" min="0" value=(form.metric_target);
            }
            button type="submit" { (texts.t("dir.save_draft")) }
        }
    };
    let status = error.map_or(StatusCode::OK, |e| e.status);
    Ok(page(viewer, status, title, "/work", body))
}

pub(crate) async fn create_directive(
    State(state): State<AppState>,
    CsrfForm { viewer, input }: CsrfForm<DirectiveForm>,
) -> PageResult {
    viewer.require_sign_in()?;
    let metric = if input.metric_name.trim().is_empty() {
        None
    } else {
        match input.metric_target.trim().parse::<f64>() {
            Ok(target) => Some(Metric {
                name: input.metric_name.clone(),
                unit: input.metric_unit.clone(),
                target_per_unit: target,
            }),
            Err(_) => {
                let error = ApiError::new(
                    ErrorCode::InvalidValue,
                    viewer.texts.t("dir.metric_target_number"),
                )
                .with_field("metric.target_per_unit");
                return directive_form_page(&state, &viewer, &input, Some(&error)).await;
            }
        }
    };
    let new = NewDirective {
        kind: None,
        issuer: input.issuer.clone(),
        title: input.title.clone(),
        body: input.body.clone(),
        due: input.due.clone(),
        target: Some(Target {
            under: None,
            kinds: split_words(&input.kinds),
            tags: split_words(&input.tags),
            units: Vec::new(),
        }),
        metric,
        parent_directive: Some(input.parent.clone()).filter(|p| !p.is_empty()),
    };
    match state.app.directives().create(&viewer.ctx, new).await {
        Ok(directive) => Ok(saved(
            &viewer,
            &format!("/directives/{}", directive.id),
            "directive_saved",
        )),
        Err(error) => {
            let error = refusal(&viewer, error)?;
            directive_form_page(&state, &viewer, &input, Some(&error)).await
        }
    }
}

/// Issue, close or withdraw: the button's form carries nothing but its token.
pub(crate) async fn directive_action(
    State(state): State<AppState>,
    Path((id, action)): Path<(String, String)>,
    CsrfForm { viewer, .. }: CsrfForm<EmptyForm>,
) -> PageResult {
    viewer.require_sign_in()?;
    let app = &state.app;
    let result = match action.as_str() {
        "issue" => app.directives().issue(&viewer.ctx, &id).await.map(|_| ()),
        "close" => app
            .directives()
            .end(&viewer.ctx, &id, DirectiveState::Closed)
            .await
            .map(|_| ()),
        "withdraw" => app
            .directives()
            .end(&viewer.ctx, &id, DirectiveState::Withdrawn)
            .await
            .map(|_| ()),
        _ => Err(AppError::NotFound { what: "action" }),
    };
    match result {
        Ok(()) => Ok(saved(
            &viewer,
            &format!("/directives/{id}"),
            match action.as_str() {
                "issue" => "directive_issued",
                "close" => "directive_closed",
                _ => "directive_withdrawn",
            },
        )),
        Err(error) => {
            let error = refusal(&viewer, error)?;
            let status = error.status;
            directive_view(&state, &viewer, &id, (None, 1), Some(&error), status).await
        }
    }
}

#[derive(Deserialize)]
pub(crate) struct GuidanceForm {
    unit: String,
    text: String,
}

pub(crate) async fn add_guidance(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CsrfForm { viewer, input }: CsrfForm<GuidanceForm>,
) -> PageResult {
    viewer.require_sign_in()?;
    let note = NewGuidance {
        unit: input.unit,
        text: input.text,
    };
    match state
        .app
        .directives()
        .add_guidance(&viewer.ctx, &id, note)
        .await
    {
        Ok(_) => Ok(saved(
            &viewer,
            &format!("/directives/{id}"),
            "guidance_added",
        )),
        Err(error) => {
            let error = refusal(&viewer, error)?;
            let status = error.status;
            directive_view(&state, &viewer, &id, (None, 1), Some(&error), status).await
        }
    }
}

pub(crate) async fn assignment_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> PageResult {
    viewer.require_sign_in()?;
    assignment_view(&state, &viewer, &id, None).await
}

async fn assignment_view(
    state: &AppState,
    viewer: &Viewer,
    id: &str,
    error: Option<&ApiError>,
) -> PageResult {
    let app = &state.app;
    let texts = viewer.texts;
    let assignment = app
        .directives()
        .assignment(&viewer.ctx, id)
        .await
        .or_page(viewer)?;
    let unit = app
        .unit(&viewer.ctx, &assignment.unit)
        .await
        .or_page(viewer)?;
    let mut ancestors = app.ancestors(&viewer.ctx, &unit.id).await.or_page(viewer)?;
    ancestors.push(unit.clone());
    // The plans this unit made to carry the directive out.
    let own_plans: Vec<_> = app
        .directives()
        .plans(&viewer.ctx, &assignment.directive)
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|plan| plan.issuer == unit.id)
        .collect();
    let may_plan = app.may_change_unit(&viewer.ctx, &unit.id);
    let body = html! {
        (breadcrumbs(texts, &ancestors, &assignment.title))
        h1 { (assignment.title) }
        p { (state_badge(texts, &assignment.state, assignment.overdue)) " " (texts.f("dir.due", &[("date", &assignment.due)])) }
        @if let Some(project) = &assignment.project {
            p class="meta" {
                a href={ "/programmes/" (project.programme) } { (texts.t("prog.open_programme")) }
                " · " (texts.t("prog.year")) " " (project.year) " · " (project.kind)
            }
        }
        @if !assignment.metrics.is_empty() {
            p class="meta" {
                @for (key, value) in &assignment.metrics {
                    @let unit = assignment.metric.as_ref().filter(|m| m.name == *key).map(|m| m.unit.as_str()).unwrap_or("");
                    span class="count" { (key) ": " strong { (quantity(texts, *value, unit)) } } " "
                }
            }
        }
        @if let Some(error) = error { (error_box(texts, error)) }
        section aria-labelledby="text-heading" {
            h2 id="text-heading" { (texts.t("asg.text")) }
            p { (assignment.body) }
            @for note in &assignment.guidance {
                blockquote class="guidance" {
                    p { (note.text) }
                    footer {
                        "— "
                        @if app.may_read_unit(&viewer.ctx, &note.unit) {
                            a href={ "/units/" (note.unit) } { (note.unit_name) }
                        } @else {
                            (note.unit_name)
                        }
                    }
                }
            }
            p { a href={ "/directives/" (assignment.directive) } { (texts.t("asg.open_directive")) } }
        }
        section aria-labelledby="plan-heading" {
            h2 id="plan-heading" { (texts.f("asg.plans_of", &[("name", &unit.name)])) }
            @if own_plans.is_empty() {
                p class="empty" { (texts.t("asg.no_plan")) }
            } @else {
                (directive_table(texts, &own_plans, false))
            }
            @if may_plan {
                p { a class="button" href={ "/directives/new?issuer=" (unit.id) "&parent=" (assignment.directive) } { (texts.t("asg.make_plan")) } }
            }
        }
        @if !assignment.moves.is_empty() {
            section aria-labelledby="act-heading" {
                h2 id="act-heading" { (texts.t("asg.act")) }
                form method="post" action={ "/assignments/" (assignment.id) "/transition" } class="stack" {
                    (csrf_field(viewer))
                    label for="note" { (texts.t("asg.note")) }
                    textarea id="note" name="note" rows="2" aria-describedby="note-help" {}
                    p id="note-help" class="help" { (texts.t("asg.note_help")) }
                    @if let Some(metric) = &assignment.metric {
                        label for="metric_value" { (metric.name) " (" (metric.unit) ")" }
                        input id="metric_value" name="metric_value" type="number" step="any" min="0"
                            value=[assignment.metric_value];
                    }
                    div class="moves" role="group" aria-label=(texts.t("asg.moves")) {
                        @for next in &assignment.moves {
                            @let twin = assignment.moves.iter().filter(|m| m.action == next.action).count() > 1;
                            button type="submit" name="to" value=(next.to)
                                class=[(next.action == "send_back" || next.action == "block" || next.action == "decline").then_some("secondary")] {
                                (action_label(texts, &next.action))
                                @if twin { " (" (state_label(texts, &next.to)) ")" }
                                @if next.reason { span class="visually-hidden" { " " (texts.t("asg.needs_reason")) } }
                            }
                        }
                    }
                }
            }
        }
        section aria-labelledby="history-heading" {
            h2 id="history-heading" { (texts.t("unit.history")) }
            @if assignment.history.is_empty() {
                p class="empty" { (texts.t("asg.no_history")) }
            } @else {
                table {
                    thead { tr {
                        th { (texts.t("audit.at")) } th { (texts.t("audit.actor")) }
                        th { (texts.t("asg.change")) } th { (texts.t("asg.note")) } th class="number" { (texts.t("dir.metric")) }
                    } }
                    tbody {
                        @for entry in &assignment.history {
                            tr {
                                td { (super::view::short_time(&entry.at)) }
                                td title=(entry.actor) { (entry.actor_name.as_deref().unwrap_or(&entry.actor)) }
                                td { (state_label(texts, &entry.from)) " → " (state_label(texts, &entry.to)) }
                                td { (entry.note) }
                                td class="number" { @if let Some(value) = entry.metric_value { (quantity(texts, value, assignment.metric.as_ref().map_or("", |m| m.unit.as_str()))) } }
                            }
                        }
                    }
                }
            }
        }
    };
    let status = error.map_or(StatusCode::OK, |e| e.status);
    Ok(page(viewer, status, &assignment.title, "/work", body))
}

#[derive(Deserialize)]
pub(crate) struct TransitionForm {
    to: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    metric_value: String,
}

pub(crate) async fn transition(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CsrfForm { viewer, input }: CsrfForm<TransitionForm>,
) -> PageResult {
    viewer.require_sign_in()?;
    let metric_value = match input.metric_value.trim() {
        "" => None,
        text => match text.parse::<f64>() {
            Ok(value) => Some(value),
            Err(_) => {
                let error = ApiError::new(
                    ErrorCode::InvalidValue,
                    viewer.texts.t("dir.metric_target_number"),
                )
                .with_field("metric_value");
                return assignment_view(&state, &viewer, &id, Some(&error)).await;
            }
        },
    };
    let move_to = Transition {
        to: input.to,
        note: Some(input.note).filter(|n| !n.trim().is_empty()),
        metric_value,
        metrics: None,
    };
    match state
        .app
        .directives()
        .transition(&viewer.ctx, &id, move_to)
        .await
    {
        Ok(view) => Ok(saved(
            &viewer,
            &format!("/assignments/{id}"),
            &format!("moved-{}", view.state),
        )),
        Err(error) => {
            let error = refusal(&viewer, error)?;
            assignment_view(&state, &viewer, &id, Some(&error)).await
        }
    }
}

/// The assignments waiting at the units of the viewer's posts, for "My work".
pub(crate) async fn waiting_for(
    state: &AppState,
    viewer: &Viewer,
    units: &[String],
) -> Result<Vec<(String, ganglion_app::InboxItem)>, PageError> {
    let mut items = Vec::new();
    for unit in units {
        let page = state
            .app
            .directives()
            .inbox(
                &viewer.ctx,
                unit,
                InboxQuery {
                    limit: Some(20),
                    ..InboxQuery::default()
                },
            )
            .await
            .or_page(viewer)?;
        items.extend(page.items.into_iter().map(|item| (unit.clone(), item)));
    }
    items.sort_by(|a, b| ganglion_app::InboxItem::urgency(&a.1, &b.1));
    Ok(items)
}

/// Live updates of a roll-up (server-sent events): the roll-up again whenever the read
/// model changed and the roll-up with it, at most four times a second.
pub(crate) async fn live_rollup(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    PageQuery(query): PageQuery<DirectivePageQuery>,
) -> Result<axum::response::Response, axum::response::Response> {
    use axum::response::sse::{Event, KeepAlive, Sse};
    use axum::response::IntoResponse;
    let app = state.app.clone();
    let ctx = viewer.ctx.clone();
    let first = app
        .directives()
        .rollup(&ctx, &id, query.at.as_deref())
        .await
        .map_err(|error| ApiError::from(error).into_response())?;
    let at = first.unit.clone();
    let changes = app.watch_read_model();
    let stream = futures::stream::unfold(
        (app, ctx, id, at, changes, String::new()),
        |(app, ctx, id, at, mut changes, last)| async move {
            loop {
                let rollup = app.directives().rollup(&ctx, &id, Some(&at)).await.ok()?;
                let json = serde_json::to_string(&rollup).ok()?;
                if json != last {
                    let event = Event::default().event("rollup").data(json.clone());
                    return Some((
                        Ok::<_, std::convert::Infallible>(event),
                        (app, ctx, id, at, changes, json),
                    ));
                }
                // Under a storm of reports, one roll-up per quarter second is plenty.
                let quiet = tokio::time::Instant::now() + LIVE_INTERVAL;
                changes.changed().await.ok()?;
                tokio::time::sleep_until(quiet).await;
            }
        },
    );
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}

/// The shortest time between two live updates of one page.
const LIVE_INTERVAL: std::time::Duration = std::time::Duration::from_millis(250);

#[derive(Deserialize, Default)]
pub(crate) struct DirectivesQuery {
    unit: Option<String>,
    cursor: Option<String>,
}

/// "Directives": what the units one starts from issued and received, each with how far
/// it has come; or, for one unit, everything it issued, page by page.
pub(crate) async fn directives_page(
    State(state): State<AppState>,
    viewer: Viewer,
    PageQuery(query): PageQuery<DirectivesQuery>,
) -> PageResult {
    viewer.require_sign_in()?;
    let app = &state.app;
    let texts = viewer.texts;
    let ctx = &viewer.ctx;
    let units: Vec<ganglion_app::UnitView> = match &query.unit {
        Some(unit) => vec![app.unit(ctx, unit).await.or_page(&viewer)?],
        None => app
            .entry_units(ctx)
            .await
            .or_page(&viewer)?
            .into_iter()
            .map(|summary| summary.unit)
            .collect(),
    };
    let limit = if query.unit.is_some() { 100 } else { 20 };
    let mut sections = Vec::new();
    for unit in &units {
        let issued = app
            .directives()
            .issued_by(
                ctx,
                &unit.id,
                ganglion_app::DirectiveListQuery {
                    limit: Some(limit),
                    cursor: query.cursor.clone(),
                },
            )
            .await
            .or_page(&viewer)?;
        let received = app
            .directives()
            .inbox(
                ctx,
                &unit.id,
                InboxQuery {
                    limit: Some(limit),
                    ..InboxQuery::default()
                },
            )
            .await
            .or_page(&viewer)?;
        sections.push((unit, issued, received));
    }
    let title = texts.t("dirs.title");
    let body = html! {
        h1 { (title) }
        p class="lead" { (texts.t("dirs.lead")) }
        @if sections.is_empty() { p class="empty" { (texts.t("work.no_posts")) } }
        @for (unit, issued, received) in &sections {
            section class="unit-directives" aria-labelledby={ "unit-" (unit.id) } {
                h2 id={ "unit-" (unit.id) } { a href={ "/units/" (unit.id) } { (unit.name) } " " code { (unit.code) } }
                h3 { (texts.t("unit.issued")) }
                @if issued.items.is_empty() {
                    p class="empty" { (texts.t("unit.no_issued")) }
                } @else {
                    (directive_table(texts, &issued.items, false))
                    @if let Some(next) = &issued.next_cursor {
                        p { a href={ "/directives?unit=" (unit.id) "&cursor=" (next) } { (texts.t("dirs.more")) } }
                    }
                }
                h3 { (texts.t("unit.assignments")) }
                @if received.items.is_empty() {
                    p class="empty" { (texts.t("unit.no_assignments")) }
                } @else {
                    table class="inbox" {
                        thead { tr {
                            th { (texts.t("work.task")) } th { (texts.t("work.state")) }
                            th { (texts.t("work.due")) } th { (texts.t("dir.title")) }
                        } }
                        tbody {
                            @for item in &received.items {
                                tr {
                                    td { a href={ "/assignments/" (item.id) } { (item.title) } }
                                    td { (state_badge(texts, &item.state, item.overdue)) }
                                    td { (item.due) }
                                    td { a href={ "/directives/" (item.directive) } { (texts.t("asg.open_directive")) } }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(page(&viewer, StatusCode::OK, title, "/directives", body))
}
