//! What units owe before they have done anything: a report for a period, derived from
//! the form's target rule and the tree, kept once per form and shared by its periods.
//! Only what is filed or moved is stored; a weekly form over a million units costs a
//! million positions here, not 52 million rows a year.

use std::ops::Range;

use super::columns::Columns;
use crate::{TreeIndex, UnitId};

/// The units that owe, in tree order.
#[derive(Debug, Clone, Default)]
pub struct Owed {
    positions: Vec<u32>,
    units: Vec<UnitId>,
}

impl Owed {
    /// The units given, numbered by the tree; units not in it are left out.
    pub fn of_units(tree: &TreeIndex, units: impl IntoIterator<Item = UnitId>) -> Self {
        let mut pairs: Vec<(u32, UnitId)> = units
            .into_iter()
            .filter_map(|unit| Some((tree.position(unit)?, unit)))
            .collect();
        pairs.sort_unstable();
        pairs.dedup();
        Self {
            positions: pairs.iter().map(|p| p.0).collect(),
            units: pairs.iter().map(|p| p.1).collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.positions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.positions.is_empty()
    }

    fn indexes(&self, range: &Range<u32>) -> Range<usize> {
        let start = self.positions.partition_point(|&p| p < range.start);
        let end = self.positions.partition_point(|&p| p < range.end);
        start..end
    }

    /// How many units in `range` owe.
    pub fn count(&self, range: Range<u32>) -> u32 {
        self.indexes(&range).len() as u32
    }

    pub fn owes(&self, position: u32) -> bool {
        self.positions.binary_search(&position).is_ok()
    }

    /// The units in `range` that owe and have no item in `done`, in tree order.
    pub fn missing<'a>(
        &'a self,
        range: Range<u32>,
        done: &'a Columns,
    ) -> impl Iterator<Item = (u32, UnitId)> + 'a {
        let mut filed = done.entries(range.clone()).map(|e| e.position()).peekable();
        self.indexes(&range).filter_map(move |index| {
            let position = self.positions[index];
            while filed.next_if(|&p| p < position).is_some() {}
            if filed.peek() == Some(&position) {
                None
            } else {
                Some((position, self.units[index]))
            }
        })
    }

    /// The same units numbered by a changed tree.
    pub fn renumbered(&self, tree: &TreeIndex) -> Self {
        Self::of_units(tree, self.units.iter().copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracking::{Columns, Entry, NEVER};
    use crate::ItemId;

    #[test]
    fn missing_units_are_the_owing_ones_without_a_filing() {
        let id = |raw| UnitId::new(raw).unwrap();
        // 1 ─ 2 ─ 3, 1 ─ 4 ─ 5 ─ 6
        let tree = TreeIndex::build([
            (id(1), None),
            (id(2), Some(id(1))),
            (id(3), Some(id(2))),
            (id(4), Some(id(1))),
            (id(5), Some(id(4))),
            (id(6), Some(id(5))),
        ])
        .unwrap();
        let owed = Owed::of_units(&tree, [id(3), id(5), id(6), id(2)]);
        let filed = Columns::build(
            0b1,
            0,
            vec![Entry {
                position: tree.position(id(5)).unwrap(),
                item: ItemId::new(1).unwrap(),
                unit: id(5),
                state: 0,
                deadline: NEVER,
                done_at: 0,
                metrics: Vec::new(),
            }],
        );
        let all = tree.subtree(id(1)).unwrap();
        assert_eq!(owed.count(all.clone()), 4);
        let missing: Vec<UnitId> = owed.missing(all, &filed).map(|(_, u)| u).collect();
        assert_eq!(missing, [id(2), id(3), id(6)]);
        let under_four: Vec<UnitId> = owed
            .missing(tree.subtree(id(4)).unwrap(), &filed)
            .map(|(_, u)| u)
            .collect();
        assert_eq!(under_four, [id(6)]);
    }
}
