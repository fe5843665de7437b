//! Grasp and control: everything overdue under a unit, of every kind that is tracked,
//! by child and most overdue first — the first thing a secretary of a higher unit sees.
//! Counted from the read model over every live source at once.

use std::collections::HashMap;

use ganglion_core::tracking::Kind;
use ganglion_core::DirectiveId;
use serde::{Deserialize, Serialize};

use crate::page::{checked_limit, decode_number_cursor, encode_cursor};
use crate::tracking::counts::{overdue_under, Overdue};
use crate::tracking::Source;
use crate::{clock, App, AppError, Ctx};

/// How many things are overdue, by what they are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AttentionCounts {
    /// Assignments of directives.
    pub assignment: u32,
    pub report: u32,
    pub request: u32,
    pub project: u32,
    pub pledge: u32,
    pub invitation: u32,
}

impl AttentionCounts {
    fn of(counts: &[(Kind, u32)]) -> Self {
        let mut out = Self::default();
        for (kind, count) in counts {
            let slot = match kind {
                Kind::Directive => &mut out.assignment,
                Kind::Report => &mut out.report,
                Kind::Request => &mut out.request,
                Kind::Project => &mut out.project,
                Kind::Pledge => &mut out.pledge,
                Kind::Invitation => &mut out.invitation,
            };
            *slot += count;
        }
        out
    }

    pub fn total(&self) -> u32 {
        self.assignment + self.report + self.request + self.project + self.pledge + self.invitation
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AttentionChild {
    pub unit: String,
    pub name: String,
    pub code: String,
    pub counts: AttentionCounts,
}

/// One overdue thing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AttentionItem {
    /// What it counts as: `assignment`, `project`, `pledge`, `report`, `request`, `invitation`.
    pub kind: String,
    /// The item's id (for an assignment, a project or a pledge, the assignment's).
    pub id: String,
    /// The directive (or form, event …) it belongs to.
    pub source: String,
    pub unit: String,
    pub unit_name: String,
    pub unit_code: String,
    pub title: String,
    pub due: String,
    pub days_overdue: u32,
}

/// Everything overdue under a unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Attention {
    pub unit: String,
    pub counts: AttentionCounts,
    pub children: Vec<AttentionChild>,
    pub items: Vec<AttentionItem>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AttentionQuery {
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

const SECONDS_A_DAY: i64 = 86_400;

impl App {
    /// Everything overdue under `unit` that the caller may see.
    pub async fn attention(
        &self,
        ctx: &Ctx,
        unit: &str,
        query: AttentionQuery,
    ) -> Result<Attention, AppError> {
        let unit = self.readable_unit(ctx, unit, "id").await?.id;
        let limit = checked_limit(query.limit)? as usize;
        let offset = decode_number_cursor::<usize>(query.cursor.as_deref())?.unwrap_or(0);
        let now = self.now_seconds();
        // Open sources left out of memory are read from the store for this answer.
        let evicted: Vec<_> = self.model().evicted_open.iter().cloned().collect();
        let mut read: Vec<Source> = Vec::new();
        for key in evicted {
            read.push(self.read_source(&key).await?);
        }
        let (overdue, titles, labels): (Overdue, HashMap<i64, String>, HashMap<_, _>) = {
            let model = self.model();
            let overdue = overdue_under(
                &model.tree,
                model.sources().chain(read.iter()),
                unit,
                now,
                offset + limit,
            );
            let titles = model
                .sources()
                .chain(read.iter())
                .filter_map(|s| Some((s.key.source, s.directive.as_ref()?.title.clone())))
                .collect();
            let labels: HashMap<_, _> = overdue
                .first
                .iter()
                .map(|item| item.unit)
                .chain(overdue.by_child.iter().map(|(child, _)| *child))
                .map(|unit| {
                    (
                        unit,
                        (
                            model.tree.name(unit).to_owned(),
                            model.tree.code(unit).to_owned(),
                        ),
                    )
                })
                .collect();
            (overdue, titles, labels)
        };
        let label = |unit| labels.get(&unit).cloned().unwrap_or_default();
        let more = overdue.total as usize > offset + limit;
        let page: Vec<_> = overdue.first.iter().skip(offset).take(limit).collect();
        let project_ids: Vec<_> = page
            .iter()
            .filter(|item| item.kind == Kind::Project)
            .map(|item| item.item)
            .collect();
        let projects = self.store.projects_of_items(&project_ids).await?;
        let mut items = Vec::new();
        for item in page {
            let (unit_name, unit_code) = label(item.unit);
            let title = match projects.get(&item.item) {
                Some(project) => project.title.clone(),
                None => titles.get(&item.source).cloned().unwrap_or_default(),
            };
            let due_day = time::OffsetDateTime::from_unix_timestamp(item.deadline - 1)
                .map(|at| clock::format_date(at.date()))
                .unwrap_or_default();
            items.push(AttentionItem {
                kind: item.kind.attention_name().to_owned(),
                id: item.item.to_string(),
                source: DirectiveId::new(item.source).map_or_else(String::new, |d| d.to_string()),
                unit: item.unit.to_string(),
                unit_name,
                unit_code,
                title,
                due: due_day,
                days_overdue: ((now - item.deadline) / SECONDS_A_DAY + 1).max(1) as u32,
            });
        }
        let mut children: Vec<AttentionChild> = overdue
            .by_child
            .iter()
            .map(|(child, counts)| {
                let (name, code) = label(*child);
                AttentionChild {
                    unit: child.to_string(),
                    name,
                    code,
                    counts: AttentionCounts::of(counts),
                }
            })
            .collect();
        // The children with the most overdue first.
        children.sort_by_key(|child| std::cmp::Reverse(child.counts.total()));
        Ok(Attention {
            unit: unit.to_string(),
            counts: AttentionCounts::of(&overdue.by_kind),
            children,
            items,
            next_cursor: more.then(|| encode_cursor(&(offset + limit).to_string())),
        })
    }
}
