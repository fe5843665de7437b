//! Validated values of a unit. Each type's constructor is the only way to make one, so a
//! value that exists is a value that is valid ("parse, don't validate").

use std::fmt;

/// Why a value given for a unit was refused; the message is meant for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ValueError(pub String);

/// A unit's code: short, unique in the organization, safe in URLs, CSV files and logs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UnitCode(String);

impl UnitCode {
    pub const MAX_LEN: usize = 64;

    pub fn parse(text: &str) -> Result<Self, ValueError> {
        if text.is_empty() {
            return Err(ValueError("a code must not be empty".into()));
        }
        if text.len() > Self::MAX_LEN {
            return Err(ValueError(format!(
                "a code is at most {} characters",
                Self::MAX_LEN
            )));
        }
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
        if !text.chars().all(allowed) {
            return Err(ValueError(
                "a code may hold only ASCII letters, digits, '-', '_' and '.'".into(),
            ));
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UnitCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A unit's name as people read it, in any script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitName(String);

impl UnitName {
    pub const MAX_CHARS: usize = 200;

    pub fn parse(text: &str) -> Result<Self, ValueError> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(ValueError("a name must not be empty".into()));
        }
        if trimmed.chars().count() > Self::MAX_CHARS {
            return Err(ValueError(format!(
                "a name is at most {} characters",
                Self::MAX_CHARS
            )));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(ValueError(
                "a name must not contain control characters".into(),
            ));
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A label on a unit such as `rural` or a region code; lower case so that `Rural` and
/// `rural` are one tag.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(String);

impl Tag {
    pub const MAX_LEN: usize = 64;

    pub fn parse(text: &str) -> Result<Self, ValueError> {
        let tag = text.trim().to_ascii_lowercase();
        if tag.is_empty() {
            return Err(ValueError("a tag must not be empty".into()));
        }
        if tag.len() > Self::MAX_LEN {
            return Err(ValueError(format!(
                "a tag is at most {} characters",
                Self::MAX_LEN
            )));
        }
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.');
        if !tag.chars().all(allowed) {
            return Err(ValueError(format!(
                "tag {text:?} may hold only ASCII letters, digits, '-', '_', ':' and '.'"
            )));
        }
        Ok(Self(tag))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The tags of one unit: sorted, without repeats, at most [`Tags::MAX_COUNT`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tags(Vec<Tag>);

impl Tags {
    pub const MAX_COUNT: usize = 32;

    pub fn parse<'a>(texts: impl IntoIterator<Item = &'a str>) -> Result<Self, ValueError> {
        let mut tags = texts
            .into_iter()
            .map(Tag::parse)
            .collect::<Result<Vec<_>, _>>()?;
        tags.sort();
        tags.dedup();
        if tags.len() > Self::MAX_COUNT {
            return Err(ValueError(format!(
                "a unit has at most {} tags",
                Self::MAX_COUNT
            )));
        }
        Ok(Self(tags))
    }

    /// Reads the `;`-separated form used in CSV files; empty pieces are ignored.
    pub fn parse_list(text: &str) -> Result<Self, ValueError> {
        Self::parse(text.split(';').filter(|piece| !piece.trim().is_empty()))
    }

    /// The `;`-separated form used in CSV files and in the store.
    pub fn to_list(&self) -> String {
        self.0.iter().map(Tag::as_str).collect::<Vec<_>>().join(";")
    }

    pub fn iter(&self) -> impl Iterator<Item = &Tag> {
        self.0.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        assert!(UnitCode::parse("P-01.c_3").is_ok());
        for bad in ["", "a b", "가", "a/b", &"x".repeat(65)] {
            assert!(UnitCode::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn names_are_trimmed_and_may_be_korean() {
        assert_eq!(
            UnitName::parse("  청산리 위원회 ").unwrap().as_str(),
            "청산리 위원회"
        );
        assert!(UnitName::parse("   ").is_err());
        assert!(UnitName::parse("a\u{7}b").is_err());
        assert!(UnitName::parse(&"가".repeat(200)).is_ok());
        assert!(UnitName::parse(&"가".repeat(201)).is_err());
    }

    #[test]
    fn tags_are_canonical() {
        let tags = Tags::parse_list("rural; Region:N1;;rural").unwrap();
        assert_eq!(tags.to_list(), "region:n1;rural");
        assert!(Tags::parse_list("").unwrap().is_empty());
        assert!(Tags::parse_list("a b").is_err());
        let many: Vec<String> = (0..33).map(|i| format!("t{i}")).collect();
        assert!(Tags::parse(many.iter().map(String::as_str)).is_err());
    }
}
