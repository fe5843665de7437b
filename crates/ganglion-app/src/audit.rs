//! Reading and verifying the audit trail.

use std::collections::HashMap;

use ganglion_core::audit::checkpoint::LogVerifier;
use ganglion_core::audit::tree::{self, Hash};
use ganglion_core::audit::{AuditEntry, LogCheck};
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
    /// Signed checkpoints found to match the entries: those stored, and those held
    /// before that the check was given.
    pub checkpoints: u64,
    /// The root of the Merkle tree over the entries checked, hexadecimal.
    pub root: String,
    /// The public key the checkpoints' signatures were checked with, if any.
    pub public_key: Option<String>,
}

/// What a verification checks beyond the chain.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// The public key to check the checkpoints with; by default this server's key, or
    /// else the one the database recorded (which whoever rewrote the database could
    /// have replaced: give the key kept apart to be sure).
    pub public_key: Option<String>,
    /// Checkpoints (signed notes) handed out before and kept: a history rewritten
    /// since fails against them even if the database's own checkpoints were removed.
    pub held: Vec<String>,
}

/// A tree head the entries must match, and where it came from.
struct Expected {
    size: u64,
    root: Hash,
    what: String,
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

    /// Recomputes the whole chain and the tree over it, and checks them against every
    /// stored checkpoint and subtree; only the administrator (or the operator) may.
    pub async fn verify_audit(&self, ctx: &Ctx) -> Result<ChainStatus, AppError> {
        self.verify_audit_with(ctx, VerifyOptions::default()).await
    }

    /// [`App::verify_audit`] with a public key and checkpoints kept from before.
    pub async fn verify_audit_with(
        &self,
        ctx: &Ctx,
        options: VerifyOptions,
    ) -> Result<ChainStatus, AppError> {
        self.authorize(
            ctx,
            Action::Read,
            Resource::Instance,
            "audit",
            "audit.verify",
            "audit".into(),
        )
        .await?;
        let public_key = match options.public_key {
            Some(key) => Some(key),
            None => match self.audit_signer() {
                Some(signer) => Some(signer.public_key().to_owned()),
                None => self.audit_log().recorded_public_key().await?,
            },
        };
        let verifier = public_key
            .as_deref()
            .map(LogVerifier::new)
            .transpose()
            .map_err(|error| {
                AppError::invalid(crate::ErrorCode::InvalidValue, "key", error.to_string())
            })?;
        let broken = |log: &LogCheck, seq: i64, reason: String| ChainStatus {
            intact: false,
            entries: log.checked(),
            first_broken: Some(seq),
            reason: Some(reason),
            head: log.head().to_owned(),
            checkpoints: 0,
            root: tree::to_hex(&log.root()),
            public_key: public_key.clone(),
        };
        let mut log = LogCheck::default();
        let mut expected = Vec::new();
        for row in self.store.audit_checkpoints().await? {
            let size = row.size.max(0) as u64;
            let Ok(root) = tree::from_hex(&row.root) else {
                return Ok(broken(
                    &log,
                    row.size,
                    format!("the stored checkpoint of {size} entries has no valid root"),
                ));
            };
            if let Some(verifier) = &verifier {
                match verifier.open(&row.note) {
                    Ok(head) if head.size == size && head.root == root => {}
                    Ok(_) => {
                        return Ok(broken(&log, row.size, format!("the stored checkpoint of {size} entries says another size or root than its signed note")));
                    }
                    Err(error) => {
                        return Ok(broken(
                            &log,
                            row.size,
                            format!("the stored checkpoint of {size} entries: {error}"),
                        ));
                    }
                }
            }
            expected.push(Expected {
                size,
                root,
                what: format!("the checkpoint signed at {size} entries"),
            });
        }
        for note in &options.held {
            let Some(verifier) = &verifier else {
                return Err(AppError::invalid(
                    crate::ErrorCode::InvalidValue,
                    "key",
                    "checking a checkpoint kept from before needs the public key",
                ));
            };
            let head = verifier.open(note).map_err(|error| {
                AppError::invalid(
                    crate::ErrorCode::InvalidValue,
                    "checkpoint",
                    error.to_string(),
                )
            })?;
            expected.push(Expected {
                size: head.size,
                root: head.root,
                what: format!("the checkpoint of {} entries held before", head.size),
            });
        }
        expected.sort_by_key(|e| e.size);
        let stored_nodes: HashMap<(u8, u64), String> = self
            .store
            .all_audit_nodes()
            .await?
            .into_iter()
            .map(|(level, index, hash)| ((level, index), hash))
            .collect();
        let mut next = expected.iter().peekable();
        let mut matched = 0u64;
        let mut last_seq = 0;
        loop {
            let page = self.store.audit_entries(last_seq, 10_000).await?;
            let Some(last) = page.last() else { break };
            last_seq = last.seq;
            for entry in &page {
                let mut wrong_node = None;
                let checked = log.check(entry, |node, hash| {
                    if let Some(stored) = stored_nodes.get(&(node.level, node.index)) {
                        if *stored != tree::to_hex(&hash) && wrong_node.is_none() {
                            wrong_node = Some(node);
                        }
                    }
                });
                if let Err(link) = checked {
                    return Ok(broken(&log, link.seq, link.reason));
                }
                if let Some(node) = wrong_node {
                    return Ok(broken(&log, node.leaves().start as i64 + 1, format!(
                        "entries {} to {} do not match the hash stored over them: the history was rewritten, or the stored tree changed",
                        node.leaves().start + 1, node.leaves().end
                    )));
                }
                while let Some(head) = next.next_if(|e| e.size == log.checked()) {
                    if head.root != log.root() {
                        return Ok(broken(
                            &log,
                            entry.seq,
                            format!(
                                "the entries up to {} do not match {}: the history was rewritten",
                                entry.seq, head.what
                            ),
                        ));
                    }
                    matched += 1;
                }
            }
        }
        if let Some(head) = next.next() {
            return Ok(broken(
                &log,
                log.checked() as i64 + 1,
                format!(
                    "{} covers {} entries but the log has {}: entries were removed",
                    head.what,
                    head.size,
                    log.checked()
                ),
            ));
        }
        Ok(ChainStatus {
            intact: true,
            entries: log.checked(),
            first_broken: None,
            reason: None,
            head: log.head().to_owned(),
            checkpoints: matched,
            root: tree::to_hex(&log.root()),
            public_key,
        })
    }
}
