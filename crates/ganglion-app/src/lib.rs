//! The use cases of Ganglion: one function per thing a user can do. Every door — the
//! HTTP API, the web pages, the CLI, imports — calls these, so validation, the rules of
//! the template and (with accounts) authorization and the audit entry are applied the
//! same way whichever door a request came in by.
//!
//! The types here that cross a door (inputs and views) are the public representation:
//! they serialize to the JSON the API documents.

mod audit;
pub mod clock;
mod csv_file;
mod demo;

mod error;
mod features;
pub mod jobs;
mod page;
mod tracking;

use std::sync::{Arc, RwLock};

use ganglion_core::{Action, Principal, Resource, Template, TreeIndex};
use ganglion_store::{AuditDraft, OpenMode, Store, StoreError, StoredResponse, WriteTx};

pub use audit::{AuditQuery, AuditView, ChainStatus, VerifyOptions};
pub use clock::{Clock, ManualClock, SystemClock};
pub use csv_file::{guard_cell, read_records, unguard_cell};
pub use demo::{demo_rows, DemoLogin, DemoScenarios, DemoShape, DEMO_PASSWORD};
pub use error::{AppError, ErrorCode, RowError};
pub use features::access::{generate_password, LoginAttempt, SessionView, SESSION_SECONDS};
pub use features::attention::{
    Attention, AttentionChild, AttentionCounts, AttentionItem, AttentionQuery,
};
pub use features::audit_log::offline::{
    rehash_export_chain, verify_document, OfflineFailure, OfflineReport,
};
pub use features::audit_log::{
    default_audit_key_path, AuditKeyState, AuditLog, CheckpointView, ConsistencyProof, EntryRecord,
    InclusionProof, CHECKPOINT_AGE, CHECKPOINT_ENTRIES,
};
pub use features::browse::{Me, OutlineNode, UnitSummary};
pub use features::directives::{
    AssignmentView, AtQuery, ChildRollup, DirectiveListQuery, DirectivePatch, DirectiveSummary,
    DirectiveView, Directives, GuidanceView, HistoryEntry, InboxItem, InboxQuery, Issued, Laggard,
    LaggingGroup, Metric, MetricSum, MoveView, NewDirective, NewGuidance, ProjectInfo, Reach,
    Rollup, Series, SeriesDay, StateCounts, Target,
};
pub use features::experiences::{
    marked_html, sample_experience, ExperienceHit, ExperienceQuery, ExperienceResults,
    ExperienceView, Experiences, Media, NewExperience, TagCount, MAX_QUERY_CHARS,
};
pub use features::honours::{
    AwardView, Awarded, Honours, NewTitle, Period, TitleName, TitleQuery, TitleView, Withdrawal,
    Withdrawn,
};
pub use features::integrity::IntegrityReport;
pub use features::notes::{NewNote, NoteView};
pub use features::people::transfer::{PeopleExport, PeopleImportSummary, PEOPLE_CSV_HEADER};
pub use features::people::{
    AccountView, EndPost, NewAccount, NewPerson, NewPost, PeopleQuery, PersonView, PostView,
};
pub use features::programmes::{
    ChildProgress, ChildYear, NewProgramme, NewProject, ProgrammeMetric, ProgrammeProgress,
    ProgrammeView, ProgrammeYear, Programmes, ProjectImportSummary, ProjectQuery, ProjectView,
    YearProgress, PROJECTS_CSV_HEADER,
};
pub use features::units::import::{ImportRow, ImportSummary, Progress, Silent};
pub use features::units::{
    ListUnits, MoveUnit, NewUnitInput, UnitExport, UnitPatch, UnitView, UNIT_CSV_HEADER,
};
pub use page::Page;
pub use tracking::Transition;

/// A CSV export read piece by piece, so that a large one never sits in memory whole.
pub trait CsvExport: Send + 'static {
    /// The next piece of the file, `None` at the end.
    fn next_chunk(
        &mut self,
    ) -> impl std::future::Future<Output = Result<Option<Vec<u8>>, AppError>> + Send;
}

impl CsvExport for UnitExport {
    async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, AppError> {
        UnitExport::next_chunk(self).await
    }
}

impl CsvExport for PeopleExport {
    async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, AppError> {
        PeopleExport::next_chunk(self).await
    }
}

/// Who is acting, as the audit trail names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A command typed on the server's own machine; it has the administrator's rights.
    Operator,
    /// A signed-in account; `name` is its holder's, when it names a person.
    Account {
        id: i64,
        login: String,
        name: Option<String>,
        person: Option<ganglion_core::PersonId>,
    },
    /// A request without valid credentials.
    Anonymous,
}

impl Actor {
    pub fn label(&self) -> String {
        match self {
            Actor::Operator => "operator".into(),
            Actor::Account { id, .. } => format!("account:{id}"),
            Actor::Anonymous => "anonymous".into(),
        }
    }

    /// The account as an actor, with its holder's name as the store read it.
    pub(crate) fn of_account(account: &ganglion_store::AccountRow) -> Self {
        Actor::Account {
            id: account.id,
            login: account.login.clone(),
            name: account.person_name.clone(),
            person: account.person.and_then(ganglion_core::PersonId::new),
        }
    }

    /// The person the actor's account belongs to, if any.
    pub fn person(&self) -> Option<ganglion_core::PersonId> {
        match self {
            Actor::Account { person, .. } => *person,
            Actor::Operator | Actor::Anonymous => None,
        }
    }

    /// Who the actor is to a reader: the account holder's name, or the login of an
    /// account that names no person.
    pub fn name(&self) -> Option<&str> {
        match self {
            Actor::Account { login, name, .. } => Some(name.as_deref().unwrap_or(login)),
            Actor::Operator | Actor::Anonymous => None,
        }
    }
}

/// What a use case knows of the request that called it.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub actor: Actor,
    /// What the actor may see and do: the admin flag and the posts held now.
    pub principal: Principal,
    pub request_id: String,
    pub idempotency: Option<Idempotency>,
}

impl Ctx {
    /// The context of a command typed on the server's machine.
    pub fn operator() -> Self {
        Self {
            actor: Actor::Operator,
            principal: Principal::admin(),
            request_id: "cli".into(),
            idempotency: None,
        }
    }

    /// The context of a request that carries no valid credentials.
    pub fn anonymous(request_id: String) -> Self {
        Self {
            actor: Actor::Anonymous,
            principal: Principal::anonymous(),
            request_id,
            idempotency: None,
        }
    }
}

/// What a write records in the audit trail.
pub(crate) struct Audit {
    pub action: &'static str,
    pub object: String,
    pub unit: Option<ganglion_core::UnitId>,
    pub before: Option<String>,
    pub after: Option<String>,
}

impl Audit {
    pub fn new(action: &'static str, object: String, unit: Option<ganglion_core::UnitId>) -> Self {
        Self {
            action,
            object,
            unit,
            before: None,
            after: None,
        }
    }

    /// Records a digest of the state before the write.
    pub fn before(mut self, state: &impl serde::Serialize) -> Self {
        self.before = Some(json_digest(state));
        self
    }

    /// Records a digest of the state after the write.
    pub fn after(mut self, state: &impl serde::Serialize) -> Self {
        self.after = Some(json_digest(state));
        self
    }
}

fn json_digest(state: &impl serde::Serialize) -> String {
    ganglion_core::audit::digest(serde_json::to_string(state).unwrap_or_default().as_bytes())
}

/// A write sent with an `Idempotency-Key`: the response to remember, and a digest of the
/// request so that reusing the key for another request can be refused.
#[derive(Debug, Clone)]
pub struct Idempotency {
    pub key: String,
    pub fingerprint: String,
    /// The status the response will carry on success.
    pub status: u16,
}

/// The application: the store, the organization's template, and the tree index held in
/// memory for authorization.
#[derive(Clone)]
pub struct App {
    store: Store,
    template: Arc<Template>,
    /// The tree index (kept equal to the stored tree: built at start, changed after
    /// each committed change of the tree) and every live source's items in tree order.
    /// Never held across an await.
    model: Arc<RwLock<tracking::ReadModel>>,
    /// Names this server in the change feed, so that it skips its own changes there.
    origin: Arc<str>,
    limiter: Arc<features::access::LoginLimiter>,
    batcher: Arc<tracking::batch::Batcher>,
    sessions: Arc<features::access::SessionCache>,
    /// Counts changes of the read model, for pages that follow it live.
    model_version: Arc<tokio::sync::watch::Sender<u64>>,
    /// Where every use case reads the time.
    clock: clock::SharedClock,
    /// The key that signs the audit log's checkpoints, when this server was given one.
    audit_signer: Arc<RwLock<Option<Arc<ganglion_core::audit::checkpoint::LogSigner>>>>,
}

const TEMPLATE_SETTING: &str = "template";

impl App {
    /// Opens an initialized organization.
    pub async fn open(database_url: &str) -> Result<Self, AppError> {
        let store = Store::open(database_url, OpenMode::Existing).await?;
        Self::with_store(store).await
    }

    /// Creates the database if needed and records the template; running it again with
    /// the same template changes nothing.
    pub async fn init(database_url: &str, template_name: &str) -> Result<Self, AppError> {
        let text = ganglion_core::template::built_in_text(template_name).map_err(|error| {
            AppError::Invalid {
                code: ErrorCode::UnknownTemplate,
                message: error.to_string(),
                field: Some("template".into()),
            }
        })?;
        let store = Store::open(database_url, OpenMode::Create).await?;
        match store.setting(TEMPLATE_SETTING).await? {
            Some(existing) if existing != text => {
                let current = Template::from_toml(&existing)
                    .map(|t| t.name)
                    .unwrap_or_else(|_| "a custom template".into());
                if store.unit_count().await? > 0 {
                    return Err(AppError::Conflict {
                        code: ErrorCode::AlreadyInitialized,
                        message: format!(
                            "this database already holds an organization on the {current} template"
                        ),
                    });
                }
                let mut tx = store.write().await?;
                tx.set_setting(TEMPLATE_SETTING, text).await?;
                tx.commit().await?;
            }
            Some(_) => {}
            None => {
                let mut tx = store.write().await?;
                tx.set_setting(TEMPLATE_SETTING, text).await?;
                tx.commit().await?;
            }
        }
        Self::with_store(store).await
    }

    async fn with_store(store: Store) -> Result<Self, AppError> {
        let text = store.setting(TEMPLATE_SETTING).await?.ok_or_else(|| {
            AppError::Store(StoreError::NotInitialized(
                "the database has no template recorded; run `ganglion init`".into(),
            ))
        })?;
        let template = Template::from_toml(&text).map_err(|error| {
            AppError::Store(StoreError::NotInitialized(format!(
                "the recorded template cannot be read: {error}"
            )))
        })?;
        let tree = read_tree(&store).await?;
        let last_change = store.last_change().await?;
        let mut origin = [0u8; 9];
        rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut origin);
        let app = Self {
            store,
            template: Arc::new(template),
            model: Arc::new(RwLock::new(tracking::ReadModel::new(tree, last_change))),
            origin: Arc::from(hex::encode(origin)),
            limiter: Arc::new(features::access::LoginLimiter::default()),
            batcher: Arc::default(),
            sessions: Arc::default(),
            model_version: Arc::new(tokio::sync::watch::channel(0).0),
            clock: Arc::new(clock::SystemClock),
            audit_signer: Arc::default(),
        };
        app.load_sources(last_change).await?;
        Ok(app)
    }

    /// Reads every issued directive's items into the read model. Ended ones stay in
    /// the store and are read when asked.
    async fn load_sources(&self, as_of_change: i64) -> Result<(), AppError> {
        let issued = self
            .store
            .directives_in_states(&[ganglion_core::DirectiveState::Issued])
            .await?;
        for row in issued {
            let key = tracking::SourceKey::of_directive(&row);
            let metrics = self.metric_specs(&row).await?;
            let metric_count = metrics.len();
            let mut entries = Vec::new();
            self.store
                .for_each_item_of(key.as_ref(), |item| {
                    entries.push(tracking::model::entry_of(&item, metric_count))
                })
                .await?;
            let source = self.source_from(key, Some(row), metrics, entries, as_of_change);
            self.model_mut().insert(source);
        }
        Ok(())
    }

    /// The same app reading the time from `clock`: tests and the demo move time
    /// instead of waiting for it. Give it before the first write.
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The time now, as the app's clock tells it.
    pub fn now(&self) -> time::OffsetDateTime {
        self.clock.now()
    }

    /// The time now as the store keeps it.
    pub(crate) fn now_text(&self) -> String {
        clock::format_time(self.now())
    }

    /// Today's date (UTC).
    pub fn today(&self) -> time::Date {
        self.now().date()
    }

    /// Today as the store keeps dates.
    pub(crate) fn today_text(&self) -> String {
        clock::format_date(self.today())
    }

    /// Reads the tree index (a view of the read model, which holds it).
    pub(crate) fn tree(&self) -> TreeRead<'_> {
        TreeRead(self.model())
    }

    /// Reads the read model: readers share it and never wait for one another.
    pub(crate) fn model(&self) -> std::sync::RwLockReadGuard<'_, tracking::ReadModel> {
        self.model
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Rebuilds the tree index from the store, after a bulk change, and renumbers
    /// every source against it.
    pub(crate) async fn reload_tree(&self) -> Result<(), AppError> {
        let tree = read_tree(&self.store).await?;
        self.model_mut().replace_tree(tree);
        self.model_changed();
        Ok(())
    }

    /// Tells whoever follows the read model that it changed.
    pub(crate) fn model_changed(&self) {
        self.model_version.send_modify(|version| *version += 1);
    }

    /// Wakes when the read model (the tree or any directive's assignments) changes: for
    /// pages that follow a roll-up live, and tests that wait for another server.
    pub fn watch_read_model(&self) -> tokio::sync::watch::Receiver<u64> {
        self.model_version.subscribe()
    }

    pub(crate) fn model_mut(&self) -> std::sync::RwLockWriteGuard<'_, tracking::ReadModel> {
        self.model
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether the caller may act; nothing is recorded.
    pub(crate) fn allowed(&self, ctx: &Ctx, action: Action, resource: Resource) -> bool {
        ganglion_core::authorize(&ctx.principal, action, resource, &self.tree())
    }

    /// Checks the caller may act. A denial is recorded in the audit trail and answered
    /// 401 for a caller without credentials, 404 when the caller may not even see the
    /// thing (its existence must not leak), and 403 otherwise.
    pub(crate) async fn authorize(
        &self,
        ctx: &Ctx,
        action: Action,
        resource: Resource,
        what: &'static str,
        audit_action: &'static str,
        object: String,
    ) -> Result<(), AppError> {
        if self.allowed(ctx, action, resource) {
            return Ok(());
        }
        let visible = action == Action::Write && self.allowed(ctx, Action::Read, resource);
        let unit = match resource {
            Resource::Unit(unit) => Some(unit),
            Resource::Record { owner, .. } => Some(owner),
            Resource::Instance => None,
        };
        self.record_denial(ctx, audit_action, object, unit).await;
        Err(if ctx.actor == Actor::Anonymous {
            AppError::Unauthenticated
        } else if visible || resource == Resource::Instance {
            AppError::Forbidden
        } else {
            AppError::NotFound { what }
        })
    }

    /// Appends a `denied:` entry; a failure to record is logged, not shown to the caller.
    pub(crate) async fn record_denial(
        &self,
        ctx: &Ctx,
        action: &'static str,
        object: String,
        unit: Option<ganglion_core::UnitId>,
    ) {
        let result = async {
            let mut tx = self.store.write().await?;
            tx.append_audit(AuditDraft {
                at: self.now_text(),
                actor: ctx.actor.label(),
                action: format!("denied:{action}"),
                object,
                unit: unit.map(|u| u.get()),
                before_digest: None,
                after_digest: None,
                request_id: ctx.request_id.clone(),
            })
            .await?;
            tx.commit().await
        }
        .await;
        if let Err(error) = result {
            tracing::error!(%error, "could not record a denied request in the audit trail");
        }
    }

    /// Creates the instance administrator (login `admin`) unless there is one. Returns
    /// whether it was created.
    pub async fn create_admin(&self, password: &str) -> Result<bool, AppError> {
        self.ensure_admin(password).await
    }

    /// Writes a consistent copy of the whole organization to a new SQLite file, while
    /// the server may go on writing. Only the administrator (or the operator) may.
    pub async fn backup(&self, ctx: &Ctx, file: &std::path::Path) -> Result<u64, AppError> {
        self.authorize(
            ctx,
            Action::Read,
            Resource::Instance,
            "backup",
            "database.backup",
            file.display().to_string(),
        )
        .await?;
        Ok(self.store.backup(file).await?)
    }

    /// Restores a backup into an empty database and opens it; the restore itself is the
    /// first entry after the restored history.
    pub async fn restore(
        database_url: &str,
        file: &std::path::Path,
    ) -> Result<(Self, u64), AppError> {
        let store = Store::open(database_url, OpenMode::Create).await?;
        let copied = store.restore(file).await.map_err(|error| match error {
            StoreError::NotEmpty(message) => AppError::Conflict {
                code: ErrorCode::NotEmpty,
                message,
            },
            other => AppError::Store(other),
        })?;
        let app = Self::with_store(store).await?;
        let tx = app.store.write().await?;
        let audit = Audit::new(
            "database.restore",
            format!("backup:{}", file.display()),
            None,
        );
        app.finish_write(tx, &Ctx::operator(), audit, ()).await?;
        Ok((app, copied))
    }

    /// The store itself, for the benchmark's baselines; use cases never hand it out.
    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn template(&self) -> &Template {
        &self.template
    }

    pub async fn unit_count(&self) -> Result<u64, AppError> {
        Ok(self.store.unit_count().await?)
    }

    pub fn backend_name(&self) -> &'static str {
        self.store.backend().name()
    }

    pub async fn close(&self) {
        self.batcher.close().await;
        self.store.close().await;
    }

    /// The response first given to a write with this idempotency key, if any; an
    /// [`AppError`] when the key was first used for a different request.
    pub async fn replay(
        &self,
        idempotency: &Idempotency,
    ) -> Result<Option<StoredResponse>, AppError> {
        match self.store.idempotent_response(&idempotency.key).await? {
            Some(stored) if stored.fingerprint == idempotency.fingerprint => {
                // Not replayed before the write that stored it is durable.
                self.batcher.settled().await?;
                Ok(Some(stored))
            }
            Some(_) => Err(AppError::Invalid {
                code: ErrorCode::IdempotencyKeyReused,
                message: "this Idempotency-Key was already used for a different request".into(),
                field: None,
            }),
            None => Ok(None),
        }
    }

    /// Ends every write: appends its audit entry and remembers the response under the
    /// request's idempotency key, in the same transaction, then commits. Nothing is
    /// acknowledged before this returns, and no write can skip its audit entry.
    async fn finish_write<T: serde::Serialize>(
        &self,
        mut tx: WriteTx,
        ctx: &Ctx,
        audit: Audit,
        value: T,
    ) -> Result<T, AppError> {
        tx.append_audit(self.audit_draft(ctx, audit)).await?;
        remember_answer(&mut tx, ctx, &value).await?;
        self.commit(tx).await?;
        Ok(value)
    }

    /// Commits a write. One that changed who may do what is announced in the change
    /// feed, and this server's remembered sessions are read again from the store.
    pub(crate) async fn commit(&self, mut tx: WriteTx) -> Result<(), AppError> {
        let changes_access = tx.changes_access();
        if changes_access {
            self.record_change(&mut tx, "access", serde_json::json!({}))
                .await?;
        }
        tx.commit().await?;
        if changes_access {
            self.sessions.forget_all();
        }
        Ok(())
    }

    /// Appends to the change feed in the write's transaction, for the other servers.
    pub(crate) async fn record_change(
        &self,
        tx: &mut WriteTx,
        kind: &str,
        body: serde_json::Value,
    ) -> Result<(), AppError> {
        tx.append_change(kind, &self.change_payload(body), &self.now_text())
            .await?;
        Ok(())
    }

    /// A change's payload, marked with this server's origin so that it skips its own.
    pub(crate) fn change_payload(&self, mut body: serde_json::Value) -> String {
        body["origin"] = serde_json::Value::from(self.origin.as_ref());
        body.to_string()
    }
}

/// The tree index, read out of the read model.
pub(crate) struct TreeRead<'a>(std::sync::RwLockReadGuard<'a, tracking::ReadModel>);

impl std::ops::Deref for TreeRead<'_> {
    type Target = TreeIndex;

    fn deref(&self) -> &TreeIndex {
        &self.0.tree
    }
}

/// The stored tree, as the tree index numbers it, with every unit's name and code.
async fn read_tree(store: &Store) -> Result<TreeIndex, AppError> {
    let units = store.unit_labels().await?;
    let mut tree = TreeIndex::build(units.iter().map(|(unit, parent, _, _)| (*unit, *parent)))
        .map_err(|error| AppError::Internal(format!("the stored tree is broken: {error}")))?;
    for (unit, _, name, code) in &units {
        tree.set_label(*unit, name, code);
    }
    Ok(tree)
}

/// Stores the answer to a write sent with an `Idempotency-Key`, in the write's own
/// transaction, so that a retry is answered the same.
pub(crate) async fn remember_answer(
    tx: &mut WriteTx,
    ctx: &Ctx,
    value: &impl serde::Serialize,
) -> Result<(), AppError> {
    if let Some((key, response)) = answer_to_remember(ctx, value)? {
        tx.save_idempotent_response(key, &response).await?;
    }
    Ok(())
}

/// The key and stored response of a write sent with an `Idempotency-Key`.
pub(crate) fn answer_to_remember<'c>(
    ctx: &'c Ctx,
    value: &impl serde::Serialize,
) -> Result<Option<(&'c str, StoredResponse)>, AppError> {
    let Some(idempotency) = &ctx.idempotency else {
        return Ok(None);
    };
    let body = serde_json::to_string(value)
        .map_err(|error| AppError::Internal(format!("cannot serialize a response: {error}")))?;
    Ok(Some((
        &idempotency.key,
        StoredResponse {
            fingerprint: idempotency.fingerprint.clone(),
            status: idempotency.status,
            body,
        },
    )))
}

impl App {
    /// The audit entry of an act, as the store appends it.
    pub(crate) fn audit_draft(&self, ctx: &Ctx, audit: Audit) -> AuditDraft {
        AuditDraft {
            at: self.now_text(),
            actor: ctx.actor.label(),
            action: audit.action.to_owned(),
            object: audit.object,
            unit: audit.unit.map(|u| u.get()),
            before_digest: audit.before,
            after_digest: audit.after,
            request_id: ctx.request_id.clone(),
        }
    }
}
