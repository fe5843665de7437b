//! Assignments: a directive as it stands at one unit, worked through its kind's states
//! by the unit itself, sent back from above, and listed in the unit's inbox.
//!
//! A move is judged in the write that records it, against the assignment as it stands
//! there: reports are written many at a time (see the batch writer), and two reports on
//! one assignment in one write are judged one after the other.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use futures::future::BoxFuture;
use ganglion_core::tracking::NEVER;
use ganglion_core::{Action, DirectiveId, ItemId, Resource, TreeIndex, UnitId};
use ganglion_store::{
    AuditDraft, BatchTx, DirectiveRow, GuidanceRow, ItemEventRow, ItemMove, ItemRow, ProjectRow,
};

use super::views::{
    values_by_key, AssignmentView, GuidanceView, HistoryEntry, InboxItem, InboxQuery, MoveView,
    ProjectInfo,
};
use super::Directives;
use crate::page::{checked_limit, decode_number_cursor, encode_cursor, Page};
use crate::tracking::model::{deadline, instant};
use crate::tracking::{
    directive_metric_specs, parse_item_id, BatchJob, ItemChange, MetricSpec, Refusal, SourceFacts,
    SourceKey, Step, Transition, Written,
};
use crate::ErrorCode;
use crate::{clock, App, AppError, Audit, Ctx};

/// The notes on the path from the issuer down to `unit`, top first, out of all the
/// notes on its directive.
pub(crate) fn guidance_on_path(
    tree: &TreeIndex,
    notes: &[GuidanceRow],
    directive: DirectiveId,
    unit: UnitId,
) -> Vec<GuidanceView> {
    let mut path: Vec<(u16, &GuidanceRow)> = notes
        .iter()
        .filter(|note| note.directive == directive && tree.is_within(unit, note.unit))
        .map(|note| (tree.depth(note.unit).unwrap_or(0), note))
        .collect();
    path.sort_by_key(|(depth, note)| (*depth, note.id));
    path.into_iter()
        .map(|(_, note)| GuidanceView {
            id: note.id.to_string(),
            directive: note.directive.to_string(),
            unit: note.unit.to_string(),
            unit_name: note.unit_name.clone(),
            text: note.text.clone(),
            created_at: note.created_at.clone(),
        })
        .collect()
}

fn distinct<T: Copy + Eq + std::hash::Hash>(ids: impl IntoIterator<Item = T>) -> Vec<T> {
    let mut seen = HashSet::new();
    ids.into_iter().filter(|id| seen.insert(*id)).collect()
}

/// The values an item reports, by metric key, where they are not just a directive's
/// one metric (which `metric_value` shows).
fn shown_values(
    specs: &[MetricSpec],
    values: &[Option<f64>],
) -> std::collections::BTreeMap<String, f64> {
    if specs.len() == 1 && specs[0].key == "value" {
        return Default::default();
    }
    values_by_key(specs, values)
}

/// What an assignment's view is made of.
pub(crate) struct ViewParts<'a> {
    pub item: ItemRow,
    pub directive: &'a DirectiveRow,
    pub metrics: &'a [MetricSpec],
    pub guidance: Vec<GuidanceView>,
    pub history: Vec<ItemEventRow>,
    pub project: Option<ProjectRow>,
}

impl App {
    /// An assignment as `ctx` sees it, with the moves they may make now.
    pub(crate) fn compose_assignment(&self, ctx: &Ctx, parts: ViewParts<'_>) -> AssignmentView {
        let ViewParts {
            item,
            directive,
            metrics,
            guidance,
            history,
            project,
        } = parts;
        let workflow = item.kind.workflow();
        let history = history
            .into_iter()
            .map(|event| HistoryEntry {
                at: event.at,
                actor: event.actor,
                actor_name: event.actor_name,
                from: workflow.name(event.from_state).to_owned(),
                to: workflow.name(event.to_state).to_owned(),
                note: event.note,
                metric_value: event.metrics.first().copied().flatten(),
                metrics: shown_values(metrics, &event.metrics),
            })
            .collect();
        let moves: Vec<MoveView> = if directive.state.is_open() {
            let movers = self.movers(&self.tree(), ctx, &item);
            let mut seen = HashSet::new();
            workflow
                .moves_from(item.state, &movers)
                .filter(|m| seen.insert(m.to))
                .map(|m| MoveView {
                    to: workflow.name(m.to).to_owned(),
                    action: m.action.to_owned(),
                    reason: m.reason,
                })
                .collect()
        } else {
            Vec::new()
        };
        let due = item.due.unwrap_or(directive.due);
        let overdue = directive.state.is_open()
            && !workflow.is_done(item.state)
            && self.now_seconds() >= deadline(Some(due), item.due_at.as_deref());
        AssignmentView {
            id: item.id.to_string(),
            kind: directive.kind.as_str().to_owned(),
            directive: directive.id.to_string(),
            title: project
                .as_ref()
                .map_or_else(|| directive.title.clone(), |p| p.title.clone()),
            body: directive.body.clone(),
            issuer: directive.issuer.to_string(),
            unit: item.unit.to_string(),
            state: workflow.name(item.state).to_owned(),
            due: clock::format_date(due),
            overdue,
            done_at: item.done_at.clone(),
            metric_value: item.metrics.first().copied().flatten(),
            metrics: shown_values(metrics, &item.metrics),
            metric: directive.metric.as_ref().map(|metric| super::Metric {
                name: metric.name.clone(),
                unit: metric.unit.clone(),
                target_per_unit: metric.target_per_unit,
            }),
            project: project.map(|p| ProjectInfo {
                programme: p.programme.to_string(),
                year: p.year,
                kind: p.kind,
                title: p.title,
            }),
            guidance,
            history,
            next_states: moves.iter().map(|m| m.to.clone()).collect(),
            moves,
        }
    }
}

impl Directives<'_> {
    /// An assignment: readable by its unit and the units above it.
    pub async fn assignment(&self, ctx: &Ctx, id: &str) -> Result<AssignmentView, AppError> {
        let app = self.app;
        let (item, directive) = self.readable_assignment(ctx, id).await?;
        let notes = app.store.guidance_of(directive.id).await?;
        let guidance = guidance_on_path(&app.tree(), &notes, directive.id, item.unit);
        let history = app.store.item_events(item.id).await?;
        let project = app.store.project(item.id).await?;
        let metrics = app.metric_specs(&directive).await?;
        Ok(app.compose_assignment(
            ctx,
            ViewParts {
                item,
                directive: &directive,
                metrics: &metrics,
                guidance,
                history,
                project,
            },
        ))
    }

    async fn readable_assignment(
        &self,
        ctx: &Ctx,
        id: &str,
    ) -> Result<(ItemRow, DirectiveRow), AppError> {
        let app = self.app;
        app.require_signed_in(ctx)?;
        let id = parse_item_id(id, "assignment")?;
        let item = app
            .store
            .item(id)
            .await?
            .filter(|item| item.kind.is_directive_kind())
            .ok_or(AppError::NotFound { what: "assignment" })?;
        if !app.allowed(ctx, Action::Read, Resource::Unit(item.unit)) {
            return Err(AppError::NotFound { what: "assignment" });
        }
        let directive =
            DirectiveId::new(item.source).ok_or(AppError::NotFound { what: "directive" })?;
        let directive = app
            .store
            .directive(directive)
            .await?
            .ok_or(AppError::NotFound { what: "directive" })?;
        Ok((item, directive))
    }

    /// Moves an assignment. Its own unit works it forward (or blocks it, with a
    /// reason); a unit above may send finished work back, with a reason. Answered once
    /// the move is durable.
    pub async fn transition(
        &self,
        ctx: &Ctx,
        id: &str,
        input: Transition,
    ) -> Result<AssignmentView, AppError> {
        self.app.require_signed_in(ctx)?;
        let item = parse_item_id(id, "assignment")?;
        self.app
            .submit(AssignmentTransition {
                ctx: ctx.clone(),
                item,
                input,
            })
            .await
    }

    /// Many moves in one write, each judged and recorded as if it came alone; one
    /// commit for all. A refused one is answered and skipped; the others go on. Used
    /// where many reports arrive at once (the demo's progress).
    pub async fn transition_many(
        &self,
        ctx: &Ctx,
        jobs: Vec<(Ctx, String, Transition)>,
    ) -> Result<Vec<Result<(), AppError>>, AppError> {
        self.app.require_signed_in(ctx)?;
        let mut results: Vec<Result<(), AppError>> = Vec::with_capacity(jobs.len());
        let mut slots = Vec::with_capacity(jobs.len());
        let mut transitions = Vec::with_capacity(jobs.len());
        for (ctx, id, input) in jobs {
            match parse_item_id(&id, "assignment") {
                Ok(item) => {
                    slots.push(results.len());
                    results.push(Ok(()));
                    transitions.push(AssignmentTransition { ctx, item, input });
                }
                Err(error) => results.push(Err(error)),
            }
        }
        let answers = self.app.write_now(transitions).await?;
        for (slot, answer) in slots.into_iter().zip(answers) {
            if let Err(error) = answer {
                results[slot] = Err(error);
            }
        }
        Ok(results)
    }

    /// A unit's own assignments of live directives, of every kind: its inbox.
    pub async fn inbox(
        &self,
        ctx: &Ctx,
        unit: &str,
        query: InboxQuery,
    ) -> Result<Page<InboxItem>, AppError> {
        let app = self.app;
        let unit = app.readable_unit(ctx, unit, "id").await?;
        let limit = checked_limit(query.limit)?;
        let states = match &query.state {
            Some(text) => inbox_state(text)?,
            None => Vec::new(),
        };
        let before = decode_number_cursor::<i64>(query.cursor.as_deref())?;
        let mut rows = app
            .store
            .items_of_unit(unit.id, &states, before, limit + 1)
            .await?;
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let next_cursor = if more {
            rows.last().map(|(_, d)| encode_cursor(&d.id.to_string()))
        } else {
            None
        };
        let now = app.now_seconds();
        let mut items: Vec<InboxItem> = rows
            .into_iter()
            .map(|(item, directive)| {
                let workflow = item.kind.workflow();
                let due = item.due.unwrap_or(directive.due);
                let done = workflow.is_done(item.state);
                InboxItem {
                    id: item.id.to_string(),
                    kind: item.kind.as_str().to_owned(),
                    directive: directive.id.to_string(),
                    parent_directive: directive.parent.map(|p| p.to_string()),
                    title: directive.title.clone(),
                    issuer: directive.issuer.to_string(),
                    state: workflow.name(item.state).to_owned(),
                    due: clock::format_date(due),
                    overdue: !done && now >= deadline(Some(due), item.due_at.as_deref()),
                    done,
                    metric_value: item.metrics.first().copied().flatten(),
                    updated_at: item.updated_at,
                }
            })
            .collect();
        // Within the page: what is overdue first, then what is due soonest.
        items.sort_by(InboxItem::urgency);
        Ok(Page { items, next_cursor })
    }
}

/// A state named in an inbox's filter: the kinds whose workflow has a state of that
/// name, each with its index there.
fn inbox_state(text: &str) -> Result<Vec<(ganglion_core::Kind, u8)>, AppError> {
    let states: Vec<(ganglion_core::Kind, u8)> = ganglion_core::Kind::OF_DIRECTIVES
        .iter()
        .filter_map(|kind| Some((*kind, kind.workflow().state(text)?)))
        .collect();
    if states.is_empty() {
        return Err(AppError::invalid(
            ErrorCode::InvalidValue,
            "state",
            "not a state of an assignment",
        ));
    }
    Ok(states)
}

/// A move of an assignment (of a directive, a pledge or a project) for the batch
/// writer.
pub(crate) struct AssignmentTransition {
    pub ctx: Ctx,
    pub item: ItemId,
    pub input: Transition,
}

impl BatchJob for AssignmentTransition {
    type Answer = AssignmentView;

    fn ctx(&self) -> &Ctx {
        &self.ctx
    }

    fn write_batch<'a, 'w: 'a>(
        app: &'a App,
        tx: &'a mut BatchTx<'w>,
        jobs: &'a [&'a Self],
    ) -> BoxFuture<'a, Result<Written<AssignmentView>, AppError>> {
        Box::pin(write_transitions(app, tx, jobs))
    }
}

/// A move made: the item as it stands after it.
struct Made {
    job: usize,
    before: ItemRow,
    after: ItemRow,
    step: Step,
}

async fn write_transitions(
    app: &App,
    tx: &mut BatchTx<'_>,
    jobs: &[&AssignmentTransition],
) -> Result<Written<AssignmentView>, AppError> {
    let ids = distinct(jobs.iter().map(|job| job.item));
    let mut current = tx.items_by_ids(&ids).await?;
    current.retain(|_, item| item.kind.is_directive_kind());
    let directive_ids = distinct(
        current
            .values()
            .filter_map(|item| DirectiveId::new(item.source)),
    );
    let directives = tx.directives_by_ids(&directive_ids).await?;
    let specs = metric_specs_in_batch(app, tx, &directives).await?;
    let now = app.now_text();
    let mut answers: Vec<Option<Result<AssignmentView, AppError>>> =
        (0..jobs.len()).map(|_| None).collect();
    let mut made: Vec<Made> = Vec::with_capacity(jobs.len());
    let mut audits: Vec<AuditDraft> = Vec::with_capacity(jobs.len());
    for (index, job) in jobs.iter().enumerate() {
        let found = current.get(&job.item);
        let directive = found.and_then(|item| directives.get(&DirectiveId::new(item.source)?));
        let judged = match (found, directive) {
            (Some(item), Some(directive)) => {
                let metrics = specs.get(&directive.id).map_or(&[][..], |s| &s[..]);
                app.judge(
                    &job.ctx,
                    item,
                    &SourceFacts::of_directive(directive, metrics),
                    &job.input,
                )
            }
            _ => Err(AppError::NotFound { what: "assignment" }.into()),
        };
        match judged {
            Ok(step) => {
                let before = current[&job.item].clone();
                let after = ItemRow {
                    state: step.to,
                    metrics: step.metrics.clone(),
                    done_at: step.done_at.clone(),
                    updated_at: now.clone(),
                    ..before.clone()
                };
                audits.push(
                    app.audit_draft(
                        &job.ctx,
                        Audit::new(
                            "assignment.transition",
                            format!("assignment:{}", after.id),
                            Some(after.unit),
                        )
                        .after(&serde_json::json!({
                            "from": after.kind.workflow().name(step.from),
                            "to": after.kind.workflow().name(step.to),
                            "note": &step.note,
                            "metrics": &step.reported,
                        })),
                    ),
                );
                current.insert(after.id, after.clone());
                made.push(Made {
                    job: index,
                    before,
                    after,
                    step,
                });
            }
            Err(Refusal { error, denied }) => {
                if denied {
                    audits.push(app.audit_draft(
                        &job.ctx,
                        Audit::new(
                            "denied:assignment.transition",
                            format!("assignment:{}", job.item),
                            found.map(|item| item.unit),
                        ),
                    ));
                }
                answers[index] = Some(Err(error));
            }
        }
    }
    let actors: Vec<String> = made.iter().map(|m| jobs[m.job].ctx.actor.label()).collect();
    let moves: Vec<ItemMove<'_>> = made
        .iter()
        .zip(&actors)
        .map(|(m, actor)| ItemMove {
            item: m.before.id,
            kind: m.before.kind,
            source: m.before.source,
            from_state: m.step.from,
            to_state: m.step.to,
            metrics: &m.step.metrics,
            reported: &m.step.reported,
            done_at: m.step.done_at.as_deref(),
            note: &m.step.note,
            actor,
            actor_name: jobs[m.job].ctx.actor.name(),
            at: &now,
        })
        .collect();
    tx.move_items(&moves).await?;
    let changes: Vec<ItemChange> = made
        .iter()
        .map(|m| ItemChange::Set {
            key: SourceKey {
                kind: m.after.kind,
                source: m.after.source,
                period: m.after.period.clone(),
            },
            unit: m.after.unit,
            item: m.after.id,
            state: m.after.state,
            done_at: m
                .after
                .done_at
                .as_deref()
                .map_or(NEVER, |at| instant(Some(at))),
            metrics: m
                .after
                .metrics
                .iter()
                .map(|value| value.unwrap_or(f64::NAN))
                .collect(),
        })
        .collect();
    if !changes.is_empty() {
        // One change record for the whole write: the moves, in order.
        let items: Vec<serde_json::Value> = changes.iter().map(ItemChange::to_json).collect();
        let payload = app.change_payload(serde_json::json!({ "items": items }));
        tx.append_change("items", &payload, &now).await?;
    }
    tx.append_audits(audits).await?;
    let views = views_of_made(app, tx, jobs, &made, &directives, &specs).await?;
    for (m, view) in made.iter().zip(views) {
        answers[m.job] = Some(Ok(view));
    }
    Ok(Written {
        answers: answers
            .into_iter()
            .map(|answer| {
                answer.unwrap_or_else(|| Err(AppError::Internal("a move went unanswered".into())))
            })
            .collect(),
        changes,
    })
}

/// The metrics each directive's items report, read in the batch's write where the read
/// model does not hold them.
async fn metric_specs_in_batch(
    app: &App,
    tx: &mut BatchTx<'_>,
    directives: &HashMap<DirectiveId, DirectiveRow>,
) -> Result<HashMap<DirectiveId, Arc<[MetricSpec]>>, AppError> {
    let mut specs = HashMap::with_capacity(directives.len());
    let mut programmes = Vec::new();
    {
        let model = app.model();
        for (id, row) in directives {
            if let Some(source) = model.source(&SourceKey::of_directive(row)) {
                specs.insert(*id, source.metrics.clone());
            } else if row.programme.is_some() {
                programmes.push(*id);
            } else {
                specs.insert(*id, Arc::from(directive_metric_specs(row)));
            }
        }
    }
    for id in programmes {
        let row = &directives[&id];
        let Some((programme, _)) = row.programme else {
            continue;
        };
        let programme = tx.programmes_by_ids(&[programme]).await?;
        let metrics = programme
            .values()
            .next()
            .map(crate::features::programmes::metric_specs)
            .unwrap_or_default();
        specs.insert(id, Arc::from(metrics));
    }
    Ok(specs)
}

/// The views of moves just made, read in the write that made them.
async fn views_of_made(
    app: &App,
    tx: &mut BatchTx<'_>,
    jobs: &[&AssignmentTransition],
    made: &[Made],
    directives: &HashMap<DirectiveId, DirectiveRow>,
    specs: &HashMap<DirectiveId, Arc<[MetricSpec]>>,
) -> Result<Vec<AssignmentView>, AppError> {
    let ids = distinct(made.iter().map(|m| m.after.id));
    let directive_ids = distinct(made.iter().filter_map(|m| DirectiveId::new(m.after.source)));
    let histories: HashMap<ItemId, Vec<ItemEventRow>> = tx.events_of_items(&ids).await?;
    let notes = tx.guidance_of_directives(&directive_ids).await?;
    let projects = if directives.values().any(|d| d.programme.is_some()) {
        tx.projects_of_items(&ids).await?
    } else {
        HashMap::new()
    };
    // An item moved twice in one write: the first answer shows its history up to the
    // first move only.
    let mut later_moves: HashMap<ItemId, usize> = HashMap::new();
    let mut shown = vec![0; made.len()];
    for (index, m) in made.iter().enumerate().rev() {
        let later = later_moves.entry(m.after.id).or_default();
        let all = histories.get(&m.after.id).map_or(0, Vec::len);
        shown[index] = all.saturating_sub(*later);
        *later += 1;
    }
    let guidance: Vec<Vec<GuidanceView>> = {
        let tree = app.tree();
        made.iter()
            .map(|m| {
                DirectiveId::new(m.after.source).map_or_else(Vec::new, |directive| {
                    guidance_on_path(&tree, &notes, directive, m.after.unit)
                })
            })
            .collect()
    };
    let mut views = Vec::with_capacity(made.len());
    for ((m, shown), guidance) in made.iter().zip(shown).zip(guidance) {
        let Some(directive) = DirectiveId::new(m.after.source).and_then(|id| directives.get(&id))
        else {
            continue;
        };
        let mut history = histories.get(&m.after.id).cloned().unwrap_or_default();
        history.truncate(shown);
        let metrics = specs.get(&directive.id).map_or(&[][..], |s| &s[..]);
        views.push(app.compose_assignment(
            &jobs[m.job].ctx,
            ViewParts {
                item: m.after.clone(),
                directive,
                metrics,
                guidance,
                history,
                project: projects.get(&m.after.id).cloned(),
            },
        ));
    }
    Ok(views)
}
