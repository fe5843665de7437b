//! The library of good experience and its full-text index, and the honours awarded to
//! units.
//!
//! The index holds the tokens `ganglion_core::text` makes of each title and body, joined
//! by spaces, and is asked with the tokens of the query: on SQLite an FTS5 table
//! (`unicode61`, ranked by bm25), on PostgreSQL a `tsvector('simple')` under a GIN
//! index (ranked by `ts_rank`). Neither tokenizer does more than split on the spaces, so
//! both find the same experiences for the same query.
//!
//! What a search is narrowed by — who may read (the audience, the writing unit and the
//! units above it), tags, the directive and programme — is indexed too, as facet tokens
//! of letters and digits together (`all0`, `w17`, `a3`), which the query tokenizer never
//! makes of what a person types. So the whole search, who may read included, is one
//! lookup in the index, decided before anything is ranked, counted or paged: an
//! outsider's results, counts and pages never hold an experience kept from them, and no
//! join is made but for the page shown.
//!
//! A search ranks the newest [`SEARCH_WINDOW`] experiences that match, and counts up to
//! that many: whatever the query, the work is bounded.

use ganglion_core::text::{index_tokens, Query, Term};
use ganglion_core::{AwardId, DirectiveId, ExperienceId, ProgrammeId, UnitId};

use crate::directives::{corrupt, slot, unit_id};
use crate::exec::{Cells, Param, Statements};
use crate::{Backend, Store, StoreError, WriteTx};

/// The most tokens of one title or body that are indexed: PostgreSQL keeps positions
/// up to 16,383, and SQLite is held to the same so that both answer alike.
pub const MAX_INDEXED_TOKENS: usize = 16_000;

/// A link to a video, a photo or a document shown with an experience.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaRow {
    pub title: String,
    pub url: String,
}

/// An experience as stored, with its unit's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExperienceRow {
    pub id: ExperienceId,
    pub unit: UnitId,
    pub unit_name: String,
    pub title: String,
    pub body: String,
    pub tags: Vec<String>,
    /// `organization` or `subtree`.
    pub audience: String,
    pub directive: Option<DirectiveId>,
    pub programme: Option<ProgrammeId>,
    pub event: Option<i64>,
    pub media: Vec<MediaRow>,
    pub created_by: String,
    pub created_at: String,
}

/// An experience to write; its id is given by the store.
#[derive(Debug, Clone)]
pub struct NewExperienceRow<'a> {
    pub unit: UnitId,
    pub title: &'a str,
    pub body: &'a str,
    pub tags: &'a [String],
    pub audience: &'a str,
    pub directive: Option<DirectiveId>,
    pub programme: Option<ProgrammeId>,
    pub event: Option<i64>,
    pub media: &'a [MediaRow],
    pub created_by: &'a str,
    pub created_at: &'a str,
}

/// Where a caller may read experiences kept to a subtree: those written in the
/// subtree of one of `authority` (the units the caller acts for), or by one of `units`
/// (the units the caller's posts lie under, their own included).
#[derive(Debug, Clone, Default)]
pub struct SubtreeAccess {
    pub authority: Vec<UnitId>,
    pub units: Vec<UnitId>,
}

/// Which experiences a listing wants. Every filter narrows.
#[derive(Debug, Clone, Default)]
pub struct ExperienceFilter {
    /// Who reads: `None` reads everything (the administrator).
    pub access: Option<SubtreeAccess>,
    pub tag: Option<String>,
    /// Only experiences written in this unit's subtree.
    pub under: Option<UnitId>,
    pub directive: Option<DirectiveId>,
    pub programme: Option<ProgrammeId>,
}

/// How many of the newest matches a search ranks and counts.
pub const SEARCH_WINDOW: u64 = 1_000;

/// A page of experiences and how many match.
#[derive(Debug, Clone, Default)]
pub struct ExperiencePage {
    pub rows: Vec<ExperienceRow>,
    /// How many match, up to [`SEARCH_WINDOW`].
    pub total: u64,
    /// Whether `total` is all of them (false: there are more).
    pub exact: bool,
    /// Whether a next page follows.
    pub more: bool,
}

const EXPERIENCE_COLUMNS: &str = "e.id, e.unit_id, u.name AS unit_name, e.title, e.body, \
     e.tags, e.audience, e.directive_id, e.programme_id, e.event_id, e.media, e.created_by, \
     e.created_at";

fn media_from_text(text: &str) -> Result<Vec<MediaRow>, StoreError> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|_| corrupt("experience media"))?;
    let field = |entry: &serde_json::Value, name: &str| {
        entry[name].as_str().map(str::to_owned).unwrap_or_default()
    };
    Ok(value
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .map(|entry| MediaRow {
                    title: field(entry, "title"),
                    url: field(entry, "url"),
                })
                .collect()
        })
        .unwrap_or_default())
}

fn media_to_text(media: &[MediaRow]) -> String {
    let entries: Vec<serde_json::Value> = media
        .iter()
        .map(|m| serde_json::json!({"title": m.title, "url": m.url}))
        .collect();
    serde_json::Value::from(entries).to_string()
}

fn experience_from_row(row: &(impl Cells + ?Sized)) -> Result<ExperienceRow, StoreError> {
    let tags = row.get_text("tags")?;
    Ok(ExperienceRow {
        id: ExperienceId::new(row.get_int("id")?).ok_or_else(|| corrupt("experience id"))?,
        unit: unit_id(row.get_int("unit_id")?, "experience unit")?,
        unit_name: row.get_text("unit_name")?,
        title: row.get_text("title")?,
        body: row.get_text("body")?,
        tags: tags
            .split(';')
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect(),
        audience: row.get_text("audience")?,
        directive: row.get_int_opt("directive_id")?.and_then(DirectiveId::new),
        programme: row.get_int_opt("programme_id")?.and_then(ProgrammeId::new),
        event: row.get_int_opt("event_id")?,
        media: media_from_text(&row.get_text("media")?)?,
        created_by: row.get_text("created_by")?,
        created_at: row.get_text("created_at")?,
    })
}

/// The tokens of a text as the index keeps them.
fn indexed(text: &str) -> String {
    let mut tokens = index_tokens(text);
    tokens.truncate(MAX_INDEXED_TOKENS);
    tokens.join(" ")
}

/// The facet tokens of an experience: its audience, its writing unit, every unit from
/// the top of the tree down to it (read from its path), its tags, its directive and
/// programme. Each mixes letters and digits, as no token of a text or query does.
fn facets(
    path: &str,
    unit: UnitId,
    audience: &str,
    tags: &[String],
    directive: Option<DirectiveId>,
    programme: Option<ProgrammeId>,
) -> String {
    let mut tokens = vec![
        if audience == "organization" {
            "all0".to_owned()
        } else {
            "sub0".to_owned()
        },
        format!("w{}", unit.get()),
    ];
    tokens.extend(
        path.split('/')
            .filter(|segment| !segment.is_empty())
            .filter_map(|segment| i64::from_str_radix(segment, 36).ok())
            .map(|id| format!("a{id}")),
    );
    tokens.extend(tags.iter().map(|tag| tag_facet(tag)));
    tokens.extend(directive.map(|d| format!("d{}", d.get())));
    tokens.extend(programme.map(|p| format!("p{}", p.get())));
    tokens.join(" ")
}

/// A tag as a facet token: `t` and its bytes in hexadecimal, one token on both
/// backends whatever the tag's script or punctuation.
fn tag_facet(tag: &str) -> String {
    let mut token = String::with_capacity(1 + tag.len() * 2);
    token.push('t');
    for byte in tag.bytes() {
        token.push_str(&format!("{byte:02x}"));
    }
    // A tag of digits alone would give digits alone after `t`: still a token of
    // letters and digits together.
    token.push('0');
    token
}

/// The facets a filter asks for: every group required, any token of a group enough.
fn facet_groups(filter: &ExperienceFilter) -> Vec<Vec<String>> {
    let mut groups = Vec::new();
    match &filter.access {
        Some(access) => {
            let mut any = vec!["all0".to_owned()];
            any.extend(
                access
                    .authority
                    .iter()
                    .map(|unit| format!("a{}", unit.get())),
            );
            any.extend(access.units.iter().map(|unit| format!("w{}", unit.get())));
            groups.push(any);
        }
        // Everything: the one group every experience is in.
        None => groups.push(vec!["all0".to_owned(), "sub0".to_owned()]),
    }
    if let Some(tag) = &filter.tag {
        groups.push(vec![tag_facet(tag)]);
    }
    if let Some(under) = filter.under {
        groups.push(vec![format!("a{}", under.get())]);
    }
    if let Some(directive) = filter.directive {
        groups.push(vec![format!("d{}", directive.get())]);
    }
    if let Some(programme) = filter.programme {
        groups.push(vec![format!("p{}", programme.get())]);
    }
    groups
}

/// A query in the index's own language: every term required, a phrase's tokens one
/// after the other, and the filter's facets. Tokens hold only letters and digits, so
/// none can be read as an operator.
fn match_expression(backend: Backend, query: Option<&Query>, filter: &ExperienceFilter) -> String {
    let mut parts: Vec<String> = query
        .map(|query| {
            query
                .terms
                .iter()
                .map(|term| match (backend, term) {
                    (Backend::Sqlite, term) => {
                        format!("{{title body}} : \"{}\"", term.tokens().join(" "))
                    }
                    (Backend::Postgres, Term::Word(word)) => format!("'{word}'"),
                    (Backend::Postgres, Term::Phrase(tokens)) => {
                        let quoted: Vec<String> = tokens.iter().map(|t| format!("'{t}'")).collect();
                        format!("({})", quoted.join(" <-> "))
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    for group in facet_groups(filter) {
        let any: Vec<String> = group
            .iter()
            .map(|token| match backend {
                Backend::Sqlite => format!("facets : \"{token}\""),
                Backend::Postgres => format!("'{token}'"),
            })
            .collect();
        parts.push(match backend {
            Backend::Sqlite => format!("({})", any.join(" OR ")),
            Backend::Postgres => format!("({})", any.join(" | ")),
        });
    }
    match backend {
        Backend::Sqlite => parts.join(" AND "),
        Backend::Postgres => parts.join(" & "),
    }
}

/// The query's own terms for PostgreSQL's ranking, without the facets.
fn rank_expression(query: &Query) -> String {
    match_expression(
        Backend::Postgres,
        Some(query),
        &ExperienceFilter {
            access: None,
            ..ExperienceFilter::default()
        },
    )
    .rsplit_once(" & ")
    .map(|(terms, _)| terms.to_owned())
    .unwrap_or_default()
}

impl Store {
    pub async fn experience(&self, id: ExperienceId) -> Result<Option<ExperienceRow>, StoreError> {
        let sql = format!(
            "SELECT {EXPERIENCE_COLUMNS} FROM experiences e JOIN units u ON u.id = e.unit_id \
             WHERE e.id = $1"
        );
        let mut reading = self.pool.begin().await?;
        let mut rows = reading
            .fetch(&sql, vec![id.get().into()], |row| experience_from_row(row))
            .await?;
        Ok(rows.pop())
    }

    /// The experiences the filter lets through, `limit` of them from `offset` on: with
    /// a query, those holding every term, best first among the newest
    /// [`SEARCH_WINDOW`] that do; without, the newest first. The page and the count
    /// are read in one snapshot.
    pub async fn experiences(
        &self,
        filter: &ExperienceFilter,
        query: Option<&Query>,
        offset: u64,
        limit: u32,
    ) -> Result<ExperiencePage, StoreError> {
        let expression = match_expression(self.backend, query, filter);
        let window = SEARCH_WINDOW + 1;
        let mut reading = match self.backend {
            Backend::Sqlite => self.pool.begin().await?,
            Backend::Postgres => {
                self.pool
                    .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .await?
            }
        };
        let (ids, total, more) = match query {
            Some(query) => {
                // The newest matches, each with its score (lower is better), ranked here.
                let (sql, params): (&str, Vec<Param>) = match self.backend {
                    Backend::Sqlite => (
                        "SELECT rowid AS id, bm25(experience_search, 4.0, 1.0, 0.0) AS score \
                         FROM experience_search WHERE experience_search MATCH $1 \
                         ORDER BY rowid DESC LIMIT $2",
                        vec![expression.into(), (window as i64).into()],
                    ),
                    Backend::Postgres => (
                        "SELECT c.id, CAST(-ts_rank(c.search, to_tsquery('simple', $2)) \
                         AS DOUBLE PRECISION) AS score FROM (SELECT experience_id AS id, search \
                         FROM experience_search WHERE search @@ to_tsquery('simple', $1) \
                         ORDER BY experience_id DESC LIMIT $3) c",
                        vec![
                            expression.into(),
                            rank_expression(query).into(),
                            (window as i64).into(),
                        ],
                    ),
                };
                let mut scored = reading
                    .fetch(sql, params, |row| {
                        Ok((
                            row.get_int("id")?,
                            row.get_real_opt("score")?.unwrap_or(0.0),
                        ))
                    })
                    .await?;
                let matched = scored.len() as u64;
                scored.truncate(SEARCH_WINDOW as usize);
                scored.sort_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)));
                let held = scored.len() as u64;
                let page: Vec<i64> = scored
                    .into_iter()
                    .skip(offset as usize)
                    .take(limit as usize)
                    .map(|(id, _)| id)
                    .collect();
                (page, matched, offset + u64::from(limit) < held)
            }
            None => {
                let (page_sql, count_sql) = match self.backend {
                    Backend::Sqlite => (
                        format!(
                            "SELECT rowid AS id FROM experience_search \
                             WHERE experience_search MATCH $1 ORDER BY rowid DESC \
                             LIMIT {} OFFSET {offset}",
                            u64::from(limit) + 1
                        ),
                        "SELECT COUNT(*) AS total FROM (SELECT rowid FROM experience_search \
                         WHERE experience_search MATCH $1 ORDER BY rowid DESC LIMIT $2) c",
                    ),
                    Backend::Postgres => (
                        format!(
                            "SELECT experience_id AS id FROM experience_search \
                             WHERE search @@ to_tsquery('simple', $1) \
                             ORDER BY experience_id DESC LIMIT {} OFFSET {offset}",
                            u64::from(limit) + 1
                        ),
                        "SELECT COUNT(*) AS total FROM (SELECT experience_id FROM \
                         experience_search WHERE search @@ to_tsquery('simple', $1) \
                         ORDER BY experience_id DESC LIMIT $2) c",
                    ),
                };
                let mut page = reading
                    .fetch(&page_sql, vec![expression.as_str().into()], |row| {
                        row.get_int("id")
                    })
                    .await?;
                let more = page.len() > limit as usize;
                page.truncate(limit as usize);
                let total = reading
                    .fetch(
                        count_sql,
                        vec![expression.into(), (window as i64).into()],
                        |row| row.get_int("total"),
                    )
                    .await?
                    .pop()
                    .unwrap_or(0)
                    .max(0) as u64;
                (page, total, more)
            }
        };
        let rows = if ids.is_empty() {
            Vec::new()
        } else {
            let sql = format!(
                "SELECT {EXPERIENCE_COLUMNS} FROM experiences e JOIN units u ON u.id = e.unit_id \
                 WHERE e.id IN ({})",
                crate::json_ids(self.backend, "$1")
            );
            let mut found = reading
                .fetch(
                    &sql,
                    vec![serde_json::Value::from(ids.clone()).to_string().into()],
                    |row| experience_from_row(row),
                )
                .await?;
            // In the order ranked.
            found.sort_by_key(|row| ids.iter().position(|id| *id == row.id.get()));
            found
        };
        reading.commit().await?;
        Ok(ExperiencePage {
            rows,
            total: total.min(SEARCH_WINDOW),
            exact: total <= SEARCH_WINDOW,
            more,
        })
    }

    /// The tags of the experiences shared with the whole organization, by how often
    /// each is used: for the library's filter, the same for every reader.
    pub async fn experience_tags(&self, limit: u32) -> Result<Vec<(String, u64)>, StoreError> {
        let sql = format!(
            "SELECT t.tag, COUNT(*) AS uses FROM experience_tags t \
             JOIN experiences e ON e.id = t.experience_id WHERE e.audience = 'organization' \
             GROUP BY t.tag ORDER BY uses DESC, t.tag LIMIT {limit}"
        );
        let mut reading = self.pool.begin().await?;
        reading
            .fetch(&sql, Vec::new(), |row| {
                Ok((row.get_text("tag")?, row.get_int("uses")?.max(0) as u64))
            })
            .await
    }

    /// The plain way, for the benchmark: every experience whose title or body holds
    /// each word (`LIKE`, ignoring case), newest first.
    pub async fn baseline_like_search(
        &self,
        words: &[String],
        limit: u32,
    ) -> Result<Vec<ExperienceId>, StoreError> {
        let mut params: Vec<Param> = Vec::new();
        let clauses: Vec<String> = words
            .iter()
            .map(|word| {
                let pattern = format!("%{}%", crate::units::escape_like(&word.to_lowercase()));
                params.push(pattern.into());
                let p = params.len();
                format!(
                    "(lower(e.title) LIKE ${p} ESCAPE '\\' OR lower(e.body) LIKE ${p} ESCAPE '\\')"
                )
            })
            .collect();
        let sql = format!(
            "SELECT e.id FROM experiences e WHERE e.audience = 'organization' AND {} \
             ORDER BY e.id DESC LIMIT {limit}",
            if clauses.is_empty() {
                "1 = 1".to_owned()
            } else {
                clauses.join(" AND ")
            }
        );
        let mut reading = self.pool.begin().await?;
        reading
            .fetch(&sql, params, |row| {
                ExperienceId::new(row.get_int("id")?).ok_or_else(|| corrupt("experience id"))
            })
            .await
    }
}

impl WriteTx {
    /// Writes an experience, its tags and its entry in the index.
    pub async fn insert_experience(
        &mut self,
        new: &NewExperienceRow<'_>,
    ) -> Result<ExperienceId, StoreError> {
        let mut params: Vec<Param> = vec![
            new.unit.get().into(),
            new.title.into(),
            new.body.into(),
            new.tags.join(";").into(),
            new.audience.into(),
        ];
        let directive = slot(&mut params, new.directive.map(DirectiveId::get).into());
        let programme = slot(&mut params, new.programme.map(ProgrammeId::get).into());
        let event = slot(&mut params, new.event.into());
        params.push(media_to_text(new.media).into());
        let media = params.len();
        params.push(new.created_by.into());
        params.push(new.created_at.into());
        let sql = format!(
            "INSERT INTO experiences (unit_id, title, body, tags, audience, directive_id, \
             programme_id, event_id, media, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, {directive}, {programme}, {event}, ${media}, ${}, ${}) \
             RETURNING id",
            media + 1,
            media + 2
        );
        let id = self
            .tx
            .fetch(&sql, params, |row| row.int(0))
            .await?
            .pop()
            .and_then(ExperienceId::new)
            .ok_or_else(|| corrupt("new experience id"))?;
        for tag in new.tags {
            self.tx
                .execute(
                    "INSERT INTO experience_tags (tag, experience_id) VALUES ($1, $2)",
                    vec![tag.as_str().into(), id.get().into()],
                )
                .await?;
        }
        let path = self
            .tx
            .fetch(
                "SELECT path FROM units WHERE id = $1",
                vec![new.unit.get().into()],
                |row| row.get_text("path"),
            )
            .await?
            .pop()
            .ok_or_else(|| corrupt("experience unit"))?;
        let facets = facets(
            &path,
            new.unit,
            new.audience,
            new.tags,
            new.directive,
            new.programme,
        );
        self.index_experience(id, new.title, new.body, &facets)
            .await?;
        Ok(id)
    }

    async fn index_experience(
        &mut self,
        id: ExperienceId,
        title: &str,
        body: &str,
        facets: &str,
    ) -> Result<(), StoreError> {
        let sql = match self.backend {
            Backend::Sqlite => {
                "INSERT INTO experience_search (rowid, title, body, facets) VALUES ($1, $2, $3, $4)"
            }
            Backend::Postgres => {
                "INSERT INTO experience_search (experience_id, search) VALUES ($1, \
                 setweight(to_tsvector('simple', $2), 'A') || to_tsvector('simple', $3) \
                 || setweight(to_tsvector('simple', $4), 'C'))"
            }
        };
        self.tx
            .execute(
                sql,
                vec![
                    id.get().into(),
                    indexed(title).into(),
                    indexed(body).into(),
                    facets.into(),
                ],
            )
            .await?;
        Ok(())
    }

    /// The index entries of the experiences written by units in a path range (all when
    /// `None`), made again from the experiences: what they are narrowed by depends on
    /// where their units sit.
    async fn reindex(&mut self, range: Option<&(String, String)>) -> Result<u64, StoreError> {
        let (clause, params): (&str, Vec<Param>) = match range {
            Some((start, end)) => (
                "WHERE u.path >= $1 AND u.path < $2",
                vec![start.as_str().into(), end.as_str().into()],
            ),
            None => ("", Vec::new()),
        };
        let sql = format!(
            "SELECT {EXPERIENCE_COLUMNS}, u.path AS unit_path FROM experiences e \
             JOIN units u ON u.id = e.unit_id {clause} ORDER BY e.id"
        );
        let rows = self
            .tx
            .fetch(&sql, params, |row| {
                Ok((experience_from_row(row)?, row.get_text("unit_path")?))
            })
            .await?;
        let delete = match self.backend {
            Backend::Sqlite => "DELETE FROM experience_search WHERE rowid = $1",
            Backend::Postgres => "DELETE FROM experience_search WHERE experience_id = $1",
        };
        for (row, path) in &rows {
            if range.is_some() {
                self.tx.execute(delete, vec![row.id.get().into()]).await?;
            }
            let facets = facets(
                path,
                row.unit,
                &row.audience,
                &row.tags,
                row.directive,
                row.programme,
            );
            self.index_experience(row.id, &row.title, &row.body, &facets)
                .await?;
        }
        Ok(rows.len() as u64)
    }

    /// Indexes again the experiences written in a subtree that moved.
    pub(crate) async fn reindex_experiences_under(
        &mut self,
        range: &(String, String),
    ) -> Result<u64, StoreError> {
        self.reindex(Some(range)).await
    }

    /// Builds the index of every experience again: after a restore, which copies the
    /// experiences but not what is derived from them.
    pub async fn reindex_experiences(&mut self) -> Result<u64, StoreError> {
        let clear = match self.backend {
            Backend::Sqlite => "DELETE FROM experience_search",
            Backend::Postgres => "DELETE FROM experience_search",
        };
        self.tx.execute(clear, Vec::new()).await?;
        self.reindex(None).await
    }
}

/// One award of a title, with the names of the unit and the awarding unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwardRow {
    pub id: AwardId,
    pub unit: UnitId,
    pub unit_name: String,
    pub name: String,
    pub awarded_by: UnitId,
    pub awarded_by_name: String,
    pub awarded_on: String,
    pub period: Option<(String, String)>,
    pub grounds: String,
    pub created_by: String,
    pub created_at: String,
    /// When, why and by whom it was withdrawn.
    pub withdrawn: Option<(String, String, String)>,
}

/// An award to write.
#[derive(Debug, Clone)]
pub struct NewAwardRow<'a> {
    pub unit: UnitId,
    pub name: &'a str,
    pub awarded_by: UnitId,
    pub awarded_on: &'a str,
    pub period: Option<(&'a str, &'a str)>,
    pub grounds: &'a str,
    pub created_by: &'a str,
    pub created_at: &'a str,
}

const AWARD_COLUMNS: &str = "a.id, a.unit_id, u.name AS unit_name, a.name, a.awarded_by, \
     b.name AS awarded_by_name, a.awarded_on, a.period_from, a.period_to, a.grounds, \
     a.created_by, a.created_at, a.withdrawn_at, a.withdrawn_reason, a.withdrawn_by";
const AWARD_FROM: &str =
    "title_awards a JOIN units u ON u.id = a.unit_id JOIN units b ON b.id = a.awarded_by";

fn award_from_row(row: &(impl Cells + ?Sized)) -> Result<AwardRow, StoreError> {
    let period = match (
        row.get_text_opt("period_from")?,
        row.get_text_opt("period_to")?,
    ) {
        (Some(from), Some(to)) => Some((from, to)),
        _ => None,
    };
    let withdrawn = match row.get_text_opt("withdrawn_at")? {
        Some(at) => Some((
            at,
            row.get_text_opt("withdrawn_reason")?.unwrap_or_default(),
            row.get_text_opt("withdrawn_by")?.unwrap_or_default(),
        )),
        None => None,
    };
    Ok(AwardRow {
        id: AwardId::new(row.get_int("id")?).ok_or_else(|| corrupt("award id"))?,
        unit: unit_id(row.get_int("unit_id")?, "award unit")?,
        unit_name: row.get_text("unit_name")?,
        name: row.get_text("name")?,
        awarded_by: unit_id(row.get_int("awarded_by")?, "awarding unit")?,
        awarded_by_name: row.get_text("awarded_by_name")?,
        awarded_on: row.get_text("awarded_on")?,
        period,
        grounds: row.get_text("grounds")?,
        created_by: row.get_text("created_by")?,
        created_at: row.get_text("created_at")?,
        withdrawn,
    })
}

impl Store {
    pub async fn award(&self, id: AwardId) -> Result<Option<AwardRow>, StoreError> {
        let sql = format!("SELECT {AWARD_COLUMNS} FROM {AWARD_FROM} WHERE a.id = $1");
        let mut reading = self.pool.begin().await?;
        Ok(reading
            .fetch(&sql, vec![id.get().into()], |row| award_from_row(row))
            .await?
            .pop())
    }

    /// Every award to these units, withdrawn ones too, oldest first.
    pub async fn awards_of_units(&self, units: &[UnitId]) -> Result<Vec<AwardRow>, StoreError> {
        if units.is_empty() {
            return Ok(Vec::new());
        }
        let list: Vec<i64> = units.iter().map(|unit| unit.get()).collect();
        let sql = format!(
            "SELECT {AWARD_COLUMNS} FROM {AWARD_FROM} WHERE a.unit_id IN ({}) \
             ORDER BY a.awarded_on, a.id",
            crate::json_ids(self.backend, "$1")
        );
        let mut reading = self.pool.begin().await?;
        reading
            .fetch(
                &sql,
                vec![serde_json::Value::from(list).to_string().into()],
                |row| award_from_row(row),
            )
            .await
    }

    /// The (title, unit) pairs held now — with an award not withdrawn — by title, then
    /// in tree order, `limit` of them from `offset` on.
    pub async fn titled_units(
        &self,
        name: Option<&str>,
        under: Option<&(String, String)>,
        offset: u64,
        limit: u32,
    ) -> Result<Vec<(String, UnitId)>, StoreError> {
        let mut params: Vec<Param> = Vec::new();
        let mut clauses = vec!["a.withdrawn_at IS NULL".to_owned()];
        if let Some(name) = name {
            params.push(name.into());
            clauses.push(format!("a.name = ${}", params.len()));
        }
        if let Some((start, end)) = under {
            params.push(start.as_str().into());
            params.push(end.as_str().into());
            clauses.push(format!(
                "u.path >= ${} AND u.path < ${}",
                params.len() - 1,
                params.len()
            ));
        }
        let sql = format!(
            "SELECT a.name, a.unit_id, u.path FROM title_awards a JOIN units u ON u.id = a.unit_id \
             WHERE {} GROUP BY a.name, a.unit_id, u.path ORDER BY a.name, u.path \
             LIMIT {limit} OFFSET {offset}",
            clauses.join(" AND ")
        );
        let mut reading = self.pool.begin().await?;
        reading
            .fetch(&sql, params, |row| {
                Ok((
                    row.get_text("name")?,
                    unit_id(row.get_int("unit_id")?, "award unit")?,
                ))
            })
            .await
    }

    /// The names of the titles held now, with how many units hold each.
    pub async fn title_names(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let mut reading = self.pool.begin().await?;
        reading
            .fetch(
                "SELECT name, COUNT(DISTINCT unit_id) AS holders FROM title_awards \
                 WHERE withdrawn_at IS NULL GROUP BY name ORDER BY name",
                Vec::new(),
                |row| Ok((row.get_text("name")?, row.get_int("holders")?.max(0) as u64)),
            )
            .await
    }
}

impl WriteTx {
    pub async fn insert_award(&mut self, new: &NewAwardRow<'_>) -> Result<AwardId, StoreError> {
        let mut params: Vec<Param> = vec![
            new.unit.get().into(),
            new.name.into(),
            new.awarded_by.get().into(),
            new.awarded_on.into(),
        ];
        let from = slot(&mut params, new.period.map(|(from, _)| from).into());
        let to = slot(&mut params, new.period.map(|(_, to)| to).into());
        params.push(new.grounds.into());
        let grounds = params.len();
        params.push(new.created_by.into());
        params.push(new.created_at.into());
        let sql = format!(
            "INSERT INTO title_awards (unit_id, name, awarded_by, awarded_on, period_from, \
             period_to, grounds, created_by, created_at) \
             VALUES ($1, $2, $3, $4, {from}, {to}, ${grounds}, ${}, ${}) RETURNING id",
            grounds + 1,
            grounds + 2
        );
        self.tx
            .fetch(&sql, params, |row| row.int(0))
            .await?
            .pop()
            .and_then(AwardId::new)
            .ok_or_else(|| corrupt("new award id"))
    }

    /// Withdraws an award not withdrawn yet; whether it was.
    pub async fn withdraw_award(
        &mut self,
        id: AwardId,
        at: &str,
        reason: &str,
        by: &str,
    ) -> Result<bool, StoreError> {
        let changed = self
            .tx
            .execute(
                "UPDATE title_awards SET withdrawn_at = $2, withdrawn_reason = $3, \
                 withdrawn_by = $4 WHERE id = $1 AND withdrawn_at IS NULL",
                vec![id.get().into(), at.into(), reason.into(), by.into()],
            )
            .await?;
        Ok(changed == 1)
    }

    /// How many awards of this title the unit holds now (not withdrawn).
    pub async fn held_awards(&mut self, unit: UnitId, name: &str) -> Result<u32, StoreError> {
        let count = self
            .tx
            .fetch(
                "SELECT COUNT(*) AS held FROM title_awards \
                 WHERE unit_id = $1 AND name = $2 AND withdrawn_at IS NULL",
                vec![unit.get().into(), name.into()],
                |row| row.get_int("held"),
            )
            .await?
            .pop()
            .unwrap_or(0);
        Ok(u32::try_from(count).unwrap_or(u32::MAX))
    }

    pub async fn award(&mut self, id: AwardId) -> Result<Option<AwardRow>, StoreError> {
        let sql = format!("SELECT {AWARD_COLUMNS} FROM {AWARD_FROM} WHERE a.id = $1");
        Ok(self
            .tx
            .fetch(&sql, vec![id.get().into()], |row| award_from_row(row))
            .await?
            .pop())
    }
}
