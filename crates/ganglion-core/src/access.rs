//! Who may see and do what: the one authorization predicate of Ganglion.
//!
//! Authority comes from posts and flows down the tree. A secretary or official of U
//! reads and acts on U and everything under it; a member of U reads U. Nothing of a
//! sibling or an ancestor is visible. A record may be owned by a unit and hidden from
//! the subtree of one of its descendants (a complaint about an official is owned by the
//! official's parent unit and hidden from the official's own unit): authority that comes
//! only from inside the hidden subtree does not reach it.
//!
//! Every door asks this predicate, and lists filter by it, so there is one notion of
//! "may see" everywhere. "Under" is decided by the [`TreeIndex`].

use crate::{TreeIndex, UnitId};

/// The kind of post a person holds in a unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Secretary,
    Official,
    Member,
}

impl Role {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "secretary" => Some(Role::Secretary),
            "official" => Some(Role::Official),
            "member" => Some(Role::Member),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Secretary => "secretary",
            Role::Official => "official",
            Role::Member => "member",
        }
    }

    /// Secretaries and officials act for their unit and what lies under it.
    pub fn has_authority(self) -> bool {
        matches!(self, Role::Secretary | Role::Official)
    }
}

/// A post held now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Post {
    pub unit: UnitId,
    pub role: Role,
}

/// Whoever is acting, as far as authorization cares: the instance administrator, or an
/// account with the posts its person holds now (none for an anonymous caller).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Principal {
    pub admin: bool,
    pub posts: Vec<Post>,
}

impl Principal {
    pub fn admin() -> Self {
        Self {
            admin: true,
            posts: Vec::new(),
        }
    }

    pub fn anonymous() -> Self {
        Self::default()
    }

    /// The units whose whole subtree this principal may act on.
    pub fn authority_units(&self) -> impl Iterator<Item = UnitId> + '_ {
        self.posts
            .iter()
            .filter(|post| post.role.has_authority())
            .map(|post| post.unit)
    }

    /// The units this principal may read without their subtrees (member posts).
    pub fn member_units(&self) -> impl Iterator<Item = UnitId> + '_ {
        self.posts
            .iter()
            .filter(|post| post.role == Role::Member)
            .map(|post| post.unit)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Read,
    Write,
}

/// What is acted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// A unit and what belongs to it plainly (its posts, its audit entries).
    Unit(UnitId),
    /// A record owned by `owner`, hidden from the subtree of `hidden_from` if given.
    Record {
        owner: UnitId,
        hidden_from: Option<UnitId>,
    },
    /// Things of the whole instance: top-level units, accounts.
    Instance,
}

/// Whether `principal` may do `action` on `resource`.
pub fn authorize(
    principal: &Principal,
    action: Action,
    resource: Resource,
    tree: &TreeIndex,
) -> bool {
    if principal.admin {
        return true;
    }
    match resource {
        Resource::Instance => false,
        Resource::Unit(unit) => {
            principal
                .authority_units()
                .any(|authority| tree.is_within(unit, authority))
                || (action == Action::Read
                    && tree.contains(unit)
                    && principal.member_units().any(|member| member == unit))
        }
        Resource::Record { owner, hidden_from } => principal.authority_units().any(|authority| {
            tree.is_within(owner, authority)
                && !hidden_from.is_some_and(|hidden| tree.is_within(authority, hidden))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    fn id(raw: i64) -> UnitId {
        UnitId::new(raw).unwrap()
    }

    /// The rule as SPEC.md states it, asked by walking up parent links.
    fn naive(
        parents: &HashMap<UnitId, Option<UnitId>>,
        principal: &Principal,
        action: Action,
        resource: Resource,
    ) -> bool {
        let under = |unit: UnitId, ancestor: UnitId| {
            let mut current = Some(unit);
            while let Some(u) = current {
                if u == ancestor {
                    return true;
                }
                current = parents.get(&u).copied().flatten();
            }
            false
        };
        if principal.admin {
            return true;
        }
        principal.posts.iter().any(|post| match resource {
            Resource::Instance => false,
            Resource::Unit(unit) => match post.role {
                Role::Secretary | Role::Official => under(unit, post.unit),
                Role::Member => action == Action::Read && unit == post.unit,
            },
            Resource::Record { owner, hidden_from } => {
                post.role.has_authority()
                    && under(owner, post.unit)
                    && hidden_from.is_none_or(|hidden| !under(post.unit, hidden))
            }
        })
    }

    fn role() -> impl Strategy<Value = Role> {
        prop_oneof![
            Just(Role::Secretary),
            Just(Role::Official),
            Just(Role::Member)
        ]
    }

    proptest! {
        // 200 random trees, each moved at random and asked 1,000 questions: over
        // 200,000 cases in all.
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn agrees_with_a_parent_walk_on_random_trees_and_moves(
            shape in proptest::collection::vec(any::<prop::sample::Index>(), 1..40),
            moves in proptest::collection::vec((any::<prop::sample::Index>(), any::<prop::sample::Index>()), 0..10),
            posts in proptest::collection::vec((any::<prop::sample::Index>(), role()), 0..4),
            questions in proptest::collection::vec(
                (any::<bool>(), any::<prop::sample::Index>(), proptest::option::of(any::<prop::sample::Index>()), 0..3u8),
                1000,
            ),
        ) {
            let mut parents: HashMap<UnitId, Option<UnitId>> = HashMap::new();
            let mut tree = TreeIndex::new();
            let mut units = vec![id(1)];
            tree.insert(id(1), None).unwrap();
            parents.insert(id(1), None);
            for (n, pick) in shape.iter().enumerate() {
                let unit = id(n as i64 + 2);
                let parent = *pick.get(&units);
                tree.insert(unit, Some(parent)).unwrap();
                parents.insert(unit, Some(parent));
                units.push(unit);
            }
            for (unit, parent) in moves {
                let (unit, parent) = (*unit.get(&units), *parent.get(&units));
                if tree.move_unit(unit, Some(parent)).is_ok() {
                    parents.insert(unit, Some(parent));
                }
            }
            let principal = Principal {
                admin: false,
                posts: posts.iter().map(|(unit, role)| Post { unit: *unit.get(&units), role: *role }).collect(),
            };
            for (write, target, hidden, kind) in questions {
                let action = if write { Action::Write } else { Action::Read };
                let resource = match kind {
                    0 => Resource::Unit(*target.get(&units)),
                    1 => Resource::Record { owner: *target.get(&units), hidden_from: hidden.map(|h| *h.get(&units)) },
                    _ => Resource::Instance,
                };
                prop_assert_eq!(
                    authorize(&principal, action, resource, &tree),
                    naive(&parents, &principal, action, resource),
                    "{:?} {:?} {:?}", principal, action, resource
                );
            }
        }
    }

    #[test]
    fn a_complaint_is_hidden_from_the_officials_own_subtree() {
        // centre 1 ─ province 2 ─ county 3 ─ primary 4
        let tree = TreeIndex::build([
            (id(1), None),
            (id(2), Some(id(1))),
            (id(3), Some(id(2))),
            (id(4), Some(id(3))),
        ])
        .unwrap();
        let complaint = Resource::Record {
            owner: id(2),
            hidden_from: Some(id(3)),
        };
        let official_of = |unit| Principal {
            admin: false,
            posts: vec![Post {
                unit: id(unit),
                role: Role::Official,
            }],
        };
        assert!(authorize(&official_of(1), Action::Read, complaint, &tree));
        assert!(authorize(&official_of(2), Action::Read, complaint, &tree));
        assert!(!authorize(&official_of(3), Action::Read, complaint, &tree));
        assert!(!authorize(&official_of(4), Action::Read, complaint, &tree));
        // A county official sees the county and below, never the province.
        assert!(authorize(
            &official_of(3),
            Action::Write,
            Resource::Unit(id(4)),
            &tree
        ));
        assert!(!authorize(
            &official_of(3),
            Action::Read,
            Resource::Unit(id(2)),
            &tree
        ));
        let member = Principal {
            admin: false,
            posts: vec![Post {
                unit: id(3),
                role: Role::Member,
            }],
        };
        assert!(authorize(
            &member,
            Action::Read,
            Resource::Unit(id(3)),
            &tree
        ));
        assert!(!authorize(
            &member,
            Action::Write,
            Resource::Unit(id(3)),
            &tree
        ));
        assert!(!authorize(
            &member,
            Action::Read,
            Resource::Unit(id(4)),
            &tree
        ));
    }
}
