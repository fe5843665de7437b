//! The kinds of tracked items, each with its workflow.

use super::workflow::{self, Workflow};

/// What a tracked item is. Directives come in three kinds (a plain directive, a pledge
/// adopted at an event, a programme's project); their items are the assignments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Directive,
    Pledge,
    Project,
    Report,
    Invitation,
    Request,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::Directive,
        Kind::Pledge,
        Kind::Project,
        Kind::Report,
        Kind::Invitation,
        Kind::Request,
    ];

    /// The kinds a directive may be of.
    pub const OF_DIRECTIVES: [Kind; 3] = [Kind::Directive, Kind::Pledge, Kind::Project];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Directive => "directive",
            Kind::Pledge => "pledge",
            Kind::Project => "project",
            Kind::Report => "report",
            Kind::Invitation => "invitation",
            Kind::Request => "request",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }

    /// Whether a directive may be of this kind.
    pub fn is_directive_kind(self) -> bool {
        Self::OF_DIRECTIVES.contains(&self)
    }

    pub fn workflow(self) -> &'static Workflow {
        match self {
            Kind::Directive | Kind::Pledge => &workflow::DIRECTIVE,
            Kind::Project => &workflow::PROJECT,
            Kind::Report => &workflow::REPORT,
            Kind::Invitation => &workflow::INVITATION,
            Kind::Request => &workflow::REQUEST,
        }
    }

    /// What an overdue item counts as where everything overdue is gathered: an
    /// assignment of a plain directive is an `assignment`.
    pub fn attention_name(self) -> &'static str {
        match self {
            Kind::Directive => "assignment",
            other => other.as_str(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_have_one_spelling_and_a_workflow_each() {
        for kind in Kind::ALL {
            assert_eq!(Kind::parse(kind.as_str()), Some(kind));
            assert!(!kind.workflow().states.is_empty());
        }
        assert_eq!(Kind::parse("Directive"), None);
        assert_eq!(Kind::Project.workflow().name, "project");
        assert!(!Kind::Report.is_directive_kind());
    }
}
