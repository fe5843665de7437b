//! Where a directive stands as a whole. Its assignments are tracked items (see
//! [`crate::tracking`]); the directive itself is drafted, issued, and ended by being
//! withdrawn or closed.

/// The state of a directive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DirectiveState {
    /// Written, not yet conveyed; it may still be edited.
    Draft,
    /// Conveyed: its assignments are being worked.
    Issued,
    /// Taken back; its assignments no longer move.
    Withdrawn,
    /// Its work concluded; its assignments no longer move.
    Closed,
}

impl DirectiveState {
    pub const ALL: [DirectiveState; 4] = [
        DirectiveState::Draft,
        DirectiveState::Issued,
        DirectiveState::Withdrawn,
        DirectiveState::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DirectiveState::Draft => "draft",
            DirectiveState::Issued => "issued",
            DirectiveState::Withdrawn => "withdrawn",
            DirectiveState::Closed => "closed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|state| state.as_str() == text)
    }

    /// Whether its items still move.
    pub fn is_open(self) -> bool {
        self == DirectiveState::Issued
    }

    /// Whether it was issued at all (and so has assignments).
    pub fn was_issued(self) -> bool {
        self != DirectiveState::Draft
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_have_one_spelling() {
        for state in DirectiveState::ALL {
            assert_eq!(DirectiveState::parse(state.as_str()), Some(state));
        }
        assert_eq!(DirectiveState::parse("Issued"), None);
    }
}
