//! The naive ways, for the benchmark to measure Ganglion's ways against on the same
//! data: a raw conveyance, roll-ups asked of the database, and plain durable updates.
//! Nothing in the product calls these.

use ganglion_core::{DirectiveId, ItemId, Kind, UnitId};
use sqlx::Row;

use crate::{Store, StoreError};

impl Store {
    /// Conveys `directive` to every unit of a path range with a bare `INSERT …
    /// SELECT` in its own transaction, letting the database number the items.
    pub async fn baseline_convey(
        &self,
        directive: DirectiveId,
        range: &(String, String),
        at: &str,
    ) -> Result<u64, StoreError> {
        let mut tx = self.write().await?;
        let created = sqlx::query(
            "INSERT INTO items (kind, source_id, unit_id, state, created_at, updated_at) \
             SELECT 'directive', $1, u.id, 0, $2, $2 FROM units u \
             WHERE u.path >= $3 AND u.path < $4",
        )
        .bind(directive.get())
        .bind(at)
        .bind(range.0.as_str())
        .bind(range.1.as_str())
        .execute(&mut *tx.tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(created)
    }

    /// Counts per state of a directive's assignments under `unit`, finding the subtree
    /// with a recursive query over `parent_id`.
    pub async fn baseline_rollup_recursive(
        &self,
        directive: DirectiveId,
        unit: UnitId,
    ) -> Result<[u64; 6], StoreError> {
        let rows = sqlx::query(
            // The subtree first (SQLite keeps a CROSS JOIN's order), then each unit's
            // assignment by (directive, unit): a subtree's CTE has no index to probe.
            "WITH RECURSIVE subtree(id) AS ( \
               SELECT id FROM units WHERE id = $2 \
               UNION ALL SELECT u.id FROM units u JOIN subtree s ON u.parent_id = s.id) \
             SELECT CAST(a.state AS INTEGER) AS state, COUNT(*) AS count FROM subtree s CROSS JOIN items a \
             WHERE a.unit_id = s.id AND a.kind = 'directive' AND a.source_id = $1 \
             GROUP BY a.state",
        )
        // Planned afresh for each unit: PostgreSQL would otherwise settle on one plan
        // for the root's million units and the county's thousands alike.
        .persistent(false)
        .bind(directive.get())
        .bind(unit.get())
        .fetch_all(&self.pool)
        .await?;
        counts(&rows)
    }

    /// The same counts through the stored path ranges: the best a query can do.
    pub async fn baseline_rollup_interval(
        &self,
        directive: DirectiveId,
        range: &(String, String),
    ) -> Result<[u64; 6], StoreError> {
        let rows = sqlx::query(
            // Units first (SQLite keeps a CROSS JOIN's order): the range is read from
            // the path index, then each unit's assignment by (directive, unit).
            "SELECT CAST(a.state AS INTEGER) AS state, COUNT(*) AS count FROM units u CROSS JOIN items a \
             WHERE a.unit_id = u.id AND a.kind = 'directive' AND a.source_id = $1 \
             AND u.path >= $2 AND u.path < $3 GROUP BY a.state",
        )
        .persistent(false)
        .bind(directive.get())
        .bind(range.0.as_str())
        .bind(range.1.as_str())
        .fetch_all(&self.pool)
        .await?;
        counts(&rows)
    }

    /// One durable single-row update, committed on its own.
    pub async fn baseline_update(&self, item: ItemId, state: u8) -> Result<(), StoreError> {
        sqlx::query("UPDATE items SET state = $2 WHERE id = $1")
            .bind(item.get())
            .bind(i32::from(state))
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

impl Store {
    /// Spreads the items of these kinds over `states` states (by id), as if worked:
    /// setting up a benchmark, not a way of the product.
    pub async fn baseline_scatter_states(
        &self,
        kinds: &[&str],
        states: i64,
        seed: i64,
    ) -> Result<(), StoreError> {
        for kind in kinds {
            let done = Kind::parse(kind).map_or(-1, |kind| {
                (0..kind.workflow().states.len() as u8)
                    .find(|state| kind.workflow().is_done(*state))
                    .map_or(-1, i64::from)
            });
            sqlx::query(
                "UPDATE items SET state = (id * $2) % $3, \
                 done_at = CASE WHEN (id * $2) % $3 = $4 THEN updated_at END WHERE kind = $1",
            )
            .bind(*kind)
            .bind(seed)
            .bind(states)
            .bind(done)
            .execute(&self.pool)
            .await?;
        }
        Ok(())
    }

    /// A programme's projects under a path range, counted per year and state with
    /// `GROUP BY`: `(year, state, count)`.
    pub async fn baseline_programme_progress(
        &self,
        programme: i64,
        range: &(String, String),
    ) -> Result<Vec<(i64, i64, u64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT p.year AS year, CAST(i.state AS INTEGER) AS state, COUNT(*) AS count FROM projects p \
             JOIN items i ON i.id = p.item_id JOIN units u ON u.id = i.unit_id \
             WHERE p.programme_id = $1 AND u.path >= $2 AND u.path < $3 \
             GROUP BY p.year, i.state",
        )
        .persistent(false)
        .bind(programme)
        .bind(range.0.as_str())
        .bind(range.1.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let year: i64 = row.try_get("year")?;
                let state: i32 = row.try_get("state")?;
                let count: i64 = row.try_get("count")?;
                Ok((year, i64::from(state), count as u64))
            })
            .collect()
    }

    /// What is overdue on `today` under a path range, the plain way: counted by kind,
    /// and the `first` most overdue listed. Returns the count and how many were listed.
    pub async fn baseline_attention(
        &self,
        range: &(String, String),
        today: &str,
        first: u32,
    ) -> Result<(u64, usize), StoreError> {
        let from = "FROM items i JOIN units u ON u.id = i.unit_id \
             JOIN directives d ON d.id = i.source_id AND d.kind = i.kind \
             WHERE u.path >= $1 AND u.path < $2 AND d.state = 'issued' \
             AND i.done_at IS NULL AND i.due < $3";
        let counts = sqlx::query(&format!(
            "SELECT i.kind AS kind, COUNT(*) AS count {from} GROUP BY i.kind"
        ))
        .persistent(false)
        .bind(range.0.as_str())
        .bind(range.1.as_str())
        .bind(today)
        .fetch_all(&self.pool)
        .await?;
        let mut total = 0u64;
        for row in &counts {
            let count: i64 = row.try_get("count")?;
            total += count as u64;
        }
        if first == 0 {
            return Ok((total, 0));
        }
        let listed = sqlx::query(&format!(
            "SELECT i.id, i.due, d.title, u.name {from} ORDER BY i.due, i.id LIMIT {first}"
        ))
        .persistent(false)
        .bind(range.0.as_str())
        .bind(range.1.as_str())
        .bind(today)
        .fetch_all(&self.pool)
        .await?;
        Ok((total, listed.len()))
    }
}

fn counts(rows: &[sqlx::any::AnyRow]) -> Result<[u64; 6], StoreError> {
    let mut counts = [0u64; 6];
    for row in rows {
        let state: i32 = row.try_get("state")?;
        let count: i64 = row.try_get("count")?;
        if let Some(slot) = usize::try_from(state).ok().and_then(|s| counts.get_mut(s)) {
            *slot = count as u64;
        }
    }
    Ok(counts)
}
