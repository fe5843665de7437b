//! Templates: which kinds of unit an organization has and which kind may sit under which.
//!
//! Templates are data. The ones that ship are TOML files embedded in the binary; the
//! chosen template is recorded in the database at `init`, and every write to the tree
//! is checked against it.

use serde::Deserialize;

/// The templates that ship with Ganglion, by name, as TOML text.
pub const BUILT_IN: &[(&str, &str)] = &[
    ("party", include_str!("../templates/party.toml")),
    ("union", include_str!("../templates/union.toml")),
    ("company", include_str!("../templates/company.toml")),
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("unknown template {0:?}; the built-in templates are party, union and company")]
    Unknown(String),
    #[error("template is not valid: {0}")]
    Invalid(String),
}

/// One kind of unit and where it may stand.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct KindRule {
    pub name: String,
    pub label: String,
    /// Whether a unit of this kind may stand at the top of the tree, without a parent.
    #[serde(default)]
    pub root: bool,
    /// The kinds a unit of this kind may sit under.
    #[serde(default)]
    pub parents: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Template {
    pub name: String,
    pub description: String,
    pub kinds: Vec<KindRule>,
}

/// Why a unit of some kind may not stand where it was asked to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlacementError {
    #[error("unknown kind {kind:?}; this organization's kinds are: {known}")]
    UnknownKind { kind: String, known: String },
    #[error("a unit of kind {kind:?} may not stand at the top of the tree")]
    NotARoot { kind: String },
    #[error("a unit of kind {kind:?} may not sit under a unit of kind {parent:?}{}", allowed_parents(.allowed))]
    NotUnder {
        kind: String,
        parent: String,
        allowed: Vec<String>,
    },
}

fn allowed_parents(allowed: &[String]) -> String {
    if allowed.is_empty() {
        String::new()
    } else {
        format!(" (it may sit under: {})", allowed.join(", "))
    }
}

/// The TOML text of the built-in template of that name.
pub fn built_in_text(name: &str) -> Result<&'static str, TemplateError> {
    BUILT_IN
        .iter()
        .find(|(known, _)| *known == name)
        .map(|(_, text)| *text)
        .ok_or_else(|| TemplateError::Unknown(name.to_owned()))
}

impl Template {
    /// The built-in template of that name.
    pub fn built_in(name: &str) -> Result<Self, TemplateError> {
        Self::from_toml(built_in_text(name)?)
    }

    /// Reads a template and checks that it is coherent: kinds unique, parents known, and
    /// at least one kind that may stand at the top.
    pub fn from_toml(text: &str) -> Result<Self, TemplateError> {
        let template: Template =
            toml::from_str(text).map_err(|error| TemplateError::Invalid(error.to_string()))?;
        let mut seen = std::collections::HashSet::new();
        for kind in &template.kinds {
            if !seen.insert(kind.name.as_str()) {
                return Err(TemplateError::Invalid(format!(
                    "kind {:?} is listed twice",
                    kind.name
                )));
            }
        }
        for kind in &template.kinds {
            if let Some(unknown) = kind.parents.iter().find(|p| !seen.contains(p.as_str())) {
                return Err(TemplateError::Invalid(format!(
                    "kind {:?} names an unknown parent kind {unknown:?}",
                    kind.name
                )));
            }
        }
        if !template.kinds.iter().any(|kind| kind.root) {
            return Err(TemplateError::Invalid(
                "no kind may stand at the top of the tree".into(),
            ));
        }
        Ok(template)
    }

    pub fn kind(&self, name: &str) -> Option<&KindRule> {
        self.kinds.iter().find(|kind| kind.name == name)
    }

    /// Checks that a unit of `kind` may stand under a unit of `parent_kind`, or at the top
    /// when `parent_kind` is `None`.
    pub fn check_placement(
        &self,
        kind: &str,
        parent_kind: Option<&str>,
    ) -> Result<(), PlacementError> {
        let rule = self.kind(kind).ok_or_else(|| PlacementError::UnknownKind {
            kind: kind.to_owned(),
            known: self
                .kinds
                .iter()
                .map(|k| k.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })?;
        match parent_kind {
            None if rule.root => Ok(()),
            None => Err(PlacementError::NotARoot {
                kind: kind.to_owned(),
            }),
            Some(parent) if rule.parents.iter().any(|p| p == parent) => Ok(()),
            Some(parent) => Err(PlacementError::NotUnder {
                kind: kind.to_owned(),
                parent: parent.to_owned(),
                allowed: rule.parents.clone(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_template_is_coherent() {
        for (name, _) in BUILT_IN {
            let template = Template::built_in(name).unwrap();
            assert_eq!(&template.name, name);
        }
        assert!(matches!(
            Template::built_in("guild"),
            Err(TemplateError::Unknown(_))
        ));
    }

    #[test]
    fn party_placement_rules() {
        let party = Template::built_in("party").unwrap();
        let cases = [
            ("centre", None, true),
            ("province", None, false),
            ("province", Some("centre"), true),
            ("city_county", Some("province"), true),
            ("city_county", Some("centre"), false),
            ("ri", Some("city_county"), true),
            ("cell", Some("ri"), true),
            ("cell", Some("sub_primary"), true),
            ("cell", Some("cell"), false),
            ("village", Some("centre"), false),
        ];
        for (kind, parent, allowed) in cases {
            assert_eq!(
                party.check_placement(kind, parent).is_ok(),
                allowed,
                "{kind} under {parent:?}"
            );
        }
    }

    #[test]
    fn incoherent_templates_are_refused() {
        let no_root = "name='x'\ndescription=''\n[[kinds]]\nname='a'\nlabel='A'\n";
        assert!(Template::from_toml(no_root).is_err());
        let unknown_parent =
            "name='x'\ndescription=''\n[[kinds]]\nname='a'\nlabel='A'\nroot=true\nparents=['b']\n";
        assert!(Template::from_toml(unknown_parent).is_err());
    }
}
