//! The read model: the tree index (with every unit's name and code) and, per live
//! source of tracked items, its items as columns in tree order, so that a roll-up, a
//! list of laggards or what is overdue anywhere is counted without the database.
//!
//! One lock holds both, so that every reader sees the tree and the columns numbered
//! against it at one moment. Readers share it and never wait for one another; writers
//! hold it only to apply a commit (microseconds) or, after the tree changed shape, to
//! renumber every source (milliseconds) — on the writer's side, never the reader's.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use ganglion_core::tracking::{Aggregate, Columns, Entry, Kind, Owed, StateId, NEVER};
use ganglion_core::{DirectiveId, ItemId, TreeIndex, UnitId};
use ganglion_store::DirectiveRow;
use serde_json::{json, Value};

/// Which source items belong to: its kind, its id (a directive's, a form's…) and, for
/// periodic sources, the period (empty otherwise).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct SourceKey {
    pub kind: Kind,
    pub source: i64,
    pub period: String,
}

impl SourceKey {
    pub fn of_directive(row: &DirectiveRow) -> Self {
        Self {
            kind: row.kind,
            source: row.id.get(),
            period: String::new(),
        }
    }

    pub fn as_ref(&self) -> ganglion_store::SourceRef<'_> {
        ganglion_store::SourceRef {
            kind: self.kind,
            source: self.source,
            period: &self.period,
        }
    }

    pub fn directive(&self) -> Option<DirectiveId> {
        if self.kind.is_directive_kind() {
            DirectiveId::new(self.source)
        } else {
            None
        }
    }
}

/// A number a source's items report, and how it rolls up.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MetricSpec {
    pub key: String,
    pub name: String,
    pub unit: String,
    pub aggregate: Aggregate,
    /// The target for each item, where the source sets one.
    pub target_per_unit: Option<f64>,
}

/// A source as the read model holds it.
#[derive(Debug, Clone)]
pub(crate) struct Source {
    pub key: SourceKey,
    /// The directive, for the sources of directives.
    pub directive: Option<DirectiveRow>,
    pub metrics: Arc<[MetricSpec]>,
    pub columns: Columns,
    /// For periodic sources: the units that owe, whether or not they have filed.
    pub owed: Option<Arc<Owed>>,
    /// The change feed's number when the items were read: older changes of other
    /// servers are already in them.
    pub as_of_change: i64,
    /// When an item last moved (seconds since the epoch): sources idle for long leave
    /// memory.
    pub last_activity: i64,
}

impl Source {
    pub fn workflow(&self) -> &'static ganglion_core::Workflow {
        self.key.kind.workflow()
    }

    /// Whether its items still move (a directive issued, not withdrawn or closed).
    pub fn is_open(&self) -> bool {
        self.directive
            .as_ref()
            .is_none_or(|row| row.state.is_open())
    }

    /// The first moment something of it is overdue; none once it no longer moves.
    pub fn counts_overdue(&self) -> bool {
        self.is_open()
    }
}

/// One change of the read model, as applied at commit and carried in the change feed
/// for the other servers. Every change says where things stand after it, so applying
/// one twice, or one already seen in a load, changes nothing.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ItemChange {
    /// An item now stands here, with these values, done at this time (or [`NEVER`]).
    Set {
        key: SourceKey,
        unit: UnitId,
        item: ItemId,
        state: StateId,
        done_at: i64,
        metrics: Vec<f64>,
    },
    /// An item was added.
    Insert { key: SourceKey, entry: Entry },
    /// An item passed from one unit to another (a request escalated).
    Moved {
        key: SourceKey,
        item: ItemId,
        from: UnitId,
        to: UnitId,
    },
}

impl ItemChange {
    pub fn key(&self) -> &SourceKey {
        match self {
            ItemChange::Set { key, .. }
            | ItemChange::Insert { key, .. }
            | ItemChange::Moved { key, .. } => key,
        }
    }

    /// The compact form the change feed carries: one array per change.
    pub fn to_json(&self) -> Value {
        let key = |key: &SourceKey| json!([key.kind.as_str(), key.source, key.period]);
        let numbers = |values: &[f64]| {
            Value::from(
                values
                    .iter()
                    .map(|v| if v.is_nan() { Value::Null } else { json!(v) })
                    .collect::<Vec<_>>(),
            )
        };
        match self {
            ItemChange::Set {
                key: k,
                unit,
                item,
                state,
                done_at,
                metrics,
            } => json!([
                "set",
                key(k),
                unit.get(),
                item.get(),
                state,
                done_at,
                numbers(metrics)
            ]),
            ItemChange::Insert { key: k, entry } => json!([
                "insert",
                key(k),
                entry.unit.get(),
                entry.item.get(),
                entry.state,
                entry.done_at,
                numbers(&entry.metrics),
                entry.deadline
            ]),
            ItemChange::Moved {
                key: k,
                item,
                from,
                to,
            } => json!(["moved", key(k), from.get(), item.get(), to.get()]),
        }
    }

    /// Reads what [`ItemChange::to_json`] wrote; `None` for what does not read as one.
    /// Positions are the reader's business: entries come back at position 0.
    pub fn from_json(value: &Value) -> Option<Self> {
        let op = value.get(0)?.as_str()?;
        let key_value = value.get(1)?;
        let key = SourceKey {
            kind: Kind::parse(key_value.get(0)?.as_str()?)?,
            source: key_value.get(1)?.as_i64()?,
            period: key_value.get(2)?.as_str()?.to_owned(),
        };
        let unit = UnitId::new(value.get(2)?.as_i64()?)?;
        let item = ItemId::new(value.get(3)?.as_i64()?)?;
        let numbers = |value: Option<&Value>| -> Vec<f64> {
            value
                .and_then(Value::as_array)
                .map(|values| {
                    values
                        .iter()
                        .map(|v| v.as_f64().unwrap_or(f64::NAN))
                        .collect()
                })
                .unwrap_or_default()
        };
        match op {
            "set" => Some(ItemChange::Set {
                key,
                unit,
                item,
                state: u8::try_from(value.get(4)?.as_u64()?).ok()?,
                done_at: value.get(5)?.as_i64()?,
                metrics: numbers(value.get(6)),
            }),
            "insert" => Some(ItemChange::Insert {
                key,
                entry: Entry {
                    position: 0,
                    item,
                    unit,
                    state: u8::try_from(value.get(4)?.as_u64()?).ok()?,
                    done_at: value.get(5)?.as_i64()?,
                    metrics: numbers(value.get(6)),
                    deadline: value.get(7)?.as_i64()?,
                },
            }),
            "moved" => Some(ItemChange::Moved {
                key,
                item,
                from: unit,
                to: UnitId::new(value.get(4)?.as_i64()?)?,
            }),
            _ => None,
        }
    }
}

/// The tree and every live source.
#[derive(Debug, Default)]
pub(crate) struct ReadModel {
    pub tree: TreeIndex,
    sources: HashMap<SourceKey, Source>,
    /// Open sources left out of memory after a month without a move: what is overdue
    /// in them is asked of the store.
    pub evicted_open: HashSet<SourceKey>,
    /// The last change of the feed applied.
    pub last_change: i64,
}

impl ReadModel {
    pub fn new(tree: TreeIndex, last_change: i64) -> Self {
        Self {
            tree,
            last_change,
            ..Self::default()
        }
    }

    pub fn source(&self, key: &SourceKey) -> Option<&Source> {
        self.sources.get(key)
    }

    pub fn sources(&self) -> impl Iterator<Item = &Source> + '_ {
        self.sources.values()
    }

    pub fn source_count(&self) -> usize {
        self.sources.len()
    }

    /// Keeps a source, its positions numbered against the current tree.
    pub fn insert(&mut self, source: Source) {
        self.evicted_open.remove(&source.key);
        self.sources.insert(source.key.clone(), source);
    }

    /// Lets a source leave memory; an open one is remembered as evicted.
    pub fn evict(&mut self, key: &SourceKey) {
        if let Some(source) = self.sources.remove(key) {
            if source.is_open() {
                self.evicted_open.insert(key.clone());
            }
        }
    }

    /// Changes a resident directive's row (after it was withdrawn or closed).
    pub fn update_directive(&mut self, row: DirectiveRow) {
        let key = SourceKey::of_directive(&row);
        if let Some(source) = self.sources.get_mut(&key) {
            source.directive = Some(row);
        }
    }

    /// Applies one change of a commit. `seq` is the change feed's number for changes
    /// of other servers: one their load already saw is skipped. A change of a source
    /// not in memory is left to the store, where it is.
    pub fn apply(&mut self, change: &ItemChange, seq: Option<i64>, now: i64) {
        let tree = &self.tree;
        let Some(source) = self.sources.get_mut(change.key()) else {
            return;
        };
        if seq.is_some_and(|seq| seq <= source.as_of_change) {
            return;
        }
        source.last_activity = source.last_activity.max(now);
        let columns = &mut source.columns;
        match change {
            ItemChange::Set {
                unit,
                item,
                state,
                done_at,
                metrics,
                ..
            } => {
                if let Some(position) = tree.position(*unit) {
                    columns.set(position, *item, *state, *done_at, metrics);
                }
            }
            ItemChange::Insert { entry, .. } => {
                if let Some(position) = tree.position(entry.unit) {
                    columns.insert(Entry {
                        position,
                        ..entry.clone()
                    });
                }
            }
            ItemChange::Moved { item, from, to, .. } => {
                if let (Some(from), Some(to_position)) = (tree.position(*from), tree.position(*to))
                {
                    columns.move_to(from, *item, (to_position, *to));
                }
            }
        }
    }

    /// Adds many items to a source at once.
    pub fn insert_many(&mut self, key: &SourceKey, entries: Vec<Entry>, now: i64) {
        let tree = &self.tree;
        let Some(source) = self.sources.get_mut(key) else {
            return;
        };
        source.last_activity = source.last_activity.max(now);
        let entries: Vec<Entry> = entries
            .into_iter()
            .filter_map(|entry| {
                Some(Entry {
                    position: tree.position(entry.unit)?,
                    ..entry
                })
            })
            .collect();
        source.columns.edit(&[], entries);
    }

    /// A unit was added under `parent`: every source's positions after it move on.
    pub fn unit_added(
        &mut self,
        unit: UnitId,
        parent: Option<UnitId>,
        name: &str,
        code: &str,
    ) -> Result<(), ganglion_core::MoveError> {
        let position = self.tree.insert(unit, parent)?;
        self.tree.set_label(unit, name, code);
        for source in self.sources.values_mut() {
            source.columns.shift_positions(position, 1);
        }
        self.renumber_owed();
        Ok(())
    }

    /// A unit without anything under it (and without items) was removed.
    pub fn unit_removed(&mut self, unit: UnitId) -> Result<(), ganglion_core::MoveError> {
        let position = self.tree.remove_leaf(unit)?;
        for source in self.sources.values_mut() {
            source.columns.shift_positions(position + 1, -1);
        }
        self.renumber_owed();
        Ok(())
    }

    /// A unit moved with its subtree: every source is renumbered.
    pub fn unit_moved(
        &mut self,
        unit: UnitId,
        parent: Option<UnitId>,
    ) -> Result<(), ganglion_core::MoveError> {
        self.tree.move_unit(unit, parent)?;
        self.renumber_all();
        Ok(())
    }

    pub fn unit_renamed(&mut self, unit: UnitId, name: &str, code: &str) {
        self.tree.set_label(unit, name, code);
    }

    /// The whole tree was read again (after a bulk import, or another server's change).
    pub fn replace_tree(&mut self, tree: TreeIndex) {
        self.tree = tree;
        self.renumber_all();
    }

    fn renumber_all(&mut self) {
        let tree = &self.tree;
        for source in self.sources.values_mut() {
            source.columns = source.columns.renumbered(|unit| tree.position(unit));
        }
        self.renumber_owed();
    }

    fn renumber_owed(&mut self) {
        let tree = &self.tree;
        let mut renumbered: HashMap<*const Owed, Arc<Owed>> = HashMap::new();
        for source in self.sources.values_mut() {
            if let Some(owed) = &source.owed {
                let fresh = renumbered
                    .entry(Arc::as_ptr(owed))
                    .or_insert_with(|| Arc::new(owed.renumbered(tree)))
                    .clone();
                source.owed = Some(fresh);
            }
        }
    }

    /// Sources that may leave memory at `now`: closed, or idle since `idle_since`.
    pub fn evictable(&self, idle_since: i64) -> Vec<SourceKey> {
        self.sources
            .values()
            .filter(|source| !source.is_open() || source.last_activity < idle_since)
            .map(|source| source.key.clone())
            .collect()
    }

    /// A lower bound of the memory the sources hold, in bytes.
    pub fn heap_bytes(&self) -> usize {
        self.sources.values().map(|s| s.columns.heap_bytes()).sum()
    }
}

/// Seconds since the epoch of a time the store keeps; [`NEVER`] for none or one that
/// does not read.
pub(crate) fn instant(text: Option<&str>) -> i64 {
    text.and_then(crate::clock::parse_time)
        .map_or(NEVER, |at| at.unix_timestamp())
}

/// The first moment an item due on `due` (by the end of that day, UTC) or at `due_at`
/// is overdue; [`NEVER`] for one without a due date.
pub(crate) fn deadline(due: Option<time::Date>, due_at: Option<&str>) -> i64 {
    if let Some(at) = due_at.and_then(crate::clock::parse_time) {
        return at.unix_timestamp();
    }
    match due.and_then(|date| date.next_day()) {
        Some(next) => next.midnight().assume_utc().unix_timestamp(),
        None => NEVER,
    }
}

/// An item read from the store, as the columns hold it (position 0 until numbered).
pub(crate) fn entry_of(row: &ganglion_store::ItemEntryRow, metric_count: usize) -> Entry {
    Entry {
        position: 0,
        item: row.id,
        unit: row.unit,
        state: row.state,
        deadline: deadline(row.due, row.due_at.as_deref()),
        done_at: instant(row.done_at.as_deref()),
        metrics: (0..metric_count)
            .map(|m| row.metrics.get(m).copied().flatten().unwrap_or(f64::NAN))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_read_back_as_written() {
        let key = SourceKey {
            kind: Kind::Project,
            source: 9,
            period: String::new(),
        };
        let changes = [
            ItemChange::Set {
                key: key.clone(),
                unit: UnitId::new(4).unwrap(),
                item: ItemId::new(40).unwrap(),
                state: 3,
                done_at: NEVER,
                metrics: vec![2.5],
            },
            ItemChange::Insert {
                key: key.clone(),
                entry: Entry {
                    position: 0,
                    item: ItemId::new(41).unwrap(),
                    unit: UnitId::new(5).unwrap(),
                    state: 0,
                    deadline: 1_800_000_000,
                    done_at: NEVER,
                    metrics: vec![],
                },
            },
            ItemChange::Moved {
                key,
                item: ItemId::new(41).unwrap(),
                from: UnitId::new(5).unwrap(),
                to: UnitId::new(2).unwrap(),
            },
        ];
        for change in changes {
            assert_eq!(ItemChange::from_json(&change.to_json()), Some(change));
        }
    }

    #[test]
    fn a_date_is_due_by_the_end_of_its_day() {
        let due = time::macros::date!(2026 - 12 - 01);
        let end = time::macros::datetime!(2026-12-02 00:00 UTC).unix_timestamp();
        assert_eq!(deadline(Some(due), None), end);
        assert_eq!(deadline(None, None), NEVER);
        assert_eq!(
            deadline(Some(due), Some("2026-11-30T12:00:00.000000Z")),
            time::macros::datetime!(2026-11-30 12:00 UTC).unix_timestamp()
        );
    }
}
