//! Directives as they stand at each unit: the assignment state machine, and the columns
//! a roll-up is counted from.
//!
//! A directive's assignments are kept in tree order (the pre-order positions of their
//! units), one byte of state and one metric value each. A unit's subtree is a contiguous
//! range of positions, so its roll-up is two binary searches and a count over one slice.
//! Counts are also kept per block of positions, so that a roll-up over a million units
//! reads a few hundred block totals and two partial blocks rather than a million bytes.

use std::ops::Range;

use crate::UnitId;

/// The state of an assignment: `conveyed → acknowledged → planned → in_progress → done`,
/// or `blocked` (with a reason) from any of the working states and back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum AssignmentState {
    Conveyed = 0,
    Acknowledged = 1,
    Planned = 2,
    InProgress = 3,
    Done = 4,
    Blocked = 5,
}

/// The number of states; counts are arrays of this length, indexed by `state as usize`.
pub const STATE_COUNT: usize = 6;

impl AssignmentState {
    pub const ALL: [AssignmentState; STATE_COUNT] = [
        AssignmentState::Conveyed,
        AssignmentState::Acknowledged,
        AssignmentState::Planned,
        AssignmentState::InProgress,
        AssignmentState::Done,
        AssignmentState::Blocked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AssignmentState::Conveyed => "conveyed",
            AssignmentState::Acknowledged => "acknowledged",
            AssignmentState::Planned => "planned",
            AssignmentState::InProgress => "in_progress",
            AssignmentState::Done => "done",
            AssignmentState::Blocked => "blocked",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|state| state.as_str() == text)
    }

    pub fn from_byte(byte: u8) -> Option<Self> {
        Self::ALL.get(byte as usize).copied()
    }

    /// The state a unit moves to by its own next step of work.
    fn next(self) -> Option<Self> {
        match self {
            AssignmentState::Conveyed => Some(AssignmentState::Acknowledged),
            AssignmentState::Acknowledged => Some(AssignmentState::Planned),
            AssignmentState::Planned => Some(AssignmentState::InProgress),
            AssignmentState::InProgress => Some(AssignmentState::Done),
            AssignmentState::Done | AssignmentState::Blocked => None,
        }
    }

    fn is_working(self) -> bool {
        matches!(
            self,
            AssignmentState::Acknowledged | AssignmentState::Planned | AssignmentState::InProgress
        )
    }
}

/// Who moves an assignment: the unit it was conveyed to, or a unit above it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mover {
    /// The unit's own secretary or officials.
    OwnUnit,
    /// A secretary or official of a unit above, reviewing the work.
    Above,
}

/// Why a transition is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("an assignment cannot go from {from} to {to}{}", allowed_hint(.allowed))]
    NotAllowed {
        from: &'static str,
        to: &'static str,
        allowed: Vec<&'static str>,
    },
    #[error("{0}")]
    ReasonRequired(&'static str),
}

fn allowed_hint(allowed: &[&'static str]) -> String {
    if allowed.is_empty() {
        String::new()
    } else {
        format!(" (from here it may go to: {})", allowed.join(", "))
    }
}

/// The states an assignment in `from` may be moved to by `mover`.
pub fn allowed_transitions(from: AssignmentState, mover: Mover) -> Vec<AssignmentState> {
    use AssignmentState::*;
    match mover {
        Mover::OwnUnit => {
            let mut allowed: Vec<AssignmentState> = from.next().into_iter().collect();
            if from != Done && from != Blocked {
                allowed.push(Blocked);
            }
            if from == Blocked {
                allowed.extend([Acknowledged, Planned, InProgress]);
            }
            allowed
        }
        // A unit above sends finished work back when it does not accept it.
        Mover::Above => match from {
            Done => vec![InProgress],
            _ => Vec::new(),
        },
    }
}

/// Checks a transition; `note` is the reason, required for blocking and sending back.
pub fn check_transition(
    from: AssignmentState,
    to: AssignmentState,
    mover: Mover,
    note: Option<&str>,
) -> Result<(), TransitionError> {
    let allowed = allowed_transitions(from, mover);
    if !allowed.contains(&to) {
        return Err(TransitionError::NotAllowed {
            from: from.as_str(),
            to: to.as_str(),
            allowed: allowed.into_iter().map(AssignmentState::as_str).collect(),
        });
    }
    let has_reason = note.is_some_and(|note| !note.trim().is_empty());
    if to == AssignmentState::Blocked && !has_reason {
        return Err(TransitionError::ReasonRequired(
            "blocking an assignment needs a reason in the note",
        ));
    }
    if mover == Mover::Above && !has_reason {
        return Err(TransitionError::ReasonRequired(
            "sending work back needs a reason in the note",
        ));
    }
    debug_assert!(to.is_working() || to == AssignmentState::Done || to == AssignmentState::Blocked);
    Ok(())
}

/// Counts of a roll-up: per state, and the metric's sum.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Tally {
    pub states: [u32; STATE_COUNT],
    /// The sum of the reported metric values.
    pub metric: f64,
}

impl Tally {
    pub fn total(&self) -> u32 {
        self.states.iter().sum()
    }

    pub fn count(&self, state: AssignmentState) -> u32 {
        self.states[state as usize]
    }

    fn add(&mut self, other: &Tally) {
        for (mine, theirs) in self.states.iter_mut().zip(other.states) {
            *mine += theirs;
        }
        self.metric += other.metric;
    }
}

/// Positions per block of totals: a roll-up reads at most two partial blocks.
const BLOCK: usize = 2048;

/// The assignments of one directive in tree order: the read model a roll-up counts.
#[derive(Debug, Clone, Default)]
pub struct DirectiveColumns {
    /// Pre-order positions of the assigned units, ascending.
    positions: Vec<u32>,
    /// The unit at each position, to renumber after the tree changes shape.
    units: Vec<UnitId>,
    states: Vec<u8>,
    metric: Vec<f64>,
    /// Totals of each run of `BLOCK` entries.
    blocks: Vec<Tally>,
}

impl DirectiveColumns {
    /// Builds the columns from `(position, unit, state, metric)` in any order.
    pub fn build(mut entries: Vec<(u32, UnitId, AssignmentState, f64)>) -> Self {
        entries.sort_unstable_by_key(|entry| entry.0);
        let mut columns = Self {
            positions: entries.iter().map(|e| e.0).collect(),
            units: entries.iter().map(|e| e.1).collect(),
            states: entries.iter().map(|e| e.2 as u8).collect(),
            metric: entries.iter().map(|e| e.3).collect(),
            blocks: Vec::new(),
        };
        columns.blocks = (0..columns.positions.len().div_ceil(BLOCK))
            .map(|block| {
                columns.count_slice(block * BLOCK..((block + 1) * BLOCK).min(columns.len()))
            })
            .collect();
        columns
    }

    pub fn len(&self) -> usize {
        self.positions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.positions.is_empty()
    }

    /// The state and metric of the assignment at `position`, if there is one.
    pub fn get(&self, position: u32) -> Option<(AssignmentState, f64)> {
        let index = self.positions.binary_search(&position).ok()?;
        Some((
            AssignmentState::from_byte(self.states[index])?,
            self.metric[index],
        ))
    }

    /// Records a change at `position`; false if no assignment is there.
    pub fn set(&mut self, position: u32, state: AssignmentState, metric: f64) -> bool {
        let Ok(index) = self.positions.binary_search(&position) else {
            return false;
        };
        let block = &mut self.blocks[index / BLOCK];
        block.states[self.states[index] as usize] -= 1;
        block.states[state as usize] += 1;
        block.metric += metric - self.metric[index];
        self.states[index] = state as u8;
        self.metric[index] = metric;
        true
    }

    /// The tally of every assignment whose position lies in `range`: a unit's subtree.
    pub fn tally(&self, range: Range<u32>) -> Tally {
        let start = self.positions.partition_point(|&p| p < range.start);
        let end = self.positions.partition_point(|&p| p < range.end);
        if start >= end {
            return Tally::default();
        }
        let first_full = start.div_ceil(BLOCK);
        let last_full = end / BLOCK;
        if first_full >= last_full {
            return self.count_slice(start..end);
        }
        let mut tally = self.count_slice(start..first_full * BLOCK);
        for block in &self.blocks[first_full..last_full] {
            tally.add(block);
        }
        tally.add(&self.count_slice(last_full * BLOCK..end));
        tally
    }

    fn count_slice(&self, range: Range<usize>) -> Tally {
        let mut tally = Tally::default();
        for &state in &self.states[range.clone()] {
            tally.states[state as usize] += 1;
        }
        tally.metric = self.metric[range].iter().sum();
        tally
    }

    /// Entries in `range` in tree order: `(position, unit, state, metric)`.
    pub fn entries(
        &self,
        range: Range<u32>,
    ) -> impl Iterator<Item = (u32, UnitId, AssignmentState, f64)> + '_ {
        let start = self.positions.partition_point(|&p| p < range.start);
        let end = self.positions.partition_point(|&p| p < range.end);
        (start..end).filter_map(move |index| {
            Some((
                self.positions[index],
                self.units[index],
                AssignmentState::from_byte(self.states[index])?,
                self.metric[index],
            ))
        })
    }

    /// The same assignments numbered by a changed tree; units no longer in it are left
    /// out.
    pub fn renumbered(&self, position_of: impl Fn(UnitId) -> Option<u32>) -> Self {
        let entries = (0..self.len())
            .filter_map(|index| {
                let unit = self.units[index];
                Some((
                    position_of(unit)?,
                    unit,
                    AssignmentState::from_byte(self.states[index])?,
                    self.metric[index],
                ))
            })
            .collect();
        Self::build(entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use AssignmentState::*;

    #[test]
    fn a_unit_works_through_its_assignment_step_by_step() {
        let path = [Conveyed, Acknowledged, Planned, InProgress, Done];
        for pair in path.windows(2) {
            assert!(check_transition(pair[0], pair[1], Mover::OwnUnit, None).is_ok());
        }
        assert!(check_transition(Conveyed, Done, Mover::OwnUnit, None).is_err());
        assert!(check_transition(Done, InProgress, Mover::OwnUnit, Some("oops")).is_err());
    }

    #[test]
    fn blocking_needs_a_reason_and_work_resumes_after_it() {
        assert_eq!(
            check_transition(Planned, Blocked, Mover::OwnUnit, None),
            Err(TransitionError::ReasonRequired(
                "blocking an assignment needs a reason in the note"
            ))
        );
        assert!(check_transition(Planned, Blocked, Mover::OwnUnit, Some("no cement")).is_ok());
        assert!(check_transition(Blocked, InProgress, Mover::OwnUnit, None).is_ok());
        assert!(check_transition(Blocked, Done, Mover::OwnUnit, None).is_err());
    }

    #[test]
    fn only_a_unit_above_sends_finished_work_back_and_says_why() {
        assert!(check_transition(Done, InProgress, Mover::Above, Some("not accepted")).is_ok());
        assert!(check_transition(Done, InProgress, Mover::Above, None).is_err());
        assert!(check_transition(Planned, InProgress, Mover::Above, Some("hurry")).is_err());
    }

    proptest! {
        /// The block totals never drift from a plain count, whatever changes are made.
        #[test]
        fn tallies_equal_a_plain_count(
            positions in proptest::collection::btree_set(0u32..20_000, 1..6_000),
            changes in proptest::collection::vec((any::<prop::sample::Index>(), 0u8..6, 0.0f64..10.0), 0..300),
            ranges in proptest::collection::vec((0u32..20_000, 0u32..20_000), 1..20),
        ) {
            let positions: Vec<u32> = positions.into_iter().collect();
            let mut plain: Vec<(u32, u8, f64)> = positions.iter().map(|&p| (p, 0, 0.0)).collect();
            let unit = UnitId::new(1).unwrap();
            let mut columns = DirectiveColumns::build(
                positions.iter().map(|&p| (p, unit, Conveyed, 0.0)).collect(),
            );
            for (index, state, metric) in changes {
                let entry = &mut plain[index.index(positions.len())];
                entry.1 = state;
                entry.2 = metric;
                prop_assert!(columns.set(entry.0, AssignmentState::from_byte(state).unwrap(), metric));
            }
            for (a, b) in ranges {
                let range = a.min(b)..a.max(b);
                let tally = columns.tally(range.clone());
                let mut expected = [0u32; STATE_COUNT];
                let mut metric = 0.0;
                for &(p, s, m) in &plain {
                    if range.contains(&p) {
                        expected[s as usize] += 1;
                        metric += m;
                    }
                }
                prop_assert_eq!(tally.states, expected);
                prop_assert!((tally.metric - metric).abs() < 1e-6);
            }
        }
    }
}
