//! The consistency of what is stored, checked from the rows themselves: after a crash,
//! a restore or a suspected fault, `ganglion check` says whether the database still
//! holds one tree and one history, or names what does not fit.
//!
//! The audit chain has its own verifier; this covers the rest: the database's own
//! structure (SQLite's page and index check, and its foreign keys), the tree (every
//! parent present, every path and depth derived from the parent's), and the tracked
//! items (each one's state is the one its last move led to, each move starts where the
//! one before it ended, and each directive counts the items it conveyed).

use crate::exec::Cells;
use crate::units::{child_path, root_path};
use crate::{Backend, Store, StoreError};
use ganglion_core::UnitId;

/// What the check found: how much it looked at, and every problem, in words.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IntegrityReport {
    pub units: u64,
    pub items: u64,
    pub item_events: u64,
    pub problems: Vec<String>,
}

impl IntegrityReport {
    pub fn sound(&self) -> bool {
        self.problems.is_empty()
    }
}

/// At most this many problems of one kind are named; the count says the rest.
const NAMED: usize = 20;

fn name_some(problems: &mut Vec<String>, what: &str, found: Vec<String>) {
    let total = found.len();
    problems.extend(found.into_iter().take(NAMED));
    if total > NAMED {
        problems.push(format!("… and {} more {what}", total - NAMED));
    }
}

/// One problem, in words, for each row the query finds.
async fn problem_per_row(
    snapshot: &mut crate::ReadTx,
    sql: &str,
    describe: impl Fn(&sqlx::any::AnyRow) -> Result<String, StoreError>,
) -> Result<Vec<String>, StoreError> {
    let rows = sqlx::query(sql).fetch_all(&mut *snapshot.tx).await?;
    rows.iter().map(describe).collect()
}

impl Store {
    /// Checks the stored organization as described in the module's documentation. A
    /// read: it changes nothing, and may run while a server writes.
    pub async fn check_integrity(&self) -> Result<IntegrityReport, StoreError> {
        let mut report = IntegrityReport::default();
        if self.backend == Backend::Sqlite {
            let rows = sqlx::query("PRAGMA integrity_check")
                .fetch_all(&self.pool)
                .await?;
            let found: Vec<String> = rows
                .iter()
                .map(|row| row.text(0))
                .collect::<Result<Vec<_>, _>>()?
                .into_iter()
                .filter(|line| line != "ok")
                .map(|line| format!("SQLite integrity check: {line}"))
                .collect();
            name_some(&mut report.problems, "faults of the file", found);
            // Its columns: the table, the row id, the table referred to, the key's number.
            let rows = sqlx::query("PRAGMA foreign_key_check")
                .fetch_all(&self.pool)
                .await?;
            let found = rows
                .iter()
                .map(|row| {
                    Ok(format!(
                        "row {} of {} names a missing row of {}",
                        row.int_opt(1)?.unwrap_or_default(),
                        row.text(0)?,
                        row.text(2)?
                    ))
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            name_some(&mut report.problems, "missing references", found);
        }

        let mut snapshot = self.snapshot().await?;
        let units = sqlx::query("SELECT id, parent_id, depth, path FROM units ORDER BY id")
            .fetch_all(&mut *snapshot.tx)
            .await?;
        report.units = units.len() as u64;
        let mut by_id = std::collections::HashMap::with_capacity(units.len());
        for row in &units {
            by_id.insert(
                row.get_int("id")?,
                (
                    row.get_int_opt("parent_id")?,
                    row.get_int("depth")?,
                    row.get_text("path")?,
                ),
            );
        }
        let mut found = Vec::new();
        for (&id, (parent, depth, path)) in &by_id {
            let Some(unit) = UnitId::new(id) else {
                found.push(format!("unit {id} has an id below 1"));
                continue;
            };
            let (expected_path, expected_depth) = match parent {
                None => (root_path(unit), 0),
                Some(parent_id) => match by_id.get(parent_id) {
                    Some((_, parent_depth, parent_path)) => {
                        (child_path(parent_path, unit), parent_depth + 1)
                    }
                    None => {
                        found.push(format!("unit {id} names a missing parent {parent_id}"));
                        continue;
                    }
                },
            };
            if *path != expected_path {
                found.push(format!(
                    "unit {id} has the path {path}, its parent's gives {expected_path}"
                ));
            }
            if *depth != expected_depth {
                found.push(format!(
                    "unit {id} has the depth {depth}, its parent's gives {expected_depth}"
                ));
            }
        }
        found.sort();
        name_some(&mut report.problems, "faults of the tree", found);

        report.items = sqlx::query("SELECT COUNT(*) AS n FROM items")
            .fetch_one(&mut *snapshot.tx)
            .await?
            .get_int("n")? as u64;
        report.item_events = sqlx::query("SELECT COUNT(*) AS n FROM item_events")
            .fetch_one(&mut *snapshot.tx)
            .await?
            .get_int("n")? as u64;

        let found = problem_per_row(
            &mut snapshot,
            "SELECT i.id AS item, i.state AS state, e.to_state AS moved_to FROM items i \
             JOIN item_events e ON e.id = \
               (SELECT MAX(l.id) FROM item_events l WHERE l.item_id = i.id) \
             WHERE e.to_state <> i.state ORDER BY i.id",
            |row| {
                Ok(format!(
                    "item {} is in state {}, its last move took it to {}",
                    row.get_int("item")?,
                    row.get_int("state")?,
                    row.get_int("moved_to")?
                ))
            },
        )
        .await?;
        name_some(&mut report.problems, "items out of step", found);

        let found = problem_per_row(
            &mut snapshot,
            "SELECT item, event, from_state, previous FROM \
               (SELECT item_id AS item, id AS event, from_state, \
                       LAG(to_state) OVER (PARTITION BY item_id ORDER BY id) AS previous \
                FROM item_events) moves \
             WHERE previous IS NOT NULL AND previous <> from_state ORDER BY event",
            |row| {
                Ok(format!(
                    "move {} of item {} starts from state {}, the move before ended in {}",
                    row.get_int("event")?,
                    row.get_int("item")?,
                    row.get_int("from_state")?,
                    row.get_int_opt("previous")?.unwrap_or_default()
                ))
            },
        )
        .await?;
        name_some(&mut report.problems, "broken histories", found);

        let found = problem_per_row(
            &mut snapshot,
            "SELECT d.id AS directive, d.assignment_count AS counted, \
                    (SELECT COUNT(*) FROM items i WHERE i.kind = d.kind AND i.source_id = d.id) \
                      AS held \
             FROM directives d \
             WHERE d.assignment_count <> \
                   (SELECT COUNT(*) FROM items i WHERE i.kind = d.kind AND i.source_id = d.id) \
             ORDER BY d.id",
            |row| {
                Ok(format!(
                    "directive {} counts {} assignments and holds {}",
                    row.get_int("directive")?,
                    row.get_int("counted")?,
                    row.get_int("held")?
                ))
            },
        )
        .await?;
        name_some(&mut report.problems, "directives miscounted", found);
        Ok(report)
    }
}
