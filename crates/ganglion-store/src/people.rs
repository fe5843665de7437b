//! People, their posts, accounts, sessions, and notes on units.

use ganglion_core::UnitId;
use sqlx::any::AnyRow;
use sqlx::{Any, Row};

use crate::{ReadTx, Store, StoreError, WriteTx};

/// Every column that refers to a unit, with what it records, but the tree's own
/// `units.parent_id` (a unit with units under it is refused apart), `unit_tags` (removed
/// with the unit) and `audit.unit_id` (the trail outlives what it tells of). A unit that
/// any of these refers to has history and is never removed. A new table that refers to
/// units goes here; the store's contract test reads the schema and fails until it does.
pub const UNIT_REFERENCES: &[(&str, &str, &str)] = &[
    ("posts", "unit_id", "posts"),
    ("notes", "unit_id", "notes"),
    ("notes", "hidden_from", "notes"),
    ("directives", "issuer_id", "directives it issued"),
    ("directives", "target_under", "directives aimed at it"),
    (
        "items",
        "unit_id",
        "tracked items (assignments, projects, and the like)",
    ),
    ("programmes", "owner_id", "programmes it owns"),
    ("guidance", "unit_id", "guidance"),
];

/// Columns that name a unit but are deliberately left out of [`UNIT_REFERENCES`].
pub const UNIT_REFERENCES_EXEMPT: &[(&str, &str)] = &[
    ("units", "parent_id"),
    ("unit_tags", "unit_id"),
    ("audit", "unit_id"),
    // The unit a metric is counted in (tonnes), not a unit of the organization.
    ("directives", "metric_unit"),
    // A draft's explicit list of units, as text: once issued, its items name the units.
    ("directives", "target_units"),
];

impl Store {
    /// Every column of the schema that references `units` or whose name says it holds a
    /// unit, as (table, column): what [`UNIT_REFERENCES`] and [`UNIT_REFERENCES_EXEMPT`]
    /// must cover between them. Read from the database's own catalogue.
    pub async fn unit_columns(&self) -> Result<Vec<(String, String)>, StoreError> {
        let sql = match self.backend {
            crate::Backend::Sqlite => {
                "SELECT m.name AS table_name, c.name AS column_name FROM sqlite_master m JOIN pragma_table_info(m.name) c \
                 WHERE m.type = 'table' AND c.name LIKE '%unit%' \
                 UNION SELECT m.name, f.\"from\" FROM sqlite_master m \
                 JOIN pragma_foreign_key_list(m.name) f \
                 WHERE m.type = 'table' AND f.\"table\" = 'units'"
            }
            crate::Backend::Postgres => {
                "SELECT CAST(table_name AS TEXT) AS table_name, CAST(column_name AS TEXT) AS column_name \
                 FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND column_name LIKE '%unit%' \
                 UNION SELECT CAST(k.table_name AS TEXT), CAST(k.column_name AS TEXT) \
                 FROM information_schema.referential_constraints r \
                 JOIN information_schema.key_column_usage k \
                   ON k.constraint_name = r.constraint_name AND k.constraint_schema = r.constraint_schema \
                 JOIN information_schema.constraint_column_usage u \
                   ON u.constraint_name = r.unique_constraint_name AND u.constraint_schema = r.unique_constraint_schema \
                 WHERE u.table_name = 'units' AND k.table_schema = current_schema()"
            }
        };
        let rows = sqlx::query(sql).fetch_all(&self.pool).await?;
        let mut columns = rows
            .iter()
            .map(|row| Ok((row.try_get("table_name")?, row.try_get("column_name")?)))
            .collect::<Result<Vec<(String, String)>, sqlx::Error>>()?;
        columns.sort();
        columns.dedup();
        Ok(columns)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonRow {
    pub id: i64,
    pub name: String,
    /// The account that recorded the person, when one did.
    pub created_by: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostRow {
    pub id: i64,
    pub person: i64,
    pub person_name: String,
    pub unit: UnitId,
    pub unit_code: String,
    pub role: String,
    pub title: String,
    pub start: String,
    pub end: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRow {
    pub id: i64,
    pub login: String,
    pub person: Option<i64>,
    /// The name of the person the account belongs to, read with the account.
    pub person_name: Option<String>,
    pub password_hash: String,
    pub admin: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub account: i64,
    pub expires_at: String,
    pub revoked: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteRow {
    pub id: i64,
    pub unit: UnitId,
    pub hidden_from: Option<UnitId>,
    pub text: String,
    pub created_at: String,
}

/// A new post.
#[derive(Debug, Clone)]
pub struct NewPost<'a> {
    pub person: i64,
    pub unit: UnitId,
    pub role: &'a str,
    pub title: &'a str,
    pub start: &'a str,
}

const POST_COLUMNS: &str =
    "s.id AS id, s.person_id AS person_id, p.name AS person_name, s.unit_id AS unit_id, \
     u.code AS unit_code, s.role AS role, s.title AS title, s.start_date AS start_date, \
     s.end_date AS end_date";
const POST_FROM: &str =
    "posts s JOIN people p ON p.id = s.person_id JOIN units u ON u.id = s.unit_id";

fn unit_id(raw: i64) -> Result<UnitId, sqlx::Error> {
    UnitId::new(raw).ok_or_else(|| sqlx::Error::Decode("stored unit id is not positive".into()))
}

fn post_from_row(row: &AnyRow) -> Result<PostRow, sqlx::Error> {
    Ok(PostRow {
        id: row.try_get("id")?,
        person: row.try_get("person_id")?,
        person_name: row.try_get("person_name")?,
        unit: unit_id(row.try_get("unit_id")?)?,
        unit_code: row.try_get("unit_code")?,
        role: row.try_get("role")?,
        title: row.try_get("title")?,
        start: row.try_get("start_date")?,
        end: row.try_get("end_date")?,
    })
}

const ACCOUNT_COLUMNS: &str = "a.id AS id, a.login AS login, a.person_id AS person_id, \
     a.password_hash AS password_hash, a.admin AS admin, p.name AS person_name";
const ACCOUNT_FROM: &str = "accounts a LEFT JOIN people p ON p.id = a.person_id";

fn account_from_row(row: &AnyRow) -> Result<AccountRow, sqlx::Error> {
    let admin: i32 = row.try_get("admin")?;
    Ok(AccountRow {
        id: row.try_get("id")?,
        login: row.try_get("login")?,
        person: row.try_get("person_id")?,
        password_hash: row.try_get("password_hash")?,
        admin: admin != 0,
        person_name: row.try_get("person_name")?,
    })
}

fn note_from_row(row: &AnyRow) -> Result<NoteRow, sqlx::Error> {
    let hidden: Option<i64> = row.try_get("hidden_from")?;
    Ok(NoteRow {
        id: row.try_get("id")?,
        unit: unit_id(row.try_get("unit_id")?)?,
        hidden_from: hidden.map(unit_id).transpose()?,
        text: row.try_get("text")?,
        created_at: row.try_get("created_at")?,
    })
}

async fn fetch_posts<'c>(
    executor: impl sqlx::Executor<'c, Database = Any>,
    condition: &str,
    key: i64,
) -> Result<Vec<PostRow>, StoreError> {
    let sql = format!(
        "SELECT {POST_COLUMNS} FROM {POST_FROM} WHERE {condition} ORDER BY s.end_date IS NOT NULL, s.start_date, s.id"
    );
    let rows = sqlx::query(&sql).bind(key).fetch_all(executor).await?;
    Ok(rows.iter().map(post_from_row).collect::<Result<_, _>>()?)
}

impl Store {
    pub async fn person(&self, id: i64) -> Result<Option<PersonRow>, StoreError> {
        let row = sqlx::query("SELECT id, name, created_by FROM people WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row
            .map(|row| -> Result<_, sqlx::Error> {
                Ok(PersonRow {
                    id: row.try_get("id")?,
                    name: row.try_get("name")?,
                    created_by: row.try_get("created_by")?,
                })
            })
            .transpose()?)
    }

    /// People holding or having held a post in the path ranges (all people with `None`),
    /// or recorded by the account `created_by`, whose name contains `text`, by id after
    /// `after`.
    pub async fn people(
        &self,
        ranges: Option<&[(String, String)]>,
        created_by: Option<i64>,
        text: Option<&str>,
        after: i64,
        limit: u32,
    ) -> Result<Vec<PersonRow>, StoreError> {
        let mut clauses = vec!["p.id > $1".to_owned()];
        let mut binds: Vec<String> = Vec::new();
        if let Some(text) = text {
            binds.push(format!(
                "%{}%",
                crate::units::escape_like(&text.to_lowercase())
            ));
            clauses.push(format!(
                "lower(p.name) LIKE ${} ESCAPE '\\'",
                binds.len() + 1
            ));
        }
        if let Some(ranges) = ranges {
            // $1 is the key bound first; the ranges' values follow it.
            let any = crate::units::any_range_sql(ranges, |value| {
                binds.push(value);
                format!("${}", binds.len() + 1)
            });
            let mine = match created_by {
                Some(account) => {
                    binds.push(account.to_string());
                    format!(" OR p.created_by = CAST(${} AS BIGINT)", binds.len() + 1)
                }
                None => String::new(),
            };
            clauses.push(format!(
                "(EXISTS (SELECT 1 FROM posts s JOIN units u ON u.id = s.unit_id WHERE s.person_id = p.id AND {any}){mine})"
            ));
        }
        let sql = format!(
            "SELECT p.id AS id, p.name AS name, p.created_by AS created_by FROM people p WHERE {} ORDER BY p.id LIMIT {limit}",
            clauses.join(" AND ")
        );
        let mut query = sqlx::query(&sql).bind(after);
        for bind in binds {
            query = query.bind(bind);
        }
        let rows = query.fetch_all(&self.pool).await?;
        Ok(rows
            .iter()
            .map(|row| -> Result<_, sqlx::Error> {
                Ok(PersonRow {
                    id: row.try_get("id")?,
                    name: row.try_get("name")?,
                    created_by: row.try_get("created_by")?,
                })
            })
            .collect::<Result<_, _>>()?)
    }

    pub async fn post(&self, id: i64) -> Result<Option<PostRow>, StoreError> {
        Ok(fetch_posts(&self.pool, "s.id = $1", id).await?.pop())
    }

    /// The unit's posts, current first, then ended ones.
    pub async fn posts_of_unit(&self, unit: UnitId) -> Result<Vec<PostRow>, StoreError> {
        fetch_posts(&self.pool, "s.unit_id = $1", unit.get()).await
    }

    /// Every post the person holds or held.
    pub async fn posts_of_person(&self, person: i64) -> Result<Vec<PostRow>, StoreError> {
        fetch_posts(&self.pool, "s.person_id = $1", person).await
    }

    pub async fn account_by_login(&self, login: &str) -> Result<Option<AccountRow>, StoreError> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM {ACCOUNT_FROM} WHERE a.login = $1");
        let row = sqlx::query(&sql)
            .bind(login)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(account_from_row).transpose()?)
    }

    pub async fn account(&self, id: i64) -> Result<Option<AccountRow>, StoreError> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM {ACCOUNT_FROM} WHERE a.id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(account_from_row).transpose()?)
    }

    pub async fn session(&self, token_hash: &str) -> Result<Option<SessionRow>, StoreError> {
        let row = sqlx::query(
            "SELECT account_id, expires_at, revoked_at FROM sessions WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row
            .map(|row| -> Result<_, sqlx::Error> {
                let revoked: Option<String> = row.try_get("revoked_at")?;
                Ok(SessionRow {
                    account: row.try_get("account_id")?,
                    expires_at: row.try_get("expires_at")?,
                    revoked: revoked.is_some(),
                })
            })
            .transpose()?)
    }

    pub async fn note(&self, id: i64) -> Result<Option<NoteRow>, StoreError> {
        let row = sqlx::query(
            "SELECT id, unit_id, hidden_from, text, created_at FROM notes WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(note_from_row).transpose()?)
    }

    pub async fn notes_of_unit(&self, unit: UnitId) -> Result<Vec<NoteRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, unit_id, hidden_from, text, created_at FROM notes WHERE unit_id = $1 ORDER BY id",
        )
        .bind(unit.get())
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(note_from_row).collect::<Result<_, _>>()?)
    }
}

/// A post as exported: with the person's import key and the unit's code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostExportRow {
    pub post: PostRow,
    pub person_ref: Option<String>,
}

impl ReadTx {
    /// Posts in units of the path ranges (all with `None`), by post id after `after`.
    pub async fn posts_in(
        &mut self,
        ranges: Option<&[(String, String)]>,
        after: i64,
        limit: u32,
    ) -> Result<Vec<PostExportRow>, StoreError> {
        let mut clauses = vec!["s.id > $1".to_owned()];
        let mut binds = Vec::new();
        if let Some(ranges) = ranges {
            // $1 is the key bound first; the ranges' values follow it.
            let any = crate::units::any_range_sql(ranges, |value| {
                binds.push(value);
                format!("${}", binds.len() + 1)
            });
            clauses.push(any);
        }
        let sql = format!(
            "SELECT {POST_COLUMNS}, p.ref AS person_ref FROM {POST_FROM} WHERE {} ORDER BY s.id LIMIT {limit}",
            clauses.join(" AND ")
        );
        let mut query = sqlx::query(&sql).bind(after);
        for bind in binds {
            query = query.bind(bind);
        }
        let rows = query.fetch_all(&mut *self.tx).await?;
        Ok(rows
            .iter()
            .map(|row| -> Result<_, sqlx::Error> {
                Ok(PostExportRow {
                    post: post_from_row(row)?,
                    person_ref: row.try_get("person_ref")?,
                })
            })
            .collect::<Result<_, _>>()?)
    }
}

impl WriteTx {
    /// A person recorded by the account `created_by` (none for the operator).
    pub async fn insert_person(
        &mut self,
        name: &str,
        created_by: Option<i64>,
        at: &str,
    ) -> Result<i64, StoreError> {
        self.insert_person_with_ref(name, None, created_by, at)
            .await
    }

    /// A person with the key they have in the system they were imported from.
    pub async fn insert_person_with_ref(
        &mut self,
        name: &str,
        person_ref: Option<&str>,
        created_by: Option<i64>,
        at: &str,
    ) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "INSERT INTO people (name, created_at, ref, created_by) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(name)
        .bind(at)
        .bind(person_ref)
        .bind(created_by)
        .fetch_one(&mut *self.tx)
        .await?)
    }

    /// The stored people among these import keys: `(ref, id, name)`.
    /// The people with these import keys: key, id, name.
    pub async fn people_by_refs(
        &mut self,
        refs: &[&str],
    ) -> Result<Vec<(String, i64, String)>, StoreError> {
        let mut found = Vec::new();
        for chunk in refs.chunks(500) {
            let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT ref, id, name FROM people WHERE ref IN ({})",
                placeholders.join(", ")
            );
            let mut query = sqlx::query(&sql);
            for person_ref in chunk {
                query = query.bind(*person_ref);
            }
            for row in query.fetch_all(&mut *self.tx).await? {
                found.push((
                    row.try_get("ref")?,
                    row.try_get("id")?,
                    row.try_get("name")?,
                ));
            }
        }
        Ok(found)
    }

    pub async fn person_exists(&mut self, id: i64) -> Result<bool, StoreError> {
        let found: Option<i64> = sqlx::query_scalar("SELECT id FROM people WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *self.tx)
            .await?;
        Ok(found.is_some())
    }

    pub async fn insert_post(&mut self, post: &NewPost<'_>) -> Result<i64, StoreError> {
        self.changes_access = true;
        Ok(sqlx::query_scalar(
            "INSERT INTO posts (person_id, unit_id, role, title, start_date) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(post.person)
        .bind(post.unit.get())
        .bind(post.role)
        .bind(post.title)
        .bind(post.start)
        .fetch_one(&mut *self.tx)
        .await?)
    }

    pub async fn post(&mut self, id: i64) -> Result<Option<PostRow>, StoreError> {
        Ok(fetch_posts(&mut *self.tx, "s.id = $1", id).await?.pop())
    }

    pub async fn end_post(&mut self, id: i64, end: &str) -> Result<(), StoreError> {
        self.changes_access = true;
        sqlx::query("UPDATE posts SET end_date = $1 WHERE id = $2")
            .bind(end)
            .bind(id)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// What refers to the unit, besides the units under it: the names (from
    /// [`UNIT_REFERENCES`]) of the kinds of record found, in one query. Empty when the
    /// unit may be removed.
    pub async fn unit_references(&mut self, unit: UnitId) -> Result<Vec<String>, StoreError> {
        let sql = UNIT_REFERENCES
            .iter()
            .map(|(table, column, what)| {
                format!("SELECT '{what}' WHERE EXISTS (SELECT 1 FROM {table} WHERE {column} = $1)")
            })
            .collect::<Vec<_>>()
            .join(" UNION ALL ");
        let found: Vec<String> = sqlx::query_scalar(&sql)
            .bind(unit.get())
            .fetch_all(&mut *self.tx)
            .await?;
        let mut whats: Vec<String> = Vec::new();
        for what in found {
            if !whats.contains(&what) {
                whats.push(what);
            }
        }
        Ok(whats)
    }

    pub async fn insert_account(
        &mut self,
        login: &str,
        person: Option<i64>,
        password_hash: &str,
        admin: bool,
        at: &str,
    ) -> Result<i64, StoreError> {
        self.changes_access = true;
        Ok(sqlx::query_scalar(
            "INSERT INTO accounts (login, person_id, password_hash, admin, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(login)
        .bind(person)
        .bind(password_hash)
        .bind(i32::from(admin))
        .bind(at)
        .fetch_one(&mut *self.tx)
        .await?)
    }

    pub async fn insert_session(
        &mut self,
        token_hash: &str,
        account: i64,
        at: &str,
        expires_at: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sessions (token_hash, account_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash)
        .bind(account)
        .bind(at)
        .bind(expires_at)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    pub async fn revoke_session(&mut self, token_hash: &str, at: &str) -> Result<(), StoreError> {
        self.changes_access = true;
        sqlx::query(
            "UPDATE sessions SET revoked_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL",
        )
        .bind(at)
        .bind(token_hash)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    pub async fn insert_note(
        &mut self,
        unit: UnitId,
        hidden_from: Option<UnitId>,
        text: &str,
        at: &str,
    ) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "INSERT INTO notes (unit_id, hidden_from, text, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(unit.get())
        .bind(hidden_from.map(UnitId::get))
        .bind(text)
        .bind(at)
        .fetch_one(&mut *self.tx)
        .await?)
    }
}
