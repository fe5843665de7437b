//! Reading and verifying the audit trail.

use ganglion_core::audit::{AuditEntry, ChainVerifier};
use ganglion_core::{Action, Resource, UnitId};
use ganglion_store::AuditFilter;
use serde::{Deserialize, Serialize};

use crate::page::{checked_limit, decode_number_cursor, encode_cursor, Page};
use crate::{App, AppError, Ctx};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AuditView {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub object: String,
    pub unit: Option<String>,
    pub before_digest: Option<String>,
    pub after_digest: Option<String>,
    pub request_id: String,
    pub hash: String,
}

impl From<AuditEntry> for AuditView {
    fn from(entry: AuditEntry) -> Self {
        Self {
            seq: entry.seq,
            at: entry.at,
            actor: entry.actor,
            action: entry.action,
            object: entry.object,
            unit: entry.unit.map(|u| u.to_string()),
            before_digest: entry.before_digest,
            after_digest: entry.after_digest,
            request_id: entry.request_id,
            hash: entry.hash,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only entries about this unit and those under it.
    pub under: Option<String>,
    /// Only actions starting with this text, e.g. `unit.` or `post.create`.
    pub action: Option<String>,
    /// Only entries of this actor, as the trail names them (`account:7`, `operator`).
    pub actor: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// The result of recomputing the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ChainStatus {
    pub intact: bool,
    /// Entries checked (up to the first broken one).
    pub entries: u64,
    pub first_broken: Option<i64>,
    pub reason: Option<String>,
    /// The hash of the last entry: a fingerprint of the whole history.
    pub head: String,
}

impl App {
    /// Entries about a subtree the caller may read (everything, for the administrator),
    /// newest first.
    pub async fn audit(&self, ctx: &Ctx, query: AuditQuery) -> Result<Page<AuditView>, AppError> {
        self.require_signed_in(ctx)?;
        let limit = checked_limit(query.limit)?;
        let before = decode_number_cursor::<i64>(query.cursor.as_deref())?;
        let (ranges, covered_units) = match &query.under {
            Some(under) => {
                let unit = self.readable_unit(ctx, under, "under").await?;
                let covered = self.tree().subtree_len(unit.id) as usize;
                (Some(vec![unit.subtree_range()]), covered)
            }
            None => {
                let covered = {
                    let tree = self.tree();
                    ctx.principal
                        .authority_units()
                        .map(|unit| tree.subtree_len(unit) as usize)
                        .sum::<usize>()
                        + ctx.principal.member_units().count()
                };
                (self.visible_ranges(ctx).await?, covered)
            }
        };
        // Over an eighth of the tree, recent entries mostly match: read the trail first.
        let broad = covered_units.saturating_mul(8) >= self.tree().len();
        let filter = AuditFilter {
            ranges: ranges.as_deref(),
            action_prefix: query.action.as_deref().filter(|text| !text.is_empty()),
            actor: query.actor.as_deref().filter(|text| !text.is_empty()),
            before_seq: before,
            broad,
            ..AuditFilter::default()
        };
        let mut entries = self.store.audit_about(&filter, limit + 1).await?;
        // The same predicate as everywhere decides; the ranges only narrowed the search.
        entries.retain(|entry| match entry.unit.and_then(UnitId::new) {
            Some(unit) => self.allowed(ctx, Action::Read, Resource::Unit(unit)),
            None => ctx.principal.admin,
        });
        let more = entries.len() > limit as usize;
        entries.truncate(limit as usize);
        let next_cursor = if more {
            entries.last().map(|e| encode_cursor(&e.seq.to_string()))
        } else {
            None
        };
        Ok(Page {
            items: entries.into_iter().map(AuditView::from).collect(),
            next_cursor,
        })
    }

    /// Recomputes the whole chain; only the administrator (or the operator) may.
    pub async fn verify_audit(&self, ctx: &Ctx) -> Result<ChainStatus, AppError> {
        self.authorize(
            ctx,
            Action::Read,
            Resource::Instance,
            "audit",
            "audit.verify",
            "audit".into(),
        )
        .await?;
        let mut verifier = ChainVerifier::default();
        let mut last_seq = 0;
        loop {
            let page = self.store.audit_entries(last_seq, 10_000).await?;
            let Some(last) = page.last() else { break };
            last_seq = last.seq;
            for entry in &page {
                if let Err(broken) = verifier.check(entry) {
                    return Ok(ChainStatus {
                        intact: false,
                        entries: verifier.checked(),
                        first_broken: Some(broken.seq),
                        reason: Some(broken.reason),
                        head: verifier.head().to_owned(),
                    });
                }
            }
        }
        Ok(ChainStatus {
            intact: true,
            entries: verifier.checked(),
            first_broken: None,
            reason: None,
            head: verifier.head().to_owned(),
        })
    }
}
