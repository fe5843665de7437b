//! Use cases of the organization tree: create, read, list, rename and retag, move,
//! remove, export. Import is in `import.rs`.

pub(crate) mod import;

use crate::ErrorCode;
use ganglion_core::{Action, Resource, Tags, UnitCode, UnitId, UnitName};
use ganglion_store::{root_path, ReadTx, UnitFilter, UnitRow};
use serde::{Deserialize, Serialize};

use crate::page::{checked_limit, decode_cursor, page_from};
use crate::{App, AppError, Audit, Ctx, Page};

/// A unit as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UnitView {
    pub id: String,
    /// The id of the unit above, `null` at the top of the tree.
    pub parent: Option<String>,
    pub kind: String,
    pub name: String,
    pub code: String,
    pub tags: Vec<String>,
    /// Levels below the top: the top unit is at depth 0.
    pub depth: u32,
}

impl From<UnitRow> for UnitView {
    fn from(row: UnitRow) -> Self {
        Self {
            id: row.id.to_string(),
            parent: row.parent.map(|parent| parent.to_string()),
            kind: row.kind,
            name: row.name,
            code: row.code,
            tags: row
                .tags
                .split(';')
                .filter(|tag| !tag.is_empty())
                .map(str::to_owned)
                .collect(),
            depth: row.depth,
        }
    }
}

/// What is needed to create a unit.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUnitInput {
    /// The id of the unit to create it under, `null` for the top of the tree.
    pub parent: Option<String>,
    pub kind: String,
    pub name: String,
    pub code: String,
    #[serde(default)]
    pub tags: Vec<String>,
}

/// A rename or retag; fields left out are kept.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnitPatch {
    pub name: Option<String>,
    pub tags: Option<Vec<String>>,
}

/// Where to move a unit: under another unit, or to the top with `null`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveUnit {
    pub parent: Option<String>,
}

/// The filters of a unit listing.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListUnits {
    /// Only this unit and those under it.
    pub under: Option<String>,
    /// Only units of this kind.
    pub kind: Option<String>,
    /// Only units carrying this tag.
    pub tag: Option<String>,
    /// Only units whose name or code contains this text, in any case.
    pub q: Option<String>,
    /// At most this many items (1 to 1000, default 100).
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

pub(crate) fn parse_unit_id(text: &str, field: &str) -> Result<UnitId, AppError> {
    text.parse().map_err(|_| {
        AppError::invalid(
            ErrorCode::InvalidId,
            field,
            format!("{text:?} is not a unit id; ids are positive integers written as strings"),
        )
    })
}

/// The answer for a unit named in a body that does not exist (or may not be seen).
pub(crate) fn unknown_reference(field: &str, unit: UnitId) -> AppError {
    let code = if field == "parent" {
        ErrorCode::UnknownParent
    } else {
        ErrorCode::UnknownUnit
    };
    AppError::invalid(code, field, format!("there is no unit {unit}"))
}

/// A path id that is not an id cannot name an existing unit.
pub(crate) fn path_unit_id(text: &str) -> Result<UnitId, AppError> {
    text.parse()
        .map_err(|_| AppError::NotFound { what: "unit" })
}

fn field_value<T>(
    field: &str,
    result: Result<T, ganglion_core::ValueError>,
) -> Result<T, AppError> {
    result.map_err(|error| AppError::invalid(ErrorCode::InvalidValue, field, error.0))
}

impl App {
    pub(crate) fn check_placement(
        &self,
        kind: &str,
        parent_kind: Option<&str>,
    ) -> Result<(), ganglion_core::template::PlacementError> {
        self.template.check_placement(kind, parent_kind)
    }

    pub async fn create_unit(&self, ctx: &Ctx, input: NewUnitInput) -> Result<UnitView, AppError> {
        let code = field_value("code", UnitCode::parse(&input.code))?;
        let name = field_value("name", UnitName::parse(&input.name))?;
        let tags = field_value("tags", Tags::parse(input.tags.iter().map(String::as_str)))?;
        let parent_id = input
            .parent
            .as_deref()
            .map(|text| parse_unit_id(text, "parent"))
            .transpose()?;
        match parent_id {
            Some(id) => {
                self.check_reference(ctx, id, "parent", "unit.create")
                    .await?
            }
            None => self.authorize_structure(ctx, None, "unit.create").await?,
        }
        let mut tx = self.store.write().await?;
        let parent = match parent_id {
            Some(id) => Some(
                tx.unit(id)
                    .await?
                    .ok_or_else(|| unknown_reference("parent", id))?,
            ),
            None => None,
        };
        self.check_placement(&input.kind, parent.as_ref().map(|p| p.kind.as_str()))
            .map_err(|error| {
                AppError::invalid(ErrorCode::KindNotAllowed, "kind", error.to_string())
            })?;
        if !tx.units_by_codes(&[code.as_str()]).await?.is_empty() {
            return Err(AppError::Conflict {
                code: ErrorCode::DuplicateCode,
                message: format!("a unit with code {code} already exists"),
            });
        }
        let id = UnitId::new(tx.first_free_unit_id().await?)
            .ok_or_else(|| AppError::Internal("unit ids are exhausted".into()))?;
        let row = UnitRow {
            id,
            parent: parent.as_ref().map(|p| p.id),
            parent_code: parent.as_ref().map(|p| p.code.clone()),
            kind: input.kind,
            name: name.as_str().to_owned(),
            code: code.as_str().to_owned(),
            tags: tags.to_list(),
            depth: parent.as_ref().map_or(0, |p| p.depth + 1),
            path: match &parent {
                Some(parent) => parent.child_path(id),
                None => root_path(id),
            },
        };
        tx.insert_units(std::slice::from_ref(&row)).await?;
        let (row_name, row_code) = (row.name.clone(), row.code.clone());
        let (parent_id, view) = (row.parent, UnitView::from(row));
        let audit = Audit::new("unit.create", format!("unit:{id}"), Some(id)).after(&view);
        self.record_change(&mut tx, "tree", serde_json::json!({}))
            .await?;
        let view = self.finish_write(tx, ctx, audit, view).await?;
        let changed = self
            .model_mut()
            .unit_added(id, parent_id, &row_name, &row_code);
        self.model_changed();
        if let Err(error) = changed {
            tracing::error!(%error, "the tree index lost step with the store; rebuilding it");
            self.reload_tree().await?;
        }
        Ok(view)
    }

    /// Checks a unit named in a request body (a parent, the unit of a post) may be
    /// written under. One the caller may not see is answered exactly like one that does
    /// not exist, so that existence does not leak. Called before the write transaction
    /// begins, like every authorization check, so that a denial can be recorded.
    pub(crate) async fn check_reference(
        &self,
        ctx: &Ctx,
        unit: UnitId,
        field: &'static str,
        action: &'static str,
    ) -> Result<(), AppError> {
        if !self.allowed(ctx, Action::Read, Resource::Unit(unit)) {
            self.record_denial(ctx, action, format!("unit:{unit}"), None)
                .await;
            return Err(if ctx.actor == crate::Actor::Anonymous {
                AppError::Unauthenticated
            } else {
                unknown_reference(field, unit)
            });
        }
        self.authorize(
            ctx,
            Action::Write,
            Resource::Unit(unit),
            "unit",
            action,
            format!("unit:{unit}"),
        )
        .await
    }

    /// A unit the caller may not even see is not found (401 when anonymous).
    async fn require_visible(
        &self,
        ctx: &Ctx,
        unit: UnitId,
        action: &'static str,
    ) -> Result<(), AppError> {
        if self.allowed(ctx, Action::Read, Resource::Unit(unit)) {
            return Ok(());
        }
        self.authorize(
            ctx,
            Action::Read,
            Resource::Unit(unit),
            "unit",
            action,
            format!("unit:{unit}"),
        )
        .await
    }

    /// Creating, moving or removing a unit under `parent` needs authority over the parent;
    /// at the top of the tree, the administrator's.
    /// Taking a unit out of its place (moving or removing it) needs authority over its
    /// parent. The caller already sees the unit, so a refusal is a 403 even when the
    /// parent is out of sight.
    async fn authorize_taking_out(
        &self,
        ctx: &Ctx,
        unit: UnitId,
        parent: Option<UnitId>,
        action: &'static str,
    ) -> Result<(), AppError> {
        let resource = parent.map_or(Resource::Instance, Resource::Unit);
        if self.allowed(ctx, Action::Write, resource) {
            return Ok(());
        }
        self.record_denial(ctx, action, format!("unit:{unit}"), Some(unit))
            .await;
        Err(if ctx.actor == crate::Actor::Anonymous {
            AppError::Unauthenticated
        } else {
            AppError::Forbidden
        })
    }

    async fn authorize_structure(
        &self,
        ctx: &Ctx,
        parent: Option<UnitId>,
        action: &'static str,
    ) -> Result<(), AppError> {
        match parent {
            Some(parent) => {
                self.authorize(
                    ctx,
                    Action::Write,
                    Resource::Unit(parent),
                    "unit",
                    action,
                    format!("unit:{parent}"),
                )
                .await
            }
            None => {
                self.authorize(
                    ctx,
                    Action::Write,
                    Resource::Instance,
                    "unit",
                    action,
                    "top of the tree".into(),
                )
                .await
            }
        }
    }

    pub async fn unit(&self, ctx: &Ctx, id: &str) -> Result<UnitView, AppError> {
        Ok(self.readable_unit(ctx, id, "id").await?.into())
    }

    /// The unit with this code.
    pub async fn unit_by_code(&self, ctx: &Ctx, code: &str) -> Result<UnitView, AppError> {
        let unit = self
            .store
            .unit_by_code(code)
            .await?
            .ok_or(AppError::NotFound { what: "unit" })?;
        self.readable_unit(ctx, &unit.id.to_string(), "id")
            .await
            .map(UnitView::from)
    }

    pub async fn list_units(
        &self,
        ctx: &Ctx,
        query: ListUnits,
    ) -> Result<Page<UnitView>, AppError> {
        self.require_signed_in(ctx)?;
        let limit = checked_limit(query.limit)?;
        let mut filter = UnitFilter {
            kind: query.kind,
            tag: query.tag.map(|tag| tag.to_ascii_lowercase()),
            text: query.q.filter(|q| !q.is_empty()),
            after_path: decode_cursor(query.cursor.as_deref())?,
            ..UnitFilter::default()
        };
        if let Some(under) = &query.under {
            let top = self.readable_unit(ctx, under, "under").await?;
            filter.path_range = Some(top.subtree_range());
        }
        filter.visible = self.visible_ranges(ctx).await?;
        let rows = self.store.units(&filter, limit + 1).await?;
        Ok(self.visible_page(ctx, rows, limit))
    }

    /// A page of rows, each checked once more by the one predicate: the path ranges in
    /// SQL narrow the search, the predicate decides.
    fn visible_page(&self, ctx: &Ctx, rows: Vec<UnitRow>, limit: u32) -> Page<UnitView> {
        let rows: Vec<UnitRow> = rows
            .into_iter()
            .filter(|row| self.allowed(ctx, Action::Read, Resource::Unit(row.id)))
            .collect();
        page_from(rows, limit, |row| &row.path, UnitView::from)
    }

    pub async fn children(
        &self,
        ctx: &Ctx,
        id: &str,
        limit: Option<u32>,
        cursor: Option<&str>,
    ) -> Result<Page<UnitView>, AppError> {
        let limit = checked_limit(limit)?;
        let parent = self.readable_unit(ctx, id, "id").await?;
        let filter = UnitFilter {
            parent: Some(parent.id),
            after_path: decode_cursor(cursor)?,
            visible: self.visible_ranges(ctx).await?,
            ..UnitFilter::default()
        };
        let rows = self.store.units(&filter, limit + 1).await?;
        Ok(self.visible_page(ctx, rows, limit))
    }

    pub async fn update_unit(
        &self,
        ctx: &Ctx,
        id: &str,
        patch: UnitPatch,
    ) -> Result<UnitView, AppError> {
        let id = path_unit_id(id)?;
        let name = patch
            .name
            .as_deref()
            .map(|name| field_value("name", UnitName::parse(name)))
            .transpose()?;
        let tags = patch
            .tags
            .as_ref()
            .map(|tags| field_value("tags", Tags::parse(tags.iter().map(String::as_str))))
            .transpose()?;
        self.authorize(
            ctx,
            Action::Write,
            Resource::Unit(id),
            "unit",
            "unit.update",
            format!("unit:{id}"),
        )
        .await?;
        let mut tx = self.store.write().await?;
        let mut row = tx
            .unit(id)
            .await?
            .ok_or(AppError::NotFound { what: "unit" })?;
        let before = UnitView::from(row.clone());
        if let Some(name) = name {
            row.name = name.as_str().to_owned();
        }
        if let Some(tags) = tags {
            row.tags = tags.to_list();
        }
        tx.update_unit(id, &row.name, &row.tags).await?;
        let (name, code) = (row.name.clone(), row.code.clone());
        let after = UnitView::from(row);
        let audit = Audit::new("unit.update", format!("unit:{id}"), Some(id))
            .before(&before)
            .after(&after);
        // Other servers read the tree again, names included.
        self.record_change(&mut tx, "tree", serde_json::json!({}))
            .await?;
        let after = self.finish_write(tx, ctx, audit, after).await?;
        self.model_mut().unit_renamed(id, &name, &code);
        Ok(after)
    }

    pub async fn move_unit(
        &self,
        ctx: &Ctx,
        id: &str,
        target: MoveUnit,
    ) -> Result<UnitView, AppError> {
        let id = path_unit_id(id)?;
        let new_parent_id = target
            .parent
            .as_deref()
            .map(|text| parse_unit_id(text, "parent"))
            .transpose()?;
        self.require_visible(ctx, id, "unit.move").await?;
        let old_parent = self.tree().parent(id);
        self.authorize_taking_out(ctx, id, old_parent, "unit.move")
            .await?;
        match new_parent_id {
            Some(parent) => {
                self.check_reference(ctx, parent, "parent", "unit.move")
                    .await?
            }
            None => self.authorize_structure(ctx, None, "unit.move").await?,
        }
        let mut tx = self.store.write().await?;
        let unit = tx
            .unit(id)
            .await?
            .ok_or(AppError::NotFound { what: "unit" })?;
        let new_parent = match new_parent_id {
            Some(parent) => Some(
                tx.unit(parent)
                    .await?
                    .ok_or_else(|| unknown_reference("parent", parent))?,
            ),
            None => None,
        };
        if let Some(parent) = &new_parent {
            // The same notion of "under" as everywhere: the parent's path lies in the
            // unit's subtree range.
            if parent.path >= unit.path && parent.path < unit.subtree_end() {
                return Err(AppError::invalid(
                    ErrorCode::Cycle,
                    "parent",
                    format!(
                        "unit {} lies under unit {}; moving {} there would make a cycle",
                        parent.code, unit.code, unit.code
                    ),
                ));
            }
        }
        self.check_placement(&unit.kind, new_parent.as_ref().map(|p| p.kind.as_str()))
            .map_err(|error| {
                AppError::invalid(ErrorCode::KindNotAllowed, "parent", error.to_string())
            })?;
        tx.move_unit(&unit, new_parent.as_ref()).await?;
        let moved = tx
            .unit(id)
            .await?
            .ok_or_else(|| AppError::Internal("a moved unit vanished".into()))?;
        let before = UnitView::from(unit);
        let after = UnitView::from(moved);
        let audit = Audit::new("unit.move", format!("unit:{id}"), Some(id))
            .before(&before)
            .after(&after);
        self.record_change(&mut tx, "tree", serde_json::json!({}))
            .await?;
        let after = self.finish_write(tx, ctx, audit, after).await?;
        let changed = self.model_mut().unit_moved(id, new_parent_id);
        self.model_changed();
        if let Err(error) = changed {
            tracing::error!(%error, "the tree index lost step with the store; rebuilding it");
            self.reload_tree().await?;
        }
        Ok(after)
    }

    pub async fn remove_unit(&self, ctx: &Ctx, id: &str) -> Result<(), AppError> {
        let id = path_unit_id(id)?;
        self.require_visible(ctx, id, "unit.remove").await?;
        let parent = self.tree().parent(id);
        self.authorize_taking_out(ctx, id, parent, "unit.remove")
            .await?;
        let mut tx = self.store.write().await?;
        let unit = tx
            .unit(id)
            .await?
            .ok_or(AppError::NotFound { what: "unit" })?;
        if tx.has_children(id).await? {
            return Err(AppError::Conflict {
                code: ErrorCode::UnitNotEmpty,
                message: format!(
                    "unit {} still has units under it; move or remove them first",
                    unit.code
                ),
            });
        }
        let references = tx.unit_references(id).await?;
        if !references.is_empty() {
            return Err(AppError::Conflict {
                code: ErrorCode::UnitHasHistory,
                message: format!(
                    "unit {} has {}, current or past; its history is kept, so it cannot be removed",
                    unit.code,
                    references.join(", ")
                ),
            });
        }
        tx.delete_unit(id).await?;
        let before = UnitView::from(unit);
        let audit = Audit::new("unit.remove", format!("unit:{id}"), Some(id)).before(&before);
        self.record_change(&mut tx, "tree", serde_json::json!({}))
            .await?;
        self.finish_write(tx, ctx, audit, ()).await?;
        let changed = self.model_mut().unit_removed(id);
        self.model_changed();
        if let Err(error) = changed {
            tracing::error!(%error, "the tree index lost step with the store; rebuilding it");
            self.reload_tree().await?;
        }
        Ok(())
    }

    /// Starts an export of the units under `under` (or all), as CSV in the import format,
    /// parents before children, from one consistent snapshot of the store.
    pub async fn export_units(
        &self,
        ctx: &Ctx,
        under: Option<&str>,
    ) -> Result<UnitExport, AppError> {
        self.require_signed_in(ctx)?;
        let mut range = None;
        if let Some(under) = under {
            range = Some(
                self.readable_unit(ctx, under, "under")
                    .await?
                    .subtree_range(),
            );
        }
        let visible = self.visible_ranges(ctx).await?;
        let snapshot = self.store.snapshot().await?;
        Ok(UnitExport {
            snapshot,
            range,
            visible,
            principal: ctx.principal.clone(),
            model: self.model.clone(),
            after: None,
            header_written: false,
            finished: false,
        })
    }
}

/// A CSV export in progress, read chunk by chunk so that a million units never sit in
/// memory as one document.
pub struct UnitExport {
    snapshot: ReadTx,
    range: Option<(String, String)>,
    visible: Option<Vec<(String, String)>>,
    principal: ganglion_core::Principal,
    model: std::sync::Arc<std::sync::RwLock<crate::tracking::ReadModel>>,
    after: Option<String>,
    header_written: bool,
    finished: bool,
}

pub const UNIT_CSV_HEADER: &str = "code,parent_code,kind,name,tags";

impl UnitExport {
    const ROWS_PER_CHUNK: u32 = 5000;

    /// The next piece of the file, `None` at the end.
    pub async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, AppError> {
        if self.finished {
            return Ok(None);
        }
        let mut writer = csv::Writer::from_writer(Vec::new());
        let csv_error =
            |error: csv::Error| AppError::Internal(format!("cannot write CSV: {error}"));
        if !self.header_written {
            writer
                .write_record(UNIT_CSV_HEADER.split(','))
                .map_err(csv_error)?;
            self.header_written = true;
        }
        let filter = UnitFilter {
            path_range: self.range.clone(),
            after_path: self.after.clone(),
            visible: self.visible.clone(),
            ..UnitFilter::default()
        };
        let rows = self.snapshot.units(&filter, Self::ROWS_PER_CHUNK).await?;
        if rows.len() < Self::ROWS_PER_CHUNK as usize {
            self.finished = true;
        }
        self.after = rows.last().map(|row| row.path.clone());
        let model = self
            .model
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for row in rows.iter().filter(|row| {
            ganglion_core::authorize(
                &self.principal,
                Action::Read,
                Resource::Unit(row.id),
                &model.tree,
            )
        }) {
            writer
                .write_record(
                    [
                        row.code.as_str(),
                        row.parent_code.as_deref().unwrap_or_default(),
                        row.kind.as_str(),
                        row.name.as_str(),
                        row.tags.as_str(),
                    ]
                    .map(crate::guard_cell)
                    .iter()
                    .map(|cell| cell.as_bytes()),
                )
                .map_err(csv_error)?;
        }
        drop(model);
        writer
            .into_inner()
            .map(Some)
            .map_err(|error| AppError::Internal(format!("cannot write CSV: {error}")))
    }
}
