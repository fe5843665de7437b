//! Locks that keep a background job to one runner at a time among all the servers of
//! one database: a PostgreSQL session advisory lock, held by a connection of its own
//! for as long as the job runs, and let go when that connection closes — also when the
//! server holding it dies. One SQLite file has one server; there the lock is the
//! process's own.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

use sqlx::Connection;

use crate::{Backend, Store, StoreError};

/// Held while a job runs; dropping it lets another runner take the job.
pub struct ClusterLock {
    /// The PostgreSQL connection holding the advisory lock; closing it releases it.
    connection: Option<sqlx::AnyConnection>,
    /// The name held in this process.
    local: Option<String>,
}

fn held_here() -> &'static Mutex<HashSet<String>> {
    static HELD: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    HELD.get_or_init(Mutex::default)
}

/// A lock number for a job's name, stable across servers and releases (FNV-1a), kept
/// apart from the write lock's.
fn lock_number(name: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in b"ganglion-job:".iter().chain(name.as_bytes()) {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (hash >> 1) as i64
}

impl Store {
    /// Takes the lock of the job `name` if nobody holds it; `None` if someone does.
    pub async fn try_cluster_lock(&self, name: &str) -> Result<Option<ClusterLock>, StoreError> {
        let local = {
            let mut held = held_here()
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let key = format!(
                "{}:{name}",
                self.sqlite_path
                    .as_deref()
                    .map_or_else(String::new, |p| p.display().to_string())
            );
            if !held.insert(key.clone()) {
                return Ok(None);
            }
            key
        };
        let mut lock = ClusterLock {
            connection: None,
            local: Some(local),
        };
        if self.backend == Backend::Sqlite {
            return Ok(Some(lock));
        }
        let mut connection = self.pool.acquire().await?.detach();
        let taken: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(lock_number(name))
            .fetch_one(&mut connection)
            .await?;
        if !taken {
            let _ = connection.close().await;
            return Ok(None);
        }
        lock.connection = Some(connection);
        Ok(Some(lock))
    }
}

impl Drop for ClusterLock {
    fn drop(&mut self) {
        if let Some(key) = self.local.take() {
            held_here()
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .remove(&key);
        }
        // Dropping the connection closes it, and PostgreSQL lets the lock go with it.
        self.connection.take();
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn lock_numbers_are_stable_and_apart() {
        assert_eq!(
            super::lock_number("escalate"),
            super::lock_number("escalate")
        );
        assert_ne!(super::lock_number("escalate"), super::lock_number("remind"));
        assert!(super::lock_number("escalate") >= 0);
    }
}
