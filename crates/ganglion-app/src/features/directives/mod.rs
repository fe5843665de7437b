//! Decisions down, results up: directives of every kind (a decision, a pledge, a year
//! of a programme's projects), their conveyance to every targeted unit, guidance added
//! on the way, assignments worked through their kind's states, and roll-ups at any unit
//! counted from the read model.

mod assignments;
mod commands;
mod queries;
mod views;

use ganglion_core::tracking::Kind;
use ganglion_core::{Action, DirectiveId, Resource, UnitId};
use ganglion_store::DirectiveRow;

pub(crate) use commands::{check_due as check_due_date, empty_source};
pub use queries::DirectiveListQuery;
pub use views::*;

use crate::tracking::SourceKey;
use crate::ErrorCode;
use crate::{App, AppError, Ctx};

/// The use cases of directives and their assignments.
pub struct Directives<'a> {
    app: &'a App,
}

impl App {
    pub fn directives(&self) -> Directives<'_> {
        Directives { app: self }
    }
}

pub(crate) fn parse_directive_id(text: &str) -> Result<DirectiveId, AppError> {
    text.parse()
        .map_err(|_| AppError::NotFound { what: "directive" })
}

/// A directive's kind as the API spells it.
pub(crate) fn parse_kind(text: Option<&str>) -> Result<Kind, AppError> {
    match text {
        None => Ok(Kind::Directive),
        Some(text) => Kind::parse(text)
            .filter(|kind| kind.is_directive_kind())
            .ok_or_else(|| {
                AppError::invalid(
                    ErrorCode::UnknownKind,
                    "kind",
                    "a directive is of kind directive, pledge or project",
                )
            }),
    }
}

impl Directives<'_> {
    /// The directive if the caller may see it: its issuer is readable, or it was
    /// conveyed to a unit the caller reads.
    pub(crate) async fn visible(&self, ctx: &Ctx, id: &str) -> Result<DirectiveRow, AppError> {
        self.app.require_signed_in(ctx)?;
        let id = parse_directive_id(id)?;
        let row = self
            .app
            .store
            .directive(id)
            .await?
            .ok_or(AppError::NotFound { what: "directive" })?;
        if self
            .app
            .allowed(ctx, Action::Read, Resource::Unit(row.issuer))
            || self.received_by_caller(ctx, &row).await?
        {
            Ok(row)
        } else {
            Err(AppError::NotFound { what: "directive" })
        }
    }

    /// Whether the directive was conveyed to a unit the caller's posts reach.
    async fn received_by_caller(&self, ctx: &Ctx, row: &DirectiveRow) -> Result<bool, AppError> {
        if !row.state.was_issued() {
            return Ok(false);
        }
        let key = SourceKey::of_directive(row);
        let posts = ctx.principal.posts.clone();
        self.app
            .with_source(&key, move |tree, source| {
                posts.iter().any(|post| {
                    if post.role.has_authority() {
                        tree.subtree(post.unit)
                            .is_some_and(|range| source.columns.count_in(range) > 0)
                    } else {
                        tree.position(post.unit)
                            .is_some_and(|position| source.columns.at(position).next().is_some())
                    }
                })
            })
            .await
    }

    /// A directive the caller may change: its issuer is the caller's to act for.
    pub(crate) async fn own(
        &self,
        ctx: &Ctx,
        id: &str,
        action: &'static str,
    ) -> Result<DirectiveRow, AppError> {
        let row = self.visible(ctx, id).await?;
        if !self
            .app
            .allowed(ctx, Action::Write, Resource::Unit(row.issuer))
        {
            // Seen (it was conveyed to the caller) but not the caller's to change.
            self.app
                .record_denial(
                    ctx,
                    action,
                    format!("directive:{}", row.id),
                    Some(row.issuer),
                )
                .await;
            return Err(AppError::Forbidden);
        }
        Ok(row)
    }

    /// Whether `unit` received the directive (holds an assignment of it).
    pub(crate) async fn received_by(
        &self,
        row: &DirectiveRow,
        unit: UnitId,
    ) -> Result<bool, AppError> {
        let key = SourceKey::of_directive(row);
        self.app
            .with_source(&key, move |tree, source| {
                tree.position(unit)
                    .is_some_and(|position| source.columns.at(position).next().is_some())
            })
            .await
    }
}
