//! "My work": the first page after signing in — the units of my posts, and what waits
//! for me there.

use axum::extract::State;
use axum::http::StatusCode;
use ganglion_app::UnitSummary;
use ganglion_core::UnitId;
use maud::html;

use super::forms::Viewer;
use super::shell::{page, OrPage};
use super::view::{kind_label, role_label, unit_link};
use super::PageResult;
use crate::AppState;

pub(crate) async fn my_work(State(state): State<AppState>, viewer: Viewer) -> PageResult {
    viewer.require_sign_in()?;
    let app = &state.app;
    let texts = viewer.texts;
    let me = app.me(&viewer.ctx).await.or_page(&viewer)?;
    let post_units: Vec<UnitId> = me
        .posts
        .iter()
        .filter_map(|post| post.unit.parse().ok())
        .collect();
    let summaries = app
        .summaries(&viewer.ctx, &post_units)
        .await
        .or_page(&viewer)?;
    let summary_of = |id: &str| -> Option<&UnitSummary> {
        summaries.iter().find(|summary| summary.unit.id == id)
    };
    let entry_units = if me.admin {
        app.entry_units(&viewer.ctx).await.or_page(&viewer)?
    } else {
        Vec::new()
    };
    let post_unit_ids: Vec<String> = me.posts.iter().map(|post| post.unit.clone()).collect();
    let waiting = super::directives::waiting_for(&state, &viewer, &post_unit_ids).await?;
    // What is overdue under the units one holds authority in: the first thing seen.
    let mut overdue = Vec::new();
    for post in me.posts.iter().filter(|post| post.role != "member") {
        let attention = app
            .attention(
                &viewer.ctx,
                &post.unit,
                ganglion_app::AttentionQuery {
                    limit: Some(5),
                    cursor: None,
                },
            )
            .await
            .or_page(&viewer)?;
        if attention.counts.total() > 0 {
            overdue.push((post.unit.clone(), post.unit_code.clone(), attention));
        }
    }
    let greeting = match &me.person {
        Some(person) => texts.f(
            "work.greeting_person",
            &[("name", &person.name), ("login", &me.login)],
        ),
        None => texts.f("work.greeting", &[("login", &me.login)]),
    };
    let body = html! {
        h1 { (texts.t("work.title")) }
        p class="lead" { (greeting) }
        @if !overdue.is_empty() {
            section class="attention-panel" aria-labelledby="attention-heading" {
                h2 id="attention-heading" { (texts.t("att.panel")) }
                @for (unit, code, attention) in &overdue {
                    h3 { a href={ "/units/" (unit) "/attention" } { (code) } }
                    p { (super::attention::counts_line(texts, &attention.counts)) }
                    (super::attention::items_table(texts, attention))
                    p { a href={ "/units/" (unit) "/attention" } { (texts.t("att.all")) } }
                }
            }
        }
        section aria-labelledby="posts-heading" {
            h2 id="posts-heading" { (texts.t("work.posts")) }
            @if me.posts.is_empty() && !me.admin {
                p class="empty" { (texts.t("work.no_posts")) }
            }
            @if me.admin {
                p class="note" { (texts.t("work.admin_note")) }
                ul class="cards" {
                    @for summary in &entry_units {
                        li class="card" {
                            h3 { (unit_link(&summary.unit)) }
                            p class="meta" {
                                (kind_label(texts, app.template(), &summary.unit.kind))
                                " · " code { (summary.unit.code) }
                            }
                            p { (texts.f("unit.units_in_subtree", &[("count", &texts.number(summary.subtree_units.into()))])) }
                        }
                    }
                }
            }
            ul class="cards" {
                @for post in &me.posts {
                    li class="card" {
                        @if let Some(summary) = summary_of(&post.unit) {
                            h3 { (unit_link(&summary.unit)) }
                            p class="meta" {
                                (kind_label(texts, app.template(), &summary.unit.kind))
                                " · " code { (summary.unit.code) }
                            }
                            p {
                                strong { (role_label(texts, &post.role)) }
                                @if !post.title.is_empty() { " — " (post.title) }
                            }
                            p class="meta" { (texts.f("work.since", &[("date", &post.start)])) }
                            p { (texts.f("unit.units_in_subtree", &[("count", &texts.number(summary.subtree_units.into()))])) }
                            p class="links" {
                                a href={ "/org?open=" (summary.unit.id) } { (texts.t("work.open_in_tree")) }
                                " · "
                                a href={ "/org/picture?at=" (summary.unit.id) } { (texts.t("nav.picture")) }
                                " · "
                                a href={ "/audit?under=" (summary.unit.id) } { (texts.t("nav.audit")) }
                            }
                        }
                    }
                }
            }
        }
        section aria-labelledby="waiting-heading" {
            h2 id="waiting-heading" { (texts.t("work.waiting")) }
            @if waiting.is_empty() {
                p class="empty" { (texts.t("work.nothing_waiting")) }
            } @else {
                table class="inbox" {
                    thead { tr {
                        th { (texts.t("work.task")) } th { (texts.t("post.unit")) }
                        th { (texts.t("work.state")) } th { (texts.t("work.due")) }
                    } }
                    tbody {
                        @for (unit, item) in &waiting {
                            tr {
                                td { a href={ "/assignments/" (item.id) } { (item.title) } }
                                td {
                                    @match summary_of(unit) {
                                        Some(summary) => (summary.unit.code),
                                        None => (unit),
                                    }
                                }
                                td { (super::directives::state_badge(texts, &item.state, item.overdue)) }
                                td { (item.due) }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(page(
        &viewer,
        StatusCode::OK,
        texts.t("work.title"),
        "/work",
        body,
    ))
}
