//! The library of good experience: what a unit learned, written down, tagged, linked to
//! the directive, programme or event it came from, with its videos and photos, and
//! searched in full text in Korean and English.
//!
//! Good experience is shared: every account reads an experience written for the whole
//! organization. One kept to the `subtree` is read only in the writing unit's subtree
//! (any post there) and by those with authority over the writing unit; the store is
//! told exactly that before it ranks, counts or pages, so an outsider's results never
//! hold one, not even in the count.
//!
//! Search words are made by `ganglion_core::text`, the same for the index and the
//! query on both backends; the snippets are cut and marked here, from the text itself.

mod demo;
mod views;

pub use demo::sample_experience;
pub(crate) use demo::DemoLinks;

use ganglion_core::text::{query_tokens, snippet, Span};
use ganglion_core::{Action, DirectiveId, ExperienceId, ProgrammeId, Resource, UnitId};
use ganglion_store::{ExperienceFilter, ExperienceRow, MediaRow, NewExperienceRow, SubtreeAccess};

pub use views::*;

use crate::features::check_text;
use crate::features::units::parse_unit_id;
use crate::page::{checked_limit, decode_number_cursor, encode_cursor};
use crate::ErrorCode;
use crate::{App, AppError, Audit, Ctx, Progress};

/// The use cases of the experience library.
pub struct Experiences<'a> {
    app: &'a App,
}

impl App {
    pub fn experiences(&self) -> Experiences<'_> {
        Experiences { app: self }
    }
}

const MAX_TITLE: usize = 200;
const MAX_BODY: usize = 20_000;
const MAX_TAGS: usize = 16;
const MAX_TAG_CHARS: usize = 40;
const MAX_MEDIA: usize = 20;
const MAX_URL: usize = 2_000;
/// The longest query read, in characters.
pub const MAX_QUERY_CHARS: usize = 1_000;
/// How many characters of the body a snippet shows.
const SNIPPET_CHARS: usize = 200;

/// A text of an experience: trimmed, within its length, without control characters
/// (other than line breaks and tabs, which a body may hold).
fn check_prose(field: &str, text: &str, max: usize, required: bool) -> Result<String, AppError> {
    let text = check_text(field, text, max, required)?;
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(AppError::invalid(
            ErrorCode::InvalidValue,
            field,
            format!("{field} must not contain control characters"),
        ));
    }
    Ok(text)
}

/// A tag as the library keeps it: lowercase letters (of any script), digits and
/// `-_:.`.
pub(crate) fn check_tag(field: &str, text: &str) -> Result<String, AppError> {
    let tag = text.trim().to_lowercase();
    let valid = !tag.is_empty()
        && tag.chars().count() <= MAX_TAG_CHARS
        && tag
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | ':' | '.'));
    if valid {
        Ok(tag)
    } else {
        Err(AppError::invalid(
            ErrorCode::InvalidValue,
            field,
            format!(
                "a tag is 1 to {MAX_TAG_CHARS} letters, digits, '-', '_', ':' or '.'; {text:?} is not"
            ),
        ))
    }
}

fn check_url(field: &str, url: &str) -> Result<String, AppError> {
    let url = url.trim();
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    let valid = rest.is_some_and(|rest| !rest.is_empty())
        && url.chars().count() <= MAX_URL
        && !url.chars().any(|c| c.is_whitespace() || c.is_control());
    if valid {
        Ok(url.to_owned())
    } else {
        Err(AppError::invalid(
            ErrorCode::InvalidValue,
            field,
            "a media address is an http:// or https:// URL of at most 2,000 characters",
        ))
    }
}

fn audience_of(text: Option<&str>) -> Result<&'static str, AppError> {
    match text {
        None | Some("organization") => Ok("organization"),
        Some("subtree") => Ok("subtree"),
        Some(_) => Err(AppError::invalid(
            ErrorCode::InvalidValue,
            "audience",
            "the audience is organization or subtree",
        )),
    }
}

fn parse_directive(id: &str) -> Result<DirectiveId, AppError> {
    id.parse().map_err(|_| {
        AppError::invalid(
            ErrorCode::InvalidId,
            "directive",
            format!("{id:?} is not a directive id"),
        )
    })
}

fn parse_programme(id: &str) -> Result<ProgrammeId, AppError> {
    id.parse().map_err(|_| {
        AppError::invalid(
            ErrorCode::InvalidId,
            "programme",
            format!("{id:?} is not a programme id"),
        )
    })
}

/// An experience checked and ready to write.
struct Checked {
    unit: UnitId,
    title: String,
    body: String,
    tags: Vec<String>,
    audience: &'static str,
    directive: Option<DirectiveId>,
    programme: Option<ProgrammeId>,
    media: Vec<MediaRow>,
}

/// What a run of checks has seen allowed already.
#[derive(Default)]
struct Seen {
    units: std::collections::HashSet<UnitId>,
    directives: std::collections::HashSet<String>,
    programmes: std::collections::HashSet<String>,
}

fn parse_experience_id(text: &str) -> Result<ExperienceId, AppError> {
    text.parse()
        .map_err(|_| AppError::NotFound { what: "experience" })
}

/// Text as HTML: what a reader wrote is never markup.
pub(crate) fn escape_html(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// Marked pieces of text as HTML, each match in `<mark>`.
pub fn marked_html(spans: &[Span]) -> String {
    let mut out = String::new();
    for span in spans {
        if span.matched {
            out.push_str("<mark>");
            escape_html(&span.text, &mut out);
            out.push_str("</mark>");
        } else {
            escape_html(&span.text, &mut out);
        }
    }
    out
}

fn view(row: ExperienceRow) -> ExperienceView {
    ExperienceView {
        id: row.id.to_string(),
        unit: row.unit.to_string(),
        unit_name: row.unit_name,
        title: row.title,
        body: row.body,
        tags: row.tags,
        audience: row.audience,
        directive: row.directive.map(|d| d.to_string()),
        programme: row.programme.map(|p| p.to_string()),
        event: row.event.map(|e| e.to_string()),
        media: row
            .media
            .into_iter()
            .map(|m| Media {
                title: m.title,
                url: m.url,
            })
            .collect(),
        created_at: row.created_at,
    }
}

impl Experiences<'_> {
    /// Whether the caller may read an experience: every account one written for the
    /// organization; one kept to the subtree, whoever holds a post in the writing
    /// unit's subtree or has authority over the writing unit.
    fn may_read(&self, ctx: &Ctx, unit: UnitId, audience: &str) -> bool {
        if ctx.actor == crate::Actor::Anonymous {
            return false;
        }
        if audience == "organization" || ctx.principal.admin {
            return true;
        }
        let tree = self.app.tree();
        self.app.allowed(ctx, Action::Read, Resource::Unit(unit))
            || ctx
                .principal
                .posts
                .iter()
                .any(|post| tree.is_within(post.unit, unit))
    }

    /// The same rule for the store: the units the caller has authority over (their
    /// subtrees), and every unit at or above one of the caller's posts.
    fn access(&self, ctx: &Ctx) -> Option<SubtreeAccess> {
        if ctx.principal.admin {
            return None;
        }
        let tree = self.app.tree();
        let authority = ctx
            .principal
            .authority_units()
            .filter(|unit| tree.contains(*unit))
            .collect();
        let mut units: Vec<UnitId> = Vec::new();
        for post in &ctx.principal.posts {
            let mut at = Some(post.unit).filter(|unit| tree.contains(*unit));
            while let Some(unit) = at {
                if !units.contains(&unit) {
                    units.push(unit);
                }
                at = tree.parent(unit);
            }
        }
        Some(SubtreeAccess { authority, units })
    }

    /// Everything an experience must be before it is written: the caller acts for its
    /// unit, its texts and links are valid. `seen` remembers what was checked already
    /// (an import names the same units and directives again and again).
    async fn check(
        &self,
        ctx: &Ctx,
        input: NewExperience,
        seen: &mut Seen,
    ) -> Result<Checked, AppError> {
        let app = self.app;
        let unit = parse_unit_id(&input.unit, "unit")?;
        if !seen.units.contains(&unit) {
            app.check_reference(ctx, unit, "unit", "experience.create")
                .await?;
            seen.units.insert(unit);
        }
        let title = check_prose("title", &input.title, MAX_TITLE, true)?;
        let body = check_prose("body", &input.body, MAX_BODY, true)?;
        let audience = audience_of(input.audience.as_deref())?;
        let mut tags = Vec::new();
        for (index, tag) in input.tags.unwrap_or_default().iter().enumerate() {
            let tag = check_tag(&format!("tags.{index}"), tag)?;
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        }
        tags.sort();
        if tags.len() > MAX_TAGS {
            return Err(AppError::invalid(
                ErrorCode::InvalidValue,
                "tags",
                format!("an experience has at most {MAX_TAGS} tags"),
            ));
        }
        let media_input = input.media.unwrap_or_default();
        if media_input.len() > MAX_MEDIA {
            return Err(AppError::invalid(
                ErrorCode::InvalidValue,
                "media",
                format!("an experience shows at most {MAX_MEDIA} media"),
            ));
        }
        let mut media = Vec::with_capacity(media_input.len());
        for (index, item) in media_input.iter().enumerate() {
            media.push(MediaRow {
                title: check_prose(
                    &format!("media.{index}.title"),
                    &item.title,
                    MAX_TITLE,
                    true,
                )?,
                url: check_url(&format!("media.{index}.url"), &item.url)?,
            });
        }
        let directive = match &input.directive {
            Some(id) if seen.directives.contains(id.as_str()) => Some(parse_directive(id)?),
            Some(id) => {
                let directive = self.linked_directive(ctx, id).await?;
                seen.directives.insert(id.clone());
                Some(directive)
            }
            None => None,
        };
        let programme = match &input.programme {
            Some(id) if seen.programmes.contains(id.as_str()) => Some(parse_programme(id)?),
            Some(id) => {
                let programme = self.linked_programme(ctx, id).await?;
                seen.programmes.insert(id.clone());
                Some(programme)
            }
            None => None,
        };
        if let Some(event) = &input.event {
            // No event is recorded yet, so none can be named: the field is accepted
            // once events are, for those the caller may see.
            return Err(AppError::invalid(
                ErrorCode::UnknownEvent,
                "event",
                format!("there is no event {event:?}"),
            ));
        }
        Ok(Checked {
            unit,
            title,
            body,
            tags,
            audience,
            directive,
            programme,
            media,
        })
    }

    /// Writes a checked experience in the write's transaction.
    async fn insert(
        &self,
        tx: &mut ganglion_store::WriteTx,
        ctx: &Ctx,
        checked: &Checked,
        now: &str,
    ) -> Result<ExperienceId, AppError> {
        Ok(tx
            .insert_experience(&NewExperienceRow {
                unit: checked.unit,
                title: &checked.title,
                body: &checked.body,
                tags: &checked.tags,
                audience: checked.audience,
                directive: checked.directive,
                programme: checked.programme,
                event: None,
                media: &checked.media,
                created_by: &ctx.actor.label(),
                created_at: now,
            })
            .await?)
    }

    /// Writes an experience for a unit the caller acts for.
    pub async fn create(
        &self,
        ctx: &Ctx,
        input: NewExperience,
    ) -> Result<ExperienceView, AppError> {
        let app = self.app;
        let checked = self.check(ctx, input, &mut Seen::default()).await?;
        let now = app.now_text();
        let mut tx = app.store.write().await?;
        let id = self.insert(&mut tx, ctx, &checked, &now).await?;
        let unit = checked.unit;
        let view = ExperienceView {
            id: id.to_string(),
            unit: unit.to_string(),
            unit_name: app.tree().name(unit).to_owned(),
            title: checked.title,
            body: checked.body,
            tags: checked.tags,
            audience: checked.audience.to_owned(),
            directive: checked.directive.map(|d| d.to_string()),
            programme: checked.programme.map(|p| p.to_string()),
            event: None,
            media: checked
                .media
                .into_iter()
                .map(|m| Media {
                    title: m.title,
                    url: m.url,
                })
                .collect(),
            created_at: now,
        };
        let audit =
            Audit::new("experience.create", format!("experience:{id}"), Some(unit)).after(&view);
        app.finish_write(tx, ctx, audit, view).await
    }

    /// Writes many experiences at once, all or nothing, with one audit entry: a
    /// library brought over from elsewhere. A bad one is refused with its place in the
    /// list (`items.N.field`), and nothing is written.
    pub async fn import(
        &self,
        ctx: &Ctx,
        inputs: Vec<NewExperience>,
        progress: &dyn Progress,
    ) -> Result<u64, AppError> {
        let app = self.app;
        app.require_signed_in(ctx)?;
        progress.stage("checking the experiences", inputs.len() as u64);
        let mut seen = Seen::default();
        let mut checked = Vec::with_capacity(inputs.len());
        for (index, input) in inputs.into_iter().enumerate() {
            let one = self
                .check(ctx, input, &mut seen)
                .await
                .map_err(|error| match error {
                    AppError::Invalid {
                        code,
                        message,
                        field,
                    } => AppError::Invalid {
                        code,
                        message,
                        field: Some(format!("items.{index}.{}", field.unwrap_or_default())),
                    },
                    other => other,
                })?;
            checked.push(one);
        }
        progress.stage("writing the experiences", checked.len() as u64);
        let now = app.now_text();
        let mut tx = app.store.write().await?;
        for (index, one) in checked.iter().enumerate() {
            self.insert(&mut tx, ctx, one, &now).await?;
            if index % 1_000 == 999 {
                progress.advance(index as u64 + 1);
            }
        }
        let created = checked.len() as u64;
        let audit = Audit::new("experience.import", format!("experiences:{created}"), None)
            .after(&serde_json::json!({ "created": created }));
        app.finish_write(tx, ctx, audit, created).await
    }

    async fn linked_directive(&self, ctx: &Ctx, id: &str) -> Result<DirectiveId, AppError> {
        let unknown = || {
            AppError::invalid(
                ErrorCode::UnknownDirective,
                "directive",
                format!("there is no directive {id:?}"),
            )
        };
        let parsed = parse_directive(id)?;
        match self.app.directives().get(ctx, id).await {
            Ok(_) => Ok(parsed),
            Err(AppError::NotFound { .. }) => Err(unknown()),
            Err(other) => Err(other),
        }
    }

    async fn linked_programme(&self, ctx: &Ctx, id: &str) -> Result<ProgrammeId, AppError> {
        let parsed = parse_programme(id)?;
        match self.app.programmes().get(ctx, id).await {
            Ok(_) => Ok(parsed),
            Err(AppError::NotFound { .. }) => Err(AppError::invalid(
                ErrorCode::UnknownProgramme,
                "programme",
                format!("there is no programme {id:?}"),
            )),
            Err(other) => Err(other),
        }
    }

    /// One experience the caller may read.
    pub async fn get(&self, ctx: &Ctx, id: &str) -> Result<ExperienceView, AppError> {
        self.app.require_signed_in(ctx)?;
        let row = self
            .app
            .store
            .experience(parse_experience_id(id)?)
            .await?
            .filter(|row| self.may_read(ctx, row.unit, &row.audience))
            .ok_or(AppError::NotFound { what: "experience" })?;
        Ok(view(row))
    }

    /// Finds experiences the caller may read: with `q`, those holding every word, best
    /// first, each with a snippet of its text marking the match; without, the newest.
    pub async fn search(
        &self,
        ctx: &Ctx,
        query: ExperienceQuery,
    ) -> Result<ExperienceResults, AppError> {
        let app = self.app;
        app.require_signed_in(ctx)?;
        let limit = checked_limit(query.limit)?;
        let offset = decode_number_cursor::<u64>(query.cursor.as_deref())?.unwrap_or(0);
        let words = match &query.q {
            Some(q) if q.chars().count() > MAX_QUERY_CHARS => {
                return Err(AppError::invalid(
                    ErrorCode::InvalidValue,
                    "q",
                    format!("a query is at most {MAX_QUERY_CHARS} characters"),
                ))
            }
            Some(q) => Some(query_tokens(q)),
            None => None,
        };
        let mut filter = ExperienceFilter {
            tag: match &query.tag {
                Some(tag) => Some(check_tag("tag", tag)?),
                None => None,
            },
            ..ExperienceFilter::default()
        };
        if let Some(under) = &query.under {
            // Experiences are shared across the tree: any unit may narrow the search.
            let unit = parse_unit_id(under, "under")?;
            if !app.tree().contains(unit) {
                return Err(AppError::NotFound { what: "unit" });
            }
            filter.under = Some(unit);
        }
        if let Some(directive) = &query.directive {
            filter.directive = Some(directive.parse().map_err(|_| {
                AppError::invalid(ErrorCode::InvalidId, "directive", "not a directive id")
            })?);
        }
        if let Some(programme) = &query.programme {
            filter.programme = Some(programme.parse().map_err(|_| {
                AppError::invalid(ErrorCode::InvalidId, "programme", "not a programme id")
            })?);
        }
        if words.as_ref().is_some_and(|words| words.is_empty()) {
            // Nothing to search for: nothing is found.
            return Ok(ExperienceResults {
                items: Vec::new(),
                next_cursor: None,
                total: 0,
                total_exact: true,
            });
        }
        filter.access = self.access(ctx);
        let page = app
            .store
            .experiences(&filter, words.as_ref(), offset, limit)
            .await?;
        let seen = page.rows.len() as u64;
        let next_cursor = (offset + seen < page.total && seen > 0)
            .then(|| encode_cursor(&(offset + seen).to_string()));
        let empty = ganglion_core::text::Query::default();
        let words = words.unwrap_or(empty);
        let items = page
            .rows
            .into_iter()
            // The store was told who reads; the predicate decides once more.
            .filter(|row| self.may_read(ctx, row.unit, &row.audience))
            .map(|row| {
                let snippet = marked_html(&snippet(&row.body, &words, SNIPPET_CHARS));
                let view = view(row);
                ExperienceHit {
                    id: view.id,
                    unit: view.unit,
                    unit_name: view.unit_name,
                    title: view.title,
                    tags: view.tags,
                    audience: view.audience,
                    directive: view.directive,
                    programme: view.programme,
                    event: view.event,
                    media: view.media,
                    created_at: view.created_at,
                    snippet,
                }
            })
            .collect();
        Ok(ExperienceResults {
            items,
            next_cursor,
            total: page.total,
            total_exact: page.exact,
        })
    }

    /// The tags of the experiences shared with the whole organization, most used first.
    pub async fn tags(&self, ctx: &Ctx, limit: u32) -> Result<Vec<TagCount>, AppError> {
        self.app.require_signed_in(ctx)?;
        Ok(self
            .app
            .store
            .experience_tags(limit)
            .await?
            .into_iter()
            .map(|(tag, experiences)| TagCount { tag, experiences })
            .collect())
    }
}
