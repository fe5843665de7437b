//! Where a statement runs. Most writes run on a pooled sqlx transaction; the batch of
//! assignment transitions on SQLite runs on a connection the batch writer owns (see
//! [`crate::direct`]). The statements a batch sends are written once, against
//! [`Statements`], and run on either.

use std::future::Future;

use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use crate::{json_rows, Backend, StoreError};

/// A value bound to a statement's `$n`.
#[derive(Debug, Clone)]
pub(crate) enum Param {
    Int(i64),
    Small(i32),
    Real(f64),
    Text(String),
    Null,
}

impl Param {
    fn to_json(&self) -> serde_json::Value {
        match self {
            Param::Int(value) => (*value).into(),
            Param::Small(value) => (*value).into(),
            Param::Real(value) => (*value).into(),
            Param::Text(value) => value.as_str().into(),
            Param::Null => serde_json::Value::Null,
        }
    }
}

impl<T: Into<Param>> From<Option<T>> for Param {
    fn from(value: Option<T>) -> Self {
        value.map_or(Param::Null, Into::into)
    }
}

impl From<f64> for Param {
    fn from(value: f64) -> Self {
        Param::Real(value)
    }
}

impl From<u8> for Param {
    fn from(value: u8) -> Self {
        Param::Small(value.into())
    }
}

impl From<i64> for Param {
    fn from(value: i64) -> Self {
        Param::Int(value)
    }
}

impl From<String> for Param {
    fn from(value: String) -> Self {
        Param::Text(value)
    }
}

impl From<&str> for Param {
    fn from(value: &str) -> Self {
        Param::Text(value.to_owned())
    }
}

/// The columns of one result row, read by position (`int`) or by name (`get_int`).
pub(crate) trait Cells {
    fn get_int(&self, name: &str) -> Result<i64, StoreError>;
    fn get_small(&self, name: &str) -> Result<i32, StoreError>;
    fn get_int_opt(&self, name: &str) -> Result<Option<i64>, StoreError>;
    fn get_real_opt(&self, name: &str) -> Result<Option<f64>, StoreError>;
    fn get_text(&self, name: &str) -> Result<String, StoreError>;
    fn get_text_opt(&self, name: &str) -> Result<Option<String>, StoreError>;
    fn int(&self, index: usize) -> Result<i64, StoreError>;
    fn int_opt(&self, index: usize) -> Result<Option<i64>, StoreError>;
    fn text(&self, index: usize) -> Result<String, StoreError>;
    fn text_opt(&self, index: usize) -> Result<Option<String>, StoreError>;
}

/// Columns of rows written together: each one's name and SQL type.
pub(crate) type Columns<'a> = &'a [(&'a str, &'a str)];

/// Something that runs statements inside one transaction.
pub(crate) trait Statements: Send {
    /// Runs a statement; how many rows it changed.
    fn execute(
        &mut self,
        sql: &str,
        params: Vec<Param>,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Runs a query, reading each row with `read`.
    fn fetch<T, F>(
        &mut self,
        sql: &str,
        params: Vec<Param>,
        read: F,
    ) -> impl Future<Output = Result<Vec<T>, StoreError>> + Send
    where
        T: Send,
        F: FnMut(&dyn Cells) -> Result<T, StoreError> + Send;

    /// Whether each statement is cheap enough (no trip to another thread or server)
    /// that rows are best written one statement each, rather than together through
    /// one JSON parameter, which SQLite must take apart again row by row.
    const ROW_BY_ROW: bool = false;

    /// Writes rows, each with a value for every column, in order.
    fn write_rows(
        &mut self,
        backend: Backend,
        write: RowWrite<'_>,
        columns: Columns<'_>,
        rows: Vec<Vec<Param>>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        async move {
            if rows.is_empty() {
                return Ok(());
            }
            if Self::ROW_BY_ROW {
                let sql = write.one_row(columns);
                for row in rows {
                    self.execute(&sql, row).await?;
                }
            } else {
                let sql = write.all_rows(backend, columns);
                self.execute(&sql, vec![json_table(columns, rows)]).await?;
            }
            Ok(())
        }
    }
}

/// What [`Statements::write_rows`] does with each row.
#[derive(Debug, Clone, Copy)]
pub(crate) enum RowWrite<'a> {
    /// Inserts it into the table.
    Insert(&'a str),
    /// Sets the other columns of the table's row whose first column matches.
    Update(&'a str),
}

impl RowWrite<'_> {
    /// The statement writing one row, its values bound as `$1…$n`.
    fn one_row(self, columns: Columns<'_>) -> String {
        match self {
            RowWrite::Insert(table) => format!(
                "INSERT INTO {table} ({}) VALUES ({})",
                column_names(columns),
                crate::numbered(0, columns.len())
            ),
            RowWrite::Update(table) => {
                let sets: Vec<String> = columns
                    .iter()
                    .enumerate()
                    .skip(1)
                    .map(|(index, (name, _))| format!("{name} = ${}", index + 1))
                    .collect();
                format!(
                    "UPDATE {table} SET {} WHERE {} = $1",
                    sets.join(", "),
                    columns[0].0
                )
            }
        }
    }

    /// The statement writing every row, given as one JSON parameter `$1`.
    fn all_rows(self, backend: Backend, columns: Columns<'_>) -> String {
        let rows = json_rows(backend, "$1", "r", columns);
        match self {
            RowWrite::Insert(table) => {
                let names = column_names(columns);
                format!("INSERT INTO {table} ({names}) SELECT {names} FROM {rows}")
            }
            RowWrite::Update(table) => {
                let key = columns[0].0;
                let sets: Vec<String> = columns[1..]
                    .iter()
                    .map(|(name, _)| format!("{name} = r.{name}"))
                    .collect();
                format!(
                    "UPDATE {table} SET {} FROM {rows} WHERE {table}.{key} = r.{key}",
                    sets.join(", ")
                )
            }
        }
    }
}

pub(crate) fn column_names(columns: Columns<'_>) -> String {
    let names: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
    names.join(", ")
}

/// Rows as one JSON array of objects, keyed by column name, for [`json_rows`].
fn json_table(columns: Columns<'_>, rows: Vec<Vec<Param>>) -> Param {
    let rows: Vec<serde_json::Value> = rows
        .iter()
        .map(|row| {
            columns
                .iter()
                .zip(row)
                .map(|((name, _), value)| ((*name).to_owned(), value.to_json()))
                .collect::<serde_json::Map<_, _>>()
                .into()
        })
        .collect();
    Param::Text(serde_json::Value::from(rows).to_string())
}

/// Implements [`Cells`] for a driver's row type, whose `$get(index)` reads any column
/// type the driver can decode.
macro_rules! cells_of {
    ($row:ty, $get:ident) => {
        impl $crate::exec::Cells for $row {
            fn get_int(&self, name: &str) -> Result<i64, StoreError> {
                Ok(self.$get(name)?)
            }
            fn get_small(&self, name: &str) -> Result<i32, StoreError> {
                Ok(self.$get(name)?)
            }
            fn get_int_opt(&self, name: &str) -> Result<Option<i64>, StoreError> {
                Ok(self.$get(name)?)
            }
            fn get_real_opt(&self, name: &str) -> Result<Option<f64>, StoreError> {
                Ok(self.$get(name)?)
            }
            fn get_text(&self, name: &str) -> Result<String, StoreError> {
                Ok(self.$get(name)?)
            }
            fn get_text_opt(&self, name: &str) -> Result<Option<String>, StoreError> {
                Ok(self.$get(name)?)
            }
            fn int(&self, index: usize) -> Result<i64, StoreError> {
                Ok(self.$get(index)?)
            }
            fn int_opt(&self, index: usize) -> Result<Option<i64>, StoreError> {
                Ok(self.$get(index)?)
            }
            fn text(&self, index: usize) -> Result<String, StoreError> {
                Ok(self.$get(index)?)
            }
            fn text_opt(&self, index: usize) -> Result<Option<String>, StoreError> {
                Ok(self.$get(index)?)
            }
        }
    };
}
pub(crate) use cells_of;

cells_of!(AnyRow, try_get);

fn bound<'q>(
    sql: &'q str,
    params: Vec<Param>,
) -> sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>> {
    params
        .into_iter()
        .fold(sqlx::query(sql), |query, param| match param {
            Param::Int(value) => query.bind(value),
            Param::Small(value) => query.bind(value),
            Param::Real(value) => query.bind(value),
            Param::Null => query.bind(None::<String>),
            Param::Text(value) => query.bind(value),
        })
}

impl Statements for Transaction<'_, Any> {
    async fn execute(&mut self, sql: &str, params: Vec<Param>) -> Result<u64, StoreError> {
        Ok(bound(sql, params)
            .execute(&mut **self)
            .await?
            .rows_affected())
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
        let rows = bound(sql, params).fetch_all(&mut **self).await?;
        rows.iter().map(|row| read(row)).collect()
    }
}
