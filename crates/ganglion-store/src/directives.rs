//! Directives (of every kind), guidance notes, and the change feed that lets several
//! servers follow one another's writes. A directive's assignments are tracked items
//! (see `tracking.rs`).

use ganglion_core::tracking::Target;
use ganglion_core::{DirectiveId, DirectiveState, GuidanceId, Kind, ProgrammeId, UnitId};
use sqlx::any::AnyRow;
use sqlx::Row;
use time::Date;

use crate::exec::{Cells, Param, Statements};
use crate::{Backend, Store, StoreError, WriteTx};

/// A quantity each unit of a directive reports, with its target per unit.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricRow {
    pub name: String,
    pub unit: String,
    pub target_per_unit: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DirectiveRow {
    pub id: DirectiveId,
    pub kind: Kind,
    pub issuer: UnitId,
    pub parent: Option<DirectiveId>,
    pub title: String,
    pub body: String,
    pub due: Date,
    /// Who it reaches: `under` is always set.
    pub target: Target,
    pub metric: Option<MetricRow>,
    pub state: DirectiveState,
    pub assignment_count: i64,
    pub created_at: String,
    pub issued_at: Option<String>,
    pub ended_at: Option<String>,
    /// The programme and year whose projects this directive carries.
    pub programme: Option<(ProgrammeId, i32)>,
}

impl DirectiveRow {
    /// The top of the subtree it reaches.
    pub fn target_under(&self) -> UnitId {
        self.target.under.unwrap_or(self.issuer)
    }
}

/// The fields of a directive written while it is a draft.
#[derive(Debug, Clone)]
pub struct DirectiveDraft<'a> {
    pub kind: Kind,
    pub issuer: UnitId,
    pub parent: Option<DirectiveId>,
    pub title: &'a str,
    pub body: &'a str,
    pub due: Date,
    pub target: &'a Target,
    pub metric: Option<&'a MetricRow>,
    pub programme: Option<(ProgrammeId, i32)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuidanceRow {
    pub id: GuidanceId,
    pub directive: DirectiveId,
    pub unit: UnitId,
    pub unit_name: String,
    pub text: String,
    pub actor: String,
    pub created_at: String,
}

/// One entry of the change feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeRow {
    pub seq: i64,
    pub kind: String,
    pub payload: String,
}

pub(crate) const DIRECTIVE_COLUMNS: &str =
    "id, kind, issuer_id, parent_id, title, body, due, target_under, target_kinds, \
     target_tags, target_units, metric_name, metric_unit, metric_target, state, \
     assignment_count, created_at, issued_at, ended_at, programme_id, programme_year";

/// Where a value goes in a statement: a placeholder bound to it, or a `NULL` literal.
/// Through the Any driver a bound NULL carries the type text, which PostgreSQL refuses
/// for a column of another type.
pub(crate) fn slot(params: &mut Vec<Param>, value: Param) -> String {
    if matches!(value, Param::Null) {
        return "NULL".into();
    }
    params.push(value);
    format!("${}", params.len())
}

pub(crate) fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("stored tracking data has a bad {what}"))
}

pub(crate) fn unit_id(raw: i64, what: &str) -> Result<UnitId, StoreError> {
    UnitId::new(raw).ok_or_else(|| corrupt(what))
}

pub(crate) fn parse_date(text: &str) -> Result<Date, StoreError> {
    Date::parse(
        text,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .map_err(|_| corrupt("date"))
}

pub(crate) fn format_date(date: Date) -> String {
    date.format(time::macros::format_description!("[year]-[month]-[day]"))
        .unwrap_or_default()
}

fn split_list(text: &str) -> Vec<String> {
    text.split(';')
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

fn split_units(text: &str) -> Result<Vec<UnitId>, StoreError> {
    text.split(';')
        .filter(|item| !item.is_empty())
        .map(|item| {
            item.parse::<i64>()
                .ok()
                .and_then(UnitId::new)
                .ok_or_else(|| corrupt("target unit"))
        })
        .collect()
}

fn join_units(units: &[UnitId]) -> String {
    units
        .iter()
        .map(|unit| unit.to_string())
        .collect::<Vec<_>>()
        .join(";")
}

/// A directive read from a row of [`DIRECTIVE_COLUMNS`].
pub(crate) fn directive_from_row(row: &(impl Cells + ?Sized)) -> Result<DirectiveRow, StoreError> {
    let kind = row.get_text("kind")?;
    let state = row.get_text("state")?;
    let metric = match (
        row.get_text_opt("metric_name")?,
        row.get_real_opt("metric_target")?,
    ) {
        (Some(name), Some(target_per_unit)) => Some(MetricRow {
            name,
            unit: row.get_text_opt("metric_unit")?.unwrap_or_default(),
            target_per_unit,
        }),
        _ => None,
    };
    let programme = match (
        row.get_int_opt("programme_id")?,
        row.get_int_opt("programme_year")?,
    ) {
        (Some(id), Some(year)) => Some((
            ProgrammeId::new(id).ok_or_else(|| corrupt("programme"))?,
            i32::try_from(year).map_err(|_| corrupt("programme year"))?,
        )),
        _ => None,
    };
    Ok(DirectiveRow {
        id: DirectiveId::new(row.get_int("id")?).ok_or_else(|| corrupt("id"))?,
        kind: Kind::parse(&kind)
            .filter(|kind| kind.is_directive_kind())
            .ok_or_else(|| corrupt("kind"))?,
        issuer: unit_id(row.get_int("issuer_id")?, "issuer")?,
        parent: row.get_int_opt("parent_id")?.and_then(DirectiveId::new),
        title: row.get_text("title")?,
        body: row.get_text("body")?,
        due: parse_date(&row.get_text("due")?)?,
        target: Target {
            under: Some(unit_id(row.get_int("target_under")?, "target")?),
            kinds: split_list(&row.get_text("target_kinds")?),
            tags: split_list(&row.get_text("target_tags")?),
            units: split_units(&row.get_text("target_units")?)?,
            posts: None,
        },
        metric,
        state: DirectiveState::parse(&state).ok_or_else(|| corrupt("state"))?,
        assignment_count: row.get_int("assignment_count")?,
        created_at: row.get_text("created_at")?,
        issued_at: row.get_text_opt("issued_at")?,
        ended_at: row.get_text_opt("ended_at")?,
        programme,
    })
}

fn directives_from(rows: &[AnyRow]) -> Result<Vec<DirectiveRow>, StoreError> {
    rows.iter().map(directive_from_row).collect()
}

impl Store {
    pub async fn directive(&self, id: DirectiveId) -> Result<Option<DirectiveRow>, StoreError> {
        let sql = format!("SELECT {DIRECTIVE_COLUMNS} FROM directives WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id.get())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(directive_from_row).transpose()
    }

    /// Directives in one of these states, by id.
    pub async fn directives_in_states(
        &self,
        states: &[DirectiveState],
    ) -> Result<Vec<DirectiveRow>, StoreError> {
        let sql = format!(
            "SELECT {DIRECTIVE_COLUMNS} FROM directives WHERE state IN ({}) ORDER BY id",
            crate::numbered(0, states.len())
        );
        let mut query = sqlx::query(&sql);
        for state in states {
            query = query.bind(state.as_str());
        }
        directives_from(&query.fetch_all(&self.pool).await?)
    }

    /// The directives a unit issued, newest first, after the cursor (a directive id).
    pub async fn directives_issued_by(
        &self,
        issuer: UnitId,
        before: Option<DirectiveId>,
        limit: u32,
    ) -> Result<Vec<DirectiveRow>, StoreError> {
        let sql = format!(
            "SELECT {DIRECTIVE_COLUMNS} FROM directives WHERE issuer_id = $1 AND id < $2 \
             ORDER BY id DESC LIMIT {limit}"
        );
        let rows = sqlx::query(&sql)
            .bind(issuer.get())
            .bind(before.map_or(i64::MAX, DirectiveId::get))
            .fetch_all(&self.pool)
            .await?;
        directives_from(&rows)
    }

    /// The directives breaking `parent` into tasks, by id.
    pub async fn child_directives(
        &self,
        parent: DirectiveId,
    ) -> Result<Vec<DirectiveRow>, StoreError> {
        let sql =
            format!("SELECT {DIRECTIVE_COLUMNS} FROM directives WHERE parent_id = $1 ORDER BY id");
        let rows = sqlx::query(&sql)
            .bind(parent.get())
            .fetch_all(&self.pool)
            .await?;
        directives_from(&rows)
    }

    pub async fn guidance_of(
        &self,
        directive: DirectiveId,
    ) -> Result<Vec<GuidanceRow>, StoreError> {
        let sql = format!(
            "SELECT {GUIDANCE_COLUMNS} FROM {GUIDANCE_FROM} WHERE g.directive_id = $1 ORDER BY g.id"
        );
        let rows = sqlx::query(&sql)
            .bind(directive.get())
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(guidance_from_row)
            .collect::<Result<_, StoreError>>()
    }

    /// Changes after `after_seq`, in order.
    pub async fn changes_after(
        &self,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<ChangeRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT seq, kind, payload FROM changes WHERE seq > $1 ORDER BY seq LIMIT {limit}"
        ))
        .bind(after_seq)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(ChangeRow {
                    seq: row.try_get("seq")?,
                    kind: row.try_get("kind")?,
                    payload: row.try_get("payload")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// The newest change's sequence number (0 when there is none).
    pub async fn last_change(&self) -> Result<i64, StoreError> {
        let seq: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM changes")
            .fetch_one(&self.pool)
            .await?;
        Ok(seq.unwrap_or(0))
    }
}

pub(crate) const GUIDANCE_COLUMNS: &str =
    "g.id, g.directive_id, g.unit_id, g.text, g.actor, g.created_at, u.name AS unit_name";
pub(crate) const GUIDANCE_FROM: &str = "guidance g JOIN units u ON u.id = g.unit_id";

pub(crate) fn guidance_from_row(row: &(impl Cells + ?Sized)) -> Result<GuidanceRow, StoreError> {
    Ok(GuidanceRow {
        id: GuidanceId::new(row.get_int("id")?).ok_or_else(|| corrupt("guidance id"))?,
        directive: DirectiveId::new(row.get_int("directive_id")?)
            .ok_or_else(|| corrupt("directive id"))?,
        unit: unit_id(row.get_int("unit_id")?, "unit")?,
        text: row.get_text("text")?,
        actor: row.get_text("actor")?,
        created_at: row.get_text("created_at")?,
        unit_name: row.get_text("unit_name")?,
    })
}

impl WriteTx {
    pub async fn directive(&mut self, id: DirectiveId) -> Result<Option<DirectiveRow>, StoreError> {
        let sql = format!("SELECT {DIRECTIVE_COLUMNS} FROM directives WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id.get())
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref().map(directive_from_row).transpose()
    }

    pub async fn insert_directive(
        &mut self,
        draft: &DirectiveDraft<'_>,
        at: &str,
    ) -> Result<DirectiveId, StoreError> {
        let target = draft.target;
        let mut params = Vec::new();
        let values = [
            slot(&mut params, draft.kind.as_str().into()),
            slot(&mut params, draft.issuer.get().into()),
            slot(&mut params, draft.parent.map(DirectiveId::get).into()),
            slot(&mut params, draft.title.into()),
            slot(&mut params, draft.body.into()),
            slot(&mut params, format_date(draft.due).into()),
            slot(
                &mut params,
                target.under.unwrap_or(draft.issuer).get().into(),
            ),
            slot(&mut params, target.kinds.join(";").into()),
            slot(&mut params, target.tags.join(";").into()),
            slot(&mut params, join_units(&target.units).into()),
            slot(&mut params, draft.metric.map(|m| m.name.as_str()).into()),
            slot(&mut params, draft.metric.map(|m| m.unit.as_str()).into()),
            slot(&mut params, draft.metric.map(|m| m.target_per_unit).into()),
            slot(&mut params, draft.programme.map(|(id, _)| id.get()).into()),
            slot(
                &mut params,
                draft.programme.map(|(_, year)| i64::from(year)).into(),
            ),
            slot(&mut params, at.into()),
        ];
        let sql = format!(
            "INSERT INTO directives (kind, issuer_id, parent_id, title, body, due, target_under, \
             target_kinds, target_tags, target_units, metric_name, metric_unit, metric_target, \
             programme_id, programme_year, created_at, state) VALUES ({}, 'draft') RETURNING id",
            values.join(", ")
        );
        let ids = self.tx.fetch(&sql, params, |row| row.int(0)).await?;
        ids.first()
            .copied()
            .and_then(DirectiveId::new)
            .ok_or_else(|| corrupt("new directive id"))
    }

    /// Rewrites a draft's fields (the kind, issuer, parent and programme stay).
    pub async fn update_draft(
        &mut self,
        id: DirectiveId,
        draft: &DirectiveDraft<'_>,
    ) -> Result<(), StoreError> {
        let target = draft.target;
        let mut params = Vec::new();
        let key = slot(&mut params, id.get().into());
        let sets = [
            ("title", slot(&mut params, draft.title.into())),
            ("body", slot(&mut params, draft.body.into())),
            ("due", slot(&mut params, format_date(draft.due).into())),
            (
                "target_under",
                slot(
                    &mut params,
                    target.under.unwrap_or(draft.issuer).get().into(),
                ),
            ),
            (
                "target_kinds",
                slot(&mut params, target.kinds.join(";").into()),
            ),
            (
                "target_tags",
                slot(&mut params, target.tags.join(";").into()),
            ),
            (
                "target_units",
                slot(&mut params, join_units(&target.units).into()),
            ),
            (
                "metric_name",
                slot(&mut params, draft.metric.map(|m| m.name.as_str()).into()),
            ),
            (
                "metric_unit",
                slot(&mut params, draft.metric.map(|m| m.unit.as_str()).into()),
            ),
            (
                "metric_target",
                slot(&mut params, draft.metric.map(|m| m.target_per_unit).into()),
            ),
        ];
        let sets: Vec<String> = sets
            .iter()
            .map(|(column, value)| format!("{column} = {value}"))
            .collect();
        let sql = format!(
            "UPDATE directives SET {} WHERE id = {key} AND state = 'draft'",
            sets.join(", ")
        );
        self.tx.execute(&sql, params).await?;
        Ok(())
    }

    /// Marks a directive issued to `count` units.
    pub async fn mark_issued(
        &mut self,
        id: DirectiveId,
        count: u64,
        at: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE directives SET state = 'issued', issued_at = $2, assignment_count = $3 \
             WHERE id = $1",
        )
        .bind(id.get())
        .bind(at)
        .bind(count as i64)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Counts `added` more assignments of a directive (projects added to a year).
    pub async fn add_to_assignment_count(
        &mut self,
        id: DirectiveId,
        added: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE directives SET assignment_count = assignment_count + $2 WHERE id = $1")
            .bind(id.get())
            .bind(added)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    pub async fn end_directive(
        &mut self,
        id: DirectiveId,
        state: DirectiveState,
        at: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE directives SET state = $2, ended_at = $3 WHERE id = $1")
            .bind(id.get())
            .bind(state.as_str())
            .bind(at)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    pub async fn insert_guidance(
        &mut self,
        directive: DirectiveId,
        unit: UnitId,
        text: &str,
        actor: &str,
        at: &str,
    ) -> Result<GuidanceId, StoreError> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO guidance (directive_id, unit_id, text, actor, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(directive.get())
        .bind(unit.get())
        .bind(text)
        .bind(actor)
        .bind(at)
        .fetch_one(&mut *self.tx)
        .await?;
        GuidanceId::new(id).ok_or_else(|| corrupt("new guidance id"))
    }

    /// Appends to the change feed. Writers are serialized (see [`Store::write`]), so
    /// sequence numbers are committed in order and a follower never skips one.
    pub async fn append_change(
        &mut self,
        kind: &str,
        payload: &str,
        at: &str,
    ) -> Result<(), StoreError> {
        append_changes(&mut self.tx, self.backend, &[(kind, payload)], at).await
    }

    /// The newest change's sequence number, as this write sees it.
    pub async fn last_change(&mut self) -> Result<i64, StoreError> {
        let seq: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM changes")
            .fetch_one(&mut *self.tx)
            .await?;
        Ok(seq.unwrap_or(0))
    }
}

pub(crate) async fn append_changes(
    statements: &mut impl Statements,
    backend: Backend,
    changes: &[(&str, &str)],
    at: &str,
) -> Result<(), StoreError> {
    if changes.is_empty() {
        return Ok(());
    }
    let rows: Vec<serde_json::Value> = changes
        .iter()
        .enumerate()
        .map(|(index, (kind, payload))| {
            serde_json::json!({"n": index + 1, "at": at, "kind": kind, "payload": payload})
        })
        .collect();
    // Numbered on from the last change in the statement itself: under the write lock
    // nothing else appends meanwhile, and no round trip is spent reading the last one.
    let sql = format!(
        "INSERT INTO changes (seq, at, kind, payload) \
         SELECT (SELECT COALESCE(MAX(seq), 0) FROM changes) + c.n, c.at, c.kind, c.payload \
         FROM {}",
        crate::json_rows(
            backend,
            "$1",
            "c",
            &[
                ("n", "BIGINT"),
                ("at", "TEXT"),
                ("kind", "TEXT"),
                ("payload", "TEXT")
            ],
        )
    );
    statements
        .execute(&sql, vec![serde_json::Value::from(rows).to_string().into()])
        .await?;
    Ok(())
}
