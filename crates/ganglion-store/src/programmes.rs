//! Multi-year programmes and their projects. A project is an item (of kind `project`)
//! of the directive carrying its programme's year; this table says what it is.

use ganglion_core::tracking::StateId;
use ganglion_core::{ItemId, ProgrammeId, UnitId};

use crate::directives::{corrupt, unit_id, DIRECTIVE_COLUMNS};
use crate::exec::{Cells, Columns, RowWrite, Statements};
use crate::tracking::{item_from_row, ITEM_COLUMNS};
use crate::{DirectiveRow, ItemRow, Store, StoreError, WriteTx};

/// A metric a programme's projects report, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricSpecRow {
    pub key: String,
    pub name: String,
    pub unit: String,
    pub aggregate: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ProgrammeRow {
    pub id: ProgrammeId,
    pub owner: UnitId,
    pub title: String,
    pub description: String,
    pub start_year: i32,
    pub years: i32,
    pub metrics: Vec<MetricSpecRow>,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectRow {
    pub item: ItemId,
    pub programme: ProgrammeId,
    pub year: i32,
    /// What is built: a factory, a hospital.
    pub kind: String,
    pub title: String,
}

/// The filters of a programme's list of projects.
#[derive(Debug, Clone, Default)]
pub struct ProjectFilter {
    /// A subtree, as a path range.
    pub range: Option<(String, String)>,
    pub year: Option<i32>,
    pub state: Option<StateId>,
    pub kind: Option<String>,
}

/// A project with its item and its unit's name and code.
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectListRow {
    pub project: ProjectRow,
    pub item: ItemRow,
    pub unit_name: String,
    pub unit_code: String,
}

pub(crate) const PROGRAMME_COLUMNS: &str =
    "id, owner_id, title, description, start_year, years, metrics, created_at";
pub(crate) const PROJECT_COLUMNS: &str = "p.item_id, p.programme_id, p.year, p.kind, p.title";

fn metrics_from_text(text: &str) -> Result<Vec<MetricSpecRow>, StoreError> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|_| corrupt("programme metrics"))?;
    let field = |entry: &serde_json::Value, name: &str| {
        entry[name].as_str().map(str::to_owned).unwrap_or_default()
    };
    Ok(value
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .map(|entry| MetricSpecRow {
                    key: field(entry, "key"),
                    name: field(entry, "name"),
                    unit: field(entry, "unit"),
                    aggregate: field(entry, "aggregate"),
                })
                .collect()
        })
        .unwrap_or_default())
}

fn metrics_to_text(metrics: &[MetricSpecRow]) -> String {
    let entries: Vec<serde_json::Value> = metrics
        .iter()
        .map(|metric| {
            serde_json::json!({
                "key": metric.key,
                "name": metric.name,
                "unit": metric.unit,
                "aggregate": metric.aggregate,
            })
        })
        .collect();
    serde_json::Value::from(entries).to_string()
}

fn programme_from_row(row: &sqlx::any::AnyRow) -> Result<ProgrammeRow, StoreError> {
    programme_from_cells(row)
}

pub(crate) fn programme_from_cells(
    row: &(impl Cells + ?Sized),
) -> Result<ProgrammeRow, StoreError> {
    Ok(ProgrammeRow {
        id: ProgrammeId::new(row.get_int("id")?).ok_or_else(|| corrupt("programme id"))?,
        owner: unit_id(row.get_int("owner_id")?, "owner")?,
        title: row.get_text("title")?,
        description: row.get_text("description")?,
        start_year: year_of(row.get_int("start_year")?)?,
        years: year_of(row.get_int("years")?)?,
        metrics: metrics_from_text(&row.get_text("metrics")?)?,
        created_at: row.get_text("created_at")?,
    })
}

fn year_of(raw: i64) -> Result<i32, StoreError> {
    i32::try_from(raw).map_err(|_| corrupt("year"))
}

pub(crate) fn project_from_row(row: &(impl Cells + ?Sized)) -> Result<ProjectRow, StoreError> {
    Ok(ProjectRow {
        item: ItemId::new(row.get_int("item_id")?).ok_or_else(|| corrupt("project item"))?,
        programme: ProgrammeId::new(row.get_int("programme_id")?)
            .ok_or_else(|| corrupt("programme id"))?,
        year: year_of(row.get_int("year")?)?,
        kind: row.get_text("kind")?,
        title: row.get_text("title")?,
    })
}

impl Store {
    pub async fn programme(&self, id: ProgrammeId) -> Result<Option<ProgrammeRow>, StoreError> {
        let sql = format!("SELECT {PROGRAMME_COLUMNS} FROM programmes WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id.get())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(programme_from_row).transpose()
    }

    /// Every programme, by id: there are few, and each is seen by whom the caller
    /// decides.
    pub async fn programmes(&self) -> Result<Vec<ProgrammeRow>, StoreError> {
        let sql = format!("SELECT {PROGRAMME_COLUMNS} FROM programmes ORDER BY id");
        let rows = sqlx::query(&sql).fetch_all(&self.pool).await?;
        rows.iter().map(programme_from_row).collect()
    }

    /// The directives carrying a programme's years, by year.
    pub async fn programme_directives(
        &self,
        programme: ProgrammeId,
    ) -> Result<Vec<DirectiveRow>, StoreError> {
        let sql = format!(
            "SELECT {DIRECTIVE_COLUMNS} FROM directives WHERE programme_id = $1 \
             ORDER BY programme_year"
        );
        let rows = sqlx::query(&sql)
            .bind(programme.get())
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(crate::directives::directive_from_row)
            .collect()
    }

    pub async fn project(&self, item: ItemId) -> Result<Option<ProjectRow>, StoreError> {
        let sql = format!("SELECT {PROJECT_COLUMNS} FROM projects p WHERE p.item_id = $1");
        let row = sqlx::query(&sql)
            .bind(item.get())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(project_from_row).transpose()
    }

    /// What these items are as projects, for those that are.
    pub async fn projects_of_items(
        &self,
        ids: &[ItemId],
    ) -> Result<std::collections::HashMap<ItemId, ProjectRow>, StoreError> {
        if ids.is_empty() {
            return Ok(Default::default());
        }
        let list: Vec<i64> = ids.iter().map(|id| id.get()).collect();
        let sql = format!(
            "SELECT {PROJECT_COLUMNS} FROM projects p WHERE p.item_id IN ({})",
            crate::json_ids(self.backend, "$1")
        );
        let mut reading = self.pool.begin().await?;
        let projects = reading
            .fetch(
                &sql,
                vec![serde_json::Value::from(list).to_string().into()],
                |row| project_from_row(row),
            )
            .await?;
        Ok(projects.into_iter().map(|p| (p.item, p)).collect())
    }

    /// A programme's projects matching the filter, by id after `after`.
    pub async fn projects(
        &self,
        programme: ProgrammeId,
        filter: &ProjectFilter,
        after: Option<ItemId>,
        limit: u32,
    ) -> Result<Vec<ProjectListRow>, StoreError> {
        let mut params: Vec<crate::exec::Param> =
            vec![programme.get().into(), after.map_or(0, ItemId::get).into()];
        let mut clauses = vec![
            "p.programme_id = $1".to_owned(),
            "p.item_id > $2".to_owned(),
        ];
        if let Some((low, high)) = &filter.range {
            params.push(low.as_str().into());
            params.push(high.as_str().into());
            clauses.push(format!(
                "u.path >= ${} AND u.path < ${}",
                params.len() - 1,
                params.len()
            ));
        }
        if let Some(year) = filter.year {
            params.push(i64::from(year).into());
            clauses.push(format!("p.year = ${}", params.len()));
        }
        if let Some(state) = filter.state {
            params.push(state.into());
            clauses.push(format!("i.state = ${}", params.len()));
        }
        if let Some(kind) = &filter.kind {
            params.push(kind.as_str().into());
            clauses.push(format!("p.kind = ${}", params.len()));
        }
        let sql = format!(
            "SELECT {PROJECT_COLUMNS}, {ITEM_COLUMNS}, u.name AS unit_name, u.code AS unit_code \
             FROM projects p JOIN items i ON i.id = p.item_id JOIN units u ON u.id = i.unit_id \
             WHERE {} ORDER BY p.item_id LIMIT {limit}",
            clauses.join(" AND ")
        );
        let mut reading = self.pool.begin().await?;
        reading
            .fetch(&sql, params, |row| {
                Ok(ProjectListRow {
                    project: ProjectRow {
                        item: ItemId::new(row.get_int("item_id")?)
                            .ok_or_else(|| corrupt("project item"))?,
                        programme: ProgrammeId::new(row.get_int("programme_id")?)
                            .ok_or_else(|| corrupt("programme id"))?,
                        year: year_of(row.get_int("year")?)?,
                        kind: row.get_text("kind")?,
                        title: row.get_text("title")?,
                    },
                    item: item_from_row(row)?,
                    unit_name: row.get_text("unit_name")?,
                    unit_code: row.get_text("unit_code")?,
                })
            })
            .await
    }
}

impl WriteTx {
    #[allow(clippy::too_many_arguments)]
    pub async fn insert_programme(
        &mut self,
        owner: UnitId,
        title: &str,
        description: &str,
        start_year: i32,
        years: i32,
        metrics: &[MetricSpecRow],
        at: &str,
    ) -> Result<ProgrammeId, StoreError> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO programmes (owner_id, title, description, start_year, years, metrics, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(owner.get())
        .bind(title)
        .bind(description)
        .bind(i64::from(start_year))
        .bind(i64::from(years))
        .bind(metrics_to_text(metrics))
        .bind(at)
        .fetch_one(&mut *self.tx)
        .await?;
        ProgrammeId::new(id).ok_or_else(|| corrupt("new programme id"))
    }

    /// Records what these items are as projects.
    pub async fn insert_projects(&mut self, projects: &[ProjectRow]) -> Result<(), StoreError> {
        const COLUMNS: Columns<'static> = &[
            ("item_id", "BIGINT"),
            ("programme_id", "BIGINT"),
            ("year", "INTEGER"),
            ("kind", "TEXT"),
            ("title", "TEXT"),
        ];
        let rows = projects
            .iter()
            .map(|project| {
                vec![
                    project.item.get().into(),
                    project.programme.get().into(),
                    i64::from(project.year).into(),
                    project.kind.as_str().into(),
                    project.title.as_str().into(),
                ]
            })
            .collect();
        let backend = self.backend;
        self.tx
            .write_rows(backend, RowWrite::Insert("projects"), COLUMNS, rows)
            .await
    }
}
