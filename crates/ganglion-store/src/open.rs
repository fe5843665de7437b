//! Opening the store: the backend is picked once from the URL, the connection is checked
//! for settings that could lose an acknowledged write, and the migrations are run.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::any::{install_default_drivers, AnyPoolOptions};
use sqlx::migrate::{MigrateDatabase, Migrator};
use sqlx::{Any, Executor};

use crate::{Backend, Store, StoreError};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

/// Whether opening may create a database that does not exist yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// `init`, `demo` and `serve --demo`: create the SQLite file or PostgreSQL database.
    Create,
    /// Everything else: a missing database is an error, never a new empty one.
    Existing,
}

/// The URL with any password replaced, fit for logs and error messages.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("*****"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

impl Store {
    /// Opens the database named by `url` (`sqlite://PATH` or `postgres://…`), runs the
    /// migrations, and refuses settings under which a committed write could be lost.
    pub async fn open(url: &str, mode: OpenMode) -> Result<Self, StoreError> {
        install_default_drivers();
        let (backend, connect_url, sqlite_path) = classify(url, mode)?;
        let unreachable = |error: sqlx::Error| StoreError::Unreachable {
            url: redact_url(url),
            reason: error.to_string(),
        };
        if backend == Backend::Postgres && mode == OpenMode::Create {
            let exists = Any::database_exists(&connect_url)
                .await
                .map_err(unreachable)?;
            if !exists {
                Any::create_database(&connect_url)
                    .await
                    .map_err(unreachable)?;
            }
        }
        let options = AnyPoolOptions::new()
            .acquire_timeout(Duration::from_secs(10))
            .max_connections(match backend {
                Backend::Sqlite => 8,
                Backend::Postgres => 16,
            })
            // A connection to a local file does not go stale the way one to a server
            // can; pinging it before each use would cost every write a round trip.
            .test_before_acquire(backend == Backend::Postgres);
        let options = match backend {
            Backend::Sqlite => options.after_connect(|connection, _| {
                Box::pin(async move {
                    connection.execute(SQLITE_SESSION).await?;
                    Ok(())
                })
            }),
            Backend::Postgres => options,
        };
        let pool = options.connect(&connect_url).await.map_err(unreachable)?;
        let store = Store {
            pool,
            backend,
            sqlite_path: sqlite_path.map(std::sync::Arc::new),
        };
        store.check_durability().await?;
        if mode == OpenMode::Existing && !store.is_initialized().await? {
            return Err(StoreError::NotInitialized(format!(
                "the database at {} holds no Ganglion organization; run `ganglion init` first",
                redact_url(url)
            )));
        }
        match backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&store.pool).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&store.pool).await?,
        }
        Ok(store)
    }

    /// Whether Ganglion's tables are there (whatever their version).
    async fn is_initialized(&self) -> Result<bool, StoreError> {
        let sql = match self.backend {
            Backend::Sqlite => {
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'settings'"
            }
            Backend::Postgres => {
                "SELECT COUNT(*) FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_name = 'settings'"
            }
        };
        let count: i64 = sqlx::query_scalar(sql).fetch_one(&self.pool).await?;
        Ok(count > 0)
    }

    async fn check_durability(&self) -> Result<(), StoreError> {
        match self.backend {
            Backend::Sqlite => {
                let mut connection = self.pool.acquire().await?;
                let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
                    .fetch_one(&mut *connection)
                    .await?;
                let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
                    .fetch_one(&mut *connection)
                    .await?;
                check_sqlite_durability(&journal, synchronous)?;
            }
            Backend::Postgres => {
                for (setting, safe) in [
                    ("fsync", &["on"][..]),
                    ("full_page_writes", &["on"][..]),
                    (
                        "synchronous_commit",
                        &["on", "local", "remote_write", "remote_apply"][..],
                    ),
                ] {
                    let value: String = sqlx::query_scalar(&format!("SHOW {setting}"))
                        .fetch_one(&self.pool)
                        .await?;
                    if !safe.contains(&value.as_str()) {
                        return Err(StoreError::Unsafe(format!(
                            "PostgreSQL has {setting} = {value}, under which a committed write can be lost; \
                             set it to {}",
                            safe[0]
                        )));
                    }
                }
            }
        }
        Ok(())
    }
}

/// How every connection to a SQLite file is set up, the pool's and the batch writer's
/// alike. WAL with synchronous=FULL: a commit returns only once it is on disk. (The
/// batch writer then lowers its own to NORMAL and flushes the log itself; see
/// `direct.rs`.)
pub(crate) const SQLITE_SESSION: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
     PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;";

/// Refuses a SQLite connection on which a committed write could be lost.
pub(crate) fn check_sqlite_durability(journal: &str, synchronous: i64) -> Result<(), StoreError> {
    check_sqlite_wal(journal)?;
    if synchronous < 2 {
        return Err(StoreError::Unsafe(format!(
            "SQLite synchronous is {synchronous}, not FULL"
        )));
    }
    Ok(())
}

/// Refuses a SQLite connection that does not write ahead to a log.
pub(crate) fn check_sqlite_wal(journal: &str) -> Result<(), StoreError> {
    if !journal.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Unsafe(format!(
            "SQLite could not switch to write-ahead logging (journal mode is {journal:?})"
        )));
    }
    Ok(())
}

/// Picks the backend from the URL and checks what can be checked before connecting:
/// the backend, the URL to connect to, and on SQLite the database file.
fn classify(url: &str, mode: OpenMode) -> Result<(Backend, String, Option<PathBuf>), StoreError> {
    if let Some(rest) = url.strip_prefix("sqlite:") {
        let path = rest.strip_prefix("//").unwrap_or(rest);
        if path.is_empty()
            || path == ":memory:"
            || path.starts_with(":memory:")
            || path == "memory:"
        {
            return Err(StoreError::Unsafe(
                "an in-memory SQLite database loses every write when the process ends; \
                 give a file, e.g. sqlite://ganglion.db"
                    .into(),
            ));
        }
        if path.contains('?') {
            return Err(StoreError::BadUrl(format!(
                "the SQLite URL {url:?} carries options; Ganglion sets its own (WAL, synchronous=FULL), \
                 so give only the path, e.g. sqlite://ganglion.db"
            )));
        }
        let file = Path::new(path);
        let exists = file.exists();
        if mode == OpenMode::Existing && !exists {
            return Err(StoreError::NotInitialized(format!(
                "there is no database at {path}; run `ganglion init --db {url}` \
                 (or `ganglion serve --demo`) to create one"
            )));
        }
        if let Some(dir) = file.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            if !dir.is_dir() {
                return Err(StoreError::Unreachable {
                    url: url.to_owned(),
                    reason: format!("the folder {} does not exist", dir.display()),
                });
            }
        }
        let open_mode = if exists { "rw" } else { "rwc" };
        return Ok((
            Backend::Sqlite,
            format!("sqlite://{path}?mode={open_mode}"),
            Some(file.to_path_buf()),
        ));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        url::Url::parse(url).map_err(|error| {
            StoreError::BadUrl(format!(
                "the PostgreSQL URL {} is malformed: {error}",
                redact_url(url)
            ))
        })?;
        return Ok((Backend::Postgres, url.to_owned(), None));
    }
    let scheme = url.split(':').next().unwrap_or_default();
    Err(StoreError::BadUrl(format!(
        "unknown database URL scheme {scheme:?} in {}: use sqlite://PATH (e.g. sqlite://ganglion.db) \
         or postgres://USER@HOST/DATABASE",
        redact_url(url)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_pick_a_backend_or_are_explained() {
        let (backend, _, _) = classify("postgres://u:p@localhost/db", OpenMode::Existing).unwrap();
        assert_eq!(backend, Backend::Postgres);
        let (backend, url, _) = classify("sqlite://new.db", OpenMode::Create).unwrap();
        assert_eq!(
            (backend, url.as_str()),
            (Backend::Sqlite, "sqlite://new.db?mode=rwc")
        );
        for bad in [
            "mysql://x/y",
            "ganglion.db",
            "",
            "sqlite::memory:",
            "sqlite://a.db?mode=memory",
        ] {
            assert!(classify(bad, OpenMode::Create).is_err(), "{bad}");
        }
        assert!(matches!(
            classify("sqlite:///no/such/folder/x.db", OpenMode::Create),
            Err(StoreError::Unreachable { .. })
        ));
        assert!(matches!(
            classify("sqlite://surely-missing.db", OpenMode::Existing),
            Err(StoreError::NotInitialized(_))
        ));
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://u:secret@h/db"),
            "postgres://u:*****@h/db"
        );
    }
}
