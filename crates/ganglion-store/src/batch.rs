//! The write of a batch of assignment transitions. It sends only the statements such a
//! batch needs (see `moves.rs`), each written once against [`Statements`] and run on
//! the pool's transaction or, on SQLite, on the batch writer's own connection.

use std::fs::File;
use std::sync::Arc;

use crate::direct::{DirectSqlite, DirectTx};
use crate::{AuditDraft, Store, StoreError, StoredResponse, WriteTx};

/// Writes batches one after another. On SQLite it owns a connection and runs each
/// statement in place, blocking its thread (see `direct.rs`): run it where blocking is
/// allowed, as [`BatchWriter::blocks`] says. On PostgreSQL it takes a pooled transaction
/// like any write.
pub struct BatchWriter {
    store: Store,
    /// Opened with the first batch.
    direct: Option<DirectSqlite>,
}

/// One batch's transaction. Dropping it without [`BatchTx::commit`] rolls it back.
pub struct BatchTx<'w> {
    pub(crate) connection: BatchConnection<'w>,
}

pub(crate) enum BatchConnection<'w> {
    /// A pooled transaction; `vouched` when it commits without waiting for the disk,
    /// to be made durable by a later synchronous commit (see [`Committed`]).
    Pooled {
        tx: WriteTx,
        vouched: bool,
    },
    Direct(DirectTx<'w>),
}

/// Runs `$body` with `$statements` bound to the batch's connection and `$backend` to
/// its dialect.
macro_rules! with_statements {
    ($batch:expr, |$statements:ident, $backend:ident| $body:expr) => {
        match &mut $batch.connection {
            $crate::batch::BatchConnection::Pooled { tx: write, .. } => {
                let $backend = write.backend;
                let $statements = &mut write.tx;
                $body
            }
            $crate::batch::BatchConnection::Direct(direct) => {
                let $backend = $crate::Backend::Sqlite;
                let $statements = direct;
                $body
            }
        }
    };
}
pub(crate) use with_statements;

impl Store {
    /// The writer of transition batches for this store.
    pub fn batch_writer(&self) -> BatchWriter {
        BatchWriter {
            store: self.clone(),
            direct: None,
        }
    }

    /// A batch written on a pooled transaction, from any task.
    pub async fn write_batch(&self) -> Result<BatchTx<'static>, StoreError> {
        Ok(BatchTx {
            connection: BatchConnection::Pooled {
                tx: self.write().await?,
                vouched: false,
            },
        })
    }

    /// Makes every commit that returned before this call durable, and returns once it
    /// is: one synchronous commit of a write, whose commit record lies in the log after
    /// theirs, so that its flush takes them with it. For the batch writer's commits on
    /// PostgreSQL, which do not wait for the disk themselves.
    pub async fn vouch_for_earlier_commits(&self) -> Result<(), StoreError> {
        sqlx::query("UPDATE flush_marks SET vouched = vouched + 1 WHERE id = 1")
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

impl BatchWriter {
    /// Whether [`BatchWriter::begin`] and the batch's statements block the thread.
    pub fn blocks(&self) -> bool {
        self.store.sqlite_path.is_some()
    }

    /// Starts a batch, holding the write lock as [`Store::write`] does.
    pub async fn begin(&mut self) -> Result<BatchTx<'_>, StoreError> {
        let Some(path) = &self.store.sqlite_path else {
            // The commit writes the log and returns; the batch is answered once a later
            // synchronous commit vouches for it, while the next batch is written.
            let mut tx = self.store.write().await?;
            sqlx::query("SET LOCAL synchronous_commit = off")
                .execute(&mut *tx.tx)
                .await?;
            return Ok(BatchTx {
                connection: BatchConnection::Pooled { tx, vouched: true },
            });
        };
        let direct = match &mut self.direct {
            Some(direct) => direct,
            closed => closed.insert(DirectSqlite::open(path)?),
        };
        Ok(BatchTx {
            connection: BatchConnection::Direct(direct.begin()?),
        })
    }
}

/// A committed batch, and what it takes to make it durable. A pooled transaction's
/// commit is durable when it returns. The batch writer's own SQLite connection only
/// writes the log at commit, so that the next batch can be written while this one is
/// flushed: nothing of the batch may be acknowledged before [`Committed::flush`]. The
/// batch writer's commits on PostgreSQL do not wait for the disk either: nothing of
/// them may be acknowledged before [`Store::vouch_for_earlier_commits`] has returned
/// after them.
#[must_use = "a committed batch is durable only once flushed"]
pub struct Committed {
    /// The log to flush, if the commit did not.
    log: Option<Arc<File>>,
    /// A later synchronous commit must vouch for it.
    vouch: bool,
}

impl Committed {
    pub(crate) fn unflushed(log: Arc<File>) -> Self {
        Self {
            log: Some(log),
            vouch: false,
        }
    }

    /// Whether the commit already flushed it.
    pub fn is_durable(&self) -> bool {
        self.log.is_none() && !self.vouch
    }

    /// Whether it waits for a later synchronous commit to vouch for it.
    pub fn needs_vouching(&self) -> bool {
        self.vouch
    }

    /// Whether flushing `other` also flushes this: both were written to the same log,
    /// and a flush takes everything written to the file before it.
    pub fn flushed_with(&self, other: &Committed) -> bool {
        match (&self.log, &other.log) {
            (None, _) => true,
            (Some(mine), Some(theirs)) => Arc::ptr_eq(mine, theirs),
            (Some(_), None) => false,
        }
    }

    /// Blocks until the batch is on disk (an `fdatasync` of the log, where the commit
    /// did not flush it). Run where blocking is allowed.
    pub fn flush(&self) -> Result<(), StoreError> {
        match &self.log {
            Some(log) => log.sync_data().map_err(StoreError::Flush),
            None => Ok(()),
        }
    }
}

impl BatchTx<'_> {
    /// Commits the batch: visible from now on, durable once [`Committed::flush`]ed.
    pub async fn commit(self) -> Result<Committed, StoreError> {
        match self.connection {
            BatchConnection::Pooled { tx, vouched } => {
                tx.commit().await?;
                Ok(Committed {
                    log: None,
                    vouch: vouched,
                })
            }
            BatchConnection::Direct(direct) => direct.commit(),
        }
    }

    /// See [`WriteTx::used_idempotency_keys`].
    pub async fn used_idempotency_keys(
        &mut self,
        keys: &[&str],
    ) -> Result<Vec<String>, StoreError> {
        with_statements!(self, |statements, _backend| {
            crate::idempotency::used_keys(statements, keys).await
        })
    }

    /// See [`WriteTx::save_idempotent_response`].
    pub async fn save_idempotent_response(
        &mut self,
        key: &str,
        response: &StoredResponse,
    ) -> Result<(), StoreError> {
        with_statements!(self, |statements, _backend| {
            crate::idempotency::save_response(statements, key, response).await
        })
    }

    /// See [`WriteTx::append_change`].
    pub async fn append_change(
        &mut self,
        kind: &str,
        payload: &str,
        at: &str,
    ) -> Result<(), StoreError> {
        with_statements!(self, |statements, backend| {
            crate::directives::append_changes(statements, backend, &[(kind, payload)], at).await
        })
    }

    /// See [`WriteTx::append_audits`].
    pub async fn append_audits(
        &mut self,
        drafts: Vec<AuditDraft>,
    ) -> Result<Vec<ganglion_core::audit::AuditEntry>, StoreError> {
        with_statements!(self, |statements, backend| {
            crate::audit::append(statements, backend, drafts).await
        })
    }
}
