//! Tracked items and their history: one table family for everything conveyed to a unit
//! and tracked to completion, keyed by kind. An item belongs to a source (a directive,
//! a form, an event), optionally for a period, and to a unit (and, for an invitation,
//! a person); a unit may hold several items of one source.

use futures::TryStreamExt;
use ganglion_core::tracking::{PostRule, StateId};
use ganglion_core::{ItemId, Kind, PersonId, UnitId};
use sqlx::{Any, Row};
use time::Date;

use crate::directives::{corrupt, format_date, parse_date, slot, unit_id, DIRECTIVE_COLUMNS};
use crate::exec::{Cells, Param, Statements};
use crate::{Backend, DirectiveRow, Store, StoreError, WriteTx};

/// Where an item belongs: its kind, its source and, for periodic sources, its period
/// (empty otherwise).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SourceRef<'a> {
    pub kind: Kind,
    pub source: i64,
    pub period: &'a str,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ItemRow {
    pub id: ItemId,
    pub kind: Kind,
    pub source: i64,
    pub period: String,
    pub unit: UnitId,
    pub person: Option<PersonId>,
    pub state: StateId,
    /// The values of the source's metrics, in the source's order.
    pub metrics: Vec<Option<f64>>,
    /// Due by the end of this date …
    pub due: Option<Date>,
    /// … or at this time (RFC 3339).
    pub due_at: Option<String>,
    pub done_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// What the read model keeps of an item, read without the rest.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemEntryRow {
    pub id: ItemId,
    pub unit: UnitId,
    pub state: StateId,
    pub metrics: Vec<Option<f64>>,
    pub due: Option<Date>,
    pub due_at: Option<String>,
    pub done_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ItemEventRow {
    pub at: String,
    /// The actor as the audit trail names them: `account:7`.
    pub actor: String,
    /// The actor's name when they acted: the account holder's, or the login of an
    /// account that names no person; none for the operator.
    pub actor_name: Option<String>,
    pub from_state: StateId,
    pub to_state: StateId,
    pub note: String,
    pub metrics: Vec<Option<f64>>,
}

/// An item to add, with the id the writer allotted it (see [`WriteTx::next_item_id`]).
#[derive(Debug, Clone)]
pub struct NewItem {
    pub id: ItemId,
    pub unit: UnitId,
    pub person: Option<PersonId>,
    pub state: StateId,
    pub metrics: Vec<Option<f64>>,
    pub due: Option<Date>,
    pub due_at: Option<String>,
}

/// Which units a target reaches in the store: a subtree (a path range), narrowed by
/// kinds, tags or an explicit list of units; and, for people, the posts they hold there.
#[derive(Debug, Clone)]
pub struct TargetFilter<'a> {
    pub range: (String, String),
    pub kinds: &'a [String],
    pub tags: &'a [String],
    pub units: &'a [UnitId],
    pub posts: Option<&'a PostRule>,
    /// The day posts are held on, for a target over posts.
    pub on: Option<Date>,
}

pub(crate) const ITEM_COLUMNS: &str =
    "i.id, i.kind, i.source_id, i.period, i.unit_id, i.person_id, \
     CAST(i.state AS INTEGER) AS state, i.metrics, i.due, i.due_at, i.done_at, i.created_at, \
     i.updated_at";

/// Metric values as stored: a JSON array of numbers and nulls.
pub(crate) fn parse_metrics(text: Option<&str>) -> Result<Vec<Option<f64>>, StoreError> {
    match text {
        None => Ok(Vec::new()),
        Some(text) => serde_json::from_str(text).map_err(|_| corrupt("metrics")),
    }
}

pub(crate) fn metrics_text(values: &[Option<f64>]) -> Option<String> {
    if values.iter().all(Option::is_none) {
        return None;
    }
    Some(serde_json::to_string(values).unwrap_or_else(|_| "[]".into()))
}

fn state_of(raw: i32) -> Result<StateId, StoreError> {
    StateId::try_from(raw).map_err(|_| corrupt("state"))
}

pub(crate) fn item_from_row(row: &(impl Cells + ?Sized)) -> Result<ItemRow, StoreError> {
    let kind = row.get_text("kind")?;
    Ok(ItemRow {
        id: ItemId::new(row.get_int("id")?).ok_or_else(|| corrupt("item id"))?,
        kind: Kind::parse(&kind).ok_or_else(|| corrupt("kind"))?,
        source: row.get_int("source_id")?,
        period: row.get_text("period")?,
        unit: unit_id(row.get_int("unit_id")?, "unit")?,
        person: row.get_int_opt("person_id")?.and_then(PersonId::new),
        state: state_of(row.get_small("state")?)?,
        metrics: parse_metrics(row.get_text_opt("metrics")?.as_deref())?,
        due: row
            .get_text_opt("due")?
            .as_deref()
            .map(parse_date)
            .transpose()?,
        due_at: row.get_text_opt("due_at")?,
        done_at: row.get_text_opt("done_at")?,
        created_at: row.get_text("created_at")?,
        updated_at: row.get_text("updated_at")?,
    })
}

pub(crate) const EVENT_COLUMNS: &str = "e.at, e.actor, e.actor_name, \
    CAST(e.from_state AS INTEGER) AS from_state, CAST(e.to_state AS INTEGER) AS to_state, \
    e.note, e.metrics";

pub(crate) fn event_from_row(row: &(impl Cells + ?Sized)) -> Result<ItemEventRow, StoreError> {
    Ok(ItemEventRow {
        at: row.get_text("at")?,
        actor: row.get_text("actor")?,
        actor_name: row.get_text_opt("actor_name")?,
        from_state: state_of(row.get_small("from_state")?)?,
        to_state: state_of(row.get_small("to_state")?)?,
        note: row.get_text("note")?,
        metrics: parse_metrics(row.get_text_opt("metrics")?.as_deref())?,
    })
}

/// The WHERE clause choosing a target's units (as `u`); binds go into `params`.
fn target_sql(backend: Backend, target: &TargetFilter<'_>, params: &mut Vec<Param>) -> String {
    let mut clauses = vec![format!(
        "u.path >= {} AND u.path < {}",
        slot(params, target.range.0.as_str().into()),
        slot(params, target.range.1.as_str().into())
    )];
    if !target.kinds.is_empty() {
        let names: Vec<String> = target
            .kinds
            .iter()
            .map(|kind| slot(params, kind.as_str().into()))
            .collect();
        clauses.push(format!("u.kind IN ({})", names.join(", ")));
    }
    for tag in target.tags {
        clauses.push(format!(
            "EXISTS (SELECT 1 FROM unit_tags t WHERE t.unit_id = u.id AND t.tag = {})",
            slot(params, tag.as_str().into())
        ));
    }
    if !target.units.is_empty() {
        let ids: Vec<i64> = target.units.iter().map(|unit| unit.get()).collect();
        let list = slot(params, serde_json::Value::from(ids).to_string().into());
        clauses.push(format!("u.id IN ({})", crate::json_ids(backend, &list)));
    }
    clauses.join(" AND ")
}

/// The posts a target over posts reaches (as `p`, in units `u`), held on `on`.
fn posts_sql(rule: &PostRule, on: Date, params: &mut Vec<Param>) -> String {
    let day = format_date(on);
    let mut clauses = vec![format!(
        "p.start_date <= {day} AND (p.end_date IS NULL OR p.end_date > {day2})",
        day = slot(params, day.clone().into()),
        day2 = slot(params, day.into()),
    )];
    if !rule.roles.is_empty() {
        let roles: Vec<String> = rule
            .roles
            .iter()
            .map(|role| slot(params, role.as_str().into()))
            .collect();
        clauses.push(format!("p.role IN ({})", roles.join(", ")));
    }
    if !rule.titles.is_empty() {
        let titles: Vec<String> = rule
            .titles
            .iter()
            .map(|title| slot(params, title.to_lowercase().into()))
            .collect();
        clauses.push(format!("LOWER(p.title) IN ({})", titles.join(", ")));
    }
    clauses.join(" AND ")
}

impl Store {
    pub async fn item(&self, id: ItemId) -> Result<Option<ItemRow>, StoreError> {
        let sql = format!("SELECT {ITEM_COLUMNS} FROM items i WHERE i.id = $1");
        let row = sqlx::query(&sql)
            .bind(id.get())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(item_from_row).transpose()
    }

    /// The items of a source at one unit, by id.
    pub async fn items_at(
        &self,
        source: SourceRef<'_>,
        unit: UnitId,
    ) -> Result<Vec<ItemRow>, StoreError> {
        let sql = format!(
            "SELECT {ITEM_COLUMNS} FROM items i WHERE i.kind = $1 AND i.source_id = $2 \
             AND i.period = $3 AND i.unit_id = $4 ORDER BY i.id"
        );
        let rows = sqlx::query(&sql)
            .bind(source.kind.as_str())
            .bind(source.source)
            .bind(source.period)
            .bind(unit.get())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(item_from_row).collect()
    }

    /// Every item of a source, as the read model keeps it, one at a time.
    pub async fn for_each_item_of(
        &self,
        source: SourceRef<'_>,
        each: impl FnMut(ItemEntryRow),
    ) -> Result<(), StoreError> {
        let mut connection = self.pool.acquire().await?;
        for_each_item(&mut connection, source, each).await
    }

    /// How many units a target reaches (the preview of an issue).
    pub async fn count_targets(&self, target: &TargetFilter<'_>) -> Result<u64, StoreError> {
        let mut params = Vec::new();
        let where_sql = target_sql(self.backend, target, &mut params);
        let sql = match (target.posts, target.on) {
            (Some(rule), Some(on)) => format!(
                "SELECT COUNT(*) FROM posts p JOIN units u ON u.id = p.unit_id \
                 WHERE {where_sql} AND {}",
                posts_sql(rule, on, &mut params)
            ),
            _ => format!("SELECT COUNT(*) FROM units u WHERE {where_sql}"),
        };
        // A transaction that is dropped unfinished: it only reads.
        let mut reading = self.pool.begin().await?;
        let counts = reading.fetch(&sql, params, |row| row.int(0)).await?;
        Ok(counts.first().copied().unwrap_or(0) as u64)
    }

    /// Whether a source has an item anywhere in a path range.
    pub async fn has_item_in(
        &self,
        source: SourceRef<'_>,
        range: &(String, String),
    ) -> Result<bool, StoreError> {
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT i.id FROM items i JOIN units u ON u.id = i.unit_id \
             WHERE i.kind = $1 AND i.source_id = $2 AND i.period = $3 \
             AND u.path >= $4 AND u.path < $5 LIMIT 1",
        )
        .bind(source.kind.as_str())
        .bind(source.source)
        .bind(source.period)
        .bind(range.0.as_str())
        .bind(range.1.as_str())
        .fetch_optional(&self.pool)
        .await?;
        Ok(found.is_some())
    }

    pub async fn item_events(&self, item: ItemId) -> Result<Vec<ItemEventRow>, StoreError> {
        let sql =
            format!("SELECT {EVENT_COLUMNS} FROM item_events e WHERE e.item_id = $1 ORDER BY e.id");
        let rows = sqlx::query(&sql)
            .bind(item.get())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(event_from_row).collect()
    }

    /// A unit's own items of issued directives (of every kind), newest directive first,
    /// after the cursor (a directive id), with their directives.
    /// Only the items in one of `states` (of their kind) when any is given.
    pub async fn items_of_unit(
        &self,
        unit: UnitId,
        states: &[(Kind, StateId)],
        before_directive: Option<i64>,
        limit: u32,
    ) -> Result<Vec<(ItemRow, DirectiveRow)>, StoreError> {
        let directive_columns = prefixed(DIRECTIVE_COLUMNS, "d", "d_");
        let mut sql = format!(
            "SELECT {ITEM_COLUMNS}, {directive_columns} FROM items i \
             JOIN directives d ON d.id = i.source_id AND d.kind = i.kind \
             WHERE i.unit_id = $1 AND d.state = 'issued' AND d.id < $2"
        );
        let mut binds: Vec<(String, i32)> = Vec::new();
        if !states.is_empty() {
            let clauses: Vec<String> = states
                .iter()
                .map(|(kind, state)| {
                    binds.push((kind.as_str().to_owned(), i32::from(*state)));
                    let n = 2 + binds.len() * 2;
                    format!("(i.kind = ${} AND i.state = ${n})", n - 1)
                })
                .collect();
            sql.push_str(&format!(" AND ({})", clauses.join(" OR ")));
        }
        sql.push_str(&format!(" ORDER BY d.id DESC, i.id LIMIT {limit}"));
        let mut query = sqlx::query(&sql)
            .bind(unit.get())
            .bind(before_directive.unwrap_or(i64::MAX));
        for (kind, state) in binds {
            query = query.bind(kind).bind(state);
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|row| {
                Ok((
                    item_from_row(row)?,
                    crate::directives::directive_from_row(&Prefixed { row, prefix: "d_" })?,
                ))
            })
            .collect()
    }

    /// Per day and move `(day, from, to, count)` of a source's items inside the path
    /// range: what a series of counts over time is made from.
    pub async fn daily_moves(
        &self,
        source: SourceRef<'_>,
        range: &(String, String),
    ) -> Result<Vec<(Date, StateId, StateId, u64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT substr(e.at, 1, 10) AS day, CAST(e.from_state AS INTEGER) AS from_state, \
             CAST(e.to_state AS INTEGER) AS to_state, COUNT(*) AS moves FROM item_events e \
             JOIN items i ON i.id = e.item_id JOIN units u ON u.id = i.unit_id \
             WHERE e.kind = $1 AND e.source_id = $2 AND i.period = $3 \
             AND u.path >= $4 AND u.path < $5 GROUP BY 1, 2, 3 ORDER BY 1",
        )
        .bind(source.kind.as_str())
        .bind(source.source)
        .bind(source.period)
        .bind(range.0.as_str())
        .bind(range.1.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let day: String = row.try_get("day")?;
                Ok((
                    parse_date(&day)?,
                    state_of(row.try_get("from_state")?)?,
                    state_of(row.try_get("to_state")?)?,
                    row.try_get::<i64, _>("moves")? as u64,
                ))
            })
            .collect()
    }
}

/// A directive's columns renamed with a prefix, to be read beside an item's.
fn prefixed(columns: &str, table: &str, prefix: &str) -> String {
    columns
        .split(", ")
        .map(|column| format!("{table}.{column} AS {prefix}{column}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A row read through column names with a prefix.
struct Prefixed<'r, R: Cells + ?Sized> {
    row: &'r R,
    prefix: &'static str,
}

impl<R: Cells + ?Sized> Prefixed<'_, R> {
    fn name(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }
}

impl<R: Cells + ?Sized> Cells for Prefixed<'_, R> {
    fn get_int(&self, name: &str) -> Result<i64, StoreError> {
        self.row.get_int(&self.name(name))
    }
    fn get_small(&self, name: &str) -> Result<i32, StoreError> {
        self.row.get_small(&self.name(name))
    }
    fn get_int_opt(&self, name: &str) -> Result<Option<i64>, StoreError> {
        self.row.get_int_opt(&self.name(name))
    }
    fn get_real_opt(&self, name: &str) -> Result<Option<f64>, StoreError> {
        self.row.get_real_opt(&self.name(name))
    }
    fn get_text(&self, name: &str) -> Result<String, StoreError> {
        self.row.get_text(&self.name(name))
    }
    fn get_text_opt(&self, name: &str) -> Result<Option<String>, StoreError> {
        self.row.get_text_opt(&self.name(name))
    }
    fn int(&self, index: usize) -> Result<i64, StoreError> {
        self.row.int(index)
    }
    fn int_opt(&self, index: usize) -> Result<Option<i64>, StoreError> {
        self.row.int_opt(index)
    }
    fn text(&self, index: usize) -> Result<String, StoreError> {
        self.row.text(index)
    }
    fn text_opt(&self, index: usize) -> Result<Option<String>, StoreError> {
        self.row.text_opt(index)
    }
}

async fn for_each_item(
    connection: &mut sqlx::AnyConnection,
    source: SourceRef<'_>,
    mut each: impl FnMut(ItemEntryRow),
) -> Result<(), StoreError> {
    let mut rows = sqlx::query::<Any>(
        "SELECT id, unit_id, CAST(state AS INTEGER) AS state, metrics, due, due_at, done_at \
         FROM items WHERE kind = $1 AND source_id = $2 AND period = $3",
    )
    .bind(source.kind.as_str())
    .bind(source.source)
    .bind(source.period)
    .fetch(&mut *connection);
    while let Some(row) = rows.try_next().await? {
        let metrics: Option<String> = row.try_get("metrics")?;
        let due: Option<String> = row.try_get("due")?;
        each(ItemEntryRow {
            id: ItemId::new(row.try_get("id")?).ok_or_else(|| corrupt("item id"))?,
            unit: unit_id(row.try_get("unit_id")?, "unit")?,
            state: state_of(row.try_get("state")?)?,
            metrics: parse_metrics(metrics.as_deref())?,
            due: due.as_deref().map(parse_date).transpose()?,
            due_at: row.try_get("due_at")?,
            done_at: row.try_get("done_at")?,
        });
    }
    Ok(())
}

impl WriteTx {
    pub async fn item(&mut self, id: ItemId) -> Result<Option<ItemRow>, StoreError> {
        let sql = format!("SELECT {ITEM_COLUMNS} FROM items i WHERE i.id = $1");
        let row = sqlx::query(&sql)
            .bind(id.get())
            .fetch_optional(&mut *self.tx)
            .await?;
        row.as_ref().map(item_from_row).transpose()
    }

    /// Every item of a source as this write sees it: a load that no other write can
    /// overtake, since writes are serialized.
    pub async fn for_each_item_of(
        &mut self,
        source: SourceRef<'_>,
        each: impl FnMut(ItemEntryRow),
    ) -> Result<(), StoreError> {
        for_each_item(&mut self.tx, source, each).await
    }

    /// The id the next item added will have; ids after it follow one by one. Items are
    /// only added under the write lock, so nobody takes them meanwhile.
    pub async fn next_item_id(&mut self) -> Result<i64, StoreError> {
        let last: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM items")
            .fetch_one(&mut *self.tx)
            .await?;
        Ok(last.unwrap_or(0) + 1)
    }

    /// Conveys a source to every unit its target reaches that does not hold an item of
    /// it yet (or, over posts, to every person who does not), in one statement. Items
    /// are numbered from [`WriteTx::next_item_id`] in tree order, so that whoever knows
    /// the units reached knows the items too. Returns the first id and how many.
    pub async fn convey(
        &mut self,
        source: SourceRef<'_>,
        target: &TargetFilter<'_>,
        due: Option<Date>,
        at: &str,
    ) -> Result<(i64, u64), StoreError> {
        let first = self.next_item_id().await?;
        let mut params = Vec::new();
        let kind = slot(&mut params, source.kind.as_str().into());
        let source_id = slot(&mut params, source.source.into());
        let period = slot(&mut params, source.period.into());
        let initial = source.kind.workflow().initial;
        let due = slot(&mut params, due.map(format_date).into());
        let at = slot(&mut params, at.into());
        let base = slot(&mut params, (first - 1).into());
        let where_sql = target_sql(self.backend, target, &mut params);
        let sql = match (target.posts, target.on) {
            (Some(rule), Some(on)) => format!(
                "INSERT INTO items (id, kind, source_id, period, unit_id, person_id, state, due, \
                 created_at, updated_at) \
                 SELECT {base} + ROW_NUMBER() OVER (ORDER BY u.path, p.person_id), {kind}, \
                 {source_id}, {period}, u.id, p.person_id, {initial}, {due}, {at}, {at} \
                 FROM (SELECT DISTINCT p.unit_id, p.person_id FROM posts p \
                       JOIN units u ON u.id = p.unit_id WHERE {where_sql} AND {posts} \
                       AND NOT EXISTS (SELECT 1 FROM items o WHERE o.kind = {kind} \
                           AND o.source_id = {source_id} AND o.period = {period} \
                           AND o.person_id = p.person_id)) p \
                 JOIN units u ON u.id = p.unit_id",
                posts = posts_sql(rule, on, &mut params),
            ),
            _ => format!(
                "INSERT INTO items (id, kind, source_id, period, unit_id, state, due, created_at, \
                 updated_at) \
                 SELECT {base} + ROW_NUMBER() OVER (ORDER BY u.path), {kind}, {source_id}, \
                 {period}, u.id, {initial}, {due}, {at}, {at} FROM units u \
                 WHERE {where_sql} AND NOT EXISTS (SELECT 1 FROM items o WHERE o.kind = {kind} \
                     AND o.source_id = {source_id} AND o.period = {period} AND o.unit_id = u.id)"
            ),
        };
        let created = self.tx.execute(&sql, params).await?;
        self.advance_item_ids().await?;
        Ok((first, created))
    }

    /// The items of a source, `(id, unit, person)`, by id.
    pub async fn conveyed(
        &mut self,
        source: SourceRef<'_>,
        from_id: i64,
    ) -> Result<Vec<(ItemId, UnitId, Option<PersonId>)>, StoreError> {
        let mut rows = sqlx::query::<Any>(
            "SELECT id, unit_id, person_id FROM items WHERE kind = $1 AND source_id = $2 \
             AND period = $3 AND id >= $4 ORDER BY id",
        )
        .bind(source.kind.as_str())
        .bind(source.source)
        .bind(source.period)
        .bind(from_id)
        .fetch(&mut *self.tx);
        let mut found = Vec::new();
        while let Some(row) = rows.try_next().await? {
            found.push((
                ItemId::new(row.try_get("id")?).ok_or_else(|| corrupt("item id"))?,
                unit_id(row.try_get("unit_id")?, "unit")?,
                row.try_get::<Option<i64>, _>("person_id")?
                    .and_then(PersonId::new),
            ));
        }
        Ok(found)
    }

    /// Adds items with the ids allotted them, in one statement (or one per item where a
    /// statement is cheap).
    pub async fn insert_items(
        &mut self,
        source: SourceRef<'_>,
        items: &[NewItem],
        at: &str,
    ) -> Result<(), StoreError> {
        const COLUMNS: crate::exec::Columns<'static> = &[
            ("id", "BIGINT"),
            ("kind", "TEXT"),
            ("source_id", "BIGINT"),
            ("period", "TEXT"),
            ("unit_id", "BIGINT"),
            ("person_id", "BIGINT"),
            ("state", "INTEGER"),
            ("metrics", "TEXT"),
            ("due", "TEXT"),
            ("due_at", "TEXT"),
            ("created_at", "TEXT"),
            ("updated_at", "TEXT"),
        ];
        let rows = items
            .iter()
            .map(|item| {
                vec![
                    item.id.get().into(),
                    source.kind.as_str().into(),
                    source.source.into(),
                    source.period.into(),
                    item.unit.get().into(),
                    item.person.map(PersonId::get).into(),
                    item.state.into(),
                    metrics_text(&item.metrics).into(),
                    item.due.map(format_date).into(),
                    item.due_at.clone().into(),
                    at.into(),
                    at.into(),
                ]
            })
            .collect();
        let backend = self.backend;
        self.tx
            .write_rows(
                backend,
                crate::exec::RowWrite::Insert("items"),
                COLUMNS,
                rows,
            )
            .await?;
        self.advance_item_ids().await
    }

    /// Tells PostgreSQL's id generator where the items' ids go on, after ids were
    /// given explicitly.
    async fn advance_item_ids(&mut self) -> Result<(), StoreError> {
        if self.backend == Backend::Postgres {
            sqlx::query(
                "SELECT setval(pg_get_serial_sequence('items', 'id'), \
                 (SELECT COALESCE(MAX(id), 0) + 1 FROM items), false)",
            )
            .execute(&mut *self.tx)
            .await?;
        }
        Ok(())
    }
}
