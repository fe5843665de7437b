//! Honours: titles (a red-flag title) awarded to a unit by a unit above it, for a
//! period, with their grounds; awarded again and again ("twice", "three times"), and
//! withdrawn with a reason, after which an award no longer counts.
//!
//! What the organization honours is shared with everyone in it: every account reads
//! the list of titled units and every award. A unit's own titles are read as the unit
//! is.

mod demo;
mod views;

use std::collections::BTreeMap;

use ganglion_core::{Action, AwardId, Resource, UnitId};
use ganglion_store::{AwardRow, NewAwardRow};

pub use views::*;

use crate::features::check_text;
use crate::features::units::{parse_unit_id, unknown_reference};
use crate::page::{checked_limit, decode_number_cursor, encode_cursor, Page};
use crate::ErrorCode;
use crate::{clock, Actor, App, AppError, Audit, Ctx};

/// The use cases of honours.
pub struct Honours<'a> {
    app: &'a App,
}

impl App {
    pub fn honours(&self) -> Honours<'_> {
        Honours { app: self }
    }
}

const MAX_NAME: usize = 100;
const MAX_GROUNDS: usize = 5_000;
const MAX_REASON: usize = 2_000;

fn parse_award_id(text: &str) -> Result<AwardId, AppError> {
    text.parse()
        .map_err(|_| AppError::NotFound { what: "award" })
}

fn check_date(field: &str, text: &str) -> Result<String, AppError> {
    clock::parse_date(text.trim())
        .map(clock::format_date)
        .ok_or_else(|| {
            AppError::invalid(
                ErrorCode::InvalidValue,
                field,
                format!("{field} is a date written YYYY-MM-DD"),
            )
        })
}

fn award_view(row: &AwardRow) -> AwardView {
    AwardView {
        id: row.id.to_string(),
        unit: row.unit.to_string(),
        unit_name: row.unit_name.clone(),
        name: row.name.clone(),
        awarded_by: row.awarded_by.to_string(),
        awarded_by_name: row.awarded_by_name.clone(),
        awarded_on: row.awarded_on.clone(),
        period: row.period.as_ref().map(|(from, to)| Period {
            from: from.clone(),
            to: to.clone(),
        }),
        grounds: row.grounds.clone(),
        withdrawn: row.withdrawn.as_ref().map(|(at, reason, _)| Withdrawn {
            at: at.clone(),
            reason: reason.clone(),
        }),
        created_at: row.created_at.clone(),
    }
}

/// How many of these awards count: those not withdrawn.
fn times(awards: &[&AwardRow]) -> u32 {
    awards.iter().filter(|a| a.withdrawn.is_none()).count() as u32
}

impl Honours<'_> {
    /// A title as `unit` holds it, from every award to it (of any title).
    fn title_view(&self, unit: UnitId, name: &str, awards: &[AwardRow]) -> TitleView {
        let mine: Vec<&AwardRow> = awards
            .iter()
            .filter(|a| a.unit == unit && a.name == name)
            .collect();
        let tree = self.app.tree();
        TitleView {
            unit: unit.to_string(),
            unit_name: tree.name(unit).to_owned(),
            unit_code: tree.code(unit).to_owned(),
            name: name.to_owned(),
            times: times(&mine),
            awarded_on: mine
                .iter()
                .find(|a| a.withdrawn.is_none())
                .map(|a| a.awarded_on.clone()),
            awards: mine.iter().map(|a| award_view(a)).collect(),
        }
    }

    /// Refuses a caller without authority over the awarding unit: a 403 (401 without a
    /// session), recorded. Awards are seen by everyone, so this is never a 404.
    async fn require_awarder(
        &self,
        ctx: &Ctx,
        awarded_by: UnitId,
        action: &'static str,
        object: String,
    ) -> Result<(), AppError> {
        if self
            .app
            .allowed(ctx, Action::Write, Resource::Unit(awarded_by))
        {
            return Ok(());
        }
        self.app.record_denial(ctx, action, object, None).await;
        Err(if ctx.actor == Actor::Anonymous {
            AppError::Unauthenticated
        } else {
            AppError::Forbidden
        })
    }

    /// Awards a title to a unit, in the name of a unit above it that the caller acts for.
    pub async fn award(&self, ctx: &Ctx, input: NewTitle) -> Result<Awarded, AppError> {
        let app = self.app;
        let unit = parse_unit_id(&input.unit, "unit")?;
        let awarded_by = parse_unit_id(&input.awarded_by, "awarded_by")?;
        self.require_awarder(ctx, awarded_by, "title.award", format!("unit:{unit}"))
            .await?;
        if !app.tree().contains(awarded_by) {
            return Err(unknown_reference("awarded_by", awarded_by));
        }
        if !app.allowed(ctx, Action::Read, Resource::Unit(unit)) {
            app.record_denial(ctx, "title.award", format!("unit:{unit}"), None)
                .await;
            return Err(unknown_reference("unit", unit));
        }
        let above = unit != awarded_by && app.tree().is_within(unit, awarded_by);
        if !above {
            return Err(AppError::invalid(
                ErrorCode::NotAbove,
                "awarded_by",
                "a title is awarded by a unit above the unit honoured",
            ));
        }
        let name = check_text("name", &input.name, MAX_NAME, true)?;
        if name.chars().any(char::is_control) {
            return Err(AppError::invalid(
                ErrorCode::InvalidValue,
                "name",
                "a title's name must not contain control characters",
            ));
        }
        let grounds = check_text("grounds", &input.grounds, MAX_GROUNDS, true)?;
        let awarded_on = check_date("awarded_on", &input.awarded_on)?;
        let period = match &input.period {
            Some(period) => {
                let from = check_date("period.from", &period.from)?;
                let to = check_date("period.to", &period.to)?;
                if from > to {
                    return Err(AppError::invalid(
                        ErrorCode::InvalidValue,
                        "period.to",
                        "a period ends on or after the day it begins",
                    ));
                }
                Some((from, to))
            }
            None => None,
        };
        let now = app.now_text();
        let created_by = ctx.actor.label();
        let mut tx = app.store.write().await?;
        let id = tx
            .insert_award(&NewAwardRow {
                unit,
                name: &name,
                awarded_by,
                awarded_on: &awarded_on,
                period: period.as_ref().map(|(f, t)| (f.as_str(), t.as_str())),
                grounds: &grounds,
                created_by: &created_by,
                created_at: &now,
            })
            .await?;
        let row = tx
            .award(id)
            .await?
            .ok_or_else(|| AppError::Internal("an award vanished".into()))?;
        let answer = Awarded {
            award: award_view(&row),
            times: tx.held_awards(unit, &name).await?,
        };
        let audit = Audit::new("title.award", format!("award:{id}"), Some(unit)).after(&answer);
        app.finish_write(tx, ctx, audit, answer).await
    }

    /// One award, as everyone may read it.
    pub async fn get_award(&self, ctx: &Ctx, id: &str) -> Result<AwardView, AppError> {
        self.app.require_signed_in(ctx)?;
        let row = self
            .app
            .store
            .award(parse_award_id(id)?)
            .await?
            .ok_or(AppError::NotFound { what: "award" })?;
        Ok(award_view(&row))
    }

    /// Withdraws an award, with the reason; by those who may award in its awarding
    /// unit's name. It then no longer counts in `times`.
    pub async fn withdraw(
        &self,
        ctx: &Ctx,
        id: &str,
        input: Withdrawal,
    ) -> Result<AwardView, AppError> {
        let app = self.app;
        app.require_signed_in(ctx)?;
        let id = parse_award_id(id)?;
        let row = app
            .store
            .award(id)
            .await?
            .ok_or(AppError::NotFound { what: "award" })?;
        self.require_awarder(ctx, row.awarded_by, "title.withdraw", format!("award:{id}"))
            .await?;
        let reason = check_text("reason", &input.reason, MAX_REASON, false)?;
        if reason.is_empty() {
            return Err(AppError::invalid(
                ErrorCode::ReasonRequired,
                "reason",
                "withdrawing an award needs the reason",
            ));
        }
        let now = app.now_text();
        let mut tx = app.store.write().await?;
        if !tx
            .withdraw_award(id, &now, &reason, &ctx.actor.label())
            .await?
        {
            return Err(AppError::Conflict {
                code: ErrorCode::AwardWithdrawn,
                message: "this award was withdrawn already".into(),
            });
        }
        let row = tx
            .award(id)
            .await?
            .ok_or_else(|| AppError::Internal("an award vanished".into()))?;
        let view = award_view(&row);
        let audit = Audit::new("title.withdraw", format!("award:{id}"), Some(row.unit))
            .before(&award_view(&AwardRow {
                withdrawn: None,
                ..row.clone()
            }))
            .after(&view);
        app.finish_write(tx, ctx, audit, view).await
    }

    /// The units holding a title now, by title and then in tree order: each with how
    /// many times, and every award of it.
    pub async fn list(&self, ctx: &Ctx, query: TitleQuery) -> Result<Page<TitleView>, AppError> {
        let app = self.app;
        app.require_signed_in(ctx)?;
        let limit = checked_limit(query.limit)?;
        let offset = decode_number_cursor::<u64>(query.cursor.as_deref())?.unwrap_or(0);
        let under = match &query.under {
            Some(under) => {
                // Honours are shared with everyone: any unit is a region to list.
                let unit = parse_unit_id(under, "under")?;
                Some(
                    app.store
                        .unit(unit)
                        .await?
                        .ok_or(AppError::NotFound { what: "unit" })?
                        .subtree_range(),
                )
            }
            None => None,
        };
        let name = query
            .name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty());
        let mut pairs = app
            .store
            .titled_units(name, under.as_ref(), offset, limit + 1)
            .await?;
        let more = pairs.len() > limit as usize;
        pairs.truncate(limit as usize);
        let mut units: Vec<UnitId> = pairs.iter().map(|(_, unit)| *unit).collect();
        units.sort();
        units.dedup();
        let awards = app.store.awards_of_units(&units).await?;
        let items = pairs
            .iter()
            .map(|(name, unit)| self.title_view(*unit, name, &awards))
            .collect();
        let next_cursor = more.then(|| encode_cursor(&(offset + u64::from(limit)).to_string()));
        Ok(Page { items, next_cursor })
    }

    /// Every title a unit was ever awarded, as the unit may be read: those held now
    /// first, each with its awards.
    pub async fn of_unit(&self, ctx: &Ctx, unit: &str) -> Result<Vec<TitleView>, AppError> {
        let row = self.app.readable_unit(ctx, unit, "id").await?;
        let awards = self.app.store.awards_of_units(&[row.id]).await?;
        let mut names: BTreeMap<&str, ()> = BTreeMap::new();
        for award in &awards {
            names.insert(&award.name, ());
        }
        let mut titles: Vec<TitleView> = names
            .keys()
            .map(|name| self.title_view(row.id, name, &awards))
            .collect();
        titles.sort_by(|a, b| (b.times > 0).cmp(&(a.times > 0)).then(a.name.cmp(&b.name)));
        Ok(titles)
    }

    /// The regions honours are listed by: the units directly under the top of the tree.
    /// Honours are shared with everyone, and so are the regions' names.
    pub fn regions(&self, ctx: &Ctx) -> Result<Vec<(String, String)>, AppError> {
        self.app.require_signed_in(ctx)?;
        let tree = self.app.tree();
        Ok(tree
            .roots()
            .flat_map(|root| tree.children(root))
            .map(|unit| (unit.to_string(), tree.name(unit).to_owned()))
            .collect())
    }

    /// The titles held now, with how many units hold each.
    pub async fn names(&self, ctx: &Ctx) -> Result<Vec<TitleName>, AppError> {
        self.app.require_signed_in(ctx)?;
        Ok(self
            .app
            .store
            .title_names()
            .await?
            .into_iter()
            .map(|(name, units)| TitleName { name, units })
            .collect())
    }
}
