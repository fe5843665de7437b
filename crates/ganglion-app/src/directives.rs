//! Decisions down, results up: directives, their conveyance to every targeted unit,
//! guidance added on the way, assignments worked through their states, and roll-ups
//! at any unit counted from the read model.

use crate::ErrorCode;
use std::collections::HashMap;

use ganglion_core::{Action, AssignmentState, DirectiveColumns, Resource, Tally, UnitId};
use ganglion_store::{DirectiveDraft, DirectiveRow, TargetFilter};
use serde::{Deserialize, Serialize};

use crate::page::{checked_limit, decode_number_cursor, encode_cursor, Page};
use crate::readmodel::{columns_from, LiveDirective};
use crate::units::{parse_unit_id, unknown_reference};
use crate::{clock, App, AppError, Audit, Ctx, GuidanceView};

/// What a directive reaches: a subtree of the issuer, narrowed by kinds and tags.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// The top of the targeted subtree; the issuer when left out.
    pub under: Option<String>,
    /// Only units of these kinds (any kind when empty).
    #[serde(default)]
    pub kinds: Vec<String>,
    /// Only units carrying every one of these tags.
    #[serde(default)]
    pub tags: Vec<String>,
}

/// A quantity each unit reports, with the target for each unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Metric {
    pub name: String,
    /// E.g. "t" for tonnes.
    pub unit: String,
    /// From 0 to 1e12.
    #[schema(minimum = 0.0, maximum = 1e12)]
    pub target_per_unit: f64,
}

/// A new directive (a draft until issued).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDirective {
    pub issuer: String,
    pub title: String,
    pub body: String,
    /// `YYYY-MM-DD`.
    pub due: String,
    #[serde(default)]
    pub target: Option<Target>,
    pub metric: Option<Metric>,
    /// The directive this one breaks into tasks; the issuer must have received it.
    pub parent_directive: Option<String>,
}

/// Changes to a draft; fields left out are kept.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DirectivePatch {
    pub title: Option<String>,
    pub body: Option<String>,
    pub due: Option<String>,
    pub target: Option<Target>,
    pub metric: Option<Metric>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct DirectiveView {
    pub id: String,
    pub issuer: String,
    pub parent_directive: Option<String>,
    pub title: String,
    pub body: String,
    pub due: String,
    pub target: Target,
    pub metric: Option<Metric>,
    /// `draft`, `issued`, `withdrawn` or `closed`.
    pub state: String,
    /// How many units it was conveyed to (0 while a draft).
    pub assignments: i64,
    pub created_at: String,
    pub issued_at: Option<String>,
    pub ended_at: Option<String>,
}

fn split_list(text: &str) -> Vec<String> {
    text.split(';')
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

impl From<&DirectiveRow> for DirectiveView {
    fn from(row: &DirectiveRow) -> Self {
        Self {
            id: row.id.to_string(),
            issuer: row.issuer.to_string(),
            parent_directive: row.parent.map(|p| p.to_string()),
            title: row.title.clone(),
            body: row.body.clone(),
            due: row.due.clone(),
            target: Target {
                under: Some(row.target_under.to_string()),
                kinds: split_list(&row.target_kinds),
                tags: split_list(&row.target_tags),
            },
            metric: match (&row.metric_name, row.metric_target) {
                (Some(name), Some(target)) => Some(Metric {
                    name: name.clone(),
                    unit: row.metric_unit.clone().unwrap_or_default(),
                    target_per_unit: target,
                }),
                _ => None,
            },
            state: row.state.clone(),
            assignments: row.assignment_count,
            created_at: row.created_at.clone(),
            issued_at: row.issued_at.clone(),
            ended_at: row.ended_at.clone(),
        }
    }
}

/// The answer to issuing: how many units received it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Issued {
    pub id: String,
    pub state: String,
    pub assignments: u64,
}

/// How many units a directive would reach if issued now.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Reach {
    pub units: u64,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewGuidance {
    /// The unit adding guidance for its own subtree.
    pub unit: String,
    pub text: String,
}

/// Counts per state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct StateCounts {
    pub conveyed: u32,
    pub acknowledged: u32,
    pub planned: u32,
    pub in_progress: u32,
    pub done: u32,
    pub blocked: u32,
}

impl From<&Tally> for StateCounts {
    fn from(tally: &Tally) -> Self {
        Self {
            conveyed: tally.count(AssignmentState::Conveyed),
            acknowledged: tally.count(AssignmentState::Acknowledged),
            planned: tally.count(AssignmentState::Planned),
            in_progress: tally.count(AssignmentState::InProgress),
            done: tally.count(AssignmentState::Done),
            blocked: tally.count(AssignmentState::Blocked),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct MetricSum {
    pub sum: f64,
    pub target: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ChildRollup {
    pub unit: String,
    pub name: String,
    pub code: String,
    pub total: u32,
    pub states: StateCounts,
    pub overdue: u32,
    pub metric: Option<MetricSum>,
}

/// A directive's progress over a unit's whole subtree, and for each child.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Rollup {
    pub directive: String,
    pub unit: String,
    pub total: u32,
    pub states: StateCounts,
    pub overdue: u32,
    pub metric: Option<MetricSum>,
    pub children: Vec<ChildRollup>,
}

/// A unit that lags: not acknowledged, overdue, or furthest below the metric's target.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Laggard {
    pub unit: String,
    pub name: String,
    pub code: String,
    pub state: String,
    pub overdue: bool,
    pub metric_value: Option<f64>,
}

/// Counts per state at the end of one day.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SeriesDay {
    pub date: String,
    pub states: StateCounts,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Series {
    pub directive: String,
    pub unit: String,
    pub days: Vec<SeriesDay>,
}

/// Where a roll-up, a list of laggards or a series is taken.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AtQuery {
    /// The unit whose subtree is counted: by default the top of the target, or the
    /// highest unit of the caller's that received the directive.
    pub at: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

const MAX_TITLE_CHARS: usize = 200;
const MAX_BODY_CHARS: usize = 20_000;

fn parse_directive_id(text: &str) -> Result<i64, AppError> {
    text.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or(AppError::NotFound { what: "directive" })
}

pub(crate) fn check_text(
    field: &str,
    text: &str,
    max: usize,
    required: bool,
) -> Result<String, AppError> {
    let text = text.trim();
    if required && text.is_empty() {
        return Err(AppError::invalid(
            ErrorCode::InvalidValue,
            field,
            format!("{field} must not be empty"),
        ));
    }
    if text.chars().count() > max {
        return Err(AppError::invalid(
            ErrorCode::InvalidValue,
            field,
            format!("{field} is at most {max} characters"),
        ));
    }
    Ok(text.to_owned())
}

fn check_due(text: &str) -> Result<String, AppError> {
    clock::parse_date(text)
        .map(clock::format_date)
        .ok_or_else(|| {
            AppError::invalid(
                ErrorCode::InvalidValue,
                "due",
                "a date is written YYYY-MM-DD",
            )
        })
}

/// A directive's fields as written, to be checked.
struct DraftFields<'a> {
    title: &'a str,
    body: &'a str,
    due: &'a str,
    target: Target,
    metric: Option<Metric>,
}

/// A directive's fields, checked.
struct CheckedDraft {
    title: String,
    body: String,
    due: String,
    under: UnitId,
    kinds: Vec<String>,
    tags: Vec<String>,
    metric: Option<Metric>,
}

/// The largest target per unit a metric may have.
pub const MAX_TARGET_PER_UNIT: f64 = 1e12;

impl App {
    fn check_metric(&self, metric: Option<Metric>) -> Result<Option<Metric>, AppError> {
        let Some(metric) = metric else {
            return Ok(None);
        };
        let name = check_text("metric.name", &metric.name, 100, true)?;
        let unit = check_text("metric.unit", &metric.unit, 20, false)?;
        // Bounded so that the target summed over a million units stays a finite number.
        if !(0.0..=MAX_TARGET_PER_UNIT).contains(&metric.target_per_unit) {
            return Err(AppError::invalid(
                ErrorCode::InvalidValue,
                "metric.target_per_unit",
                format!("the target is a number from 0 to {MAX_TARGET_PER_UNIT:e}"),
            ));
        }
        Ok(Some(Metric {
            name,
            unit,
            target_per_unit: metric.target_per_unit,
        }))
    }

    /// Checks a draft's fields: texts, date, target inside the issuer's subtree.
    async fn check_draft(
        &self,
        ctx: &Ctx,
        issuer: UnitId,
        fields: DraftFields<'_>,
    ) -> Result<CheckedDraft, AppError> {
        let DraftFields {
            title,
            body,
            due,
            target,
            metric,
        } = fields;
        let title = check_text("title", title, MAX_TITLE_CHARS, true)?;
        let body = check_text("body", body, MAX_BODY_CHARS, false)?;
        let due = check_due(due)?;
        let under = match &target.under {
            Some(under) => parse_unit_id(under, "target.under")?,
            None => issuer,
        };
        if !self.allowed(ctx, Action::Read, Resource::Unit(under)) {
            return Err(unknown_reference("target.under", under));
        }
        if !self.tree().is_within(under, issuer) {
            return Err(AppError::invalid(
                ErrorCode::TargetOutsideIssuer,
                "target.under",
                "a directive's target lies in its issuer's subtree",
            ));
        }
        for kind in &target.kinds {
            if self.template.kind(kind).is_none() {
                return Err(AppError::invalid(
                    ErrorCode::UnknownKind,
                    "target.kinds",
                    format!("this organization has no kind {kind:?}"),
                ));
            }
        }
        let mut tags = Vec::new();
        for tag in &target.tags {
            let tag = ganglion_core::Tag::parse(tag).map_err(|error| {
                AppError::invalid(ErrorCode::InvalidValue, "target.tags", error.0)
            })?;
            tags.push(tag.as_str().to_owned());
        }
        let metric = self.check_metric(metric)?;
        Ok(CheckedDraft {
            title,
            body,
            due,
            under,
            kinds: target.kinds,
            tags,
            metric,
        })
    }

    pub async fn create_directive(
        &self,
        ctx: &Ctx,
        input: NewDirective,
    ) -> Result<DirectiveView, AppError> {
        let issuer = parse_unit_id(&input.issuer, "issuer")?;
        self.check_reference(ctx, issuer, "issuer", "directive.create")
            .await?;
        let parent = match &input.parent_directive {
            Some(text) => {
                let id = text
                    .parse::<i64>()
                    .ok()
                    .filter(|id| *id > 0)
                    .ok_or_else(|| {
                        AppError::invalid(
                            ErrorCode::InvalidId,
                            "parent_directive",
                            "not a directive id",
                        )
                    })?;
                // The issuer must have received the parent: it breaks it into tasks.
                let received = {
                    let tree = self.tree();
                    let mut model = self.model_mut();
                    let position = tree.position(issuer);
                    match (model.current(id, &tree), position) {
                        (Some(live), Some(position)) => live.columns.get(position).is_some(),
                        _ => false,
                    }
                };
                if !received {
                    return Err(AppError::invalid(
                        ErrorCode::ParentNotReceived,
                        "parent_directive",
                        "the issuer did not receive that directive",
                    ));
                }
                Some(id)
            }
            None => None,
        };
        let draft = self
            .check_draft(
                ctx,
                issuer,
                DraftFields {
                    title: &input.title,
                    body: &input.body,
                    due: &input.due,
                    target: input.target.unwrap_or_default(),
                    metric: input.metric,
                },
            )
            .await?;
        let mut tx = self.store.write().await?;
        let now = self.now_text();
        let kinds = draft.kinds.join(";");
        let tags = draft.tags.join(";");
        let id = tx
            .insert_directive(&stored_draft(issuer, parent, &draft, &kinds, &tags), &now)
            .await?;
        let row = tx
            .directive(id)
            .await?
            .ok_or_else(|| AppError::Internal("a new directive vanished".into()))?;
        let view = DirectiveView::from(&row);
        let audit =
            Audit::new("directive.create", format!("directive:{id}"), Some(issuer)).after(&view);
        self.finish_write(tx, ctx, audit, view).await
    }

    /// The directive if the caller may see it: its issuer is readable, or it was
    /// conveyed to a unit the caller reads.
    async fn visible_directive(&self, ctx: &Ctx, id: &str) -> Result<DirectiveRow, AppError> {
        self.require_signed_in(ctx)?;
        let id = parse_directive_id(id)?;
        let row = self
            .store
            .directive(id)
            .await?
            .ok_or(AppError::NotFound { what: "directive" })?;
        if self.allowed(ctx, Action::Read, Resource::Unit(row.issuer))
            || self.received_by_caller(ctx, id)
        {
            Ok(row)
        } else {
            Err(AppError::NotFound { what: "directive" })
        }
    }

    /// Whether the directive was conveyed to a unit the caller's posts reach.
    fn received_by_caller(&self, ctx: &Ctx, id: i64) -> bool {
        let tree = self.tree();
        let mut model = self.model_mut();
        let Some(live) = model.current(id, &tree) else {
            return false;
        };
        ctx.principal.posts.iter().any(|post| {
            if post.role.has_authority() {
                tree.subtree(post.unit)
                    .is_some_and(|range| live.columns.tally(range).total() > 0)
            } else {
                tree.position(post.unit)
                    .is_some_and(|position| live.columns.get(position).is_some())
            }
        })
    }

    pub async fn directive(&self, ctx: &Ctx, id: &str) -> Result<DirectiveView, AppError> {
        Ok(DirectiveView::from(&self.visible_directive(ctx, id).await?))
    }

    /// A directive the caller may change: its issuer is the caller's to act for.
    async fn own_directive(
        &self,
        ctx: &Ctx,
        id: &str,
        action: &'static str,
    ) -> Result<DirectiveRow, AppError> {
        let row = self.visible_directive(ctx, id).await?;
        if !self.allowed(ctx, Action::Write, Resource::Unit(row.issuer)) {
            // Seen (it was conveyed to the caller) but not the caller's to change.
            self.record_denial(
                ctx,
                action,
                format!("directive:{}", row.id),
                Some(row.issuer),
            )
            .await;
            return Err(AppError::Forbidden);
        }
        Ok(row)
    }

    pub async fn update_directive(
        &self,
        ctx: &Ctx,
        id: &str,
        patch: DirectivePatch,
    ) -> Result<DirectiveView, AppError> {
        let row = self.own_directive(ctx, id, "directive.update").await?;
        if row.state != "draft" {
            return Err(AppError::Conflict {
                code: ErrorCode::NotDraft,
                message: "only a draft can be edited; this directive was issued".into(),
            });
        }
        let before = DirectiveView::from(&row);
        let target = patch.target.unwrap_or_else(|| before.target.clone());
        let draft = self
            .check_draft(
                ctx,
                row.issuer,
                DraftFields {
                    title: patch.title.as_deref().unwrap_or(&row.title),
                    body: patch.body.as_deref().unwrap_or(&row.body),
                    due: patch.due.as_deref().unwrap_or(&row.due),
                    target,
                    metric: patch.metric.or(before.metric.clone()),
                },
            )
            .await?;
        let mut tx = self.store.write().await?;
        let current = tx
            .directive(row.id)
            .await?
            .ok_or(AppError::NotFound { what: "directive" })?;
        if current.state != "draft" {
            return Err(AppError::Conflict {
                code: ErrorCode::NotDraft,
                message: "only a draft can be edited; this directive was issued".into(),
            });
        }
        let kinds = draft.kinds.join(";");
        let tags = draft.tags.join(";");
        tx.update_draft(
            row.id,
            &stored_draft(row.issuer, row.parent, &draft, &kinds, &tags),
        )
        .await?;
        let updated = tx
            .directive(row.id)
            .await?
            .ok_or(AppError::NotFound { what: "directive" })?;
        let view = DirectiveView::from(&updated);
        let audit = Audit::new(
            "directive.update",
            format!("directive:{}", row.id),
            Some(row.issuer),
        )
        .before(&before)
        .after(&view);
        self.finish_write(tx, ctx, audit, view).await
    }

    /// How many units the directive reaches if issued now.
    pub async fn directive_reach(&self, ctx: &Ctx, id: &str) -> Result<Reach, AppError> {
        let row = self.visible_directive(ctx, id).await?;
        if row.state != "draft" {
            return Ok(Reach {
                units: row.assignment_count as u64,
            });
        }
        let under = self
            .store
            .unit(row.target_under)
            .await?
            .ok_or(AppError::NotFound { what: "unit" })?;
        let kinds = split_list(&row.target_kinds);
        let tags = split_list(&row.target_tags);
        let target = TargetFilter {
            range: under.subtree_range(),
            kinds: &kinds,
            tags: &tags,
        };
        Ok(Reach {
            units: self.store.count_targets(&target).await?,
        })
    }

    /// Issues a draft: one assignment per targeted unit, in one transaction, recorded
    /// as one audit entry however many units it reaches.
    pub async fn issue_directive(&self, ctx: &Ctx, id: &str) -> Result<Issued, AppError> {
        let row = self.own_directive(ctx, id, "directive.issue").await?;
        let mut tx = self.store.write().await?;
        let row = tx
            .directive(row.id)
            .await?
            .ok_or(AppError::NotFound { what: "directive" })?;
        if row.state != "draft" {
            return Err(AppError::Conflict {
                code: ErrorCode::NotDraft,
                message: format!("this directive is {}, not a draft", row.state),
            });
        }
        let under = tx
            .unit(row.target_under)
            .await?
            .ok_or_else(|| unknown_reference("target.under", row.target_under))?;
        let kinds = split_list(&row.target_kinds);
        let tags = split_list(&row.target_tags);
        let now = self.now_text();
        let target = TargetFilter {
            range: under.subtree_range(),
            kinds: &kinds,
            tags: &tags,
        };
        let created = tx.convey(row.id, &target, &now).await?;
        // The read model needs the units reached. A whole subtree is known from the tree
        // index without reading a million rows back; a narrowed target is read back.
        let whole_subtree = kinds.is_empty() && tags.is_empty();
        let units = if whole_subtree {
            Vec::new()
        } else {
            tx.assigned_units(row.id).await?
        };
        self.record_change(&mut tx, "directive", serde_json::json!({"id": row.id}))
            .await?;
        let issued = Issued {
            id: row.id.to_string(),
            state: "issued".into(),
            assignments: created,
        };
        let audit = Audit::new(
            "directive.issue",
            format!("directive:{}", row.id),
            Some(row.issuer),
        )
        .after(&issued);
        let issued = self.finish_write(tx, ctx, audit, issued).await?;
        // The read model learns of it once it is durable.
        let mut row = row;
        row.state = "issued".into();
        row.issued_at = Some(now);
        row.assignment_count = created as i64;
        let columns = {
            let tree = self.tree();
            if whole_subtree {
                let range = tree.subtree(row.target_under).unwrap_or(0..0);
                DirectiveColumns::build(
                    range
                        .zip(tree.subtree_units(row.target_under))
                        .map(|(position, unit)| (position, unit, AssignmentState::Conveyed, 0.0))
                        .collect(),
                )
            } else {
                columns_from(
                    &tree,
                    units.into_iter().map(|unit| (unit, 0, None)).collect(),
                )
            }
        };
        if columns.len() as u64 != created {
            // The tree index disagrees with what the store conveyed: believe the store.
            tracing::error!(
                directive = row.id,
                "the read model missed conveyed rows; reloading"
            );
            self.reload_directive(row.id).await?;
            return Ok(issued);
        }
        self.remember_directive(row, columns);
        Ok(issued)
    }

    /// Withdraws (a decision taken back) or closes (its work concluded) an issued
    /// directive; its assignments stay as history and can no longer move.
    pub async fn end_directive(
        &self,
        ctx: &Ctx,
        id: &str,
        ending: &'static str,
    ) -> Result<DirectiveView, AppError> {
        let action = if ending == "withdrawn" {
            "directive.withdraw"
        } else {
            "directive.close"
        };
        let row = self.own_directive(ctx, id, action).await?;
        let mut tx = self.store.write().await?;
        let row = tx
            .directive(row.id)
            .await?
            .ok_or(AppError::NotFound { what: "directive" })?;
        let allowed = row.state == "issued" || (row.state == "draft" && ending == "withdrawn");
        if !allowed {
            return Err(AppError::Conflict {
                code: ErrorCode::DirectiveNotOpen,
                message: format!("this directive is {}", row.state),
            });
        }
        let now = self.now_text();
        tx.end_directive(row.id, ending, &now).await?;
        self.record_change(&mut tx, "directive", serde_json::json!({"id": row.id}))
            .await?;
        let before = DirectiveView::from(&row);
        let mut ended = row.clone();
        ended.state = ending.into();
        ended.ended_at = Some(now);
        let view = DirectiveView::from(&ended);
        let audit = Audit::new(action, format!("directive:{}", row.id), Some(row.issuer))
            .before(&before)
            .after(&view);
        let view = self.finish_write(tx, ctx, audit, view).await?;
        if let Some(live) = self.model_mut().directives.get_mut(&ended.id) {
            live.row = ended;
        }
        self.model_changed();
        Ok(view)
    }

    /// Adds guidance for a unit's subtree: the unit must be the issuer or lie in the
    /// directive's target, and be the caller's to act for.
    pub async fn add_guidance(
        &self,
        ctx: &Ctx,
        id: &str,
        input: NewGuidance,
    ) -> Result<GuidanceView, AppError> {
        let row = self.visible_directive(ctx, id).await?;
        let unit = parse_unit_id(&input.unit, "unit")?;
        self.check_reference(ctx, unit, "unit", "guidance.create")
            .await?;
        let text = check_text("text", &input.text, MAX_BODY_CHARS, true)?;
        if row.state != "issued" {
            return Err(AppError::Conflict {
                code: ErrorCode::DirectiveNotOpen,
                message: format!(
                    "guidance is added to an issued directive; this one is {}",
                    row.state
                ),
            });
        }
        let on_the_way = unit == row.issuer || self.tree().is_within(unit, row.target_under);
        if !on_the_way {
            return Err(AppError::invalid(
                ErrorCode::NotOnTheWay,
                "unit",
                "guidance comes from the issuer or a unit the directive was conveyed through",
            ));
        }
        let unit_name = self
            .store
            .unit(unit)
            .await?
            .map(|u| u.name)
            .unwrap_or_default();
        let mut tx = self.store.write().await?;
        let now = self.now_text();
        let guidance_id = tx
            .insert_guidance(row.id, unit, &text, &ctx.actor.label(), &now)
            .await?;
        let view = GuidanceView {
            id: guidance_id.to_string(),
            directive: row.id.to_string(),
            unit: unit.to_string(),
            unit_name,
            text,
            created_at: now,
        };
        let audit = Audit::new(
            "guidance.create",
            format!("guidance:{guidance_id}"),
            Some(unit),
        )
        .after(&view);
        self.finish_write(tx, ctx, audit, view).await
    }

    /// Where a roll-up is taken: the unit asked for, or by default the top of the
    /// target if the caller sees it, else the caller's highest unit that received it.
    async fn rollup_unit(
        &self,
        ctx: &Ctx,
        row: &DirectiveRow,
        at: Option<&str>,
    ) -> Result<UnitId, AppError> {
        if let Some(at) = at {
            let unit = self.readable_unit(ctx, at, "at").await?;
            return Ok(unit.id);
        }
        if self.allowed(ctx, Action::Read, Resource::Unit(row.target_under)) {
            return Ok(row.target_under);
        }
        let tree = self.tree();
        ctx.principal
            .authority_units()
            .chain(ctx.principal.member_units())
            .filter(|unit| tree.is_within(*unit, row.target_under))
            .min_by_key(|unit| tree.depth(*unit))
            .ok_or(AppError::NotFound { what: "directive" })
    }

    /// Counts a directive over one unit's subtree, from memory; `None` if the directive
    /// is not in the read model or the unit not in the tree. The caller has already
    /// checked the caller may see both.
    pub fn tally_of(&self, directive: &str, unit: &str) -> Option<Tally> {
        let directive: i64 = directive.parse().ok()?;
        let unit: UnitId = unit.parse().ok()?;
        let tree = self.tree();
        let mut model = self.model_mut();
        let live = model.current(directive, &tree)?;
        Some(live.columns.tally(tree.subtree(unit)?))
    }

    /// Counts a directive over a unit's subtree, and over each child's: from memory.
    pub fn tally_at(&self, directive: i64, unit: UnitId) -> Option<(Tally, Vec<(UnitId, Tally)>)> {
        let tree = self.tree();
        let mut model = self.model_mut();
        let live = model.current(directive, &tree)?;
        let total = live.columns.tally(tree.subtree(unit)?);
        let children = tree
            .children(unit)
            .filter_map(|child| Some((child, live.columns.tally(tree.subtree(child)?))))
            .filter(|(_, tally)| tally.total() > 0)
            .collect();
        Some((total, children))
    }

    pub async fn rollup(&self, ctx: &Ctx, id: &str, at: Option<&str>) -> Result<Rollup, AppError> {
        let row = self.visible_directive(ctx, id).await?;
        let unit = self.rollup_unit(ctx, &row, at).await?;
        let (tally, children) = self.tally_at(row.id, unit).unwrap_or_default();
        let child_ids: Vec<UnitId> = children.iter().map(|(child, _)| *child).collect();
        let names: HashMap<UnitId, (String, String)> = self
            .store
            .units_by_ids(&child_ids)
            .await?
            .into_iter()
            .map(|u| (u.id, (u.name, u.code)))
            .collect();
        let past_due = row.state == "issued" && self.today_text() > row.due;
        let overdue = |tally: &Tally| {
            if past_due {
                tally.total() - tally.count(AssignmentState::Done)
            } else {
                0
            }
        };
        let metric = |tally: &Tally| {
            row.metric_target.map(|per_unit| MetricSum {
                sum: tally.metric,
                target: per_unit * f64::from(tally.total()),
            })
        };
        Ok(Rollup {
            directive: row.id.to_string(),
            unit: unit.to_string(),
            total: tally.total(),
            states: StateCounts::from(&tally),
            overdue: overdue(&tally),
            metric: metric(&tally),
            children: children
                .iter()
                .map(|(child, child_tally)| {
                    let (name, code) = names.get(child).cloned().unwrap_or_default();
                    ChildRollup {
                        unit: child.to_string(),
                        name,
                        code,
                        total: child_tally.total(),
                        states: StateCounts::from(child_tally),
                        overdue: overdue(child_tally),
                        metric: metric(child_tally),
                    }
                })
                .collect(),
        })
    }

    /// The units that lag most, a page at a time: not acknowledged first, then
    /// blocked, then by how far the work is from done, lowest metric first.
    pub async fn laggards(
        &self,
        ctx: &Ctx,
        id: &str,
        query: AtQuery,
    ) -> Result<Page<Laggard>, AppError> {
        let row = self.visible_directive(ctx, id).await?;
        let unit = self.rollup_unit(ctx, &row, query.at.as_deref()).await?;
        let limit = checked_limit(query.limit)? as usize;
        let offset = decode_number_cursor::<usize>(query.cursor.as_deref())?.unwrap_or(0);
        let mut lagging: Vec<(u8, f64, u32, UnitId, AssignmentState, f64)> = {
            let tree = self.tree();
            let mut model = self.model_mut();
            let Some(live) = model.current(row.id, &tree) else {
                return Ok(Page {
                    items: Vec::new(),
                    next_cursor: None,
                });
            };
            let Some(range) = tree.subtree(unit) else {
                return Ok(Page {
                    items: Vec::new(),
                    next_cursor: None,
                });
            };
            live.columns
                .entries(range)
                .filter(|(_, _, state, _)| *state != AssignmentState::Done)
                .map(|(position, unit, state, metric)| {
                    let rank = match state {
                        AssignmentState::Conveyed => 0,
                        AssignmentState::Blocked => 1,
                        AssignmentState::Acknowledged => 2,
                        AssignmentState::Planned => 3,
                        AssignmentState::InProgress => 4,
                        AssignmentState::Done => 5,
                    };
                    (rank, metric, position, unit, state, metric)
                })
                .collect()
        };
        let order = |a: &(u8, f64, u32, UnitId, AssignmentState, f64),
                     b: &(u8, f64, u32, UnitId, AssignmentState, f64)| {
            a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)).then(a.2.cmp(&b.2))
        };
        let more = lagging.len() > offset + limit;
        // Only the pages up to this one need an order: select them, then sort them.
        let wanted = (offset + limit).min(lagging.len());
        if wanted > 0 && wanted < lagging.len() {
            lagging.select_nth_unstable_by(wanted - 1, order);
            lagging.truncate(wanted);
        }
        lagging.sort_by(order);
        let page: Vec<_> = lagging.iter().skip(offset).take(limit).collect();
        let ids: Vec<UnitId> = page.iter().map(|entry| entry.3).collect();
        let names: HashMap<UnitId, (String, String)> = self
            .store
            .units_by_ids(&ids)
            .await?
            .into_iter()
            .map(|u| (u.id, (u.name, u.code)))
            .collect();
        let has_metric = row.metric_name.is_some();
        let items = page
            .iter()
            .map(|(_, _, _, unit, state, metric)| {
                let (name, code) = names.get(unit).cloned().unwrap_or_default();
                Laggard {
                    unit: unit.to_string(),
                    name,
                    code,
                    state: state.as_str().to_owned(),
                    overdue: self.overdue(&row, *state),
                    metric_value: has_metric.then_some(*metric),
                }
            })
            .collect();
        let next_cursor = more.then(|| encode_cursor(&(offset + limit).to_string()));
        Ok(Page { items, next_cursor })
    }

    /// The counts per state at the end of each day since the directive was issued.
    pub async fn series(&self, ctx: &Ctx, id: &str, at: Option<&str>) -> Result<Series, AppError> {
        let row = self.visible_directive(ctx, id).await?;
        let unit = self.rollup_unit(ctx, &row, at).await?;
        let range = self
            .store
            .unit(unit)
            .await?
            .ok_or(AppError::NotFound { what: "unit" })?
            .subtree_range();
        let total = self
            .tally_at(row.id, unit)
            .map(|(tally, _)| tally.total())
            .unwrap_or(0);
        let Some(issued) = row.issued_at.as_deref().and_then(|at| at.get(..10)) else {
            return Ok(Series {
                directive: row.id.to_string(),
                unit: unit.to_string(),
                days: Vec::new(),
            });
        };
        let moves = self.store.daily_transitions(row.id, &range).await?;
        let mut counts = [0i64; ganglion_core::directive::STATE_COUNT];
        counts[0] = i64::from(total);
        let mut days = Vec::new();
        let mut day = clock::parse_date(issued);
        let end = row
            .ended_at
            .as_deref()
            .and_then(|at| clock::parse_date(at.get(..10)?))
            .unwrap_or_else(|| clock::parse_date(&self.today_text()).expect("today is a date"));
        let mut moves = moves.into_iter().peekable();
        while let Some(date) = day.filter(|d| *d <= end) {
            let text = clock::format_date(date);
            while let Some((_, from, to, count)) = moves.next_if(|(d, ..)| *d <= text) {
                counts[from as usize] -= count as i64;
                counts[to as usize] += count as i64;
            }
            let tally = Tally {
                states: counts.map(|c| c.max(0) as u32),
                metric: 0.0,
            };
            days.push(SeriesDay {
                date: text,
                states: StateCounts::from(&tally),
            });
            day = date.next_day();
        }
        Ok(Series {
            directive: row.id.to_string(),
            unit: unit.to_string(),
            days,
        })
    }

    /// Applies the changes other servers wrote since the last call; returns how many.
    pub async fn follow_changes(&self) -> Result<usize, AppError> {
        let after = self.model_mut().last_change;
        let changes = self.store.changes_after(after, 1000).await?;
        let mut tree_changed = false;
        for change in &changes {
            let body: serde_json::Value = serde_json::from_str(&change.payload).unwrap_or_default();
            let own = body["origin"].as_str() == Some(self.origin.as_ref());
            if !own {
                match change.kind.as_str() {
                    "assignments" => {
                        let moved = crate::assignments::moves_in_change(&body);
                        self.apply_assignments(moved);
                    }
                    "directive" => {
                        if let Some(id) = body["id"].as_i64() {
                            self.reload_directive(id).await?;
                        }
                    }
                    "tree" => tree_changed = true,
                    "access" => self.sessions.forget_all(),
                    _ => {}
                }
            }
            self.model_mut().last_change = change.seq;
        }
        if tree_changed {
            self.reload_tree().await?;
        }
        Ok(changes.len())
    }

    async fn reload_directive(&self, id: i64) -> Result<(), AppError> {
        let Some(row) = self.store.directive(id).await? else {
            return Ok(());
        };
        if row.state == "draft" {
            return Ok(());
        }
        let entries = self.store.assignment_columns(id).await?;
        let columns = {
            let tree = self.tree();
            columns_from(&tree, entries)
        };
        self.remember_directive(row, columns);
        Ok(())
    }

    /// Puts a directive's columns, numbered against the current tree, in the read model.
    fn remember_directive(&self, row: DirectiveRow, columns: ganglion_core::DirectiveColumns) {
        {
            let mut model = self.model_mut();
            let numbered_at = model.tree_version;
            model.directives.insert(
                row.id,
                LiveDirective {
                    row,
                    columns,
                    numbered_at,
                },
            );
        }
        self.model_changed();
    }
}

fn stored_draft<'a>(
    issuer: UnitId,
    parent: Option<i64>,
    draft: &'a CheckedDraft,
    kinds: &'a str,
    tags: &'a str,
) -> DirectiveDraft<'a> {
    DirectiveDraft {
        issuer,
        parent,
        title: &draft.title,
        body: &draft.body,
        due: &draft.due,
        target_under: draft.under,
        target_kinds: kinds,
        target_tags: tags,
        metric_name: draft.metric.as_ref().map(|m| m.name.as_str()),
        metric_unit: draft.metric.as_ref().map(|m| m.unit.as_str()),
        metric_target: draft.metric.as_ref().map(|m| m.target_per_unit),
    }
}
