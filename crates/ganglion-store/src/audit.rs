//! The audit table: appended to in the transaction of every write, never changed.

use ganglion_core::audit::{AuditEntry, GENESIS_HASH};
use sqlx::any::AnyRow;

use crate::exec::{Cells, Columns, RowWrite, Statements};
use crate::{Backend, Store, StoreError, WriteTx};

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

/// The same columns with their types, for writing rows.
const AUDIT_TABLE: Columns<'static> = &[
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
];

fn entry_from_row(row: &AnyRow) -> Result<AuditEntry, StoreError> {
    Ok(AuditEntry {
        seq: row.int(0)?,
        at: row.text(1)?,
        actor: row.text(2)?,
        action: row.text(3)?,
        object: row.text(4)?,
        unit: row.int_opt(5)?,
        before_digest: row.text_opt(6)?,
        after_digest: row.text_opt(7)?,
        request_id: row.text(8)?,
        prev_hash: row.text(9)?,
        hash: row.text(10)?,
    })
}

impl WriteTx {
    /// Appends an entry chained to the last one. Writers hold the store's write lock, so
    /// the last entry cannot change under us.
    pub async fn append_audit(&mut self, draft: AuditDraft) -> Result<AuditEntry, StoreError> {
        let mut entries = self.append_audits(vec![draft]).await?;
        entries
            .pop()
            .ok_or_else(|| StoreError::Corrupt("an appended audit entry went missing".into()))
    }

    /// Appends entries in order, each chained to the one before: one lookup of the last
    /// entry and one multi-row insert, however many acts a write carries.
    pub async fn append_audits(
        &mut self,
        drafts: Vec<AuditDraft>,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        append(&mut self.tx, self.backend, drafts).await
    }
}

pub(crate) async fn append(
    statements: &mut impl Statements,
    backend: Backend,
    drafts: Vec<AuditDraft>,
) -> Result<Vec<AuditEntry>, StoreError> {
    if drafts.is_empty() {
        return Ok(Vec::new());
    }
    let last = statements
        .fetch(
            "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
            Vec::new(),
            |row| Ok((row.int(0)?, row.text(1)?)),
        )
        .await?
        .pop();
    let (mut seq, mut prev_hash) = last.unwrap_or_else(|| (0, GENESIS_HASH.to_owned()));
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
    let rows = entries
        .iter()
        .map(|entry| {
            vec![
                entry.seq.into(),
                entry.at.as_str().into(),
                entry.actor.as_str().into(),
                entry.action.as_str().into(),
                entry.object.as_str().into(),
                entry.unit.into(),
                entry.before_digest.clone().into(),
                entry.after_digest.clone().into(),
                entry.request_id.as_str().into(),
                entry.prev_hash.as_str().into(),
                entry.hash.as_str().into(),
            ]
        })
        .collect();
    statements
        .write_rows(backend, RowWrite::Insert("audit"), AUDIT_TABLE, rows)
        .await?;
    Ok(entries)
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
        rows.iter().map(entry_from_row).collect::<Result<_, _>>()
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
        rows.iter().map(entry_from_row).collect::<Result<_, _>>()
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
