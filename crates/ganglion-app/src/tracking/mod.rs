//! The tracking engine, as the use cases meet it: one read model for every source of
//! tracked items, one batch writer for every kind of transition, and one judgement of
//! a move for every workflow. A feature that conveys something to units and tracks it
//! (directives, pledges, programme projects; reports, invitations and requests to
//! come) brings its workflow, its target rule and its views, and uses these.

pub(crate) mod batch;
pub(crate) mod counts;
pub(crate) mod model;

use std::collections::BTreeMap;
use std::sync::Arc;

use ganglion_core::tracking::{Columns, MoveRefusal, Mover, StateId};
use ganglion_core::{Action, ItemId, Resource, TreeIndex};
use ganglion_store::{DirectiveRow, ItemRow};
use serde::Deserialize;

use crate::ErrorCode;
use crate::{App, AppError, Ctx};
pub(crate) use batch::{BatchJob, Written};
pub(crate) use model::{ItemChange, MetricSpec, ReadModel, Source, SourceKey};

/// A move asked of an item, of any kind.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Transition {
    /// The state to move to, one of the item's workflow.
    pub to: String,
    /// Why; required for the moves that need a reason (blocking, sending back).
    pub note: Option<String>,
    /// The value of the source's (first) metric reported with this move.
    pub metric_value: Option<f64>,
    /// Values of the source's metrics by key, for sources with several.
    pub metrics: Option<BTreeMap<String, f64>>,
}

/// What a judged move will write.
#[derive(Debug, Clone)]
pub(crate) struct Step {
    pub from: StateId,
    pub to: StateId,
    pub note: String,
    /// The item's values after the move.
    pub metrics: Vec<Option<f64>>,
    /// The values reported with the move.
    pub reported: Vec<Option<f64>>,
    /// When it reached a done state, if it is in one after the move.
    pub done_at: Option<String>,
}

/// A move refused, and whether the refusal goes into the trail as a denial.
pub(crate) struct Refusal {
    pub error: AppError,
    pub denied: bool,
}

impl From<AppError> for Refusal {
    fn from(error: AppError) -> Self {
        Self {
            error,
            denied: false,
        }
    }
}

impl Refusal {
    pub fn denied() -> Self {
        Self {
            error: AppError::Forbidden,
            denied: true,
        }
    }
}

/// What a move is judged against besides the item: whether its source still moves,
/// and the numbers it reports.
pub(crate) struct SourceFacts<'a> {
    pub open: bool,
    /// Why it no longer moves, for the refusal: `withdrawn`, `closed`.
    pub ended_as: &'a str,
    pub metrics: &'a [MetricSpec],
}

impl SourceFacts<'_> {
    pub fn of_directive<'a>(row: &'a DirectiveRow, metrics: &'a [MetricSpec]) -> SourceFacts<'a> {
        SourceFacts {
            open: row.state.is_open(),
            ended_as: row.state.as_str(),
            metrics,
        }
    }
}

const MAX_NOTE_CHARS: usize = 2_000;

/// The largest metric value accepted: far beyond any quantity reported, small enough
/// that sums over a million units stay finite.
pub(crate) const MAX_METRIC_VALUE: f64 = 1e12;

fn refusal_error(refusal: MoveRefusal) -> Refusal {
    match refusal {
        MoveRefusal::NotYours => Refusal::denied(),
        MoveRefusal::UnknownState { .. } => {
            AppError::invalid(ErrorCode::InvalidValue, "to", refusal.to_string()).into()
        }
        MoveRefusal::NotAllowed { .. } => {
            AppError::invalid(ErrorCode::TransitionNotAllowed, "to", refusal.to_string()).into()
        }
        MoveRefusal::ReasonRequired(message) => {
            AppError::invalid(ErrorCode::ReasonRequired, "note", message).into()
        }
    }
}

impl App {
    /// Who the caller is to an item: its own unit, a unit above, the person it is
    /// addressed to. Empty when they may not move it at all.
    pub(crate) fn movers(&self, tree: &TreeIndex, ctx: &Ctx, item: &ItemRow) -> Vec<Mover> {
        let mut movers = Vec::new();
        if ctx
            .principal
            .posts
            .iter()
            .any(|post| post.unit == item.unit && post.role.has_authority())
        {
            movers.push(Mover::OwnUnit);
        }
        let above = ctx.principal.admin
            || ctx
                .principal
                .authority_units()
                .any(|authority| authority != item.unit && tree.is_within(item.unit, authority));
        if above {
            movers.push(Mover::Above);
        }
        if item.person.is_some() && item.person == ctx.actor.person() {
            movers.push(Mover::Addressee);
        }
        movers
    }

    /// Judges a move of `item` as it stands, by the caller, exactly as if it came
    /// alone: who may move it, to what, with which note and values.
    pub(crate) fn judge(
        &self,
        ctx: &Ctx,
        item: &ItemRow,
        source: &SourceFacts<'_>,
        input: &Transition,
    ) -> Result<Step, Refusal> {
        self.require_signed_in(ctx)?;
        let movers = {
            let tree = self.tree();
            if !ganglion_core::authorize(
                &ctx.principal,
                Action::Read,
                Resource::Unit(item.unit),
                &tree,
            ) && item
                .person
                .is_none_or(|person| Some(person) != ctx.actor.person())
            {
                return Err(AppError::NotFound { what: "assignment" }.into());
            }
            self.movers(&tree, ctx, item)
        };
        if movers.is_empty() {
            return Err(Refusal::denied());
        }
        let workflow = item.kind.workflow();
        let to = workflow.parse_state(&input.to).map_err(refusal_error)?;
        let note = crate::features::check_text(
            "note",
            input.note.as_deref().unwrap_or_default(),
            MAX_NOTE_CHARS,
            false,
        )?;
        let reported = reported_values(source.metrics, input)?;
        if !source.open {
            return Err(AppError::Conflict {
                code: ErrorCode::DirectiveNotOpen,
                message: format!("this is {}; its items no longer move", source.ended_as),
            }
            .into());
        }
        let from = item.state;
        workflow
            .check(from, to, &movers, Some(&note))
            .map_err(refusal_error)?;
        let metrics: Vec<Option<f64>> = (0..source.metrics.len())
            .map(|m| {
                reported
                    .get(m)
                    .copied()
                    .flatten()
                    .or(item.metrics.get(m).copied().flatten())
            })
            .collect();
        let done_at = if workflow.is_done(to) {
            // Done stays done from the first time it was reached (resolved, then closed).
            match (&item.done_at, workflow.is_done(from)) {
                (Some(at), true) => Some(at.clone()),
                _ => Some(self.now_text()),
            }
        } else {
            None
        };
        Ok(Step {
            from,
            to,
            note,
            metrics,
            reported,
            done_at,
        })
    }

    /// Records committed changes in the read model, and tells those who watch it.
    pub(crate) fn apply_changes(&self, changes: &[ItemChange]) {
        if changes.is_empty() {
            return;
        }
        let now = self.now().unix_timestamp();
        {
            let mut model = self.model_mut();
            for change in changes {
                model.apply(change, None, now);
            }
        }
        self.model_changed();
    }

    /// A resident source's columns, or, for one not in memory, its columns read from
    /// the store now: `f` runs on them with the tree they are numbered against.
    pub(crate) async fn with_source<R>(
        &self,
        key: &SourceKey,
        f: impl FnOnce(&TreeIndex, &Source) -> R,
    ) -> Result<R, AppError> {
        {
            let model = self.model();
            if let Some(source) = model.source(key) {
                return Ok(f(&model.tree, source));
            }
        }
        let source = self.read_source(key).await?;
        let model = self.model();
        Ok(f(&model.tree, &source))
    }

    /// Reads a source's items from the store and numbers them against the tree.
    pub(crate) async fn read_source(&self, key: &SourceKey) -> Result<Source, AppError> {
        let (directive, metrics) = self.source_description(key).await?;
        let metric_count = metrics.len();
        let mut entries = Vec::new();
        self.store
            .for_each_item_of(key.as_ref(), |row| {
                entries.push(model::entry_of(&row, metric_count))
            })
            .await?;
        let as_of_change = self.store.last_change().await?;
        Ok(self.source_from(key.clone(), directive, metrics, entries, as_of_change))
    }

    /// Builds a source from entries read from the store.
    pub(crate) fn source_from(
        &self,
        key: SourceKey,
        directive: Option<DirectiveRow>,
        metrics: Arc<[MetricSpec]>,
        entries: Vec<ganglion_core::tracking::Entry>,
        as_of_change: i64,
    ) -> Source {
        let workflow = key.kind.workflow();
        let model = self.model();
        let entries = entries
            .into_iter()
            .filter_map(|entry| {
                Some(ganglion_core::tracking::Entry {
                    position: model.tree.position(entry.unit)?,
                    ..entry
                })
            })
            .collect();
        Source {
            key,
            directive,
            columns: Columns::build(workflow.done_mask(), metrics.len(), entries),
            metrics,
            owed: None,
            as_of_change,
            last_activity: self.now().unix_timestamp(),
        }
    }

    /// What a source is: its directive and the metrics its items report.
    pub(crate) async fn source_description(
        &self,
        key: &SourceKey,
    ) -> Result<(Option<DirectiveRow>, Arc<[MetricSpec]>), AppError> {
        let Some(id) = key.directive() else {
            return Ok((None, Arc::from(Vec::new())));
        };
        let row = self
            .store
            .directive(id)
            .await?
            .ok_or(AppError::NotFound { what: "directive" })?;
        let metrics = self.metric_specs(&row).await?;
        Ok((Some(row), metrics))
    }

    /// The metrics a directive's items report: its own, or its programme's.
    pub(crate) async fn metric_specs(
        &self,
        row: &DirectiveRow,
    ) -> Result<Arc<[MetricSpec]>, AppError> {
        if let Some((programme, _)) = row.programme {
            if let Some(programme) = self.store.programme(programme).await? {
                return Ok(crate::features::programmes::metric_specs(&programme).into());
            }
        }
        Ok(directive_metric_specs(row).into())
    }

    /// Keeps an open source in memory, read in a write so that no commit falls between
    /// the read and its arrival in memory.
    pub(crate) async fn admit_source(&self, key: &SourceKey) -> Result<(), AppError> {
        let (directive, metrics) = self.source_description(key).await?;
        let metric_count = metrics.len();
        let mut tx = self.store.write().await?;
        let mut entries = Vec::new();
        tx.for_each_item_of(key.as_ref(), |row| {
            entries.push(model::entry_of(&row, metric_count))
        })
        .await?;
        let as_of_change = tx.last_change().await?;
        let source = self.source_from(key.clone(), directive, metrics, entries, as_of_change);
        self.model_mut().insert(source);
        drop(tx);
        self.model_changed();
        Ok(())
    }

    /// How many sources the read model holds, and a lower bound of the bytes their
    /// columns take.
    pub fn read_model_size(&self) -> (usize, usize) {
        let model = self.model();
        (model.source_count(), model.heap_bytes())
    }

    /// The time now as the columns count it.
    pub(crate) fn now_seconds(&self) -> i64 {
        self.now().unix_timestamp()
    }
}

/// The metric a directive declares, if any.
pub(crate) fn directive_metric_specs(row: &DirectiveRow) -> Vec<MetricSpec> {
    row.metric
        .iter()
        .map(|metric| MetricSpec {
            key: "value".into(),
            name: metric.name.clone(),
            unit: metric.unit.clone(),
            aggregate: ganglion_core::tracking::Aggregate::Sum,
            target_per_unit: Some(metric.target_per_unit),
        })
        .collect()
}

/// The values a move reports, in the order of the source's metrics.
fn reported_values(
    metrics: &[MetricSpec],
    input: &Transition,
) -> Result<Vec<Option<f64>>, Refusal> {
    let check = |field: &str, value: f64| -> Result<f64, Refusal> {
        if !value.is_finite() || !(0.0..=MAX_METRIC_VALUE).contains(&value) {
            return Err(AppError::invalid(
                ErrorCode::InvalidValue,
                field,
                format!("a metric value is a number from 0 to {MAX_METRIC_VALUE:e}"),
            )
            .into());
        }
        Ok(value)
    };
    let mut reported: Vec<Option<f64>> = vec![None; metrics.len()];
    if input.metric_value.is_some() && input.metrics.is_some() {
        return Err(AppError::invalid(
            ErrorCode::InvalidValue,
            "metrics",
            "give metric_value or metrics, not both",
        )
        .into());
    }
    if let Some(value) = input.metric_value {
        if metrics.is_empty() {
            return Err(AppError::invalid(
                ErrorCode::NoMetric,
                "metric_value",
                "this directive has no metric to report",
            )
            .into());
        }
        reported[0] = Some(check("metric_value", value)?);
    }
    if let Some(values) = &input.metrics {
        for (key, value) in values {
            let field = format!("metrics.{key}");
            let Some(index) = metrics.iter().position(|m| &m.key == key) else {
                return Err(AppError::invalid(
                    ErrorCode::NoMetric,
                    &field,
                    format!(
                        "this item reports no metric {key:?}{}",
                        if metrics.is_empty() {
                            String::new()
                        } else {
                            format!(
                                " (it reports: {})",
                                metrics
                                    .iter()
                                    .map(|m| m.key.as_str())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            )
                        }
                    ),
                )
                .into());
            };
            reported[index] = Some(check(&field, *value)?);
        }
    }
    Ok(reported)
}

/// An item id as given in a path: one that does not read is not found.
pub(crate) fn parse_item_id(text: &str, what: &'static str) -> Result<ItemId, AppError> {
    text.parse::<ItemId>()
        .map_err(|_| AppError::NotFound { what })
}

impl App {
    /// Applies the changes other servers wrote since the last call; returns how many.
    pub async fn follow_changes(&self) -> Result<usize, AppError> {
        let after = self.model().last_change;
        let changes = self.store.changes_after(after, 1000).await?;
        let mut tree_changed = false;
        let mut reload: Vec<SourceKey> = Vec::new();
        for change in &changes {
            let body: serde_json::Value = serde_json::from_str(&change.payload).unwrap_or_default();
            let own = body["origin"].as_str() == Some(self.origin.as_ref());
            if !own {
                match change.kind.as_str() {
                    "items" => {
                        let now = self.now_seconds();
                        let items: Vec<ItemChange> = body["items"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(ItemChange::from_json)
                            .collect();
                        let mut model = self.model_mut();
                        for item in &items {
                            model.apply(item, Some(change.seq), now);
                        }
                    }
                    "directive" => {
                        let kind = body["kind"].as_str().and_then(ganglion_core::Kind::parse);
                        if let (Some(kind), Some(id)) = (kind, body["id"].as_i64()) {
                            reload.push(SourceKey {
                                kind,
                                source: id,
                                period: String::new(),
                            });
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
        for key in reload {
            self.reload_source(&key).await?;
        }
        if !changes.is_empty() {
            self.model_changed();
        }
        Ok(changes.len())
    }

    /// Reads a directive's source again after another server changed it: in memory
    /// while it is open, out of it once ended.
    async fn reload_source(&self, key: &SourceKey) -> Result<(), AppError> {
        let Some(id) = key.directive() else {
            return Ok(());
        };
        match self.store.directive(id).await? {
            Some(row) if row.state.is_open() => self.admit_source(key).await,
            Some(row) => {
                self.model_mut().update_directive(row);
                Ok(())
            }
            None => Ok(()),
        }
    }
}
