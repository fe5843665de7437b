//! The organization: a tree that opens level by level, and search by name or code.
//!
//! The tree never loads more than one level of children at a time (a page of them at
//! most), so it is as quick at a million units as at a hundred. Without JavaScript, each
//! unit opens by a link that renders the path down to it; with it, a level is fetched
//! in place from `/org/children/{id}`.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ganglion_app::{ListUnits, Page, UnitSummary};
use maud::{html, Markup};
use serde::Deserialize;

use super::forms::{PageQuery, Viewer};
use super::i18n::Texts;
use super::shell::{page, respond, OrPage};
use super::view::kind_label;
use super::PageResult;
use crate::AppState;

/// Children shown per level before a "more" link.
const CHILDREN_PER_PAGE: u32 = 100;
/// How many of the units one starts from are shown open.
const OPEN_ENTRIES: usize = 3;

#[derive(Deserialize, Default)]
pub(crate) struct OrgQuery {
    q: Option<String>,
    open: Option<String>,
}

pub(crate) async fn organization(
    State(state): State<AppState>,
    viewer: Viewer,
    PageQuery(query): PageQuery<OrgQuery>,
) -> PageResult {
    viewer.require_sign_in()?;
    let app = &state.app;
    let texts = viewer.texts;
    let search = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    let results = match search {
        Some(text) => Some(
            app.list_units(
                &viewer.ctx,
                ListUnits {
                    q: Some(text.to_owned()),
                    limit: Some(50),
                    ..ListUnits::default()
                },
            )
            .await
            .or_page(&viewer)?,
        ),
        None => None,
    };
    let entries = app.entry_units(&viewer.ctx).await.or_page(&viewer)?;
    // The levels to show open: the path down to `open`, each with its first page; at
    // first, the units one starts from.
    let mut opened: HashMap<String, Page<UnitSummary>> = HashMap::new();
    if query.open.is_none() {
        for entry in entries.iter().take(OPEN_ENTRIES) {
            let children = app
                .child_summaries(&viewer.ctx, &entry.unit.id, Some(CHILDREN_PER_PAGE), None)
                .await
                .or_page(&viewer)?;
            opened.insert(entry.unit.id.clone(), children);
        }
    }
    if let Some(open) = query.open.as_deref() {
        let mut chain: Vec<String> = app
            .ancestors(&viewer.ctx, open)
            .await
            .or_page(&viewer)?
            .into_iter()
            .map(|unit| unit.id)
            .collect();
        chain.push(open.to_owned());
        for id in chain {
            let children = app
                .child_summaries(&viewer.ctx, &id, Some(CHILDREN_PER_PAGE), None)
                .await
                .or_page(&viewer)?;
            opened.insert(id, children);
        }
    }
    let body = html! {
        h1 { (texts.t("org.title")) }
        form method="get" action="/org" class="search" role="search" {
            label for="q" { (texts.t("org.search_label")) }
            input id="q" name="q" type="search" value=(search.unwrap_or_default())
                placeholder=(texts.t("org.search_placeholder"));
            button type="submit" { (texts.t("org.search")) }
        }
        @if let Some(results) = &results {
            section class="results" aria-labelledby="results-heading" {
                h2 id="results-heading" { (texts.t("org.results")) }
                @if results.items.is_empty() {
                    p class="empty" { (texts.t("org.no_results")) }
                } @else {
                    table {
                        thead { tr {
                            th { (texts.t("unit.name")) } th { (texts.t("unit.kind")) }
                            th { (texts.t("unit.code")) } th {}
                        } }
                        tbody {
                            @for unit in &results.items {
                                tr {
                                    td { a href={ "/units/" (unit.id) } { (unit.name) } }
                                    td { (kind_label(texts, app.template(), &unit.kind)) }
                                    td { code { (unit.code) } }
                                    td { a href={ "/org?open=" (unit.id) "#u" (unit.id) } { (texts.t("org.show_in_tree")) } }
                                }
                            }
                        }
                    }
                    @if results.next_cursor.is_some() {
                        p class="note" { (texts.t("org.more_results")) }
                    }
                }
            }
        }
        section aria-labelledby="tree-heading" {
            h2 id="tree-heading" { (texts.t("org.tree")) }
            @if entries.is_empty() {
                p class="empty" { (texts.t("org.empty_tree")) }
            } @else {
                ul class="tree" role="list" {
                    @for entry in &entries {
                        (node(texts, app.template(), entry, &opened))
                    }
                }
            }
        }
    };
    Ok(page(
        &viewer,
        StatusCode::OK,
        texts.t("org.title"),
        "/org",
        body,
    ))
}

/// One unit of the tree, open (with its first children) when `opened` holds it.
fn node(
    texts: &Texts,
    template: &ganglion_core::Template,
    summary: &UnitSummary,
    opened: &HashMap<String, Page<UnitSummary>>,
) -> Markup {
    let unit = &summary.unit;
    let label = html! {
        a href={ "/units/" (unit.id) } { (unit.name) }
        " "
        span class="meta" {
            (kind_label(texts, template, &unit.kind)) " · " code { (unit.code) }
            @if summary.child_count > 0 {
                " · " (texts.f("unit.units_in_subtree", &[("count", &texts.number(summary.subtree_units.into()))]))
            }
        }
    };
    html! {
        li id={ "u" (unit.id) } class="node" {
            @if summary.child_count == 0 {
                div class="leaf" { (label) }
            } @else {
                @let children = opened.get(&unit.id);
                details data-children={ "/org/children/" (unit.id) }
                    open[children.is_some()] data-loaded=[children.map(|_| "yes")] {
                    summary { (label) }
                    div class="children" {
                        @match children {
                            Some(children) => (child_list(texts, template, &unit.id, children, opened)),
                            None => a class="expand" href={ "/org?open=" (unit.id) "#u" (unit.id) } {
                                (texts.f("org.show_children", &[("count", &texts.number(summary.child_count.into()))]))
                            },
                        }
                    }
                }
            }
        }
    }
}

fn child_list(
    texts: &Texts,
    template: &ganglion_core::Template,
    parent: &str,
    children: &Page<UnitSummary>,
    opened: &HashMap<String, Page<UnitSummary>>,
) -> Markup {
    html! {
        ul class="tree" role="list" {
            @for child in &children.items {
                (node(texts, template, child, opened))
            }
            @if let Some(cursor) = &children.next_cursor {
                li class="more" {
                    a href={ "/units/" (parent) "?cursor=" (cursor) "#children" }
                        data-more={ "/org/children/" (parent) "?cursor=" (cursor) } {
                        (texts.t("org.more_children"))
                    }
                }
            }
        }
    }
}

#[derive(Deserialize, Default)]
pub(crate) struct ChildrenQuery {
    cursor: Option<String>,
}

/// One level of the tree as an HTML fragment, for the script that opens it in place.
pub(crate) async fn children_fragment(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    PageQuery(query): PageQuery<ChildrenQuery>,
) -> Result<Response, Response> {
    let app = &state.app;
    let cursor = query.cursor;
    match app
        .child_summaries(&viewer.ctx, &id, Some(CHILDREN_PER_PAGE), cursor.as_deref())
        .await
    {
        Ok(children) => {
            let markup = child_list(
                viewer.texts,
                app.template(),
                &id,
                &children,
                &HashMap::new(),
            );
            Ok(respond(&viewer, StatusCode::OK, markup))
        }
        // A fragment is not a page: the API's error answer tells the script what failed.
        Err(error) => Err(crate::ApiError::from(error).into_response()),
    }
}
