//! Fresh databases for tests, on SQLite always and on PostgreSQL when
//! `GANGLION_TEST_POSTGRES` names a server (e.g. `postgres://postgres@127.0.0.1:5432`).
//! Each test gets a database of its own, dropped when the test ends.

use std::sync::atomic::{AtomicU32, Ordering};

/// The variable naming the PostgreSQL server that tests may create databases on.
pub const POSTGRES_VARIABLE: &str = "GANGLION_TEST_POSTGRES";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestBackend {
    Sqlite,
    Postgres,
}

impl TestBackend {
    /// `sqlite` or `postgres`, for names of files and folders.
    pub fn name(self) -> &'static str {
        match self {
            TestBackend::Sqlite => "sqlite",
            TestBackend::Postgres => "postgres",
        }
    }
}

impl TestBackend {
    /// Whether this run tests this backend; says so when it does not.
    pub fn is_on(self) -> bool {
        match self {
            TestBackend::Sqlite => true,
            TestBackend::Postgres => {
                let on = postgres_server().is_some();
                if !on {
                    eprintln!(
                        "{POSTGRES_VARIABLE} is not set: PostgreSQL is not tested in this run"
                    );
                }
                on
            }
        }
    }
}

/// Declares, for each `async fn name(backend: TestBackend)` named, one test per backend
/// (`sqlite::name`, `postgres::name`), so that one backend's failure is reported as its
/// own and cannot hide the other's. The PostgreSQL test passes without running when
/// the run does not test PostgreSQL.
#[macro_export]
macro_rules! per_backend {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::TestBackend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    if $crate::TestBackend::Postgres.is_on() {
                        super::$name($crate::TestBackend::Postgres).await
                    }
                }
            )*
        }
    };
}

/// The backends this run tests against: SQLite, and PostgreSQL when it is switched on.
pub fn backends() -> Vec<TestBackend> {
    let mut backends = vec![TestBackend::Sqlite];
    if postgres_server().is_some() {
        backends.push(TestBackend::Postgres);
    } else {
        eprintln!("{POSTGRES_VARIABLE} is not set: PostgreSQL is not tested in this run");
    }
    backends
}

fn postgres_server() -> Option<String> {
    std::env::var(POSTGRES_VARIABLE)
        .ok()
        .filter(|url| !url.is_empty())
        .map(|url| url.trim_end_matches('/').to_owned())
}

/// A database that exists for one test.
pub struct TestDatabase {
    pub url: String,
    pub backend: TestBackend,
    _dir: Option<tempfile::TempDir>,
    postgres: Option<(String, String)>,
}

impl TestDatabase {
    /// A URL for a database that does not exist yet; Ganglion creates it when asked to
    /// (`init`, `demo`, or opening in create mode).
    pub fn new(backend: TestBackend) -> Self {
        match backend {
            TestBackend::Sqlite => {
                let dir = tempfile::tempdir().expect("a temporary folder");
                let url = format!("sqlite://{}", dir.path().join("ganglion.db").display());
                Self {
                    url,
                    backend,
                    _dir: Some(dir),
                    postgres: None,
                }
            }
            TestBackend::Postgres => {
                static COUNTER: AtomicU32 = AtomicU32::new(0);
                let server = postgres_server().expect("GANGLION_TEST_POSTGRES is set");
                let name = format!(
                    "ganglion_test_{}_{}_{}",
                    std::process::id(),
                    COUNTER.fetch_add(1, Ordering::Relaxed),
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.subsec_nanos())
                        .unwrap_or(0)
                );
                Self {
                    url: format!("{server}/{name}"),
                    backend,
                    _dir: None,
                    postgres: Some((server, name)),
                }
            }
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some((server, name)) = self.postgres.take() else {
            return;
        };
        // Drop runs outside any runtime we may use, so clean up on a thread of its own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async move {
                use sqlx::Connection;
                if let Ok(mut connection) =
                    sqlx::PgConnection::connect(&format!("{server}/postgres")).await
                {
                    let _ = sqlx::Executor::execute(
                        &mut connection,
                        format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)").as_str(),
                    )
                    .await;
                }
            });
        })
        .join();
    }
}
