//! The tree index: every unit numbered in pre-order, so that a unit's whole subtree is
//! one contiguous range of positions.
//!
//! "Is V under U" is then two integer comparisons, and "everything under U" is one slice
//! of [`TreeIndex::order`]. Authorization and roll-ups are built on exactly this, so the
//! organization has one notion of "below" everywhere.
//!
//! Children are kept in ascending id order, which is also the order in which the store
//! lists a subtree, so positions here and listings there agree.
//!
//! Adding and removing a leaf shifts the positions after it (a pass over flat arrays);
//! moving a subtree renumbers the whole tree. Both are linear, which is milliseconds at
//! a million units, and both are rare next to reads.

use std::ops::Range;

use crate::UnitId;

const NO_SLOT: u32 = u32::MAX;

/// Why the tree index refused a change; each mirrors a rule the use cases enforce with a
/// clearer message before the index is ever asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoveError {
    #[error("unit {0} is not in the tree")]
    UnknownUnit(UnitId),
    #[error("unit {0} is already in the tree")]
    DuplicateUnit(UnitId),
    #[error("moving unit {unit} under {parent} would make a cycle")]
    Cycle { unit: UnitId, parent: UnitId },
    #[error("unit {0} still has units under it")]
    HasChildren(UnitId),
    #[error("units {0:?} are not connected to a root: their parents form a cycle")]
    Unreachable(Vec<UnitId>),
}

/// Ids are handed out densely from 1, so a vector indexed by id finds a unit's slot
/// with one memory access; a hash map costs several times that at a million units.
#[derive(Debug, Clone, Default)]
struct SlotMap {
    slots: Vec<u32>,
}

impl SlotMap {
    fn get(&self, unit: UnitId) -> Option<u32> {
        let slot = *self.slots.get(usize::try_from(unit.get()).ok()?)?;
        (slot != NO_SLOT).then_some(slot)
    }

    fn contains_key(&self, unit: &UnitId) -> bool {
        self.get(*unit).is_some()
    }

    fn insert(&mut self, unit: UnitId, slot: u32) {
        let index = usize::try_from(unit.get()).expect("unit ids fit in memory");
        if index >= self.slots.len() {
            self.slots.resize(index + 1, NO_SLOT);
        }
        self.slots[index] = slot;
    }

    fn remove(&mut self, unit: &UnitId) {
        if let Some(slot) = self.slots.get_mut(unit.get() as usize) {
            *slot = NO_SLOT;
        }
    }

    fn reserve(&mut self, additional: usize) {
        self.slots.reserve(additional);
    }
}

#[derive(Debug, Clone, Default)]
pub struct TreeIndex {
    slot_of: SlotMap,
    // Per slot. A removed unit's slot is put on `free_slots` and reused.
    ids: Vec<UnitId>,
    parent: Vec<u32>,
    children: Vec<Vec<u32>>,
    position: Vec<u32>,
    size: Vec<u32>,
    depth: Vec<u16>,
    free_slots: Vec<u32>,
    roots: Vec<u32>,
    // Per position: the slot numbered there.
    order: Vec<u32>,
    /// Per slot: the unit's name and code, as a span of `label_text`, so that a
    /// roll-up with a row per child needs nothing from the store.
    labels: Vec<Label>,
    label_text: String,
    /// The bytes of `label_text` that live labels span, kept as labels change, so that
    /// deciding whether to compact costs nothing per label.
    live_label_bytes: usize,
}

/// Where a unit's name and code lie in the label text: the name first, then the code.
#[derive(Debug, Clone, Copy, Default)]
struct Label {
    start: u32,
    name_len: u16,
    code_len: u16,
}

impl Label {
    fn bytes(&self) -> usize {
        self.name_len as usize + self.code_len as usize
    }
}

impl TreeIndex {
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds the index from `(unit, parent)` pairs given in any order.
    pub fn build(
        edges: impl IntoIterator<Item = (UnitId, Option<UnitId>)>,
    ) -> Result<Self, MoveError> {
        let edges: Vec<_> = edges.into_iter().collect();
        let mut index = Self::default();
        index.slot_of.reserve(edges.len());
        for &(unit, _) in &edges {
            if index.slot_of.contains_key(&unit) {
                return Err(MoveError::DuplicateUnit(unit));
            }
            index.new_slot(unit);
        }
        for &(unit, parent) in &edges {
            let slot = index.slot_of.get(unit).expect("inserted above");
            match parent {
                None => index.roots.push(slot),
                Some(parent) => {
                    let parent_slot = index.slot(parent)?;
                    index.parent[slot as usize] = parent_slot;
                    index.children[parent_slot as usize].push(slot);
                }
            }
        }
        let ids = &index.ids;
        index.roots.sort_by_key(|&slot| ids[slot as usize]);
        for children in &mut index.children {
            children.sort_by_key(|&slot| ids[slot as usize]);
        }
        index.renumber();
        if index.order.len() != edges.len() {
            let mut unreachable: Vec<UnitId> = (0..index.ids.len())
                .filter(|&slot| index.position[slot] == NO_SLOT)
                .map(|slot| index.ids[slot])
                .collect();
            unreachable.sort();
            return Err(MoveError::Unreachable(unreachable));
        }
        Ok(index)
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    pub fn contains(&self, unit: UnitId) -> bool {
        self.slot_of.contains_key(&unit)
    }

    /// The unit's pre-order position.
    pub fn position(&self, unit: UnitId) -> Option<u32> {
        let slot = self.slot_of.get(unit)?;
        Some(self.position[slot as usize])
    }

    /// The positions of the unit and everything under it.
    pub fn subtree(&self, unit: UnitId) -> Option<Range<u32>> {
        let slot = self.slot_of.get(unit)? as usize;
        let start = self.position[slot];
        Some(start..start + self.size[slot])
    }

    /// Whether `unit` is `ancestor` or lies anywhere under it.
    pub fn is_within(&self, unit: UnitId, ancestor: UnitId) -> bool {
        match (self.position(unit), self.subtree(ancestor)) {
            (Some(position), Some(range)) => range.contains(&position),
            _ => false,
        }
    }

    /// The unit numbered at a position.
    pub fn unit_at(&self, position: u32) -> Option<UnitId> {
        let slot = *self.order.get(position as usize)?;
        Some(self.ids[slot as usize])
    }

    /// The unit and everything under it, in pre-order.
    pub fn subtree_units(&self, unit: UnitId) -> impl Iterator<Item = UnitId> + '_ {
        let range = self.subtree(unit).unwrap_or(0..0);
        self.order[range.start as usize..range.end as usize]
            .iter()
            .map(|&slot| self.ids[slot as usize])
    }

    pub fn parent(&self, unit: UnitId) -> Option<UnitId> {
        let slot = self.slot_of.get(unit)?;
        let parent = self.parent[slot as usize];
        (parent != NO_SLOT).then(|| self.ids[parent as usize])
    }

    pub fn children(&self, unit: UnitId) -> impl Iterator<Item = UnitId> + '_ {
        let slots = match self.slot_of.get(unit) {
            Some(slot) => self.children[slot as usize].as_slice(),
            None => &[],
        };
        slots.iter().map(|&slot| self.ids[slot as usize])
    }

    /// The units at the top of the tree, by id.
    pub fn roots(&self) -> impl Iterator<Item = UnitId> + '_ {
        self.roots.iter().map(|&slot| self.ids[slot as usize])
    }

    /// How many units the subtree of `unit` holds, the unit itself included.
    pub fn subtree_len(&self, unit: UnitId) -> u32 {
        self.slot_of
            .get(unit)
            .map_or(0, |slot| self.size[slot as usize])
    }

    /// The number of edges between the unit and the top of its tree.
    pub fn depth(&self, unit: UnitId) -> Option<u16> {
        let slot = self.slot_of.get(unit)?;
        Some(self.depth[slot as usize])
    }

    /// The unit's name, as last told; empty if never told.
    pub fn name(&self, unit: UnitId) -> &str {
        self.label(unit).0
    }

    /// The unit's code, as last told; empty if never told.
    pub fn code(&self, unit: UnitId) -> &str {
        self.label(unit).1
    }

    fn label(&self, unit: UnitId) -> (&str, &str) {
        let Some(label) = self
            .slot_of
            .get(unit)
            .and_then(|slot| self.labels.get(slot as usize))
        else {
            return ("", "");
        };
        let start = label.start as usize;
        let name_end = start + label.name_len as usize;
        let code_end = name_end + label.code_len as usize;
        (
            self.label_text.get(start..name_end).unwrap_or(""),
            self.label_text.get(name_end..code_end).unwrap_or(""),
        )
    }

    /// Tells the index a unit's name and code. Names and codes are short (a unit's
    /// name is at most a few hundred bytes); longer ones are cut at a character.
    pub fn set_label(&mut self, unit: UnitId, name: &str, code: &str) {
        let Some(slot) = self.slot_of.get(unit) else {
            return;
        };
        let name = cut(name, u16::MAX as usize);
        let code = cut(code, u16::MAX as usize);
        // Text of renamed units is left behind; the whole text is rewritten when it
        // holds more old text than live.
        if self.label_text.len() > 1 << 20 && self.label_text.len() > 4 * self.live_label_bytes {
            self.compact_labels();
        }
        let start = self.label_text.len() as u32;
        self.label_text.push_str(name);
        self.label_text.push_str(code);
        if self.labels.len() <= slot as usize {
            self.labels.resize(slot as usize + 1, Label::default());
        }
        let label = Label {
            start,
            name_len: name.len() as u16,
            code_len: code.len() as u16,
        };
        let old = std::mem::replace(&mut self.labels[slot as usize], label);
        self.live_label_bytes = self.live_label_bytes - old.bytes() + label.bytes();
    }

    /// Forgets the label of a slot that no longer holds a unit.
    fn clear_label(&mut self, slot: u32) {
        if let Some(label) = self.labels.get_mut(slot as usize) {
            self.live_label_bytes -= label.bytes();
            *label = Label::default();
        }
    }

    fn compact_labels(&mut self) {
        let mut text = String::with_capacity(self.live_label_bytes);
        for &slot in &self.order {
            let Some(label) = self.labels.get_mut(slot as usize) else {
                continue;
            };
            let start = label.start as usize;
            let end = start + label.name_len as usize + label.code_len as usize;
            let live = self.label_text.get(start..end).unwrap_or("");
            label.start = text.len() as u32;
            text.push_str(live);
        }
        self.label_text = text;
    }

    /// Adds a leaf under `parent`, or a new root; returns its position. Every unit
    /// from that position on moved one place later.
    pub fn insert(&mut self, unit: UnitId, parent: Option<UnitId>) -> Result<u32, MoveError> {
        if self.contains(unit) {
            return Err(MoveError::DuplicateUnit(unit));
        }
        let parent_slot = match parent {
            Some(parent) => self.slot(parent)?,
            None => NO_SLOT,
        };
        let slot = self.new_slot(unit);
        let siblings = self.sibling_list(parent_slot);
        let ids = &self.ids;
        let rank = siblings.partition_point(|&s| ids[s as usize] < unit);
        // The new leaf takes the place of the next sibling, or else follows the parent's
        // whole subtree.
        let position = match siblings.get(rank) {
            Some(&next) => self.position[next as usize],
            None if parent_slot == NO_SLOT => self.order.len() as u32,
            None => self.position[parent_slot as usize] + self.size[parent_slot as usize],
        };
        self.sibling_list_mut(parent_slot).insert(rank, slot);
        for later in &mut self.position {
            if *later != NO_SLOT && *later >= position {
                *later += 1;
            }
        }
        self.order.insert(position as usize, slot);
        self.position[slot as usize] = position;
        self.parent[slot as usize] = parent_slot;
        self.depth[slot as usize] = match parent_slot {
            NO_SLOT => 0,
            p => self.depth[p as usize] + 1,
        };
        self.for_each_ancestor(slot, |size| *size += 1);
        Ok(position)
    }

    /// Removes a unit that has nothing under it; returns the position it had. Every
    /// unit after it moved one place earlier.
    pub fn remove_leaf(&mut self, unit: UnitId) -> Result<u32, MoveError> {
        let slot = self.slot(unit)?;
        if !self.children[slot as usize].is_empty() {
            return Err(MoveError::HasChildren(unit));
        }
        self.for_each_ancestor(slot, |size| *size -= 1);
        let parent_slot = self.parent[slot as usize];
        self.sibling_list_mut(parent_slot).retain(|&s| s != slot);
        let position = self.position[slot as usize];
        self.order.remove(position as usize);
        for later in &mut self.position {
            if *later != NO_SLOT && *later > position {
                *later -= 1;
            }
        }
        self.position[slot as usize] = NO_SLOT;
        self.parent[slot as usize] = NO_SLOT;
        self.slot_of.remove(&unit);
        self.free_slots.push(slot);
        self.clear_label(slot);
        Ok(position)
    }

    /// Moves a unit with its whole subtree under `new_parent` (or to the top).
    pub fn move_unit(&mut self, unit: UnitId, new_parent: Option<UnitId>) -> Result<(), MoveError> {
        let slot = self.slot(unit)?;
        let new_parent_slot = match new_parent {
            Some(parent) => {
                let parent_slot = self.slot(parent)?;
                if self.is_within(parent, unit) {
                    return Err(MoveError::Cycle { unit, parent });
                }
                parent_slot
            }
            None => NO_SLOT,
        };
        let old_parent_slot = self.parent[slot as usize];
        self.sibling_list_mut(old_parent_slot)
            .retain(|&s| s != slot);
        let ids = &self.ids;
        let siblings = match new_parent_slot {
            NO_SLOT => &self.roots,
            p => &self.children[p as usize],
        };
        let rank = siblings.partition_point(|&s| ids[s as usize] < unit);
        self.sibling_list_mut(new_parent_slot).insert(rank, slot);
        self.parent[slot as usize] = new_parent_slot;
        self.renumber();
        Ok(())
    }

    fn slot(&self, unit: UnitId) -> Result<u32, MoveError> {
        self.slot_of.get(unit).ok_or(MoveError::UnknownUnit(unit))
    }

    fn new_slot(&mut self, unit: UnitId) -> u32 {
        let slot = match self.free_slots.pop() {
            Some(slot) => {
                let s = slot as usize;
                self.ids[s] = unit;
                self.parent[s] = NO_SLOT;
                self.children[s].clear();
                self.position[s] = NO_SLOT;
                self.size[s] = 1;
                self.depth[s] = 0;
                self.clear_label(slot);
                slot
            }
            None => {
                self.ids.push(unit);
                self.parent.push(NO_SLOT);
                self.children.push(Vec::new());
                self.position.push(NO_SLOT);
                self.size.push(1);
                self.depth.push(0);
                (self.ids.len() - 1) as u32
            }
        };
        self.slot_of.insert(unit, slot);
        slot
    }

    fn sibling_list(&self, parent_slot: u32) -> &Vec<u32> {
        match parent_slot {
            NO_SLOT => &self.roots,
            p => &self.children[p as usize],
        }
    }

    fn sibling_list_mut(&mut self, parent_slot: u32) -> &mut Vec<u32> {
        match parent_slot {
            NO_SLOT => &mut self.roots,
            p => &mut self.children[p as usize],
        }
    }

    fn for_each_ancestor(&mut self, slot: u32, mut change: impl FnMut(&mut u32)) {
        let mut ancestor = self.parent[slot as usize];
        while ancestor != NO_SLOT {
            change(&mut self.size[ancestor as usize]);
            ancestor = self.parent[ancestor as usize];
        }
    }

    /// Numbers every unit reachable from a root in pre-order and recomputes sizes and
    /// depths. Units not reachable keep `NO_SLOT` as their position.
    fn renumber(&mut self) {
        self.order.clear();
        let mut stack: Vec<u32> = self.roots.iter().rev().copied().collect();
        while let Some(slot) = stack.pop() {
            let s = slot as usize;
            self.position[s] = self.order.len() as u32;
            self.order.push(slot);
            self.depth[s] = match self.parent[s] {
                NO_SLOT => 0,
                p => self.depth[p as usize] + 1,
            };
            self.size[s] = 1;
            stack.extend(self.children[s].iter().rev().copied());
        }
        for &slot in self.order.iter().rev() {
            let parent = self.parent[slot as usize];
            if parent != NO_SLOT {
                self.size[parent as usize] += self.size[slot as usize];
            }
        }
    }
}

/// The longest prefix of `text` of at most `max` bytes that ends on a character.
fn cut(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn id(raw: i64) -> UnitId {
        UnitId::new(raw).unwrap()
    }

    /// The obvious model: a map from unit to parent, asked by walking up.
    #[derive(Debug, Clone, Default)]
    struct NaiveTree {
        parent: BTreeMap<UnitId, Option<UnitId>>,
    }

    impl NaiveTree {
        fn is_within(&self, unit: UnitId, ancestor: UnitId) -> bool {
            let mut current = Some(unit);
            while let Some(u) = current {
                if u == ancestor {
                    return true;
                }
                current = self.parent[&u];
            }
            false
        }

        fn depth(&self, unit: UnitId) -> u16 {
            let mut depth = 0;
            let mut current = self.parent[&unit];
            while let Some(u) = current {
                depth += 1;
                current = self.parent[&u];
            }
            depth
        }

        /// The subtree in pre-order with children in id order, as the index numbers it.
        fn preorder(&self, unit: UnitId, out: &mut Vec<UnitId>) {
            out.push(unit);
            let children: Vec<UnitId> = self
                .parent
                .iter()
                .filter(|(_, parent)| **parent == Some(unit))
                .map(|(child, _)| *child)
                .collect();
            for child in children {
                self.preorder(child, out);
            }
        }
    }

    #[derive(Debug, Clone)]
    enum Change {
        Insert {
            parent_pick: Option<usize>,
        },
        Move {
            unit_pick: usize,
            parent_pick: Option<usize>,
        },
        Remove {
            unit_pick: usize,
        },
    }

    fn change() -> impl Strategy<Value = Change> {
        prop_oneof![
            4 => proptest::option::weighted(0.9, any::<usize>())
                .prop_map(|parent_pick| Change::Insert { parent_pick }),
            3 => (any::<usize>(), proptest::option::weighted(0.9, any::<usize>()))
                .prop_map(|(unit_pick, parent_pick)| Change::Move { unit_pick, parent_pick }),
            1 => any::<usize>().prop_map(|unit_pick| Change::Remove { unit_pick }),
        ]
    }

    fn assert_agrees(index: &TreeIndex, naive: &NaiveTree) {
        assert_eq!(index.len(), naive.parent.len());
        let units: Vec<UnitId> = naive.parent.keys().copied().collect();
        for &a in &units {
            assert_eq!(index.parent(a), naive.parent[&a]);
            assert_eq!(index.depth(a), Some(naive.depth(a)));
            let mut expected = Vec::new();
            naive.preorder(a, &mut expected);
            let actual: Vec<UnitId> = index.subtree_units(a).collect();
            assert_eq!(actual, expected, "subtree of {a}");
            for &b in &units {
                assert_eq!(
                    index.is_within(b, a),
                    naive.is_within(b, a),
                    "is {b} within {a}"
                );
            }
        }
        for position in 0..index.len() as u32 {
            let unit = index.unit_at(position).unwrap();
            assert_eq!(index.position(unit), Some(position));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn agrees_with_a_parent_walk_after_random_changes(
            changes in proptest::collection::vec(change(), 1..60)
        ) {
            let mut index = TreeIndex::new();
            let mut naive = NaiveTree::default();
            let mut next_id = 1;
            for change in changes {
                let units: Vec<UnitId> = naive.parent.keys().copied().collect();
                let pick = |p: usize| units[p % units.len()];
                match change {
                    Change::Insert { parent_pick } => {
                        let parent = parent_pick.filter(|_| !units.is_empty()).map(pick);
                        let unit = id(next_id);
                        next_id += 1;
                        let position = index.insert(unit, parent).unwrap();
                        naive.parent.insert(unit, parent);
                        index.set_label(unit, &format!("Unit {}", unit.get()), &format!("U{}", unit.get()));
                        prop_assert_eq!(index.position(unit), Some(position));
                    }
                    Change::Move { unit_pick, parent_pick } if !units.is_empty() => {
                        let unit = pick(unit_pick);
                        let parent = parent_pick.map(pick);
                        let result = index.move_unit(unit, parent);
                        match parent {
                            Some(p) if naive.is_within(p, unit) => {
                                prop_assert_eq!(result, Err(MoveError::Cycle { unit, parent: p }));
                            }
                            _ => {
                                prop_assert_eq!(result, Ok(()));
                                naive.parent.insert(unit, parent);
                            }
                        }
                    }
                    Change::Remove { unit_pick } if !units.is_empty() => {
                        let unit = pick(unit_pick);
                        let has_children = naive.parent.values().any(|p| *p == Some(unit));
                        let before = index.position(unit);
                        let result = index.remove_leaf(unit);
                        if has_children {
                            prop_assert_eq!(result, Err(MoveError::HasChildren(unit)));
                        } else {
                            prop_assert_eq!(result.ok(), before);
                            naive.parent.remove(&unit);
                        }
                    }
                    _ => {}
                }
                assert_agrees(&index, &naive);
                for &unit in naive.parent.keys() {
                    prop_assert_eq!(index.code(unit), format!("U{}", unit.get()));
                }
            }
            // Building afresh from the final edges gives the same numbering.
            let rebuilt = TreeIndex::build(naive.parent.iter().map(|(u, p)| (*u, *p))).unwrap();
            for &unit in naive.parent.keys() {
                prop_assert_eq!(rebuilt.position(unit), index.position(unit));
                prop_assert_eq!(rebuilt.subtree(unit), index.subtree(unit));
            }
        }
    }

    #[test]
    fn labels_survive_renames_removals_and_compaction() {
        // A wide tree whose labels are set, renamed many times over (old text is left
        // behind until compaction) and partly removed: every label still reads back.
        let units = 40_000;
        let mut tree =
            TreeIndex::build((1..=units).map(|n| (id(n), (n > 1).then(|| id(1))))).unwrap();
        for n in 1..=units {
            tree.set_label(id(n), &format!("Unit {n}"), &format!("U{n}"));
        }
        for round in 0..6 {
            for n in 1..=units {
                tree.set_label(
                    id(n),
                    &format!("Unit {n} renamed {round}"),
                    &format!("U{n}"),
                );
            }
        }
        for n in (units - 99)..=units {
            tree.remove_leaf(id(n)).unwrap();
        }
        assert!(tree.label_text.len() <= 4 * tree.live_label_bytes + (1 << 20) + 64);
        let live: usize = tree
            .order
            .iter()
            .map(|&slot| tree.labels[slot as usize].bytes())
            .sum();
        assert_eq!(tree.live_label_bytes, live);
        for n in [1, 2, 777, units - 100] {
            assert_eq!(tree.name(id(n)), format!("Unit {n} renamed 5"));
            assert_eq!(tree.code(id(n)), format!("U{n}"));
        }
    }

    #[test]
    fn build_refuses_cycles_and_unknown_parents() {
        let cycle = [(id(1), None), (id(2), Some(id(3))), (id(3), Some(id(2)))];
        assert_eq!(
            TreeIndex::build(cycle).unwrap_err(),
            MoveError::Unreachable(vec![id(2), id(3)])
        );
        assert_eq!(
            TreeIndex::build([(id(1), Some(id(9)))]).unwrap_err(),
            MoveError::UnknownUnit(id(9))
        );
        assert_eq!(
            TreeIndex::build([(id(1), None), (id(1), None)]).unwrap_err(),
            MoveError::DuplicateUnit(id(1))
        );
    }
}
