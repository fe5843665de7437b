//! A picture of the organization: a sunburst of a unit's subtree, each ring a level,
//! each segment's angle the number of units it stands for. Drawn on the server as SVG
//! (no script, printable, readable by screen readers through each segment's title);
//! clicking a segment draws the picture again from that unit, the centre goes back up.
//!
//! How a segment is coloured is a [`Colouring`]: today by branch, so that one province's
//! units share a hue; a directive's progress is another colouring of the same picture.

use std::f64::consts::PI;
use std::fmt::Write;

use axum::extract::State;
use axum::http::StatusCode;
use ganglion_app::OutlineNode;
use maud::{html, Markup, PreEscaped};
use serde::Deserialize;

use super::forms::{PageQuery, Viewer};
use super::i18n::Texts;
use super::shell::{page, OrPage};
use super::view::{breadcrumbs, kind_label};
use super::PageResult;
use crate::AppState;

/// Half the picture's width, in SVG units.
const RADIUS: f64 = 300.0;
/// The radius of the centre disc (the unit the picture is drawn from).
const CENTRE: f64 = 64.0;
/// Children narrower than this share of the whole are not drawn on their own.
const MIN_SHARE: f64 = 1.0 / 360.0;

#[derive(Deserialize, Default)]
pub(crate) struct PictureQuery {
    at: Option<String>,
    depth: Option<u32>,
}

/// Decides the fill of each segment.
pub(crate) trait Colouring {
    /// `branch` is the index of the centre's child the node descends from, `level` its
    /// ring (1 for the centre's children).
    fn fill(&self, node: &OutlineNode, branch: usize, level: u32) -> String;
}

/// One hue per branch under the centre, lighter further out.
pub(crate) struct ByBranch;

impl Colouring for ByBranch {
    fn fill(&self, _node: &OutlineNode, branch: usize, level: u32) -> String {
        // The golden angle spreads neighbouring branches far apart on the colour wheel.
        let hue = (branch as f64 * 137.508) % 360.0;
        let lightness = (38 + level * 9).min(82);
        format!("hsl({hue:.0}, 55%, {lightness}%)")
    }
}

pub(crate) async fn picture(
    State(state): State<AppState>,
    viewer: Viewer,
    PageQuery(query): PageQuery<PictureQuery>,
) -> PageResult {
    viewer.require_sign_in()?;
    let app = &state.app;
    let texts = viewer.texts;
    let at = match query.at.filter(|at| !at.is_empty()) {
        Some(at) => Some(at),
        None => app
            .entry_units(&viewer.ctx)
            .await
            .or_page(&viewer)?
            .first()
            .map(|entry| entry.unit.id.clone()),
    };
    let Some(at) = at else {
        let body = html! {
            h1 { (texts.t("picture.title")) }
            p class="empty" { (texts.t("org.empty_tree")) }
        };
        return Ok(page(
            &viewer,
            StatusCode::OK,
            texts.t("picture.title"),
            "/org/picture",
            body,
        ));
    };
    let depth = query.depth.unwrap_or(3).clamp(1, 5);
    let outline = app
        .outline(&viewer.ctx, &at, depth, MIN_SHARE)
        .await
        .or_page(&viewer)?;
    let ancestors = app.ancestors(&viewer.ctx, &at).await.or_page(&viewer)?;
    let segment = |id: &str| format!("/org/picture?at={id}&depth={depth}");
    let links = match ancestors.last() {
        Some(parent) => Links {
            segment: &segment,
            centre: format!("/org/picture?at={}&depth={depth}", parent.id),
            centre_title: texts.t("picture.up").to_owned(),
        },
        None => Links {
            segment: &segment,
            centre: format!("/units/{}", outline.id),
            centre_title: outline.name.clone(),
        },
    };
    let svg = sunburst(texts, &outline, depth, &links, &ByBranch);
    let title = texts.f("picture.title_of", &[("name", &outline.name)]);
    let total = f64::from(outline.subtree_units.max(1));
    let body = html! {
        (breadcrumbs(texts, &ancestors, &outline.name))
        h1 { (title) }
        p class="lead" { (texts.f("picture.lead", &[("count", &texts.number(outline.subtree_units.into()))])) }
        form method="get" action="/org/picture" class="filters" {
            input type="hidden" name="at" value=(outline.id);
            label for="depth" { (texts.t("picture.depth")) }
            select id="depth" name="depth" data-autosubmit {
                @for levels in 1..=5u32 {
                    option value=(levels) selected[levels == depth] { (levels) }
                }
            }
            button type="submit" class="js-hidden" { (texts.t("picture.redraw")) }
        }
        div class="picture" {
            figure {
                (svg)
                figcaption { (texts.t("picture.caption")) }
            }
            table class="legend" {
                caption { (texts.t("picture.legend")) }
                thead { tr {
                    th { (texts.t("unit.name")) } th { (texts.t("unit.kind")) }
                    th class="number" { (texts.t("unit.subtree")) } th class="number" { "%" }
                } }
                tbody {
                    @for (branch, child) in outline.children.iter().enumerate() {
                        tr {
                            td {
                                span class="swatch" {
                                    (PreEscaped(swatch(&ByBranch.fill(child, branch, 1))))
                                }
                                a href={ "/org/picture?at=" (child.id) "&depth=" (depth) } { (child.name) }
                            }
                            td { (kind_label(texts, app.template(), &child.kind)) }
                            td class="number" { (texts.number(child.subtree_units.into())) }
                            td class="number" { (format!("{:.1}", 100.0 * f64::from(child.subtree_units) / total)) }
                        }
                    }
                    @if outline.omitted_units > 0 {
                        tr {
                            td colspan="2" { (texts.t("picture.small_units")) }
                            td class="number" { (texts.number(outline.omitted_units.into())) }
                            td class="number" { (format!("{:.1}", 100.0 * f64::from(outline.omitted_units) / total)) }
                        }
                    }
                }
            }
        }
        p { a href={ "/units/" (outline.id) } { (texts.f("picture.open_unit", &[("name", &outline.name)])) } }
    };
    Ok(page(&viewer, StatusCode::OK, &title, "/org/picture", body))
}

/// A small square of a colour, drawn as SVG so that no inline style is needed.
fn swatch(fill: &str) -> String {
    format!(
        r#"<svg width="12" height="12" aria-hidden="true"><rect width="12" height="12" fill="{fill}"/></svg>"#
    )
}

/// The SVG of the sunburst of `outline`, `levels` rings deep.
pub(crate) fn sunburst(
    texts: &Texts,
    outline: &OutlineNode,
    levels: u32,
    links: &Links<'_>,
    colouring: &dyn Colouring,
) -> Markup {
    let ring = (RADIUS - CENTRE) / f64::from(levels.max(1));
    let mut segments = String::new();
    let total = f64::from(outline.subtree_units.max(1));
    // The centre's own share (itself and what is too small to draw) is left blank.
    let mut start = 0.0;
    for (branch, child) in outline.children.iter().enumerate() {
        let sweep = 2.0 * PI * f64::from(child.subtree_units) / total;
        draw(
            &mut segments,
            texts,
            child,
            Arc {
                start,
                sweep,
                level: 1,
                branch,
            },
            ring,
            links,
            colouring,
        );
        start += sweep;
    }
    let (centre_href, centre_title) = (&links.centre, &links.centre_title);
    html! {
        svg class="sunburst" viewBox={ "-" (RADIUS) " -" (RADIUS) " " (2.0 * RADIUS) " " (2.0 * RADIUS) }
            role="img" aria-label=(texts.f("picture.aria", &[("name", &outline.name)])) {
            a href=(centre_href) class="centre" {
                circle r=(CENTRE - 2.0) fill="#f4f1ea" stroke="#8a8170" {}
                title { (centre_title) }
                text text-anchor="middle" dy="0.35em" { (short_name(&outline.name)) }
            }
            (PreEscaped(segments))
        }
    }
}

/// Where the picture's shapes lead: each segment, and the centre.
pub(crate) struct Links<'a> {
    pub segment: &'a dyn Fn(&str) -> String,
    pub centre: String,
    pub centre_title: String,
}

struct Arc {
    start: f64,
    sweep: f64,
    level: u32,
    branch: usize,
}

fn draw(
    out: &mut String,
    texts: &Texts,
    node: &OutlineNode,
    arc: Arc,
    ring: f64,
    links: &Links<'_>,
    colouring: &dyn Colouring,
) {
    let levels = ((RADIUS - CENTRE) / ring).round() as u32;
    if arc.level > levels || arc.sweep <= 0.0 {
        return;
    }
    let inner = CENTRE + ring * f64::from(arc.level - 1);
    let outer = inner + ring - 1.0;
    let fill = colouring.fill(node, arc.branch, arc.level);
    let label = texts.f(
        "picture.segment",
        &[
            ("name", &node.name),
            ("count", &texts.number(node.subtree_units.into())),
        ],
    );
    let _ = write!(
        out,
        r#"<a href="{href}" data-unit="{id}"><path d="{d}" fill="{fill}" stroke="white" stroke-width="0.5"><title>{title}</title></path></a>"#,
        href = maud::html! { ((links.segment)(&node.id)) }.into_string(),
        id = node.id,
        d = annulus_sector(inner, outer, arc.start, arc.sweep),
        title = maud::html! { (label) }.into_string(),
    );
    let total = f64::from(node.subtree_units.max(1));
    let mut start = arc.start;
    for child in &node.children {
        let sweep = arc.sweep * f64::from(child.subtree_units) / total;
        draw(
            out,
            texts,
            child,
            Arc {
                start,
                sweep,
                level: arc.level + 1,
                branch: arc.branch,
            },
            ring,
            links,
            colouring,
        );
        start += sweep;
    }
}

/// The path of a ring segment between two radii, from angle `start` through `sweep`
/// (radians, clockwise from the top). A full turn is drawn as two halves, since one arc
/// cannot end where it starts.
fn annulus_sector(inner: f64, outer: f64, start: f64, sweep: f64) -> String {
    if sweep >= 2.0 * PI - 1e-9 {
        return format!(
            "{} {}",
            annulus_sector(inner, outer, start, PI),
            annulus_sector(inner, outer, start + PI, PI)
        );
    }
    let point = |radius: f64, angle: f64| (radius * angle.sin(), -radius * angle.cos());
    let end = start + sweep;
    let large = if sweep > PI { 1 } else { 0 };
    let (x0, y0) = point(outer, start);
    let (x1, y1) = point(outer, end);
    let (x2, y2) = point(inner, end);
    let (x3, y3) = point(inner, start);
    format!(
        "M{x0:.2},{y0:.2}A{outer:.2},{outer:.2} 0 {large} 1 {x1:.2},{y1:.2}L{x2:.2},{y2:.2}A{inner:.2},{inner:.2} 0 {large} 0 {x3:.2},{y3:.2}Z"
    )
}

fn short_name(name: &str) -> String {
    let mut chars = name.chars();
    let short: String = chars.by_ref().take(14).collect();
    if chars.next().is_some() {
        format!("{short}…")
    } else {
        short
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str, size: u32, children: Vec<OutlineNode>) -> OutlineNode {
        OutlineNode {
            id: id.into(),
            name: format!("unit {id}"),
            code: id.into(),
            kind: "primary".into(),
            subtree_units: size,
            children,
            omitted_units: 0,
        }
    }

    #[test]
    fn every_drawn_unit_is_a_link_to_its_own_picture() {
        let outline = node(
            "1",
            7,
            vec![
                node("2", 4, vec![node("4", 3, vec![])]),
                node("3", 2, vec![]),
            ],
        );
        let segment = |id: &str| format!("/org/picture?at={id}");
        let links = Links {
            segment: &segment,
            centre: "/units/1".into(),
            centre_title: "unit 1".into(),
        };
        let svg = sunburst(Texts::of("en"), &outline, 3, &links, &ByBranch).into_string();
        for id in ["2", "3", "4"] {
            assert!(svg.contains(&format!("data-unit=\"{id}\"")), "{id} drawn");
        }
        assert_eq!(svg.matches("<path").count(), 3);
        assert!(
            svg.contains("href=\"/units/1\""),
            "the centre opens the unit"
        );
    }

    #[test]
    fn a_segment_spans_its_share_of_the_circle() {
        // A quarter turn from the top ends on the right, at (outer, 0).
        let path = annulus_sector(10.0, 20.0, 0.0, PI / 2.0);
        assert!(
            path.starts_with("M0.00,-20.00A20.00,20.00 0 0 1 20.00,"),
            "{path}"
        );
        // A full turn is two half arcs.
        assert_eq!(
            annulus_sector(10.0, 20.0, 0.0, 2.0 * PI)
                .matches('M')
                .count(),
            2
        );
    }
}
