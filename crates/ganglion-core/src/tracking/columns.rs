//! Tracked items in tree order: what every roll-up is counted from.
//!
//! The items of one source (a directive's assignments, a form's filings for a period,
//! the requests of an organization) are kept sorted by the pre-order position of their
//! unit, then by item id, so that a unit's subtree is one contiguous run. Each column
//! is a flat array: a state byte, a deadline, the time the item was done, and its
//! metric values. A unit may hold several items.
//!
//! Totals are also kept per block of `BLOCK` entries — counts per state, done and late,
//! each metric's sum, count, minimum and maximum, and the earliest and latest deadline
//! among the items not done — so that a tally over a million items reads a few hundred
//! block totals and two partial blocks. Whether a block's open items are overdue at a
//! given time is known from its two deadlines alone, unless the time falls between
//! them; only then is the block read item by item.

use std::ops::Range;

use super::tally::{MetricTally, Tally};
use super::workflow::StateId;
use crate::{ItemId, UnitId};

/// A time that never comes: the deadline of an item without one, the done time of an
/// item not done.
pub const NEVER: i64 = i64::MAX;

/// Entries per block of totals.
const BLOCK: usize = 2048;

/// One item as the columns hold it. Times are seconds since the Unix epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub position: u32,
    pub item: ItemId,
    pub unit: UnitId,
    pub state: StateId,
    /// The first moment the item is overdue if not done; [`NEVER`] for none.
    pub deadline: i64,
    /// When it reached a done state; [`NEVER`] while not done.
    pub done_at: i64,
    /// One value per metric of the source; `NaN` where none was reported.
    pub metrics: Vec<f64>,
}

/// An item in the columns, read in place.
#[derive(Clone, Copy)]
pub struct EntryRef<'c> {
    columns: &'c Columns,
    index: usize,
}

impl<'c> EntryRef<'c> {
    pub fn position(&self) -> u32 {
        self.columns.positions[self.index]
    }
    pub fn item(&self) -> ItemId {
        self.columns.items[self.index]
    }
    pub fn unit(&self) -> UnitId {
        self.columns.units[self.index]
    }
    pub fn state(&self) -> StateId {
        self.columns.states[self.index]
    }
    pub fn deadline(&self) -> i64 {
        self.columns.deadlines[self.index]
    }
    pub fn done_at(&self) -> i64 {
        self.columns.done_at[self.index]
    }
    pub fn is_done(&self) -> bool {
        self.columns.is_done(self.state())
    }
    /// Not done, and past its deadline at `now`.
    pub fn is_overdue(&self, now: i64) -> bool {
        !self.is_done() && now >= self.deadline()
    }
    /// The value of metric `metric`; `NaN` where none was reported.
    pub fn metric(&self, metric: usize) -> f64 {
        if metric >= self.columns.metric_count {
            return f64::NAN;
        }
        self.columns.metrics[self.index * self.columns.metric_count + metric]
    }
    pub fn to_entry(&self) -> Entry {
        Entry {
            position: self.position(),
            item: self.item(),
            unit: self.unit(),
            state: self.state(),
            deadline: self.deadline(),
            done_at: self.done_at(),
            metrics: (0..self.columns.metric_count)
                .map(|m| self.metric(m))
                .collect(),
        }
    }
}

/// What a block keeps: its tally (overdue aside, which depends on the time asked) and
/// the span of deadlines of its open items.
#[derive(Debug, Clone, Default)]
struct Block {
    tally: Tally,
    open_first: i64,
    open_last: i64,
}

/// The items of one source in tree order.
#[derive(Debug, Clone)]
pub struct Columns {
    /// A bit per state of the source's workflow, set for the done ones.
    done_mask: u8,
    metric_count: usize,
    positions: Vec<u32>,
    items: Vec<ItemId>,
    units: Vec<UnitId>,
    states: Vec<u8>,
    deadlines: Vec<i64>,
    done_at: Vec<i64>,
    /// Row by row: `metric_count` values per entry.
    metrics: Vec<f64>,
    blocks: Vec<Block>,
}

impl Columns {
    /// Empty columns for a workflow whose done states are `done_mask`'s bits.
    pub fn new(done_mask: u8, metric_count: usize) -> Self {
        Self {
            done_mask,
            metric_count,
            positions: Vec::new(),
            items: Vec::new(),
            units: Vec::new(),
            states: Vec::new(),
            deadlines: Vec::new(),
            done_at: Vec::new(),
            metrics: Vec::new(),
            blocks: Vec::new(),
        }
    }

    /// Builds the columns from entries in any order. Of two entries for the same item
    /// at the same position, the last is kept.
    pub fn build(done_mask: u8, metric_count: usize, mut entries: Vec<Entry>) -> Self {
        entries.sort_by_key(|e| (e.position, e.item));
        entries.dedup_by(|later, earlier| {
            let same = later.position == earlier.position && later.item == earlier.item;
            if same {
                std::mem::swap(later, earlier);
            }
            same
        });
        let mut columns = Self::new(done_mask, metric_count);
        let count = entries.len();
        columns.positions.reserve_exact(count);
        columns.items.reserve_exact(count);
        columns.units.reserve_exact(count);
        columns.states.reserve_exact(count);
        columns.deadlines.reserve_exact(count);
        columns.done_at.reserve_exact(count);
        columns.metrics.reserve_exact(count * metric_count);
        for entry in entries {
            columns.push(entry);
        }
        columns.rebuild_blocks_from(0);
        columns
    }

    fn push(&mut self, entry: Entry) {
        self.positions.push(entry.position);
        self.items.push(entry.item);
        self.units.push(entry.unit);
        self.states.push(entry.state);
        self.deadlines.push(entry.deadline);
        self.done_at.push(entry.done_at);
        for m in 0..self.metric_count {
            self.metrics
                .push(entry.metrics.get(m).copied().unwrap_or(f64::NAN));
        }
    }

    pub fn len(&self) -> usize {
        self.positions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.positions.is_empty()
    }

    pub fn metric_count(&self) -> usize {
        self.metric_count
    }

    fn is_done(&self, state: StateId) -> bool {
        state < 8 && self.done_mask & (1 << state) != 0
    }

    /// The positions from the first item's to just after the last's.
    pub fn span(&self) -> Option<Range<u32>> {
        Some(*self.positions.first()?..*self.positions.last()? + 1)
    }

    /// The indexes of the entries whose positions lie in `range`.
    fn indexes(&self, range: &Range<u32>) -> Range<usize> {
        let start = self.positions.partition_point(|&p| p < range.start);
        let end = start + self.positions[start..].partition_point(|&p| p < range.end);
        start..end
    }

    /// How many items lie in `range`.
    pub fn count_in(&self, range: Range<u32>) -> usize {
        self.indexes(&range).len()
    }

    fn index_of(&self, position: u32, item: ItemId) -> Result<usize, usize> {
        let at = self.indexes(&(position..position.saturating_add(1)));
        match self.items[at.clone()].binary_search(&item) {
            Ok(offset) => Ok(at.start + offset),
            Err(offset) => Err(at.start + offset),
        }
    }

    pub fn get(&self, position: u32, item: ItemId) -> Option<EntryRef<'_>> {
        let index = self.index_of(position, item).ok()?;
        Some(EntryRef {
            columns: self,
            index,
        })
    }

    /// The items at one position: a unit's own.
    pub fn at(&self, position: u32) -> impl Iterator<Item = EntryRef<'_>> + '_ {
        self.entries(position..position.saturating_add(1))
    }

    /// The items in `range`, in tree order.
    pub fn entries(&self, range: Range<u32>) -> impl Iterator<Item = EntryRef<'_>> + '_ {
        self.indexes(&range).map(move |index| EntryRef {
            columns: self,
            index,
        })
    }

    /// Records where an item stands now; false if it is not here.
    pub fn set(
        &mut self,
        position: u32,
        item: ItemId,
        state: StateId,
        done_at: i64,
        metrics: &[f64],
    ) -> bool {
        let Ok(index) = self.index_of(position, item) else {
            return false;
        };
        let old_state = self.states[index];
        let old_done_at = self.done_at[index];
        let deadline = self.deadlines[index];
        let was_done = self.is_done(old_state);
        let now_done = self.is_done(state);
        let done_at = if now_done { done_at } else { super::NEVER };
        let metric_count = self.metric_count;
        let old_metrics: Vec<f64> =
            self.metrics[index * metric_count..(index + 1) * metric_count].to_vec();
        self.states[index] = state;
        self.done_at[index] = done_at;
        for (m, slot) in self.metrics[index * metric_count..(index + 1) * metric_count]
            .iter_mut()
            .enumerate()
        {
            *slot = metrics.get(m).copied().unwrap_or(f64::NAN);
        }
        let block_index = index / BLOCK;
        let block = &mut self.blocks[block_index];
        let tally = &mut block.tally;
        tally.states[old_state as usize] -= 1;
        tally.states[state as usize] += 1;
        let late = |done: bool, done_at: i64| done && done_at >= deadline;
        tally.done = tally.done + u32::from(now_done) - u32::from(was_done);
        tally.late = tally.late + u32::from(late(now_done, done_at))
            - u32::from(late(was_done, old_done_at));
        // Extremes only grow by an update in place; one that may have shrunk them (the
        // item held the block's minimum, maximum, earliest or latest deadline) is
        // counted again from the block's entries.
        let mut recount = false;
        if !was_done && (deadline == block.open_first || deadline == block.open_last) {
            recount |= now_done;
        }
        if was_done && !now_done {
            block.open_first = block.open_first.min(deadline);
            block.open_last = block.open_last.max(deadline);
        }
        for (m, metric) in tally.metrics.iter_mut().enumerate() {
            let old = old_metrics[m];
            let new = self.metrics[index * metric_count + m];
            if !old.is_nan() {
                metric.sum -= old;
                metric.count -= 1;
                recount |= old == metric.min || old == metric.max;
            }
            if !new.is_nan() {
                metric.sum += new;
                metric.count += 1;
                metric.min = metric.min.min(new);
                metric.max = metric.max.max(new);
            }
        }
        if recount {
            self.blocks[block_index] = self.summarize(self.block_range(block_index));
        }
        true
    }

    /// Changes an item's deadline; false if it is not here.
    pub fn set_deadline(&mut self, position: u32, item: ItemId, deadline: i64) -> bool {
        let Ok(index) = self.index_of(position, item) else {
            return false;
        };
        self.deadlines[index] = deadline;
        let block_index = index / BLOCK;
        self.blocks[block_index] = self.summarize(self.block_range(block_index));
        true
    }

    /// Adds an item; one already here is updated instead. Costs a pass over the
    /// entries after it; many at once are better given to [`Columns::edit`].
    pub fn insert(&mut self, entry: Entry) {
        match self.index_of(entry.position, entry.item) {
            Ok(_) => {
                self.set_deadline(entry.position, entry.item, entry.deadline);
                self.set(
                    entry.position,
                    entry.item,
                    entry.state,
                    entry.done_at,
                    &entry.metrics,
                );
            }
            Err(index) => {
                self.positions.insert(index, entry.position);
                self.items.insert(index, entry.item);
                self.units.insert(index, entry.unit);
                self.states.insert(index, entry.state);
                self.deadlines.insert(index, entry.deadline);
                self.done_at.insert(index, entry.done_at);
                let at = index * self.metric_count;
                for m in 0..self.metric_count {
                    self.metrics
                        .insert(at + m, entry.metrics.get(m).copied().unwrap_or(f64::NAN));
                }
                self.rebuild_blocks_from(index / BLOCK);
            }
        }
    }

    /// Takes an item out; `None` if it is not here.
    pub fn remove(&mut self, position: u32, item: ItemId) -> Option<Entry> {
        let index = self.index_of(position, item).ok()?;
        let entry = EntryRef {
            columns: self,
            index,
        }
        .to_entry();
        self.positions.remove(index);
        self.items.remove(index);
        self.units.remove(index);
        self.states.remove(index);
        self.deadlines.remove(index);
        self.done_at.remove(index);
        let at = index * self.metric_count;
        self.metrics.drain(at..at + self.metric_count);
        self.rebuild_blocks_from(index / BLOCK);
        Some(entry)
    }

    /// Moves an item to another unit (a request escalated to the unit above).
    pub fn move_to(&mut self, position: u32, item: ItemId, to: (u32, UnitId)) -> bool {
        let Some(mut entry) = self.remove(position, item) else {
            return false;
        };
        entry.position = to.0;
        entry.unit = to.1;
        self.insert(entry);
        true
    }

    /// Takes out the items `remove` names and adds `insert`, in one pass however many.
    pub fn edit(&mut self, remove: &[(u32, ItemId)], insert: Vec<Entry>) {
        if remove.len() + insert.len() <= 4 {
            for &(position, item) in remove {
                self.remove(position, item);
            }
            for entry in insert {
                self.insert(entry);
            }
            return;
        }
        let removed: std::collections::HashSet<(u32, ItemId)> = remove.iter().copied().collect();
        let mut entries: Vec<Entry> = (0..self.len())
            .map(|index| EntryRef {
                columns: self,
                index,
            })
            .filter(|e| !removed.contains(&(e.position(), e.item())))
            .map(|e| e.to_entry())
            .collect();
        entries.extend(insert);
        *self = Self::build(self.done_mask, self.metric_count, entries);
    }

    /// Shifts every position from `from` on by `by`, as adding (1) or removing (-1) a
    /// unit of the tree does; the order of the items does not change.
    pub fn shift_positions(&mut self, from: u32, by: i32) {
        let start = self.positions.partition_point(|&p| p < from);
        for position in &mut self.positions[start..] {
            *position = position.saturating_add_signed(by);
        }
    }

    /// The same items numbered by a changed tree; items of units no longer in it are
    /// left out.
    pub fn renumbered(&self, position_of: impl Fn(UnitId) -> Option<u32>) -> Self {
        let entries = (0..self.len())
            .filter_map(|index| {
                let entry = EntryRef {
                    columns: self,
                    index,
                };
                let mut entry = entry.to_entry();
                entry.position = position_of(entry.unit)?;
                Some(entry)
            })
            .collect();
        Self::build(self.done_mask, self.metric_count, entries)
    }

    /// The tally of the items whose positions lie in `range` (a unit's subtree), with
    /// what is overdue at `now`.
    pub fn tally(&self, range: Range<u32>, now: i64) -> Tally {
        let indexes = self.indexes(&range);
        let (start, end) = (indexes.start, indexes.end);
        if start >= end {
            return Tally::with_metrics(self.metric_count);
        }
        let first_full = start.div_ceil(BLOCK);
        let last_full = end / BLOCK;
        if first_full >= last_full {
            return self.count_slice(start..end, now);
        }
        let mut tally = self.count_slice(start..first_full * BLOCK, now);
        for block_index in first_full..last_full {
            let block = &self.blocks[block_index];
            tally.add(&block.tally);
            tally.overdue += self.overdue_in_block(block_index, now);
        }
        tally.add(&self.count_slice(last_full * BLOCK..end, now));
        tally
    }

    /// How many items in `range` are overdue at `now`: the blocks' deadlines answer for
    /// whole blocks, so this reads only the blocks where `now` falls between them.
    pub fn overdue(&self, range: Range<u32>, now: i64) -> u32 {
        let indexes = self.indexes(&range);
        let (start, end) = (indexes.start, indexes.end);
        if start >= end {
            return 0;
        }
        let first_full = start.div_ceil(BLOCK);
        let last_full = end / BLOCK;
        if first_full >= last_full {
            return self.overdue_slice(start..end, now);
        }
        let mut overdue = self.overdue_slice(start..first_full * BLOCK, now);
        for block_index in first_full..last_full {
            overdue += self.overdue_in_block(block_index, now);
        }
        overdue + self.overdue_slice(last_full * BLOCK..end, now)
    }

    fn overdue_slice(&self, range: Range<usize>, now: i64) -> u32 {
        range
            .filter(|&index| !self.is_done(self.states[index]) && now >= self.deadlines[index])
            .count() as u32
    }

    /// The earliest deadline of an item not done in `range`; [`NEVER`] when none.
    pub fn first_open_deadline(&self, range: Range<u32>) -> i64 {
        let indexes = self.indexes(&range);
        let mut first = super::NEVER;
        let mut index = indexes.start;
        while index < indexes.end {
            let block_index = index / BLOCK;
            let block_end = ((block_index + 1) * BLOCK).min(self.len());
            if index == block_index * BLOCK && block_end <= indexes.end {
                let block = &self.blocks[block_index];
                if block.tally.total() > block.tally.done {
                    first = first.min(block.open_first);
                }
                index = block_end;
            } else {
                if !self.is_done(self.states[index]) {
                    first = first.min(self.deadlines[index]);
                }
                index += 1;
            }
        }
        first
    }

    /// The items in `range` overdue at `now`, in tree order; blocks with nothing
    /// overdue are passed over whole.
    pub fn overdue_entries(
        &self,
        range: Range<u32>,
        now: i64,
    ) -> impl Iterator<Item = EntryRef<'_>> + '_ {
        let indexes = self.indexes(&range);
        let mut index = indexes.start;
        std::iter::from_fn(move || {
            while index < indexes.end {
                let block_index = index / BLOCK;
                if index == block_index * BLOCK {
                    let block = &self.blocks[block_index];
                    if block.tally.total() == block.tally.done || now < block.open_first {
                        index = (block_index + 1) * BLOCK;
                        continue;
                    }
                }
                let here = index;
                index += 1;
                if !self.is_done(self.states[here]) && now >= self.deadlines[here] {
                    return Some(EntryRef {
                        columns: self,
                        index: here,
                    });
                }
            }
            None
        })
    }

    fn block_range(&self, block_index: usize) -> Range<usize> {
        block_index * BLOCK..((block_index + 1) * BLOCK).min(self.len())
    }

    fn overdue_in_block(&self, block_index: usize, now: i64) -> u32 {
        let block = &self.blocks[block_index];
        let open = block.tally.total() - block.tally.done;
        if open == 0 || now < block.open_first {
            0
        } else if now >= block.open_last {
            open
        } else {
            self.count_slice(self.block_range(block_index), now).overdue
        }
    }

    fn count_slice(&self, range: Range<usize>, now: i64) -> Tally {
        let mut tally = Tally::with_metrics(self.metric_count);
        for index in range {
            let state = self.states[index];
            tally.states[state as usize] += 1;
            let deadline = self.deadlines[index];
            if self.is_done(state) {
                tally.done += 1;
                tally.late += u32::from(self.done_at[index] >= deadline);
            } else if now >= deadline {
                tally.overdue += 1;
            }
            for (m, metric) in tally.metrics.iter_mut().enumerate() {
                metric.add_value(self.metrics[index * self.metric_count + m]);
            }
        }
        tally
    }

    fn summarize(&self, range: Range<usize>) -> Block {
        let mut block = Block {
            tally: Tally::with_metrics(self.metric_count),
            open_first: super::NEVER,
            open_last: i64::MIN,
        };
        for index in range {
            let state = self.states[index];
            block.tally.states[state as usize] += 1;
            let deadline = self.deadlines[index];
            if self.is_done(state) {
                block.tally.done += 1;
                block.tally.late += u32::from(self.done_at[index] >= deadline);
            } else {
                block.open_first = block.open_first.min(deadline);
                block.open_last = block.open_last.max(deadline);
            }
            for (m, metric) in block.tally.metrics.iter_mut().enumerate() {
                metric.add_value(self.metrics[index * self.metric_count + m]);
            }
        }
        block
    }

    fn rebuild_blocks_from(&mut self, first: usize) {
        let count = self.len().div_ceil(BLOCK);
        self.blocks.truncate(first.min(count));
        for block_index in self.blocks.len()..count {
            let block = self.summarize(self.block_range(block_index));
            self.blocks.push(block);
        }
    }

    /// A lower bound of the memory the columns hold, in bytes.
    pub fn heap_bytes(&self) -> usize {
        self.positions.capacity() * 4
            + self.items.capacity() * 8
            + self.units.capacity() * 8
            + self.states.capacity()
            + self.deadlines.capacity() * 8
            + self.done_at.capacity() * 8
            + self.metrics.capacity() * 8
            + self.blocks.capacity()
                * (std::mem::size_of::<Block>()
                    + self.metric_count * std::mem::size_of::<MetricTally>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracking::MAX_STATES;
    use proptest::prelude::*;

    const DONE_MASK: u8 = 1 << 4;

    fn item(raw: i64) -> ItemId {
        ItemId::new(raw).unwrap()
    }

    fn unit(raw: i64) -> UnitId {
        UnitId::new(raw).unwrap()
    }

    /// The obvious model: a list of entries, counted one by one.
    fn naive_tally(entries: &[Entry], range: &Range<u32>, now: i64, metrics: usize) -> Tally {
        let mut tally = Tally::with_metrics(metrics);
        for e in entries.iter().filter(|e| range.contains(&e.position)) {
            tally.states[e.state as usize] += 1;
            if DONE_MASK & (1 << e.state) != 0 {
                tally.done += 1;
                if e.done_at >= e.deadline {
                    tally.late += 1;
                }
            } else if now >= e.deadline {
                tally.overdue += 1;
            }
            for (m, metric) in tally.metrics.iter_mut().enumerate() {
                metric.add_value(e.metrics[m]);
            }
        }
        tally
    }

    #[derive(Debug, Clone)]
    enum Op {
        Set {
            pick: usize,
            state: u8,
            done_at: i64,
            values: (f64, f64, bool),
        },
        Insert {
            position: u32,
            deadline: i64,
        },
        Remove {
            pick: usize,
        },
        Move {
            pick: usize,
            position: u32,
        },
        Deadline {
            pick: usize,
            deadline: i64,
        },
        Shift {
            from: u32,
            up: bool,
        },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => (any::<usize>(), 0u8..6, 0i64..200, (0.0f64..10.0, 0.0f64..10.0, any::<bool>()))
                .prop_map(|(pick, state, done_at, values)| Op::Set { pick, state, done_at, values }),
            2 => (0u32..3_000, 0i64..200).prop_map(|(position, deadline)| Op::Insert { position, deadline }),
            1 => any::<usize>().prop_map(|pick| Op::Remove { pick }),
            1 => (any::<usize>(), 0u32..3_000).prop_map(|(pick, position)| Op::Move { pick, position }),
            1 => (any::<usize>(), 0i64..200).prop_map(|(pick, deadline)| Op::Deadline { pick, deadline }),
            1 => (0u32..3_000, any::<bool>()).prop_map(|(from, up)| Op::Shift { from, up }),
        ]
    }

    fn assert_same(a: &Tally, b: &Tally) -> Result<(), TestCaseError> {
        prop_assert_eq!(a.states, b.states);
        prop_assert_eq!(a.done, b.done);
        prop_assert_eq!(a.late, b.late);
        prop_assert_eq!(a.overdue, b.overdue);
        for (x, y) in a.metrics.iter().zip(&b.metrics) {
            prop_assert_eq!(x.count, y.count);
            prop_assert!((x.sum - y.sum).abs() < 1e-6, "{} vs {}", x.sum, y.sum);
            if x.count > 0 {
                prop_assert_eq!(x.min, y.min);
                prop_assert_eq!(x.max, y.max);
            }
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// Block totals never drift from a plain count, whatever is changed, added,
        /// taken out or moved, with several items per unit.
        #[test]
        fn tallies_equal_a_plain_count(
            initial in proptest::collection::vec((0u32..3_000, 0i64..200), 1..7_000),
            ops in proptest::collection::vec(op(), 0..120),
            ranges in proptest::collection::vec((0u32..3_100, 0u32..3_100, 0i64..220), 1..12),
        ) {
            let mut next_item = 1;
            let mut naive: Vec<Entry> = initial
                .iter()
                .map(|&(position, deadline)| {
                    next_item += 1;
                    Entry {
                        position,
                        item: item(next_item),
                        unit: unit(i64::from(position) + 1),
                        state: 0,
                        deadline,
                        done_at: NEVER,
                        metrics: vec![f64::NAN, 1.0],
                    }
                })
                .collect();
            let mut columns = Columns::build(DONE_MASK, 2, naive.clone());
            for op in ops {
                match op {
                    Op::Set { pick, state, done_at, values } if !naive.is_empty() => {
                        let count = naive.len();
                        let e = &mut naive[pick % count];
                        e.state = state;
                        e.done_at = if DONE_MASK & (1 << state) != 0 { done_at } else { NEVER };
                        e.metrics = vec![if values.2 { values.0 } else { f64::NAN }, values.1];
                        prop_assert!(columns.set(e.position, e.item, state, done_at, &e.metrics));
                    }
                    Op::Insert { position, deadline } => {
                        next_item += 1;
                        let entry = Entry {
                            position,
                            item: item(next_item),
                            unit: unit(i64::from(position) + 1),
                            state: 1,
                            deadline,
                            done_at: NEVER,
                            metrics: vec![2.5, f64::NAN],
                        };
                        naive.push(entry.clone());
                        columns.insert(entry);
                    }
                    Op::Remove { pick } if !naive.is_empty() => {
                        let e = naive.swap_remove(pick % naive.len());
                        prop_assert_eq!(columns.remove(e.position, e.item).map(|r| r.item), Some(e.item));
                    }
                    Op::Move { pick, position } if !naive.is_empty() => {
                        let index = pick % naive.len();
                        let e = naive[index].clone();
                        naive[index].position = position;
                        naive[index].unit = unit(i64::from(position) + 1);
                        prop_assert!(columns.move_to(e.position, e.item, (position, unit(i64::from(position) + 1))));
                    }
                    Op::Deadline { pick, deadline } if !naive.is_empty() => {
                        let index = pick % naive.len();
                        naive[index].deadline = deadline;
                        prop_assert!(columns.set_deadline(naive[index].position, naive[index].item, deadline));
                    }
                    Op::Shift { from, up } => {
                        // Only a shift that keeps every position apart, as the tree's do.
                        let by = if up { 1 } else { -1 };
                        let blocked = !up && (from == 0 || naive.iter().any(|e| e.position == from - 1));
                        if !blocked {
                            for e in &mut naive {
                                if e.position >= from {
                                    e.position = e.position.saturating_add_signed(by);
                                }
                            }
                            columns.shift_positions(from, by);
                        }
                    }
                    _ => {}
                }
            }
            prop_assert_eq!(columns.len(), naive.len());
            for (a, b, now) in ranges {
                let range = a.min(b)..a.max(b);
                assert_same(&columns.tally(range.clone(), now), &naive_tally(&naive, &range, now, 2))?;
                prop_assert_eq!(columns.count_in(range.clone()), naive.iter().filter(|e| range.contains(&e.position)).count());
                let expected = naive_tally(&naive, &range, now, 2).overdue;
                prop_assert_eq!(columns.overdue(range.clone(), now), expected);
                prop_assert_eq!(columns.overdue_entries(range.clone(), now).count() as u32, expected);
                let open_first = naive
                    .iter()
                    .filter(|e| range.contains(&e.position) && DONE_MASK & (1 << e.state) == 0)
                    .map(|e| e.deadline)
                    .min()
                    .unwrap_or(NEVER);
                prop_assert_eq!(columns.first_open_deadline(range.clone()), open_first);
            }
            let all = 0..u32::MAX;
            assert_same(&columns.tally(all.clone(), 100), &naive_tally(&naive, &all, 100, 2))?;
            // A bulk edit agrees with the one-by-one changes.
            let half: Vec<(u32, ItemId)> = naive.iter().step_by(2).map(|e| (e.position, e.item)).collect();
            let kept: Vec<Entry> = naive.iter().skip(1).step_by(2).cloned().collect();
            columns.edit(&half, Vec::new());
            assert_same(&columns.tally(all.clone(), 50), &naive_tally(&kept, &all, 50, 2))?;
        }
    }

    #[test]
    fn a_unit_may_hold_several_items_and_each_is_found() {
        let entry = |raw, position| Entry {
            position,
            item: item(raw),
            unit: unit(i64::from(position) + 1),
            state: 0,
            deadline: 100,
            done_at: NEVER,
            metrics: Vec::new(),
        };
        let mut columns = Columns::build(DONE_MASK, 0, vec![entry(3, 5), entry(1, 5), entry(2, 9)]);
        assert_eq!(
            columns.at(5).map(|e| e.item().get()).collect::<Vec<_>>(),
            [1, 3]
        );
        assert!(columns.set(5, item(3), 4, 120, &[]));
        let tally = columns.tally(0..10, 150);
        assert_eq!((tally.done, tally.late, tally.overdue), (1, 1, 2));
        assert_eq!(tally.states[..MAX_STATES.min(5)], [2, 0, 0, 0, 1]);
        assert!(columns.move_to(9, item(2), (4, unit(5))));
        assert_eq!(columns.at(4).count(), 1);
        assert_eq!(columns.span(), Some(4..6));
    }
}
