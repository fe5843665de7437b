//! What crosses a door for honours: titles awarded to units.

use serde::{Deserialize, Serialize};

/// From one day to another, both included (`YYYY-MM-DD`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Period {
    pub from: String,
    pub to: String,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTitle {
    /// The unit honoured.
    pub unit: String,
    /// The title, e.g. "Three-Revolution Red Flag"; awarded again, it counts once more.
    pub name: String,
    /// The unit that awards it: a strict ancestor of `unit`, which the caller acts for.
    pub awarded_by: String,
    pub awarded_on: String,
    /// The period the title honours.
    pub period: Option<Period>,
    /// Why it is awarded.
    pub grounds: String,
}

/// Why an award is withdrawn.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Withdrawal {
    pub reason: String,
}

/// When and why an award was withdrawn.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Withdrawn {
    pub at: String,
    pub reason: String,
}

/// One award of a title to a unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AwardView {
    pub id: String,
    pub unit: String,
    pub unit_name: String,
    pub name: String,
    pub awarded_by: String,
    pub awarded_by_name: String,
    pub awarded_on: String,
    pub period: Option<Period>,
    pub grounds: String,
    /// Set once the award is withdrawn; it then no longer counts in `times`.
    pub withdrawn: Option<Withdrawn>,
    pub created_at: String,
}

/// An award just made, with how many times the unit now holds the title.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Awarded {
    #[serde(flatten)]
    pub award: AwardView,
    /// The awards of this title to this unit not withdrawn, this one included.
    pub times: u32,
}

/// A title as one unit holds it: how many times, and every award of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct TitleView {
    pub unit: String,
    pub unit_name: String,
    pub unit_code: String,
    pub name: String,
    /// The awards not withdrawn: 2 is "twice", 3 "three times".
    pub times: u32,
    /// The first award not withdrawn (the day the title was first won), if any.
    pub awarded_on: Option<String>,
    /// Every award, withdrawn ones included, oldest first.
    pub awards: Vec<AwardView>,
}

/// The filters of the list of titled units.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TitleQuery {
    /// Only this title (its exact name).
    pub name: Option<String>,
    /// Only units in this unit's subtree (a region).
    pub under: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// A title and how many units hold it now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct TitleName {
    pub name: String,
    pub units: u64,
}
