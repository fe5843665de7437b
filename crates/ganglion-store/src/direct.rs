//! SQLite run on the caller's own thread. sqlx runs each SQLite connection on a worker
//! thread of its own, so every statement is a hop to that thread and back; a batch of
//! transitions sends about ten statements, and under load each hop costs more than the
//! statement. The batch writer therefore owns one connection to the same file and runs
//! its statements in place: a batch crosses threads only to take its jobs and to hand
//! back their answers. SQLite itself serializes it with the pool's writers.
//!
//! Its commits write the log but leave flushing it to the caller ([`Committed`]), so
//! that the writer can go on with the next batch while another thread waits for the
//! disk. Every batch is still flushed before anyone is told it is done.
//!
//! Everything here blocks; it is meant for a thread that may block (see
//! [`crate::BatchWriter`]).

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use rusqlite::types::{ToSqlOutput, Value};
use rusqlite::{CachedStatement, Connection, OpenFlags, ToSql};

use crate::batch::Committed;
use crate::exec::{cells_of, Cells, Param, Statements};
use crate::{Constraint, StoreError};

/// A connection owned by one thread, set up as the pool's are (WAL, foreign keys
/// enforced, waiting for the write lock rather than failing) but at synchronous=NORMAL:
/// a commit writes its frames to the log and returns; the log is flushed through
/// [`Committed::flush`]. Checkpoints still flush the log before and the database after,
/// so the file is never left inconsistent.
pub(crate) struct DirectSqlite {
    connection: Connection,
    /// The write-ahead log the commits append to, opened on its own to be flushed from
    /// another thread. SQLite keeps the file while any connection (this one included)
    /// is open, so this is the log for as long as the connection lives.
    log: Arc<File>,
}

impl DirectSqlite {
    pub(crate) fn open(path: &Path) -> Result<Self, StoreError> {
        let connection = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        connection.execute_batch(crate::open::SQLITE_SESSION)?;
        // A larger page cache than the pool's: this one connection writes every batch.
        connection.pragma_update(None, "cache_size", -65536)?;
        // Commits write the log; `Committed::flush` flushes it.
        connection.pragma_update(None, "synchronous", "NORMAL")?;
        connection.set_prepared_statement_cache_capacity(64);
        let journal: String =
            connection.pragma_query_value(None, "journal_mode", |row| row.get(0))?;
        crate::open::check_sqlite_wal(&journal)?;
        let synchronous: i64 =
            connection.pragma_query_value(None, "synchronous", |row| row.get(0))?;
        if synchronous < 1 {
            // OFF would not flush even checkpoints.
            return Err(StoreError::Unsafe(format!(
                "the batch writer's SQLite synchronous is {synchronous}, not NORMAL"
            )));
        }
        // A first read opens the log, should no connection have opened it yet.
        connection.query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(()))?;
        let log = open_log(path)?;
        Ok(Self {
            connection,
            log: Arc::new(log),
        })
    }

    /// Takes the write lock at once, as [`crate::Store::write`] does.
    pub(crate) fn begin(&mut self) -> Result<DirectTx<'_>, StoreError> {
        // Prepared once, like every statement here, rather than parsed per batch.
        self.connection
            .prepare_cached("BEGIN IMMEDIATE")?
            .execute([])?;
        Ok(DirectTx {
            connection: &mut self.connection,
            log: &self.log,
            open: true,
        })
    }
}

/// Opens the database's write-ahead log to flush it, and flushes the directory once, so
/// that the log's own entry in it is on disk: SQLite does that with the log's first
/// flush, which here is not its own.
fn open_log(database: &Path) -> Result<File, StoreError> {
    let mut name = database.as_os_str().to_owned();
    name.push("-wal");
    let log = File::options()
        .read(true)
        .write(true)
        .open(&name)
        .map_err(|error| {
            StoreError::Unsafe(format!(
                "cannot open the write-ahead log {}: {error}",
                Path::new(&name).display()
            ))
        })?;
    let directory = match database.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    File::open(directory)
        .and_then(|directory| directory.sync_all())
        .map_err(StoreError::Flush)?;
    Ok(log)
}

/// A write transaction on a [`DirectSqlite`]; dropped without commit, it rolls back.
pub(crate) struct DirectTx<'c> {
    connection: &'c mut Connection,
    log: &'c Arc<File>,
    open: bool,
}

impl DirectTx<'_> {
    /// Commits: visible to every reader from now on, durable once flushed.
    pub(crate) fn commit(mut self) -> Result<Committed, StoreError> {
        self.connection.prepare_cached("COMMIT")?.execute([])?;
        self.open = false;
        Ok(Committed::unflushed(self.log.clone()))
    }

    fn prepared(&self, sql: &str, params: Vec<Param>) -> Result<CachedStatement<'_>, StoreError> {
        let mut statement = self.connection.prepare_cached(sql)?;
        for index in 1..=statement.parameter_count() {
            // `$n` names the n-th parameter wherever it stands, as in sqlx.
            let number = statement
                .parameter_name(index)
                .and_then(|name| name.strip_prefix('$'))
                .and_then(|number| number.parse::<usize>().ok())
                .unwrap_or(index);
            let param = params.get(number - 1).ok_or_else(|| {
                StoreError::Corrupt(format!("statement parameter ${number} was not given"))
            })?;
            statement.raw_bind_parameter(index, param)?;
        }
        Ok(statement)
    }
}

impl Drop for DirectTx<'_> {
    fn drop(&mut self) {
        if self.open {
            // Nothing of an unfinished batch may stay; if even this fails the connection
            // is closed with the writer, which rolls back too.
            let _ = self.connection.execute_batch("ROLLBACK");
        }
    }
}

impl ToSql for Param {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Param::Int(value) => ToSqlOutput::Owned(Value::Integer(*value)),
            Param::Small(value) => ToSqlOutput::Owned(Value::Integer(i64::from(*value))),
            Param::Real(value) => ToSqlOutput::Owned(Value::Real(*value)),
            Param::Text(value) => ToSqlOutput::Borrowed(value.as_str().into()),
            Param::Null => ToSqlOutput::Owned(Value::Null),
        })
    }
}

impl Statements for DirectTx<'_> {
    // A statement here costs microseconds, less than SQLite takes to read a row back
    // out of a JSON parameter.
    const ROW_BY_ROW: bool = true;

    async fn execute(&mut self, sql: &str, params: Vec<Param>) -> Result<u64, StoreError> {
        let mut statement = self.prepared(sql, params)?;
        Ok(statement.raw_execute()? as u64)
    }

    async fn fetch<T, F>(
        &mut self,
        sql: &str,
        params: Vec<Param>,
        mut read: F,
    ) -> Result<Vec<T>, StoreError>
    where
        T: Send,
        F: FnMut(&dyn Cells) -> Result<T, StoreError> + Send,
    {
        let mut statement = self.prepared(sql, params)?;
        let mut rows = statement.raw_query();
        let mut found = Vec::new();
        while let Some(row) = rows.next()? {
            found.push(read(row)?);
        }
        Ok(found)
    }
}

cells_of!(rusqlite::Row<'_>, get);

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        if let rusqlite::Error::SqliteFailure(failure, message) = &error {
            if matches!(
                failure.extended_code,
                rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                    | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
            ) {
                return StoreError::Duplicate(Constraint::named(
                    message.as_deref().unwrap_or_default(),
                ));
            }
        }
        StoreError::Sqlite(error)
    }
}
