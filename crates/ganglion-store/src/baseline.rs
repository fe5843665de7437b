//! The naive ways, for the benchmark to measure Ganglion's ways against on the same
//! data: a raw conveyance, roll-ups asked of the database, and plain durable updates.
//! Nothing in the product calls these.

use ganglion_core::{DirectiveId, ItemId, UnitId};
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
             SELECT CAST(a.state AS INTEGER), COUNT(*) FROM subtree s CROSS JOIN items a \
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
            "SELECT CAST(a.state AS INTEGER), COUNT(*) FROM units u CROSS JOIN items a \
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

fn counts(rows: &[sqlx::any::AnyRow]) -> Result<[u64; 6], StoreError> {
    let mut counts = [0u64; 6];
    for row in rows {
        let state: i32 = row.try_get(0)?;
        let count: i64 = row.try_get(1)?;
        if let Some(slot) = usize::try_from(state).ok().and_then(|s| counts.get_mut(s)) {
            *slot = count as u64;
        }
    }
    Ok(counts)
}
