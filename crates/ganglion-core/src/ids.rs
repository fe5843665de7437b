//! Typed ids. The API shows every id as a string; inside, an id is a positive integer
//! wrapped in a type of its own, so that a unit id can never be passed where a person's
//! is expected, and every id has exactly one spelling: `7`, never `+7`, `007` or ` 7`.

use std::fmt;
use std::str::FromStr;

/// An id as given by a client was not a positive decimal integer in its one spelling.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid id")]
pub struct InvalidId;

/// Reads a positive decimal integer with no sign, space or leading zero.
pub fn parse_raw_id(text: &str) -> Result<i64, InvalidId> {
    if text.is_empty() || text.len() > 18 || text.starts_with('0') {
        return Err(InvalidId);
    }
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(InvalidId);
    }
    text.parse::<i64>()
        .ok()
        .filter(|raw| *raw > 0)
        .ok_or(InvalidId)
}

/// Declares an id type: a positive `i64`, shown and parsed in one spelling.
macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(i64);

        impl $name {
            /// Wraps a raw id read from the store. Ids are always positive.
            pub fn new(raw: i64) -> Option<Self> {
                (raw > 0).then_some(Self(raw))
            }

            pub fn get(self) -> i64 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                parse_raw_id(text).map(Self)
            }
        }
    };
}

typed_id!(
    /// A unit of the organization.
    UnitId
);
typed_id!(
    /// A person.
    PersonId
);
typed_id!(
    /// A post a person holds in a unit.
    PostId
);
typed_id!(
    /// An account, a login of a person.
    AccountId
);
typed_id!(
    /// A directive (of any kind: directive, pledge, project).
    DirectiveId
);
typed_id!(
    /// A tracked item: an assignment of a directive, a project, a filing, an invitation
    /// or a request. Assignments are the items of directives.
    ItemId
);
typed_id!(
    /// A guidance note on a directive.
    GuidanceId
);
typed_id!(
    /// A confidential note.
    NoteId
);
typed_id!(
    /// A multi-year programme.
    ProgrammeId
);
typed_id!(
    /// A piece of good experience in the library.
    ExperienceId
);
typed_id!(
    /// One award of a title to a unit.
    AwardId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_one_spelling() {
        assert_eq!("42".parse::<UnitId>().unwrap().get(), 42);
        assert_eq!("7".parse::<DirectiveId>().unwrap().to_string(), "7");
        for bad in [
            "",
            "0",
            "042",
            "-1",
            "+1",
            " 1",
            "1 ",
            "1a",
            "1e3",
            "99999999999999999999",
        ] {
            assert!(bad.parse::<UnitId>().is_err(), "{bad:?} should be refused");
            assert!(bad.parse::<ItemId>().is_err(), "{bad:?} should be refused");
        }
    }
}
