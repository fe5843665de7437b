//! Multi-year development programmes: a schedule of projects per unit and year (a
//! factory in twenty counties a year for ten years), each project worked through its
//! milestones, and plan against actual by year and by region.
//!
//! Each year of a programme is a directive of kind `project` issued by the owner; a
//! project is an item of its year's directive. So projects are rolled up, listed,
//! followed live, gathered in what is overdue and moved (`/assignments/{id}/transition`)
//! exactly as every other tracked item, and this module is only what a programme adds:
//! its years, its projects' names and kinds, and progress over all its years at once.

mod demo;
mod views;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use ganglion_core::tracking::{Aggregate, Entry, Kind, Tally, Target, NEVER};
use ganglion_core::{Action, DirectiveId, DirectiveState, ItemId, ProgrammeId, Resource, UnitId};
use ganglion_store::{
    DirectiveDraft, DirectiveRow, MetricSpecRow, NewItem, ProgrammeRow, ProjectFilter, ProjectRow,
};
use time::{Date, Month};

pub use views::*;

use crate::features::check_text;
use crate::features::directives::{check_due_date, empty_source, StateCounts};
use crate::features::units::{parse_unit_id, unknown_reference};
use crate::page::{checked_limit, decode_number_cursor, encode_cursor, Page};
use crate::tracking::counts::subtree_tally;
use crate::tracking::model::deadline;
use crate::tracking::{ItemChange, MetricSpec, SourceKey};
use crate::ErrorCode;
use crate::{clock, App, AppError, Audit, Ctx, RowError};

/// The use cases of programmes and their projects.
pub struct Programmes<'a> {
    app: &'a App,
}

impl App {
    pub fn programmes(&self) -> Programmes<'_> {
        Programmes { app: self }
    }
}

const MAX_YEARS: i32 = 50;
/// The most projects one CSV file adds.
const MAX_IMPORT_ROWS: usize = 500_000;
pub const PROJECTS_CSV_HEADER: &str = "unit_code,year,kind,title,due";

/// The metrics a programme's projects report.
pub(crate) fn metric_specs(programme: &ProgrammeRow) -> Vec<MetricSpec> {
    programme
        .metrics
        .iter()
        .map(|metric| MetricSpec {
            key: metric.key.clone(),
            name: metric.name.clone(),
            unit: metric.unit.clone(),
            aggregate: Aggregate::parse(&metric.aggregate).unwrap_or(Aggregate::Sum),
            target_per_unit: None,
        })
        .collect()
}

fn parse_programme_id(text: &str) -> Result<ProgrammeId, AppError> {
    text.parse()
        .map_err(|_| AppError::NotFound { what: "programme" })
}

fn last_day(year: i32) -> Option<Date> {
    Date::from_calendar_date(year, Month::December, 31).ok()
}

fn check_key(key: &str, field: &str) -> Result<String, AppError> {
    let valid = !key.is_empty()
        && key.len() <= 40
        && key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if valid {
        Ok(key.to_owned())
    } else {
        Err(AppError::invalid(
            ErrorCode::InvalidValue,
            field,
            "a metric key is 1 to 40 lowercase letters, digits or _",
        ))
    }
}

/// A programme with the directive of each of its years.
struct Loaded {
    row: ProgrammeRow,
    years: Vec<DirectiveRow>,
}

impl Loaded {
    fn year(&self, year: i32) -> Option<&DirectiveRow> {
        self.years
            .iter()
            .find(|directive| directive.programme.is_some_and(|(_, y)| y == year))
    }
}

impl Programmes<'_> {
    async fn load(&self, id: ProgrammeId) -> Result<Loaded, AppError> {
        let row = self
            .app
            .store
            .programme(id)
            .await?
            .ok_or(AppError::NotFound { what: "programme" })?;
        let years = self.app.store.programme_directives(id).await?;
        Ok(Loaded { row, years })
    }

    /// The units of the caller's posts under which the programme has a project.
    async fn units_with_projects(
        &self,
        ctx: &Ctx,
        loaded: &Loaded,
    ) -> Result<Vec<UnitId>, AppError> {
        let mut found = Vec::new();
        for year in &loaded.years {
            let key = SourceKey::of_directive(year);
            let posts = ctx.principal.posts.clone();
            let units = self
                .app
                .with_source(&key, move |tree, source| {
                    posts
                        .iter()
                        .filter(|post| {
                            let range = if post.role.has_authority() {
                                tree.subtree(post.unit)
                            } else {
                                tree.position(post.unit).map(|p| p..p + 1)
                            };
                            range.is_some_and(|range| source.columns.count_in(range) > 0)
                        })
                        .map(|post| post.unit)
                        .collect::<Vec<_>>()
                })
                .await?;
            for unit in units {
                if !found.contains(&unit) {
                    found.push(unit);
                }
            }
        }
        Ok(found)
    }

    /// The programme if the caller may see it: with authority over its owner, or
    /// holding a post in a unit with a project under it.
    async fn visible(&self, ctx: &Ctx, id: &str) -> Result<Loaded, AppError> {
        self.app.require_signed_in(ctx)?;
        let loaded = self.load(parse_programme_id(id)?).await?;
        if self
            .app
            .allowed(ctx, Action::Read, Resource::Unit(loaded.row.owner))
            || !self.units_with_projects(ctx, &loaded).await?.is_empty()
        {
            Ok(loaded)
        } else {
            Err(AppError::NotFound { what: "programme" })
        }
    }

    /// A programme the caller may add projects to: its owner is theirs to act for.
    async fn own(&self, ctx: &Ctx, id: &str, action: &'static str) -> Result<Loaded, AppError> {
        let loaded = self.visible(ctx, id).await?;
        self.app
            .authorize(
                ctx,
                Action::Write,
                Resource::Unit(loaded.row.owner),
                "programme",
                action,
                format!("programme:{}", loaded.row.id),
            )
            .await?;
        Ok(loaded)
    }

    fn view(&self, loaded: &Loaded) -> ProgrammeView {
        let row = &loaded.row;
        ProgrammeView {
            id: row.id.to_string(),
            owner: row.owner.to_string(),
            owner_name: self.app.tree().name(row.owner).to_owned(),
            title: row.title.clone(),
            description: row.description.clone(),
            start_year: row.start_year,
            years: row.years,
            metrics: row
                .metrics
                .iter()
                .map(|m| ProgrammeMetric {
                    key: m.key.clone(),
                    name: m.name.clone(),
                    unit: m.unit.clone(),
                    aggregate: Some(m.aggregate.clone()),
                })
                .collect(),
            directives: loaded
                .years
                .iter()
                .filter_map(|d| {
                    Some(ProgrammeYear {
                        year: d.programme?.1,
                        directive: d.id.to_string(),
                        projects: d.assignment_count,
                    })
                })
                .collect(),
            created_at: row.created_at.clone(),
        }
    }

    /// Makes a programme: one directive of kind `project` per year, issued by the
    /// owner, to which projects are added.
    pub async fn create(&self, ctx: &Ctx, input: NewProgramme) -> Result<ProgrammeView, AppError> {
        let app = self.app;
        let owner = parse_unit_id(&input.owner, "owner")?;
        app.check_reference(ctx, owner, "owner", "programme.create")
            .await?;
        let title = check_text("title", &input.title, 200, true)?;
        let description = check_text(
            "description",
            input.description.as_deref().unwrap_or_default(),
            20_000,
            false,
        )?;
        if !(1..=9999).contains(&input.start_year) {
            return Err(AppError::invalid(
                ErrorCode::InvalidValue,
                "start_year",
                "a year is from 1 to 9999",
            ));
        }
        if !(1..=MAX_YEARS).contains(&input.years) || input.start_year + input.years - 1 > 9999 {
            return Err(AppError::invalid(
                ErrorCode::InvalidValue,
                "years",
                format!("a programme lasts 1 to {MAX_YEARS} years, ending by 9999"),
            ));
        }
        let mut metrics = Vec::new();
        for (index, metric) in input.metrics.unwrap_or_default().into_iter().enumerate() {
            let field = |name: &str| format!("metrics.{index}.{name}");
            let key = check_key(&metric.key, &field("key"))?;
            if metrics.iter().any(|m: &MetricSpecRow| m.key == key) {
                return Err(AppError::invalid(
                    ErrorCode::InvalidValue,
                    &field("key"),
                    "metric keys are unique",
                ));
            }
            let aggregate = match metric.aggregate.as_deref() {
                None => Aggregate::Sum,
                Some(text) => Aggregate::parse(text).ok_or_else(|| {
                    AppError::invalid(
                        ErrorCode::InvalidValue,
                        &field("aggregate"),
                        "an aggregate is sum, avg, min, max or last",
                    )
                })?,
            };
            metrics.push(MetricSpecRow {
                key,
                name: check_text(&field("name"), &metric.name, 100, true)?,
                unit: check_text(&field("unit"), &metric.unit, 20, false)?,
                aggregate: aggregate.as_str().to_owned(),
            });
        }
        if metrics.len() > 8 {
            return Err(AppError::invalid(
                ErrorCode::InvalidValue,
                "metrics",
                "a programme's projects report at most 8 metrics",
            ));
        }
        let mut tx = app.store.write().await?;
        let now = app.now_text();
        let id = tx
            .insert_programme(
                owner,
                &title,
                &description,
                input.start_year,
                input.years,
                &metrics,
                &now,
            )
            .await?;
        let target = Target {
            under: Some(owner),
            ..Target::default()
        };
        let mut year_ids = Vec::new();
        for year in input.start_year..input.start_year + input.years {
            let due = last_day(year).ok_or_else(|| {
                AppError::invalid(
                    ErrorCode::InvalidValue,
                    "start_year",
                    "a year is from 1 to 9999",
                )
            })?;
            let year_title = format!("{title} — {year}");
            let directive = tx
                .insert_directive(
                    &DirectiveDraft {
                        kind: Kind::Project,
                        issuer: owner,
                        parent: None,
                        title: &year_title,
                        body: &description,
                        due,
                        target: &target,
                        metric: None,
                        programme: Some((id, year)),
                    },
                    &now,
                )
                .await?;
            tx.mark_issued(directive, 0, &now).await?;
            year_ids.push(directive);
        }
        for directive in &year_ids {
            app.record_change(
                &mut tx,
                "directive",
                serde_json::json!({"id": directive.get(), "kind": Kind::Project.as_str()}),
            )
            .await?;
        }
        let as_of_change = tx.last_change().await?;
        let mut years = Vec::new();
        for directive in &year_ids {
            years.push(
                tx.directive(*directive)
                    .await?
                    .ok_or_else(|| AppError::Internal("a programme's year vanished".into()))?,
            );
        }
        let row = ProgrammeRow {
            id,
            owner,
            title,
            description,
            start_year: input.start_year,
            years: input.years,
            metrics,
            created_at: now,
        };
        let loaded = Loaded { row, years };
        let view = self.view(&loaded);
        let audit =
            Audit::new("programme.create", format!("programme:{id}"), Some(owner)).after(&view);
        let view = app.finish_write(tx, ctx, audit, view).await?;
        let specs: Arc<[MetricSpec]> = metric_specs(&loaded.row).into();
        {
            let sources: Vec<_> = loaded
                .years
                .into_iter()
                .map(|row| empty_source(app, row, specs.clone(), as_of_change))
                .collect();
            let mut model = app.model_mut();
            for source in sources {
                model.insert(source);
            }
        }
        app.model_changed();
        Ok(view)
    }

    pub async fn get(&self, ctx: &Ctx, id: &str) -> Result<ProgrammeView, AppError> {
        let loaded = self.visible(ctx, id).await?;
        Ok(self.view(&loaded))
    }

    /// The programmes the caller may see, by id.
    pub async fn list(&self, ctx: &Ctx) -> Result<Vec<ProgrammeView>, AppError> {
        self.app.require_signed_in(ctx)?;
        let mut views = Vec::new();
        for row in self.app.store.programmes().await? {
            if let Ok(loaded) = self.visible(ctx, &row.id.to_string()).await {
                views.push(self.view(&loaded));
            }
        }
        Ok(views)
    }

    /// Checks one project as asked: its unit in the owner's subtree and visible to the
    /// caller, its year in the programme's span, its kind, title and due date.
    fn check_project(
        &self,
        ctx: &Ctx,
        loaded: &Loaded,
        unit: UnitId,
        unit_field: &str,
        input: &ProjectFields<'_>,
    ) -> Result<CheckedProject, AppError> {
        let app = self.app;
        if !app.allowed(ctx, Action::Read, Resource::Unit(unit)) {
            return Err(unknown_reference(unit_field, unit));
        }
        if !app.tree().is_within(unit, loaded.row.owner) {
            return Err(AppError::invalid(
                ErrorCode::UnitOutsideOwner,
                unit_field,
                "a project's unit lies in the programme owner's subtree",
            ));
        }
        let last = loaded.row.start_year + loaded.row.years - 1;
        let Some(directive) = loaded.year(input.year) else {
            return Err(AppError::invalid(
                ErrorCode::YearOutsideProgramme,
                "year",
                format!(
                    "the programme runs from {} to {last}",
                    loaded.row.start_year
                ),
            ));
        };
        let kind = check_text("kind", input.kind, 60, true)?;
        let title = check_text("title", input.title, 200, true)?;
        let due = match input.due {
            Some(text) if !text.is_empty() => check_due_date(text, "due")?,
            _ => directive.due,
        };
        Ok(CheckedProject {
            directive: directive.id,
            unit,
            year: input.year,
            kind,
            title,
            due,
        })
    }

    /// Adds one project to a programme's year.
    pub async fn add_project(
        &self,
        ctx: &Ctx,
        id: &str,
        input: NewProject,
    ) -> Result<ProjectView, AppError> {
        let loaded = self.own(ctx, id, "project.create").await?;
        let unit = parse_unit_id(&input.unit, "unit")?;
        let checked = self.check_project(
            ctx,
            &loaded,
            unit,
            "unit",
            &ProjectFields {
                year: input.year,
                kind: &input.kind,
                title: &input.title,
                due: input.due.as_deref(),
            },
        )?;
        let mut views = self
            .write_projects(ctx, &loaded, vec![checked], "project.create")
            .await?;
        views
            .pop()
            .ok_or_else(|| AppError::Internal("a new project vanished".into()))
    }

    /// Adds projects from a CSV file (`unit_code,year,kind,title,due`), all or nothing:
    /// one bad row and nothing is added, every bad row named with its line.
    pub async fn import_projects(
        &self,
        ctx: &Ctx,
        id: &str,
        bytes: &[u8],
    ) -> Result<ProjectImportSummary, AppError> {
        let loaded = self.own(ctx, id, "project.import").await?;
        let records = crate::csv_file::read_records(bytes, PROJECTS_CSV_HEADER)
            .map_err(|rows| AppError::Rows { rows })?;
        if records.len() > MAX_IMPORT_ROWS {
            return Err(AppError::invalid(
                ErrorCode::TooManyRows,
                "file",
                format!("a file adds at most {MAX_IMPORT_ROWS} projects"),
            ));
        }
        let codes: Vec<&str> = records
            .iter()
            .filter_map(|(_, fields)| fields.first().map(String::as_str))
            .collect();
        let units: HashMap<String, UnitId> = self
            .app
            .store
            .units_by_codes(&codes)
            .await?
            .into_iter()
            .map(|unit| (unit.code, unit.id))
            .collect();
        let mut errors = Vec::new();
        let mut checked = Vec::with_capacity(records.len());
        for (line, fields) in &records {
            let code = fields.first().map(String::as_str).unwrap_or_default();
            let reject = |reason: String| RowError {
                line: *line,
                code: (!code.is_empty()).then(|| code.to_owned()),
                reason,
            };
            let Some(unit) = units.get(code).copied() else {
                errors.push(reject(format!("unit_code: there is no unit {code:?}")));
                continue;
            };
            let Ok(year) = fields[1].trim().parse::<i32>() else {
                errors.push(reject(format!("year: {:?} is not a year", fields[1])));
                continue;
            };
            let project = ProjectFields {
                year,
                kind: &fields[2],
                title: &fields[3],
                due: fields.get(4).map(String::as_str),
            };
            match self.check_project(ctx, &loaded, unit, "unit_code", &project) {
                Ok(project) => checked.push(project),
                Err(error) => {
                    let field = match &error {
                        AppError::Invalid {
                            field: Some(field), ..
                        } => field.clone(),
                        _ => "row".into(),
                    };
                    let field = if field == "unit_code" {
                        "unit_code".into()
                    } else {
                        field
                    };
                    errors.push(reject(format!("{field}: {error}")));
                }
            }
        }
        if !errors.is_empty() {
            return Err(AppError::Rows { rows: errors });
        }
        let created = checked.len() as u64;
        self.write_projects(ctx, &loaded, checked, "project.import")
            .await?;
        Ok(ProjectImportSummary { created })
    }

    /// Writes checked projects in one transaction with one audit entry, and adds them
    /// to the read model once committed.
    async fn write_projects(
        &self,
        ctx: &Ctx,
        loaded: &Loaded,
        projects: Vec<CheckedProject>,
        action: &'static str,
    ) -> Result<Vec<ProjectView>, AppError> {
        let app = self.app;
        let mut tx = app.store.write().await?;
        let now = app.now_text();
        let first = tx.next_item_id().await?;
        let mut by_directive: BTreeMap<DirectiveId, Vec<(NewItem, ProjectRow)>> = BTreeMap::new();
        for (offset, project) in projects.iter().enumerate() {
            let item = ItemId::new(first + offset as i64)
                .ok_or_else(|| AppError::Internal("item ids are exhausted".into()))?;
            by_directive.entry(project.directive).or_default().push((
                NewItem {
                    id: item,
                    unit: project.unit,
                    person: None,
                    state: Kind::Project.workflow().initial,
                    metrics: Vec::new(),
                    due: Some(project.due),
                    due_at: None,
                },
                ProjectRow {
                    item,
                    programme: loaded.row.id,
                    year: project.year,
                    kind: project.kind.clone(),
                    title: project.title.clone(),
                },
            ));
        }
        let mut changes = Vec::new();
        let mut views = Vec::with_capacity(projects.len());
        for (directive, rows) in &by_directive {
            let key = SourceKey {
                kind: Kind::Project,
                source: directive.get(),
                period: String::new(),
            };
            let items: Vec<NewItem> = rows.iter().map(|(item, _)| item.clone()).collect();
            let project_rows: Vec<ProjectRow> = rows.iter().map(|(_, p)| p.clone()).collect();
            tx.insert_items(key.as_ref(), &items, &now).await?;
            tx.insert_projects(&project_rows).await?;
            tx.add_to_assignment_count(*directive, items.len() as i64)
                .await?;
            for (item, project) in rows {
                changes.push(ItemChange::Insert {
                    key: key.clone(),
                    entry: Entry {
                        position: 0,
                        item: item.id,
                        unit: item.unit,
                        state: item.state,
                        deadline: deadline(item.due, None),
                        done_at: NEVER,
                        metrics: vec![f64::NAN; loaded.row.metrics.len()],
                    },
                });
                views.push(ProjectView {
                    id: item.id.to_string(),
                    programme: loaded.row.id.to_string(),
                    unit: item.unit.to_string(),
                    unit_name: app.tree().name(item.unit).to_owned(),
                    year: project.year,
                    kind: project.kind.clone(),
                    title: project.title.clone(),
                    assignment: item.id.to_string(),
                    directive: directive.to_string(),
                    state: Kind::Project.workflow().name(item.state).to_owned(),
                    due: item.due.map(clock::format_date).unwrap_or_default(),
                    overdue: false,
                });
            }
        }
        // A handful of projects travel to the other servers as they are; a file of
        // thousands is read again from the store by each of them.
        if changes.len() <= 1_000 {
            let items: Vec<serde_json::Value> = changes.iter().map(ItemChange::to_json).collect();
            app.record_change(&mut tx, "items", serde_json::json!({ "items": items }))
                .await?;
        } else {
            for directive in by_directive.keys() {
                app.record_change(
                    &mut tx,
                    "directive",
                    serde_json::json!({"id": directive.get(), "kind": Kind::Project.as_str()}),
                )
                .await?;
            }
        }
        let audit_after = if views.len() == 1 {
            serde_json::to_value(&views[0]).unwrap_or_default()
        } else {
            serde_json::json!({"created": views.len()})
        };
        let audit = Audit::new(
            action,
            if views.len() == 1 {
                format!("assignment:{}", views[0].id)
            } else {
                format!("programme:{}", loaded.row.id)
            },
            Some(loaded.row.owner),
        )
        .after(&audit_after);
        let views = app.finish_write(tx, ctx, audit, views).await?;
        // Into the read model once durable; a year not in memory is read when asked.
        let now = app.now_seconds();
        {
            let mut model = app.model_mut();
            let mut grouped: BTreeMap<SourceKey, Vec<Entry>> = BTreeMap::new();
            for change in changes {
                if let ItemChange::Insert { key, entry } = change {
                    grouped.entry(key).or_default().push(entry);
                }
            }
            for (key, entries) in grouped {
                model.insert_many(&key, entries, now);
            }
        }
        app.model_changed();
        Ok(views)
    }

    /// Plan against actual by year, and by region, at a unit the caller may see.
    pub async fn progress(
        &self,
        ctx: &Ctx,
        id: &str,
        at: Option<&str>,
    ) -> Result<ProgrammeProgress, AppError> {
        let loaded = self.visible(ctx, id).await?;
        let unit = self.progress_unit(ctx, &loaded, at).await?;
        let now = self.app.now_seconds();
        let workflow = Kind::Project.workflow();
        let mut years = Vec::with_capacity(loaded.years.len());
        // Per child: its tally over every year, and year by year.
        type ByChild = (UnitId, Tally, Vec<(i32, Tally)>);
        let mut children: Vec<ByChild> = Vec::new();
        for directive in &loaded.years {
            let key = SourceKey::of_directive(directive);
            let (total, by_child) = self
                .app
                .with_source(&key, move |tree, source| {
                    subtree_tally(tree, source, unit, now)
                        .unwrap_or_else(|| (Tally::default(), Vec::new()))
                })
                .await?;
            let year = directive.programme.map_or(0, |(_, y)| y);
            years.push(YearProgress {
                year,
                directive: directive.id.to_string(),
                planned: total.total(),
                states: StateCounts::of(workflow, &total),
                in_operation: total.done,
                overdue: total.overdue,
            });
            for (child, tally) in by_child {
                match children.iter_mut().find(|(c, _, _)| *c == child) {
                    Some((_, sum, by_year)) => {
                        sum.add(&tally);
                        by_year.push((year, tally));
                    }
                    None => children.push((child, tally.clone(), vec![(year, tally)])),
                }
            }
        }
        let tree = self.app.tree();
        children.sort_by_key(|(child, _, _)| tree.position(*child));
        let children = children
            .iter()
            .map(|(child, tally, by_year)| ChildProgress {
                unit: child.to_string(),
                name: tree.name(*child).to_owned(),
                code: tree.code(*child).to_owned(),
                planned: tally.total(),
                states: StateCounts::of(workflow, tally),
                in_operation: tally.done,
                overdue: tally.overdue,
                years: by_year
                    .iter()
                    .map(|(year, tally)| ChildYear {
                        year: *year,
                        planned: tally.total(),
                        states: StateCounts::of(workflow, tally),
                        in_operation: tally.done,
                        overdue: tally.overdue,
                    })
                    .collect(),
            })
            .collect();
        Ok(ProgrammeProgress {
            programme: loaded.row.id.to_string(),
            unit: unit.to_string(),
            years,
            children,
        })
    }

    /// Where progress is taken: the unit asked for, the owner if the caller sees it, or
    /// the caller's highest unit with a project under it.
    async fn progress_unit(
        &self,
        ctx: &Ctx,
        loaded: &Loaded,
        at: Option<&str>,
    ) -> Result<UnitId, AppError> {
        if let Some(at) = at {
            return Ok(self.app.readable_unit(ctx, at, "at").await?.id);
        }
        if self
            .app
            .allowed(ctx, Action::Read, Resource::Unit(loaded.row.owner))
        {
            return Ok(loaded.row.owner);
        }
        let units = self.units_with_projects(ctx, loaded).await?;
        let tree = self.app.tree();
        units
            .into_iter()
            .min_by_key(|unit| tree.depth(*unit))
            .ok_or(AppError::NotFound { what: "programme" })
    }

    /// The programme's projects under a unit the caller may see, by id, a page at a time.
    pub async fn projects(
        &self,
        ctx: &Ctx,
        id: &str,
        query: ProjectQuery,
    ) -> Result<Page<ProjectView>, AppError> {
        let app = self.app;
        let loaded = self.visible(ctx, id).await?;
        let unit = self
            .progress_unit(ctx, &loaded, query.at.as_deref())
            .await?;
        let limit = checked_limit(query.limit)?;
        let after = decode_number_cursor::<ItemId>(query.cursor.as_deref())?;
        let state = match &query.state {
            Some(text) => Some(Kind::Project.workflow().state(text).ok_or_else(|| {
                AppError::invalid(ErrorCode::InvalidValue, "state", "not a state of a project")
            })?),
            None => None,
        };
        if let Some(year) = query.year {
            if loaded.year(year).is_none() {
                return Err(AppError::invalid(
                    ErrorCode::YearOutsideProgramme,
                    "year",
                    "that year is not in the programme",
                ));
            }
        }
        let range = app
            .store
            .unit(unit)
            .await?
            .ok_or(AppError::NotFound { what: "unit" })?
            .subtree_range();
        let filter = ProjectFilter {
            range: Some(range),
            year: query.year,
            state,
            kind: query.kind.clone(),
        };
        let mut rows = app
            .store
            .projects(loaded.row.id, &filter, after, limit + 1)
            .await?;
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let next_cursor = if more {
            rows.last()
                .map(|row| encode_cursor(&row.project.item.to_string()))
        } else {
            None
        };
        let now = app.now_seconds();
        let workflow = Kind::Project.workflow();
        let items = rows
            .into_iter()
            .map(|row| {
                let directive = loaded.year(row.project.year);
                let open = directive.is_some_and(|d| d.state == DirectiveState::Issued);
                let due = row.item.due;
                ProjectView {
                    id: row.item.id.to_string(),
                    programme: loaded.row.id.to_string(),
                    unit: row.item.unit.to_string(),
                    unit_name: row.unit_name,
                    year: row.project.year,
                    kind: row.project.kind,
                    title: row.project.title,
                    assignment: row.item.id.to_string(),
                    directive: directive.map(|d| d.id.to_string()).unwrap_or_default(),
                    state: workflow.name(row.item.state).to_owned(),
                    due: due.map(clock::format_date).unwrap_or_default(),
                    overdue: open
                        && !workflow.is_done(row.item.state)
                        && now >= deadline(due, row.item.due_at.as_deref()),
                }
            })
            .collect();
        Ok(Page { items, next_cursor })
    }
}

/// A project's fields as written.
struct ProjectFields<'a> {
    year: i32,
    kind: &'a str,
    title: &'a str,
    due: Option<&'a str>,
}

/// A project's fields, checked.
struct CheckedProject {
    directive: DirectiveId,
    unit: UnitId,
    year: i32,
    kind: String,
    title: String,
    due: Date,
}
