//! The audit log's Merkle tree as stored: `audit_nodes`, the hashes of its complete
//! subtrees of 256 entries and more (derived from the entries, extended by the
//! checkpointer), and `audit_checkpoints`, the signed tree heads (append-only).
//!
//! Neither is part of a write's transaction: the append path of an entry is the
//! chain's alone. Their writes are transactions of their own that do not take the
//! writers' lock (they touch nothing a writer reads), and a node or checkpoint written
//! twice is written once (`ON CONFLICT DO NOTHING`), so two runners cannot disagree.

use ganglion_core::audit::{AuditEntry, GENESIS_HASH};
use sqlx::{Any, Row, Transaction};

use crate::{numbered, Backend, Store, StoreError, WriteTx};

/// A signed checkpoint as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointRow {
    /// How many entries the tree held.
    pub size: i64,
    /// The root over them, hexadecimal.
    pub root: String,
    /// The signed note (c2sp.org/tlog-checkpoint).
    pub note: String,
    /// When it was signed, RFC 3339.
    pub at: String,
}

/// A stored subtree: its level, its index on that level, its hash (hexadecimal).
pub type NodeRow = (u8, u64, String);

/// Rows written per statement, well under either backend's limit of parameters.
const ROWS_PER_STATEMENT: usize = 1000;

fn checkpoint_of(row: &sqlx::any::AnyRow) -> Result<CheckpointRow, StoreError> {
    Ok(CheckpointRow {
        size: row.try_get("size")?,
        root: row.try_get("root")?,
        note: row.try_get("note")?,
        at: row.try_get("at")?,
    })
}

fn node_of(row: &sqlx::any::AnyRow) -> Result<NodeRow, StoreError> {
    let level: i32 = row.try_get("level")?;
    let index: i64 = row.try_get("idx")?;
    let hash: String = row.try_get("hash")?;
    Ok((level as u8, index as u64, hash))
}

impl Store {
    /// How many entries the log holds (the newest sequence number).
    pub async fn audit_size(&self) -> Result<i64, StoreError> {
        let size: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM audit")
            .fetch_one(&self.pool)
            .await?;
        Ok(size.unwrap_or(0))
    }

    /// The chain hashes of entries `after_seq + 1 ..= up_to_seq`, in order: the
    /// tree's leaves.
    pub async fn audit_hashes(
        &self,
        after_seq: i64,
        up_to_seq: i64,
    ) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query("SELECT hash FROM audit WHERE seq > $1 AND seq <= $2 ORDER BY seq")
            .bind(after_seq)
            .bind(up_to_seq)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| Ok(row.try_get::<String, _>("hash")?))
            .collect()
    }

    /// How many complete blocks of 256 entries the stored tree covers.
    pub async fn audit_blocks_stored(&self) -> Result<u64, StoreError> {
        let last: Option<i64> =
            sqlx::query_scalar("SELECT MAX(idx) FROM audit_nodes WHERE level = 8")
                .fetch_one(&self.pool)
                .await?;
        Ok(last.map_or(0, |index| index as u64 + 1))
    }

    /// The stored subtrees among `nodes` (level, index); those not stored are left out.
    pub async fn audit_nodes(&self, nodes: &[(u8, u64)]) -> Result<Vec<NodeRow>, StoreError> {
        let mut found = Vec::with_capacity(nodes.len());
        for chunk in nodes.chunks(ROWS_PER_STATEMENT / 2) {
            let clauses: Vec<String> = (0..chunk.len())
                .map(|i| format!("(level = ${} AND idx = ${})", 2 * i + 1, 2 * i + 2))
                .collect();
            let sql = format!(
                "SELECT level, idx, hash FROM audit_nodes WHERE {}",
                clauses.join(" OR ")
            );
            let mut query = sqlx::query(&sql);
            for (level, index) in chunk {
                query = query.bind(i32::from(*level)).bind(*index as i64);
            }
            for row in query.fetch_all(&self.pool).await? {
                found.push(node_of(&row)?);
            }
        }
        Ok(found)
    }

    /// Every stored subtree, for checking them all against the entries.
    pub async fn all_audit_nodes(&self) -> Result<Vec<NodeRow>, StoreError> {
        let rows = sqlx::query("SELECT level, idx, hash FROM audit_nodes ORDER BY level, idx")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(node_of).collect()
    }

    /// A transaction for the tree's own tables: on SQLite it takes the file's write
    /// lock at once, as every writer does; on PostgreSQL it takes no lock of the
    /// writers', whose entries it never touches.
    async fn tree_tx(&self) -> Result<Transaction<'static, Any>, StoreError> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// Stores subtrees; one already stored is left as it is.
    pub async fn store_audit_nodes(&self, nodes: &[NodeRow]) -> Result<(), StoreError> {
        if nodes.is_empty() {
            return Ok(());
        }
        let mut tx = self.tree_tx().await?;
        for chunk in nodes.chunks(ROWS_PER_STATEMENT) {
            let values: Vec<String> = (0..chunk.len())
                .map(|i| format!("({})", numbered(3 * i, 3)))
                .collect();
            let sql = format!(
                "INSERT INTO audit_nodes (level, idx, hash) VALUES {} ON CONFLICT (level, idx) DO NOTHING",
                values.join(", ")
            );
            let mut query = sqlx::query(&sql);
            for (level, index, hash) in chunk {
                query = query
                    .bind(i32::from(*level))
                    .bind(*index as i64)
                    .bind(hash.as_str());
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The newest checkpoint.
    pub async fn latest_audit_checkpoint(&self) -> Result<Option<CheckpointRow>, StoreError> {
        let row = sqlx::query(
            "SELECT size, root, note, at FROM audit_checkpoints ORDER BY size DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(checkpoint_of).transpose()
    }

    /// The checkpoint of the tree of `size` entries, if one was signed.
    pub async fn audit_checkpoint(&self, size: i64) -> Result<Option<CheckpointRow>, StoreError> {
        let row = sqlx::query("SELECT size, root, note, at FROM audit_checkpoints WHERE size = $1")
            .bind(size)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(checkpoint_of).transpose()
    }

    /// Every checkpoint, smallest first.
    pub async fn audit_checkpoints(&self) -> Result<Vec<CheckpointRow>, StoreError> {
        let rows = sqlx::query("SELECT size, root, note, at FROM audit_checkpoints ORDER BY size")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(checkpoint_of).collect()
    }

    /// Stores a checkpoint; whether it was new (one of that size may exist already).
    pub async fn store_audit_checkpoint(&self, row: &CheckpointRow) -> Result<bool, StoreError> {
        let mut tx = self.tree_tx().await?;
        let inserted = sqlx::query(
            "INSERT INTO audit_checkpoints (size, root, note, at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (size) DO NOTHING",
        )
        .bind(row.size)
        .bind(row.root.as_str())
        .bind(row.note.as_str())
        .bind(row.at.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(inserted == 1)
    }
}

impl WriteTx {
    /// Appends many entries at once, chained as [`WriteTx::append_audits`] chains them
    /// but written with multi-row statements: for generating or carrying over a long
    /// history (the benchmark's ten million entries), not for a write's own entry.
    pub async fn append_audits_in_bulk(
        &mut self,
        drafts: Vec<crate::AuditDraft>,
    ) -> Result<(i64, String), StoreError> {
        let last = sqlx::query("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut *self.tx)
            .await?;
        let (mut seq, mut prev_hash) = match last {
            Some(row) => (row.try_get::<i64, _>("seq")?, row.try_get("hash")?),
            None => (0, GENESIS_HASH.to_owned()),
        };
        const COLUMNS: usize = 11;
        for chunk in drafts.chunks(ROWS_PER_STATEMENT) {
            let mut entries = Vec::with_capacity(chunk.len());
            for draft in chunk {
                seq += 1;
                let mut entry = AuditEntry {
                    seq,
                    at: draft.at.clone(),
                    actor: draft.actor.clone(),
                    action: draft.action.clone(),
                    object: draft.object.clone(),
                    unit: draft.unit,
                    before_digest: draft.before_digest.clone(),
                    after_digest: draft.after_digest.clone(),
                    request_id: draft.request_id.clone(),
                    prev_hash: prev_hash.clone(),
                    hash: String::new(),
                };
                entry.hash = entry.compute_hash(&prev_hash);
                prev_hash.clone_from(&entry.hash);
                entries.push(entry);
            }
            let values: Vec<String> = (0..entries.len())
                .map(|i| format!("({})", numbered(COLUMNS * i, COLUMNS)))
                .collect();
            let sql = format!(
                "INSERT INTO audit (seq, at, actor, action, object, unit_id, before_digest, after_digest, request_id, prev_hash, hash) VALUES {}",
                values.join(", ")
            );
            let mut query = sqlx::query(&sql);
            for entry in &entries {
                query = query
                    .bind(entry.seq)
                    .bind(entry.at.as_str())
                    .bind(entry.actor.as_str())
                    .bind(entry.action.as_str())
                    .bind(entry.object.as_str())
                    .bind(entry.unit)
                    .bind(entry.before_digest.as_deref())
                    .bind(entry.after_digest.as_deref())
                    .bind(entry.request_id.as_str())
                    .bind(entry.prev_hash.as_str())
                    .bind(entry.hash.as_str());
            }
            query.execute(&mut *self.tx).await?;
        }
        Ok((seq, prev_hash))
    }
}
