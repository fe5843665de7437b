//! The units table. Everything "under" a unit is found through `path`, a string range
//! scan on a unique index; ids are allocated by the writer, which holds the tree lock.

use futures::TryStreamExt;
use ganglion_core::UnitId;
use sqlx::any::AnyRow;
use sqlx::{Any, Row};

use crate::{ReadTx, Store, StoreError, WriteTx};

/// A unit as stored. To insert one, the caller decides its id, depth and path;
/// `parent_code` is read back from the parent and ignored on insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitRow {
    pub id: UnitId,
    pub parent: Option<UnitId>,
    pub parent_code: Option<String>,
    pub kind: String,
    pub name: String,
    pub code: String,
    /// `;`-separated, sorted, as `Tags::to_list` writes them.
    pub tags: String,
    pub depth: u32,
    pub path: String,
}

impl UnitRow {
    /// The smallest path that is not under this unit: every path under it lies in
    /// `[self.path, self.subtree_end())`. Paths end with '/', and '0' follows '/'.
    pub fn subtree_end(&self) -> String {
        let mut end = self.path.clone();
        end.pop();
        end.push('0');
        end
    }

    /// The range holding exactly this unit's path and nothing under it.
    pub fn own_range(&self) -> (String, String) {
        (self.path.clone(), format!("{}0", self.path))
    }

    /// The range of this unit's whole subtree.
    pub fn subtree_range(&self) -> (String, String) {
        (self.path.clone(), self.subtree_end())
    }

    /// The path of a child of this unit with the given id.
    pub fn child_path(&self, child: UnitId) -> String {
        child_path(&self.path, child)
    }
}

/// The path of the unit `child` under the unit whose path is `parent_path`.
pub fn child_path(parent_path: &str, child: UnitId) -> String {
    format!("{parent_path}{}", path_segment(child))
}

/// The path of a unit at the top of the tree.
pub fn root_path(id: UnitId) -> String {
    format!("/{}", path_segment(id))
}

/// Seven base-36 digits and a slash: fixed width, so that paths sort siblings by id and
/// the order of paths is the pre-order of the tree index.
fn path_segment(id: UnitId) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut value = id.get() as u64;
    let mut segment = [b'0'; 8];
    segment[7] = b'/';
    for place in (0..7).rev() {
        segment[place] = DIGITS[(value % 36) as usize];
        value /= 36;
    }
    String::from_utf8_lossy(&segment).into_owned()
}

/// Which units a listing wants. Every filter narrows; `after_path` is the cursor.
#[derive(Debug, Clone, Default)]
pub struct UnitFilter {
    /// Only units in this path range (a subtree, the unit itself included).
    pub path_range: Option<(String, String)>,
    pub parent: Option<UnitId>,
    pub kind: Option<String>,
    pub tag: Option<String>,
    /// Matched case-insensitively against the name and the code.
    pub text: Option<String>,
    pub after_path: Option<String>,
    /// Only units inside one of these path ranges: what the caller may see. `None` for
    /// no restriction.
    pub visible: Option<Vec<(String, String)>>,
}

/// The columns every unit query reads, `u` being the unit and `p` its parent.
const UNIT_COLUMNS: &str =
    "u.id AS id, u.parent_id AS parent_id, u.kind AS kind, u.name AS name, u.code AS code, \
     u.tags AS tags, u.depth AS depth, u.path AS path, p.code AS parent_code";
const UNIT_FROM: &str = "units u LEFT JOIN units p ON p.id = u.parent_id";

fn unit_from_row(row: &AnyRow) -> Result<UnitRow, sqlx::Error> {
    let id: i64 = row.try_get("id")?;
    let parent: Option<i64> = row.try_get("parent_id")?;
    let depth: i32 = row.try_get("depth")?;
    let corrupt = |what: &str| sqlx::Error::Decode(format!("stored unit has a bad {what}").into());
    Ok(UnitRow {
        id: UnitId::new(id).ok_or_else(|| corrupt("id"))?,
        parent: match parent {
            Some(raw) => Some(UnitId::new(raw).ok_or_else(|| corrupt("parent"))?),
            None => None,
        },
        kind: row.try_get("kind")?,
        name: row.try_get("name")?,
        code: row.try_get("code")?,
        tags: row.try_get("tags")?,
        depth: u32::try_from(depth).map_err(|_| corrupt("depth"))?,
        path: row.try_get("path")?,
        parent_code: row.try_get("parent_code")?,
    })
}

/// `((u.path >= $a AND u.path < $b) OR …)`: units inside any of the ranges, and none
/// when there are no ranges. `placeholder` records a value and names its placeholder.
pub(crate) fn any_range_sql(
    ranges: &[(String, String)],
    mut placeholder: impl FnMut(String) -> String,
) -> String {
    let any: Vec<String> = ranges
        .iter()
        .map(|(start, end)| {
            let a = placeholder(start.clone());
            let b = placeholder(end.clone());
            format!("(u.path >= {a} AND u.path < {b})")
        })
        .collect();
    if any.is_empty() {
        "1 = 0".into()
    } else {
        format!("({})", any.join(" OR "))
    }
}

/// Escapes LIKE's wildcards; queries use `ESCAPE '\'`.
pub(crate) fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

enum Param {
    Int(i64),
    Text(String),
}

/// Builds the WHERE clause of a listing with numbered placeholders.
fn filter_sql(filter: &UnitFilter) -> (String, Vec<Param>) {
    let mut clauses = Vec::new();
    let mut params = Vec::new();
    let next = |param: Param, params: &mut Vec<Param>| {
        params.push(param);
        format!("${}", params.len())
    };
    if let Some((start, end)) = &filter.path_range {
        let a = next(Param::Text(start.clone()), &mut params);
        let b = next(Param::Text(end.clone()), &mut params);
        clauses.push(format!("u.path >= {a} AND u.path < {b}"));
    }
    if let Some(parent) = filter.parent {
        let p = next(Param::Int(parent.get()), &mut params);
        clauses.push(format!("u.parent_id = {p}"));
    }
    if let Some(kind) = &filter.kind {
        let p = next(Param::Text(kind.clone()), &mut params);
        clauses.push(format!("u.kind = {p}"));
    }
    if let Some(tag) = &filter.tag {
        let p = next(Param::Text(tag.clone()), &mut params);
        clauses.push(format!(
            "EXISTS (SELECT 1 FROM unit_tags t WHERE t.tag = {p} AND t.unit_id = u.id)"
        ));
    }
    if let Some(text) = &filter.text {
        let escaped = escape_like(&text.to_lowercase());
        let p = next(Param::Text(format!("%{escaped}%")), &mut params);
        clauses.push(format!(
            "(lower(u.name) LIKE {p} ESCAPE '\\' OR lower(u.code) LIKE {p} ESCAPE '\\')"
        ));
    }
    if let Some(ranges) = &filter.visible {
        clauses.push(any_range_sql(ranges, |value| {
            next(Param::Text(value), &mut params)
        }));
    }
    if let Some(after) = &filter.after_path {
        let p = next(Param::Text(after.clone()), &mut params);
        clauses.push(format!("u.path > {p}"));
    }
    let sql = if clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", clauses.join(" AND "))
    };
    (sql, params)
}

fn bind_all<'q>(
    mut query: sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>,
    params: Vec<Param>,
) -> sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>> {
    for param in params {
        query = match param {
            Param::Int(value) => query.bind(value),
            Param::Text(value) => query.bind(value),
        };
    }
    query
}

async fn fetch_unit<'c>(
    executor: impl sqlx::Executor<'c, Database = Any>,
    id: UnitId,
) -> Result<Option<UnitRow>, StoreError> {
    let sql = format!("SELECT {UNIT_COLUMNS} FROM {UNIT_FROM} WHERE u.id = $1");
    let row = sqlx::query(&sql)
        .bind(id.get())
        .fetch_optional(executor)
        .await?;
    Ok(row.as_ref().map(unit_from_row).transpose()?)
}

async fn fetch_units<'c>(
    executor: impl sqlx::Executor<'c, Database = Any>,
    filter: &UnitFilter,
    limit: u32,
) -> Result<Vec<UnitRow>, StoreError> {
    let (where_sql, params) = filter_sql(filter);
    let sql =
        format!("SELECT {UNIT_COLUMNS} FROM {UNIT_FROM} {where_sql} ORDER BY u.path LIMIT {limit}");
    let rows = bind_all(sqlx::query(&sql), params)
        .fetch_all(executor)
        .await?;
    Ok(rows.iter().map(unit_from_row).collect::<Result<_, _>>()?)
}

impl Store {
    pub async fn unit(&self, id: UnitId) -> Result<Option<UnitRow>, StoreError> {
        fetch_unit(&self.pool, id).await
    }

    pub async fn unit_by_code(&self, code: &str) -> Result<Option<UnitRow>, StoreError> {
        let sql = format!("SELECT {UNIT_COLUMNS} FROM {UNIT_FROM} WHERE u.code = $1");
        let row = sqlx::query(&sql)
            .bind(code)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(unit_from_row).transpose()?)
    }

    /// Up to `limit` units matching the filter, in path order (the tree's pre-order).
    pub async fn units(&self, filter: &UnitFilter, limit: u32) -> Result<Vec<UnitRow>, StoreError> {
        fetch_units(&self.pool, filter, limit).await
    }

    /// Every `(unit, parent)` pair, for building the tree index at start.
    pub async fn unit_edges(&self) -> Result<Vec<(UnitId, Option<UnitId>)>, StoreError> {
        let mut rows = sqlx::query("SELECT id, parent_id FROM units").fetch(&self.pool);
        let mut edges = Vec::new();
        while let Some(row) = rows.try_next().await? {
            let id: i64 = row.try_get("id")?;
            let parent: Option<i64> = row.try_get("parent_id")?;
            if let Some(id) = UnitId::new(id) {
                edges.push((id, parent.and_then(UnitId::new)));
            }
        }
        Ok(edges)
    }

    /// Every unit's id, parent, name and code, for the tree index.
    pub async fn unit_labels(
        &self,
    ) -> Result<Vec<(UnitId, Option<UnitId>, String, String)>, StoreError> {
        let mut rows = sqlx::query("SELECT id, parent_id, name, code FROM units").fetch(&self.pool);
        let mut units = Vec::new();
        while let Some(row) = rows.try_next().await? {
            let id: i64 = row.try_get("id")?;
            let parent: Option<i64> = row.try_get("parent_id")?;
            if let Some(id) = UnitId::new(id) {
                units.push((
                    id,
                    parent.and_then(UnitId::new),
                    row.try_get("name")?,
                    row.try_get("code")?,
                ));
            }
        }
        Ok(units)
    }

    /// The stored units among `codes`.
    pub async fn units_by_codes(&self, codes: &[&str]) -> Result<Vec<UnitRow>, StoreError> {
        let mut connection = self.pool.acquire().await?;
        fetch_units_by_codes(&mut connection, codes).await
    }

    /// The stored units among `ids`, in no particular order.
    pub async fn units_by_ids(&self, ids: &[UnitId]) -> Result<Vec<UnitRow>, StoreError> {
        let mut found = Vec::with_capacity(ids.len());
        // Short statements: SQLite finds a numbered parameter by a linear search.
        for chunk in ids.chunks(100) {
            let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT {UNIT_COLUMNS} FROM {UNIT_FROM} WHERE u.id IN ({})",
                placeholders.join(", ")
            );
            let mut query = sqlx::query(&sql);
            for id in chunk {
                query = query.bind(id.get());
            }
            for row in query.fetch_all(&self.pool).await? {
                found.push(unit_from_row(&row)?);
            }
        }
        Ok(found)
    }

    pub async fn unit_count(&self) -> Result<u64, StoreError> {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM units")
            .fetch_one(&self.pool)
            .await?;
        Ok(count as u64)
    }
}

impl ReadTx {
    pub async fn unit(&mut self, id: UnitId) -> Result<Option<UnitRow>, StoreError> {
        fetch_unit(&mut *self.tx, id).await
    }

    pub async fn units(
        &mut self,
        filter: &UnitFilter,
        limit: u32,
    ) -> Result<Vec<UnitRow>, StoreError> {
        fetch_units(&mut *self.tx, filter, limit).await
    }
}

async fn fetch_units_by_codes(
    connection: &mut sqlx::AnyConnection,
    codes: &[&str],
) -> Result<Vec<UnitRow>, StoreError> {
    let mut found = Vec::new();
    for chunk in codes.chunks(500) {
        let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT {UNIT_COLUMNS} FROM {UNIT_FROM} WHERE u.code IN ({})",
            placeholders.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for code in chunk {
            query = query.bind(*code);
        }
        for row in query.fetch_all(&mut *connection).await? {
            found.push(unit_from_row(&row)?);
        }
    }
    Ok(found)
}

impl WriteTx {
    pub async fn unit(&mut self, id: UnitId) -> Result<Option<UnitRow>, StoreError> {
        fetch_unit(&mut *self.tx, id).await
    }

    /// The stored units among `codes`, for checking references and duplicates in bulk.
    pub async fn units_by_codes(&mut self, codes: &[&str]) -> Result<Vec<UnitRow>, StoreError> {
        fetch_units_by_codes(&mut self.tx, codes).await
    }

    /// The first of a run of fresh unit ids: every id from it upwards is free. Callers
    /// hold the tree lock (see [`Store::write`]), so no other writer can take them.
    pub async fn first_free_unit_id(&mut self) -> Result<i64, StoreError> {
        let max: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM units")
            .fetch_one(&mut *self.tx)
            .await?;
        Ok(max.unwrap_or(0) + 1)
    }

    /// Inserts units and their tags, many rows per statement.
    pub async fn insert_units(&mut self, units: &[UnitRow]) -> Result<(), StoreError> {
        const ROWS_PER_STATEMENT: usize = 100;
        for chunk in units.chunks(ROWS_PER_STATEMENT) {
            let mut sql = String::from(
                "INSERT INTO units (id, parent_id, kind, name, code, tags, depth, path) VALUES ",
            );
            for row in 0..chunk.len() {
                let base = row * 8;
                if row > 0 {
                    sql.push(',');
                }
                sql.push_str(&format!(
                    "(${},${},${},${},${},${},${},${})",
                    base + 1,
                    base + 2,
                    base + 3,
                    base + 4,
                    base + 5,
                    base + 6,
                    base + 7,
                    base + 8
                ));
            }
            let mut query = sqlx::query(&sql);
            for unit in chunk {
                query = query
                    .bind(unit.id.get())
                    .bind(unit.parent.map(UnitId::get))
                    .bind(unit.kind.as_str())
                    .bind(unit.name.as_str())
                    .bind(unit.code.as_str())
                    .bind(unit.tags.as_str())
                    .bind(unit.depth as i32)
                    .bind(unit.path.as_str());
            }
            query.execute(&mut *self.tx).await?;
        }
        let tags: Vec<(i64, &str)> = units
            .iter()
            .flat_map(|unit| {
                unit.tags
                    .split(';')
                    .filter(|tag| !tag.is_empty())
                    .map(move |tag| (unit.id.get(), tag))
            })
            .collect();
        self.insert_tags(&tags).await
    }

    async fn insert_tags(&mut self, tags: &[(i64, &str)]) -> Result<(), StoreError> {
        for chunk in tags.chunks(200) {
            let values: Vec<String> = (0..chunk.len())
                .map(|row| format!("(${},${})", row * 2 + 1, row * 2 + 2))
                .collect();
            let sql = format!(
                "INSERT INTO unit_tags (unit_id, tag) VALUES {}",
                values.join(",")
            );
            let mut query = sqlx::query(&sql);
            for (unit, tag) in chunk {
                query = query.bind(*unit).bind(*tag);
            }
            query.execute(&mut *self.tx).await?;
        }
        Ok(())
    }

    /// Sets a unit's name and tags.
    pub async fn update_unit(
        &mut self,
        id: UnitId,
        name: &str,
        tags: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE units SET name = $1, tags = $2 WHERE id = $3")
            .bind(name)
            .bind(tags)
            .bind(id.get())
            .execute(&mut *self.tx)
            .await?;
        sqlx::query("DELETE FROM unit_tags WHERE unit_id = $1")
            .bind(id.get())
            .execute(&mut *self.tx)
            .await?;
        let rows: Vec<(i64, &str)> = tags
            .split(';')
            .filter(|tag| !tag.is_empty())
            .map(|tag| (id.get(), tag))
            .collect();
        self.insert_tags(&rows).await
    }

    /// Moves `unit` with its subtree to a new parent: the parent link, then every path
    /// and depth in the subtree, rewritten by prefix.
    pub async fn move_unit(
        &mut self,
        unit: &UnitRow,
        new_parent: Option<&UnitRow>,
    ) -> Result<(), StoreError> {
        let new_path = match new_parent {
            Some(parent) => parent.child_path(unit.id),
            None => root_path(unit.id),
        };
        let new_depth = new_parent.map_or(0, |parent| parent.depth + 1);
        let depth_change = new_depth as i64 - unit.depth as i64;
        sqlx::query("UPDATE units SET parent_id = $1 WHERE id = $2")
            .bind(new_parent.map(|parent| parent.id.get()))
            .bind(unit.id.get())
            .execute(&mut *self.tx)
            .await?;
        // Substring positions are 1-based on both backends.
        sqlx::query(
            "UPDATE units SET path = $1 || substr(path, $2), depth = depth + $3
             WHERE path >= $4 AND path < $5",
        )
        .bind(new_path.as_str())
        .bind(unit.path.len() as i32 + 1)
        .bind(depth_change as i32)
        .bind(unit.path.as_str())
        .bind(unit.subtree_end())
        .execute(&mut *self.tx)
        .await?;
        // The experiences written in the subtree are indexed by the units above them.
        let moved_end = {
            let mut end = new_path.clone();
            end.pop();
            end.push('0');
            end
        };
        self.reindex_experiences_under(&(new_path, moved_end))
            .await?;
        Ok(())
    }

    pub async fn has_children(&mut self, id: UnitId) -> Result<bool, StoreError> {
        let child: Option<i64> =
            sqlx::query_scalar("SELECT id FROM units WHERE parent_id = $1 LIMIT 1")
                .bind(id.get())
                .fetch_optional(&mut *self.tx)
                .await?;
        Ok(child.is_some())
    }

    pub async fn delete_unit(&mut self, id: UnitId) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM unit_tags WHERE unit_id = $1")
            .bind(id.get())
            .execute(&mut *self.tx)
            .await?;
        sqlx::query("DELETE FROM units WHERE id = $1")
            .bind(id.get())
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_sort_in_preorder_with_siblings_by_id() {
        let id = |raw| UnitId::new(raw).unwrap();
        assert_eq!(root_path(id(1)), "/0000001/");
        assert_eq!(root_path(id(36)), "/0000010/");
        let parent = UnitRow {
            id: id(2),
            parent: None,
            parent_code: None,
            kind: "centre".into(),
            name: "c".into(),
            code: "c".into(),
            tags: String::new(),
            depth: 0,
            path: root_path(id(2)),
        };
        let child_9 = parent.child_path(id(9));
        let child_10 = parent.child_path(id(10));
        assert!(parent.path < child_9 && child_9 < child_10);
        assert!(child_10 < parent.subtree_end());
        assert!(root_path(id(3)) >= parent.subtree_end());
    }
}
