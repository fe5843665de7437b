//! What crosses a door for programmes: inputs as the API takes them, views as it answers.

use serde::{Deserialize, Serialize};

use crate::features::directives::StateCounts;

/// A metric a programme's projects report (money, capacity), and how it rolls up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProgrammeMetric {
    /// How it is named in a move's `metrics`: lowercase letters, digits and `_`.
    pub key: String,
    pub name: String,
    /// E.g. "t/year", "beds".
    pub unit: String,
    /// `sum` (the default), `avg`, `min`, `max` or `last`.
    pub aggregate: Option<String>,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProgramme {
    pub owner: String,
    pub title: String,
    pub start_year: i32,
    /// How many years it runs, from `start_year` on.
    pub years: i32,
    pub description: Option<String>,
    pub metrics: Option<Vec<ProgrammeMetric>>,
}

/// The directive carrying one year's projects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ProgrammeYear {
    pub year: i32,
    pub directive: String,
    /// How many projects are scheduled for it.
    pub projects: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ProgrammeView {
    pub id: String,
    pub owner: String,
    pub owner_name: String,
    pub title: String,
    pub description: String,
    pub start_year: i32,
    pub years: i32,
    pub metrics: Vec<ProgrammeMetric>,
    /// One per year of the programme.
    pub directives: Vec<ProgrammeYear>,
    pub created_at: String,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProject {
    pub unit: String,
    pub year: i32,
    /// What is built: `factory`, `hospital`, `leisure_complex`.
    pub kind: String,
    pub title: String,
    /// `YYYY-MM-DD`; by default the year's last day.
    pub due: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ProjectView {
    pub id: String,
    pub programme: String,
    pub unit: String,
    pub unit_name: String,
    pub year: i32,
    pub kind: String,
    pub title: String,
    /// The assignment its milestones are moved on.
    pub assignment: String,
    /// The directive of its year.
    pub directive: String,
    pub state: String,
    pub due: String,
    pub overdue: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ProjectImportSummary {
    pub created: u64,
}

/// One year of a programme: how many projects were planned for it and where they stand.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct YearProgress {
    pub year: i32,
    pub directive: String,
    pub planned: u32,
    #[schema(value_type = std::collections::BTreeMap<String, u32>)]
    pub states: StateCounts,
    pub in_operation: u32,
    pub overdue: u32,
}

/// One child of the unit, over every year, and year by year.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ChildProgress {
    pub unit: String,
    pub name: String,
    pub code: String,
    pub planned: u32,
    #[schema(value_type = std::collections::BTreeMap<String, u32>)]
    pub states: StateCounts,
    pub in_operation: u32,
    pub overdue: u32,
    /// The years with projects under this child.
    pub years: Vec<ChildYear>,
}

/// One child's projects of one year.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ChildYear {
    pub year: i32,
    pub planned: u32,
    #[schema(value_type = std::collections::BTreeMap<String, u32>)]
    pub states: StateCounts,
    pub in_operation: u32,
    pub overdue: u32,
}

/// Plan against actual by year and by region.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ProgrammeProgress {
    pub programme: String,
    pub unit: String,
    pub years: Vec<YearProgress>,
    pub children: Vec<ChildProgress>,
}

/// The filters of a programme's list of projects.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ProjectQuery {
    /// Only projects under this unit.
    pub at: Option<String>,
    pub year: Option<i32>,
    /// Only projects at this milestone.
    pub state: Option<String>,
    /// Only projects building this.
    pub kind: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}
