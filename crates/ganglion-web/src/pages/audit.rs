//! The audit trail of a subtree, filterable, with the state of the hash chain.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::StatusCode;
use ganglion_app::AuditQuery;
use ganglion_core::UnitId;
use maud::html;
use serde::Deserialize;

use super::forms::{PageQuery, Viewer};
use super::shell::{page, OrPage};
use super::view::short_time;
use super::PageResult;
use crate::AppState;

#[derive(Deserialize, Default)]
pub(crate) struct AuditPageQuery {
    under: Option<String>,
    action: Option<String>,
    actor: Option<String>,
    cursor: Option<String>,
}

/// Families of actions offered in the filter: prefix, catalogue key.
pub(crate) const ACTION_FAMILIES: &[(&str, &str)] = &[
    ("unit.", "audit.family_units"),
    ("unit.import", "audit.family_import"),
    ("post.", "audit.family_posts"),
    ("person.", "audit.family_people"),
    ("people.import", "audit.family_people_import"),
    ("account.", "audit.family_accounts"),
    ("session.", "audit.family_sessions"),
    ("note.", "audit.family_notes"),
    ("denied:", "audit.family_denied"),
];

pub(crate) async fn audit_page(
    State(state): State<AppState>,
    viewer: Viewer,
    PageQuery(query): PageQuery<AuditPageQuery>,
) -> PageResult {
    viewer.require_sign_in()?;
    let app = &state.app;
    let texts = viewer.texts;
    let non_empty = |value: &Option<String>| value.clone().filter(|v| !v.trim().is_empty());
    let under = non_empty(&query.under);
    let action = non_empty(&query.action);
    let actor = non_empty(&query.actor);
    let entries = app
        .audit(
            &viewer.ctx,
            AuditQuery {
                under: under.clone(),
                action: action.clone(),
                actor: actor.clone(),
                limit: Some(100),
                cursor: non_empty(&query.cursor),
            },
        )
        .await
        .or_page(&viewer)?;
    let under_unit = match &under {
        Some(id) => Some(app.unit(&viewer.ctx, id).await.or_page(&viewer)?),
        None => None,
    };
    // Name the units of this page's entries (those still standing).
    let unit_ids: Vec<UnitId> = entries
        .items
        .iter()
        .filter_map(|entry| entry.unit.as_deref()?.parse().ok())
        .collect();
    let names: HashMap<String, (String, String)> = app
        .summaries(&viewer.ctx, &unit_ids)
        .await
        .or_page(&viewer)?
        .into_iter()
        .map(|s| (s.unit.id.clone(), (s.unit.name, s.unit.code)))
        .collect();
    let chain = if viewer.ctx.principal.admin {
        Some(app.verify_audit(&viewer.ctx).await.or_page(&viewer)?)
    } else {
        None
    };
    let next_page = entries.next_cursor.as_ref().map(|cursor| {
        let mut link = form_urlencoded::Serializer::new(String::new());
        for (key, value) in [("under", &under), ("action", &action), ("actor", &actor)] {
            if let Some(value) = value {
                link.append_pair(key, value);
            }
        }
        link.append_pair("cursor", cursor);
        format!("/audit?{}", link.finish())
    });
    let title = match &under_unit {
        Some(unit) => texts.f("audit.title_under", &[("name", &unit.name)]),
        None => texts.t("audit.title").to_owned(),
    };
    let body = html! {
        h1 { (title) }
        section class="chain" aria-labelledby="chain-heading" {
            h2 id="chain-heading" class="visually-hidden" { (texts.t("audit.chain")) }
            @match &chain {
                Some(status) if status.intact => {
                    p class="ok" data-chain="intact" {
                        strong { (texts.t("audit.chain_intact")) } " "
                        (texts.f("audit.chain_entries", &[("count", &texts.number(status.entries))]))
                        " " code title=(texts.t("audit.chain_head")) { (status.head.get(..16).unwrap_or(&status.head)) }
                    }
                }
                Some(status) => {
                    p class="error" role="alert" data-chain="broken" {
                        strong { (texts.t("audit.chain_broken")) } " "
                        (texts.f("audit.chain_first_broken", &[("seq", &status.first_broken.unwrap_or_default())]))
                        " " (status.reason.as_deref().unwrap_or_default())
                    }
                }
                None => {
                    p class="note" { (texts.t("audit.chain_admin_only")) }
                }
            }
        }
        form method="get" action="/audit" class="filters" {
            @if let Some(under) = &under { input type="hidden" name="under" value=(under); }
            label for="action" { (texts.t("audit.action")) }
            select id="action" name="action" {
                option value="" { (texts.t("audit.any_action")) }
                @for (prefix, key) in ACTION_FAMILIES {
                    option value=(prefix) selected[action.as_deref() == Some(*prefix)] { (texts.t(key)) }
                }
            }
            label for="actor" { (texts.t("audit.actor")) }
            input id="actor" name="actor" type="text" value=(actor.as_deref().unwrap_or_default())
                placeholder="account:7";
            button type="submit" { (texts.t("audit.filter")) }
            @if under.is_some() {
                a href="/audit" { (texts.t("audit.everywhere")) }
            }
        }
        @if entries.items.is_empty() {
            p class="empty" { (texts.t("audit.empty")) }
        } @else {
            table class="audit" {
                thead { tr {
                    th class="number" { "#" } th { (texts.t("audit.at")) } th { (texts.t("audit.actor")) }
                    th { (texts.t("audit.action")) } th { (texts.t("audit.object")) } th { (texts.t("audit.unit")) }
                } }
                tbody {
                    @for entry in &entries.items {
                        tr class=[entry.action.starts_with("denied:").then_some("denied")] {
                            td class="number" { (entry.seq) }
                            td { time datetime=(entry.at) { (short_time(&entry.at)) } }
                            td { (entry.actor) }
                            td { code { (entry.action) } }
                            td { (entry.object) }
                            td {
                                @if let Some(unit) = &entry.unit {
                                    @match names.get(unit) {
                                        Some((name, code)) => a href={ "/units/" (unit) } title=(code) { (name) },
                                        None => (texts.f("audit.removed_unit", &[("id", unit)])),
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if let Some(next) = &next_page {
                p { a href=(next) { (texts.t("audit.older")) } }
            }
        }
    };
    Ok(page(&viewer, StatusCode::OK, &title, "/audit", body))
}
