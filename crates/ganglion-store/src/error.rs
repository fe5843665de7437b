use std::fmt;

/// What went wrong in the store, sorted by what the caller can do about it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL names no backend Ganglion knows, or is malformed.
    #[error("{0}")]
    BadUrl(String),
    /// The database could not be reached or opened.
    #[error("cannot open the database at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    /// The database exists but was never initialized for Ganglion.
    #[error("{0}")]
    NotInitialized(String),
    /// The database is set up in a way that could lose acknowledged writes.
    #[error("refusing to use the database: {0}")]
    Unsafe(String),
    /// The database already holds data where an empty one is needed.
    #[error("{0}")]
    NotEmpty(String),
    /// A uniqueness rule of the schema was broken, by the named constraint.
    #[error("duplicate value for {0}")]
    Duplicate(Constraint),
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    /// An error of the batch writer's own SQLite connection.
    #[error("database error: {0}")]
    Sqlite(#[source] rusqlite::Error),
    /// The write-ahead log could not be flushed: what was committed since the last
    /// flush may not survive a crash.
    #[error("cannot flush the write-ahead log: {0}")]
    Flush(#[source] std::io::Error),
    /// Stored data that cannot be what the schema allows.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
}

/// The uniqueness rules whose breach a caller may want to explain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Constraint {
    UnitCode,
    IdempotencyKey,
    Other,
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Constraint::UnitCode => "unit code",
            Constraint::IdempotencyKey => "idempotency key",
            Constraint::Other => "a unique column",
        })
    }
}

impl Constraint {
    /// The rule a database's message about a unique violation names: PostgreSQL names
    /// the index, SQLite the columns.
    pub(crate) fn named(message: &str) -> Self {
        if message.contains("units_code") || message.contains("units.code") {
            Constraint::UnitCode
        } else if message.contains("idempotency_keys") {
            Constraint::IdempotencyKey
        } else {
            Constraint::Other
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &error {
            if db.is_unique_violation() {
                let named = db.constraint().map(Constraint::named);
                return StoreError::Duplicate(match named {
                    Some(Constraint::Other) | None => Constraint::named(db.message()),
                    Some(constraint) => constraint,
                });
            }
        }
        StoreError::Database(error)
    }
}
