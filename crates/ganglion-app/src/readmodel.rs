//! The read model: per live directive, its assignments as columns in tree order, kept
//! in memory so that a roll-up at any unit is counted without touching the database.
//! Built from the store at start; changed after each committed write of this server,
//! and from the change feed for the writes of the others.

use std::collections::HashMap;

use ganglion_core::{AssignmentState, DirectiveColumns, TreeIndex, UnitId};
use ganglion_store::{DirectiveRow, Store};

use crate::AppError;

/// A directive as the read model holds it.
#[derive(Debug, Clone)]
pub(crate) struct LiveDirective {
    pub row: DirectiveRow,
    pub columns: DirectiveColumns,
    /// The tree version the columns' positions were numbered against.
    pub numbered_at: u64,
}

#[derive(Debug, Default)]
pub(crate) struct ReadModel {
    pub directives: HashMap<i64, LiveDirective>,
    /// Bumped at every change of the tree's shape: columns numbered before it are
    /// renumbered when next read.
    pub tree_version: u64,
    /// The last change of the feed applied.
    pub last_change: i64,
}

pub(crate) fn columns_from(
    tree: &TreeIndex,
    entries: Vec<(UnitId, u8, Option<f64>)>,
) -> DirectiveColumns {
    DirectiveColumns::build(
        entries
            .into_iter()
            .filter_map(|(unit, state, metric)| {
                Some((
                    tree.position(unit)?,
                    unit,
                    AssignmentState::from_byte(state)?,
                    metric.unwrap_or(0.0),
                ))
            })
            .collect(),
    )
}

impl ReadModel {
    /// Reads every issued (or ended) directive's assignments from the store.
    pub async fn load(
        store: &Store,
        tree: &std::sync::RwLock<TreeIndex>,
    ) -> Result<Self, AppError> {
        let mut model = ReadModel {
            last_change: store.last_change().await?,
            ..ReadModel::default()
        };
        for row in store
            .directives_in_states(&["issued", "closed", "withdrawn"])
            .await?
        {
            let entries = store.assignment_columns(row.id).await?;
            let tree = tree.read().unwrap_or_else(|poisoned| poisoned.into_inner());
            let columns = columns_from(&tree, entries);
            model.directives.insert(
                row.id,
                LiveDirective {
                    row,
                    columns,
                    numbered_at: 0,
                },
            );
        }
        Ok(model)
    }

    /// The directive with its columns numbered against the current tree.
    pub fn current(&mut self, id: i64, tree: &TreeIndex) -> Option<&LiveDirective> {
        let version = self.tree_version;
        let live = self.directives.get_mut(&id)?;
        if live.numbered_at != version {
            live.columns = live.columns.renumbered(|unit| tree.position(unit));
            live.numbered_at = version;
        }
        Some(live)
    }
}
