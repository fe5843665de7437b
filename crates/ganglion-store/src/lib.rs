//! The source of truth: the organization stored in SQLite (a file, the default) or
//! PostgreSQL (by URL), behind one interface.
//!
//! Only this crate speaks SQL. Both backends are reached through sqlx's `Any` driver
//! and share one SQL dialect (`$n` placeholders work on both); where they really differ
//! — migrations, durability settings, how a write transaction starts — the difference
//! is written once, here, keyed on [`Backend`]. The one exception is the writer of
//! transition batches on SQLite, which runs the same statements on a connection of its
//! own (see [`BatchWriter`]).

mod audit;
mod audit_tree;
mod backup;
mod baseline;
mod batch;
mod direct;
mod directives;
mod error;
mod exec;
mod experiences;
mod idempotency;
mod integrity;
mod locks;
mod moves;
mod open;
mod people;
mod programmes;
mod tracking;
mod units;

use sqlx::AnyPool;
use sqlx::{Any, Transaction};

pub use audit::{AuditDraft, AuditFilter};
pub use audit_tree::{CheckpointRow, NodeRow};
pub use batch::{BatchTx, BatchWriter, Committed};
pub(crate) use directives::DIRECTIVE_COLUMNS;
pub use directives::{ChangeRow, DirectiveDraft, DirectiveRow, GuidanceRow, MetricRow};
pub use error::{Constraint, StoreError};
pub use experiences::{
    AwardRow, ExperienceFilter, ExperiencePage, ExperienceRow, MediaRow, NewAwardRow,
    NewExperienceRow, SubtreeAccess, MAX_INDEXED_TOKENS,
};
pub use idempotency::StoredResponse;
pub use integrity::IntegrityReport;
pub use locks::ClusterLock;
pub use moves::ItemMove;
pub use open::{redact_url, OpenMode};
pub use people::{
    AccountRow, NewPost, NoteRow, PersonRow, PostExportRow, PostRow, SessionRow, UNIT_REFERENCES,
    UNIT_REFERENCES_EXEMPT,
};
pub use programmes::{MetricSpecRow, ProgrammeRow, ProjectFilter, ProjectListRow, ProjectRow};
pub use tracking::{ItemEntryRow, ItemEventRow, ItemRow, NewItem, SourceRef, TargetFilter};
pub use units::{child_path, root_path, UnitFilter, UnitRow};

/// Numbered placeholders `$after+1, …, $after+count`, for lists and multi-row values.
pub(crate) fn numbered(after: usize, count: usize) -> String {
    let mut list = String::with_capacity(count * 5);
    for number in after + 1..=after + count {
        if number > after + 1 {
            list.push_str(", ");
        }
        list.push('$');
        list.push_str(&number.to_string());
    }
    list
}

/// A table of rows given to a statement as one JSON parameter (an array of objects),
/// usable in a FROM clause as `alias`: however many rows, the statement's text stays the
/// same, is prepared once per connection, and binds one value. `columns` names each
/// field and its SQL type.
pub(crate) fn json_rows(
    backend: Backend,
    parameter: &str,
    alias: &str,
    columns: &[(&str, &str)],
) -> String {
    match backend {
        Backend::Sqlite => {
            let fields: Vec<String> = columns
                .iter()
                .map(|(name, _)| format!("value ->> '{name}' AS {name}"))
                .collect();
            format!(
                "(SELECT {} FROM json_each({parameter})) AS {alias}",
                fields.join(", ")
            )
        }
        Backend::Postgres => {
            let fields: Vec<String> = columns
                .iter()
                .map(|(name, sql_type)| format!("{name} {sql_type}"))
                .collect();
            format!(
                "jsonb_to_recordset(CAST({parameter} AS jsonb)) AS {alias}({})",
                fields.join(", ")
            )
        }
    }
}

/// The ids in a JSON array parameter, as a subquery for `IN (…)`.
pub(crate) fn json_ids(backend: Backend, parameter: &str) -> String {
    match backend {
        Backend::Sqlite => format!("SELECT value FROM json_each({parameter})"),
        Backend::Postgres => format!(
            "SELECT CAST(value AS BIGINT) FROM jsonb_array_elements_text(CAST({parameter} AS jsonb))"
        ),
    }
}

/// Which database is behind the store; picked once, from the URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// A handle on the database; cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// The database file, on SQLite.
    sqlite_path: Option<std::sync::Arc<std::path::PathBuf>>,
}

/// A read-only transaction: every read in it sees the same moment of the store, so a
/// long export is consistent even while writes go on.
pub struct ReadTx {
    tx: Transaction<'static, Any>,
}

/// A write transaction. Dropping it without [`WriteTx::commit`] rolls everything back,
/// so a use case that fails half-way leaves nothing behind.
pub struct WriteTx {
    tx: Transaction<'static, Any>,
    backend: Backend,
    /// Whether this write touched sessions, accounts or posts: who may do what.
    changes_access: bool,
}

impl Store {
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Starts a write transaction. Writes to the tree are serialized: on SQLite by taking
    /// the write lock at once (`BEGIN IMMEDIATE`, which also avoids a failed upgrade from
    /// a read lock), on PostgreSQL by a transaction-scoped advisory lock. Two concurrent
    /// moves can therefore never together make a cycle that each alone would not.
    pub async fn write(&self) -> Result<WriteTx, StoreError> {
        let tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        };
        WriteTx::locked(tx, self.backend).await
    }

    /// Opens a consistent snapshot for a sequence of reads.
    pub async fn snapshot(&self) -> Result<ReadTx, StoreError> {
        let tx = match self.backend {
            // A deferred transaction in WAL mode reads one snapshot from its first read on.
            Backend::Sqlite => self.pool.begin().await?,
            Backend::Postgres => {
                self.pool
                    .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .await?
            }
        };
        Ok(ReadTx { tx })
    }

    /// The value of a setting, such as the template recorded at init.
    pub async fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar::<_, String>("SELECT value FROM settings WHERE key = $1")
                .bind(key)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Closes every connection, waiting for those in use to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

impl WriteTx {
    /// Takes the write lock in a transaction just begun (`BEGIN IMMEDIATE` already holds
    /// it on SQLite).
    async fn locked(
        mut tx: Transaction<'static, Any>,
        backend: Backend,
    ) -> Result<Self, StoreError> {
        if backend == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock(7301)")
                .execute(&mut *tx)
                .await?;
        }
        Ok(WriteTx {
            tx,
            backend,
            changes_access: false,
        })
    }
}

impl WriteTx {
    /// Whether this write changes sessions, accounts or posts, so that whoever keeps
    /// callers' rights in memory must read them again once it is committed.
    pub fn changes_access(&self) -> bool {
        self.changes_access
    }

    /// Makes every write of the transaction durable; on return, a crash loses nothing.
    pub async fn commit(self) -> Result<(), StoreError> {
        self.tx.commit().await?;
        Ok(())
    }

    pub async fn set_setting(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES ($1, $2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(value)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }
}
