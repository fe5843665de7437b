//! Backups and restores. A backup is a SQLite file holding every table, consistent to one
//! moment even while the server writes: on SQLite it is `VACUUM INTO`, on PostgreSQL a
//! copy of every table read in one repeatable-read snapshot. Restoring copies a backup
//! into an empty database of either backend, ids and audit chain untouched.

use std::path::Path;

use sqlx::any::AnyRow;
use sqlx::{Any, Row};

use crate::{Backend, OpenMode, Store, StoreError};

#[derive(Clone, Copy)]
enum Column {
    Int,
    OptionalInt,
    Text,
    OptionalText,
    OptionalReal,
}

use Column::{Int, OptionalInt, OptionalReal, OptionalText, Text};

/// Every table, parents before the tables that refer to them.
const TABLES: &[(&str, &[(&str, Column)])] = &[
    ("settings", &[("key", Text), ("value", Text)]),
    (
        "units",
        &[
            ("id", Int),
            ("parent_id", OptionalInt),
            ("kind", Text),
            ("name", Text),
            ("code", Text),
            ("tags", Text),
            ("depth", Int),
            ("path", Text),
        ],
    ),
    ("unit_tags", &[("tag", Text), ("unit_id", Int)]),
    (
        "idempotency_keys",
        &[
            ("key", Text),
            ("fingerprint", Text),
            ("status", Int),
            ("body", Text),
            ("created_at", Text),
        ],
    ),
    (
        "people",
        &[("id", Int), ("name", Text), ("created_at", Text)],
    ),
    (
        "posts",
        &[
            ("id", Int),
            ("person_id", Int),
            ("unit_id", Int),
            ("role", Text),
            ("title", Text),
            ("start_date", Text),
            ("end_date", OptionalText),
        ],
    ),
    (
        "accounts",
        &[
            ("id", Int),
            ("login", Text),
            ("person_id", OptionalInt),
            ("password_hash", Text),
            ("admin", Int),
            ("created_at", Text),
        ],
    ),
    (
        "sessions",
        &[
            ("token_hash", Text),
            ("account_id", Int),
            ("created_at", Text),
            ("expires_at", Text),
            ("revoked_at", OptionalText),
        ],
    ),
    (
        "notes",
        &[
            ("id", Int),
            ("unit_id", Int),
            ("hidden_from", OptionalInt),
            ("text", Text),
            ("created_at", Text),
        ],
    ),
    (
        "programmes",
        &[
            ("id", Int),
            ("owner_id", Int),
            ("title", Text),
            ("description", Text),
            ("start_year", Int),
            ("years", Int),
            ("metrics", Text),
            ("created_at", Text),
        ],
    ),
    (
        "directives",
        &[
            ("id", Int),
            ("issuer_id", Int),
            ("parent_id", OptionalInt),
            ("title", Text),
            ("body", Text),
            ("due", Text),
            ("target_under", Int),
            ("target_kinds", Text),
            ("target_tags", Text),
            ("metric_name", OptionalText),
            ("metric_unit", OptionalText),
            ("metric_target", OptionalReal),
            ("state", Text),
            ("assignment_count", Int),
            ("created_at", Text),
            ("issued_at", OptionalText),
            ("ended_at", OptionalText),
            ("kind", Text),
            ("target_units", Text),
            ("programme_id", OptionalInt),
            ("programme_year", OptionalInt),
        ],
    ),
    (
        "items",
        &[
            ("id", Int),
            ("kind", Text),
            ("source_id", Int),
            ("period", Text),
            ("unit_id", Int),
            ("person_id", OptionalInt),
            ("state", Int),
            ("metrics", OptionalText),
            ("due", OptionalText),
            ("due_at", OptionalText),
            ("done_at", OptionalText),
            ("created_at", Text),
            ("updated_at", Text),
        ],
    ),
    (
        "item_events",
        &[
            ("id", Int),
            ("item_id", Int),
            ("kind", Text),
            ("source_id", Int),
            ("at", Text),
            ("actor", Text),
            ("actor_name", OptionalText),
            ("from_state", Int),
            ("to_state", Int),
            ("note", Text),
            ("metrics", OptionalText),
        ],
    ),
    (
        "projects",
        &[
            ("item_id", Int),
            ("programme_id", Int),
            ("year", Int),
            ("kind", Text),
            ("title", Text),
        ],
    ),
    (
        "guidance",
        &[
            ("id", Int),
            ("directive_id", Int),
            ("unit_id", Int),
            ("text", Text),
            ("actor", Text),
            ("created_at", Text),
        ],
    ),
    (
        "experiences",
        &[
            ("id", Int),
            ("unit_id", Int),
            ("title", Text),
            ("body", Text),
            ("tags", Text),
            ("audience", Text),
            ("directive_id", OptionalInt),
            ("programme_id", OptionalInt),
            ("event_id", OptionalInt),
            ("media", Text),
            ("created_by", Text),
            ("created_at", Text),
        ],
    ),
    ("experience_tags", &[("tag", Text), ("experience_id", Int)]),
    (
        "title_awards",
        &[
            ("id", Int),
            ("unit_id", Int),
            ("name", Text),
            ("awarded_by", Int),
            ("awarded_on", Text),
            ("period_from", OptionalText),
            ("period_to", OptionalText),
            ("grounds", Text),
            ("created_by", Text),
            ("created_at", Text),
            ("withdrawn_at", OptionalText),
            ("withdrawn_reason", OptionalText),
            ("withdrawn_by", OptionalText),
        ],
    ),
    (
        "changes",
        &[
            ("seq", Int),
            ("at", Text),
            ("kind", Text),
            ("payload", Text),
        ],
    ),
    (
        "audit",
        &[
            ("seq", Int),
            ("at", Text),
            ("actor", Text),
            ("action", Text),
            ("object", Text),
            ("unit_id", OptionalInt),
            ("before_digest", OptionalText),
            ("after_digest", OptionalText),
            ("request_id", Text),
            ("prev_hash", Text),
            ("hash", Text),
        ],
    ),
    // The audit log's tree (derived from the entries, copied so that proofs need not
    // wait for it to be built again) and its signed checkpoints, which are history.
    (
        "audit_nodes",
        &[("level", Int), ("idx", Int), ("hash", Text)],
    ),
    (
        "audit_checkpoints",
        &[("size", Int), ("root", Text), ("note", Text), ("at", Text)],
    ),
];

/// Tables whose ids PostgreSQL hands out itself, and so must be told where to go on.
const IDENTITY_TABLES: &[&str] = &[
    "people",
    "posts",
    "accounts",
    "notes",
    "programmes",
    "directives",
    "items",
    "item_events",
    "guidance",
    "experiences",
    "title_awards",
];

enum Value {
    Int(Option<i64>),
    Text(Option<String>),
    Real(Option<f64>),
}

fn read_row(row: &AnyRow, columns: &[(&str, Column)]) -> Result<Vec<Value>, sqlx::Error> {
    columns
        .iter()
        .enumerate()
        .map(|(index, (_, column))| {
            Ok(match column {
                Int | OptionalInt => Value::Int(row.try_get(index)?),
                Text | OptionalText => Value::Text(row.try_get(index)?),
                OptionalReal => Value::Real(row.try_get(index)?),
            })
        })
        .collect()
}

fn select_sql(table: &str, columns: &[(&str, Column)]) -> String {
    // Integers are read as BIGINT so that one type serves both backends.
    let list: Vec<String> = columns
        .iter()
        .map(|(name, column)| match column {
            Int | OptionalInt => format!("CAST({name} AS BIGINT)"),
            Text | OptionalText | OptionalReal => (*name).to_owned(),
        })
        .collect();
    let key = columns[0].0;
    format!("SELECT {} FROM {table} ORDER BY {key}", list.join(", "))
}

/// Copies every table from `source` (inside a snapshot) into `target`, in one write.
async fn copy_tables(source: &mut sqlx::AnyConnection, target: &Store) -> Result<u64, StoreError> {
    let mut target_tx = target.write().await?;
    let mut copied = 0;
    let real = match target.backend {
        Backend::Postgres => "DOUBLE PRECISION",
        Backend::Sqlite => "REAL",
    };
    for (table, columns) in TABLES {
        let rows = sqlx::query(&select_sql(table, columns))
            .fetch_all(&mut *source)
            .await?;
        let names: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
        let per_statement = (30_000 / columns.len()).min(100);
        for chunk in rows.chunks(per_statement) {
            let mut values = Vec::with_capacity(chunk.len());
            for row in 0..chunk.len() {
                let placeholders: Vec<String> = columns
                    .iter()
                    .enumerate()
                    .map(|(index, (_, column))| {
                        let number = row * columns.len() + index + 1;
                        match column {
                            // Numbers travel as text: a NULL bound as a number fixes the
                            // type of a cached PostgreSQL statement for later rows.
                            OptionalReal => format!("CAST(${number} AS {real})"),
                            _ => format!("${number}"),
                        }
                    })
                    .collect();
                values.push(format!("({})", placeholders.join(", ")));
            }
            let sql = format!(
                "INSERT INTO {table} ({}) VALUES {}",
                names.join(", "),
                values.join(", ")
            );
            let mut query = sqlx::query::<Any>(&sql);
            for row in chunk {
                for value in read_row(row, columns)? {
                    query = match value {
                        Value::Int(value) => query.bind(value),
                        Value::Text(value) => query.bind(value),
                        Value::Real(value) => query.bind(value.map(|v| format!("{v:?}"))),
                    };
                }
            }
            query.execute(&mut *target_tx.tx).await?;
        }
        copied += rows.len() as u64;
    }
    if target.backend == Backend::Postgres {
        for table in IDENTITY_TABLES {
            sqlx::query(&format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
            ))
            .execute(&mut *target_tx.tx)
            .await?;
        }
    }
    // The search index is derived from the experiences, and made again from them.
    target_tx.reindex_experiences().await?;
    target_tx.commit().await?;
    Ok(copied)
}

impl Store {
    /// Writes a consistent copy of the whole database to a new SQLite file.
    pub async fn backup(&self, file: &Path) -> Result<u64, StoreError> {
        if file.exists() {
            return Err(StoreError::BadUrl(format!(
                "{} already exists; a backup never overwrites a file",
                file.display()
            )));
        }
        match self.backend {
            Backend::Sqlite => {
                sqlx::query("VACUUM INTO $1")
                    .bind(file.to_string_lossy().into_owned())
                    .execute(&self.pool)
                    .await?;
                let copy = Store::open(&format!("sqlite://{}", file.display()), OpenMode::Existing)
                    .await?;
                let count = copy.row_count().await?;
                copy.close().await;
                Ok(count)
            }
            Backend::Postgres => {
                let target =
                    Store::open(&format!("sqlite://{}", file.display()), OpenMode::Create).await?;
                let mut snapshot = self.snapshot().await?;
                let copied = copy_tables(&mut snapshot.tx, &target).await;
                target.close().await;
                if copied.is_err() {
                    let _ = std::fs::remove_file(file);
                }
                copied
            }
        }
    }

    /// Fills this database, which must hold nothing yet, from a backup file.
    pub async fn restore(&self, file: &Path) -> Result<u64, StoreError> {
        if !file.exists() {
            return Err(StoreError::BadUrl(format!(
                "there is no backup at {}",
                file.display()
            )));
        }
        if self.row_count().await? > 0 {
            return Err(StoreError::NotEmpty(
                "the database to restore into already holds data; restore only into an empty one"
                    .into(),
            ));
        }
        let source =
            Store::open(&format!("sqlite://{}", file.display()), OpenMode::Existing).await?;
        let mut snapshot = source.snapshot().await?;
        let copied = copy_tables(&mut snapshot.tx, self).await;
        drop(snapshot);
        source.close().await;
        copied
    }

    /// How many rows the organization's tables hold in all.
    async fn row_count(&self) -> Result<u64, StoreError> {
        let mut total = 0i64;
        for (table, _) in TABLES {
            let count: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
                .fetch_one(&self.pool)
                .await?;
            total += count;
        }
        Ok(total as u64)
    }
}
