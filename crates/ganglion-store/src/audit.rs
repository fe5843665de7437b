//! The audit table: appended to in the transaction of every write, never changed.

use ganglion_core::audit::{AuditEntry, GENESIS_HASH};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::{Store, StoreError, WriteTx};

/// An entry to append; the sequence number and hashes are the store's to set.
#[derive(Debug, Clone)]
pub struct AuditDraft {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub object: String,
    pub unit: Option<i64>,
    pub before_digest: Option<String>,
    pub after_digest: Option<String>,
    pub request_id: String,
}

const AUDIT_COLUMNS: &str = "seq, at, actor, action, object, unit_id, before_digest, after_digest, request_id, prev_hash, hash";

fn entry_from_row(row: &AnyRow) -> Result<AuditEntry, sqlx::Error> {
    Ok(AuditEntry {
        seq: row.try_get(0)?,
        at: row.try_get(1)?,
        actor: row.try_get(2)?,
        action: row.try_get(3)?,
        object: row.try_get(4)?,
        unit: row.try_get(5)?,
        before_digest: row.try_get(6)?,
        after_digest: row.try_get(7)?,
        request_id: row.try_get(8)?,
        prev_hash: row.try_get(9)?,
        hash: row.try_get(10)?,
    })
}

impl WriteTx {
    /// Appends an entry chained to the last one. Writers hold the store's write lock, so
    /// the last entry cannot change under us.
    pub async fn append_audit(&mut self, draft: AuditDraft) -> Result<AuditEntry, StoreError> {
        let mut entries = self.append_audits(vec![draft]).await?;
        entries
            .pop()
            .ok_or(StoreError::Database(sqlx::Error::RowNotFound))
    }

    /// Appends entries in order, each chained to the one before: one lookup of the last
    /// entry and a few multi-row inserts, however many acts a write carries.
    pub async fn append_audits(
        &mut self,
        drafts: Vec<AuditDraft>,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        if drafts.is_empty() {
            return Ok(Vec::new());
        }
        let last = sqlx::query("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut *self.tx)
            .await?;
        let (mut seq, mut prev_hash) = match last {
            Some(row) => (row.try_get::<i64, _>(0)?, row.try_get::<String, _>(1)?),
            None => (0, GENESIS_HASH.to_owned()),
        };
        let mut entries = Vec::with_capacity(drafts.len());
        for draft in drafts {
            seq += 1;
            let mut entry = AuditEntry {
                seq,
                at: draft.at,
                actor: draft.actor,
                action: draft.action,
                object: draft.object,
                unit: draft.unit,
                before_digest: draft.before_digest,
                after_digest: draft.after_digest,
                request_id: draft.request_id,
                prev_hash: prev_hash.clone(),
                hash: String::new(),
            };
            entry.hash = entry.compute_hash(&prev_hash);
            prev_hash.clone_from(&entry.hash);
            entries.push(entry);
        }
        let rows: Vec<serde_json::Value> = entries
            .iter()
            .map(|entry| {
                serde_json::json!({
                    "seq": entry.seq,
                    "at": entry.at,
                    "actor": entry.actor,
                    "action": entry.action,
                    "object": entry.object,
                    "unit_id": entry.unit,
                    "before_digest": entry.before_digest,
                    "after_digest": entry.after_digest,
                    "request_id": entry.request_id,
                    "prev_hash": entry.prev_hash,
                    "hash": entry.hash,
                })
            })
            .collect();
        let sql = format!(
            "INSERT INTO audit ({AUDIT_COLUMNS}) SELECT {AUDIT_COLUMNS} FROM {}",
            crate::json_rows(
                self.backend,
                "$1",
                "e",
                &[
                    ("seq", "BIGINT"),
                    ("at", "TEXT"),
                    ("actor", "TEXT"),
                    ("action", "TEXT"),
                    ("object", "TEXT"),
                    ("unit_id", "BIGINT"),
                    ("before_digest", "TEXT"),
                    ("after_digest", "TEXT"),
                    ("request_id", "TEXT"),
                    ("prev_hash", "TEXT"),
                    ("hash", "TEXT"),
                ],
            )
        );
        sqlx::query(&sql)
            .bind(serde_json::Value::from(rows).to_string())
            .execute(&mut *self.tx)
            .await?;
        Ok(entries)
    }
}

impl Store {
    /// Entries in sequence order after `after_seq`, for verifying the chain page by page.
    pub async fn audit_entries(
        &self,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let sql =
            format!("SELECT {AUDIT_COLUMNS} FROM audit WHERE seq > $1 ORDER BY seq LIMIT {limit}");
        let rows = sqlx::query(&sql)
            .bind(after_seq)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(entry_from_row).collect::<Result<_, _>>()?)
    }

    /// Entries matching the filter, newest first.
    pub async fn audit_about(
        &self,
        filter: &AuditFilter<'_>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let mut clauses = vec!["a.seq < $1".to_owned()];
        // $1 is the sequence bound first; the other values follow it.
        let mut binds: Vec<AuditParam> = Vec::new();
        let mut placeholder = |value: AuditParam| {
            binds.push(value);
            format!("${}", binds.len() + 1)
        };
        if let Some(unit) = filter.unit {
            clauses.push(format!(
                "a.unit_id = {}",
                placeholder(AuditParam::Int(unit))
            ));
        }
        if let Some(prefix) = filter.action_prefix {
            let pattern = format!("{}%", crate::units::escape_like(prefix));
            clauses.push(format!(
                "a.action LIKE {} ESCAPE '\\'",
                placeholder(AuditParam::Text(pattern))
            ));
        }
        if let Some(actor) = filter.actor {
            clauses.push(format!(
                "a.actor = {}",
                placeholder(AuditParam::Text(actor.to_owned()))
            ));
        }
        if let Some(ranges) = filter.ranges {
            clauses.push(crate::units::any_range_sql(ranges, |value| {
                placeholder(AuditParam::Text(value))
            }));
        }
        let columns = AUDIT_COLUMNS
            .split(", ")
            .map(|c| format!("a.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = match filter.ranges {
            // Most of the tree: walk the trail newest first, testing each entry's unit.
            Some(_) if filter.broad => {
                let in_ranges = clauses.pop().unwrap_or_default();
                format!(
                    "SELECT {columns} FROM audit a WHERE {} AND EXISTS \
                     (SELECT 1 FROM units u WHERE u.id = a.unit_id AND {in_ranges}) \
                     ORDER BY a.seq DESC LIMIT {limit}",
                    clauses.join(" AND ")
                )
            }
            // A small part of the tree: walk its units, then their entries.
            Some(_) => format!(
                "SELECT {columns} FROM audit a JOIN units u ON u.id = a.unit_id \
                 WHERE {} ORDER BY a.seq DESC LIMIT {limit}",
                clauses.join(" AND ")
            ),
            None => format!(
                "SELECT {columns} FROM audit a WHERE {} ORDER BY a.seq DESC LIMIT {limit}",
                clauses.join(" AND ")
            ),
        };
        let mut query = sqlx::query(&sql).bind(filter.before_seq.unwrap_or(i64::MAX));
        for bind in binds {
            query = match bind {
                AuditParam::Int(value) => query.bind(value),
                AuditParam::Text(value) => query.bind(value),
            };
        }
        let rows = query.fetch_all(&self.pool).await?;
        Ok(rows.iter().map(entry_from_row).collect::<Result<_, _>>()?)
    }
}

/// Which audit entries a reader wants; every field narrows.
#[derive(Debug, Clone, Copy, Default)]
pub struct AuditFilter<'a> {
    /// Only entries about units inside one of these path ranges (`None`: everywhere).
    pub ranges: Option<&'a [(String, String)]>,
    /// Only entries about this very unit.
    pub unit: Option<i64>,
    /// Only actions starting with this text (`unit.` for every change of units).
    pub action_prefix: Option<&'a str>,
    /// Only entries of this actor (`account:7`, `operator`).
    pub actor: Option<&'a str>,
    /// Only entries older than this sequence number: the cursor.
    pub before_seq: Option<i64>,
    /// The ranges hold much of the tree, so that recent entries will mostly match:
    /// read the trail newest first rather than the units first.
    pub broad: bool,
}

enum AuditParam {
    Int(i64),
    Text(String),
}
