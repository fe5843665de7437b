//! Counting over the read model, for any kind of source: a subtree's tally with one per
//! child, and what is overdue under a unit across every source, most overdue first.

use std::collections::BinaryHeap;
use std::ops::Range;

use ganglion_core::tracking::{Kind, Tally};
use ganglion_core::{ItemId, TreeIndex, UnitId};

use super::model::{Source, SourceKey};

/// A source's tally over a unit's subtree, and over each child's that holds items.
pub(crate) fn subtree_tally(
    tree: &TreeIndex,
    source: &Source,
    unit: UnitId,
    now: i64,
) -> Option<(Tally, Vec<(UnitId, Tally)>)> {
    let range = tree.subtree(unit)?;
    let now = if source.counts_overdue() {
        now
    } else {
        i64::MIN
    };
    let total = source.columns.tally(range, now);
    let children = children_in(tree, unit, source.columns.span())
        .filter_map(|child| {
            let tally = source.columns.tally(tree.subtree(child)?, now);
            (tally.total() > 0).then_some((child, tally))
        })
        .collect();
    Some((total, children))
}

/// The children of `unit` whose subtrees overlap `span`, found by binary search: a
/// source reaching one county is not asked about the province's other counties.
pub(crate) fn children_in<'t>(
    tree: &'t TreeIndex,
    unit: UnitId,
    span: Option<Range<u32>>,
) -> impl Iterator<Item = UnitId> + 't {
    let children: Vec<UnitId> = match span {
        None => Vec::new(),
        Some(span) => {
            let all: Vec<UnitId> = tree.children(unit).collect();
            let start = all.partition_point(|child| {
                tree.subtree(*child)
                    .is_some_and(|range| range.end <= span.start)
            });
            all[start..]
                .iter()
                .take_while(|child| {
                    tree.subtree(**child)
                        .is_some_and(|range| range.start < span.end)
                })
                .copied()
                .collect()
        }
    };
    children.into_iter()
}

/// One overdue item, as the attention list orders them.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct OverdueItem {
    /// When it fell due: the earliest is the most overdue.
    pub deadline: i64,
    pub kind: Kind,
    pub source: i64,
    pub position: u32,
    pub item: ItemId,
    pub unit: UnitId,
}

/// What is overdue under a unit in a set of sources.
#[derive(Debug, Default)]
pub(crate) struct Overdue {
    /// Per kind, how many.
    pub by_kind: Vec<(Kind, u32)>,
    /// Per child of the unit, per kind.
    pub by_child: Vec<(UnitId, Vec<(Kind, u32)>)>,
    /// The most overdue, up to the number asked, most overdue first.
    pub first: Vec<OverdueItem>,
    /// How many there are in all.
    pub total: u32,
}

fn bump(counts: &mut Vec<(Kind, u32)>, kind: Kind, by: u32) {
    match counts.iter_mut().find(|(k, _)| *k == kind) {
        Some((_, count)) => *count += by,
        None => counts.push((kind, by)),
    }
}

/// Everything overdue at `now` under `unit` in `sources`, with the `want` most overdue
/// items. Sources are taken earliest deadline first, so that once `want` items are
/// held, a source whose earliest deadline comes later is passed over whole.
pub(crate) fn overdue_under<'s>(
    tree: &TreeIndex,
    sources: impl Iterator<Item = &'s Source>,
    unit: UnitId,
    now: i64,
    want: usize,
) -> Overdue {
    let Some(range) = tree.subtree(unit) else {
        return Overdue::default();
    };
    let mut overdue = Overdue::default();
    let children: Vec<(UnitId, Range<u32>)> = tree
        .children(unit)
        .filter_map(|child| Some((child, tree.subtree(child)?)))
        .collect();
    let mut candidates: Vec<(i64, &SourceKey, &Source)> = Vec::new();
    for source in sources.filter(|source| source.counts_overdue()) {
        let Some(span) = source.columns.span() else {
            continue;
        };
        if span.end <= range.start || span.start >= range.end {
            continue;
        }
        let count = source.columns.overdue(range.clone(), now);
        if count == 0 {
            continue;
        }
        let kind = source.key.kind;
        overdue.total += count;
        bump(&mut overdue.by_kind, kind, count);
        let first = children.partition_point(|(_, child)| child.end <= span.start);
        for (child, child_range) in children[first..]
            .iter()
            .take_while(|(_, child)| child.start < span.end)
        {
            let child_count = source.columns.overdue(child_range.clone(), now);
            if child_count > 0 {
                match overdue.by_child.iter_mut().find(|(c, _)| c == child) {
                    Some((_, counts)) => bump(counts, kind, child_count),
                    None => overdue.by_child.push((*child, vec![(kind, child_count)])),
                }
            }
        }
        candidates.push((
            source.columns.first_open_deadline(range.clone()),
            &source.key,
            source,
        ));
    }
    // Children in tree order.
    overdue
        .by_child
        .sort_by_key(|(child, _)| tree.position(*child));
    candidates.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    // The `want` smallest items so far; the heap's top is the largest of them.
    let mut held: BinaryHeap<OverdueItem> = BinaryHeap::with_capacity(want + 1);
    for (first_deadline, key, source) in candidates {
        if want == 0 {
            break;
        }
        if held.len() >= want {
            let largest = held.peek().expect("held is full");
            if (first_deadline, key.kind, key.source)
                > (largest.deadline, largest.kind, largest.source)
            {
                break;
            }
        }
        for entry in source.columns.overdue_entries(range.clone(), now) {
            let item = OverdueItem {
                deadline: entry.deadline(),
                kind: key.kind,
                source: key.source,
                position: entry.position(),
                item: entry.item(),
                unit: entry.unit(),
            };
            if held.len() < want {
                held.push(item);
            } else if held.peek().is_some_and(|largest| &item < largest) {
                held.pop();
                held.push(item);
            } else if entry.deadline() >= held.peek().map_or(i64::MAX, |l| l.deadline) {
                // Within one source, later items of the same deadline come later in tree
                // order and cannot displace what is held; a later deadline could only
                // come in a source whose items' deadlines vary.
                if first_deadline == entry.deadline() {
                    break;
                }
            }
        }
    }
    overdue.first = held.into_sorted_vec();
    overdue
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracking::model::Source;
    use ganglion_core::tracking::{Columns, Entry, NEVER};
    use std::sync::Arc;

    fn id(raw: i64) -> UnitId {
        UnitId::new(raw).unwrap()
    }

    /// A centre (1) with two provinces (2, 3), each with two counties (4, 5 and 6, 7).
    fn tree() -> TreeIndex {
        TreeIndex::build([
            (id(1), None),
            (id(2), Some(id(1))),
            (id(3), Some(id(1))),
            (id(4), Some(id(2))),
            (id(5), Some(id(2))),
            (id(6), Some(id(3))),
            (id(7), Some(id(3))),
        ])
        .unwrap()
    }

    fn source(tree: &TreeIndex, kind: Kind, number: i64, items: &[(i64, i64, u8)]) -> Source {
        let entries = items
            .iter()
            .enumerate()
            .map(|(index, &(unit, deadline, state))| Entry {
                position: tree.position(id(unit)).unwrap(),
                item: ItemId::new(number * 100 + index as i64 + 1).unwrap(),
                unit: id(unit),
                state,
                deadline,
                done_at: if state == 4 { 10 } else { NEVER },
                metrics: Vec::new(),
            })
            .collect();
        Source {
            key: SourceKey {
                kind,
                source: number,
                period: String::new(),
            },
            directive: None,
            metrics: Arc::from(Vec::new()),
            columns: Columns::build(kind.workflow().done_mask(), 0, entries),
            owed: None,
            as_of_change: 0,
            last_activity: 0,
        }
    }

    #[test]
    fn overdue_things_are_counted_by_child_and_listed_most_overdue_first() {
        let tree = tree();
        let sources = [
            // Due at 100: county 4's is open, county 5's done.
            source(&tree, Kind::Directive, 1, &[(4, 100, 1), (5, 100, 4)]),
            // Projects with deadlines of their own.
            source(
                &tree,
                Kind::Project,
                2,
                &[(6, 50, 0), (7, 300, 0), (4, 80, 2)],
            ),
            // Not yet due.
            source(&tree, Kind::Pledge, 3, &[(7, 1_000, 0)]),
        ];
        let overdue = overdue_under(&tree, sources.iter(), id(1), 200, 10);
        assert_eq!(overdue.total, 3);
        let deadlines: Vec<i64> = overdue.first.iter().map(|item| item.deadline).collect();
        assert_eq!(deadlines, [50, 80, 100]);
        assert_eq!(
            overdue.by_child,
            [
                (id(2), vec![(Kind::Directive, 1), (Kind::Project, 1)]),
                (id(3), vec![(Kind::Project, 1)]),
            ]
        );
        let two = overdue_under(&tree, sources.iter(), id(1), 200, 2);
        assert_eq!(two.first.len(), 2);
        assert_eq!(two.first[1].deadline, 80);
        let county = overdue_under(&tree, sources.iter(), id(4), 200, 10);
        assert_eq!(county.total, 2);
        assert!(county.by_child.is_empty());
    }
}
