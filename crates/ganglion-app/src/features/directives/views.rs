//! What crosses a door for directives and their assignments: the inputs as the API
//! takes them and the views as it answers.

use std::collections::BTreeMap;

use ganglion_core::tracking::{Tally, Workflow};
use serde::{Deserialize, Serialize, Serializer};

use crate::tracking::MetricSpec;

/// What a directive reaches: a subtree of the issuer narrowed by kinds and tags, or an
/// explicit list of units in the issuer's subtree.
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
    /// Exactly these units, each in the issuer's subtree, instead of `under`, `kinds`
    /// and `tags`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub units: Vec<String>,
}

/// A quantity each unit reports, with the target for each unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Metric {
    pub name: String,
    /// E.g. "t" for tonnes.
    pub unit: String,
    pub target_per_unit: f64,
}

/// A new directive (a draft until issued).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDirective {
    pub issuer: String,
    /// `directive` (the default), `pledge` or `project`.
    pub kind: Option<String>,
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
    /// `directive`, `pledge` or `project`.
    pub kind: String,
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
    /// The states its assignments pass through, in order.
    pub states: Vec<String>,
    /// The programme whose year of projects it carries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub programme: Option<String>,
    pub created_at: String,
    pub issued_at: Option<String>,
    pub ended_at: Option<String>,
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct GuidanceView {
    pub id: String,
    pub directive: String,
    pub unit: String,
    pub unit_name: String,
    pub text: String,
    pub created_at: String,
}

/// Counts per state, in the order of the kind's workflow: `{"conveyed": 3, …}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StateCounts(pub Vec<(&'static str, u32)>);

impl StateCounts {
    pub fn of(workflow: &Workflow, tally: &Tally) -> Self {
        Self(
            workflow
                .states
                .iter()
                .enumerate()
                .map(|(index, state)| (state.name, tally.states[index]))
                .collect(),
        )
    }

    /// The count of the state of that name; 0 for one the workflow does not have.
    pub fn get(&self, state: &str) -> u32 {
        self.0
            .iter()
            .find(|(name, _)| *name == state)
            .map_or(0, |(_, count)| *count)
    }
}

impl Serialize for StateCounts {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (state, count) in &self.0 {
            map.serialize_entry(state, count)?;
        }
        map.end()
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
    #[schema(value_type = BTreeMap<String, u32>)]
    pub states: StateCounts,
    /// Done, whether on time or late.
    pub done: u32,
    pub overdue: u32,
    pub metric: Option<MetricSum>,
}

/// A directive's progress over a unit's whole subtree, and for each child.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Rollup {
    pub directive: String,
    pub kind: String,
    pub unit: String,
    pub total: u32,
    #[schema(value_type = BTreeMap<String, u32>)]
    pub states: StateCounts,
    /// In a done state (`done`, `in_operation`).
    pub done: u32,
    /// Done after the due date.
    pub late: u32,
    /// Done by the due date.
    pub on_time: u32,
    /// Not done, and past the due date.
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
    /// The assignment lagging there.
    pub assignment: String,
    pub state: String,
    pub overdue: bool,
    pub metric_value: Option<f64>,
}

/// A unit at a chosen level of the tree (a province, a county, a primary committee)
/// with how its subtree stands on a directive: the groups that lag are ranked by the
/// share not done, then the number overdue, then the shortfall against the target.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct LaggingGroup {
    pub unit: String,
    pub name: String,
    pub code: String,
    /// Items in its subtree.
    pub total: u32,
    pub done: u32,
    pub overdue: u32,
    /// Of the items, the share not done, 0 to 1.
    pub not_done_share: f64,
    /// How far the metric's sum falls short of its target (`null` without a metric).
    pub shortfall: Option<f64>,
}

/// Counts per state at the end of one day.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct SeriesDay {
    pub date: String,
    #[schema(value_type = BTreeMap<String, u32>)]
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

/// A directive in a list: a unit's issued or received directives, a directive's
/// child plans.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct DirectiveSummary {
    pub id: String,
    pub kind: String,
    pub title: String,
    pub issuer: String,
    pub issuer_name: String,
    pub state: String,
    pub due: String,
    /// How many units received it.
    pub assignments: i64,
    /// Of those, how many are done.
    pub done: u32,
    pub overdue: u32,
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
    /// The value of the (first) metric reported with this move.
    pub metric_value: Option<f64>,
    /// Every value reported with this move, by metric key.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub metrics: BTreeMap<String, f64>,
}

/// A move the caller may make now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct MoveView {
    pub to: String,
    /// What the move is called: `acknowledge`, `send_back`.
    pub action: String,
    /// Whether it needs a reason in the note.
    pub reason: bool,
}

/// What a project is, for an assignment that is one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ProjectInfo {
    pub programme: String,
    pub year: i32,
    /// What is built: a factory, a hospital.
    pub kind: String,
    pub title: String,
}

/// A directive as it stands at one unit.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AssignmentView {
    pub id: String,
    /// The kind of its directive: `directive`, `pledge` or `project`.
    pub kind: String,
    pub directive: String,
    pub title: String,
    /// The issuer's text.
    pub body: String,
    pub issuer: String,
    pub unit: String,
    pub state: String,
    /// Its own due date.
    pub due: String,
    /// Past due and not done.
    pub overdue: bool,
    /// When it reached a done state.
    pub done_at: Option<String>,
    pub metric_value: Option<f64>,
    /// Every value it reports, by metric key.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub metrics: BTreeMap<String, f64>,
    pub metric: Option<Metric>,
    /// For a programme's project: what it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project: Option<ProjectInfo>,
    /// The notes of the units on the path from the issuer down to this unit, top first.
    pub guidance: Vec<GuidanceView>,
    pub history: Vec<HistoryEntry>,
    /// The states the caller may move it to now.
    pub next_states: Vec<String>,
    /// The same, with what each move is called.
    pub moves: Vec<MoveView>,
}

/// One line of an inbox.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct InboxItem {
    pub id: String,
    pub kind: String,
    pub directive: String,
    pub parent_directive: Option<String>,
    pub title: String,
    pub issuer: String,
    pub state: String,
    pub due: String,
    pub overdue: bool,
    pub done: bool,
    pub metric_value: Option<f64>,
    pub updated_at: String,
}

impl InboxItem {
    /// The order of an inbox: overdue first, then unfinished, then due soonest.
    pub fn urgency(a: &InboxItem, b: &InboxItem) -> std::cmp::Ordering {
        b.overdue
            .cmp(&a.overdue)
            .then(a.done.cmp(&b.done))
            .then(a.due.cmp(&b.due))
    }
}

/// The filters of a unit's inbox.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct InboxQuery {
    /// Only assignments in this state (of their kind's workflow).
    pub state: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// The values of an item by metric key.
pub(crate) fn values_by_key(specs: &[MetricSpec], values: &[Option<f64>]) -> BTreeMap<String, f64> {
    specs
        .iter()
        .zip(values)
        .filter_map(|(spec, value)| Some((spec.key.clone(), (*value)?)))
        .collect()
}
