//! People, their posts in units, and their accounts.

pub(crate) mod transfer;

use crate::ErrorCode;
use ganglion_core::{Action, Resource, Role, UnitId};
use ganglion_store::{AccountRow, PersonRow, PostRow};
use serde::{Deserialize, Serialize};

use crate::features::access;
use crate::features::units::parse_unit_id;
use crate::page::{checked_limit, decode_cursor, encode_cursor, Page};
use crate::{clock, App, AppError, Audit, Ctx};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PersonView {
    pub id: String,
    pub name: String,
}

impl From<PersonRow> for PersonView {
    fn from(row: PersonRow) -> Self {
        Self {
            id: row.id.to_string(),
            name: row.name,
        }
    }
}

/// The account acting, if the caller is one.
pub(crate) fn account_of(ctx: &Ctx) -> Option<i64> {
    match &ctx.actor {
        crate::Actor::Account { id, .. } => Some(*id),
        _ => None,
    }
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPerson {
    pub name: String,
}

/// A post held, or once held, by a person in a unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PostView {
    pub id: String,
    pub person: String,
    pub person_name: String,
    pub unit: String,
    pub unit_code: String,
    /// `secretary`, `official` or `member`.
    pub role: String,
    /// E.g. "chief secretary", "official of the life guidance section".
    pub title: String,
    pub start: String,
    /// `null` while the post is held.
    pub end: Option<String>,
}

impl From<PostRow> for PostView {
    fn from(row: PostRow) -> Self {
        Self {
            id: row.id.to_string(),
            person: row.person.to_string(),
            person_name: row.person_name,
            unit: row.unit.to_string(),
            unit_code: row.unit_code,
            role: row.role,
            title: row.title,
            start: row.start,
            end: row.end,
        }
    }
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPost {
    pub person: String,
    pub unit: String,
    /// `secretary`, `official` or `member`.
    pub role: String,
    pub title: Option<String>,
    /// `YYYY-MM-DD`; today when left out.
    pub start: Option<String>,
}

/// Ending a post; the end date is today when left out.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndPost {
    pub end: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AccountView {
    pub id: String,
    pub login: String,
    /// The person the account signs in as; `null` for the instance administrator.
    pub person: Option<String>,
}

impl From<&AccountRow> for AccountView {
    fn from(row: &AccountRow) -> Self {
        Self {
            id: row.id.to_string(),
            login: row.login.clone(),
            person: row.person.map(|p| p.to_string()),
        }
    }
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAccount {
    pub login: String,
    pub password: String,
    pub person: String,
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PeopleQuery {
    /// Only people holding or having held a post in this unit or under it.
    pub under: Option<String>,
    /// Only people whose name contains this text.
    pub q: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// Who a post is given to.
enum Appointee {
    Existing(i64),
    /// A person not yet recorded, by name.
    New(String),
}

pub const MIN_PASSWORD_CHARS: usize = 10;

fn parse_id(text: &str, field: &str) -> Result<i64, AppError> {
    text.parse::<i64>()
        .ok()
        .filter(|id| *id > 0 && !text.starts_with('0') && !text.starts_with('+'))
        .ok_or_else(|| {
            AppError::invalid(
                ErrorCode::InvalidId,
                field,
                format!("{text:?} is not an id"),
            )
        })
}

fn parse_path_id(text: &str, what: &'static str) -> Result<i64, AppError> {
    parse_id(text, "id").map_err(|_| AppError::NotFound { what })
}

/// The answer for a person named in a body that does not exist or may not be read.
fn unknown_person(person: i64) -> AppError {
    AppError::invalid(
        ErrorCode::UnknownPerson,
        "person",
        format!("there is no person {person}"),
    )
}

fn person_name(text: &str) -> Result<String, AppError> {
    ganglion_core::UnitName::parse(text)
        .map(|name| name.as_str().to_owned())
        .map_err(|error| {
            AppError::invalid(
                ErrorCode::InvalidValue,
                "name",
                error.0.replace("a name", "a person's name"),
            )
        })
}

impl App {
    pub async fn create_person(&self, ctx: &Ctx, input: NewPerson) -> Result<PersonView, AppError> {
        let name = person_name(&input.name)?;
        if !ctx.principal.admin && ctx.principal.authority_units().next().is_none() {
            self.authorize(
                ctx,
                Action::Write,
                Resource::Instance,
                "person",
                "person.create",
                "person".into(),
            )
            .await?;
        }
        let mut tx = self.store.write().await?;
        let id = tx
            .insert_person(&name, account_of(ctx), &self.now_text())
            .await?;
        let view = PersonView {
            id: id.to_string(),
            name,
        };
        let audit = Audit::new("person.create", format!("person:{id}"), None).after(&view);
        self.finish_write(tx, ctx, audit, view).await
    }

    /// A person the caller may see: one who holds or held a post in a unit the caller
    /// may read, or one the caller's account recorded.
    pub async fn person(&self, ctx: &Ctx, id: &str) -> Result<PersonView, AppError> {
        self.require_signed_in(ctx)?;
        let id = parse_path_id(id, "person")?;
        self.readable_person(ctx, id)
            .await?
            .map(PersonView::from)
            .ok_or(AppError::NotFound { what: "person" })
    }

    /// The person if the caller may read them; `None` exactly as for one that does not
    /// exist. The one predicate for a person, in a path or named in a body.
    pub(crate) async fn readable_person(
        &self,
        ctx: &Ctx,
        id: i64,
    ) -> Result<Option<PersonRow>, AppError> {
        let Some(person) = self.store.person(id).await? else {
            return Ok(None);
        };
        let mine = person.created_by.is_some() && person.created_by == account_of(ctx);
        if ctx.principal.admin || mine || !self.visible_posts(ctx, id).await?.is_empty() {
            Ok(Some(person))
        } else {
            Ok(None)
        }
    }

    async fn visible_posts(&self, ctx: &Ctx, person: i64) -> Result<Vec<PostRow>, AppError> {
        let posts = self.store.posts_of_person(person).await?;
        Ok(posts
            .into_iter()
            .filter(|post| self.allowed(ctx, Action::Read, Resource::Unit(post.unit)))
            .collect())
    }

    pub async fn list_people(
        &self,
        ctx: &Ctx,
        query: PeopleQuery,
    ) -> Result<Page<PersonView>, AppError> {
        self.require_signed_in(ctx)?;
        let limit = checked_limit(query.limit)?;
        let after = match decode_cursor(query.cursor.as_deref())? {
            Some(text) => text.parse().map_err(|_| {
                AppError::invalid(
                    ErrorCode::InvalidCursor,
                    "cursor",
                    "the cursor is not one this server gave",
                )
            })?,
            None => 0,
        };
        let ranges = match &query.under {
            Some(under) => {
                let unit = self.readable_unit(ctx, under, "under").await?;
                Some(vec![unit.subtree_range()])
            }
            None => self.visible_ranges(ctx).await?,
        };
        let rows = self
            .store
            .people(
                ranges.as_deref(),
                account_of(ctx),
                query.q.as_deref().filter(|q| !q.is_empty()),
                after,
                limit + 1,
            )
            .await?;
        let more = rows.len() > limit as usize;
        let items: Vec<PersonView> = rows
            .into_iter()
            .take(limit as usize)
            .map(PersonView::from)
            .collect();
        let next_cursor = more
            .then(|| items.last().map(|p| encode_cursor(&p.id)))
            .flatten();
        Ok(Page { items, next_cursor })
    }

    /// Appoints a person to a post in a unit.
    pub async fn create_post(&self, ctx: &Ctx, input: NewPost) -> Result<PostView, AppError> {
        let person = parse_id(&input.person, "person")?;
        self.appoint(ctx, Appointee::Existing(person), input).await
    }

    /// Records a new person and appoints them, in one write: a refused appointment
    /// leaves no person behind. `input.person` is not read.
    pub async fn appoint_new_person(
        &self,
        ctx: &Ctx,
        name: &str,
        input: NewPost,
    ) -> Result<PostView, AppError> {
        let name = person_name(name)?;
        self.appoint(ctx, Appointee::New(name), input).await
    }

    async fn appoint(
        &self,
        ctx: &Ctx,
        appointee: Appointee,
        input: NewPost,
    ) -> Result<PostView, AppError> {
        let unit = parse_unit_id(&input.unit, "unit")?;
        let role = Role::parse(&input.role).ok_or_else(|| {
            AppError::invalid(
                ErrorCode::InvalidValue,
                "role",
                "a role is secretary, official or member",
            )
        })?;
        let title = input.title.unwrap_or_default().trim().to_owned();
        if title.chars().count() > 200 || title.chars().any(char::is_control) {
            return Err(AppError::invalid(
                ErrorCode::InvalidValue,
                "title",
                "a title is at most 200 characters, without control characters",
            ));
        }
        let start = match &input.start {
            Some(text) => clock::format_date(clock::parse_date(text).ok_or_else(|| {
                AppError::invalid(
                    ErrorCode::InvalidValue,
                    "start",
                    "a date is written YYYY-MM-DD",
                )
            })?),
            None => self.today_text(),
        };
        self.check_reference(ctx, unit, "unit", "post.create")
            .await?;
        // A post may name only a person the caller may read; any other is answered as
        // one that does not exist, and nothing of them is shown.
        if let Appointee::Existing(person) = &appointee {
            if self.readable_person(ctx, *person).await?.is_none() {
                self.record_denial(ctx, "post.create", format!("person:{person}"), Some(unit))
                    .await;
                return Err(unknown_person(*person));
            }
        }
        let mut tx = self.store.write().await?;
        if tx.unit(unit).await?.is_none() {
            return Err(crate::features::units::unknown_reference("unit", unit));
        }
        let person = match appointee {
            Appointee::Existing(person) => {
                if !tx.person_exists(person).await? {
                    return Err(unknown_person(person));
                }
                person
            }
            Appointee::New(name) => {
                tx.insert_person(&name, account_of(ctx), &self.now_text())
                    .await?
            }
        };
        let id = tx
            .insert_post(&ganglion_store::NewPost {
                person,
                unit,
                role: role.as_str(),
                title: &title,
                start: &start,
            })
            .await?;
        let post = tx
            .post(id)
            .await?
            .ok_or_else(|| AppError::Internal("a new post vanished".into()))?;
        let view = PostView::from(post);
        let audit = Audit::new("post.create", format!("post:{id}"), Some(unit)).after(&view);
        self.finish_write(tx, ctx, audit, view).await
    }

    /// Ends a post; it stays in the unit's history.
    pub async fn end_post(
        &self,
        ctx: &Ctx,
        id: &str,
        input: EndPost,
    ) -> Result<PostView, AppError> {
        let id = parse_path_id(id, "post")?;
        let end = match &input.end {
            Some(text) => clock::format_date(clock::parse_date(text).ok_or_else(|| {
                AppError::invalid(
                    ErrorCode::InvalidValue,
                    "end",
                    "a date is written YYYY-MM-DD",
                )
            })?),
            None => self.today_text(),
        };
        let unit = self
            .store
            .post(id)
            .await?
            .ok_or(AppError::NotFound { what: "post" })?
            .unit;
        self.authorize(
            ctx,
            Action::Write,
            Resource::Unit(unit),
            "post",
            "post.end",
            format!("post:{id}"),
        )
        .await?;
        let mut tx = self.store.write().await?;
        let post = tx
            .post(id)
            .await?
            .ok_or(AppError::NotFound { what: "post" })?;
        if post.end.is_some() {
            return Err(AppError::Conflict {
                code: ErrorCode::PostEnded,
                message: "this post has already ended".into(),
            });
        }
        if end < post.start {
            return Err(AppError::invalid(
                ErrorCode::InvalidValue,
                "end",
                format!("a post cannot end before it starts ({})", post.start),
            ));
        }
        tx.end_post(id, &end).await?;
        let before = PostView::from(post);
        let after = PostView {
            end: Some(end),
            ..before.clone()
        };
        let audit = Audit::new("post.end", format!("post:{id}"), before.unit.parse().ok())
            .before(&before)
            .after(&after);
        self.finish_write(tx, ctx, audit, after).await
    }

    /// A unit's current and past post holders.
    pub async fn unit_posts(&self, ctx: &Ctx, unit: &str) -> Result<Vec<PostView>, AppError> {
        let unit = self.readable_unit(ctx, unit, "id").await?;
        Ok(self
            .store
            .posts_of_unit(unit.id)
            .await?
            .into_iter()
            .map(PostView::from)
            .collect())
    }

    /// A person's post history, as far as the caller may see it.
    pub async fn person_posts(&self, ctx: &Ctx, person: &str) -> Result<Vec<PostView>, AppError> {
        let view = self.person(ctx, person).await?;
        let id: i64 = view.id.parse().unwrap_or_default();
        let posts = if ctx.principal.admin {
            self.store.posts_of_person(id).await?
        } else {
            self.visible_posts(ctx, id).await?
        };
        Ok(posts.into_iter().map(PostView::from).collect())
    }

    /// Creates an account for a person; only the instance administrator may.
    pub async fn create_account(
        &self,
        ctx: &Ctx,
        input: NewAccount,
    ) -> Result<AccountView, AppError> {
        let person = parse_id(&input.person, "person")?;
        let login = input.login.trim().to_owned();
        ganglion_core::UnitCode::parse(&login).map_err(|_| {
            AppError::invalid(
                ErrorCode::InvalidValue,
                "login",
                "a login is 1 to 64 ASCII letters, digits, '-', '_' or '.'",
            )
        })?;
        check_password(&input.password)?;
        self.authorize(
            ctx,
            Action::Write,
            Resource::Instance,
            "account",
            "account.create",
            format!("login:{login}"),
        )
        .await?;
        let hash = hash_off_thread(input.password).await?;
        let mut tx = self.store.write().await?;
        if !tx.person_exists(person).await? {
            return Err(AppError::invalid(
                ErrorCode::UnknownPerson,
                "person",
                format!("there is no person {person}"),
            ));
        }
        if self.store.account_by_login(&login).await?.is_some() {
            return Err(AppError::Conflict {
                code: ErrorCode::DuplicateLogin,
                message: format!("the login {login} is taken"),
            });
        }
        let id = tx
            .insert_account(&login, Some(person), &hash, false, &self.now_text())
            .await?;
        let view = AccountView {
            id: id.to_string(),
            login,
            person: Some(person.to_string()),
        };
        let audit = Audit::new("account.create", format!("account:{id}"), None).after(&view);
        self.finish_write(tx, ctx, audit, view).await
    }

    /// Creates the instance administrator if there is none, with this password.
    pub(crate) async fn ensure_admin(&self, password: &str) -> Result<bool, AppError> {
        if self.store.account_by_login("admin").await?.is_some() {
            return Ok(false);
        }
        check_password(password)?;
        let hash = hash_off_thread(password.to_owned()).await?;
        let mut tx = self.store.write().await?;
        let id = tx
            .insert_account("admin", None, &hash, true, &self.now_text())
            .await?;
        let audit = Audit::new("account.create", format!("account:{id}"), None);
        self.finish_write(tx, &Ctx::operator(), audit, ()).await?;
        Ok(true)
    }

    pub(crate) fn require_signed_in(&self, ctx: &Ctx) -> Result<(), AppError> {
        if ctx.actor == crate::Actor::Anonymous {
            Err(AppError::Unauthenticated)
        } else {
            Ok(())
        }
    }

    /// The unit with this id if the caller may read it; 404 otherwise (401 when
    /// anonymous).
    pub(crate) async fn readable_unit(
        &self,
        ctx: &Ctx,
        id: &str,
        field: &str,
    ) -> Result<ganglion_store::UnitRow, AppError> {
        self.require_signed_in(ctx)?;
        let id: UnitId = if field == "id" {
            id.parse()
                .map_err(|_| AppError::NotFound { what: "unit" })?
        } else {
            parse_unit_id(id, field)?
        };
        if !self.allowed(ctx, Action::Read, Resource::Unit(id)) {
            return Err(AppError::NotFound { what: "unit" });
        }
        self.store
            .unit(id)
            .await?
            .ok_or(AppError::NotFound { what: "unit" })
    }

    /// The path ranges the caller may read: `None` for everything (the administrator).
    pub(crate) async fn visible_ranges(
        &self,
        ctx: &Ctx,
    ) -> Result<Option<Vec<(String, String)>>, AppError> {
        if ctx.principal.admin {
            return Ok(None);
        }
        let mut ranges = Vec::new();
        for unit in ctx.principal.authority_units() {
            if let Some(row) = self.store.unit(unit).await? {
                ranges.push(row.subtree_range());
            }
        }
        for unit in ctx.principal.member_units() {
            if let Some(row) = self.store.unit(unit).await? {
                ranges.push(row.own_range());
            }
        }
        Ok(Some(ranges))
    }
}

fn check_password(password: &str) -> Result<(), AppError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AppError::invalid(
            ErrorCode::WeakPassword,
            "password",
            format!("a password has at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    Ok(())
}

async fn hash_off_thread(password: String) -> Result<String, AppError> {
    tokio::task::spawn_blocking(move || access::hash_password(&password))
        .await
        .map_err(|error| AppError::Internal(error.to_string()))?
}
