//! Typed ids. The API shows every id as a string; inside, an id is a positive integer
//! wrapped in a type of its own so that a unit id can never be passed where another
//! kind of id is expected.

use std::fmt;
use std::str::FromStr;

/// The id of a unit of the organization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UnitId(i64);

impl UnitId {
    /// Wraps a raw id read from the store. Ids are always positive.
    pub fn new(raw: i64) -> Option<Self> {
        (raw > 0).then_some(Self(raw))
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for UnitId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An id as given by a client was not a positive decimal integer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid id")]
pub struct InvalidId;

impl FromStr for UnitId {
    type Err = InvalidId;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        // Reject signs, spaces and leading zeros so that every id has exactly one spelling.
        if text.is_empty() || text.len() > 18 || text.starts_with('0') {
            return Err(InvalidId);
        }
        if !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(InvalidId);
        }
        text.parse::<i64>()
            .ok()
            .and_then(Self::new)
            .ok_or(InvalidId)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_one_spelling() {
        assert_eq!("42".parse::<UnitId>().unwrap().get(), 42);
        for bad in [
            "",
            "0",
            "042",
            "-1",
            "+1",
            " 1",
            "1a",
            "99999999999999999999",
        ] {
            assert!(bad.parse::<UnitId>().is_err(), "{bad:?} should be refused");
        }
    }
}
