//! Many assignments moved in one write. Reports arrive by the thousand and every commit
//! costs a flush, so a batch of them is read, written and recorded with a handful of
//! statements, each taking all its rows as one JSON parameter: the same text for any
//! number of rows, prepared once per connection.

use std::collections::HashMap;

use serde_json::json;
use sqlx::Row;

use crate::directives::{
    assignment_from_row, directive_from_row_at, event_from_row, guidance_from_row,
    ASSIGNMENT_COLUMNS_OF_A, DIRECTIVE_COLUMNS, EVENT_COLUMNS, GUIDANCE_COLUMNS, GUIDANCE_FROM,
};
use crate::{
    json_ids, json_rows, AssignmentEventRow, AssignmentRow, DirectiveRow, GuidanceRow, StoreError,
    WriteTx,
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
    pub at: &'a str,
}

fn id_list(ids: &[i64]) -> String {
    serde_json::Value::from(ids).to_string()
}

impl WriteTx {
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
        let sql = format!(
            "SELECT {ASSIGNMENT_COLUMNS_OF_A}, {directive_columns} FROM assignments a \
             JOIN directives d ON d.id = a.directive_id WHERE a.id IN ({})",
            json_ids(self.backend, "$1")
        );
        let rows = sqlx::query(&sql)
            .bind(id_list(ids))
            .fetch_all(&mut *self.tx)
            .await?;
        let mut assignments = HashMap::with_capacity(rows.len());
        let mut directives = HashMap::new();
        for row in &rows {
            let assignment = assignment_from_row(row)?;
            if !directives.contains_key(&assignment.directive) {
                // The directive's columns follow the assignment's six.
                let directive = directive_from_row_at(row, 6)?;
                directives.insert(directive.id, directive);
            }
            assignments.insert(assignment.id, assignment);
        }
        Ok((assignments, directives))
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
        let events: Vec<serde_json::Value> = moves
            .iter()
            .map(|step| {
                json!({
                    "assignment_id": step.assignment,
                    "directive_id": step.directive,
                    "at": step.at,
                    "actor": step.actor,
                    "from_state": step.from_state,
                    "to_state": step.to_state,
                    "note": step.note,
                    "metric_value": step.metric_value,
                })
            })
            .collect();
        let sql = format!(
            "INSERT INTO assignment_events (assignment_id, directive_id, at, actor, from_state, \
             to_state, note, metric_value) SELECT m.assignment_id, m.directive_id, m.at, \
             m.actor, m.from_state, m.to_state, m.note, m.metric_value FROM {}",
            json_rows(
                self.backend,
                "$1",
                "m",
                &[
                    ("assignment_id", "BIGINT"),
                    ("directive_id", "BIGINT"),
                    ("at", "TEXT"),
                    ("actor", "TEXT"),
                    ("from_state", "INTEGER"),
                    ("to_state", "INTEGER"),
                    ("note", "TEXT"),
                    ("metric_value", "DOUBLE PRECISION"),
                ],
            )
        );
        sqlx::query(&sql)
            .bind(serde_json::Value::from(events).to_string())
            .execute(&mut *self.tx)
            .await?;
        // Only the last move of an assignment decides where it stands.
        let mut last: HashMap<i64, &AssignmentMove<'_>> = HashMap::with_capacity(moves.len());
        for step in moves {
            last.insert(step.assignment, step);
        }
        let finals: Vec<serde_json::Value> = last
            .into_values()
            .map(|step| {
                json!({
                    "id": step.assignment,
                    "state": step.to_state,
                    "metric_value": step.metric_value,
                    "at": step.at,
                })
            })
            .collect();
        let sql = format!(
            "UPDATE assignments SET state = m.state, metric_value = m.metric_value, \
             updated_at = m.at FROM {} WHERE assignments.id = m.id",
            json_rows(
                self.backend,
                "$1",
                "m",
                &[
                    ("id", "BIGINT"),
                    ("state", "INTEGER"),
                    ("metric_value", "DOUBLE PRECISION"),
                    ("at", "TEXT"),
                ],
            )
        );
        sqlx::query(&sql)
            .bind(serde_json::Value::from(finals).to_string())
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// The histories of these assignments, each oldest first.
    pub async fn events_of_assignments(
        &mut self,
        ids: &[i64],
    ) -> Result<HashMap<i64, Vec<AssignmentEventRow>>, StoreError> {
        let sql = format!(
            "SELECT assignment_id, {EVENT_COLUMNS} FROM assignment_events \
             WHERE assignment_id IN ({}) ORDER BY id",
            json_ids(self.backend, "$1")
        );
        let rows = sqlx::query(&sql)
            .bind(id_list(ids))
            .fetch_all(&mut *self.tx)
            .await?;
        let mut found: HashMap<i64, Vec<AssignmentEventRow>> = HashMap::with_capacity(ids.len());
        for row in &rows {
            let assignment: i64 = row.try_get(0)?;
            found
                .entry(assignment)
                .or_default()
                .push(event_from_row(row, 1)?);
        }
        Ok(found)
    }

    /// Every guidance note on these directives, oldest first.
    pub async fn guidance_of_directives(
        &mut self,
        ids: &[i64],
    ) -> Result<Vec<GuidanceRow>, StoreError> {
        let sql = format!(
            "SELECT {GUIDANCE_COLUMNS} FROM {GUIDANCE_FROM} WHERE g.directive_id IN ({}) \
             ORDER BY g.id",
            json_ids(self.backend, "$1")
        );
        let rows = sqlx::query(&sql)
            .bind(id_list(ids))
            .fetch_all(&mut *self.tx)
            .await?;
        Ok(rows
            .iter()
            .map(guidance_from_row)
            .collect::<Result<_, sqlx::Error>>()?)
    }
}
