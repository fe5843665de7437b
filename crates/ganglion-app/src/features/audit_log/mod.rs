//! The audit log that proves itself: the Merkle tree over the audit entries, extended
//! as they come, its signed checkpoints, inclusion and consistency proofs, and the
//! export that anyone holding the public key can check offline.
//!
//! The append path of an entry is the chain's alone. The checkpointer (a cluster job,
//! `audit-checkpoints`) stores the hashes of the complete blocks of 256 entries and of
//! the subtrees above them, and signs a checkpoint once 1,000 entries have come since
//! the last one, or a minute has passed with any new entry.

mod key;
pub mod offline;

use std::time::Duration;

use ganglion_core::audit::checkpoint::LogSigner;
use ganglion_core::audit::tree::{
    self, complete_root, frontier_needs, grow, needs_for_consistency, needs_for_inclusion,
    needs_for_root, split_needs, Known, Node, BLOCK_SIZE,
};
use ganglion_core::audit::AuditEntry;
use ganglion_core::{Action, Resource};
use ganglion_store::CheckpointRow;
use serde::{Deserialize, Serialize};

pub(crate) use key::PUBLIC_KEY_SETTING;
pub use key::{default_audit_key_path, AuditKeyState};

use crate::{clock, App, AppError, Ctx};

/// A checkpoint is signed once this many entries came since the last one…
pub const CHECKPOINT_ENTRIES: u64 = 1_000;
/// …or once this long passed since it, with any entry new.
pub const CHECKPOINT_AGE: time::Duration = time::Duration::seconds(60);
/// How often the checkpointer looks.
pub const CHECKPOINTER_EVERY: Duration = Duration::from_secs(1);
/// Blocks of 256 entries hashed per read when the tree catches up.
const BLOCKS_PER_ROUND: u64 = 256;

/// An audit entry as proofs and exports carry it: every field the chain hash covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntryRecord {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub object: String,
    pub unit: Option<i64>,
    pub before_digest: Option<String>,
    pub after_digest: Option<String>,
    pub request_id: String,
    pub prev_hash: String,
    pub hash: String,
}

impl From<AuditEntry> for EntryRecord {
    fn from(entry: AuditEntry) -> Self {
        Self {
            seq: entry.seq,
            at: entry.at,
            actor: entry.actor,
            action: entry.action,
            object: entry.object,
            unit: entry.unit,
            before_digest: entry.before_digest,
            after_digest: entry.after_digest,
            request_id: entry.request_id,
            prev_hash: entry.prev_hash,
            hash: entry.hash,
        }
    }
}

impl From<EntryRecord> for AuditEntry {
    fn from(entry: EntryRecord) -> Self {
        Self {
            seq: entry.seq,
            at: entry.at,
            actor: entry.actor,
            action: entry.action,
            object: entry.object,
            unit: entry.unit,
            before_digest: entry.before_digest,
            after_digest: entry.after_digest,
            request_id: entry.request_id,
            prev_hash: entry.prev_hash,
            hash: entry.hash,
        }
    }
}

/// The latest signed checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckpointView {
    pub size: u64,
    /// The root, hexadecimal.
    pub root: String,
    /// The signed note, as `GET /api/v1/audit/checkpoint` serves it.
    pub note: String,
    pub at: String,
}

impl From<CheckpointRow> for CheckpointView {
    fn from(row: CheckpointRow) -> Self {
        Self {
            size: row.size.max(0) as u64,
            root: row.root,
            note: row.note,
            at: row.at,
        }
    }
}

/// That an entry is in the log as a checkpoint signed it: checkable offline with the
/// public key alone (`ganglion audit verify-export`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InclusionProof {
    /// Always `inclusion`.
    pub ganglion_audit_proof: String,
    pub entry: EntryRecord,
    /// The entry's leaf: its sequence number less one.
    pub leaf_index: u64,
    pub tree_size: u64,
    /// The signed checkpoint of the tree of `tree_size` entries.
    pub checkpoint: String,
    /// The audit path, nearest the leaf first, hexadecimal.
    pub proof: Vec<String>,
}

/// That the log of `old_size` entries is a prefix of the log of `new_size`: nothing
/// signed before was changed or removed since.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyProof {
    /// Always `consistency`.
    pub ganglion_audit_proof: String,
    pub old_size: u64,
    pub new_size: u64,
    pub old_checkpoint: String,
    pub new_checkpoint: String,
    pub proof: Vec<String>,
}

/// The use cases of the audit log's tree, checkpoints and proofs.
pub struct AuditLog<'a> {
    app: &'a App,
}

impl App {
    pub fn audit_log(&self) -> AuditLog<'_> {
        AuditLog { app: self }
    }
}

fn hex_list(hashes: &[tree::Hash]) -> Vec<String> {
    hashes.iter().map(tree::to_hex).collect()
}

fn broken_tree(error: impl std::fmt::Display) -> AppError {
    AppError::Internal(format!("the audit tree cannot be read: {error}"))
}

impl AuditLog<'_> {
    /// The latest signed checkpoint; every signed-in account may read it (it says how
    /// many entries there are and fixes them, nothing of what they say).
    pub async fn checkpoint(&self, ctx: &Ctx) -> Result<CheckpointView, AppError> {
        self.app.require_signed_in(ctx)?;
        self.app
            .store
            .latest_audit_checkpoint()
            .await?
            .map(CheckpointView::from)
            .ok_or(AppError::NotFound { what: "checkpoint" })
    }

    /// The public key checkpoints are signed with, for every signed-in account.
    pub async fn public_key(&self, ctx: &Ctx) -> Result<String, AppError> {
        self.app.require_signed_in(ctx)?;
        if let Some(signer) = self.app.audit_signer() {
            return Ok(signer.public_key().to_owned());
        }
        self.app
            .store
            .setting(PUBLIC_KEY_SETTING)
            .await?
            .ok_or(AppError::NotFound { what: "audit key" })
    }

    /// The public key the database recorded, for the operator's tools.
    pub(crate) async fn recorded_public_key(&self) -> Result<Option<String>, AppError> {
        Ok(self.app.store.setting(PUBLIC_KEY_SETTING).await?)
    }

    async fn require_operator(&self, ctx: &Ctx, what: &'static str) -> Result<(), AppError> {
        self.app
            .authorize(
                ctx,
                Action::Read,
                Resource::Instance,
                "audit",
                what,
                "audit".into(),
            )
            .await
    }

    /// The proof that entry `seq` is in the log as the latest checkpoint signed it;
    /// the administrator's (entries name everyone).
    pub async fn inclusion(&self, ctx: &Ctx, seq: i64) -> Result<InclusionProof, AppError> {
        self.require_operator(ctx, "audit.proof").await?;
        let latest = self
            .app
            .store
            .latest_audit_checkpoint()
            .await?
            .ok_or(AppError::NotFound { what: "checkpoint" })?;
        let size = latest.size.max(0) as u64;
        if seq < 1 || seq as u64 > size {
            return Err(AppError::NotFound {
                what: "audit entry under the latest checkpoint",
            });
        }
        let leaf = seq as u64 - 1;
        let entry = self
            .app
            .store
            .audit_entries(seq - 1, 1)
            .await?
            .into_iter()
            .next()
            .filter(|entry| entry.seq == seq)
            .ok_or(AppError::NotFound {
                what: "audit entry",
            })?;
        let needs = needs_for_inclusion(size, leaf).map_err(broken_tree)?;
        let known = self.known(&needs).await?;
        let proof = known.prove_inclusion(size, leaf).map_err(broken_tree)?;
        Ok(InclusionProof {
            ganglion_audit_proof: "inclusion".into(),
            entry: entry.into(),
            leaf_index: leaf,
            tree_size: size,
            checkpoint: latest.note,
            proof: hex_list(&proof),
        })
    }

    /// The proof that the log signed at `old` entries is a prefix of the log signed at
    /// `new` (both sizes of stored checkpoints); the administrator's.
    pub async fn consistency(
        &self,
        ctx: &Ctx,
        old: i64,
        new: i64,
    ) -> Result<ConsistencyProof, AppError> {
        self.require_operator(ctx, "audit.consistency").await?;
        let checkpoint = |size: i64| async move {
            self.app
                .store
                .audit_checkpoint(size)
                .await?
                .ok_or(AppError::NotFound {
                    what: "checkpoint of that size",
                })
        };
        if old < 1 || old > new {
            return Err(AppError::invalid(
                crate::ErrorCode::InvalidValue,
                "old",
                "the old size must be at least 1 and at most the new size",
            ));
        }
        let (old_row, new_row) = (checkpoint(old).await?, checkpoint(new).await?);
        let proof = self.consistency_hashes(old as u64, new as u64).await?;
        Ok(ConsistencyProof {
            ganglion_audit_proof: "consistency".into(),
            old_size: old as u64,
            new_size: new as u64,
            old_checkpoint: old_row.note,
            new_checkpoint: new_row.note,
            proof,
        })
    }

    pub(crate) async fn consistency_hashes(
        &self,
        old: u64,
        new: u64,
    ) -> Result<Vec<String>, AppError> {
        let needs = needs_for_consistency(old, new).map_err(broken_tree)?;
        let known = self.known(&needs).await?;
        Ok(hex_list(
            &known.prove_consistency(old, new).map_err(broken_tree)?,
        ))
    }

    /// The hashes of the subtrees `needs` names: the stored ones read, the others (and
    /// any stored one missing) hashed again from the entries.
    async fn known(&self, needs: &[Node]) -> Result<Known, AppError> {
        let (stored, mut ranges) = split_needs(needs);
        let pairs: Vec<(u8, u64)> = stored.iter().map(|n| (n.level, n.index)).collect();
        let mut known = Known::new();
        for (level, index, hash) in self.app.store.audit_nodes(&pairs).await? {
            known.insert(
                Node::new(level, index),
                tree::from_hex(&hash).map_err(broken_tree)?,
            );
        }
        for node in &stored {
            if known.get(*node).is_none() {
                ranges.push(node.leaves());
            }
        }
        for range in ranges {
            let hashes = self
                .app
                .store
                .audit_hashes(range.start as i64, range.end as i64)
                .await?;
            if hashes.len() as u64 != range.end - range.start {
                return Err(broken_tree(format!(
                    "entries {} to {} are missing",
                    range.start + 1,
                    range.end
                )));
            }
            let leaves = hashes
                .iter()
                .map(|hash| tree::leaf_hash(hash))
                .collect::<Result<Vec<_>, _>>()
                .map_err(broken_tree)?;
            known.add_from_leaves(needs, range.start, &leaves);
        }
        Ok(known)
    }

    /// The root of the log's first `size` entries.
    pub(crate) async fn root(&self, size: u64) -> Result<tree::Hash, AppError> {
        let needs = needs_for_root(size);
        self.known(&needs).await?.root(size).map_err(broken_tree)
    }

    /// Stores the subtrees of every complete block of 256 entries among the first
    /// `size` that is not stored yet, and those above them; how many blocks were added.
    pub(crate) async fn extend_tree(&self, size: u64) -> Result<u64, AppError> {
        let store = &self.app.store;
        let complete = size / BLOCK_SIZE;
        let first = store.audit_blocks_stored().await?;
        let mut before = first;
        while before < complete {
            let end = complete.min(before + BLOCKS_PER_ROUND);
            let hashes = store
                .audit_hashes((before * BLOCK_SIZE) as i64, (end * BLOCK_SIZE) as i64)
                .await?;
            if hashes.len() as u64 != (end - before) * BLOCK_SIZE {
                return Err(broken_tree("entries are missing from the chain"));
            }
            let leaves = hashes
                .iter()
                .map(|hash| tree::leaf_hash(hash))
                .collect::<Result<Vec<_>, _>>()
                .map_err(broken_tree)?;
            let blocks: Vec<tree::Hash> = leaves
                .chunks_exact(BLOCK_SIZE as usize)
                .map(complete_root)
                .collect();
            let needs = frontier_needs(before);
            let pairs: Vec<(u8, u64)> = needs.iter().map(|n| (n.level, n.index)).collect();
            let mut frontier = Known::new();
            for (level, index, hash) in store.audit_nodes(&pairs).await? {
                frontier.insert(
                    Node::new(level, index),
                    tree::from_hex(&hash).map_err(broken_tree)?,
                );
            }
            let made = grow(before, &frontier, &blocks).map_err(broken_tree)?;
            let rows: Vec<ganglion_store::NodeRow> = made
                .iter()
                .map(|(node, hash)| (node.level, node.index, tree::to_hex(hash)))
                .collect();
            store.store_audit_nodes(&rows).await?;
            before = end;
        }
        Ok(before - first)
    }

    /// Signs and stores the checkpoint of the first `size` entries.
    async fn sign(&self, signer: &LogSigner, size: u64) -> Result<CheckpointRow, AppError> {
        let root = self.root(size).await?;
        let row = CheckpointRow {
            size: size as i64,
            root: tree::to_hex(&root),
            note: signer.sign(size, root),
            at: self.app.now_text(),
        };
        if !self.app.store.store_audit_checkpoint(&row).await? {
            // Another runner signed this size first; theirs stands.
            if let Some(existing) = self.app.store.audit_checkpoint(row.size).await? {
                return Ok(existing);
            }
        }
        Ok(row)
    }

    /// One turn of the checkpointer: the tree extended over every complete block, and
    /// a checkpoint signed if one is due. Returns the checkpoint signed, if any.
    pub async fn run_checkpointer(&self, ctx: &Ctx) -> Result<Option<CheckpointView>, AppError> {
        self.require_operator(ctx, "audit.checkpoint").await?;
        let size = self.app.store.audit_size().await?.max(0) as u64;
        self.extend_tree(size).await?;
        let Some(signer) = self.app.audit_signer() else {
            return Ok(None);
        };
        let due = match self.app.store.latest_audit_checkpoint().await? {
            None => size > 0,
            Some(last) => {
                let signed = last.size.max(0) as u64;
                let age = clock::parse_time(&last.at).map(|at| self.app.now() - at);
                size > signed
                    && (size - signed >= CHECKPOINT_ENTRIES
                        || age.is_none_or(|age| age >= CHECKPOINT_AGE))
            }
        };
        if !due {
            return Ok(None);
        }
        Ok(Some(self.sign(&signer, size).await?.into()))
    }

    /// Signs a checkpoint of the log as it stands now, due or not (the operator's
    /// `ganglion audit checkpoint`).
    pub async fn checkpoint_now(&self, ctx: &Ctx) -> Result<CheckpointView, AppError> {
        self.require_operator(ctx, "audit.checkpoint").await?;
        let signer = self.app.audit_signer().ok_or_else(|| {
            AppError::Internal("this server has no audit key to sign with".into())
        })?;
        let size = self.app.store.audit_size().await?.max(0) as u64;
        self.extend_tree(size).await?;
        if let Some(latest) = self.app.store.latest_audit_checkpoint().await? {
            if latest.size as u64 >= size {
                return Ok(latest.into());
            }
        }
        if size == 0 {
            return Err(AppError::NotFound {
                what: "audit entry",
            });
        }
        Ok(self.sign(&signer, size).await?.into())
    }

    /// Writes the whole log — every entry, every checkpoint after the entry it ends
    /// at, and the consistency proof from each checkpoint to the next — as JSON lines,
    /// for checking offline with `ganglion audit verify-export`; the administrator's.
    /// Returns how many entries were written.
    pub async fn export(
        &self,
        ctx: &Ctx,
        out: &mut (impl std::io::Write + Send),
    ) -> Result<u64, AppError> {
        self.require_operator(ctx, "audit.export").await?;
        let store = &self.app.store;
        let size = store.audit_size().await?.max(0) as u64;
        let checkpoints: Vec<CheckpointRow> = store
            .audit_checkpoints()
            .await?
            .into_iter()
            .filter(|row| row.size as u64 <= size)
            .collect();
        let public_key = self.recorded_public_key().await?;
        let io =
            |error: std::io::Error| AppError::Internal(format!("cannot write the export: {error}"));
        let header = offline::ExportHeader {
            ganglion_audit_export: 1,
            public_key,
            entries: size,
            checkpoints: checkpoints.len() as u64,
        };
        writeln!(
            out,
            "{}",
            serde_json::to_string(&header).unwrap_or_default()
        )
        .map_err(io)?;
        let mut next_checkpoint = checkpoints.iter().peekable();
        let mut previous: Option<u64> = None;
        let mut last_seq = 0i64;
        let mut written = 0u64;
        let mut line = Vec::with_capacity(512);
        while (last_seq as u64) < size {
            let page = store.audit_entries(last_seq, 10_000).await?;
            let Some(last) = page.last() else { break };
            last_seq = last.seq;
            for entry in page {
                if entry.seq as u64 > size {
                    break;
                }
                let seq = entry.seq as u64;
                line.clear();
                serde_json::to_writer(&mut line, &offline::Line::Entry(entry.into()))
                    .map_err(|error| AppError::Internal(error.to_string()))?;
                line.push(b'\n');
                out.write_all(&line).map_err(io)?;
                written += 1;
                while let Some(checkpoint) = next_checkpoint.next_if(|c| c.size as u64 == seq) {
                    let at = checkpoint.size as u64;
                    let record = offline::Line::Checkpoint(offline::CheckpointLine {
                        size: at,
                        note: checkpoint.note.clone(),
                    });
                    writeln!(
                        out,
                        "{}",
                        serde_json::to_string(&record).unwrap_or_default()
                    )
                    .map_err(io)?;
                    if let Some(old) = previous.filter(|old| *old < at) {
                        let proof = self.consistency_hashes(old, at).await?;
                        let record = offline::Line::Consistency(offline::ConsistencyLine {
                            old,
                            new: at,
                            proof,
                        });
                        writeln!(
                            out,
                            "{}",
                            serde_json::to_string(&record).unwrap_or_default()
                        )
                        .map_err(io)?;
                    }
                    previous = Some(at);
                }
            }
        }
        out.flush().map_err(io)?;
        Ok(written)
    }
}
