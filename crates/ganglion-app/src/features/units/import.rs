//! Bulk import of units: all or nothing. Every row is checked — encoding, values, kind
//! rules, references, duplicates, cycles — and every bad row is reported with its line;
//! only a file without a single bad row is written, in one transaction.
//!
//! The demo organization goes through the same path, so the rules that hold for a file
//! hold for the sample data too.

use std::collections::HashMap;

use ganglion_core::{Tags, TreeIndex, UnitCode, UnitId, UnitName};
use ganglion_store::{child_path, root_path, UnitRow};
use serde::Serialize;

use crate::features::units::UNIT_CSV_HEADER;
use crate::{App, AppError, Audit, Ctx, RowError};
use ganglion_core::{Action, Resource};

/// One row to import, as read from a file (or generated), not yet checked.
#[derive(Debug, Clone)]
pub struct ImportRow {
    pub line: u64,
    pub code: String,
    pub parent_code: String,
    pub kind: String,
    pub name: String,
    pub tags: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ImportSummary {
    pub created: u64,
}

/// Told how long work goes; the command line shows it as a progress bar.
pub trait Progress: Send + Sync {
    fn stage(&self, name: &str, total: u64);
    fn advance(&self, done: u64);
}

/// Progress that nobody watches.
pub struct Silent;

impl Progress for Silent {
    fn stage(&self, _: &str, _: u64) {}
    fn advance(&self, _: u64) {}
}

/// Reads the CSV form of API.md: header `code,parent_code,kind,name,tags`.
pub fn parse_unit_csv(bytes: &[u8]) -> Result<Vec<ImportRow>, Vec<RowError>> {
    let records = crate::csv_file::read_records(bytes, UNIT_CSV_HEADER)?;
    Ok(records
        .into_iter()
        .map(|(line, fields)| ImportRow {
            line,
            code: fields[0].trim().to_owned(),
            parent_code: fields[1].trim().to_owned(),
            kind: fields[2].trim().to_owned(),
            name: fields[3].clone(),
            tags: fields[4].clone(),
        })
        .collect())
}

/// Where a row's parent is: nowhere (top of the tree), in the file, or already stored.
enum ParentRef {
    Top,
    InFile(usize),
    Stored(UnitRow),
    Unknown,
}

struct CheckedRow {
    code: UnitCode,
    name: UnitName,
    tags: Tags,
}

impl App {
    /// Imports a CSV file of units; see [`parse_unit_csv`] for the format.
    pub async fn import_units_csv(
        &self,
        ctx: &Ctx,
        bytes: &[u8],
        progress: &dyn Progress,
    ) -> Result<ImportSummary, AppError> {
        let rows = parse_unit_csv(bytes).map_err(|rows| AppError::Rows { rows })?;
        self.import_units(ctx, rows, progress).await
    }

    /// Checks every row, then writes them all in one transaction, or nothing.
    pub async fn import_units(
        &self,
        ctx: &Ctx,
        rows: Vec<ImportRow>,
        progress: &dyn Progress,
    ) -> Result<ImportSummary, AppError> {
        let mut errors = Vec::new();
        let mut report = |row: &ImportRow, reason: String| {
            errors.push(RowError {
                line: row.line,
                code: (!row.code.is_empty()).then(|| row.code.clone()),
                reason,
            })
        };
        progress.stage("checking rows", rows.len() as u64);
        let started = std::time::Instant::now();

        // Values, and codes repeated within the file.
        let mut checked: Vec<Option<CheckedRow>> = Vec::with_capacity(rows.len());
        let mut index_of_code: HashMap<&str, usize> = HashMap::with_capacity(rows.len());
        for (index, row) in rows.iter().enumerate() {
            let values = (|| {
                let code = UnitCode::parse(&row.code).map_err(|e| format!("code: {e}"))?;
                let name = UnitName::parse(&row.name).map_err(|e| format!("name: {e}"))?;
                let tags = Tags::parse_list(&row.tags).map_err(|e| format!("tags: {e}"))?;
                Ok::<_, String>(CheckedRow { code, name, tags })
            })();
            match values {
                Ok(values) => checked.push(Some(values)),
                Err(reason) => {
                    report(row, reason);
                    checked.push(None);
                }
            }
            if let Some(&first) = index_of_code.get(row.code.as_str()) {
                report(
                    row,
                    format!(
                        "duplicate code {}: it is already on line {}",
                        row.code, rows[first].line
                    ),
                );
            } else if !row.code.is_empty() {
                index_of_code.insert(row.code.as_str(), index);
            }
        }

        tracing::debug!(elapsed = ?started.elapsed(), "import: values checked");
        self.authorize_import(ctx, &rows, &index_of_code).await?;
        let mut tx = self.store.write().await?;

        // Codes already stored, and parents that are stored rather than in the file.
        let codes: Vec<&str> = index_of_code.keys().copied().collect();
        for stored in tx.units_by_codes(&codes).await? {
            let row = &rows[index_of_code[stored.code.as_str()]];
            report(
                row,
                format!("code {} already exists in the organization", row.code),
            );
        }
        let outside_parents: Vec<&str> = rows
            .iter()
            .map(|row| row.parent_code.as_str())
            .filter(|code| !code.is_empty() && !index_of_code.contains_key(code))
            .collect::<std::collections::HashSet<_>>()
            .into_iter()
            .collect();
        let stored_parents: HashMap<String, UnitRow> = tx
            .units_by_codes(&outside_parents)
            .await?
            .into_iter()
            // A parent the caller may not write under is, for this file, unknown.
            .filter(|unit| self.allowed(ctx, Action::Write, Resource::Unit(unit.id)))
            .map(|unit| (unit.code.clone(), unit))
            .collect();
        let parents: Vec<ParentRef> = rows
            .iter()
            .map(|row| {
                if row.parent_code.is_empty() {
                    ParentRef::Top
                } else if let Some(&index) = index_of_code.get(row.parent_code.as_str()) {
                    ParentRef::InFile(index)
                } else if let Some(stored) = stored_parents.get(&row.parent_code) {
                    ParentRef::Stored(stored.clone())
                } else {
                    ParentRef::Unknown
                }
            })
            .collect();

        tracing::debug!(elapsed = ?started.elapsed(), "import: references resolved");
        // Kinds, against the parent's kind.
        for (index, row) in rows.iter().enumerate() {
            let parent_kind = match &parents[index] {
                ParentRef::Top => None,
                ParentRef::InFile(parent) => Some(rows[*parent].kind.as_str()),
                ParentRef::Stored(stored) => Some(stored.kind.as_str()),
                ParentRef::Unknown => {
                    report(
                        row,
                        format!(
                            "unknown parent {}: no row of the file and no unit of the organization has that code",
                            row.parent_code
                        ),
                    );
                    continue;
                }
            };
            if let Err(error) = self.check_placement(&row.kind, parent_kind) {
                report(row, error.to_string());
            }
            progress.advance(1);
        }

        // Cycles: rows whose chain of parents within the file never reaches the top or
        // a stored unit. The tree index finds them as the rows no root reaches.
        let row_id = |index: usize| UnitId::new(index as i64 + 1).expect("positive");
        let edges = (0..rows.len()).map(|index| match parents[index] {
            ParentRef::InFile(parent) => (row_id(index), Some(row_id(parent))),
            _ => (row_id(index), None),
        });
        let forest = match TreeIndex::build(edges) {
            Ok(forest) => forest,
            Err(ganglion_core::MoveError::Unreachable(looped)) => {
                for id in looped {
                    let row = &rows[id.get() as usize - 1];
                    report(
                        row,
                        format!(
                            "cycle: following parent codes up from {} comes back to a row already passed",
                            row.code
                        ),
                    );
                }
                TreeIndex::new()
            }
            Err(other) => return Err(AppError::Internal(other.to_string())),
        };

        if !errors.is_empty() {
            return Err(AppError::Rows {
                rows: one_entry_per_line(errors),
            });
        }

        // Ids in pre-order of the file's forest, so that parents precede children.
        let first_id = tx.first_free_unit_id().await?;
        let mut new_units: Vec<UnitRow> = Vec::with_capacity(rows.len());
        let mut placed: Vec<usize> = vec![usize::MAX; rows.len()];
        for position in 0..forest.len() as u32 {
            let index = forest.unit_at(position).expect("in range").get() as usize - 1;
            let row = &rows[index];
            let values = checked[index].take().expect("checked rows are valid");
            let id = UnitId::new(first_id + position as i64).expect("positive");
            let (parent, depth, path) = match &parents[index] {
                ParentRef::Top => (None, 0, root_path(id)),
                ParentRef::InFile(parent) => {
                    let parent = &new_units[placed[*parent]];
                    (
                        Some(parent.id),
                        parent.depth + 1,
                        child_path(&parent.path, id),
                    )
                }
                ParentRef::Stored(stored) => {
                    (Some(stored.id), stored.depth + 1, stored.child_path(id))
                }
                ParentRef::Unknown => unreachable!("rows with unknown parents were reported"),
            };
            placed[index] = new_units.len();
            new_units.push(UnitRow {
                id,
                parent,
                parent_code: (!row.parent_code.is_empty()).then(|| row.parent_code.clone()),
                kind: row.kind.clone(),
                name: values.name.as_str().to_owned(),
                code: values.code.as_str().to_owned(),
                tags: values.tags.to_list(),
                depth,
                path,
            });
        }
        drop(rows);

        tracing::debug!(elapsed = ?started.elapsed(), "import: ids and paths assigned");
        progress.stage("writing units", new_units.len() as u64);
        for chunk in new_units.chunks(10_000) {
            tx.insert_units(chunk).await?;
            progress.advance(chunk.len() as u64);
        }
        tracing::debug!(elapsed = ?started.elapsed(), "import: rows written");
        let summary = ImportSummary {
            created: new_units.len() as u64,
        };
        let audit =
            Audit::new("unit.import", format!("units:{}", summary.created), None).after(&summary);
        self.record_change(&mut tx, "tree", serde_json::json!({}))
            .await?;
        let summary = self.finish_write(tx, ctx, audit, summary).await?;
        tracing::debug!(elapsed = ?started.elapsed(), "import: committed");
        self.reload_tree().await?;
        Ok(summary)
    }
}

impl App {
    /// Checks, before anything is locked, that the caller may place rows under every
    /// stored unit the file names as a parent, and at the top if any row is there.
    async fn authorize_import(
        &self,
        ctx: &Ctx,
        rows: &[ImportRow],
        index_of_code: &HashMap<&str, usize>,
    ) -> Result<(), AppError> {
        if ctx.principal.admin {
            return Ok(());
        }
        self.require_signed_in(ctx)?;
        if rows.iter().any(|row| row.parent_code.is_empty()) {
            self.authorize(
                ctx,
                Action::Write,
                Resource::Instance,
                "unit",
                "unit.import",
                "top of the tree".into(),
            )
            .await?;
        }
        let outside: std::collections::HashSet<&str> = rows
            .iter()
            .map(|row| row.parent_code.as_str())
            .filter(|code| !code.is_empty() && !index_of_code.contains_key(code))
            .collect();
        let codes: Vec<&str> = outside.into_iter().collect();
        for parent in self.store.units_by_codes(&codes).await? {
            if !self.allowed(ctx, Action::Write, Resource::Unit(parent.id)) {
                // A parent the caller may not see is reported like an unknown one, below.
                if self.allowed(ctx, Action::Read, Resource::Unit(parent.id)) {
                    self.authorize(
                        ctx,
                        Action::Write,
                        Resource::Unit(parent.id),
                        "unit",
                        "unit.import",
                        format!("unit:{}", parent.id),
                    )
                    .await?;
                } else {
                    self.record_denial(ctx, "unit.import", format!("unit:{}", parent.id), None)
                        .await;
                }
            }
        }
        Ok(())
    }
}

/// Sorts the errors by line and joins the reasons of a line into one entry, so that each
/// bad row is listed once.
fn one_entry_per_line(mut errors: Vec<RowError>) -> Vec<RowError> {
    errors.sort_by_key(|error| error.line);
    let mut merged: Vec<RowError> = Vec::with_capacity(errors.len());
    for error in errors {
        match merged.last_mut() {
            Some(last) if last.line == error.line => {
                last.reason.push_str("; ");
                last.reason.push_str(&error.reason);
            }
            _ => merged.push(error),
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_carry_their_line_numbers() {
        let file = "code,parent_code,kind,name,tags\nC,,centre,Centre,\n\nP1,C,province,\"North, East\",rural;x\n";
        let rows = parse_unit_csv(file.as_bytes()).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].line, rows[1].line), (2, 4));
        assert_eq!(rows[1].name, "North, East");
    }

    #[test]
    fn bad_files_are_explained() {
        let wrong_header = parse_unit_csv(b"code,kind\nC,centre\n").unwrap_err();
        assert_eq!(wrong_header[0].line, 1);
        let bad_encoding =
            parse_unit_csv(b"code,parent_code,kind,name,tags\nC,,centre,\xff\xfe,\nD,,centre,x\n")
                .unwrap_err();
        assert_eq!(bad_encoding.len(), 2);
        assert_eq!((bad_encoding[0].line, bad_encoding[1].line), (2, 3));
        assert!(bad_encoding[0].reason.contains("UTF-8"));
        assert!(parse_unit_csv(b"").is_err());
    }
}
