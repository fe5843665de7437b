//! People and their posts as CSV, one row per post: `person_ref` is the key a person
//! has in the system the file comes from; it is stored, so importing the next version of
//! the same file finds the same people again. A row with no unit adds a person only.
//! All or nothing, like units.

use std::collections::HashMap;

use ganglion_core::{Action, Resource, Role, UnitName};
use ganglion_store::{NewPost, ReadTx, UnitRow};
use serde::Serialize;

use crate::{clock, App, AppError, Audit, Ctx, RowError};

pub const PEOPLE_CSV_HEADER: &str = "person_ref,name,unit_code,role,title,start,end";

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PeopleImportSummary {
    pub people_created: u64,
    pub posts_created: u64,
}

struct Row {
    line: u64,
    person_ref: String,
    name: String,
    post: Option<PostFields>,
}

struct PostFields {
    unit_code: String,
    role: Role,
    title: String,
    start: String,
    end: Option<String>,
}

fn parse_row(line: u64, fields: &[String], today: &str) -> Result<Row, String> {
    let person_ref = fields[0].trim();
    if person_ref.is_empty()
        || person_ref.chars().count() > 100
        || person_ref.chars().any(char::is_control)
    {
        return Err("person_ref: 1 to 100 characters, without control characters".into());
    }
    let name = UnitName::parse(&fields[1]).map_err(|e| format!("name: {}", e.0))?;
    let unit_code = fields[2].trim();
    let rest: Vec<&str> = fields[3..].iter().map(|f| f.trim()).collect();
    if unit_code.is_empty() {
        if rest.iter().any(|f| !f.is_empty()) {
            return Err("a row without unit_code adds a person only: leave role, title, start and end empty".into());
        }
        return Ok(Row {
            line,
            person_ref: person_ref.into(),
            name: name.as_str().into(),
            post: None,
        });
    }
    let role = Role::parse(rest[0])
        .ok_or_else(|| format!("role: {:?} is not secretary, official or member", rest[0]))?;
    let title = rest[1].to_owned();
    if title.chars().count() > 200 || title.chars().any(char::is_control) {
        return Err("title: at most 200 characters, without control characters".into());
    }
    let date = |text: &str, field: &str| {
        clock::parse_date(text)
            .map(clock::format_date)
            .ok_or_else(|| format!("{field}: {text:?} is not a date YYYY-MM-DD"))
    };
    let start = if rest[2].is_empty() {
        today.to_owned()
    } else {
        date(rest[2], "start")?
    };
    let end = if rest[3].is_empty() {
        None
    } else {
        Some(date(rest[3], "end")?)
    };
    if end.as_ref().is_some_and(|end| *end < start) {
        return Err("end: a post cannot end before it starts".into());
    }
    Ok(Row {
        line,
        person_ref: person_ref.into(),
        name: name.as_str().into(),
        post: Some(PostFields {
            unit_code: unit_code.into(),
            role,
            title,
            start,
            end,
        }),
    })
}

impl App {
    /// Imports people and posts from CSV (`person_ref,name,unit_code,role,title,start,end`).
    pub async fn import_people_csv(
        &self,
        ctx: &Ctx,
        bytes: &[u8],
    ) -> Result<PeopleImportSummary, AppError> {
        self.require_signed_in(ctx)?;
        if !ctx.principal.admin && ctx.principal.authority_units().next().is_none() {
            self.authorize(
                ctx,
                Action::Write,
                Resource::Instance,
                "person",
                "people.import",
                "people".into(),
            )
            .await?;
        }
        let records = crate::csv_file::read_records(bytes, PEOPLE_CSV_HEADER)
            .map_err(|rows| AppError::Rows { rows })?;
        let mut errors = Vec::new();
        let mut report = |line: u64, code: &str, reason: String| {
            errors.push(RowError {
                line,
                code: (!code.is_empty()).then(|| code.to_owned()),
                reason,
            })
        };
        let mut rows = Vec::with_capacity(records.len());
        let today = self.today_text();
        for (line, fields) in &records {
            match parse_row(*line, fields, &today) {
                Ok(row) => rows.push(row),
                Err(reason) => report(*line, fields[0].trim(), reason),
            }
        }
        // The same person on several rows has one name.
        let mut first_row: HashMap<&str, &Row> = HashMap::new();
        for row in &rows {
            match first_row.get(row.person_ref.as_str()) {
                Some(first) if first.name != row.name => report(
                    row.line,
                    &row.person_ref,
                    format!(
                        "{} is named {:?} on line {}",
                        row.person_ref, first.name, first.line
                    ),
                ),
                Some(_) => {}
                None => {
                    first_row.insert(&row.person_ref, row);
                }
            }
        }
        // Units: the caller must have authority over each; one out of sight is unknown.
        let codes: Vec<&str> = rows
            .iter()
            .filter_map(|row| row.post.as_ref().map(|post| post.unit_code.as_str()))
            .collect::<std::collections::HashSet<_>>()
            .into_iter()
            .collect();
        let mut units: HashMap<String, UnitRow> = HashMap::new();
        for unit in self.store.units_by_codes(&codes).await? {
            if self.allowed(ctx, Action::Write, Resource::Unit(unit.id)) {
                units.insert(unit.code.clone(), unit);
            } else if self.allowed(ctx, Action::Read, Resource::Unit(unit.id)) {
                return self
                    .authorize(
                        ctx,
                        Action::Write,
                        Resource::Unit(unit.id),
                        "unit",
                        "people.import",
                        format!("unit:{}", unit.id),
                    )
                    .await
                    .and(Err(AppError::Forbidden));
            }
        }
        for row in &rows {
            if let Some(post) = &row.post {
                if !units.contains_key(&post.unit_code) {
                    report(
                        row.line,
                        &row.person_ref,
                        format!(
                            "unknown unit {}: no unit you may appoint in has that code",
                            post.unit_code
                        ),
                    );
                }
            }
        }

        let mut tx = self.store.write().await?;
        let refs: Vec<&str> = first_row.keys().copied().collect();
        let stored: HashMap<String, (i64, String)> = tx
            .people_by_refs(&refs)
            .await?
            .into_iter()
            .map(|(person_ref, id, name)| (person_ref, (id, name)))
            .collect();
        for (person_ref, (id, stored_name)) in &stored {
            let row = first_row[person_ref.as_str()];
            // A key of a person the caller may not read tells nothing of them: not
            // their name, and no post is added to them.
            if self.readable_person(ctx, *id).await?.is_none() {
                report(
                    row.line,
                    person_ref,
                    format!("{person_ref} is not a key you may use; give this person another"),
                );
                continue;
            }
            if *stored_name != row.name {
                report(
                    row.line,
                    person_ref,
                    format!("{person_ref} is stored as {stored_name:?}; the name differs"),
                );
            }
        }
        if !errors.is_empty() {
            errors.sort_by_key(|error| error.line);
            return Err(AppError::Rows { rows: errors });
        }

        let at = self.now_text();
        let mut people: HashMap<&str, i64> = stored
            .iter()
            .map(|(r, (id, _))| (r.as_str(), *id))
            .collect();
        let mut people_created = 0;
        let mut posts_created = 0;
        for row in &rows {
            let person = match people.get(row.person_ref.as_str()) {
                Some(id) => *id,
                None => {
                    let id = tx
                        .insert_person_with_ref(
                            &row.name,
                            Some(&row.person_ref),
                            crate::features::people::account_of(ctx),
                            &at,
                        )
                        .await?;
                    people.insert(&row.person_ref, id);
                    people_created += 1;
                    id
                }
            };
            if let Some(post) = &row.post {
                let unit = &units[&post.unit_code];
                let id = tx
                    .insert_post(&NewPost {
                        person,
                        unit: unit.id,
                        role: post.role.as_str(),
                        title: &post.title,
                        start: &post.start,
                    })
                    .await?;
                if let Some(end) = &post.end {
                    tx.end_post(id, end).await?;
                }
                posts_created += 1;
            }
        }
        let summary = PeopleImportSummary {
            people_created,
            posts_created,
        };
        let audit =
            Audit::new("people.import", format!("posts:{posts_created}"), None).after(&summary);
        self.finish_write(tx, ctx, audit, summary).await
    }

    /// Exports the posts the caller may see, under `under` if given, as CSV.
    pub async fn export_people(
        &self,
        ctx: &Ctx,
        under: Option<&str>,
    ) -> Result<PeopleExport, AppError> {
        self.require_signed_in(ctx)?;
        let ranges = match under {
            Some(under) => Some(vec![self
                .readable_unit(ctx, under, "under")
                .await?
                .subtree_range()]),
            None => self.visible_ranges(ctx).await?,
        };
        Ok(PeopleExport {
            app: self.clone(),
            ctx: ctx.clone(),
            snapshot: self.store.snapshot().await?,
            ranges,
            after: 0,
            started: false,
            finished: false,
        })
    }
}

/// A people export in progress, read chunk by chunk from one snapshot.
pub struct PeopleExport {
    app: App,
    ctx: Ctx,
    snapshot: ReadTx,
    ranges: Option<Vec<(String, String)>>,
    after: i64,
    started: bool,
    finished: bool,
}

impl PeopleExport {
    const ROWS_PER_CHUNK: u32 = 5000;

    pub async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, AppError> {
        if self.finished {
            return Ok(None);
        }
        let csv_error =
            |error: csv::Error| AppError::Internal(format!("cannot write CSV: {error}"));
        let mut writer = csv::Writer::from_writer(Vec::new());
        if !self.started {
            writer
                .write_record(PEOPLE_CSV_HEADER.split(','))
                .map_err(csv_error)?;
            self.started = true;
        }
        let rows = self
            .snapshot
            .posts_in(self.ranges.as_deref(), self.after, Self::ROWS_PER_CHUNK)
            .await?;
        self.finished = rows.len() < Self::ROWS_PER_CHUNK as usize;
        self.after = rows.last().map_or(self.after, |row| row.post.id);
        for row in rows.iter().filter(|row| {
            self.app
                .allowed(&self.ctx, Action::Read, Resource::Unit(row.post.unit))
        }) {
            let person_ref = row
                .person_ref
                .clone()
                .unwrap_or_else(|| format!("person-{}", row.post.person));
            writer
                .write_record(
                    [
                        person_ref.as_str(),
                        row.post.person_name.as_str(),
                        row.post.unit_code.as_str(),
                        row.post.role.as_str(),
                        row.post.title.as_str(),
                        row.post.start.as_str(),
                        row.post.end.as_deref().unwrap_or(""),
                    ]
                    .map(crate::guard_cell)
                    .iter()
                    .map(|cell| cell.as_bytes()),
                )
                .map_err(csv_error)?;
        }
        writer
            .into_inner()
            .map(Some)
            .map_err(|error| AppError::Internal(format!("cannot write CSV: {error}")))
    }
}
