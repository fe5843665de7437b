//! The consistency of the stored organization, checked from its rows (see
//! `ganglion_store::IntegrityReport`): what `ganglion check` runs after a crash, a
//! restore or a suspected fault. The audit chain is verified on its own.

use ganglion_core::{Action, Resource};

use crate::{App, AppError, Ctx};

pub use ganglion_store::IntegrityReport;

impl App {
    /// Checks the database's structure, the tree and the tracked items' histories;
    /// only the administrator (or the operator) may. A read: it changes nothing.
    pub async fn check_integrity(&self, ctx: &Ctx) -> Result<IntegrityReport, AppError> {
        self.authorize(
            ctx,
            Action::Read,
            Resource::Instance,
            "database",
            "integrity.check",
            "database".into(),
        )
        .await?;
        Ok(self.store.check_integrity().await?)
    }
}
