//! Confidential notes on units: the generic form of a record owned by one unit and hidden
//! from the subtree of one of its descendants (complaints about officials use the same
//! rule).

use crate::ErrorCode;
use ganglion_core::{Action, Resource};
use ganglion_store::NoteRow;
use serde::{Deserialize, Serialize};

use crate::features::units::parse_unit_id;
use crate::{App, AppError, Audit, Ctx};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NoteView {
    pub id: String,
    /// The unit that owns the note.
    pub unit: String,
    /// A unit under the owner whose subtree may not see the note, if any.
    pub hidden_from: Option<String>,
    pub text: String,
    pub created_at: String,
}

impl From<NoteRow> for NoteView {
    fn from(row: NoteRow) -> Self {
        Self {
            id: row.id.to_string(),
            unit: row.unit.to_string(),
            hidden_from: row.hidden_from.map(|u| u.to_string()),
            text: row.text,
            created_at: row.created_at,
        }
    }
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewNote {
    pub unit: String,
    pub text: String,
    pub hidden_from: Option<String>,
}

fn resource(note: &NoteRow) -> Resource {
    Resource::Record {
        owner: note.unit,
        hidden_from: note.hidden_from,
    }
}

impl App {
    pub async fn create_note(&self, ctx: &Ctx, input: NewNote) -> Result<NoteView, AppError> {
        let unit = parse_unit_id(&input.unit, "unit")?;
        let hidden_from = input
            .hidden_from
            .as_deref()
            .map(|text| parse_unit_id(text, "hidden_from"))
            .transpose()?;
        let text = input.text.trim().to_owned();
        if text.is_empty() || text.chars().count() > 10_000 {
            return Err(AppError::invalid(
                ErrorCode::InvalidValue,
                "text",
                "a note has 1 to 10,000 characters",
            ));
        }
        self.check_reference(ctx, unit, "unit", "note.create")
            .await?;
        if let Some(hidden) = hidden_from {
            if hidden == unit || !self.tree().is_within(hidden, unit) {
                return Err(AppError::invalid(
                    ErrorCode::InvalidValue,
                    "hidden_from",
                    "a note can be hidden only from a unit under the unit that owns it",
                ));
            }
        }
        let resource = Resource::Record {
            owner: unit,
            hidden_from,
        };
        self.authorize(
            ctx,
            Action::Write,
            resource,
            "unit",
            "note.create",
            format!("unit:{unit}"),
        )
        .await?;
        let mut tx = self.store.write().await?;
        if tx.unit(unit).await?.is_none() {
            return Err(crate::features::units::unknown_reference("unit", unit));
        }
        let at = self.now_text();
        let id = tx.insert_note(unit, hidden_from, &text, &at).await?;
        let view = NoteView {
            id: id.to_string(),
            unit: unit.to_string(),
            hidden_from: hidden_from.map(|u| u.to_string()),
            text,
            created_at: at,
        };
        let audit = Audit::new("note.create", format!("note:{id}"), Some(unit)).after(&view);
        self.finish_write(tx, ctx, audit, view).await
    }

    pub async fn note(&self, ctx: &Ctx, id: &str) -> Result<NoteView, AppError> {
        self.require_signed_in(ctx)?;
        let id: i64 = id
            .parse()
            .map_err(|_| AppError::NotFound { what: "note" })?;
        let note = self
            .store
            .note(id)
            .await?
            .ok_or(AppError::NotFound { what: "note" })?;
        if !self.allowed(ctx, Action::Read, resource(&note)) {
            self.record_denial(ctx, "note.read", format!("note:{id}"), Some(note.unit))
                .await;
            return Err(AppError::NotFound { what: "note" });
        }
        Ok(note.into())
    }

    /// The notes of a unit the caller may read, leaving out those hidden from it.
    pub async fn unit_notes(&self, ctx: &Ctx, unit: &str) -> Result<Vec<NoteView>, AppError> {
        let unit = self.readable_unit(ctx, unit, "id").await?;
        Ok(self
            .store
            .notes_of_unit(unit.id)
            .await?
            .into_iter()
            .filter(|note| self.allowed(ctx, Action::Read, resource(note)))
            .map(NoteView::from)
            .collect())
    }
}
