//! What crosses a door for the experience library: inputs as the API takes them, views
//! as it answers.

use serde::{Deserialize, Serialize};

/// A link shown with an experience: a video, a photo, a document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Media {
    pub title: String,
    /// An `http://` or `https://` address.
    pub url: String,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewExperience {
    /// The unit that writes it: the caller acts for it.
    pub unit: String,
    pub title: String,
    pub body: String,
    /// Up to 16 tags: letters (of any script), digits, `-`, `_`, `:`, `.`; kept
    /// lowercase.
    pub tags: Option<Vec<String>>,
    /// The directive it came from, one the caller may see.
    pub directive: Option<String>,
    /// The programme it came from, one the caller may see.
    pub programme: Option<String>,
    /// The event (course, conference) it was shared at, one the caller may see.
    pub event: Option<String>,
    pub media: Option<Vec<Media>>,
    /// `organization` (the default): every account reads it; `subtree`: only the
    /// writing unit's subtree and those with authority over it.
    pub audience: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ExperienceView {
    pub id: String,
    pub unit: String,
    pub unit_name: String,
    pub title: String,
    pub body: String,
    pub tags: Vec<String>,
    pub audience: String,
    pub directive: Option<String>,
    pub programme: Option<String>,
    pub event: Option<String>,
    pub media: Vec<Media>,
    pub created_at: String,
}

/// One experience found, with an excerpt of its text around what matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ExperienceHit {
    pub id: String,
    pub unit: String,
    pub unit_name: String,
    pub title: String,
    pub tags: Vec<String>,
    pub audience: String,
    pub directive: Option<String>,
    pub programme: Option<String>,
    pub event: Option<String>,
    pub media: Vec<Media>,
    pub created_at: String,
    /// About 200 characters of the body around the first match, as HTML: the text
    /// escaped, each match in `<mark>…</mark>`, `…` where it was cut. Without a query,
    /// the body's beginning.
    pub snippet: String,
}

/// A page of experiences found, best first (or newest first without a query).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ExperienceResults {
    pub items: Vec<ExperienceHit>,
    pub next_cursor: Option<String>,
    /// How many experiences the caller may read match, on every page: all of them, or,
    /// with `total_exact` false, the first 1,000 (a search ranks the 1,000 newest that
    /// match; more words narrow it).
    pub total: u64,
    pub total_exact: bool,
}

/// The search and filters of the library.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExperienceQuery {
    /// Words to find, in Korean or English (at most 1,000 characters): every word must
    /// be there; a Korean word is found inside longer words, an English word in any
    /// inflection. The newest 1,000 experiences that match are ranked by relevance.
    /// Without `q`, the newest experiences; a `q` with nothing to search for (only
    /// punctuation) finds nothing.
    pub q: Option<String>,
    /// Only experiences with this tag.
    pub tag: Option<String>,
    /// Only experiences written in this unit's subtree.
    pub under: Option<String>,
    /// Only experiences from this directive.
    pub directive: Option<String>,
    /// Only experiences from this programme.
    pub programme: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// A tag of the library and how many experiences carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct TagCount {
    pub tag: String,
    pub experiences: u64,
}
