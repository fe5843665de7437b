//! Directives, their assignments and the history of each, guidance notes, and the change
//! feed that lets several servers follow one another's writes.

use futures::TryStreamExt;
use ganglion_core::UnitId;
use sqlx::any::AnyRow;
use sqlx::{Any, Row};

use crate::exec::{Cells, Statements};
use crate::{Backend, Store, StoreError, WriteTx};

#[derive(Debug, Clone, PartialEq)]
pub struct DirectiveRow {
    pub id: i64,
    pub issuer: UnitId,
    pub parent: Option<i64>,
    pub title: String,
    pub body: String,
    pub due: String,
    pub target_under: UnitId,
    /// Kinds separated by `;`, empty for any kind.
    pub target_kinds: String,
    /// Tags separated by `;`: a targeted unit carries every one.
    pub target_tags: String,
    pub metric_name: Option<String>,
    pub metric_unit: Option<String>,
    pub metric_target: Option<f64>,
    /// `draft`, `issued`, `withdrawn` or `closed`.
    pub state: String,
    pub assignment_count: i64,
    pub created_at: String,
    pub issued_at: Option<String>,
    pub ended_at: Option<String>,
}

/// The fields of a directive that are written while it is a draft.
#[derive(Debug, Clone)]
pub struct DirectiveDraft<'a> {
    pub issuer: UnitId,
    pub parent: Option<i64>,
    pub title: &'a str,
    pub body: &'a str,
    pub due: &'a str,
    pub target_under: UnitId,
    pub target_kinds: &'a str,
    pub target_tags: &'a str,
    pub metric_name: Option<&'a str>,
    pub metric_unit: Option<&'a str>,
    pub metric_target: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AssignmentRow {
    pub id: i64,
    pub directive: i64,
    pub unit: UnitId,
    /// 0 conveyed … 5 blocked, as `ganglion_core::AssignmentState`.
    pub state: u8,
    pub metric_value: Option<f64>,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AssignmentEventRow {
    pub at: String,
    pub actor: String,
    /// The actor's name when they acted: the account holder's, or the login of an
    /// account that names no person; none for the operator.
    pub actor_name: Option<String>,
    pub from_state: u8,
    pub to_state: u8,
    pub note: String,
    pub metric_value: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuidanceRow {
    pub id: i64,
    pub directive: i64,
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

/// Which units a directive reaches: a subtree (a path range), narrowed by kinds and tags.
#[derive(Debug, Clone)]
pub struct TargetFilter<'a> {
    pub range: (String, String),
    pub kinds: &'a [String],
    pub tags: &'a [String],
}

pub(crate) const DIRECTIVE_COLUMNS: &str =
    "id, issuer_id, parent_id, title, body, due, target_under, \
    target_kinds, target_tags, metric_name, metric_unit, metric_target, state, \
    assignment_count, created_at, issued_at, ended_at";

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("stored directive data has a bad {what}"))
}

fn unit_id(raw: i64, what: &str) -> Result<UnitId, StoreError> {
    UnitId::new(raw).ok_or_else(|| corrupt(what))
}

fn directive_from_row(row: &AnyRow) -> Result<DirectiveRow, StoreError> {
    directive_from_row_at(row, 0)
}

/// A directive read from the row's columns starting at `first`.
pub(crate) fn directive_from_row_at(
    row: &(impl Cells + ?Sized),
    first: usize,
) -> Result<DirectiveRow, StoreError> {
    let at = |column: usize| first + column;
    Ok(DirectiveRow {
        id: row.int(at(0))?,
        issuer: unit_id(row.int(at(1))?, "issuer")?,
        parent: row.int_opt(at(2))?,
        title: row.text(at(3))?,
        body: row.text(at(4))?,
        due: row.text(at(5))?,
        target_under: unit_id(row.int(at(6))?, "target")?,
        target_kinds: row.text(at(7))?,
        target_tags: row.text(at(8))?,
        metric_name: row.text_opt(at(9))?,
        metric_unit: row.text_opt(at(10))?,
        metric_target: row.real_opt(at(11))?,
        state: row.text(at(12))?,
        assignment_count: row.int(at(13))?,
        created_at: row.text(at(14))?,
        issued_at: row.text_opt(at(15))?,
        ended_at: row.text_opt(at(16))?,
    })
}

pub(crate) const ASSIGNMENT_COLUMNS: &str =
    "id, directive_id, unit_id, CAST(state AS INTEGER), metric_value, updated_at";
/// The same, of an assignment named `a` in a join.
pub(crate) const ASSIGNMENT_COLUMNS_OF_A: &str =
    "a.id, a.directive_id, a.unit_id, CAST(a.state AS INTEGER), a.metric_value, a.updated_at";

pub(crate) fn assignment_from_row(
    row: &(impl Cells + ?Sized),
) -> Result<AssignmentRow, StoreError> {
    Ok(AssignmentRow {
        id: row.int(0)?,
        directive: row.int(1)?,
        unit: unit_id(row.int(2)?, "unit")?,
        state: u8::try_from(row.small(3)?).map_err(|_| corrupt("state"))?,
        metric_value: row.real_opt(4)?,
        updated_at: row.text(5)?,
    })
}

/// The WHERE clause choosing a directive's units; placeholders start after `first`.
fn target_sql(target: &TargetFilter<'_>, first: usize) -> (String, Vec<String>) {
    let mut binds = vec![target.range.0.clone(), target.range.1.clone()];
    let mut clauses = vec![format!(
        "u.path >= ${} AND u.path < ${}",
        first + 1,
        first + 2
    )];
    if !target.kinds.is_empty() {
        let mut names = Vec::new();
        for kind in target.kinds {
            binds.push(kind.clone());
            names.push(format!("${}", first + binds.len()));
        }
        clauses.push(format!("u.kind IN ({})", names.join(", ")));
    }
    for tag in target.tags {
        binds.push(tag.clone());
        clauses.push(format!(
            "EXISTS (SELECT 1 FROM unit_tags t WHERE t.unit_id = u.id AND t.tag = ${})",
            first + binds.len()
        ));
    }
    (clauses.join(" AND "), binds)
}

impl Store {
    pub async fn directive(&self, id: i64) -> Result<Option<DirectiveRow>, StoreError> {
        let sql = format!("SELECT {DIRECTIVE_COLUMNS} FROM directives WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(directive_from_row).transpose()
    }

    /// Directives in one of these states, by id.
    pub async fn directives_in_states(
        &self,
        states: &[&str],
    ) -> Result<Vec<DirectiveRow>, StoreError> {
        let placeholders: Vec<String> = (1..=states.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT {DIRECTIVE_COLUMNS} FROM directives WHERE state IN ({}) ORDER BY id",
            placeholders.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for state in states {
            query = query.bind(*state);
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter()
            .map(directive_from_row)
            .collect::<Result<_, _>>()
    }

    /// How many units a target reaches (the preview of an issue).
    pub async fn count_targets(&self, target: &TargetFilter<'_>) -> Result<u64, StoreError> {
        let (where_sql, binds) = target_sql(target, 0);
        let sql = format!("SELECT COUNT(*) FROM units u WHERE {where_sql}");
        let mut query = sqlx::query_scalar::<Any, i64>(&sql);
        for bind in binds {
            query = query.bind(bind);
        }
        Ok(query.fetch_one(&self.pool).await? as u64)
    }

    /// Every assignment of a directive as `(unit, state, metric)`, for the read model.
    pub async fn assignment_columns(
        &self,
        directive: i64,
    ) -> Result<Vec<(UnitId, u8, Option<f64>)>, StoreError> {
        let mut rows = sqlx::query(
            "SELECT unit_id, CAST(state AS INTEGER), metric_value FROM assignments WHERE directive_id = $1",
        )
        .bind(directive)
        .fetch(&self.pool);
        let mut out = Vec::new();
        while let Some(row) = rows.try_next().await? {
            let unit: i64 = row.try_get(0)?;
            let state: i32 = row.try_get(1)?;
            if let (Some(unit), Ok(state)) = (UnitId::new(unit), u8::try_from(state)) {
                out.push((unit, state, row.try_get(2)?));
            }
        }
        Ok(out)
    }

    /// Every assignment of a directive as `(id, unit)`, by id.
    pub async fn assignment_ids(&self, directive: i64) -> Result<Vec<(i64, UnitId)>, StoreError> {
        let rows =
            sqlx::query("SELECT id, unit_id FROM assignments WHERE directive_id = $1 ORDER BY id")
                .bind(directive)
                .fetch_all(&self.pool)
                .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let unit: i64 = row.try_get(1)?;
            if let Some(unit) = UnitId::new(unit) {
                out.push((row.try_get(0)?, unit));
            }
        }
        Ok(out)
    }

    pub async fn assignment(&self, id: i64) -> Result<Option<AssignmentRow>, StoreError> {
        let sql = format!("SELECT {ASSIGNMENT_COLUMNS} FROM assignments WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(assignment_from_row).transpose()
    }

    pub async fn assignment_of(
        &self,
        directive: i64,
        unit: UnitId,
    ) -> Result<Option<AssignmentRow>, StoreError> {
        let sql = format!(
            "SELECT {ASSIGNMENT_COLUMNS} FROM assignments WHERE directive_id = $1 AND unit_id = $2"
        );
        let row = sqlx::query(&sql)
            .bind(directive)
            .bind(unit.get())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(assignment_from_row).transpose()
    }

    /// A unit's own assignments of live directives, newest directive first, after the
    /// cursor (a directive id), with their directives.
    pub async fn assignments_of_unit(
        &self,
        unit: UnitId,
        state: Option<u8>,
        before_directive: Option<i64>,
        limit: u32,
    ) -> Result<Vec<(AssignmentRow, DirectiveRow)>, StoreError> {
        let directive_columns = DIRECTIVE_COLUMNS
            .split(", ")
            .map(|c| format!("d.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut sql = format!(
            "SELECT {ASSIGNMENT_COLUMNS_OF_A}, {directive_columns} FROM assignments a \
             JOIN directives d ON d.id = a.directive_id \
             WHERE a.unit_id = $1 AND d.state = 'issued' AND d.id < $2"
        );
        if state.is_some() {
            sql.push_str(" AND a.state = $3");
        }
        sql.push_str(&format!(" ORDER BY d.id DESC LIMIT {limit}"));
        let mut query = sqlx::query(&sql)
            .bind(unit.get())
            .bind(before_directive.unwrap_or(i64::MAX));
        if let Some(state) = state {
            query = query.bind(i32::from(state));
        }
        let rows = query.fetch_all(&self.pool).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let assignment = assignment_from_row(row)?;
            // The directive's columns follow the assignment's six.
            let directive = directive_from_row_at(row, 6)?;
            out.push((assignment, directive));
        }
        Ok(out)
    }

    pub async fn assignment_events(
        &self,
        assignment: i64,
    ) -> Result<Vec<AssignmentEventRow>, StoreError> {
        let mut connection = self.pool.acquire().await?;
        fetch_events(&mut connection, assignment).await
    }

    pub async fn guidance_of(&self, directive: i64) -> Result<Vec<GuidanceRow>, StoreError> {
        let sql = format!(
            "SELECT {GUIDANCE_COLUMNS} FROM {GUIDANCE_FROM} WHERE g.directive_id = $1 ORDER BY g.id"
        );
        let rows = sqlx::query(&sql)
            .bind(directive)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(guidance_from_row)
            .collect::<Result<_, StoreError>>()
    }

    /// Per day and change `(day, from, to, count)` of a directive's assignments inside
    /// the path range: what a series of counts over time is made from.
    pub async fn daily_transitions(
        &self,
        directive: i64,
        range: &(String, String),
    ) -> Result<Vec<(String, u8, u8, u64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT substr(e.at, 1, 10) AS day, CAST(e.from_state AS INTEGER), \
             CAST(e.to_state AS INTEGER), COUNT(*) FROM assignment_events e \
             JOIN assignments a ON a.id = e.assignment_id JOIN units u ON u.id = a.unit_id \
             WHERE e.directive_id = $1 AND u.path >= $2 AND u.path < $3 \
             GROUP BY 1, 2, 3 ORDER BY 1",
        )
        .bind(directive)
        .bind(range.0.as_str())
        .bind(range.1.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.text(0)?,
                    u8::try_from(row.small(1)?).map_err(|_| corrupt("state"))?,
                    u8::try_from(row.small(2)?).map_err(|_| corrupt("state"))?,
                    row.int(3)? as u64,
                ))
            })
            .collect()
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
                    seq: row.try_get(0)?,
                    kind: row.try_get(1)?,
                    payload: row.try_get(2)?,
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

pub(crate) const EVENT_COLUMNS: &str = "at, actor, CAST(from_state AS INTEGER), \
    CAST(to_state AS INTEGER), note, metric_value, actor_name";

/// A history entry read from the row's columns starting at `first`.
pub(crate) fn event_from_row(
    row: &(impl Cells + ?Sized),
    first: usize,
) -> Result<AssignmentEventRow, StoreError> {
    let at = |column: usize| first + column;
    Ok(AssignmentEventRow {
        at: row.text(at(0))?,
        actor: row.text(at(1))?,
        from_state: u8::try_from(row.small(at(2))?).map_err(|_| corrupt("state"))?,
        to_state: u8::try_from(row.small(at(3))?).map_err(|_| corrupt("state"))?,
        note: row.text(at(4))?,
        metric_value: row.real_opt(at(5))?,
        actor_name: row.text_opt(at(6))?,
    })
}

pub(crate) const GUIDANCE_COLUMNS: &str =
    "g.id, g.directive_id, g.unit_id, g.text, g.actor, g.created_at, u.name";
pub(crate) const GUIDANCE_FROM: &str = "guidance g JOIN units u ON u.id = g.unit_id";

pub(crate) fn guidance_from_row(row: &(impl Cells + ?Sized)) -> Result<GuidanceRow, StoreError> {
    Ok(GuidanceRow {
        id: row.int(0)?,
        directive: row.int(1)?,
        unit: unit_id(row.int(2)?, "unit")?,
        text: row.text(3)?,
        actor: row.text(4)?,
        created_at: row.text(5)?,
        unit_name: row.text(6)?,
    })
}

async fn fetch_events(
    connection: &mut sqlx::AnyConnection,
    assignment: i64,
) -> Result<Vec<AssignmentEventRow>, StoreError> {
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM assignment_events WHERE assignment_id = $1 ORDER BY id"
    );
    let rows = sqlx::query(&sql)
        .bind(assignment)
        .fetch_all(&mut *connection)
        .await?;
    rows.iter()
        .map(|row| event_from_row(row, 0))
        .collect::<Result<_, StoreError>>()
}

impl WriteTx {
    /// The history of an assignment, as this write sees it.
    pub async fn assignment_events(
        &mut self,
        assignment: i64,
    ) -> Result<Vec<AssignmentEventRow>, StoreError> {
        fetch_events(&mut self.tx, assignment).await
    }

    pub async fn directive(&mut self, id: i64) -> Result<Option<DirectiveRow>, StoreError> {
        let sql = format!("SELECT {DIRECTIVE_COLUMNS} FROM directives WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref().map(directive_from_row).transpose()
    }

    pub async fn insert_directive(
        &mut self,
        draft: &DirectiveDraft<'_>,
        at: &str,
    ) -> Result<i64, StoreError> {
        // The metric's target is written as a NULL literal when absent: through the Any
        // driver a bound NULL carries no type, and PostgreSQL would type the cached
        // statement's parameter wrongly for a number bound to it later.
        let target = if draft.metric_target.is_some() {
            "$12"
        } else {
            "NULL"
        };
        let sql = format!(
            "INSERT INTO directives (issuer_id, parent_id, title, body, due, target_under, \
             target_kinds, target_tags, metric_name, metric_unit, created_at, state, metric_target) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'draft', {target}) RETURNING id"
        );
        let mut query = sqlx::query_scalar(&sql)
            .bind(draft.issuer.get())
            .bind(draft.parent)
            .bind(draft.title)
            .bind(draft.body)
            .bind(draft.due)
            .bind(draft.target_under.get())
            .bind(draft.target_kinds)
            .bind(draft.target_tags)
            .bind(draft.metric_name)
            .bind(draft.metric_unit)
            .bind(at);
        if let Some(value) = draft.metric_target {
            query = query.bind(value);
        }
        Ok(query.fetch_one(&mut *self.tx).await?)
    }

    /// Rewrites a draft's fields (the issuer and parent stay).
    pub async fn update_draft(
        &mut self,
        id: i64,
        draft: &DirectiveDraft<'_>,
    ) -> Result<(), StoreError> {
        let target = if draft.metric_target.is_some() {
            "$10"
        } else {
            "NULL"
        };
        let sql = format!(
            "UPDATE directives SET title = $2, body = $3, due = $4, target_under = $5, \
             target_kinds = $6, target_tags = $7, metric_name = $8, metric_unit = $9, \
             metric_target = {target} WHERE id = $1 AND state = 'draft'"
        );
        let mut query = sqlx::query(&sql)
            .bind(id)
            .bind(draft.title)
            .bind(draft.body)
            .bind(draft.due)
            .bind(draft.target_under.get())
            .bind(draft.target_kinds)
            .bind(draft.target_tags)
            .bind(draft.metric_name)
            .bind(draft.metric_unit);
        if let Some(value) = draft.metric_target {
            query = query.bind(value);
        }
        query.execute(&mut *self.tx).await?;
        Ok(())
    }

    /// Conveys a directive: one assignment per targeted unit, in one statement.
    /// Returns how many were created.
    pub async fn convey(
        &mut self,
        directive: i64,
        target: &TargetFilter<'_>,
        at: &str,
    ) -> Result<u64, StoreError> {
        let (where_sql, binds) = target_sql(target, 2);
        let sql = format!(
            "INSERT INTO assignments (directive_id, unit_id, state, updated_at) \
             SELECT $1, u.id, 0, $2 FROM units u WHERE {where_sql}"
        );
        let mut query = sqlx::query::<Any>(&sql).bind(directive).bind(at);
        for bind in binds {
            query = query.bind(bind);
        }
        let created = query.execute(&mut *self.tx).await?.rows_affected();
        sqlx::query(
            "UPDATE directives SET state = 'issued', issued_at = $2, assignment_count = $3 WHERE id = $1",
        )
        .bind(directive)
        .bind(at)
        .bind(created as i64)
        .execute(&mut *self.tx)
        .await?;
        Ok(created)
    }

    /// The units of a directive's assignments, as just conveyed.
    pub async fn assigned_units(&mut self, directive: i64) -> Result<Vec<UnitId>, StoreError> {
        let mut rows = sqlx::query("SELECT unit_id FROM assignments WHERE directive_id = $1")
            .bind(directive)
            .fetch(&mut *self.tx);
        let mut units = Vec::new();
        while let Some(row) = rows.try_next().await? {
            let unit: i64 = row.try_get(0)?;
            units.extend(UnitId::new(unit));
        }
        Ok(units)
    }

    pub async fn end_directive(
        &mut self,
        id: i64,
        state: &str,
        at: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE directives SET state = $2, ended_at = $3 WHERE id = $1")
            .bind(id)
            .bind(state)
            .bind(at)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    pub async fn insert_guidance(
        &mut self,
        directive: i64,
        unit: UnitId,
        text: &str,
        actor: &str,
        at: &str,
    ) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "INSERT INTO guidance (directive_id, unit_id, text, actor, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(directive)
        .bind(unit.get())
        .bind(text)
        .bind(actor)
        .bind(at)
        .fetch_one(&mut *self.tx)
        .await?)
    }

    /// Appends to the change feed. Writers are serialized (see [`Store::write`]), so
    /// sequence numbers are committed in order and a follower never skips one.
    pub async fn append_change(
        &mut self,
        kind: &str,
        payload: &str,
        at: &str,
    ) -> Result<(), StoreError> {
        self.append_changes(&[(kind, payload)], at).await
    }

    /// Appends many changes, in order, with one statement.
    pub async fn append_changes(
        &mut self,
        changes: &[(&str, &str)],
        at: &str,
    ) -> Result<(), StoreError> {
        append_changes(&mut self.tx, self.backend, changes, at).await
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
