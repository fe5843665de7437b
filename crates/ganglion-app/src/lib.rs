//! The use cases of Ganglion: one function per thing a user can do. Every door — the
//! HTTP API, the web pages, the CLI, imports — calls these, so validation, the rules of
//! the template and (with accounts) authorization and the audit entry are applied the
//! same way whichever door a request came in by.
//!
//! The types here that cross a door (inputs and views) are the public representation:
//! they serialize to the JSON the API documents.

mod demo;
mod error;
mod import;
mod page;
mod units;

use std::sync::Arc;

use ganglion_core::Template;
use ganglion_store::{OpenMode, Store, StoreError, StoredResponse, WriteTx};

pub use demo::{demo_rows, DemoShape};
pub use error::{AppError, RowError};
pub use import::{ImportRow, ImportSummary, Progress, Silent};
pub use page::Page;
pub use units::{ListUnits, MoveUnit, NewUnitInput, UnitExport, UnitPatch, UnitView};

/// Who is acting. Accounts come with sessions; until a request carries one it is
/// `Anonymous`, and the command line on the server's own machine is the `Operator`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    Operator,
    Anonymous,
}

/// What a use case knows of the request that called it.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub actor: Actor,
    pub request_id: String,
    pub idempotency: Option<Idempotency>,
}

impl Ctx {
    /// The context of a command typed on the server's machine.
    pub fn operator() -> Self {
        Self {
            actor: Actor::Operator,
            request_id: "cli".into(),
            idempotency: None,
        }
    }
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

/// The application: the store and the organization's template.
#[derive(Clone)]
pub struct App {
    store: Store,
    template: Arc<Template>,
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
                code: "unknown_template",
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
                        code: "already_initialized",
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
        Ok(Self {
            store,
            template: Arc::new(template),
        })
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
        self.store.close().await;
    }

    /// The response first given to a write with this idempotency key, if any; an
    /// [`AppError`] when the key was first used for a different request.
    pub async fn replay(
        &self,
        idempotency: &Idempotency,
    ) -> Result<Option<StoredResponse>, AppError> {
        match self.store.idempotent_response(&idempotency.key).await? {
            Some(stored) if stored.fingerprint == idempotency.fingerprint => Ok(Some(stored)),
            Some(_) => Err(AppError::Invalid {
                code: "idempotency_key_reused",
                message: "this Idempotency-Key was already used for a different request".into(),
                field: None,
            }),
            None => Ok(None),
        }
    }

    /// Ends every write: remembers the response under the request's idempotency key in
    /// the same transaction, then commits. Nothing is acknowledged before this returns.
    async fn finish_write<T: serde::Serialize>(
        &self,
        mut tx: WriteTx,
        ctx: &Ctx,
        value: T,
    ) -> Result<T, AppError> {
        if let Some(idempotency) = &ctx.idempotency {
            let body = serde_json::to_string(&value).map_err(|error| {
                AppError::Internal(format!("cannot serialize a response: {error}"))
            })?;
            tx.save_idempotent_response(
                &idempotency.key,
                &StoredResponse {
                    fingerprint: idempotency.fingerprint.clone(),
                    status: idempotency.status,
                    body,
                },
            )
            .await?;
        }
        tx.commit().await?;
        Ok(value)
    }
}
