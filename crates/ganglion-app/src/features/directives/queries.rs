//! Reading directives: a directive, its roll-up at any unit, the units that lag, its
//! progress day by day, the directives a unit issued and the plans made under one.

use ganglion_core::tracking::{Tally, MAX_STATES};
use ganglion_core::{Action, Resource, UnitId};
use ganglion_store::DirectiveRow;

use super::views::{
    AtQuery, ChildRollup, DirectiveSummary, DirectiveView, Laggard, LaggingGroup, MetricSum,
    Rollup, Series, SeriesDay, StateCounts,
};
use super::Directives;
use crate::page::{checked_limit, decode_number_cursor, encode_cursor, Page};
use crate::tracking::counts::subtree_tally;
use crate::tracking::{Source, SourceKey};
use crate::{clock, AppError, Ctx};

/// Where a list of directives a unit issued starts and how long it is.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DirectiveListQuery {
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

fn metric_sum(source: &Source, tally: &Tally) -> Option<MetricSum> {
    let spec = source.metrics.first()?;
    Some(MetricSum {
        sum: tally.metric().sum,
        target: spec.target_per_unit.unwrap_or(0.0) * f64::from(tally.total()),
    })
}

impl Directives<'_> {
    pub async fn get(&self, ctx: &Ctx, id: &str) -> Result<DirectiveView, AppError> {
        Ok(DirectiveView::of(&self.visible(ctx, id).await?))
    }

    /// Where a roll-up is taken: the unit asked for, or by default the top of the
    /// target if the caller sees it, else the caller's highest unit that received it.
    pub(crate) async fn rollup_unit(
        &self,
        ctx: &Ctx,
        row: &DirectiveRow,
        at: Option<&str>,
    ) -> Result<UnitId, AppError> {
        let app = self.app;
        if let Some(at) = at {
            let unit = app.readable_unit(ctx, at, "at").await?;
            return Ok(unit.id);
        }
        let under = row.target_under();
        if app.allowed(ctx, Action::Read, Resource::Unit(under)) {
            return Ok(under);
        }
        let tree = app.tree();
        ctx.principal
            .authority_units()
            .chain(ctx.principal.member_units())
            .filter(|unit| tree.is_within(*unit, under))
            .min_by_key(|unit| tree.depth(*unit))
            .ok_or(AppError::NotFound { what: "directive" })
    }

    /// A directive's progress over a unit's subtree and each child's, from memory.
    pub async fn rollup(&self, ctx: &Ctx, id: &str, at: Option<&str>) -> Result<Rollup, AppError> {
        let row = self.visible(ctx, id).await?;
        let unit = self.rollup_unit(ctx, &row, at).await?;
        self.rollup_of(&row, unit).await
    }

    /// The roll-up of a directive the caller may see, at a unit they may see.
    pub(crate) async fn rollup_of(
        &self,
        row: &DirectiveRow,
        unit: UnitId,
    ) -> Result<Rollup, AppError> {
        let now = self.app.now_seconds();
        let key = SourceKey::of_directive(row);
        let directive = row.id.to_string();
        let kind = row.kind.as_str().to_owned();
        self.app
            .with_source(&key, move |tree, source| {
                let workflow = source.workflow();
                let (total, children) = subtree_tally(tree, source, unit, now)
                    .unwrap_or_else(|| (Tally::with_metrics(source.metrics.len()), Vec::new()));
                Rollup {
                    directive,
                    kind,
                    unit: unit.to_string(),
                    total: total.total(),
                    states: StateCounts::of(workflow, &total),
                    done: total.done,
                    late: total.late,
                    on_time: total.on_time(),
                    overdue: total.overdue,
                    metric: metric_sum(source, &total),
                    children: children
                        .iter()
                        .map(|(child, tally)| ChildRollup {
                            unit: child.to_string(),
                            name: tree.name(*child).to_owned(),
                            code: tree.code(*child).to_owned(),
                            total: tally.total(),
                            states: StateCounts::of(workflow, tally),
                            done: tally.done,
                            overdue: tally.overdue,
                            metric: metric_sum(source, tally),
                        })
                        .collect(),
                }
            })
            .await
    }

    /// For each unit asked, how many of the directive's items under it are done, and
    /// how many there are: what a picture of the tree is coloured by.
    pub async fn done_under(
        &self,
        ctx: &Ctx,
        id: &str,
        units: Vec<UnitId>,
    ) -> Result<std::collections::HashMap<UnitId, (u32, u32)>, AppError> {
        let row = self.visible(ctx, id).await?;
        let key = SourceKey::of_directive(&row);
        self.app
            .with_source(&key, move |tree, source| {
                units
                    .into_iter()
                    .filter_map(|unit| {
                        let tally = source.columns.tally(tree.subtree(unit)?, i64::MIN);
                        Some((unit, (tally.done, tally.total())))
                    })
                    .collect()
            })
            .await
    }

    /// Counts a directive over one unit's subtree, and over each child's, from memory;
    /// `None` if it is not in memory. For measuring the read model itself.
    pub fn tally_at(&self, directive: &str, unit: UnitId) -> Option<(Tally, Vec<(UnitId, Tally)>)> {
        let model = self.app.model();
        let id: i64 = directive.parse().ok()?;
        let source = model
            .sources()
            .find(|source| source.key.kind.is_directive_kind() && source.key.source == id)?;
        subtree_tally(&model.tree, source, unit, self.app.now_seconds())
    }

    /// The units that lag most, a page at a time: not started first, then blocked, then
    /// by how far the work is from done, lowest metric first.
    pub async fn laggards(
        &self,
        ctx: &Ctx,
        id: &str,
        query: AtQuery,
    ) -> Result<Page<Laggard>, AppError> {
        let row = self.visible(ctx, id).await?;
        let unit = self.rollup_unit(ctx, &row, query.at.as_deref()).await?;
        let limit = checked_limit(query.limit)? as usize;
        let offset = decode_number_cursor::<usize>(query.cursor.as_deref())?.unwrap_or(0);
        let now = self.app.now_seconds();
        let key = SourceKey::of_directive(&row);
        self.app
            .with_source(&key, move |tree, source| {
                let workflow = source.workflow();
                let counts_overdue = source.counts_overdue();
                let Some(range) = tree.subtree(unit) else {
                    return Page {
                        items: Vec::new(),
                        next_cursor: None,
                    };
                };
                let blocked = workflow.state("blocked");
                let rank = |state: u8| {
                    if state == workflow.initial {
                        0
                    } else if Some(state) == blocked {
                        1
                    } else {
                        2 + state
                    }
                };
                type Lag<'c> = (u8, f64, u32, ganglion_core::tracking::EntryRef<'c>);
                let mut lagging: Vec<Lag<'_>> = source
                    .columns
                    .entries(range)
                    .filter(|entry| !entry.is_done())
                    .map(|entry| {
                        let metric = entry.metric(0);
                        let metric = if metric.is_nan() { 0.0 } else { metric };
                        (rank(entry.state()), metric, entry.position(), entry)
                    })
                    .collect();
                let order = |a: &Lag<'_>, b: &Lag<'_>| {
                    a.0.cmp(&b.0)
                        .then(a.1.total_cmp(&b.1))
                        .then(a.2.cmp(&b.2))
                        .then(a.3.item().cmp(&b.3.item()))
                };
                let more = lagging.len() > offset + limit;
                // Only the pages up to this one need an order: select them, then sort.
                let wanted = (offset + limit).min(lagging.len());
                if wanted > 0 && wanted < lagging.len() {
                    lagging.select_nth_unstable_by(wanted - 1, order);
                    lagging.truncate(wanted);
                }
                lagging.sort_by(order);
                let has_metric = !source.metrics.is_empty();
                let items = lagging
                    .iter()
                    .skip(offset)
                    .take(limit)
                    .map(|(_, _, _, entry)| {
                        let unit = entry.unit();
                        let value = entry.metric(0);
                        Laggard {
                            unit: unit.to_string(),
                            name: tree.name(unit).to_owned(),
                            code: tree.code(unit).to_owned(),
                            assignment: entry.item().to_string(),
                            state: workflow.name(entry.state()).to_owned(),
                            overdue: counts_overdue && entry.is_overdue(now),
                            metric_value: has_metric.then_some(if value.is_nan() {
                                0.0
                            } else {
                                value
                            }),
                        }
                    })
                    .collect();
                let next_cursor = more.then(|| encode_cursor(&(offset + limit).to_string()));
                Page { items, next_cursor }
            })
            .await
    }

    /// The units `levels_down` levels below `at` (1: its children) that lag most on the
    /// directive, grouped: each with the items of its whole subtree, ranked by the share
    /// not done, then the number overdue, then the shortfall against the metric's target
    /// (units with nothing left to do are left out). From memory: one tally per group.
    pub async fn lagging_groups(
        &self,
        ctx: &Ctx,
        id: &str,
        at: Option<&str>,
        levels_down: u16,
        limit: usize,
    ) -> Result<Vec<LaggingGroup>, AppError> {
        if !(1..=8).contains(&levels_down) {
            return Err(AppError::invalid(
                crate::ErrorCode::InvalidValue,
                "level",
                "the level is 1 to 8 below the unit",
            ));
        }
        let row = self.visible(ctx, id).await?;
        let unit = self.rollup_unit(ctx, &row, at).await?;
        let now = self.app.now_seconds();
        let key = SourceKey::of_directive(&row);
        self.app
            .with_source(&key, move |tree, source| {
                let mut level = vec![unit];
                for _ in 0..levels_down {
                    level = level
                        .iter()
                        .flat_map(|parent| tree.children(*parent))
                        .collect();
                }
                let mut groups: Vec<LaggingGroup> = level
                    .into_iter()
                    .filter_map(|group| {
                        let tally = source.columns.tally(tree.subtree(group)?, now);
                        let total = tally.total();
                        (total > tally.done).then(|| LaggingGroup {
                            unit: group.to_string(),
                            name: tree.name(group).to_owned(),
                            code: tree.code(group).to_owned(),
                            total,
                            done: tally.done,
                            overdue: tally.overdue,
                            not_done_share: f64::from(total - tally.done) / f64::from(total),
                            shortfall: metric_sum(source, &tally)
                                .map(|metric| (metric.target - metric.sum).max(0.0)),
                        })
                    })
                    .collect();
                groups.sort_by(|a, b| {
                    b.not_done_share
                        .total_cmp(&a.not_done_share)
                        .then(b.overdue.cmp(&a.overdue))
                        .then(
                            b.shortfall
                                .unwrap_or(0.0)
                                .total_cmp(&a.shortfall.unwrap_or(0.0)),
                        )
                        .then(a.code.cmp(&b.code))
                });
                groups.truncate(limit);
                groups
            })
            .await
    }

    /// The counts per state at the end of each day since the directive was issued.
    pub async fn series(&self, ctx: &Ctx, id: &str, at: Option<&str>) -> Result<Series, AppError> {
        let app = self.app;
        let row = self.visible(ctx, id).await?;
        let unit = self.rollup_unit(ctx, &row, at).await?;
        let range = app
            .store
            .unit(unit)
            .await?
            .ok_or(AppError::NotFound { what: "unit" })?
            .subtree_range();
        let key = SourceKey::of_directive(&row);
        let total = app
            .with_source(&key, move |tree, source| {
                tree.subtree(unit)
                    .map_or(0, |range| source.columns.count_in(range) as i64)
            })
            .await?;
        let workflow = row.kind.workflow();
        let Some(issued) = row
            .issued_at
            .as_deref()
            .and_then(clock::parse_time)
            .map(|at| at.date())
        else {
            return Ok(Series {
                directive: row.id.to_string(),
                unit: unit.to_string(),
                days: Vec::new(),
            });
        };
        let moves = app.store.daily_moves(key.as_ref(), &range).await?;
        let mut counts = [0i64; MAX_STATES];
        counts[workflow.initial as usize] = total;
        let mut days = Vec::new();
        let end = row
            .ended_at
            .as_deref()
            .and_then(clock::parse_time)
            .map(|at| at.date())
            .unwrap_or_else(|| app.today());
        let mut moves = moves.into_iter().peekable();
        let mut day = Some(issued);
        while let Some(date) = day.filter(|d| *d <= end) {
            while let Some((_, from, to, count)) = moves.next_if(|(d, ..)| *d <= date) {
                counts[from as usize] -= count as i64;
                counts[to as usize] += count as i64;
            }
            let mut tally = Tally::default();
            for (slot, count) in tally.states.iter_mut().zip(counts) {
                *slot = count.max(0) as u32;
            }
            days.push(SeriesDay {
                date: clock::format_date(date),
                states: StateCounts::of(workflow, &tally),
            });
            day = date.next_day();
        }
        Ok(Series {
            directive: row.id.to_string(),
            unit: unit.to_string(),
            days,
        })
    }

    /// How a directive stands over its whole target, for a line in a list.
    pub(crate) async fn summary(&self, row: &DirectiveRow) -> Result<DirectiveSummary, AppError> {
        let app = self.app;
        let issuer_name = app.tree().name(row.issuer).to_owned();
        let (done, overdue) = if row.state.was_issued() {
            let now = app.now_seconds();
            let key = SourceKey::of_directive(row);
            let under = row.target_under();
            app.with_source(&key, move |tree, source| {
                let now = if source.counts_overdue() {
                    now
                } else {
                    i64::MIN
                };
                tree.subtree(under).map_or((0, 0), |range| {
                    let tally = source.columns.tally(range, now);
                    (tally.done, tally.overdue)
                })
            })
            .await?
        } else {
            (0, 0)
        };
        Ok(DirectiveSummary {
            id: row.id.to_string(),
            kind: row.kind.as_str().to_owned(),
            title: row.title.clone(),
            issuer: row.issuer.to_string(),
            issuer_name,
            state: row.state.as_str().to_owned(),
            due: clock::format_date(row.due),
            assignments: row.assignment_count,
            done,
            overdue,
        })
    }

    /// The directives a unit issued, newest first, with how far each has come.
    pub async fn issued_by(
        &self,
        ctx: &Ctx,
        unit: &str,
        query: DirectiveListQuery,
    ) -> Result<Page<DirectiveSummary>, AppError> {
        let unit = self.app.readable_unit(ctx, unit, "id").await?;
        let limit = checked_limit(query.limit)?;
        let before = decode_number_cursor::<ganglion_core::DirectiveId>(query.cursor.as_deref())?;
        let mut rows = self
            .app
            .store
            .directives_issued_by(unit.id, before, limit + 1)
            .await?;
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let next_cursor = if more {
            rows.last().map(|row| encode_cursor(&row.id.to_string()))
        } else {
            None
        };
        let mut items = Vec::with_capacity(rows.len());
        for row in &rows {
            items.push(self.summary(row).await?);
        }
        Ok(Page { items, next_cursor })
    }

    /// The plans units made under a directive (its child directives) that the caller
    /// may see, with how far each has come.
    pub async fn plans(&self, ctx: &Ctx, id: &str) -> Result<Vec<DirectiveSummary>, AppError> {
        let row = self.visible(ctx, id).await?;
        let mut plans = Vec::new();
        for child in self.app.store.child_directives(row.id).await? {
            let seen = self
                .app
                .allowed(ctx, Action::Read, Resource::Unit(child.issuer))
                || self.visible(ctx, &child.id.to_string()).await.is_ok();
            if seen {
                plans.push(self.summary(&child).await?);
            }
        }
        Ok(plans)
    }
}
