//! Whom something is conveyed to: a rule over the tree (and over the posts people hold
//! in it), resolved when it is conveyed, and again later to reach only new matches.

use crate::{Role, UnitId};

/// The units (or people) something is conveyed to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Target {
    /// The top of the subtree it reaches, itself included.
    pub under: Option<UnitId>,
    /// Only units of these kinds (any kind when empty).
    pub kinds: Vec<String>,
    /// Only units carrying every one of these tags.
    pub tags: Vec<String>,
    /// Exactly these units (inside `under`), instead of every unit matching.
    pub units: Vec<UnitId>,
    /// To people rather than units: those holding a post of these roles and titles in
    /// the units matched.
    pub posts: Option<PostRule>,
}

/// Which posts reach their holder.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PostRule {
    /// Any of these roles (any role when empty).
    pub roles: Vec<Role>,
    /// Any of these titles, ignoring case (any title when empty).
    pub titles: Vec<String>,
}

impl Target {
    /// Whether it names its units one by one.
    pub fn is_explicit(&self) -> bool {
        !self.units.is_empty()
    }

    /// Whether it reaches every unit of its subtree, so that what it reached is known
    /// from the tree alone.
    pub fn is_whole_subtree(&self) -> bool {
        self.kinds.is_empty()
            && self.tags.is_empty()
            && self.units.is_empty()
            && self.posts.is_none()
    }
}
