//! Grasp and control: everything overdue under a unit, of every kind, by child and most
//! overdue first — on a page of its own, and at the top of "My work" for every unit one
//! holds authority in.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use ganglion_app::{Attention, AttentionCounts, AttentionQuery};
use maud::{html, Markup};
use serde::Deserialize;

use super::forms::{PageQuery, Viewer};
use super::i18n::Texts;
use super::shell::{page, OrPage};
use super::view::breadcrumbs;
use super::PageResult;
use crate::AppState;

/// The kinds in the order a reader meets them, with their counts.
fn by_kind(counts: &AttentionCounts) -> [(&'static str, u32); 6] {
    [
        ("assignment", counts.assignment),
        ("project", counts.project),
        ("pledge", counts.pledge),
        ("report", counts.report),
        ("request", counts.request),
        ("invitation", counts.invitation),
    ]
}

fn kind_label<'a>(texts: &'a Texts, kind: &str) -> &'a str {
    texts.get(&format!("att.kind_{kind}")).unwrap_or("")
}

/// Where an overdue item is opened.
fn item_link(kind: &str, id: &str) -> String {
    match kind {
        "assignment" | "project" | "pledge" => format!("/assignments/{id}"),
        _ => "#".into(),
    }
}

/// The counts by kind, those that are not zero.
pub(crate) fn counts_line(texts: &Texts, counts: &AttentionCounts) -> Markup {
    html! {
        @for (kind, count) in by_kind(counts).into_iter().filter(|(_, count)| *count > 0) {
            span class="count" { strong { (texts.number(count.into())) } " " (kind_label(texts, kind)) } " "
        }
    }
}

/// The list of overdue items.
pub(crate) fn items_table(texts: &Texts, attention: &Attention) -> Markup {
    html! {
        table class="attention" {
            thead { tr {
                th { (texts.t("att.what")) } th { (texts.t("att.kind")) } th { (texts.t("post.unit")) }
                th { (texts.t("work.due")) } th class="number" { (texts.t("att.days")) }
            } }
            tbody {
                @for item in &attention.items {
                    tr {
                        td { a href=(item_link(&item.kind, &item.id)) { (item.title) } }
                        td { (kind_label(texts, &item.kind)) }
                        td { a href={ "/units/" (item.unit) } { (item.unit_name) } " " code { (item.unit_code) } }
                        td { (item.due) }
                        td class="number" { span class="state overdue" { (texts.number(item.days_overdue.into())) } }
                    }
                }
            }
        }
    }
}

#[derive(Deserialize, Default)]
pub(crate) struct AttentionPageQuery {
    cursor: Option<String>,
}

pub(crate) async fn attention_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    PageQuery(query): PageQuery<AttentionPageQuery>,
) -> PageResult {
    viewer.require_sign_in()?;
    let app = &state.app;
    let texts = viewer.texts;
    let ctx = &viewer.ctx;
    let unit = app.unit(ctx, &id).await.or_page(&viewer)?;
    let mut ancestors = app.ancestors(ctx, &unit.id).await.or_page(&viewer)?;
    ancestors.push(unit.clone());
    let attention = app
        .attention(
            ctx,
            &id,
            AttentionQuery {
                limit: Some(100),
                cursor: query.cursor,
            },
        )
        .await
        .or_page(&viewer)?;
    let title = texts.f("att.title", &[("name", &unit.name)]);
    let body = html! {
        (breadcrumbs(texts, &ancestors, &title))
        h1 { (title) }
        @if attention.counts.total() == 0 {
            p class="empty" { (texts.t("att.nothing")) }
        } @else {
            p class="lead" { (counts_line(texts, &attention.counts)) }
            @if !attention.children.is_empty() {
                section aria-labelledby="by-child" {
                    h2 id="by-child" { (texts.t("att.by_child")) }
                    table {
                        thead { tr {
                            th { (texts.t("post.unit")) }
                            @for (kind, _) in by_kind(&attention.counts) { th class="number" { (kind_label(texts, kind)) } }
                        } }
                        tbody {
                            @for child in &attention.children {
                                tr {
                                    th scope="row" { a href={ "/units/" (child.unit) "/attention" } { (child.name) } " " code { (child.code) } }
                                    @for (_, count) in by_kind(&child.counts) { td class="number" { @if count > 0 { (texts.number(count.into())) } } }
                                }
                            }
                        }
                    }
                }
            }
            section aria-labelledby="items" {
                h2 id="items" { (texts.t("att.most_overdue")) }
                (items_table(texts, &attention))
                @if let Some(cursor) = &attention.next_cursor {
                    p { a href={ "/units/" (unit.id) "/attention?cursor=" (cursor) } { (texts.t("att.more")) } }
                }
            }
        }
    };
    Ok(page(&viewer, StatusCode::OK, &title, "/work", body))
}
