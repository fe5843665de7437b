//! Assignments: a directive as it stands at one unit, worked through its states by the
//! unit itself, sent back from above, and listed in the unit's inbox.
//!
//! A transition is judged in the write that records it, against the assignment as it
//! stands there: reports are written many at a time (see `group_commit`), and two
//! reports on one assignment in one write are judged one after the other.

use crate::ErrorCode;
use std::collections::{HashMap, HashSet};

use ganglion_core::directive::{allowed_transitions, check_transition, TransitionError};
use ganglion_core::{Action, AssignmentState, Mover, Resource, TreeIndex, UnitId};
use ganglion_store::{
    AssignmentEventRow, AssignmentMove, AssignmentRow, AuditDraft, BatchTx, DirectiveRow,
    GuidanceRow,
};
use serde::{Deserialize, Serialize};

use crate::directives::{check_text, DirectiveView, Metric};
use crate::page::{checked_limit, decode_number_cursor, encode_cursor, Page};
use crate::{App, AppError, Audit, Ctx};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct GuidanceView {
    pub id: String,
    pub directive: String,
    pub unit: String,
    pub unit_name: String,
    pub text: String,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct HistoryEntry {
    pub at: String,
    /// The actor as the audit trail names them: `account:7`, `operator`.
    pub actor: String,
    /// The actor's name when they acted: the account holder's, or the account's login
    /// when it names no person.
    pub actor_name: Option<String>,
    pub from: String,
    pub to: String,
    pub note: String,
    pub metric_value: Option<f64>,
}

/// A directive as it stands at one unit.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AssignmentView {
    pub id: String,
    pub directive: String,
    pub title: String,
    /// The issuer's text.
    pub body: String,
    pub issuer: String,
    pub unit: String,
    pub state: String,
    pub due: String,
    /// Past due and not done.
    pub overdue: bool,
    pub metric_value: Option<f64>,
    pub metric: Option<Metric>,
    /// The notes of the units on the path from the issuer down to this unit, top first.
    pub guidance: Vec<GuidanceView>,
    pub history: Vec<HistoryEntry>,
    /// The states the caller may move it to now.
    pub next_states: Vec<String>,
}

/// One line of an inbox.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct InboxItem {
    pub id: String,
    pub directive: String,
    pub parent_directive: Option<String>,
    pub title: String,
    pub issuer: String,
    pub state: String,
    pub due: String,
    pub overdue: bool,
    pub metric_value: Option<f64>,
    pub updated_at: String,
}

impl InboxItem {
    /// The order of an inbox: overdue first, then unfinished, then due soonest.
    pub fn urgency(a: &InboxItem, b: &InboxItem) -> std::cmp::Ordering {
        b.overdue
            .cmp(&a.overdue)
            .then((a.state == "done").cmp(&(b.state == "done")))
            .then(a.due.cmp(&b.due))
    }
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Transition {
    /// The state to move to.
    pub to: String,
    /// Why; required for `blocked` and for sending work back.
    pub note: Option<String>,
    /// The metric reported with this change.
    pub metric_value: Option<f64>,
}

/// The filters of a unit's inbox.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct InboxQuery {
    /// Only assignments in this state.
    pub state: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

const MAX_NOTE_CHARS: usize = 2_000;

fn state_error(error: TransitionError) -> AppError {
    match error {
        TransitionError::NotAllowed { .. } => {
            AppError::invalid(ErrorCode::TransitionNotAllowed, "to", error.to_string())
        }
        TransitionError::ReasonRequired(message) => {
            AppError::invalid(ErrorCode::ReasonRequired, "note", message)
        }
    }
}

fn parse_assignment_id(text: &str) -> Result<i64, AppError> {
    text.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or(AppError::NotFound { what: "assignment" })
}

/// A transition as asked, to be judged in the write that records it.
pub(crate) struct TransitionRequest {
    pub ctx: Ctx,
    pub assignment: i64,
    pub input: Transition,
}

/// A transition made: the assignment as it stands after it, and its directive.
pub(crate) struct MadeTransition {
    pub moved: AssignmentRow,
    pub directive: DirectiveRow,
}

/// A transition found allowed.
struct Step {
    from: AssignmentState,
    to: AssignmentState,
    note: String,
    metric_value: Option<f64>,
}

/// A transition refused, and whether the refusal goes into the trail as a denial.
struct Refusal {
    error: AppError,
    denied: bool,
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
    fn denied() -> Self {
        Self {
            error: AppError::Forbidden,
            denied: true,
        }
    }
}

/// The notes on the path from the issuer down to `unit`, top first, out of all the
/// notes on its directive.
pub(crate) fn guidance_on_path(
    tree: &TreeIndex,
    notes: &[GuidanceRow],
    directive: i64,
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

/// The moves `(directive, unit, state, metric)` a change record of kind `assignments`
/// carries; what does not read as one is skipped.
pub(crate) fn moves_in_change(
    body: &serde_json::Value,
) -> impl Iterator<Item = (i64, UnitId, u8, Option<f64>)> + '_ {
    body["moves"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|entry| {
            let directive = entry.get(0)?.as_i64()?;
            let unit = UnitId::new(entry.get(1)?.as_i64()?)?;
            let state = u8::try_from(entry.get(2)?.as_u64()?).ok()?;
            Some((
                directive,
                unit,
                state,
                entry.get(3).and_then(|m| m.as_f64()),
            ))
        })
}

/// What the read model keeps of a moved assignment.
pub(crate) fn moved_parts(assignment: &AssignmentRow) -> (i64, UnitId, u8, Option<f64>) {
    (
        assignment.directive,
        assignment.unit,
        assignment.state,
        assignment.metric_value,
    )
}

fn distinct(ids: impl IntoIterator<Item = i64>) -> Vec<i64> {
    let mut seen = HashSet::new();
    ids.into_iter().filter(|id| seen.insert(*id)).collect()
}

impl App {
    /// Who moves an assignment of `unit`: its own unit, a unit above, or nobody.
    fn mover(&self, ctx: &Ctx, unit: UnitId) -> Option<Mover> {
        let own = ctx
            .principal
            .posts
            .iter()
            .any(|post| post.unit == unit && post.role.has_authority());
        if own {
            Some(Mover::OwnUnit)
        } else if self.allowed(ctx, Action::Write, Resource::Unit(unit)) {
            Some(Mover::Above)
        } else {
            None
        }
    }

    pub(crate) fn overdue(&self, row: &DirectiveRow, state: AssignmentState) -> bool {
        state != AssignmentState::Done && row.state == "issued" && self.today_text() > row.due
    }

    pub(crate) fn compose_view(
        &self,
        ctx: &Ctx,
        assignment: AssignmentRow,
        directive: DirectiveRow,
        guidance: Vec<GuidanceView>,
        history: Vec<ganglion_store::AssignmentEventRow>,
    ) -> AssignmentView {
        let state =
            AssignmentState::from_byte(assignment.state).unwrap_or(AssignmentState::Conveyed);
        let history = history
            .into_iter()
            .map(|event| HistoryEntry {
                at: event.at,
                actor: event.actor,
                actor_name: event.actor_name,
                from: state_name(event.from_state),
                to: state_name(event.to_state),
                note: event.note,
                metric_value: event.metric_value,
            })
            .collect();
        let next_states = if directive.state == "issued" {
            self.mover(ctx, assignment.unit)
                .map(|mover| {
                    allowed_transitions(state, mover)
                        .into_iter()
                        .map(|s| s.as_str().to_owned())
                        .collect()
                })
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        let view = DirectiveView::from(&directive);
        AssignmentView {
            id: assignment.id.to_string(),
            directive: directive.id.to_string(),
            title: directive.title.clone(),
            body: directive.body.clone(),
            issuer: directive.issuer.to_string(),
            unit: assignment.unit.to_string(),
            state: state.as_str().to_owned(),
            due: directive.due.clone(),
            overdue: self.overdue(&directive, state),
            metric_value: assignment.metric_value,
            metric: view.metric,
            guidance,
            history,
            next_states,
        }
    }

    /// An assignment: readable by its unit and the units above it.
    pub async fn assignment(&self, ctx: &Ctx, id: &str) -> Result<AssignmentView, AppError> {
        let (assignment, directive) = self.readable_assignment(ctx, id).await?;
        let notes = self.store.guidance_of(directive.id).await?;
        let guidance = guidance_on_path(&self.tree(), &notes, directive.id, assignment.unit);
        let history = self.store.assignment_events(assignment.id).await?;
        Ok(self.compose_view(ctx, assignment, directive, guidance, history))
    }

    async fn readable_assignment(
        &self,
        ctx: &Ctx,
        id: &str,
    ) -> Result<(AssignmentRow, DirectiveRow), AppError> {
        self.require_signed_in(ctx)?;
        let id = parse_assignment_id(id)?;
        let assignment = self
            .store
            .assignment(id)
            .await?
            .ok_or(AppError::NotFound { what: "assignment" })?;
        if !self.allowed(ctx, Action::Read, Resource::Unit(assignment.unit)) {
            return Err(AppError::NotFound { what: "assignment" });
        }
        let directive = self
            .store
            .directive(assignment.directive)
            .await?
            .ok_or(AppError::NotFound { what: "directive" })?;
        Ok((assignment, directive))
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
        self.require_signed_in(ctx)?;
        let assignment = parse_assignment_id(id)?;
        self.submit_transition(TransitionRequest {
            ctx: ctx.clone(),
            assignment,
            input,
        })
        .await
    }

    /// Many transitions in one write, each judged and recorded as if it came alone;
    /// one commit for all. A refused one is answered and skipped; the others go on.
    /// Used where many reports arrive at once (the demo's progress).
    pub async fn transition_many(
        &self,
        jobs: Vec<(Ctx, String, Transition)>,
    ) -> Result<Vec<Result<(), AppError>>, AppError> {
        let mut results: Vec<Result<(), AppError>> = Vec::with_capacity(jobs.len());
        let mut slots = Vec::with_capacity(jobs.len());
        let mut requests = Vec::with_capacity(jobs.len());
        for (ctx, id, input) in jobs {
            match parse_assignment_id(&id) {
                Ok(assignment) => {
                    slots.push(results.len());
                    results.push(Ok(()));
                    requests.push(TransitionRequest {
                        ctx,
                        assignment,
                        input,
                    });
                }
                Err(error) => results.push(Err(error)),
            }
        }
        let requests: Vec<&TransitionRequest> = requests.iter().collect();
        let mut tx = self.store.write_batch().await?;
        let outcomes = self.make_transitions(&mut tx, &requests).await?;
        crate::group_commit::durable(Some(tx.commit().await?)).await?;
        let mut made = Vec::new();
        for (slot, outcome) in slots.into_iter().zip(outcomes) {
            match outcome {
                Ok(transition) => made.push(transition.moved),
                Err(error) => results[slot] = Err(error),
            }
        }
        self.apply_assignments(made.iter().map(moved_parts));
        Ok(results)
    }

    /// Judges and writes transitions in one write, in the order given: each against
    /// the assignment as the ones before it left it. Writes the history entries, the
    /// assignments' new states, the change feed and the audit entries (denials too);
    /// the read model is the caller's to update once the write is committed.
    pub(crate) async fn make_transitions(
        &self,
        tx: &mut BatchTx<'_>,
        requests: &[&TransitionRequest],
    ) -> Result<Vec<Result<MadeTransition, AppError>>, AppError> {
        let ids = distinct(requests.iter().map(|request| request.assignment));
        let (mut current, directives) = tx.assignments_with_directives(&ids).await?;
        let now = self.now_text();
        let mut outcomes = Vec::with_capacity(requests.len());
        let mut steps: Vec<(usize, AssignmentRow, Step)> = Vec::with_capacity(requests.len());
        let mut audits: Vec<AuditDraft> = Vec::with_capacity(requests.len());
        for (index, request) in requests.iter().enumerate() {
            let found = current.get(&request.assignment);
            let directive = found.and_then(|assignment| directives.get(&assignment.directive));
            let judged = match (found, directive) {
                (Some(assignment), Some(directive)) => self.judge(request, assignment, directive),
                _ => Err(AppError::NotFound { what: "assignment" }.into()),
            };
            match judged {
                Ok(step) => {
                    let before = current[&request.assignment].clone();
                    let moved = AssignmentRow {
                        state: step.to as u8,
                        metric_value: step.metric_value,
                        updated_at: now.clone(),
                        ..before.clone()
                    };
                    audits.push(
                        self.audit_draft(
                            &request.ctx,
                            Audit::new(
                                "assignment.transition",
                                format!("assignment:{}", moved.id),
                                Some(moved.unit),
                            )
                            .after(&serde_json::json!({
                                "from": step.from.as_str(),
                                "to": step.to.as_str(),
                                "note": &step.note,
                                "metric_value": step.metric_value,
                            })),
                        ),
                    );
                    outcomes.push(Ok(MadeTransition {
                        moved: moved.clone(),
                        directive: directives[&moved.directive].clone(),
                    }));
                    current.insert(moved.id, moved);
                    steps.push((index, before, step));
                }
                Err(refusal) => {
                    if refusal.denied {
                        let unit = found.map(|assignment| assignment.unit);
                        audits.push(self.audit_draft(
                            &request.ctx,
                            Audit::new(
                                "denied:assignment.transition",
                                format!("assignment:{}", request.assignment),
                                unit,
                            ),
                        ));
                    }
                    outcomes.push(Err(refusal.error));
                }
            }
        }
        let actors: Vec<String> = steps
            .iter()
            .map(|(index, _, _)| requests[*index].ctx.actor.label())
            .collect();
        let moves: Vec<AssignmentMove<'_>> = steps
            .iter()
            .zip(&actors)
            .map(|((index, before, step), actor)| AssignmentMove {
                assignment: before.id,
                directive: before.directive,
                from_state: step.from as u8,
                to_state: step.to as u8,
                metric_value: step.metric_value,
                note: &step.note,
                actor,
                actor_name: requests[*index].ctx.actor.name(),
                at: &now,
            })
            .collect();
        tx.move_assignments(&moves).await?;
        if !steps.is_empty() {
            // One change record for the whole write: the moves, in order.
            let moves: Vec<(i64, i64, u8, Option<f64>)> = steps
                .iter()
                .map(|(_, before, step)| {
                    (
                        before.directive,
                        before.unit.get(),
                        step.to as u8,
                        step.metric_value,
                    )
                })
                .collect();
            let payload = self.change_payload(serde_json::json!({ "moves": moves }));
            tx.append_change("assignments", &payload, &now).await?;
        }
        tx.append_audits(audits).await?;
        Ok(outcomes)
    }

    /// Whether the caller may move this assignment to the state asked, as it stands.
    fn judge(
        &self,
        request: &TransitionRequest,
        assignment: &AssignmentRow,
        directive: &DirectiveRow,
    ) -> Result<Step, Refusal> {
        let ctx = &request.ctx;
        self.require_signed_in(ctx)?;
        if !self.allowed(ctx, Action::Read, Resource::Unit(assignment.unit)) {
            return Err(AppError::NotFound { what: "assignment" }.into());
        }
        let mover = self
            .mover(ctx, assignment.unit)
            .ok_or_else(Refusal::denied)?;
        let input = &request.input;
        let to = AssignmentState::parse(&input.to).ok_or_else(|| {
            AppError::invalid(
                ErrorCode::InvalidValue,
                "to",
                "a state is conveyed, acknowledged, planned, in_progress, done or blocked",
            )
        })?;
        let note = check_text(
            "note",
            input.note.as_deref().unwrap_or_default(),
            MAX_NOTE_CHARS,
            false,
        )?;
        if let Some(value) = input.metric_value {
            if directive.metric_name.is_none() {
                return Err(AppError::invalid(
                    ErrorCode::NoMetric,
                    "metric_value",
                    "this directive has no metric to report",
                )
                .into());
            }
            if !value.is_finite() || value < 0.0 {
                return Err(AppError::invalid(
                    ErrorCode::InvalidValue,
                    "metric_value",
                    "a metric value is a number, zero or more",
                )
                .into());
            }
        }
        if directive.state != "issued" {
            return Err(AppError::Conflict {
                code: ErrorCode::DirectiveNotOpen,
                message: format!(
                    "this directive is {}; its assignments no longer move",
                    directive.state
                ),
            }
            .into());
        }
        let from = AssignmentState::from_byte(assignment.state)
            .ok_or_else(|| AppError::Internal("a stored assignment has no state".into()))?;
        if mover == Mover::Above && !allowed_transitions(from, Mover::Above).contains(&to) {
            // Working an assignment forward is its own unit's business: above, the only
            // move is sending finished work back.
            return Err(Refusal::denied());
        }
        check_transition(from, to, mover, Some(&note)).map_err(state_error)?;
        Ok(Step {
            from,
            to,
            note,
            metric_value: input.metric_value.or(assignment.metric_value),
        })
    }

    /// Records committed moves `(directive, unit, state, metric)` in the read model,
    /// and tells those who watch it.
    pub(crate) fn apply_assignments(
        &self,
        moved: impl IntoIterator<Item = (i64, UnitId, u8, Option<f64>)>,
    ) {
        let mut any = false;
        {
            let tree = self.tree();
            let mut model = self.model_mut();
            for (directive, unit, state, metric) in moved {
                any = true;
                let (Some(state), Some(position)) =
                    (AssignmentState::from_byte(state), tree.position(unit))
                else {
                    continue;
                };
                if model.current(directive, &tree).is_some() {
                    if let Some(live) = model.directives.get_mut(&directive) {
                        live.columns.set(position, state, metric.unwrap_or(0.0));
                    }
                }
            }
        }
        if any {
            self.model_changed();
        }
    }

    /// The views of transitions just made, read in the write that made them.
    pub(crate) async fn views_of_made(
        &self,
        tx: &mut BatchTx<'_>,
        made: Vec<(&Ctx, MadeTransition)>,
    ) -> Result<Vec<AssignmentView>, AppError> {
        let ids = distinct(made.iter().map(|(_, m)| m.moved.id));
        let directive_ids = distinct(made.iter().map(|(_, m)| m.directive.id));
        let histories: HashMap<i64, Vec<AssignmentEventRow>> =
            tx.events_of_assignments(&ids).await?;
        let notes = tx.guidance_of_directives(&directive_ids).await?;
        // An assignment moved twice in one write: the first answer shows its history
        // up to the first move only.
        let mut later_moves: HashMap<i64, usize> = HashMap::new();
        let mut shown = vec![0; made.len()];
        for (index, (_, m)) in made.iter().enumerate().rev() {
            let later = later_moves.entry(m.moved.id).or_default();
            let all = histories.get(&m.moved.id).map_or(0, Vec::len);
            shown[index] = all.saturating_sub(*later);
            *later += 1;
        }
        let tree = self.tree();
        let parts: Vec<_> = made
            .into_iter()
            .zip(shown)
            .map(|((ctx, m), shown)| {
                let guidance = guidance_on_path(&tree, &notes, m.directive.id, m.moved.unit);
                let mut history = histories.get(&m.moved.id).cloned().unwrap_or_default();
                history.truncate(shown);
                (ctx, m, guidance, history)
            })
            .collect();
        drop(tree);
        Ok(parts
            .into_iter()
            .map(|(ctx, m, guidance, history)| {
                self.compose_view(ctx, m.moved, m.directive, guidance, history)
            })
            .collect())
    }

    /// A unit's own assignments of live directives: its inbox, newest first.
    pub async fn unit_assignments(
        &self,
        ctx: &Ctx,
        unit: &str,
        query: InboxQuery,
    ) -> Result<Page<InboxItem>, AppError> {
        let unit = self.readable_unit(ctx, unit, "id").await?;
        let limit = checked_limit(query.limit)?;
        let state = match &query.state {
            Some(text) => Some(AssignmentState::parse(text).ok_or_else(|| {
                AppError::invalid(
                    ErrorCode::InvalidValue,
                    "state",
                    "not a state of an assignment",
                )
            })? as u8),
            None => None,
        };
        let before = decode_number_cursor::<i64>(query.cursor.as_deref())?;
        let mut rows = self
            .store
            .assignments_of_unit(unit.id, state, before, limit + 1)
            .await?;
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let next_cursor = if more {
            rows.last().map(|(_, d)| encode_cursor(&d.id.to_string()))
        } else {
            None
        };
        let mut items: Vec<InboxItem> = rows
            .into_iter()
            .map(|(assignment, directive)| {
                let state = AssignmentState::from_byte(assignment.state)
                    .unwrap_or(AssignmentState::Conveyed);
                InboxItem {
                    id: assignment.id.to_string(),
                    directive: directive.id.to_string(),
                    parent_directive: directive.parent.map(|p| p.to_string()),
                    title: directive.title.clone(),
                    issuer: directive.issuer.to_string(),
                    state: state.as_str().to_owned(),
                    due: directive.due.clone(),
                    overdue: self.overdue(&directive, state),
                    metric_value: assignment.metric_value,
                    updated_at: assignment.updated_at,
                }
            })
            .collect();
        // Within the page: what is overdue first, then what is due soonest.
        items.sort_by(InboxItem::urgency);
        Ok(Page { items, next_cursor })
    }
}

fn state_name(byte: u8) -> String {
    AssignmentState::from_byte(byte)
        .map(|s| s.as_str().to_owned())
        .unwrap_or_default()
}
