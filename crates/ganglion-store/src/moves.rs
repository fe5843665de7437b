//! Many assignments moved in one write. Reports arrive by the thousand and every commit
//! costs a flush, so a batch of them is read, written and recorded with a handful of
//! statements, each taking all its rows as one JSON parameter: the same text for any
//! number of rows, prepared once per connection.

use std::collections::HashMap;

use crate::batch::with_statements;
use crate::directives::{
    assignment_from_row, directive_from_row_at, event_from_row, guidance_from_row,
    ASSIGNMENT_COLUMNS_OF_A, DIRECTIVE_COLUMNS, EVENT_COLUMNS, GUIDANCE_COLUMNS, GUIDANCE_FROM,
};
use crate::exec::{Columns, Param, RowWrite, Statements};
use crate::{
    json_ids, AssignmentEventRow, AssignmentRow, BatchTx, DirectiveRow, GuidanceRow, StoreError,
};

/// One move of an assignment, as its history records it.
#[derive(Debug, Clone)]
pub struct AssignmentMove<'a> {
    pub assignment: i64,
    pub directive: i64,
    pub from_state: u8,
    pub to_state: u8,
    pub metric_value: Option<f64>,
    pub note: &'a str,
    pub actor: &'a str,
    /// Who the actor is to a reader, kept as it was at the time of the move.
    pub actor_name: Option<&'a str>,
    pub at: &'a str,
}

/// A history entry's columns, as written.
const EVENT_TABLE: Columns<'static> = &[
    ("assignment_id", "BIGINT"),
    ("directive_id", "BIGINT"),
    ("at", "TEXT"),
    ("actor", "TEXT"),
    ("actor_name", "TEXT"),
    ("from_state", "INTEGER"),
    ("to_state", "INTEGER"),
    ("note", "TEXT"),
    ("metric_value", "DOUBLE PRECISION"),
];

/// Where an assignment stands, keyed by its id.
const ASSIGNMENT_STATE: Columns<'static> = &[
    ("id", "BIGINT"),
    ("state", "INTEGER"),
    ("metric_value", "DOUBLE PRECISION"),
    ("updated_at", "TEXT"),
];

fn id_list(ids: &[i64]) -> Vec<Param> {
    vec![serde_json::Value::from(ids).to_string().into()]
}

impl BatchTx<'_> {
    /// The assignments with these ids, and their directives, as this write sees them.
    #[allow(clippy::type_complexity)]
    pub async fn assignments_with_directives(
        &mut self,
        ids: &[i64],
    ) -> Result<(HashMap<i64, AssignmentRow>, HashMap<i64, DirectiveRow>), StoreError> {
        let directive_columns = DIRECTIVE_COLUMNS
            .split(", ")
            .map(|column| format!("d.{column}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut directives = HashMap::new();
        let assignments = with_statements!(self, |statements, backend| {
            let sql = format!(
                "SELECT {ASSIGNMENT_COLUMNS_OF_A}, {directive_columns} FROM assignments a \
                 JOIN directives d ON d.id = a.directive_id WHERE a.id IN ({})",
                json_ids(backend, "$1")
            );
            statements
                .fetch(&sql, id_list(ids), |row| {
                    let assignment = assignment_from_row(row)?;
                    if !directives.contains_key(&assignment.directive) {
                        // The directive's columns follow the assignment's six.
                        let directive = directive_from_row_at(row, 6)?;
                        directives.insert(directive.id, directive);
                    }
                    Ok((assignment.id, assignment))
                })
                .await?
        });
        Ok((assignments.into_iter().collect(), directives))
    }

    /// Writes the moves in the order given: each one's history entry, and each
    /// assignment's final state and metric.
    pub async fn move_assignments(
        &mut self,
        moves: &[AssignmentMove<'_>],
    ) -> Result<(), StoreError> {
        if moves.is_empty() {
            return Ok(());
        }
        let events = moves
            .iter()
            .map(|step| {
                vec![
                    step.assignment.into(),
                    step.directive.into(),
                    step.at.into(),
                    step.actor.into(),
                    step.actor_name.into(),
                    step.from_state.into(),
                    step.to_state.into(),
                    step.note.into(),
                    step.metric_value.into(),
                ]
            })
            .collect();
        // Only the last move of an assignment decides where it stands.
        let mut last: HashMap<i64, &AssignmentMove<'_>> = HashMap::with_capacity(moves.len());
        for step in moves {
            last.insert(step.assignment, step);
        }
        let finals = last
            .into_values()
            .map(|step| {
                vec![
                    step.assignment.into(),
                    step.to_state.into(),
                    step.metric_value.into(),
                    step.at.into(),
                ]
            })
            .collect();
        with_statements!(self, |statements, backend| {
            statements
                .write_rows(
                    backend,
                    RowWrite::Insert("assignment_events"),
                    EVENT_TABLE,
                    events,
                )
                .await?;
            statements
                .write_rows(
                    backend,
                    RowWrite::Update("assignments"),
                    ASSIGNMENT_STATE,
                    finals,
                )
                .await
        })
    }

    /// The histories of these assignments, each oldest first.
    pub async fn events_of_assignments(
        &mut self,
        ids: &[i64],
    ) -> Result<HashMap<i64, Vec<AssignmentEventRow>>, StoreError> {
        let mut found: HashMap<i64, Vec<AssignmentEventRow>> = HashMap::with_capacity(ids.len());
        with_statements!(self, |statements, backend| {
            let sql = format!(
                "SELECT assignment_id, {EVENT_COLUMNS} FROM assignment_events \
                 WHERE assignment_id IN ({}) ORDER BY id",
                json_ids(backend, "$1")
            );
            statements
                .fetch(&sql, id_list(ids), |row| {
                    found
                        .entry(row.int(0)?)
                        .or_default()
                        .push(event_from_row(row, 1)?);
                    Ok(())
                })
                .await?
        });
        Ok(found)
    }

    /// Every guidance note on these directives, oldest first.
    pub async fn guidance_of_directives(
        &mut self,
        ids: &[i64],
    ) -> Result<Vec<GuidanceRow>, StoreError> {
        with_statements!(self, |statements, backend| {
            let sql = format!(
                "SELECT {GUIDANCE_COLUMNS} FROM {GUIDANCE_FROM} WHERE g.directive_id IN ({}) \
                 ORDER BY g.id",
                json_ids(backend, "$1")
            );
            statements
                .fetch(&sql, id_list(ids), |row| guidance_from_row(row))
                .await
        })
    }
}
