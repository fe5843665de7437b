//! Many items moved in one write. Reports arrive by the thousand and every commit costs
//! a flush, so a batch of them is read, written and recorded with a handful of
//! statements, each taking all its rows as one JSON parameter (or, where a statement
//! costs microseconds, one prepared statement per row).

use std::collections::HashMap;

use ganglion_core::tracking::StateId;
use ganglion_core::{DirectiveId, ItemId, Kind};

use crate::batch::with_statements;
use crate::directives::{directive_from_row, guidance_from_row, GUIDANCE_COLUMNS, GUIDANCE_FROM};
use crate::exec::{Columns, Param, RowWrite, Statements};
use crate::tracking::{event_from_row, item_from_row, metrics_text, EVENT_COLUMNS, ITEM_COLUMNS};
use crate::{
    json_ids, BatchTx, DirectiveRow, GuidanceRow, ItemEventRow, ItemRow, StoreError,
    DIRECTIVE_COLUMNS,
};

/// One move of an item, as its history records it.
#[derive(Debug, Clone)]
pub struct ItemMove<'a> {
    pub item: ItemId,
    pub kind: Kind,
    pub source: i64,
    pub from_state: StateId,
    pub to_state: StateId,
    /// The item's metric values after the move.
    pub metrics: &'a [Option<f64>],
    /// The values reported with this move, for its history.
    pub reported: &'a [Option<f64>],
    /// When it reached a done state, if it is in one after the move.
    pub done_at: Option<&'a str>,
    pub note: &'a str,
    pub actor: &'a str,
    /// Who the actor is to a reader, kept as it was at the time of the move.
    pub actor_name: Option<&'a str>,
    pub at: &'a str,
}

/// A history entry's columns, as written.
const EVENT_TABLE: Columns<'static> = &[
    ("item_id", "BIGINT"),
    ("kind", "TEXT"),
    ("source_id", "BIGINT"),
    ("at", "TEXT"),
    ("actor", "TEXT"),
    ("actor_name", "TEXT"),
    ("from_state", "INTEGER"),
    ("to_state", "INTEGER"),
    ("note", "TEXT"),
    ("metrics", "TEXT"),
];

/// Where an item stands, keyed by its id.
const ITEM_STATE: Columns<'static> = &[
    ("id", "BIGINT"),
    ("state", "INTEGER"),
    ("metrics", "TEXT"),
    ("done_at", "TEXT"),
    ("updated_at", "TEXT"),
];

fn id_list(ids: impl IntoIterator<Item = i64>) -> Vec<Param> {
    let ids: Vec<i64> = ids.into_iter().collect();
    vec![serde_json::Value::from(ids).to_string().into()]
}

impl BatchTx<'_> {
    /// The items with these ids, as this write sees them.
    pub async fn items_by_ids(
        &mut self,
        ids: &[ItemId],
    ) -> Result<HashMap<ItemId, ItemRow>, StoreError> {
        let items = with_statements!(self, |statements, backend| {
            let sql = format!(
                "SELECT {ITEM_COLUMNS} FROM items i WHERE i.id IN ({})",
                json_ids(backend, "$1")
            );
            statements
                .fetch(&sql, id_list(ids.iter().map(|id| id.get())), |row| {
                    let item = item_from_row(row)?;
                    Ok((item.id, item))
                })
                .await?
        });
        Ok(items.into_iter().collect())
    }

    /// The directives with these ids, as this write sees them.
    pub async fn directives_by_ids(
        &mut self,
        ids: &[DirectiveId],
    ) -> Result<HashMap<DirectiveId, DirectiveRow>, StoreError> {
        let directives = with_statements!(self, |statements, backend| {
            let sql = format!(
                "SELECT {DIRECTIVE_COLUMNS} FROM directives WHERE id IN ({})",
                json_ids(backend, "$1")
            );
            statements
                .fetch(&sql, id_list(ids.iter().map(|id| id.get())), |row| {
                    let directive = directive_from_row(row)?;
                    Ok((directive.id, directive))
                })
                .await?
        });
        Ok(directives.into_iter().collect())
    }

    /// Writes the moves in the order given: each one's history entry, and each item's
    /// final state, values and done time.
    pub async fn move_items(&mut self, moves: &[ItemMove<'_>]) -> Result<(), StoreError> {
        if moves.is_empty() {
            return Ok(());
        }
        let events = moves
            .iter()
            .map(|step| {
                vec![
                    step.item.get().into(),
                    step.kind.as_str().into(),
                    step.source.into(),
                    step.at.into(),
                    step.actor.into(),
                    step.actor_name.into(),
                    step.from_state.into(),
                    step.to_state.into(),
                    step.note.into(),
                    metrics_text(step.reported).into(),
                ]
            })
            .collect();
        // Only the last move of an item decides where it stands.
        let mut last: HashMap<ItemId, &ItemMove<'_>> = HashMap::with_capacity(moves.len());
        for step in moves {
            last.insert(step.item, step);
        }
        let finals = last
            .into_values()
            .map(|step| {
                vec![
                    step.item.get().into(),
                    step.to_state.into(),
                    metrics_text(step.metrics).into(),
                    step.done_at.into(),
                    step.at.into(),
                ]
            })
            .collect();
        with_statements!(self, |statements, backend| {
            statements
                .write_rows(
                    backend,
                    RowWrite::Insert("item_events"),
                    EVENT_TABLE,
                    events,
                )
                .await?;
            statements
                .write_rows(backend, RowWrite::Update("items"), ITEM_STATE, finals)
                .await
        })
    }

    /// The histories of these items, each oldest first.
    pub async fn events_of_items(
        &mut self,
        ids: &[ItemId],
    ) -> Result<HashMap<ItemId, Vec<ItemEventRow>>, StoreError> {
        let mut found: HashMap<ItemId, Vec<ItemEventRow>> = HashMap::with_capacity(ids.len());
        with_statements!(self, |statements, backend| {
            let sql = format!(
                "SELECT e.item_id, {EVENT_COLUMNS} FROM item_events e \
                 WHERE e.item_id IN ({}) ORDER BY e.id",
                json_ids(backend, "$1")
            );
            statements
                .fetch(&sql, id_list(ids.iter().map(|id| id.get())), |row| {
                    let item = ItemId::new(row.get_int("item_id")?)
                        .ok_or_else(|| crate::directives::corrupt("item id"))?;
                    found.entry(item).or_default().push(event_from_row(row)?);
                    Ok(())
                })
                .await?
        });
        Ok(found)
    }

    /// Every guidance note on these directives, oldest first.
    pub async fn guidance_of_directives(
        &mut self,
        ids: &[DirectiveId],
    ) -> Result<Vec<GuidanceRow>, StoreError> {
        with_statements!(self, |statements, backend| {
            let sql = format!(
                "SELECT {GUIDANCE_COLUMNS} FROM {GUIDANCE_FROM} WHERE g.directive_id IN ({}) \
                 ORDER BY g.id",
                json_ids(backend, "$1")
            );
            statements
                .fetch(&sql, id_list(ids.iter().map(|id| id.get())), |row| {
                    guidance_from_row(row)
                })
                .await
        })
    }

    /// The programmes with these ids, as this write sees them.
    pub async fn programmes_by_ids(
        &mut self,
        ids: &[ganglion_core::ProgrammeId],
    ) -> Result<HashMap<ganglion_core::ProgrammeId, crate::ProgrammeRow>, StoreError> {
        let programmes = with_statements!(self, |statements, backend| {
            let sql = format!(
                "SELECT {} FROM programmes WHERE id IN ({})",
                crate::programmes::PROGRAMME_COLUMNS,
                json_ids(backend, "$1")
            );
            statements
                .fetch(&sql, id_list(ids.iter().map(|id| id.get())), |row| {
                    let programme = crate::programmes::programme_from_cells(row)?;
                    Ok((programme.id, programme))
                })
                .await?
        });
        Ok(programmes.into_iter().collect())
    }

    /// What these items are as programme projects, for those that are.
    pub async fn projects_of_items(
        &mut self,
        ids: &[ItemId],
    ) -> Result<HashMap<ItemId, crate::ProjectRow>, StoreError> {
        let projects = with_statements!(self, |statements, backend| {
            let sql = format!(
                "SELECT {} FROM projects p WHERE p.item_id IN ({})",
                crate::programmes::PROJECT_COLUMNS,
                json_ids(backend, "$1")
            );
            statements
                .fetch(&sql, id_list(ids.iter().map(|id| id.get())), |row| {
                    let project = crate::programmes::project_from_row(row)?;
                    Ok((project.item, project))
                })
                .await?
        });
        Ok(projects.into_iter().collect())
    }
}
