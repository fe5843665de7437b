//! Writing directives: drafting, editing, issuing to every targeted unit, ending, and
//! guidance on the way.

use std::sync::Arc;

use ganglion_core::tracking::{Entry, Target as TargetRule, NEVER};
use ganglion_core::{Action, DirectiveId, DirectiveState, ItemId, Resource, UnitId};
use ganglion_store::{DirectiveDraft, DirectiveRow, MetricRow, TargetFilter};
use time::Date;

use super::views::{
    DirectivePatch, DirectiveView, GuidanceView, Issued, Metric, NewDirective, NewGuidance, Reach,
    Target,
};
use super::{parse_kind, Directives};
use crate::features::check_text;
use crate::features::units::{parse_unit_id, unknown_reference};
use crate::tracking::model::deadline;
use crate::tracking::{SourceKey, MAX_METRIC_VALUE};
use crate::ErrorCode;
use crate::{clock, AppError, Audit, Ctx};

const MAX_TITLE_CHARS: usize = 200;
const MAX_BODY_CHARS: usize = 20_000;
/// The most units a target may name one by one.
const MAX_TARGET_UNITS: usize = 10_000;

/// A directive's fields as written, to be checked.
struct DraftFields<'a> {
    title: &'a str,
    body: &'a str,
    due: &'a str,
    target: Target,
    metric: Option<Metric>,
}

/// A directive's fields, checked.
pub(crate) struct CheckedDraft {
    pub title: String,
    pub body: String,
    pub due: Date,
    pub target: TargetRule,
    pub metric: Option<MetricRow>,
}

pub(crate) fn check_due(text: &str, field: &str) -> Result<Date, AppError> {
    clock::parse_date(text).ok_or_else(|| {
        AppError::invalid(
            ErrorCode::InvalidValue,
            field,
            "a date is written YYYY-MM-DD, in the years 1 to 9999",
        )
    })
}

fn check_metric(metric: Option<Metric>) -> Result<Option<MetricRow>, AppError> {
    let Some(metric) = metric else {
        return Ok(None);
    };
    let name = check_text("metric.name", &metric.name, 100, true)?;
    let unit = check_text("metric.unit", &metric.unit, 20, false)?;
    if !metric.target_per_unit.is_finite()
        || !(0.0..=MAX_METRIC_VALUE).contains(&metric.target_per_unit)
    {
        return Err(AppError::invalid(
            ErrorCode::InvalidValue,
            "metric.target_per_unit",
            format!("the target is a number from 0 to {MAX_METRIC_VALUE:e}"),
        ));
    }
    Ok(Some(MetricRow {
        name,
        unit,
        target_per_unit: metric.target_per_unit,
    }))
}

impl DirectiveView {
    pub(crate) fn of(row: &DirectiveRow) -> Self {
        Self {
            id: row.id.to_string(),
            kind: row.kind.as_str().to_owned(),
            issuer: row.issuer.to_string(),
            parent_directive: row.parent.map(|p| p.to_string()),
            title: row.title.clone(),
            body: row.body.clone(),
            due: clock::format_date(row.due),
            target: Target {
                under: Some(row.target_under().to_string()),
                kinds: row.target.kinds.clone(),
                tags: row.target.tags.clone(),
                units: row.target.units.iter().map(UnitId::to_string).collect(),
            },
            metric: row.metric.as_ref().map(|metric| Metric {
                name: metric.name.clone(),
                unit: metric.unit.clone(),
                target_per_unit: metric.target_per_unit,
            }),
            state: row.state.as_str().to_owned(),
            assignments: row.assignment_count,
            states: row
                .kind
                .workflow()
                .states
                .iter()
                .map(|s| s.name.to_owned())
                .collect(),
            programme: row.programme.map(|(id, _)| id.to_string()),
            created_at: row.created_at.clone(),
            issued_at: row.issued_at.clone(),
            ended_at: row.ended_at.clone(),
        }
    }
}

impl Directives<'_> {
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
        let due = check_due(due, "due")?;
        let target = self.check_target(ctx, issuer, target)?;
        let metric = check_metric(metric)?;
        Ok(CheckedDraft {
            title,
            body,
            due,
            target,
            metric,
        })
    }

    /// A target as written, checked: inside the issuer's subtree, of kinds the template
    /// has, of well-formed tags; or a list of units, each inside the issuer's subtree.
    pub(crate) fn check_target(
        &self,
        ctx: &Ctx,
        issuer: UnitId,
        target: Target,
    ) -> Result<TargetRule, AppError> {
        let app = self.app;
        if !target.units.is_empty() {
            if target.under.is_some() || !target.kinds.is_empty() || !target.tags.is_empty() {
                return Err(AppError::invalid(
                    ErrorCode::InvalidValue,
                    "target.units",
                    "a target names its units, or a subtree with kinds and tags, not both",
                ));
            }
            if target.units.len() > MAX_TARGET_UNITS {
                return Err(AppError::invalid(
                    ErrorCode::InvalidValue,
                    "target.units",
                    format!("a target names at most {MAX_TARGET_UNITS} units"),
                ));
            }
            let mut units = Vec::with_capacity(target.units.len());
            for (index, text) in target.units.iter().enumerate() {
                let field = format!("target.units.{index}");
                let unit = parse_unit_id(text, &field)?;
                if !app.allowed(ctx, Action::Read, Resource::Unit(unit)) {
                    return Err(unknown_reference(&field, unit));
                }
                if !app.tree().is_within(unit, issuer) {
                    return Err(AppError::invalid(
                        ErrorCode::TargetOutsideIssuer,
                        &field,
                        "a directive's target lies in its issuer's subtree",
                    ));
                }
                units.push(unit);
            }
            units.sort();
            units.dedup();
            return Ok(TargetRule {
                under: Some(issuer),
                units,
                ..TargetRule::default()
            });
        }
        let under = match &target.under {
            Some(under) => parse_unit_id(under, "target.under")?,
            None => issuer,
        };
        if !app.allowed(ctx, Action::Read, Resource::Unit(under)) {
            return Err(unknown_reference("target.under", under));
        }
        if !app.tree().is_within(under, issuer) {
            return Err(AppError::invalid(
                ErrorCode::TargetOutsideIssuer,
                "target.under",
                "a directive's target lies in its issuer's subtree",
            ));
        }
        for kind in &target.kinds {
            if app.template.kind(kind).is_none() {
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
        Ok(TargetRule {
            under: Some(under),
            kinds: target.kinds,
            tags,
            units: Vec::new(),
            posts: None,
        })
    }

    pub async fn create(&self, ctx: &Ctx, input: NewDirective) -> Result<DirectiveView, AppError> {
        let app = self.app;
        let issuer = parse_unit_id(&input.issuer, "issuer")?;
        app.check_reference(ctx, issuer, "issuer", "directive.create")
            .await?;
        let kind = parse_kind(input.kind.as_deref())?;
        let parent = match &input.parent_directive {
            Some(text) => {
                let id: DirectiveId = text.parse().map_err(|_| {
                    AppError::invalid(
                        ErrorCode::InvalidId,
                        "parent_directive",
                        "not a directive id",
                    )
                })?;
                // The issuer must have received the parent: it breaks it into tasks.
                let received = match app.store.directive(id).await? {
                    Some(parent) if parent.state.was_issued() => {
                        self.received_by(&parent, issuer).await?
                    }
                    _ => false,
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
        let mut tx = app.store.write().await?;
        let now = app.now_text();
        let id = tx
            .insert_directive(
                &DirectiveDraft {
                    kind,
                    issuer,
                    parent,
                    title: &draft.title,
                    body: &draft.body,
                    due: draft.due,
                    target: &draft.target,
                    metric: draft.metric.as_ref(),
                    programme: None,
                },
                &now,
            )
            .await?;
        let row = tx
            .directive(id)
            .await?
            .ok_or_else(|| AppError::Internal("a new directive vanished".into()))?;
        let view = DirectiveView::of(&row);
        let audit =
            Audit::new("directive.create", format!("directive:{id}"), Some(issuer)).after(&view);
        app.finish_write(tx, ctx, audit, view).await
    }

    pub async fn update(
        &self,
        ctx: &Ctx,
        id: &str,
        patch: DirectivePatch,
    ) -> Result<DirectiveView, AppError> {
        let app = self.app;
        let row = self.own(ctx, id, "directive.update").await?;
        let not_draft = || AppError::Conflict {
            code: ErrorCode::NotDraft,
            message: "only a draft can be edited; this directive was issued".into(),
        };
        if row.state != DirectiveState::Draft {
            return Err(not_draft());
        }
        let before = DirectiveView::of(&row);
        let target = match patch.target {
            Some(target) => target,
            None if row.target.is_explicit() => Target {
                units: before.target.units.clone(),
                ..Target::default()
            },
            None => Target {
                units: Vec::new(),
                ..before.target.clone()
            },
        };
        let due = patch.due.unwrap_or_else(|| before.due.clone());
        let draft = self
            .check_draft(
                ctx,
                row.issuer,
                DraftFields {
                    title: patch.title.as_deref().unwrap_or(&row.title),
                    body: patch.body.as_deref().unwrap_or(&row.body),
                    due: &due,
                    target,
                    metric: patch.metric.or(before.metric.clone()),
                },
            )
            .await?;
        let mut tx = app.store.write().await?;
        let current = tx
            .directive(row.id)
            .await?
            .ok_or(AppError::NotFound { what: "directive" })?;
        if current.state != DirectiveState::Draft {
            return Err(not_draft());
        }
        tx.update_draft(
            row.id,
            &DirectiveDraft {
                kind: row.kind,
                issuer: row.issuer,
                parent: row.parent,
                title: &draft.title,
                body: &draft.body,
                due: draft.due,
                target: &draft.target,
                metric: draft.metric.as_ref(),
                programme: row.programme,
            },
        )
        .await?;
        let updated = tx
            .directive(row.id)
            .await?
            .ok_or(AppError::NotFound { what: "directive" })?;
        let view = DirectiveView::of(&updated);
        let audit = Audit::new(
            "directive.update",
            format!("directive:{}", row.id),
            Some(row.issuer),
        )
        .before(&before)
        .after(&view);
        app.finish_write(tx, ctx, audit, view).await
    }

    /// How many units the directive reaches if issued now.
    pub async fn reach(&self, ctx: &Ctx, id: &str) -> Result<Reach, AppError> {
        let app = self.app;
        let row = self.visible(ctx, id).await?;
        if row.state != DirectiveState::Draft {
            return Ok(Reach {
                units: row.assignment_count as u64,
            });
        }
        let under = app
            .store
            .unit(row.target_under())
            .await?
            .ok_or(AppError::NotFound { what: "unit" })?;
        let target = TargetFilter {
            range: under.subtree_range(),
            kinds: &row.target.kinds,
            tags: &row.target.tags,
            units: &row.target.units,
            posts: None,
            on: None,
        };
        Ok(Reach {
            units: app.store.count_targets(&target).await?,
        })
    }

    /// Issues a draft: one assignment per targeted unit, in one transaction, recorded
    /// as one audit entry however many units it reaches.
    pub async fn issue(&self, ctx: &Ctx, id: &str) -> Result<Issued, AppError> {
        let app = self.app;
        let row = self.own(ctx, id, "directive.issue").await?;
        let mut tx = app.store.write().await?;
        let row = tx
            .directive(row.id)
            .await?
            .ok_or(AppError::NotFound { what: "directive" })?;
        if row.state != DirectiveState::Draft {
            return Err(AppError::Conflict {
                code: ErrorCode::NotDraft,
                message: format!("this directive is {}, not a draft", row.state.as_str()),
            });
        }
        let under = tx
            .unit(row.target_under())
            .await?
            .ok_or_else(|| unknown_reference("target.under", row.target_under()))?;
        let now = app.now_text();
        let target = TargetFilter {
            range: under.subtree_range(),
            kinds: &row.target.kinds,
            tags: &row.target.tags,
            units: &row.target.units,
            posts: None,
            on: None,
        };
        let key = SourceKey::of_directive(&row);
        let (first, created) = tx
            .convey(key.as_ref(), &target, Some(row.due), &now)
            .await?;
        tx.mark_issued(row.id, created, &now).await?;
        // The read model needs the items made. A whole subtree's are known from the tree
        // index (numbered in tree order) without reading a million rows back; a narrowed
        // target's are read back.
        let whole_subtree = row.target.is_whole_subtree();
        let conveyed = if whole_subtree {
            Vec::new()
        } else {
            tx.conveyed(key.as_ref(), first).await?
        };
        app.record_change(
            &mut tx,
            "directive",
            serde_json::json!({"id": row.id.get(), "kind": row.kind.as_str()}),
        )
        .await?;
        let as_of_change = tx.last_change().await?;
        let issued = Issued {
            id: row.id.to_string(),
            state: DirectiveState::Issued.as_str().into(),
            assignments: created,
        };
        let audit = Audit::new(
            "directive.issue",
            format!("directive:{}", row.id),
            Some(row.issuer),
        )
        .after(&issued);
        let issued = app.finish_write(tx, ctx, audit, issued).await?;
        // The read model learns of it once it is durable.
        let mut row = row;
        row.state = DirectiveState::Issued;
        row.issued_at = Some(now);
        row.assignment_count = created as i64;
        let metrics = app.metric_specs(&row).await?;
        let due = deadline(Some(row.due), None);
        let entry = |item: ItemId, unit: UnitId| Entry {
            position: 0,
            item,
            unit,
            state: row.kind.workflow().initial,
            deadline: due,
            done_at: NEVER,
            metrics: vec![f64::NAN; metrics.len()],
        };
        let entries: Vec<Entry> = if whole_subtree {
            let tree = app.tree();
            tree.subtree_units(row.target_under())
                .enumerate()
                .filter_map(|(offset, unit)| Some(entry(ItemId::new(first + offset as i64)?, unit)))
                .collect()
        } else {
            conveyed
                .into_iter()
                .map(|(item, unit, _)| entry(item, unit))
                .collect()
        };
        if entries.len() as u64 != created {
            // The tree index disagrees with what the store conveyed: believe the store.
            tracing::error!(directive = %row.id, "the read model missed conveyed items; reading them");
            app.admit_source(&key).await?;
            return Ok(issued);
        }
        let source = app.source_from(key, Some(row), metrics, entries, as_of_change);
        app.model_mut().insert(source);
        app.model_changed();
        Ok(issued)
    }

    /// Withdraws (a decision taken back) or closes (its work concluded) an issued
    /// directive; its assignments stay as history and can no longer move.
    pub async fn end(
        &self,
        ctx: &Ctx,
        id: &str,
        ending: DirectiveState,
    ) -> Result<DirectiveView, AppError> {
        let app = self.app;
        let action = match ending {
            DirectiveState::Withdrawn => "directive.withdraw",
            _ => "directive.close",
        };
        let row = self.own(ctx, id, action).await?;
        let mut tx = app.store.write().await?;
        let row = tx
            .directive(row.id)
            .await?
            .ok_or(AppError::NotFound { what: "directive" })?;
        let allowed = matches!(
            (row.state, ending),
            (
                DirectiveState::Issued,
                DirectiveState::Withdrawn | DirectiveState::Closed
            ) | (DirectiveState::Draft, DirectiveState::Withdrawn)
        );
        if !allowed || row.programme.is_some() {
            return Err(AppError::Conflict {
                code: ErrorCode::DirectiveNotOpen,
                message: if row.programme.is_some() {
                    "a programme's year of projects ends with its programme".into()
                } else {
                    format!("this directive is {}", row.state.as_str())
                },
            });
        }
        let now = app.now_text();
        tx.end_directive(row.id, ending, &now).await?;
        app.record_change(
            &mut tx,
            "directive",
            serde_json::json!({"id": row.id.get(), "kind": row.kind.as_str()}),
        )
        .await?;
        let before = DirectiveView::of(&row);
        let mut ended = row.clone();
        ended.state = ending;
        ended.ended_at = Some(now);
        let view = DirectiveView::of(&ended);
        let audit = Audit::new(action, format!("directive:{}", row.id), Some(row.issuer))
            .before(&before)
            .after(&view);
        let view = app.finish_write(tx, ctx, audit, view).await?;
        app.model_mut().update_directive(ended);
        app.model_changed();
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
        let app = self.app;
        let row = self.visible(ctx, id).await?;
        let unit = parse_unit_id(&input.unit, "unit")?;
        app.check_reference(ctx, unit, "unit", "guidance.create")
            .await?;
        let text = check_text("text", &input.text, MAX_BODY_CHARS, true)?;
        if row.state != DirectiveState::Issued {
            return Err(AppError::Conflict {
                code: ErrorCode::DirectiveNotOpen,
                message: format!(
                    "guidance is added to an issued directive; this one is {}",
                    row.state.as_str()
                ),
            });
        }
        let on_the_way = unit == row.issuer || app.tree().is_within(unit, row.target_under());
        if !on_the_way {
            return Err(AppError::invalid(
                ErrorCode::NotOnTheWay,
                "unit",
                "guidance comes from the issuer or a unit the directive was conveyed through",
            ));
        }
        let unit_name = app.tree().name(unit).to_owned();
        let mut tx = app.store.write().await?;
        let now = app.now_text();
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
        app.finish_write(tx, ctx, audit, view).await
    }
}

/// A directive issued on the app's own behalf (a programme's year), with its items
/// added later one by one: the read model holds it from the start.
pub(crate) fn empty_source(
    app: &crate::App,
    row: DirectiveRow,
    metrics: Arc<[crate::tracking::MetricSpec]>,
    as_of_change: i64,
) -> crate::tracking::Source {
    app.source_from(
        SourceKey::of_directive(&row),
        Some(row),
        metrics,
        Vec::new(),
        as_of_change,
    )
}
