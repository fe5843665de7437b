//! Stored first responses to writes sent with an `Idempotency-Key`.

use sqlx::Row;

use crate::exec::{Param, Statements};
use crate::{Store, StoreError, WriteTx};

/// The response a write gave the first time its key was used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    /// A digest of what was asked the first time; the same key with another request is
    /// refused.
    pub fingerprint: String,
    pub status: u16,
    pub body: String,
}

impl Store {
    pub async fn idempotent_response(
        &self,
        key: &str,
    ) -> Result<Option<StoredResponse>, StoreError> {
        let row =
            sqlx::query("SELECT fingerprint, status, body FROM idempotency_keys WHERE key = $1")
                .bind(key)
                .fetch_optional(&self.pool)
                .await?;
        row.map(|row| -> Result<_, StoreError> {
            let status: i32 = row.try_get("status")?;
            Ok(StoredResponse {
                fingerprint: row.try_get("fingerprint")?,
                status: u16::try_from(status).unwrap_or(500),
                body: row.try_get("body")?,
            })
        })
        .transpose()
    }
}

impl WriteTx {
    /// Which of these keys already hold a response. Under the write lock no other
    /// writer can add one before this write commits.
    pub async fn used_idempotency_keys(
        &mut self,
        keys: &[&str],
    ) -> Result<Vec<String>, StoreError> {
        used_keys(&mut self.tx, keys).await
    }

    /// Records the response in the write's own transaction: the write and its key are
    /// durable together or not at all. A concurrent first use of the same key makes
    /// this fail with a duplicate, and the caller's whole transaction rolls back.
    pub async fn save_idempotent_response(
        &mut self,
        key: &str,
        response: &StoredResponse,
    ) -> Result<(), StoreError> {
        save_response(&mut self.tx, key, response).await
    }
}

pub(crate) async fn used_keys(
    statements: &mut impl Statements,
    keys: &[&str],
) -> Result<Vec<String>, StoreError> {
    let mut used = Vec::new();
    for chunk in keys.chunks(100) {
        let sql = format!(
            "SELECT key FROM idempotency_keys WHERE key IN ({})",
            crate::numbered(0, chunk.len())
        );
        let params = chunk.iter().map(|key| Param::from(*key)).collect();
        used.extend(statements.fetch(&sql, params, |row| row.text(0)).await?);
    }
    Ok(used)
}

pub(crate) async fn save_response(
    statements: &mut impl Statements,
    key: &str,
    response: &StoredResponse,
) -> Result<(), StoreError> {
    statements
        .execute(
            "INSERT INTO idempotency_keys (key, fingerprint, status, body, created_at)
             VALUES ($1, $2, $3, $4, CURRENT_TIMESTAMP)",
            vec![
                key.into(),
                response.fingerprint.as_str().into(),
                Param::Small(i32::from(response.status)),
                response.body.as_str().into(),
            ],
        )
        .await?;
    Ok(())
}
